"""Figures for a HIGGS analysis: training history, ROC, rejection, outputs, spectra.

Every function builds a :class:`matplotlib.figure.Figure` directly and
returns it; nothing touches ``matplotlib.pyplot``, so there is no global
figure state, no GUI backend and nothing to close -- figures are freed when
they go out of scope, which matters in a long report-writing process.
Save them with :func:`save_figure`, which writes atomically.

Examples
--------
>>> from higgs_sk.plotting import plot_roc, save_figure
>>> fig = plot_roc(y_true=[1, 0, 1, 0], y_score=[0.9, 0.8, 0.4, 0.1])
>>> len(fig.axes)
1
>>> save_figure(fig, "roc.png")   # doctest: +SKIP
PosixPath('roc.png')
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .atomic import atomic_path
from .datasets import FEATURE_NAMES, canonical_name
from .evaluation import (
    EvaluationResult,
    MassSpectra,
    check_aligned,
    ks_overtraining,
    mass_spectra,
    output_histograms,
)
from .features import FeatureSelector, resolve_features

__all__ = [
    "plot_background_rejection",
    "plot_classifier_output",
    "plot_correlation_matrix",
    "plot_feature_distributions",
    "plot_history",
    "plot_mass_spectra",
    "plot_roc",
    "save_figure",
]

_SIGNAL = "tab:blue"
_BACKGROUND = "tab:red"
_ACCURACY_KEYS = ("accuracy", "binary_accuracy", "acc")


def _need(result, arrays, what):
    if result is None and any(a is None for a in arrays):
        raise ValueError(f"pass an EvaluationResult or the arrays {what}")


def _roc_from(result, y_true, y_score, sample_weight):
    from sklearn.metrics import roc_auc_score, roc_curve

    if result is not None:
        return np.asarray(result.roc.fpr), np.asarray(result.roc.tpr), result.roc_auc
    fpr, tpr, _ = roc_curve(y_true, y_score, sample_weight=sample_weight)
    return fpr, tpr, float(roc_auc_score(y_true, y_score, sample_weight=sample_weight))


# --------------------------------------------------------------------------
# Training history
# --------------------------------------------------------------------------


def _history_dict(history):
    """The per-epoch metrics dict from a dict, a Keras History or a fitted estimator."""
    if isinstance(history, dict):
        return history
    for attr in ("history_", "history"):
        value = getattr(history, attr, None)
        if isinstance(value, dict):
            return value
        if value is not None and isinstance(getattr(value, "history", None), dict):
            return value.history
    raise TypeError(
        f"cannot read a training history from {type(history).__name__}; pass a dict "
        f"like Keras' History.history or scikeras' history_"
    )


def plot_history(history, *, title=None):
    """Plot loss and accuracy per epoch, training versus validation.

    Parameters
    ----------
    history : dict or object
        ``{"loss": [...], "val_loss": [...], "accuracy": [...], ...}`` as in
        Keras' ``History.history`` or scikeras' ``history_``, or an object
        carrying one of those (a fitted classifier or a History).  Accuracy
        may be recorded as ``accuracy``, ``binary_accuracy`` or ``acc``;
        ``val_`` keys are optional.
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        Two axes (loss, accuracy), or one (loss) when no accuracy was
        recorded; one line per recorded series (training, validation).

    Examples
    --------
    >>> fig = plot_history({"loss": [0.7, 0.6], "val_loss": [0.7, 0.65],
    ...                     "binary_accuracy": [0.5, 0.6],
    ...                     "val_binary_accuracy": [0.5, 0.58]})
    >>> [len(ax.lines) for ax in fig.axes]
    [2, 2]
    """
    hist = _history_dict(history)
    if "loss" not in hist:
        raise ValueError(f"the history has no 'loss' entry; keys: {sorted(hist)}")
    acc_key = next((k for k in _ACCURACY_KEYS if k in hist), None)
    panels = [("loss", "loss")] + ([(acc_key, "accuracy")] if acc_key else [])
    fig = Figure(figsize=(5.5 * len(panels), 4), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (key, label) in zip(axes, panels):
        for k, name, style in ((key, "training", "-"), (f"val_{key}", "validation", "--")):
            if k in hist:
                values = np.asarray(hist[k], dtype=float)
                ax.plot(np.arange(1, len(values) + 1), values, style, label=name)
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    return fig


# --------------------------------------------------------------------------
# ROC and rejection
# --------------------------------------------------------------------------


def plot_roc(result=None, *, y_true=None, y_score=None, sample_weight=None):
    """Plot the ROC curve (signal versus background efficiency) with its AUC.

    Parameters
    ----------
    result : EvaluationResult, optional
        Use its stored ROC curve and AUC.
    y_true, y_score : array-like, optional
        Labels and classifier outputs, used when ``result`` is not given.
    sample_weight : array-like, optional

    Returns
    -------
    matplotlib.figure.Figure
        One axes with two lines (the ROC curve, the random-guess diagonal),
        and, for a result, markers at the background efficiencies 1 %, 10 %,
        30 % where the signal efficiency is quoted.

    Examples
    --------
    >>> fig = plot_roc(y_true=[1, 0, 1, 0], y_score=[0.9, 0.8, 0.4, 0.1])
    >>> len(fig.axes[0].lines)
    2
    """
    _need(result, (y_true, y_score), "y_true and y_score")
    fpr, tpr, auc = _roc_from(result, y_true, y_score, sample_weight)
    fig = Figure(figsize=(5, 5), layout="constrained")
    ax = fig.subplots()
    ax.plot(fpr, tpr, color=_SIGNAL, label=f"classifier (AUC = {auc:.4f})")
    ax.plot([0, 1], [0, 1], ":", color="grey", label="random guess (AUC = 0.5)")
    if result is not None:
        pts = result.signal_efficiency_at_background
        ax.scatter(list(pts), list(pts.values()), color="black", zorder=3, s=15,
                   label="eff_S at eff_B = " + ", ".join(f"{b:g}" for b in pts))
    ax.set_xlabel("background efficiency (false-positive rate)")
    ax.set_ylabel("signal efficiency (true-positive rate)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.005)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    return fig


def plot_background_rejection(result=None, *, y_true=None, y_score=None,
                              sample_weight=None, kind="1-eff"):
    """Plot background rejection versus signal efficiency.

    Parameters
    ----------
    result : EvaluationResult, optional
    y_true, y_score : array-like, optional
        Used when ``result`` is not given.
    sample_weight : array-like, optional
    kind : {"1-eff", "inverse"}, default="1-eff"
        ``"1-eff"``: rejection :math:`1-\\varepsilon_B` on a linear axis, as in
        TMVA's "background rejection versus signal efficiency" plot.
        ``"inverse"``: rejection factor :math:`1/\\varepsilon_B` on a log axis,
        as in papers (points with no background left are omitted).

    Returns
    -------
    matplotlib.figure.Figure
        One axes with one line.

    Examples
    --------
    >>> fig = plot_background_rejection(y_true=[1, 0, 1, 0],
    ...                                 y_score=[0.9, 0.8, 0.4, 0.1])
    >>> fig.axes[0].get_ylabel()
    'background rejection 1 - eff_B'
    """
    if kind not in ("1-eff", "inverse"):
        raise ValueError(f"kind must be '1-eff' or 'inverse', got {kind!r}")
    _need(result, (y_true, y_score), "y_true and y_score")
    fpr, tpr, auc = _roc_from(result, y_true, y_score, sample_weight)
    fig = Figure(figsize=(5, 5), layout="constrained")
    ax = fig.subplots()
    if kind == "1-eff":
        ax.plot(tpr, 1.0 - fpr, color=_SIGNAL, label=f"classifier (AUC = {auc:.4f})")
        ax.set_ylabel("background rejection 1 - eff_B")
        ax.set_ylim(0, 1.005)
    else:
        keep = fpr > 0
        ax.plot(tpr[keep], 1.0 / fpr[keep], color=_SIGNAL,
                label=f"classifier (AUC = {auc:.4f})")
        ax.set_yscale("log")
        ax.set_ylabel("background rejection factor 1 / eff_B")
    ax.set_xlabel("signal efficiency eff_S")
    ax.set_xlim(0, 1)
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="lower left" if kind == "1-eff" else "upper right")
    return fig


# --------------------------------------------------------------------------
# Classifier output (overtraining check)
# --------------------------------------------------------------------------


def _density(counts, edges):
    total = counts.sum()
    width = np.diff(edges)
    if total <= 0:
        return np.zeros_like(counts), np.zeros_like(counts)
    # Poisson errors scaled like the counts, for the training-sample points.
    return counts / (total * width), np.sqrt(counts) / (total * width)


def plot_classifier_output(result=None, *, y_test=None, score_test=None, y_train=None,
                           score_train=None, bins=40):
    """Plot the classifier output of signal and background, test versus training.

    The TMVA overtraining plot: test events as filled histograms, training
    events as points with Poisson errors, all normalised to unit area; the
    legend gives the Kolmogorov–Smirnov probability of train and test
    agreeing for each class.

    Parameters
    ----------
    result : EvaluationResult, optional
        Use its stored output histograms and KS probabilities.
    y_test, score_test : array-like, optional
        Labels and signal probabilities of the test events (without result).
    y_train, score_train : array-like, optional
        Same for the training events; no points or KS without them.
    bins : int, default=40
        Bins over [0, 1] when arrays are given.

    Returns
    -------
    matplotlib.figure.Figure
        One axes: two filled histograms (``ax.patches``), and with training
        events two sets of error bars (``ax.containers``).

    Examples
    --------
    >>> fig = plot_classifier_output(y_test=[1, 0, 1, 0], score_test=[0.9, 0.2, 0.7, 0.4],
    ...                              y_train=[1, 0], score_train=[0.8, 0.3], bins=5)
    >>> len(fig.axes[0].patches), len(fig.axes[0].containers)
    (2, 2)
    """
    _need(result, (y_test, score_test), "y_test and score_test")
    if result is not None:
        h = result.output_histograms
        ks = (
            None
            if result.ks_signal is None
            else {"signal": result.ks_signal, "background": result.ks_background}
        )
    else:
        h = output_histograms(y_test, score_test, y_train, score_train, bins=bins)
        ks = None
        if y_train is not None and score_train is not None:
            ks = ks_overtraining(y_train, score_train, y_test, score_test)
    edges = np.asarray(h.edges)
    centres = 0.5 * (edges[:-1] + edges[1:])
    fig = Figure(figsize=(6, 4.5), layout="constrained")
    ax = fig.subplots()
    for name, color, test, train in (
        ("signal", _SIGNAL, h.signal_test, h.signal_train),
        ("background", _BACKGROUND, h.background_test, h.background_train),
    ):
        dens, _ = _density(np.asarray(test, dtype=float), edges)
        ax.stairs(dens, edges, fill=True, alpha=0.35, color=color, label=f"{name} (test)")
        if train is not None:
            dens, err = _density(np.asarray(train, dtype=float), edges)
            label = f"{name} (train)"
            if ks is not None:
                label += f", KS p = {ks[name]:.3f}"
            ax.errorbar(centres, dens, yerr=err, fmt="o", ms=3, color=color, label=label)
    ax.set_xlabel("classifier output (signal probability)")
    ax.set_ylabel("normalised to unit area")
    ax.set_xlim(edges[0], edges[-1])
    ax.legend(fontsize="small")
    return fig


# --------------------------------------------------------------------------
# Mass spectra
# --------------------------------------------------------------------------


def plot_mass_spectra(result=None, *, masses=None, y_true=None, y_pred=None, index=None,
                      bins=40):
    """Plot a mass spectrum of true versus predicted signal, and of background.

    All four histograms come from the same events (see
    :func:`higgs_sk.evaluation.mass_spectra`, which refuses misaligned
    Series), so a difference between "true" and "predicted" is the
    classifier's doing and not a different sample.

    Parameters
    ----------
    result : EvaluationResult or MassSpectra, optional
        Use the stored spectra.
    masses, y_true, y_pred : array-like or Series, optional
        Per-event mass, true and predicted label, when ``result`` is not given.
    index : pandas.Index, optional
        Index the Series must match (e.g. ``X_test.index``).
    bins : int, default=40

    Returns
    -------
    matplotlib.figure.Figure
        Two axes (signal, background), each with two step histograms
        (``ax.patches``): true and predicted.

    Raises
    ------
    ValueError
        The result has no spectra, or the arrays are misaligned.

    Examples
    --------
    >>> fig = plot_mass_spectra(masses=[0.5, 1.0, 1.5, 2.0], y_true=[1, 1, 0, 0],
    ...                         y_pred=[1, 0, 0, 0], bins=2)
    >>> [len(ax.patches) for ax in fig.axes]
    [2, 2]
    """
    if isinstance(result, EvaluationResult):
        sp = result.mass_spectra
        if sp is None:
            raise ValueError("the result has no mass spectra (no masses were available)")
    elif isinstance(result, MassSpectra):
        sp = result
    elif result is None:
        _need(None, (masses, y_true, y_pred), "masses, y_true and y_pred")
        sp = mass_spectra(masses, y_true, y_pred, bins=bins, index=index)
    else:
        raise TypeError(f"expected an EvaluationResult or MassSpectra, got {type(result)}")
    edges = np.asarray(sp.edges)
    fig = Figure(figsize=(11, 4.5), layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, name, color, true, pred in (
        (axes[0], "signal", _SIGNAL, sp.true_signal, sp.predicted_signal),
        (axes[1], "background", _BACKGROUND, sp.true_background, sp.predicted_background),
    ):
        ax.stairs(true, edges, fill=True, alpha=0.3, color=color,
                  label=f"true {name} ({np.sum(true):g})")
        ax.stairs(pred, edges, color="black", linewidth=1.5,
                  label=f"predicted {name} ({np.sum(pred):g})")
        ax.set_xlabel(f"{sp.feature} (UCI units)")
        ax.set_ylabel("events per bin")
        ax.set_title(f"{name}: true vs predicted")
        ax.legend(fontsize="small")
    return fig


# --------------------------------------------------------------------------
# Input features
# --------------------------------------------------------------------------


def _present_features(X):
    """All HIGGS features X holds: by name in a frame, by column count in an array."""
    if isinstance(X, pd.DataFrame):
        present = {canonical_name(c) for c in X.columns}
        names = [n for n in FEATURE_NAMES if n in present]
        if not names:
            raise ValueError("the frame has no HIGGS feature columns")
        return names
    n_cols = np.shape(X)[1]
    return "all" if n_cols == len(FEATURE_NAMES) else list(range(n_cols))


def _feature_matrix(X, features):
    if features is None:
        features = _present_features(X)
    names = resolve_features(features)
    values = FeatureSelector(features).fit_transform(X).astype(np.float64)
    if names and not isinstance(names[0], str):
        cols = list(X.columns) if isinstance(X, pd.DataFrame) else None
        names = [str(cols[i]) if cols else f"column {i}" for i in names]
    return values, names


def _class_masks(X, y):
    if y is None:
        return None
    check_aligned(index=X.index if isinstance(X, pd.DataFrame) else None, n_events=len(X), y=y)
    y = np.asarray(y)
    return y == 1, y == 0


def plot_feature_distributions(X, y, *, features="low", bins=40, ncols=4):
    """Plot each feature's distribution for signal and background, one panel each.

    Parameters
    ----------
    X : DataFrame or array-like
        Events; columns found by name in a frame, in UCI order in a 28-column
        array (as :class:`~higgs_sk.features.FeatureSelector` reads them).
    y : array-like or Series
        Labels, 0 background, 1 signal; a Series must have X's index.
    features : {"low", "high", "all"} or list, default="low"
        The 21 low-level features by default.
    bins : int, default=40
        Bins over the 0.5th--99.5th percentile of each feature (both classes),
        so far tails do not squash the bulk.
    ncols : int, default=4

    Returns
    -------
    matplotlib.figure.Figure
        One axes per feature (21 for ``"low"``), each with two step
        histograms (``ax.patches``) normalised to unit area.

    Examples
    --------
    >>> from higgs_sk import load_sample
    >>> X, y = load_sample(return_X_y=True, as_frame=True)
    >>> len(plot_feature_distributions(X[:500], y[:500]).axes)
    21
    """
    values, names = _feature_matrix(X, features)
    sig, bkg = _class_masks(X, y)
    n = len(names)
    ncols = max(1, min(int(ncols), n))
    nrows = -(-n // ncols)
    fig = Figure(figsize=(3.2 * ncols, 2.5 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes[n:]:
        ax.remove()  # so len(fig.axes) is the number of features
    for i, (ax, name) in enumerate(zip(axes, names)):
        col = values[:, i]
        lo, hi = np.percentile(col, [0.5, 99.5])
        if hi <= lo:
            lo, hi = lo - 0.5, hi + 0.5
        edges = np.linspace(lo, hi, int(bins) + 1)
        for mask, label, color in ((sig, "signal", _SIGNAL), (bkg, "background", _BACKGROUND)):
            counts = np.histogram(col[mask], bins=edges)[0].astype(float)
            ax.stairs(_density(counts, edges)[0], edges, color=color, label=label)
        ax.set_title(name, fontsize="small")
        ax.tick_params(labelsize="x-small")
        ax.set_yticks([])
    axes[0].legend(fontsize="x-small")
    return fig


def plot_correlation_matrix(X, y=None, *, features=None):
    """Plot the linear (Pearson) correlation matrix of the features.

    Parameters
    ----------
    X : DataFrame or array-like
    y : array-like or Series, optional
        If given, separate matrices for signal and background events (as
        TMVA draws them); a Series must have X's index.
    features : {"low", "high", "all"} or list, optional
        Default: every HIGGS feature X holds (all 28 in UCI order for a full
        frame or a 28-column array; the low-level ones for a low-level file).

    Returns
    -------
    matplotlib.figure.Figure
        One matrix axes (two with ``y``) plus one colour-bar axes.  A
        constant feature has undefined correlation and is drawn blank.

    Examples
    --------
    >>> from higgs_sk import load_sample
    >>> X, y = load_sample(return_X_y=True, as_frame=True)
    >>> len(plot_correlation_matrix(X[:500], y[:500], features="high").axes)
    3
    """
    values, names = _feature_matrix(X, features)
    masks = _class_masks(X, y)
    panels = (
        [("all events", np.ones(len(values), dtype=bool))]
        if masks is None
        else [("signal", masks[0]), ("background", masks[1])]
    )
    n = len(names)
    size = max(4.0, 0.22 * n + 2)
    fig = Figure(figsize=(size * len(panels) + 1, size), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    image = None
    for ax, (title, mask) in zip(axes, panels):
        with np.errstate(divide="ignore", invalid="ignore"):
            corr = np.corrcoef(values[mask], rowvar=False) if mask.sum() > 1 else np.full(
                (n, n), np.nan
            )
        corr = np.atleast_2d(corr)
        image = ax.imshow(corr, vmin=-1, vmax=1, cmap="RdBu_r")
        ax.set_xticks(range(n), names, rotation=90, fontsize="x-small")
        ax.set_yticks(range(n), names, fontsize="x-small")
        ax.set_title(f"correlation, {title}")
        if n <= 10:
            for (i, j), v in np.ndenumerate(corr):
                if np.isfinite(v):
                    ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize="x-small")
    fig.colorbar(image, ax=list(axes), shrink=0.8, label="Pearson correlation")
    return fig


# --------------------------------------------------------------------------
# Saving
# --------------------------------------------------------------------------


def save_figure(fig, path, **savefig_kwargs):
    """Write a figure to ``path`` atomically.

    The image goes to a temporary file in the same directory, which then
    replaces ``path`` with :func:`os.replace`; a reader never sees a
    half-written file and a failed save leaves any previous file untouched.
    Missing parent directories are created.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    path : str or path-like
        Destination; the format comes from the suffix (``.png``, ``.pdf``,
        ``.svg``) unless ``format=`` is given.
    **savefig_kwargs
        Passed to :meth:`matplotlib.figure.Figure.savefig` (``dpi=``, ...).

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> save_figure(plot_roc(result), "report/roc.png", dpi=120)  # doctest: +SKIP
    PosixPath('report/roc.png')
    """
    path = Path(os.fspath(path))
    fmt = savefig_kwargs.pop("format", None) or (path.suffix[1:].lower() or "png")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=fmt, **savefig_kwargs)
    return path
