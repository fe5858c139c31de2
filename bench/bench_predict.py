"""Inference speed: ``pipeline.predict_proba`` vs Keras-default ``model.predict``.

Usage: ``python bench/bench_predict.py [--events 1000000]``

Both sides score the same events with the same trained network; the Keras
side is what a user of plain Keras writes (``model.predict(X)``, default
batch size 32), given already-scaled inputs, so it does strictly less work.
"""

from __future__ import annotations

import argparse
import time

import _common  # noqa: F401  (sets TensorFlow's log level first)
import numpy as np
from _common import machine, print_table, synthetic_events


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()

    from higgs_sk.pipeline import make_higgs_pipeline

    X, y = synthetic_events(args.events)
    pipe = make_higgs_pipeline(epochs=1, early_stopping=False, random_state=0)
    pipe.fit(X.iloc[:20_000], y[:20_000])
    model = pipe.named_steps["clf"].model_
    X_scaled = pipe[:-1].transform(X)

    pipe.predict_proba(X.iloc[:70_000])  # warm-up: trace the compiled predict function once
    model.predict(X_scaled[:1000], verbose=0)

    t = time.perf_counter()
    ours = pipe.predict_proba(X)[:, 1]
    t_ours = time.perf_counter() - t

    t = time.perf_counter()
    keras_default = model.predict(X_scaled, verbose=0).ravel()
    t_keras = time.perf_counter() - t

    max_diff = float(np.max(np.abs(ours - keras_default)))
    rows = [
        ["pipeline.predict_proba (select+scale+net)", f"{t_ours:.2f}",
         f"{args.events / t_ours:,.0f}", f"{t_keras / t_ours:.1f}x"],
        ["keras model.predict(X) defaults (batch 32)", f"{t_keras:.2f}",
         f"{args.events / t_keras:,.0f}", "1.0x"],
    ]
    print_table(
        f"bench_predict: {args.events:,} events; {machine()}",
        ["side", "seconds", "events/s", "speed vs Keras default"],
        rows,
    )
    print(f"largest |difference| between the two sides' probabilities: {max_diff:.2e}")


if __name__ == "__main__":
    main()
