"""Loading a raw UCI HIGGS file: load_higgs (cold and cached) against pandas.read_csv.

Usage::

    python bench/bench_load.py [--events 1000000] [--repeat 3] [--dir DIR]

Writes a SYNTHETIC raw file in the exact UCI format (``%.18e``, no header,
label first; resampled and jittered real events, see ``higgs_sk.synthetic``)
or reuses one from an earlier run, then measures, side by side in one run:

* ``pd.read_csv(path, header=None)`` (float64, the usual one-liner),
* ``load_higgs(path, cache=False)`` (Arrow, float32, streamed into place),
* ``load_higgs(path, cache=DIR)``: the first call (parse + write the Parquet
  cache) and then cached reloads.

Every measurement runs in a fresh child process that imports the same modules
(numpy, pandas, pyarrow, higgs_sk) before its clock starts, and reports wall
time, user and system CPU time (all threads) and peak RSS *above* its own
baseline after those imports: the high-water mark is reset after the imports
through ``/proc/self/clear_refs`` and read back as ``ru_maxrss``.  Runs are
interleaved and medians are shown, because shared machines are noisy; the
ratios are what to read, and user CPU is steadier than wall time when other
jobs compete for the cores.  The file is read once before measuring so both
sides parse from the page cache.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common  # noqa: F401  (sets TensorFlow's log level first)
from _common import machine, print_table


def _rss_kb():
    """Current resident set size in KiB (Linux)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise OSError("no VmRSS")


def _child(what, path, cache_dir):
    """Run one measurement in this (fresh) process and print it as JSON."""
    import resource

    import numpy  # noqa: F401
    import pandas as pd
    import pyarrow  # noqa: F401
    import pyarrow.csv  # noqa: F401
    import pyarrow.parquet  # noqa: F401

    from higgs_sk.datasets import load_higgs

    def cpu():
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    def sys_time():
        return resource.getrusage(resource.RUSAGE_SELF).ru_stime

    # Imports can peak above the RSS they leave behind; reset the high-water
    # mark (Linux >= 4.0) so the peak below belongs to the load alone.
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        reset = True
    except OSError:
        reset = False  # the peak then includes import-time spikes (an overestimate)
    base_kb = _rss_kb() if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    s0, c0, t0 = sys_time(), cpu(), time.perf_counter()
    if what == "pandas":
        df = pd.read_csv(path, header=None)
    elif what == "cold":
        df = load_higgs(path, cache=False)
    elif what in ("cache_write", "cached"):
        df = load_higgs(path, cache=cache_dir)
    elif what == "baseline":
        df = None
    else:
        raise SystemExit(f"unknown measurement {what!r}")
    wall, cpu_s, sys_s = time.perf_counter() - t0, cpu() - c0, sys_time() - s0
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out = {
        "what": what,
        "wall": wall,
        "cpu": cpu_s,
        "sys": sys_s,
        "base_mb": base_kb / 1024,
        "peak_mb": (peak_kb - base_kb) / 1024,
        "rows": 0 if df is None else len(df),
        "frame_mb": 0 if df is None else float(df.memory_usage(index=False).sum()) / 2**20,
        "dtypes": "" if df is None else ",".join(sorted({str(t) for t in df.dtypes})),
        "hwm_reset": reset,
    }
    print(json.dumps(out))


def _measure(what, path, cache_dir):
    proc = subprocess.run(
        [sys.executable, __file__, "--child", what, str(path), str(cache_dir)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{what} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _synthetic_file(folder, n_events):
    """The raw file for ``n_events``, generated once and reused afterwards."""
    from higgs_sk.synthetic import write_synthetic

    path = folder / f"HIGGS_synthetic_{n_events}.csv"
    if path.exists():
        print(f"reusing {path} ({path.stat().st_size / 1e6:,.0f} MB)", flush=True)
        return path
    folder.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".csv.part")  # renamed when complete: never reuse half a file
    start = time.perf_counter()
    write_synthetic(tmp, n_events, random_state=0)
    os.replace(tmp, path)
    took = time.perf_counter() - start
    size = path.stat().st_size
    print(
        f"wrote {n_events:,} SYNTHETIC events to {path} ({size / 1e6:,.0f} MB) in {took:.1f} s "
        f"({size / 1e6 / took:,.0f} MB/s)",
        flush=True,
    )
    return path


def _fmt_s(x):
    return f"{x:.2f} s" if x >= 0.1 else f"{x * 1000:.0f} ms"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement")
    parser.add_argument(
        "--dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "higgs_sk_bench",
        help="where the synthetic file and the benchmark's own cache live",
    )
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(*args.child)
        return 0

    import numpy as np
    import pandas as pd
    import pyarrow as pa

    print(f"machine: {machine()}")
    print(f"numpy {np.__version__}, pandas {pd.__version__}, pyarrow {pa.__version__}")
    load_start = os.getloadavg()
    path = _synthetic_file(args.dir, args.events)
    size_mb = path.stat().st_size / 1e6
    cache_dir = args.dir / f"cache_{args.events}"
    with open(path, "rb") as fh:  # warm the page cache for both sides
        while fh.read(1 << 24):
            pass

    base = _measure("baseline", path, cache_dir)
    runs = {"pandas": [], "cold": [], "cache_write": [], "cached": []}
    for i in range(args.repeat):
        print(f"round {i + 1}/{args.repeat} ...", flush=True)
        runs["pandas"].append(_measure("pandas", path, cache_dir))
        runs["cold"].append(_measure("cold", path, cache_dir))
        if i == 0:
            from higgs_sk.datasets import clear_cache

            clear_cache(cache_dir)
            runs["cache_write"].append(_measure("cache_write", path, cache_dir))
        runs["cached"].append(_measure("cached", path, cache_dir))
    load_end = os.getloadavg()

    def med(what, key):
        return statistics.median(r[key] for r in runs[what])

    def row(label, what):
        return [
            label,
            _fmt_s(med(what, "wall")),
            f"{wall_min(what):.2f}-{wall_max(what):.2f} s",
            _fmt_s(med(what, "user")),
            _fmt_s(med(what, "sys")),
            f"{med(what, 'peak_mb'):,.0f} MB",
        ]

    def wall_min(what):
        return min(r["wall"] for r in runs[what])

    def wall_max(what):
        return max(r["wall"] for r in runs[what])

    for r in runs.values():
        for x in r:
            x["user"] = x["cpu"] - x["sys"]
    p0, c0 = runs["pandas"][0], runs["cold"][0]
    print_table(
        f"Loading {args.events:,} raw UCI events ({size_mb:,.0f} MB, synthetic) from the page "
        f"cache; median of {args.repeat} fresh processes; RSS baseline after imports "
        f"{base['base_mb']:.0f} MB",
        ["", "wall", "wall range", "user CPU", "system CPU", "peak RSS above baseline"],
        [
            row("pd.read_csv(path, header=None)", "pandas"),
            row("load_higgs(path, cache=False)", "cold"),
            row("load_higgs(path, cache=dir), 1st: parse + write", "cache_write"),
            row("load_higgs(path, cache=dir), cached", "cached"),
        ],
    )
    print(
        f"\nresult: pandas {p0['frame_mb']:.0f} MB ({p0['dtypes']}), "
        f"load_higgs {c0['frame_mb']:.0f} MB ({c0['dtypes']})"
    )
    pd_wall, our_wall = med("pandas", "wall"), med("cold", "wall")
    pd_user, our_user = med("pandas", "user"), med("cold", "user")
    cached_wall, cached_user = med("cached", "wall"), med("cached", "user")
    print_table(
        "Ratios (medians)",
        ["", "wall", "user CPU", "peak RSS"],
        [
            [
                "cold load_higgs vs pandas",
                f"{pd_wall / our_wall:.2f}x pandas speed",
                f"{our_user / pd_user:.2f}x pandas CPU",
                f"{med('cold', 'peak_mb') / med('pandas', 'peak_mb'):.2f}x pandas memory",
            ],
            [
                "cached reload vs cold load_higgs",
                f"{our_wall / cached_wall:.0f}x faster",
                f"{our_user / cached_user:.0f}x less",
                f"{med('cached', 'peak_mb') / med('cold', 'peak_mb'):.2f}x",
            ],
            [
                "cached reload vs pandas",
                f"{pd_wall / cached_wall:.0f}x faster",
                f"{pd_user / cached_user:.0f}x less",
                f"{med('cached', 'peak_mb') / med('pandas', 'peak_mb'):.2f}x",
            ],
        ],
    )
    print(
        f"\nload average (1/5/15 min) at start {tuple(round(x, 1) for x in load_start)}, "
        f"at end {tuple(round(x, 1) for x in load_end)}; on a loaded machine system CPU "
        "(page faults) and wall times swing, user CPU is the steadier measure"
    )
    entry_mb = sum(p.stat().st_size for p in cache_dir.iterdir()) / 1e6
    print(
        f"Parquet cache entry: {entry_mb:,.0f} MB; the cached peak RSS includes the "
        "memory-mapped entry's page-cache pages while it is read"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
