"""Shared bits of the benchmark scripts: machine description, events, table printing."""

from __future__ import annotations

import os
import platform

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def machine():
    """One line naming the cores and CPU model the numbers were measured on."""
    model = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {model}, Python {platform.python_version()}"


def resampled_events(n_events, random_state=0):
    """``n_events`` feature rows and labels resampled from the bundled real sample.

    For speed measurements only: duplicated events say nothing about quality.
    """
    from higgs_sk.datasets import load_sample

    X, y = load_sample(return_X_y=True, as_frame=True)
    idx = np.random.default_rng(random_state).integers(0, len(X), n_events)
    return X.iloc[idx].reset_index(drop=True), y.to_numpy()[idx]


def print_table(title, header, rows):
    """Print a plain-text table (Markdown-compatible) with a title line."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print(f"\n{title}")
    print("| " + " | ".join(str(h).ljust(w) for h, w in zip(header, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |")
