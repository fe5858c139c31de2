"""Selecting HIGGS feature groups inside a scikit-learn pipeline.

Examples
--------
>>> from higgs_sk import FeatureSelector, load_sample
>>> X, y = load_sample(return_X_y=True, as_frame=True)
>>> FeatureSelector("low").fit_transform(X).shape
(9000, 21)
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_array, check_is_fitted

from .datasets import FEATURE_NAMES, HIGH_LEVEL_FEATURES, LOW_LEVEL_FEATURES, canonical_name
from .exceptions import DataFormatError

__all__ = ["FeatureSelector", "resolve_features"]

_GROUPS = {
    "low": LOW_LEVEL_FEATURES,
    "high": HIGH_LEVEL_FEATURES,
    "all": FEATURE_NAMES,
}


def resolve_features(features):
    """Turn a feature group or a list of names into canonical names.

    Parameters
    ----------
    features : {"low", "high", "all"}, list of str or list of int
        A group name, explicit column names in any common spelling, or
        column positions.

    Returns
    -------
    list of str or list of int
        Canonical names in UCI order for a group, in the given order for a
        list of names; positions unchanged for a list of ints.

    Examples
    --------
    >>> resolve_features(["lepton pT", "m_wwbb"])
    ['lepton_pT', 'm_wwbb']
    """
    if isinstance(features, str):
        if features not in _GROUPS:
            raise ValueError(
                f"features={features!r} is not a feature group; use 'low', 'high', "
                f"'all' or a list of column names"
            )
        return list(_GROUPS[features])
    names = list(features)
    if not names:
        raise ValueError("features is an empty list; name at least one column")
    if all(isinstance(n, numbers.Integral) and not isinstance(n, bool) for n in names):
        if min(names) < 0 or len(set(names)) != len(names):
            raise ValueError(f"feature positions must be distinct and >= 0, got {names}")
        return [int(n) for n in names]
    canon = [canonical_name(n) for n in names]
    unknown = [n for n, c in zip(names, canon) if c is None or c not in FEATURE_NAMES]
    if unknown:
        raise ValueError(f"unknown feature name(s) {unknown}; known names: {FEATURE_NAMES}")
    if len(set(canon)) != len(canon):
        raise ValueError(f"features lists a column twice: {names}")
    return canon


def _check_finite(values, names):
    bad = ~np.isfinite(values)
    if bad.any():
        row, col = (int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"Input contains NaN or infinity: feature {names[col]!r} at row {row} "
            f"is {float(values[row, col])}"
        )


def _frame_values(X):
    """A frame's values as a float array; a non-numeric cell is named by column and row."""
    try:
        return check_array(X, dtype=("float64", "float32"), ensure_all_finite=False)
    except (ValueError, TypeError) as exc:
        for col in X.columns:
            values = X[col]
            if values.dtype.kind in "biuf":
                continue
            numeric = pd.to_numeric(values, errors="coerce")
            bad = numeric.isna().to_numpy() & values.notna().to_numpy()
            if bad.any():
                row = int(np.flatnonzero(bad)[0])
                raise DataFormatError(
                    f"feature {str(col)!r} at row {row} is {values.iloc[row]!r}, not a number"
                ) from exc
        raise


class FeatureSelector(TransformerMixin, BaseEstimator):
    """Keep one group of HIGGS features, by name or by UCI position.

    On a DataFrame, columns are found by name in any order and spelling, and
    extra columns (the label, event ids, the other feature group) are ignored,
    so a frame whose columns come in another order at ``transform`` time than
    at ``fit`` time gives the same output.  On an array, 28 columns are read
    as the UCI feature order (the raw file without its label); an array with
    exactly as many columns as the selection is taken as already selected.

    Parameters
    ----------
    features : {"low", "high", "all"}, list of str or list of int, default="low"
        ``"low"`` keeps the 21 low-level detector features, ``"high"`` the 7
        invariant masses, ``"all"`` all 28; a list of names keeps those
        columns in the given order; a list of ints keeps those positions of
        any array (the generic scikit-learn column selection).

    Attributes
    ----------
    selected_ : list of str or list of int
        Canonical names (or positions) of the output columns, in output order.
    n_features_in_ : int
        Number of columns seen in ``fit``.
    feature_names_in_ : ndarray of str
        Column names seen in ``fit``; only set when ``X`` was a DataFrame.

    Examples
    --------
    >>> import numpy as np
    >>> from higgs_sk.features import FeatureSelector
    >>> X = np.arange(2 * 28, dtype="float32").reshape(2, 28)
    >>> FeatureSelector("high").fit_transform(X)[0, :3]
    array([21., 22., 23.], dtype=float32)
    """

    def __init__(self, features="low"):
        self.features = features

    def fit(self, X, y=None):
        """Check that ``X`` holds the selected features and remember its layout.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_events, n_columns)
        y : ignored

        Returns
        -------
        self

        Raises
        ------
        higgs_sk.exceptions.DataFormatError
            A selected column is missing, two columns are the same feature
            (``lepton_pT`` and ``lepton pT``), or a cell is not a number; the
            message names the column (and row).
        ValueError
            NaN or infinity in a selected feature (named with its row), or an
            array with neither 28 columns nor the selected number.
        """
        selected = resolve_features(self.features)
        if hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        if isinstance(X, pd.DataFrame):
            self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        else:
            X = check_array(X, dtype=None, ensure_all_finite=False)
        self._select(X, selected)
        self.n_features_in_ = X.shape[1]
        self.selected_ = selected
        return self

    def transform(self, X):
        """Return the selected columns as an array, in canonical order.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_events, n_columns)

        Returns
        -------
        ndarray of shape (n_events, n_selected)
            Same floating dtype as the input (float32 stays float32).

        Raises
        ------
        higgs_sk.exceptions.DataFormatError, ValueError
            As in :meth:`fit`; also an array whose number of columns differs
            from the one seen in ``fit``.  A DataFrame may have extra columns
            and any column order.
        """
        check_is_fitted(self, "selected_")
        if not isinstance(X, pd.DataFrame):
            # Arrays carry no names, so their layout must be the one seen in fit.
            X = check_array(X, dtype=None, ensure_all_finite=False)
            if X.shape[1] != self.n_features_in_:
                raise ValueError(
                    f"X has {X.shape[1]} features, but FeatureSelector is expecting "
                    f"{self.n_features_in_} features as input."
                )
        return self._select(X, self.selected_)

    def get_feature_names_out(self, input_features=None):
        """Names of the selected features.

        Parameters
        ----------
        input_features : array-like of str, optional
            Only used in positional mode on arrays, to name the positions.

        Returns
        -------
        ndarray of str
        """
        check_is_fitted(self, "selected_")
        if self.selected_ and isinstance(self.selected_[0], str):
            return np.asarray(self.selected_, dtype=object)
        if input_features is None:
            input_features = getattr(self, "feature_names_in_", None)
        if input_features is None:
            input_features = (
                FEATURE_NAMES
                if self.n_features_in_ == len(FEATURE_NAMES)
                else [f"x{i}" for i in range(self.n_features_in_)]
            )
        return np.asarray([input_features[i] for i in self.selected_], dtype=object)

    def _select(self, X, selected):
        """Selected columns of X as a finite float array."""
        positional = isinstance(selected[0], numbers.Integral)
        if isinstance(X, pd.DataFrame):
            if positional:
                self._check_positions(X.shape[1], selected)
                X = X.iloc[:, selected]
            else:
                X = X[self._frame_columns(X, selected)]
            values = _frame_values(X)
            names = [str(c) for c in X.columns]
        else:
            values = check_array(X, dtype=("float64", "float32"), ensure_all_finite=False)
            if positional:
                self._check_positions(values.shape[1], selected)
                values, names = values[:, selected], [f"column {i}" for i in selected]
            else:
                pos = self._array_positions(values.shape[1], selected)
                if pos is not None:
                    values = values[:, pos]
                names = selected
        _check_finite(values, names)
        return values

    @staticmethod
    def _frame_columns(X, selected):
        by_canon = {}
        for col in X.columns:
            c = canonical_name(col)
            if c is None:
                continue  # extra columns are allowed and ignored
            if c in by_canon:
                raise DataFormatError(
                    f"duplicated column: {by_canon[c]!r} and {col!r} are both {c!r}; "
                    f"keep one of them"
                )
            by_canon[c] = col
        missing = [n for n in selected if n not in by_canon]
        if missing:
            raise DataFormatError(f"the input frame lacks feature column(s) {missing}")
        return [by_canon[n] for n in selected]

    @staticmethod
    def _check_positions(n_columns, selected):
        if max(selected) >= n_columns:
            raise ValueError(f"X has {n_columns} columns; cannot select position {max(selected)}")

    @staticmethod
    def _array_positions(n_columns, selected):
        """UCI positions to take from an array, or None if it is already selected."""
        if n_columns == len(FEATURE_NAMES):
            return [FEATURE_NAMES.index(n) for n in selected]
        if n_columns == len(selected):
            return None
        raise ValueError(
            f"X has {n_columns} columns; expected {len(FEATURE_NAMES)} "
            f"(all HIGGS features in UCI order, without the label) or "
            f"{len(selected)} (already the selected features)"
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
