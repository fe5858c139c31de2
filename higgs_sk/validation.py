"""Checks shared by the estimators, the evaluation helpers and the CLI.

Examples
--------
>>> from higgs_sk.validation import check_binary_labels
>>> check_binary_labels([1.0, 0.0, True])
array([1, 0, 1])
"""

from __future__ import annotations

import numpy as np

__all__ = ["check_binary_labels"]


def check_binary_labels(y, *, require_both=False):
    """Return HIGGS labels as a 1-d int array of 0 (background) and 1 (signal).

    Accepts ints, floats 0.0/1.0, bools, pandas Series and an (n, 1) column
    (which a naive ``type_of_target`` call would treat as multi-output).

    Parameters
    ----------
    y : array-like of shape (n_events,) or (n_events, 1)
    require_both : bool, default=False
        Also require that both classes occur, as training does.

    Returns
    -------
    ndarray of int64, shape (n_events,)

    Raises
    ------
    ValueError
        Naming the first offending value and its row.

    Examples
    --------
    >>> check_binary_labels([[0], [1]])
    array([0, 1])
    """
    arr = np.asarray(y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(
            f"labels must be a 1-d array or an (n, 1) column, got shape {arr.shape}"
        )
    if arr.dtype.kind == "b":
        out = arr.astype(np.int64)
    else:
        if arr.dtype.kind in "iuf":
            ok = np.isin(arr, (0, 1))
        else:
            ok = np.array(
                [isinstance(v, (bool, int, float, np.number)) and v in (0, 1) for v in arr],
                dtype=bool,
            )
        if not ok.all():
            row = int(np.flatnonzero(~ok)[0])
            raise ValueError(
                f"labels must be 0 (background) or 1 (signal); got {arr[row]!r} at row {row}"
            )
        out = arr.astype(np.int64)
    if require_both:
        present = np.unique(out)
        if len(present) < 2:
            only = "no events" if len(present) == 0 else f"only label {int(present[0])}"
            raise ValueError(
                f"training needs both signal (1) and background (0) events; got {only}"
            )
    return out
