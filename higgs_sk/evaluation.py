"""Evaluating a fitted HIGGS classifier with the figures of merit physicists use.

:func:`evaluate` runs any fitted scikit-learn classifier that has
``predict_proba`` (class ``1`` is signal) on a set of test events and returns
an :class:`EvaluationResult`: the machine-learning scores (accuracy, ROC AUC,
ROC curve, classification report), the figures of merit that TMVA prints
(signal efficiency at fixed background efficiency, background rejection,
separation), a Kolmogorov–Smirnov overtraining check, the cut that maximises
:math:`S/\\sqrt{S+B}`, and the ``m_wwbb`` spectra of true and predicted signal
and background.

Every figure of merit is also a small pure function on ``(y_true, y_score)``
arrays, so it can be checked by hand on a handful of events.

Conventions used throughout
---------------------------
* A *cut* ``t`` selects the events whose classifier output is ``>= t``.
* *Signal efficiency* :math:`\\varepsilon_S(t)` is the (weighted) fraction of
  signal events selected; *background efficiency* :math:`\\varepsilon_B(t)`
  the fraction of background events selected (the false-positive rate).
* The *ROC curve* is the piecewise-linear curve through the points
  :math:`(\\varepsilon_B(t), \\varepsilon_S(t))` of every distinct cut, from
  ``(0, 0)`` to ``(1, 1)`` (``sklearn.metrics.roc_curve`` with
  ``drop_intermediate=False``).  Straight lines between the points are what a
  random mixture of two neighbouring cuts achieves, and they are the lines
  under which the trapezoidal AUC is measured.
* *Background rejection* is reported both as TMVA's :math:`1-\\varepsilon_B`
  (the y axis of TMVA's "background rejection versus signal efficiency"
  plot) and as the rejection factor :math:`1/\\varepsilon_B` used in papers.

Examples
--------
>>> from sklearn.linear_model import LogisticRegression
>>> from sklearn.model_selection import train_test_split
>>> from sklearn.pipeline import make_pipeline
>>> from sklearn.preprocessing import StandardScaler
>>> from higgs_sk import load_sample
>>> from higgs_sk.evaluation import evaluate
>>> X, y = load_sample(return_X_y=True, as_frame=True)
>>> X_tr, X_te, y_tr, y_te = train_test_split(X, y, random_state=0, stratify=y)
>>> pipe = make_pipeline(StandardScaler(), LogisticRegression()).fit(X_tr, y_tr)
>>> res = evaluate(pipe, X_te, y_te, X_train=X_tr, y_train=y_tr)
>>> 0.65 < res.roc_auc < 0.75, res.mass_spectra.feature
(True, 'm_wwbb')
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.metrics import accuracy_score, classification_report, roc_auc_score, roc_curve

from .datasets import FEATURE_NAMES, canonical_name

__all__ = [
    "BACKGROUND_EFFICIENCIES",
    "SIGNAL_EFFICIENCIES",
    "TARGET_NAMES",
    "EvaluationResult",
    "MassSpectra",
    "OptimalCut",
    "OutputHistograms",
    "RocCurve",
    "background_efficiency_at",
    "background_rejection_at",
    "check_aligned",
    "efficiency_curve",
    "evaluate",
    "ks_overtraining",
    "mass_spectra",
    "optimal_cut",
    "output_histograms",
    "separation",
    "signal_efficiency_at",
    "significance",
    "thin_curve",
]

TARGET_NAMES = ("background", "signal")
"""Names of classes 0 and 1, as used in the classification report."""

BACKGROUND_EFFICIENCIES = (0.01, 0.1, 0.3)
"""Background efficiencies at which TMVA quotes the signal efficiency."""

SIGNAL_EFFICIENCIES = (0.5, 0.7, 0.9)
"""Signal efficiencies at which the background rejection is quoted."""

MASS_FEATURE = "m_wwbb"
"""Feature whose spectrum is drawn for true and predicted classes."""


# --------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------


def _values(x, name):
    """1-D float or int array from array-like / Series, without reordering."""
    arr = np.asarray(x.to_numpy() if isinstance(x, (pd.Series, pd.Index)) else x)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    return arr


def _labels(y, name="y_true"):
    y = _values(y, name)
    if y.dtype == bool:
        return y.astype(np.int8)
    try:
        ok = np.isin(y, (0, 1)).all()
    except TypeError:
        ok = False
    if not ok:
        found = np.unique(y)[:5].tolist()
        raise ValueError(
            f"{name} must hold 0 (background) and 1 (signal) labels only; found {found}"
        )
    return y.astype(np.int8)


def _scores(s, name="y_score"):
    s = _values(s, name).astype(np.float64)
    if not np.isfinite(s).all():
        raise ValueError(f"{name} contains NaN or infinite classifier outputs")
    return s


def _weights(w, n):
    if w is None:
        return None
    w = _values(w, "sample_weight").astype(np.float64)
    if len(w) != n:
        raise ValueError(f"sample_weight has {len(w)} entries, expected {n}")
    if not np.isfinite(w).all() or (w < 0).any():
        raise ValueError("sample_weight must be finite and non-negative")
    return w


def _binary_inputs(y_true, y_score, sample_weight=None):
    """Validated (y, score, weight) with both classes present."""
    y = _labels(y_true)
    s = _scores(y_score)
    if len(y) != len(s):
        raise ValueError(f"y_true has {len(y)} events but y_score has {len(s)}")
    w = _weights(sample_weight, len(y))
    ww = np.ones(len(y)) if w is None else w
    for label, cls in zip((1, 0), ("signal", "background")):
        if ww[y == label].sum() <= 0:
            raise ValueError(
                f"no {cls} events (label {label}) with positive weight; efficiencies "
                f"need both signal and background"
            )
    return y, s, w


def _fractions(values, name):
    scalar = np.ndim(values) == 0
    arr = np.atleast_1d(np.asarray(values, dtype=np.float64))
    if not (np.isfinite(arr).all() and (arr >= 0).all() and (arr <= 1).all()):
        raise ValueError(f"{name} must lie in [0, 1], got {values!r}")
    return arr, scalar


def check_aligned(*, index=None, n_events=None, **arrays):
    """Check that several per-event arrays describe the same events in the same order.

    Plain arrays carry no event identity, so they can only be checked for
    length and are taken by position.  pandas objects carry their index: every
    one of them must have exactly the reference index (``index`` if given,
    otherwise the index of the first pandas argument) -- same labels, same
    order.  A Series that merely holds the same events in another order is
    refused rather than silently reordered, because a different order almost
    always means it was taken from a different split or shuffle.

    Parameters
    ----------
    index : pandas.Index, optional
        Index of the reference events (e.g. ``X.index``).
    n_events : int, optional
        Expected number of events; defaults to the first argument's length.
    **arrays : array-like, pandas.Series or None
        The arrays to check, by name (used in the error message); ``None`` is
        skipped.

    Returns
    -------
    pandas.Index or None
        The reference index, if any argument had one.

    Raises
    ------
    ValueError
        On a length mismatch or a pandas index that differs from the reference.

    Examples
    --------
    >>> import pandas as pd
    >>> m = pd.Series([1.0, 2.0], index=[7, 3])
    >>> check_aligned(index=pd.Index([7, 3]), masses=m)
    Index([7, 3], dtype='int64')
    >>> check_aligned(index=pd.Index([3, 7]), masses=m)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: masses is a pandas object whose index differs from the events' index ...
    """
    ref_name = "X" if index is not None else None
    if n_events is None and index is not None:
        n_events = len(index)
    len_name = "X" if n_events is not None else None
    for name, arr in arrays.items():
        if arr is None:
            continue
        n = len(arr)
        if n_events is None:
            n_events, len_name = n, len_name or name
        elif n != n_events:
            raise ValueError(
                f"{name} has {n} entries but {len_name} has {n_events} events; per-event "
                f"arrays must describe exactly the same events"
            )
        if isinstance(arr, (pd.Series, pd.DataFrame)):
            if index is None:
                index, ref_name = arr.index, name
            elif not arr.index.equals(index):
                try:
                    same_set = len(arr.index) == len(index) and arr.index.sort_values().equals(
                        index.sort_values()
                    )
                except TypeError:  # unorderable mixed labels
                    same_set = False
                hint = (
                    "it holds the same events in a different order"
                    if same_set
                    else "it holds different events (another split or sample?)"
                )
                raise ValueError(
                    f"{name} is a pandas object whose index differs from the events' "
                    f"index ({ref_name or 'reference'}): {hint}. Refusing to pair values "
                    f"of different events; select them for the same events first, "
                    f"e.g. {name}.loc[X.index], or pass a plain array in X's order."
                )
    return index


# --------------------------------------------------------------------------
# Figures of merit (pure functions)
# --------------------------------------------------------------------------


def efficiency_curve(y_true, y_score, *, sample_weight=None):
    """Background and signal efficiency for every distinct cut ``score >= t``.

    Parameters
    ----------
    y_true : array-like of shape (n_events,)
        0 for background, 1 for signal.
    y_score : array-like of shape (n_events,)
        Classifier output, larger means more signal-like.
    sample_weight : array-like of shape (n_events,), optional

    Returns
    -------
    eff_b, eff_s, thresholds : ndarray
        ``sklearn.metrics.roc_curve(..., drop_intermediate=False)``: both
        efficiencies non-decreasing, starting at ``(0, 0)`` with
        ``thresholds[0] = inf`` (nothing selected) and ending at ``(1, 1)``.

    Examples
    --------
    >>> eff_b, eff_s, t = efficiency_curve([1, 0, 1, 0], [0.9, 0.8, 0.3, 0.1])
    >>> eff_b.tolist(), eff_s.tolist()
    ([0.0, 0.0, 0.5, 0.5, 1.0], [0.0, 0.5, 0.5, 1.0, 1.0])
    """
    y, s, w = _binary_inputs(y_true, y_score, sample_weight)
    return roc_curve(y, s, sample_weight=w, drop_intermediate=False)


def _curve_at_upper(x, xp, fp):
    """Value of the piecewise-linear curve (xp, fp) at x, upper end of vertical steps.

    Both xp and fp are non-decreasing, so the last point with xp <= x is where
    the interpolation starts, and when xp == x exactly it already carries the
    largest fp among the points sharing that abscissa.
    """
    i = np.clip(np.searchsorted(xp, x, side="right") - 1, 0, len(xp) - 1)
    j = np.minimum(i + 1, len(xp) - 1)
    dx = xp[j] - xp[i]
    frac = np.divide(x - xp[i], dx, out=np.zeros_like(x), where=dx > 0)
    return fp[i] + frac * (fp[j] - fp[i])


def _curve_at_lower(x, xp, fp):
    """Value at x, lower end of vertical steps (first point with xp >= x)."""
    j = np.clip(np.searchsorted(xp, x, side="left"), 0, len(xp) - 1)
    i = np.maximum(j - 1, 0)
    dx = xp[j] - xp[i]
    frac = np.divide(x - xp[i], dx, out=np.ones_like(x), where=dx > 0)
    return fp[i] + frac * (fp[j] - fp[i])


def signal_efficiency_at(y_true, y_score, background_efficiency, *, sample_weight=None):
    """Signal efficiency at a fixed background efficiency, read off the ROC curve.

    Defined as the height of the piecewise-linear ROC curve (see
    :func:`efficiency_curve`) at :math:`\\varepsilon_B` = ``background_efficiency``.
    Where the curve rises vertically at exactly that background efficiency
    (signal events between two background events), the top of the step is
    taken: the best signal efficiency reachable without exceeding the
    requested background efficiency.  Between two points the value is
    interpolated linearly.  This is TMVA's "signal efficiency at background
    efficiency 1 %, 10 %, 30 %" (TMVA interpolates a binned curve with a
    spline, so its numbers differ slightly on small samples).

    Parameters
    ----------
    y_true : array-like of shape (n_events,)
        0 for background, 1 for signal.
    y_score : array-like of shape (n_events,)
        Classifier output, larger means more signal-like.
    background_efficiency : float or array-like of float in [0, 1]
    sample_weight : array-like of shape (n_events,), optional

    Returns
    -------
    float or ndarray
        Signal efficiency, same shape as ``background_efficiency``.

    Examples
    --------
    >>> y = [1, 0, 1, 0, 1, 0]
    >>> s = [0.9, 0.8, 0.7, 0.6, 0.5, 0.1]
    >>> float(signal_efficiency_at(y, s, 1 / 3))    # two signal above the 1st bkg
    0.6666666666666666
    >>> float(signal_efficiency_at(y, s, 1 / 6))    # halfway along a flat step
    0.3333333333333333
    """
    x, scalar = _fractions(background_efficiency, "background_efficiency")
    eff_b, eff_s, _ = efficiency_curve(y_true, y_score, sample_weight=sample_weight)
    out = _curve_at_upper(x, eff_b, eff_s)
    return float(out[0]) if scalar else out


def background_efficiency_at(y_true, y_score, signal_efficiency, *, sample_weight=None):
    """Background efficiency needed to reach a signal efficiency, from the ROC curve.

    The inverse reading of :func:`signal_efficiency_at`: the smallest
    :math:`\\varepsilon_B` at which the piecewise-linear ROC curve reaches
    :math:`\\varepsilon_S` = ``signal_efficiency`` (the left end of a flat step),
    interpolated linearly between points.

    Parameters
    ----------
    y_true, y_score : array-like of shape (n_events,)
    signal_efficiency : float or array-like of float in [0, 1]
    sample_weight : array-like of shape (n_events,), optional

    Returns
    -------
    float or ndarray

    Examples
    --------
    >>> y = [1, 0, 1, 0, 1, 0]
    >>> s = [0.9, 0.8, 0.7, 0.6, 0.5, 0.1]
    >>> float(background_efficiency_at(y, s, 2 / 3))
    0.3333333333333333
    """
    x, scalar = _fractions(signal_efficiency, "signal_efficiency")
    eff_b, eff_s, _ = efficiency_curve(y_true, y_score, sample_weight=sample_weight)
    out = _curve_at_lower(x, eff_s, eff_b)
    return float(out[0]) if scalar else out


def background_rejection_at(y_true, y_score, signal_efficiency, *, sample_weight=None):
    """Background rejection factor :math:`1/\\varepsilon_B` at a signal efficiency.

    :math:`\\varepsilon_B` is :func:`background_efficiency_at`; a cut that
    keeps no background at all gives ``inf``.  TMVA's "background rejection"
    :math:`1-\\varepsilon_B` is ``1 - background_efficiency_at(...)``.

    Parameters
    ----------
    y_true, y_score : array-like of shape (n_events,)
    signal_efficiency : float or array-like of float in [0, 1]
    sample_weight : array-like of shape (n_events,), optional

    Returns
    -------
    float or ndarray

    Examples
    --------
    >>> y = [1, 0, 1, 0, 1, 0]
    >>> s = [0.9, 0.8, 0.7, 0.6, 0.5, 0.1]
    >>> float(background_rejection_at(y, s, 2 / 3))
    3.0
    """
    eff_b = background_efficiency_at(
        y_true, y_score, signal_efficiency, sample_weight=sample_weight
    )
    with np.errstate(divide="ignore"):
        out = 1.0 / np.asarray(eff_b, dtype=np.float64)
    return float(out) if np.ndim(out) == 0 else out


def ks_overtraining(y_train, score_train, y_test, score_test):
    """Kolmogorov–Smirnov probabilities of train and test classifier outputs agreeing.

    The overtraining check of TMVA: for signal and for background separately,
    the p-value of the two-sample KS test between the classifier outputs on
    the training events and on the test events.  A very small value (TMVA's
    rule of thumb: below about 0.01) hints that the classifier has learned
    features of its training sample that do not generalise.  The test is the
    unbinned ``scipy.stats.ks_2samp(train, test).pvalue`` (TMVA bins the
    outputs first, which tends to give larger p-values); it ignores event
    weights.

    Parameters
    ----------
    y_train, score_train : array-like of shape (n_train,)
        Labels and classifier outputs of the training events.
    y_test, score_test : array-like of shape (n_test,)
        Labels and classifier outputs of the test events.

    Returns
    -------
    dict
        ``{"signal": p_signal, "background": p_background}``, floats.

    Examples
    --------
    >>> ks = ks_overtraining([1, 1, 0, 0], [0.9, 0.8, 0.2, 0.1],
    ...                      [1, 1, 0, 0], [0.9, 0.8, 0.2, 0.1])
    >>> ks
    {'signal': 1.0, 'background': 1.0}
    """
    ytr, str_, _ = _binary_inputs(y_train, score_train)
    yte, ste, _ = _binary_inputs(y_test, score_test)
    return {
        name: float(stats.ks_2samp(str_[ytr == label], ste[yte == label]).pvalue)
        for name, label in (("signal", 1), ("background", 0))
    }


def separation(y_true, y_score, *, bins=40, range=None, sample_weight=None):
    """TMVA's separation :math:`\\langle S^2\\rangle` of the classifier output.

    .. math:: \\langle S^2\\rangle = \\frac12 \\sum_i
              \\frac{(s_i - b_i)^2}{s_i + b_i}

    where :math:`s_i` and :math:`b_i` are the signal and background output
    histograms, each normalised to unit sum (bins empty in both are skipped).
    It is 0 for identical distributions and 1 for disjoint ones.

    Parameters
    ----------
    y_true, y_score : array-like of shape (n_events,)
    bins : int or array-like, default=40
        Passed to :func:`numpy.histogram`.
    range : (float, float), optional
        Histogram range; default the span of all outputs.
    sample_weight : array-like of shape (n_events,), optional

    Returns
    -------
    float

    Examples
    --------
    >>> separation([1, 1, 0, 0], [0.9, 0.8, 0.2, 0.1], bins=2, range=(0, 1))
    1.0
    >>> separation([1, 0], [0.5, 0.5])
    0.0
    """
    y, s, w = _binary_inputs(y_true, y_score, sample_weight)
    if range is None:
        range = (float(s.min()), float(s.max()))
    edges = np.histogram_bin_edges(s, bins=bins, range=range)
    ww = np.ones(len(y)) if w is None else w
    hs = np.histogram(s[y == 1], bins=edges, weights=ww[y == 1])[0]
    hb = np.histogram(s[y == 0], bins=edges, weights=ww[y == 0])[0]
    hs, hb = hs / hs.sum(), hb / hb.sum()
    tot = hs + hb
    nz = tot > 0
    return float(0.5 * np.sum((hs[nz] - hb[nz]) ** 2 / tot[nz]))


def significance(s, b):
    """Approximate discovery significance :math:`S/\\sqrt{S+B}` (0 where S+B = 0).

    Parameters
    ----------
    s, b : float or array-like
        Expected signal and background counts after a selection.

    Returns
    -------
    float or ndarray

    Examples
    --------
    >>> significance(3.0, 1.0)
    1.5
    """
    s = np.asarray(s, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    tot = s + b
    out = np.divide(s, np.sqrt(tot, where=tot > 0, out=np.ones_like(tot)),
                    out=np.zeros_like(tot), where=tot > 0)
    return float(out) if out.ndim == 0 else out


@dataclass(eq=False)
class OptimalCut:
    """The cut on the classifier output that maximises :math:`S/\\sqrt{S+B}`.

    Attributes
    ----------
    cut : float
        Select events with classifier output ``>= cut``.
    significance : float
        :math:`S/\\sqrt{S+B}` at the cut.
    signal_efficiency, background_efficiency : float
        :math:`\\varepsilon_S` and :math:`\\varepsilon_B` at the cut.
    n_signal, n_background : float
        Expected signal and background counts before the cut.
    n_signal_selected, n_background_selected : float
        :math:`S = n_S\\,\\varepsilon_S` and :math:`B = n_B\\,\\varepsilon_B`.
    """

    cut: float
    significance: float
    signal_efficiency: float
    background_efficiency: float
    n_signal: float
    n_background: float
    n_signal_selected: float
    n_background_selected: float


def optimal_cut(y_true, y_score, *, n_signal=None, n_background=None, sample_weight=None):
    """Find the cut on the classifier output that maximises :math:`S/\\sqrt{S+B}`.

    Every distinct output value ``t`` is tried as a cut ``score >= t``; the
    efficiencies measured on the given events are scaled to the expected
    counts, :math:`S = n_S\\,\\varepsilon_S(t)` and
    :math:`B = n_B\\,\\varepsilon_B(t)`, and the ``t`` with the largest
    :math:`S/\\sqrt{S+B}` is returned (the highest such ``t`` if several tie).
    The best cut depends only on the ratio :math:`n_S/n_B`; the significance
    scales with :math:`\\sqrt{n_S}` at fixed ratio.

    Parameters
    ----------
    y_true, y_score : array-like of shape (n_events,)
    n_signal, n_background : float, optional
        Expected signal and background counts before any cut, e.g. cross
        section times luminosity.  Default: the (weighted) numbers of signal
        and background events passed in.  Note that the HIGGS data set is
        about half signal, far from any physical ratio, so the default is only
        a benchmark; pass physical expectations for a physics statement.
    sample_weight : array-like of shape (n_events,), optional

    Returns
    -------
    OptimalCut

    Examples
    --------
    >>> y = [1, 1, 1, 0, 0, 0, 0]
    >>> s = [0.9, 0.8, 0.7, 0.85, 0.3, 0.2, 0.1]
    >>> c = optimal_cut(y, s)
    >>> c.cut, c.significance, c.signal_efficiency, c.background_efficiency
    (0.7, 1.5, 1.0, 0.25)
    """
    y, s, w = _binary_inputs(y_true, y_score, sample_weight)
    ww = np.ones(len(y)) if w is None else w
    n_s = float(ww[y == 1].sum()) if n_signal is None else float(n_signal)
    n_b = float(ww[y == 0].sum()) if n_background is None else float(n_background)
    if not (np.isfinite(n_s) and np.isfinite(n_b) and n_s > 0 and n_b >= 0):
        raise ValueError(
            f"n_signal must be > 0 and n_background >= 0, got {n_signal!r}, {n_background!r}"
        )
    eff_b, eff_s, thr = roc_curve(y, s, sample_weight=w, drop_intermediate=False)
    z = significance(n_s * eff_s, n_b * eff_b)
    i = int(np.argmax(z))  # thresholds decrease, so ties resolve to the tightest cut
    return OptimalCut(
        cut=float(thr[i]),
        significance=float(z[i]),
        signal_efficiency=float(eff_s[i]),
        background_efficiency=float(eff_b[i]),
        n_signal=n_s,
        n_background=n_b,
        n_signal_selected=float(n_s * eff_s[i]),
        n_background_selected=float(n_b * eff_b[i]),
    )


def thin_curve(x, y, *others, max_points=400):
    """Keep at most about ``max_points`` points of a curve, for plotting and JSON.

    Half the points are spaced evenly along the curve's length, half along
    its length with ``x`` on a log scale, so the low-background-efficiency
    corner that rejection plots magnify keeps its detail.  The first and last
    points are always kept.

    Parameters
    ----------
    x, y : array-like of shape (n_points,)
    *others : array-like of shape (n_points,)
        Further arrays thinned with the same indices (e.g. thresholds).
    max_points : int, default=400

    Returns
    -------
    tuple of ndarray
        ``(x, y, *others)`` thinned.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.linspace(0, 1, 10_001)
    >>> len(thin_curve(x, x ** 0.5, max_points=100)[0]) <= 100
    True
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    others = [np.asarray(o) for o in others]
    n = len(x)
    if n <= max_points:
        return (x, y, *others)
    half = max(max_points // 2 - 1, 1)
    positive = x[x > 0]
    floor = positive.min() if positive.size else 1.0
    keep = {0, n - 1}
    for xs in (x, np.log10(np.maximum(x, floor))):
        xs = (xs - xs.min()) / max(np.ptp(xs), 1e-300)
        length = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(xs), np.diff(y)))])
        targets = np.linspace(0.0, length[-1], half)
        keep.update(np.searchsorted(length, targets).clip(0, n - 1).tolist())
    idx = np.array(sorted(keep))
    return (x[idx], y[idx], *(o[idx] for o in others))


# --------------------------------------------------------------------------
# Histograms of the same events
# --------------------------------------------------------------------------


@dataclass(eq=False)
class MassSpectra:
    """Histograms of one mass for true and predicted signal and background.

    All four histograms are filled from the same events (counts, weighted if
    weights were given), with the same bin ``edges``.

    Attributes
    ----------
    edges : ndarray of shape (n_bins + 1,)
    true_signal, predicted_signal : ndarray of shape (n_bins,)
        Events labelled signal; events the classifier calls signal.
    true_background, predicted_background : ndarray of shape (n_bins,)
    feature : str
        Name of the histogrammed variable.
    """

    edges: np.ndarray
    true_signal: np.ndarray
    predicted_signal: np.ndarray
    true_background: np.ndarray
    predicted_background: np.ndarray
    feature: str = MASS_FEATURE


def mass_spectra(
    masses, y_true, y_pred, *, bins=40, range=None, index=None, sample_weight=None,
    feature=MASS_FEATURE,
):
    """Histogram a mass for true and predicted signal and background, event by event.

    The three arrays must describe the same events in the same order.  pandas
    Series are checked by index (see :func:`check_aligned`): a Series whose
    index is not exactly ``index`` (or the first Series' index) raises instead
    of being paired with values of other events -- the mistake of drawing
    the spectra from one split and the predictions from another.  Plain
    arrays are taken by position, so pass Series (or ``index``) when the
    arrays come from different places.

    Parameters
    ----------
    masses : array-like or Series of shape (n_events,)
    y_true : array-like or Series of shape (n_events,)
        True labels, 0 background, 1 signal.
    y_pred : array-like or Series of shape (n_events,)
        Predicted labels, 0 background, 1 signal.
    bins : int or array-like, default=40
    range : (float, float), optional
        Histogram range.  Default: the 0.5th to 99.5th percentile of
        ``masses``, so the long high-mass tail does not squash the peak;
        events outside the range are not counted.
    index : pandas.Index, optional
        Index of the events (e.g. ``X.index``) that Series must match.
    sample_weight : array-like or Series of shape (n_events,), optional
    feature : str, default="m_wwbb"
        Name stored with the result, for axis labels.

    Returns
    -------
    MassSpectra

    Raises
    ------
    ValueError
        Arrays of different lengths, or a Series whose index differs.

    Examples
    --------
    >>> sp = mass_spectra([0.5, 1.0, 1.5, 2.0], [1, 1, 0, 0], [1, 0, 0, 0],
    ...                   bins=2, range=(0, 2))
    >>> sp.true_signal.tolist(), sp.predicted_signal.tolist()
    ([1.0, 1.0], [1.0, 0.0])
    """
    check_aligned(
        index=index, masses=masses, y_true=y_true, y_pred=y_pred, sample_weight=sample_weight
    )
    m = _scores(masses, "masses")
    yt = _labels(y_true, "y_true")
    yp = _labels(y_pred, "y_pred")
    w = _weights(sample_weight, len(m))
    if range is None:
        lo, hi = np.percentile(m, [0.5, 99.5]) if len(m) else (0.0, 1.0)
        range = (float(lo), float(hi) if hi > lo else float(lo) + 1.0)
    edges = np.histogram_bin_edges(m, bins=bins, range=range)

    def hist(mask):
        return np.histogram(m[mask], bins=edges, weights=None if w is None else w[mask])[
            0
        ].astype(np.float64)

    return MassSpectra(
        edges=edges,
        true_signal=hist(yt == 1),
        predicted_signal=hist(yp == 1),
        true_background=hist(yt == 0),
        predicted_background=hist(yp == 0),
        feature=str(feature),
    )


@dataclass(eq=False)
class OutputHistograms:
    """Unweighted histograms of the classifier output (the overtraining plot).

    Attributes
    ----------
    edges : ndarray of shape (n_bins + 1,)
    signal_test, background_test : ndarray of shape (n_bins,)
        Counts of test events per bin.
    signal_train, background_train : ndarray of shape (n_bins,) or None
        Counts of training events, when training events were evaluated.
    """

    edges: np.ndarray
    signal_test: np.ndarray
    background_test: np.ndarray
    signal_train: np.ndarray | None = None
    background_train: np.ndarray | None = None


def output_histograms(y_test, score_test, y_train=None, score_train=None, *, bins=40,
                      range=(0.0, 1.0)):
    """Histogram the classifier output of signal and background, test and train.

    Parameters
    ----------
    y_test, score_test : array-like of shape (n_test,)
    y_train, score_train : array-like of shape (n_train,), optional
    bins : int, default=40
    range : (float, float), default=(0, 1)
        The range of ``predict_proba``; an output equal to the upper edge
        falls in the last bin.

    Returns
    -------
    OutputHistograms

    Examples
    --------
    >>> h = output_histograms([1, 0], [0.9, 0.2], bins=2)
    >>> h.signal_test.tolist(), h.background_test.tolist()
    ([0.0, 1.0], [1.0, 0.0])
    """
    edges = np.linspace(float(range[0]), float(range[1]), int(bins) + 1)

    def hist(y, s, label):
        return np.histogram(s[y == label], bins=edges)[0].astype(np.float64)

    yte, ste = _labels(y_test, "y_test"), _scores(score_test, "score_test")
    out = OutputHistograms(edges, hist(yte, ste, 1), hist(yte, ste, 0))
    if y_train is not None and score_train is not None:
        ytr, strn = _labels(y_train, "y_train"), _scores(score_train, "score_train")
        out.signal_train, out.background_train = hist(ytr, strn, 1), hist(ytr, strn, 0)
    return out


@dataclass(eq=False)
class RocCurve:
    """A (possibly thinned) ROC curve.

    Attributes
    ----------
    fpr : ndarray
        Background efficiency :math:`\\varepsilon_B`.
    tpr : ndarray
        Signal efficiency :math:`\\varepsilon_S`.
    thresholds : ndarray
        The cut ``score >= threshold`` of each point; the first is ``inf``.
    """

    fpr: np.ndarray
    tpr: np.ndarray
    thresholds: np.ndarray


# --------------------------------------------------------------------------
# The result object and evaluate()
# --------------------------------------------------------------------------


def _jsonable(obj):
    """Plain Python (JSON-safe) version of obj; non-finite floats become None."""
    if isinstance(obj, dict):
        return {_key(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.ndarray, pd.Index, pd.Series)):
        return [_jsonable(v) for v in np.asarray(obj).tolist()]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, numbers.Integral):
        return int(obj)
    if isinstance(obj, numbers.Real):
        f = float(obj)
        return f if np.isfinite(f) else None
    if obj is None or isinstance(obj, str):
        return obj
    return str(obj)


def _key(k):
    return repr(float(k)) if isinstance(k, numbers.Real) and not isinstance(k, bool) else str(k)


def _floats(values, nan_is=np.nan):
    """List from JSON (None for non-finite) back to a float array."""
    if values is None:
        return None
    return np.array([nan_is if v is None else v for v in values], dtype=np.float64)


def _float_keys(d, none_is=np.inf):
    return {float(k): (none_is if v is None else float(v)) for k, v in d.items()}


_EVENT_FIELDS = (
    "index", "y_true", "y_score", "y_pred", "masses", "train_y_true", "train_y_score",
)  # fmt: skip


@dataclass(eq=False)
class EvaluationResult:
    """Everything :func:`evaluate` measured on one set of test events.

    Attributes
    ----------
    n_events, n_signal_events, n_background_events : int
        Unweighted event counts of the test set.
    accuracy : float
        Fraction of test events whose predicted class is right (weighted).
    roc_auc : float
        Area under the ROC curve, ``sklearn.metrics.roc_auc_score``.
    roc : RocCurve
        ROC curve (``drop_intermediate=True``, then :func:`thin_curve`); the
        figures of merit below are computed on the full curve, not this one.
    classification_report : dict
        ``sklearn.metrics.classification_report(output_dict=True)`` with
        target names ``background`` and ``signal``.
    signal_efficiency_at_background : dict of float to float
        :func:`signal_efficiency_at` at each of :data:`BACKGROUND_EFFICIENCIES`.
    background_efficiency_at_signal : dict of float to float
        :func:`background_efficiency_at` at each of :data:`SIGNAL_EFFICIENCIES`.
    background_rejection_at_signal : dict of float to float
        Rejection factor :math:`1/\\varepsilon_B` at the same signal efficiencies
        (``inf`` if no background survives; ``None`` in :meth:`to_dict`).
    separation : float
        TMVA's :math:`\\langle S^2\\rangle`, see :func:`separation`.
    optimal_cut : OptimalCut
        Cut maximising :math:`S/\\sqrt{S+B}`, see :func:`optimal_cut`.
    output_histograms : OutputHistograms
        Classifier output histograms, test (and train) events.
    ks_signal, ks_background : float or None
        KS p-values train vs test (:func:`ks_overtraining`); ``None`` without
        training events.
    train_roc_auc : float or None
        ROC AUC on the training events, if given (compare with ``roc_auc``).
    mass_spectra : MassSpectra or None
        ``m_wwbb`` spectra of the test events, if masses were available.
    index, y_true, y_score, y_pred, masses : ndarray or None
        Per-event arrays of the test events, all in the same order: event
        index (X's index, or positions), true label, signal probability,
        predicted label, mass.  Left out of :meth:`to_dict` unless asked.
    train_y_true, train_y_score : ndarray or None
        Labels and signal probabilities of the training events.

    Examples
    --------
    >>> import json
    >>> res = EvaluationResult.from_dict(json.loads(json.dumps(result.to_dict())))  # doctest: +SKIP
    """

    n_events: int
    n_signal_events: int
    n_background_events: int
    accuracy: float
    roc_auc: float
    roc: RocCurve
    classification_report: dict
    signal_efficiency_at_background: dict
    background_efficiency_at_signal: dict
    background_rejection_at_signal: dict
    separation: float
    optimal_cut: OptimalCut
    output_histograms: OutputHistograms
    ks_signal: float | None = None
    ks_background: float | None = None
    train_roc_auc: float | None = None
    mass_spectra: MassSpectra | None = None
    index: np.ndarray | None = field(default=None, repr=False)
    y_true: np.ndarray | None = field(default=None, repr=False)
    y_score: np.ndarray | None = field(default=None, repr=False)
    y_pred: np.ndarray | None = field(default=None, repr=False)
    masses: np.ndarray | None = field(default=None, repr=False)
    train_y_true: np.ndarray | None = field(default=None, repr=False)
    train_y_score: np.ndarray | None = field(default=None, repr=False)

    def to_dict(self, *, include_events=False):
        """Return a JSON-serialisable dict of plain ints, floats, lists and str.

        Non-finite numbers become ``None`` (the first ROC threshold, ``inf``,
        and a rejection factor with no background left), so the output passes
        ``json.dumps(..., allow_nan=False)``.  Dict keys that are efficiencies
        become strings such as ``"0.01"``.

        Parameters
        ----------
        include_events : bool, default=False
            Also write the per-event arrays (index, labels, scores, masses);
            off by default because they grow with the test set.

        Returns
        -------
        dict

        Examples
        --------
        >>> import json
        >>> text = json.dumps(result.to_dict(), allow_nan=False)  # doctest: +SKIP
        """
        out = {}
        for name in self.__dataclass_fields__:
            if name in _EVENT_FIELDS and not include_events:
                continue
            value = getattr(self, name)
            if hasattr(value, "__dataclass_fields__"):
                value = {k: getattr(value, k) for k in value.__dataclass_fields__}
            out[name] = _jsonable(value)
        return out

    @classmethod
    def from_dict(cls, data):
        """Rebuild a result from :meth:`to_dict` output (e.g. after a JSON round trip).

        Parameters
        ----------
        data : dict

        Returns
        -------
        EvaluationResult

        Examples
        --------
        >>> again = EvaluationResult.from_dict(result.to_dict())  # doctest: +SKIP
        """
        d = dict(data)
        roc = d["roc"]
        d["roc"] = RocCurve(
            _floats(roc["fpr"]), _floats(roc["tpr"]), _floats(roc["thresholds"], np.inf)
        )
        d["optimal_cut"] = OptimalCut(**d["optimal_cut"])
        h = d["output_histograms"]
        d["output_histograms"] = OutputHistograms(
            **{k: _floats(v) for k, v in h.items()}
        )
        if d.get("mass_spectra") is not None:
            sp = dict(d["mass_spectra"])
            feature = sp.pop("feature", MASS_FEATURE)
            d["mass_spectra"] = MassSpectra(
                **{k: _floats(v) for k, v in sp.items()}, feature=feature
            )
        for key in (
            "signal_efficiency_at_background",
            "background_efficiency_at_signal",
            "background_rejection_at_signal",
        ):
            d[key] = _float_keys(d[key])
        for key in _EVENT_FIELDS:
            if d.get(key) is not None and key != "index":
                d[key] = np.asarray(d[key])
        if d.get("index") is not None:
            d["index"] = np.asarray(d["index"], dtype=object)
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in known})

    def summary(self):
        """A short plain-text summary, e.g. for a log or a report header.

        Returns
        -------
        str

        Examples
        --------
        >>> print(result.summary())  # doctest: +SKIP
        """
        lines = [
            f"events: {self.n_events} ({self.n_signal_events} signal, "
            f"{self.n_background_events} background)",
            f"accuracy: {self.accuracy:.4f}   ROC AUC: {self.roc_auc:.4f}"
            + (f"   (train {self.train_roc_auc:.4f})" if self.train_roc_auc is not None else ""),
            "signal efficiency at background efficiency: "
            + ", ".join(
                f"{b:g}: {s:.3f}" for b, s in self.signal_efficiency_at_background.items()
            ),
            "background rejection 1/eff_B at signal efficiency: "
            + ", ".join(
                f"{s:g}: {r:.2f}" for s, r in self.background_rejection_at_signal.items()
            ),
            f"separation <S^2>: {self.separation:.4f}",
        ]
        if self.ks_signal is not None:
            lines.append(
                f"KS probability train vs test: signal {self.ks_signal:.3f}, "
                f"background {self.ks_background:.3f}"
            )
        c = self.optimal_cut
        lines.append(
            f"best cut: output >= {c.cut:.4f}  S/sqrt(S+B) = {c.significance:.3f}  "
            f"(eff_S {c.signal_efficiency:.3f}, eff_B {c.background_efficiency:.3f}; "
            f"n_S {c.n_signal:g}, n_B {c.n_background:g})"
        )
        return "\n".join(lines)


def _signal_column(estimator):
    """Column of predict_proba that holds class 1 (signal)."""
    classes = getattr(estimator, "classes_", None)
    if classes is None:
        return 1
    classes = list(np.asarray(classes).tolist())
    if len(classes) != 2 or sorted(classes) != [0, 1]:
        raise ValueError(
            f"the classifier's classes_ are {classes}; expected the two HIGGS labels "
            f"0 (background) and 1 (signal)"
        )
    return classes.index(1)


def _signal_proba(estimator, X, name):
    if not hasattr(estimator, "predict_proba"):
        raise TypeError(
            f"{type(estimator).__name__} has no predict_proba; evaluate needs a "
            f"probabilistic classifier"
        )
    proba = np.asarray(estimator.predict_proba(X))
    if proba.ndim != 2 or proba.shape[0] != len(X):
        raise ValueError(
            f"predict_proba({name}) returned shape {proba.shape}, expected ({len(X)}, 2)"
        )
    col = _signal_column(estimator)
    # predict() of sklearn classifiers is classes_[argmax(proba)]; using it here
    # avoids a second pass through the network and keeps y_pred consistent with y_score.
    pred = (np.argmax(proba, axis=1) == col).astype(np.int8)
    return _scores(proba[:, col], f"predict_proba({name})"), pred


def _masses_from(X):
    if isinstance(X, pd.DataFrame):
        for col in X.columns:
            if canonical_name(col) == MASS_FEATURE:
                return X[col]
        return None
    shape = np.shape(X)
    if len(shape) == 2 and shape[1] == len(FEATURE_NAMES):
        # A 28-column array is read in UCI order, as FeatureSelector does.
        return np.asarray(X)[:, FEATURE_NAMES.index(MASS_FEATURE)]
    return None


def evaluate(
    pipeline,
    X,
    y,
    *,
    masses=None,
    X_train=None,
    y_train=None,
    n_signal=None,
    n_background=None,
    sample_weight=None,
    mass_bins=40,
    roc_points=400,
):
    """Evaluate a fitted classifier on test events with ML and HEP figures of merit.

    Parameters
    ----------
    pipeline : fitted classifier
        Anything with ``predict_proba`` whose ``classes_`` are 0 and 1; the
        column of class 1 is the signal probability.  A Pipeline ending in
        ``HiggsClassifier`` or any scikit-learn classifier.
    X : DataFrame or array-like of shape (n_events, n_features)
        Test events, as the pipeline expects them.
    y : array-like or Series of shape (n_events,)
        True labels, 0 background, 1 signal.  A Series must have X's index.
    masses : array-like or Series of shape (n_events,), optional
        Mass of each test event for the spectra.  Default: ``X["m_wwbb"]``
        (or column 27 of a 28-column array); no spectra if neither exists.
        Taken by position; a Series must have exactly X's index (same events,
        same order) or a ``ValueError`` is raised.
    X_train, y_train : optional
        Training events and labels, for the KS overtraining check, the
        training output histograms and ``train_roc_auc``.
    n_signal, n_background : float, optional
        Expected signal and background counts for :func:`optimal_cut`;
        default the numbers of test events of each class (weighted).
    sample_weight : array-like or Series of shape (n_events,), optional
        Test-event weights, used by every figure except the KS test and the
        output histograms (unweighted counts, like the KS test).
    mass_bins : int or array-like, default=40
        Bins of the mass spectra.
    roc_points : int, default=400
        At most about this many points of the ROC curve are kept in the result.

    Returns
    -------
    EvaluationResult

    Raises
    ------
    ValueError
        Labels not 0/1, a class missing, per-event inputs of different
        lengths or Series whose index is not X's.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from higgs_sk import load_sample
    >>> X, y = load_sample(return_X_y=True, as_frame=True)
    >>> pipe = make_pipeline(StandardScaler(), LogisticRegression()).fit(X[:6000], y[:6000])
    >>> res = evaluate(pipe, X[6000:], y[6000:])
    >>> sorted(res.signal_efficiency_at_background)
    [0.01, 0.1, 0.3]
    """
    x_index = X.index if isinstance(X, pd.DataFrame) else None
    if masses is None:
        masses = _masses_from(X)
    check_aligned(
        index=x_index, n_events=len(X), y=y, masses=masses, sample_weight=sample_weight
    )
    y_true = _labels(y, "y")
    w = _weights(sample_weight, len(y_true))
    score, y_pred = _signal_proba(pipeline, X, "X")
    y_true, score, w = _binary_inputs(y_true, score, w)

    eff_b, eff_s, _ = roc_curve(y_true, score, sample_weight=w, drop_intermediate=False)
    b_levels = np.asarray(BACKGROUND_EFFICIENCIES)
    s_levels = np.asarray(SIGNAL_EFFICIENCIES)
    sig_at_b = _curve_at_upper(b_levels, eff_b, eff_s)
    bkg_at_s = _curve_at_lower(s_levels, eff_s, eff_b)
    with np.errstate(divide="ignore"):
        rejection = 1.0 / bkg_at_s
    fpr, tpr, thr = roc_curve(y_true, score, sample_weight=w)
    fpr, tpr, thr = thin_curve(fpr, tpr, thr, max_points=roc_points)

    ks_sig = ks_bkg = train_auc = None
    ytr = str_ = None
    if (X_train is None) != (y_train is None):
        raise ValueError("give both X_train and y_train, or neither")
    if X_train is not None:
        check_aligned(
            index=X_train.index if isinstance(X_train, pd.DataFrame) else None,
            n_events=len(X_train),
            y_train=y_train,
        )
        str_, _ = _signal_proba(pipeline, X_train, "X_train")
        ytr, str_, _ = _binary_inputs(y_train, str_)
        ks = ks_overtraining(ytr, str_, y_true, score)
        ks_sig, ks_bkg = ks["signal"], ks["background"]
        train_auc = float(roc_auc_score(ytr, str_))

    spectra = m = None
    if masses is not None:
        m = _scores(masses, "masses")
        spectra = mass_spectra(m, y_true, y_pred, bins=mass_bins, sample_weight=w)

    report = classification_report(
        y_true, y_pred, labels=[0, 1], target_names=list(TARGET_NAMES),
        sample_weight=w, output_dict=True, zero_division=0,
    )  # fmt: skip
    return EvaluationResult(
        n_events=int(len(y_true)),
        n_signal_events=int((y_true == 1).sum()),
        n_background_events=int((y_true == 0).sum()),
        accuracy=float(accuracy_score(y_true, y_pred, sample_weight=w)),
        roc_auc=float(roc_auc_score(y_true, score, sample_weight=w)),
        roc=RocCurve(fpr, tpr, thr),
        classification_report=report,
        signal_efficiency_at_background=dict(zip(b_levels.tolist(), sig_at_b.tolist())),
        background_efficiency_at_signal=dict(zip(s_levels.tolist(), bkg_at_s.tolist())),
        background_rejection_at_signal=dict(zip(s_levels.tolist(), rejection.tolist())),
        separation=separation(y_true, score, sample_weight=w),
        optimal_cut=optimal_cut(
            y_true, score, n_signal=n_signal, n_background=n_background, sample_weight=w
        ),
        output_histograms=output_histograms(y_true, score, ytr, str_),
        ks_signal=ks_sig,
        ks_background=ks_bkg,
        train_roc_auc=train_auc,
        mass_spectra=spectra,
        index=np.asarray(x_index) if x_index is not None else np.arange(len(y_true)),
        y_true=y_true,
        y_score=score,
        y_pred=y_pred,
        masses=m,
        train_y_true=ytr,
        train_y_score=str_,
    )
