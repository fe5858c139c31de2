"""higgs-sk: separate Higgs-boson signal from background with a Keras MLP in scikit-learn.

The public API is small; names that need TensorFlow are imported on first use
so that ``import higgs_sk`` and the data helpers stay fast.

Examples
--------
>>> import higgs_sk
>>> X, y = higgs_sk.load_sample(return_X_y=True, as_frame=True)
>>> pipe = higgs_sk.make_higgs_pipeline(epochs=3)    # doctest: +SKIP
>>> pipe.fit(X, y).predict_proba(X).shape            # doctest: +SKIP
(9000, 2)
"""

from importlib import import_module

from .datasets import (
    FEATURE_NAMES,
    HIGH_LEVEL_FEATURES,
    LABEL,
    LOW_LEVEL_FEATURES,
    load_higgs,
    load_sample,
)
from .encoding import PiecewiseLinearEncoder
from .features import FeatureSelector

__version__ = "0.1.0"

# name -> module; resolved lazily because these import TensorFlow or matplotlib.
_LAZY = {
    "HiggsClassifier": "model",
    "make_higgs_pipeline": "pipeline",
    "default_param_grid": "pipeline",
    "make_grid_search": "pipeline",
    "save_pipeline": "persistence",
    "load_pipeline": "persistence",
    "evaluate": "evaluation",
    "EvaluationResult": "evaluation",
    "LorentzFeatures": "physics",
    "fetch_higgs": "fetch",
}

__all__ = [
    "FEATURE_NAMES",
    "HIGH_LEVEL_FEATURES",
    "LABEL",
    "LOW_LEVEL_FEATURES",
    "FeatureSelector",
    "PiecewiseLinearEncoder",
    "load_higgs",
    "load_sample",
    *_LAZY,
]


def __getattr__(name):
    if name in _LAZY:
        value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
