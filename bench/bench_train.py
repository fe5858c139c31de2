"""Training speed: our pipeline vs raw Keras, and our defaults vs the original recipe.

Usage: ``python bench/bench_train.py [--events 200000] [--epochs 2] [--batch-size B]``

Part A times ``pipeline.fit`` against what a plain-Keras user writes for the
same job: scale the same events with ``StandardScaler``, build the same
network as a ``keras.Sequential`` and fit it with the same batch size and
epochs.  The difference is the cost of the scikit-learn layer.

Part B is the comparison a user cares about: the original notebook's recipe
(unscaled inputs, batch 32, adam, early stopping on val_loss with patience 5,
at most 50 epochs) against ``make_higgs_pipeline()`` defaults, both trained
on the same 60 % of the events and monitored on the same 15 % validation
events.  It reports events/s and the wall time each needs to first reach the
best validation AUC the original recipe ever reaches.  The events are
synthetic: training events are resampled (with jitter) from 80 % of the
bundled real events and validation events from the other 20 %, so no
validation event is a copy of a training event.  The AUCs are a speed
yardstick, not a quality claim; ``bench_quality.py`` measures quality.
"""

from __future__ import annotations

import argparse
import time

import _common  # noqa: F401  (sets TensorFlow's log level first)
import numpy as np
from _common import machine, print_table, synthetic_events


def _sequential(n_features, activation="relu"):
    import keras

    model = keras.Sequential(
        [
            keras.Input(shape=(n_features,)),
            keras.layers.Dense(64, activation=activation),
            keras.layers.Dropout(0.2),
            keras.layers.Dense(64, activation=activation),
            keras.layers.Dropout(0.2),
            keras.layers.Dense(64, activation=activation),
            keras.layers.Dropout(0.2),
            keras.layers.Dense(32, activation=activation),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    return model


def part_a(n_events, epochs, batch_size):
    from sklearn.preprocessing import StandardScaler

    from higgs_sk.datasets import LOW_LEVEL_FEATURES
    from higgs_sk.pipeline import make_higgs_pipeline

    X, y = synthetic_events(n_events)
    X_low = X[LOW_LEVEL_FEATURES].to_numpy()
    best = {"ours": np.inf, "keras": np.inf}
    for _ in range(3):  # alternate the sides so background load hits both alike
        # Unseeded like the Keras side: seeding switches on TensorFlow's op
        # determinism, which is a different (reproducible) setting.
        pipe = make_higgs_pipeline(batch_size=batch_size, epochs=epochs,
                                   early_stopping=False, random_state=None)
        t = time.perf_counter()
        pipe.fit(X, y)
        best["ours"] = min(best["ours"], time.perf_counter() - t)

        t = time.perf_counter()
        # What a plain-Keras user writes: scale, build, fit.
        X_scaled = StandardScaler().fit_transform(X_low)
        model = _sequential(X_scaled.shape[1], pipe.named_steps["clf"].activation)
        model.fit(X_scaled, y, batch_size=batch_size, epochs=epochs, verbose=0)
        best["keras"] = min(best["keras"], time.perf_counter() - t)
    rate = {k: n_events * epochs / v for k, v in best.items()}
    print_table(
        f"Part A: fit throughput, {n_events:,} events x {epochs} epochs, batch {batch_size} "
        f"(best of 3); {machine()}",
        ["side", "seconds", "events/s", "ratio to raw Keras"],
        [
            ["higgs-sk pipeline.fit (select+scale+net)", f"{best['ours']:.2f}",
             f"{rate['ours']:,.0f}", f"{rate['ours'] / rate['keras']:.2f}"],
            ["raw Keras: StandardScaler + Sequential build + fit", f"{best['keras']:.2f}",
             f"{rate['keras']:,.0f}", "1.00"],
        ],
    )


def _auc_monitor(X_val, y_val, transform=None):
    import keras
    from sklearn.metrics import roc_auc_score

    class AucMonitor(keras.callbacks.Callback):
        """Validation AUC and elapsed training time (excluding this callback) per epoch."""

        def on_train_begin(self, logs=None):
            self.start = time.perf_counter()
            self.spent = 0.0
            self.points = []
            self.Xv = None

        def on_epoch_end(self, epoch, logs=None):
            t = time.perf_counter()
            if self.Xv is None:
                self.Xv = X_val if transform is None else transform(X_val)
            p = self.model.predict_on_batch(np.asarray(self.Xv, dtype=np.float32))
            auc = roc_auc_score(y_val, np.asarray(p).ravel())
            self.spent += time.perf_counter() - t
            self.points.append((t - self.start - self.spent + (time.perf_counter() - t), auc))

    return AucMonitor()


def part_b(n_events):
    import keras
    from sklearn.model_selection import train_test_split

    from higgs_sk.datasets import LABEL, LOW_LEVEL_FEATURES
    from higgs_sk.pipeline import make_higgs_pipeline

    from higgs_sk.datasets import load_sample
    from higgs_sk.synthetic import make_synthetic

    real = load_sample(as_frame=True).frame
    pool_tr, pool_va = train_test_split(real, test_size=0.2, stratify=real[LABEL], random_state=42)
    train = make_synthetic(int(0.6 * n_events), random_state=1, source=pool_tr)
    val = make_synthetic(int(0.15 * n_events), random_state=2, source=pool_va)
    Xtr, ytr = train[LOW_LEVEL_FEATURES], train[LABEL].to_numpy()
    Xva, yva = val[LOW_LEVEL_FEATURES], val[LABEL].to_numpy()

    keras.utils.set_random_seed(42)
    model = _sequential(21)
    mon = _auc_monitor(Xva.to_numpy(), yva)
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=5)
    t = time.perf_counter()
    hist = model.fit(Xtr.to_numpy(), ytr, batch_size=32, epochs=50, verbose=0,
                     validation_data=(Xva.to_numpy(), yva), callbacks=[mon, stop])
    t_orig = time.perf_counter() - t - mon.spent
    orig_points = mon.points
    n_orig = len(hist.history["loss"])
    target = max(a for _, a in orig_points)
    t_orig_target = next(s for s, a in orig_points if a >= target)

    pipe = make_higgs_pipeline(random_state=42)
    mon2 = _auc_monitor(Xva, yva, transform=lambda X: pipe[:-1].transform(X))
    t = time.perf_counter()
    pipe.fit(Xtr, ytr, clf__callbacks=[mon2])
    t_ours = time.perf_counter() - t - mon2.spent
    clf = pipe.named_steps["clf"]
    n_fit_ours = len(Xtr) * (1 - clf.validation_fraction)
    reached = [s for s, a in mon2.points if a >= target]
    t_ours_target = reached[0] if reached else None
    best_ours = max(a for _, a in mon2.points)

    rate_orig = len(Xtr) * n_orig / t_orig
    rate_ours = n_fit_ours * clf.n_epochs_ / t_ours
    rows = [
        ["original recipe (batch 32, unscaled)", n_orig, f"{t_orig:.1f}", f"{rate_orig:,.0f}",
         f"{target:.4f}", f"{t_orig_target:.1f}", "1.00"],
        [f"higgs-sk defaults (batch {clf.batch_size}, scaled)", clf.n_epochs_, f"{t_ours:.1f}",
         f"{rate_ours:,.0f}", f"{best_ours:.4f}",
         "not reached" if t_ours_target is None else f"{t_ours_target:.1f}",
         "-" if t_ours_target is None else f"{t_ours_target / t_orig_target:.2f}"],
    ]
    print_table(
        f"Part B: synthetic events, {len(Xtr)} training / {len(Xva)} validation; "
        f"target = original recipe's best validation AUC; events/s ratio ours/original = "
        f"{rate_ours / rate_orig:.1f}x",
        ["recipe", "epochs", "fit s", "events/s", "best val AUC", "s to target",
         "time ratio"],
        rows,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=None,
                        help="Part A batch size (default: HiggsClassifier's default)")
    parser.add_argument("--part", choices=["a", "b", "both"], default="both")
    args = parser.parse_args()
    from higgs_sk.model import HiggsClassifier

    batch = args.batch_size or HiggsClassifier().batch_size
    if args.part in ("a", "both"):
        part_a(args.events, args.epochs, batch)
    if args.part in ("b", "both"):
        part_b(args.events)


if __name__ == "__main__":
    main()
