"""The standard higgs-sk pipeline and its hyper-parameter search.

Examples
--------
>>> from higgs_sk.pipeline import make_higgs_pipeline
>>> [name for name, _ in make_higgs_pipeline().steps]
['select', 'scale', 'clf']
"""

from __future__ import annotations

from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import QuantileTransformer, RobustScaler, StandardScaler

from .encoding import PiecewiseLinearEncoder
from .features import FeatureSelector

__all__ = ["make_higgs_pipeline", "default_param_grid", "make_grid_search", "PHYSICS_MLP_PARAMS"]

PHYSICS_MLP_PARAMS = {
    "hidden_layer_sizes": (256, 256, 256),
    "dropout": 0.4,
    "weight_decay": 1e-3,
    "learning_rate": 1e-3,
    "learning_rate_schedule": "cosine",
    "early_stopping": False,
    "epochs": 25,
    "batch_size": 256,
    "embedding": ("periodic", "ple"),
    "frequency_scale": 0.05,
}
"""Classifier settings used with ``physics="lorentz"`` unless given explicitly.

Found on the bundled 9,000 real events with ``bench/tune_small_sample.py
--physics`` and its ``--network`` and ``--schedule`` searches (our own
``make_grid_search``, 5-fold CV; tables in docs/performance.md): the 66
physics inputs overfit the default network, so it is wider and more
regularised; two networks side by side, one on a periodic embedding of the
inputs and one on their piecewise-linear encoding, whose mean probability
beats either alone; and a fixed 25-epoch cosine-annealed budget on every
training event instead of early stopping on a held-out 15 %.
"""

_SCALERS = {
    "standard": StandardScaler,
    "robust": RobustScaler,
    "quantile": lambda: QuantileTransformer(output_distribution="normal", random_state=0),
    "ple": PiecewiseLinearEncoder,
}


def make_higgs_pipeline(features="low", scaler="auto", physics=None, **classifier_params):
    """Selector → (physics features) → scaler → :class:`~higgs_sk.model.HiggsClassifier`.

    Parameters
    ----------
    features : {"low", "high", "all"} or list of str, default="low"
        Feature group kept by the selector; the default is the 21 low-level
        detector measurements.
    scaler : {"auto", "standard", "robust", "quantile", "ple"} or None, default="auto"
        Input scaling; the original analysis had none, which slows and
        destabilises training.  ``"ple"`` is the piecewise-linear encoding
        of :class:`~higgs_sk.encoding.PiecewiseLinearEncoder`.  ``"auto"`` is
        ``"standard"`` for the plain features and ``"ple"`` for the
        heavy-tailed, peaked physics inputs, the better choice for each on the
        bundled sample (docs/performance.md); with physics inputs and the
        classifier's own periodic embedding (``embedding="periodic"``) it is
        ``"quantile"``, normal-shaped inputs of unit width.
    physics : {"lorentz"} or None, default=None
        ``"lorentz"`` adds :class:`~higgs_sk.physics.LorentzFeatures`
        (canonicalised event, invariant masses, angles), computed from the
        21 low-level features only; it requires ``features="low"``.
    **classifier_params
        Passed to :class:`~higgs_sk.model.HiggsClassifier`; with
        ``physics="lorentz"`` they override :data:`PHYSICS_MLP_PARAMS`.

    Returns
    -------
    sklearn.pipeline.Pipeline
        Steps ``select``, optionally ``physics``, ``scale`` (unless
        ``scaler=None``) and ``clf``.

    Examples
    --------
    >>> pipe = make_higgs_pipeline(epochs=5, random_state=0)
    >>> pipe.get_params()["clf__epochs"]
    5
    """
    from .model import HiggsClassifier

    steps = [("select", FeatureSelector(features))]
    if physics is not None:
        if physics != "lorentz":
            raise ValueError(f"physics={physics!r} is not known; use 'lorentz' or None")
        if features != "low":
            raise ValueError("physics='lorentz' is computed from features='low' only")
        from .physics import LorentzFeatures

        steps.append(("physics", LorentzFeatures()))
        classifier_params = {**PHYSICS_MLP_PARAMS, **classifier_params}
    if scaler == "auto":
        if physics is None:
            scaler = "standard"
        else:
            # The periodic embedding wants unit-width inputs, not ramps in [0, 1].
            scaler = "quantile" if classifier_params.get("embedding") else "ple"
    if scaler is not None:
        if scaler not in _SCALERS:
            raise ValueError(f"scaler={scaler!r} is not known; use one of {sorted(_SCALERS)}")
        steps.append(("scale", _SCALERS[scaler]()))
    steps.append(("clf", HiggsClassifier(**classifier_params)))
    return Pipeline(steps)


def default_param_grid():
    """A small grid over the network's width/depth and learning rate.

    Returns
    -------
    dict
        Keys are pipeline parameter names (``clf__...``).

    Examples
    --------
    >>> sorted(default_param_grid())
    ['clf__hidden_layer_sizes', 'clf__learning_rate']
    """
    return {
        "clf__hidden_layer_sizes": [(64, 64, 64, 32), (128, 128, 64), (256, 256, 256)],
        "clf__learning_rate": [1e-3, 3e-3],
    }


def make_grid_search(
    pipeline=None, param_grid=None, *, cv=3, scoring="roc_auc", n_jobs=None, random_state=0,
    verbose=0,
):
    """``GridSearchCV`` on ROC AUC with stratified, shuffled folds.

    A failing candidate raises instead of scoring NaN (``error_score="raise"``),
    so a broken configuration can never be reported as "best".

    Parameters
    ----------
    pipeline : Pipeline, optional
        Defaults to :func:`make_higgs_pipeline`.
    param_grid : dict or list of dict, optional
        Defaults to :func:`default_param_grid`.
    cv : int or cross-validation generator, default=3
        An int means ``StratifiedKFold(cv, shuffle=True, random_state=random_state)``.
    scoring : str, default="roc_auc"
    n_jobs : int, optional
    random_state : int, default=0
        Seeds the folds.
    verbose : int, default=0

    Returns
    -------
    sklearn.model_selection.GridSearchCV

    Examples
    --------
    >>> search = make_grid_search(param_grid={"clf__learning_rate": [1e-3, 3e-3]})
    >>> search.scoring, search.error_score
    ('roc_auc', 'raise')
    """
    if pipeline is None:
        pipeline = make_higgs_pipeline()
    if param_grid is None:
        param_grid = default_param_grid()
    if isinstance(cv, int):
        cv = StratifiedKFold(n_splits=cv, shuffle=True, random_state=random_state)
    return GridSearchCV(
        pipeline,
        param_grid,
        scoring=scoring,
        cv=cv,
        n_jobs=n_jobs,
        refit=True,
        error_score="raise",
        verbose=verbose,
    )
