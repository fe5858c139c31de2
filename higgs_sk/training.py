"""The main job as a library call: split, train, evaluate on the same test events.

The command line ``higgs-sk train`` is a thin shell around :func:`train_and_evaluate`.

Examples
--------
>>> from higgs_sk.datasets import load_sample
>>> from higgs_sk.training import split_events
>>> frame = load_sample(as_frame=True).frame
>>> train, test = split_events(frame["label"], test_size=0.25, random_state=42)
>>> len(train), len(test)
(6750, 2250)
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from sklearn.model_selection import train_test_split

from .datasets import LABEL
from .validation import check_binary_labels

__all__ = ["split_events", "train_and_evaluate", "TrainingRun"]


def split_events(y, *, test_size=0.25, random_state=42):
    """Stratified, shuffled train/test positions, as in the original analysis.

    Parameters
    ----------
    y : array-like of 0/1
    test_size : float, default=0.25
    random_state : int, default=42

    Returns
    -------
    train, test : ndarray of int
        Row positions.

    Raises
    ------
    ValueError
        When there are too few events of a class for the requested split.
    """
    y = check_binary_labels(y, require_both=True)
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"test_size must be in (0, 1), got {test_size!r}")
    try:
        return train_test_split(
            np.arange(len(y)), test_size=test_size, stratify=y, shuffle=True,
            random_state=random_state,
        )
    except ValueError as exc:
        raise ValueError(
            f"{len(y)} events are too few for a stratified test_size={test_size} split ({exc})"
        ) from exc


def _check_enough_events(y, test_size, val_size):
    """Refuse, before any training, a sample too small for a stratified 3-way split.

    Each of the training, validation and test parts needs at least one event
    of each class; with fewer, scikit-learn fails deep inside the split (or
    early stopping watches an empty class).
    """
    smallest_share = min(test_size, val_size, 1.0 - test_size - val_size)
    need = int(np.ceil(1.0 / smallest_share - 1e-9))
    counts = np.bincount(y, minlength=2)
    if counts.min() < need:
        raise ValueError(
            f"{len(y)} events ({counts[0]} background, {counts[1]} signal) are too few for "
            f"the split test_size={test_size}, val_size={val_size}: every part needs both "
            f"classes, so each class needs at least {need} events"
        )


@dataclass
class TrainingRun:
    """What :func:`train_and_evaluate` produced.

    Attributes
    ----------
    pipeline : sklearn.pipeline.Pipeline
        The fitted pipeline.
    result : higgs_sk.evaluation.EvaluationResult
        Evaluation on the test events.
    history : dict
        Per-epoch training history of the network.
    info : dict
        JSON-serialisable summary: split sizes, parameters, timing.
    train_index, test_index : ndarray
        Frame index labels of the training (incl. validation) and test events.
    """

    pipeline: object
    result: object
    history: dict
    info: dict
    train_index: np.ndarray = field(repr=False)
    test_index: np.ndarray = field(repr=False)


def train_and_evaluate(
    frame,
    *,
    test_size=0.25,
    val_size=0.15,
    random_state=42,
    features="low",
    physics=None,
    callbacks=None,
    n_signal=None,
    n_background=None,
    **classifier_params,
):
    """Split a labelled frame 60/15/25, fit the pipeline, evaluate on the test part.

    The validation share for early stopping is drawn inside ``fit`` from the
    training part, so the three parts are disjoint.  Predictions, labels and
    ``m_wwbb`` masses of the test events travel together through
    :func:`~higgs_sk.evaluation.evaluate` by frame index, so the mass spectra
    always belong to the events whose predictions they show.

    Parameters
    ----------
    frame : pandas.DataFrame
        Events with a ``label`` column (as from :func:`~higgs_sk.datasets.load_higgs`).
    test_size, val_size : float, default=0.25, 0.15
        Shares of all events.
    random_state : int, default=42
        Seeds the split and the network.
    features : str or list, default="low"
    physics : {"lorentz"} or None
    callbacks : list of keras callbacks, optional
        Used during this fit only (not saved with the model), e.g. a progress bar.
    n_signal, n_background : float, optional
        Expected signal and background counts for the S/sqrt(S+B) cut;
        default: the test-set counts.
    **classifier_params
        Passed to :class:`~higgs_sk.model.HiggsClassifier`.

    Returns
    -------
    TrainingRun

    Raises
    ------
    ValueError
        No ``label`` column, labels other than 0/1, a single class, or too
        few events of a class for the three-way split (checked before any
        training starts).
    """
    from .evaluation import evaluate
    from .pipeline import make_higgs_pipeline

    if LABEL not in frame.columns:
        raise ValueError("the events have no 'label' column; training needs labelled events")
    if not 0.0 < val_size < 1.0 or test_size + val_size >= 1.0:
        raise ValueError(
            f"val_size={val_size} (--val-size) and test_size={test_size} (--test-size) "
            f"must each be in (0, 1) and add up to less than 1 to leave events for training"
        )
    y_all = check_binary_labels(frame[LABEL].to_numpy(), require_both=True)
    _check_enough_events(y_all, test_size, val_size)
    train, test = split_events(y_all, test_size=test_size, random_state=random_state)
    train_frame, test_frame = frame.iloc[train], frame.iloc[test]
    params = dict(classifier_params)
    params.setdefault("random_state", random_state)
    # Rounded so metadata shows 0.2, not 0.19999999999999998.
    params["validation_fraction"] = round(val_size / (1.0 - test_size), 12)
    pipe = make_higgs_pipeline(features=features, physics=physics, **params)
    X_train, y_train = train_frame.drop(columns=LABEL), y_all[train]
    X_test, y_test = test_frame.drop(columns=LABEL), y_all[test]

    start = time.perf_counter()
    pipe.fit(X_train, y_train, clf__callbacks=list(callbacks or []))
    seconds = time.perf_counter() - start

    clf = pipe.named_steps["clf"]
    result = evaluate(pipe, X_test, y_test, X_train=X_train, y_train=y_train,
                      n_signal=n_signal, n_background=n_background)
    n_fit = len(train) - clf.n_validation_events_
    info = {
        "events": {
            "total": int(len(frame)),
            "train": n_fit,
            "validation": int(len(train) - n_fit),
            "test": int(len(test)),
        },
        "split": {"test_size": test_size, "val_size": val_size, "random_state": random_state},
        "features": features,
        "physics": physics,
        "classifier": {
            k: (list(v) if isinstance(v, tuple) else v)
            for k, v in clf.get_params().items()
            if k != "callbacks"
        },
        "epochs_run": int(clf.n_epochs_),
        "best_epoch": clf.best_epoch_,
        "fit_seconds": round(seconds, 3),
        "events_per_second": round(n_fit * clf.n_epochs_ / seconds, 1),
    }
    return TrainingRun(
        pipeline=pipe,
        result=result,
        history=dict(clf.history_),
        info=info,
        train_index=np.asarray(train_frame.index),
        test_index=np.asarray(test_frame.index),
    )
