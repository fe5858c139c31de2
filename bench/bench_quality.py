"""Quality: 5-fold CV ROC AUC on the bundled 9,000 real events, low-level inputs only.

Usage: ``python bench/bench_quality.py [--folds 5]``

Compares the original notebook recipe, our default MLP, our MLP on physics
inputs (``LorentzFeatures``, computed from the 21 low-level features only),
and scikit-learn's ``HistGradientBoostingClassifier`` on raw low-level and on
physics inputs, with the same stratified, shuffled folds for every model.
The 7 high-level masses appear only as a reference row.
"""

from __future__ import annotations

import argparse
import time

import _common  # noqa: F401  (sets TensorFlow's log level first)
import numpy as np
from _common import machine, print_table


def candidates():
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import make_pipeline

    from higgs_sk.features import FeatureSelector
    from higgs_sk.physics import LorentzFeatures
    from higgs_sk.pipeline import make_higgs_pipeline

    # The notebook: relu, no scaling, batch 32, adam 1e-3, patience 5, 50 epochs,
    # 15 % of all events (20 % of the training part) for early stopping.
    original = make_higgs_pipeline(scaler=None, activation="relu", batch_size=32,
                                   learning_rate=1e-3, epochs=50, patience=5,
                                   validation_fraction=0.2, random_state=0)
    hgb = dict(random_state=0)
    return [
        ("original recipe (Keras MLP, unscaled, batch 32)", original),
        ("higgs-sk default MLP (low-level)", make_higgs_pipeline(random_state=0)),
        ("higgs-sk MLP + physics inputs (PHYSICS_MLP_PARAMS)",
         make_higgs_pipeline(physics="lorentz", random_state=0)),
        ("HistGradientBoosting, raw low-level",
         make_pipeline(FeatureSelector("low"), HistGradientBoostingClassifier(**hgb))),
        ("HistGradientBoosting, physics inputs",
         make_pipeline(FeatureSelector("low"), LorentzFeatures(),
                       HistGradientBoostingClassifier(**hgb))),
        ("reference: HistGradientBoosting, 7 high-level masses",
         make_pipeline(FeatureSelector("high"), HistGradientBoostingClassifier(**hgb))),
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()

    from sklearn.model_selection import StratifiedKFold, cross_val_score

    from higgs_sk.datasets import load_sample

    X, y = load_sample(return_X_y=True, as_frame=True)
    cv = StratifiedKFold(n_splits=args.folds, shuffle=True, random_state=0)
    rows, start = [], time.perf_counter()
    for name, model in candidates():
        t = time.perf_counter()
        scores = cross_val_score(model, X, y, cv=cv, scoring="roc_auc", error_score="raise")
        assert np.isfinite(scores).all(), name
        rows.append([name, f"{scores.mean():.4f}", f"{scores.std():.4f}",
                     f"{scores.min():.4f}", f"{time.perf_counter() - t:.0f}"])
        print(f"  {name}: {scores.round(4)}", flush=True)
    print_table(
        f"bench_quality: {args.folds}-fold stratified CV ROC AUC, bundled 9,000 real events, "
        f"{time.perf_counter() - start:.0f} s in all; {machine()}",
        ["model", "mean AUC", "std", "worst fold", "seconds"],
        rows,
    )


if __name__ == "__main__":
    main()
