"""Shared bits of the benchmark scripts: machine description, events, table printing."""

from __future__ import annotations

import os
import platform

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


def synthetic_events(n_events, random_state=0):
    """``n_events`` SYNTHETIC feature rows and labels (:func:`higgs_sk.synthetic.make_synthetic`).

    For speed measurements only: resampled events say nothing about quality.
    """
    from higgs_sk.datasets import FEATURE_NAMES, LABEL
    from higgs_sk.synthetic import make_synthetic

    frame = make_synthetic(n_events, random_state=random_state)
    return frame[FEATURE_NAMES], frame[LABEL].to_numpy()


def print_table(title, header, rows):
    """Print a plain-text table (Markdown-compatible) with a title line."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print(f"\n{title}")
    print("| " + " | ".join(str(h).ljust(w) for h, w in zip(header, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |")
