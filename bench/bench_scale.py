"""Benchmark: streaming training on N events against in-memory training on 1 M.

Usage::

    python bench/bench_scale.py                      # N = 11,000,000 (the full data set)
    python bench/bench_scale.py --events 2000000     # a quicker check

Both sides train the same network (the default 21-64-64-64-32-1 MLP on the
21 low-level features) with the same batch size for one epoch, without early
stopping, each in a fresh child process so that its peak resident memory
(``ru_maxrss``) is its own.  The data are SYNTHETIC HIGGS-like events from
:mod:`higgs_sk.synthetic` (resampled real events), written as Parquet with
500,000-event row groups like the ``higgs-sk fetch`` cache: fine for speed
and memory, meaningless for accuracy.

Printed: events, load/scan time, training time, events per second (training
only and end to end) and peak RSS for both sides, and their ratio; then
whether streaming stayed within the 2 GB target.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RSS_TARGET = 2 * 1024**3
ROW_GROUP = 500_000  # as in the higgs-sk fetch cache


def _peak_rss():
    scale = 1 if sys.platform == "darwin" else 1024  # KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def child_memory(path, batch_size):
    """In-memory side: load everything, fit the standard pipeline once."""
    import higgs_sk.model  # noqa: F401 - TensorFlow's import is not part of the timing
    from higgs_sk.datasets import LABEL, load_higgs
    from higgs_sk.pipeline import make_higgs_pipeline

    t0 = time.perf_counter()
    frame = load_higgs(path)
    X, y = frame.drop(columns=LABEL), frame[LABEL].to_numpy()
    del frame
    load_s = time.perf_counter() - t0
    pipe = make_higgs_pipeline(
        epochs=1, batch_size=batch_size, early_stopping=False, random_state=0
    )
    t1 = time.perf_counter()
    pipe.fit(X, y)
    train_s = time.perf_counter() - t1
    return {"events": len(y), "load_s": load_s, "train_s": train_s,
            "total_s": time.perf_counter() - t0, "peak_rss": _peak_rss()}  # fmt: skip


def child_stream(path, batch_size, chunk_size):
    """Streaming side: scan pass + one epoch over chunks."""
    import higgs_sk.model  # noqa: F401 - TensorFlow's import is not part of the timing
    from higgs_sk.streaming import train_streaming

    t0 = time.perf_counter()
    _, info = train_streaming(
        path, chunk_size=chunk_size, epochs=1, batch_size=batch_size,
        early_stopping=False, random_state=0,
    )  # fmt: skip
    return {"events": info["events_per_epoch"][0], "load_s": info["scan_seconds"],
            "train_s": info["train_seconds"], "total_s": time.perf_counter() - t0,
            "peak_rss": _peak_rss(), "n_chunks": info["n_chunks"]}  # fmt: skip


def run_child(args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run(
        [sys.executable, __file__, *args], env=env, capture_output=True, text=True
    )
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-4000:])
        raise SystemExit(f"child {args[:2]} failed with exit status {proc.returncode}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def ensure_file(path, n_events, seed):
    """Write ``n_events`` synthetic events to ``path`` unless an equal file is there."""
    import pyarrow.parquet as pq

    from higgs_sk.synthetic import write_synthetic

    if path.exists():
        try:
            if pq.ParquetFile(path).metadata.num_rows == n_events:
                return 0.0
        except Exception:  # noqa: BLE001 - any unreadable leftover is rewritten
            pass
    t0 = time.perf_counter()
    write_synthetic(path, n_events, format="parquet", chunk_size=ROW_GROUP, random_state=seed)
    return time.perf_counter() - t0


def fmt_row(name, a, b, ratio=None):
    r = "" if ratio is None else ratio
    return f"{name:<26}{a:>18}{b:>20}{r:>16}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=11_000_000,
                        help="events in the streamed file (default 11,000,000)")
    parser.add_argument("--memory-events", type=int, default=1_000_000,
                        help="events trained in memory (default 1,000,000)")
    parser.add_argument("--chunk-size", type=int, default=None,
                        help="streaming chunk size (default: the library default)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--workdir", default=None,
                        help="folder for the synthetic files (kept; default: a temporary "
                        "folder, deleted afterwards)")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        kind, path = args.child[0], args.child[1]
        if kind == "memory":
            out = child_memory(path, args.batch_size)
        else:
            out = child_stream(path, args.batch_size, int(args.child[2]))
        print(json.dumps(out))
        return 0

    from higgs_sk.streaming import DEFAULT_CHUNK_SIZE

    chunk = args.chunk_size or DEFAULT_CHUNK_SIZE
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="higgs-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        big = workdir / f"synthetic_{args.events}.parquet"
        small = workdir / f"synthetic_{args.memory_events}.parquet"
        w_big = ensure_file(big, args.events, seed=0)
        w_small = ensure_file(small, args.memory_events, seed=1)
        print(f"synthetic Parquet: {args.events:,} events ({big.stat().st_size / 1e6:,.0f} MB, "
              f"written in {w_big:.0f} s), {args.memory_events:,} events "
              f"({small.stat().st_size / 1e6:,.0f} MB, {w_small:.0f} s)", flush=True)
        mem = run_child(["--child", "memory", str(small), "--batch-size", str(args.batch_size)])
        print(f"in-memory done: {mem['total_s']:.0f} s", flush=True)
        st = run_child(["--child", "stream", str(big), str(chunk),
                        "--batch-size", str(args.batch_size)])  # fmt: skip
        print(f"streaming done: {st['total_s']:.0f} s", flush=True)
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)

    def rate(d, key):
        return d["events"] / d[key]

    mb = 1024**2
    print()
    print(f"python {platform.python_version()}, {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f}; batch size {args.batch_size}, 1 epoch, "
          f"chunk size {chunk:,} ({st['n_chunks']} chunks)")
    print(fmt_row("", "in-memory", "streaming", "stream/memory"))
    print(fmt_row("events trained", f"{mem['events']:,}", f"{st['events']:,}",
                  f"{st['events'] / mem['events']:.2f}"))  # fmt: skip
    print(fmt_row("load / scan (s)", f"{mem['load_s']:.1f}", f"{st['load_s']:.1f}"))
    print(fmt_row("train (s)", f"{mem['train_s']:.1f}", f"{st['train_s']:.1f}"))
    print(fmt_row("events/s, training", f"{rate(mem, 'train_s'):,.0f}",
                  f"{rate(st, 'train_s'):,.0f}",
                  f"{rate(st, 'train_s') / rate(mem, 'train_s'):.2f}"))  # fmt: skip
    print(fmt_row("events/s, end to end", f"{rate(mem, 'total_s'):,.0f}",
                  f"{rate(st, 'total_s'):,.0f}",
                  f"{rate(st, 'total_s') / rate(mem, 'total_s'):.2f}"))  # fmt: skip
    print(fmt_row("peak RSS (MB)", f"{mem['peak_rss'] / mb:,.0f}", f"{st['peak_rss'] / mb:,.0f}",
                  f"{st['peak_rss'] / mem['peak_rss']:.2f}"))  # fmt: skip
    ok = st["peak_rss"] <= RSS_TARGET
    print(f"\nstreaming peak RSS {st['peak_rss'] / mb:,.0f} MB "
          f"{'<=' if ok else '>'} 2,048 MB target: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
