"""SYNTHETIC HIGGS-like events for benchmarks and scale tests only.

The generator resamples the 9,000 real events bundled with the package
(:func:`higgs_sk.datasets.load_sample`) with replacement and adds a small
jitter, so the output has the shape, value ranges, label balance and file
format of the real UCI HIGGS data at any size, e.g. the full 11,000,000
events, without downloading 2.6 GB.

.. warning::

   Synthetic events are **not** physics.  The jitter is independent per
   column, so the high-level masses no longer follow exactly from the
   low-level quantities, and only 9,000 distinct real events seed the whole
   set.  Use the output to measure speed, memory and scaling, never to claim
   or compare classification quality (AUC, accuracy, significance).

The jitter preserves what parsers and models rely on: transverse momenta,
energies and masses stay positive (multiplicative noise), b-tag columns keep
their three discrete values, pseudorapidities stay inside the observed
detector acceptance and azimuthal angles wrap around inside their range.

Raw CSV output is byte-compatible with ``HIGGS.csv`` from UCI: no header,
label first, every value printed with C's ``%.18e``.  Because ``%.18e`` is
slow through Python's string formatting (``numpy.savetxt``: 15 to 20 s per
million events on 2 cores), the digits are computed with vectorised integer
arithmetic in NumPy instead, 3 to 7 times faster and checked byte for byte
against Python's formatter and the real UCI file by the tests.

Examples
--------
>>> from higgs_sk.synthetic import make_synthetic
>>> df = make_synthetic(1000, random_state=0)
>>> df.shape, str(df["lepton_pT"].dtype), str(df["label"].dtype)
((1000, 29), 'float32', 'int8')

From a shell, write 11 million events in the raw UCI format::

    python -m higgs_sk.synthetic HIGGS_synthetic.csv 11000000
"""

from __future__ import annotations

import argparse
import functools
import gzip
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from .datasets import FEATURE_NAMES, LABEL, UCI_COLUMNS, load_sample

__all__ = ["make_synthetic", "iter_synthetic", "write_synthetic", "format_uci_rows"]

DEFAULT_JITTER = 0.02
"""Default jitter: 2 % relative noise on positive quantities, 0.02 standard
deviations on angles."""

_BTAG = [n for n in FEATURE_NAMES if n.endswith("_btag")]
_PHI = [n for n in FEATURE_NAMES if n.endswith("_phi")]
_ETA = [n for n in FEATURE_NAMES if n.endswith("_eta")]
# Everything else (pT, missing energy magnitude, invariant masses) is positive.
_POSITIVE = [n for n in FEATURE_NAMES if n not in set(_BTAG + _PHI + _ETA)]


@functools.lru_cache(maxsize=1)
def _bundled_source():
    return _source(load_sample(as_frame=True).frame)


def _source(frame):
    """Real events and per-column jitter parameters."""
    # UCI column order (label first) so a resampled block is a raw-file block.
    values = frame[UCI_COLUMNS].to_numpy(dtype=np.float32)
    col = {n: i for i, n in enumerate(UCI_COLUMNS)}
    phi = values[:, [col[n] for n in _PHI]]
    eta = values[:, [col[n] for n in _ETA]]
    return {
        "values": values,
        "pos": np.array([col[n] for n in _POSITIVE]),
        "eta": np.array([col[n] for n in _ETA]),
        "phi": np.array([col[n] for n in _PHI]),
        # Angles are standardised in the UCI file; jitter in units of their spread.
        "eta_sd": eta.std(axis=0).astype(np.float64),
        "phi_sd": phi.std(axis=0).astype(np.float64),
        # Acceptance edges as observed in real events (|eta| <= ~2.5 or ~3).
        "eta_max": np.abs(eta).max(axis=0).astype(np.float64),
        # One common bound: phi in [-pi, pi] scaled by the same factor everywhere.
        "phi_max": float(np.abs(phi).max()),
    }


def _seed_sequence(random_state):
    if isinstance(random_state, np.random.Generator):
        return np.random.SeedSequence(int(random_state.integers(2**63)))
    if isinstance(random_state, np.random.SeedSequence):
        return random_state
    if random_state is not None and not isinstance(random_state, (int, np.integer)):
        raise TypeError(
            f"random_state must be None, an int, a SeedSequence or a numpy Generator, "
            f"got {type(random_state).__name__}"
        )
    return np.random.SeedSequence(random_state)


class _Stream:
    """Synthetic events in UCI order, reproducible whatever the chunk sizes.

    Event indices and noise come from two separate generators and only from
    draws that consume a fixed number of random bits per value (uniform
    doubles, ziggurat normals without buffered halves), so drawing 10 + 20
    events gives the same events as drawing 30 at once.
    """

    def __init__(self, random_state, jitter, source=None):
        jitter = float(jitter)
        if not (0.0 <= jitter <= 1.0):
            raise ValueError(f"jitter must be in [0, 1], got {jitter!r}")
        self.jitter = jitter
        self.src = _bundled_source() if source is None else _source(source)
        idx_seq, noise_seq = _seed_sequence(random_state).spawn(2)
        self.idx_rng = np.random.default_rng(idx_seq)
        self.noise_rng = np.random.default_rng(noise_seq)

    def draw(self, n):
        src = self.src
        n_src = len(src["values"])
        idx = np.minimum((self.idx_rng.random(n) * n_src).astype(np.int64), n_src - 1)
        out = src["values"][idx]
        if self.jitter == 0.0:
            return out
        pos, eta, phi = src["pos"], src["eta"], src["phi"]
        z = self.noise_rng.standard_normal((n, len(pos) + len(eta) + len(phi)))
        zp, ze, zf = np.split(z, [len(pos), len(pos) + len(eta)], axis=1)
        out[:, pos] = out[:, pos] * np.exp(self.jitter * zp)
        out[:, eta] = np.clip(
            out[:, eta] + self.jitter * src["eta_sd"] * ze, -src["eta_max"], src["eta_max"]
        )
        b = src["phi_max"]
        wrapped = np.mod(out[:, phi] + self.jitter * src["phi_sd"] * zf + b, 2 * b) - b
        out[:, phi] = wrapped
        # float32 rounding of a value just below +b can land on +b; keep the
        # half-open interval so the range matches real data exactly.
        out[:, phi] = np.where(out[:, phi] >= np.float32(b), -np.float32(b), out[:, phi])
        return out


def _check_n(n_events):
    if isinstance(n_events, bool) or int(n_events) != n_events or n_events < 1:
        raise ValueError(f"n_events must be a positive integer, got {n_events!r}")
    return int(n_events)


def _to_frame(block):
    """UCI-ordered float32 block -> the canonical frame that load_higgs returns."""
    feats = np.ascontiguousarray(block[:, 1:].T)  # one contiguous row per column
    frame = pd.DataFrame(feats.T, columns=FEATURE_NAMES, copy=False)
    frame[LABEL] = block[:, 0].astype(np.int8)
    return frame


def iter_synthetic(n_events, random_state=None, *, chunk_size=100_000, jitter=DEFAULT_JITTER):
    """Yield SYNTHETIC events chunk by chunk, for benchmarks and scale tests only.

    Parameters
    ----------
    n_events : int
        Total number of events.
    random_state : int, numpy.random.SeedSequence, numpy.random.Generator or None
        Seed.  With an int the events do not depend on ``chunk_size``.
    chunk_size : int, default=100_000
        Events per yielded frame (the last one may be shorter).
    jitter : float, default=0.02
        Noise scale, see :func:`make_synthetic`.

    Yields
    ------
    pandas.DataFrame
        Canonical frames (28 float32 features, then ``label`` as int8) whose
        concatenation equals ``make_synthetic(n_events, random_state)``.

    Examples
    --------
    >>> from higgs_sk.synthetic import iter_synthetic
    >>> [len(c) for c in iter_synthetic(250, 0, chunk_size=100)]
    [100, 100, 50]
    """
    n_events = _check_n(n_events)
    chunk_size = _check_n(chunk_size)
    stream = _Stream(random_state, jitter)
    for start in range(0, n_events, chunk_size):
        yield _to_frame(stream.draw(min(chunk_size, n_events - start)))


def make_synthetic(n_events, random_state=None, *, jitter=DEFAULT_JITTER, source=None):
    """Make SYNTHETIC HIGGS-like events in memory, for benchmarks and scale tests only.

    Real bundled events are drawn with replacement, then jittered: positive
    quantities (pT, missing energy, masses) are multiplied by
    ``exp(jitter * N(0, 1))``, pseudorapidities get ``jitter`` standard
    deviations of Gaussian noise and are clipped to the observed acceptance,
    azimuthal angles get the same noise and wrap around inside their range,
    and b-tags and labels are copied unchanged.  Never use the result to
    claim classification quality; see the module docstring.

    Parameters
    ----------
    n_events : int
        Number of events.
    random_state : int, numpy.random.SeedSequence, numpy.random.Generator or None
        Seed for reproducible output.
    jitter : float, default=0.02
        Noise scale; 0 returns exact copies of real events.
    source : pandas.DataFrame, optional
        Labelled real events to resample (default: the bundled sample); pass
        disjoint parts to build training and validation sets that share no
        source event.

    Returns
    -------
    pandas.DataFrame
        Same layout as :func:`higgs_sk.datasets.load_higgs` on a raw UCI file:
        the 28 features as float32 in UCI order, then ``label`` as int8.

    Examples
    --------
    >>> from higgs_sk.synthetic import make_synthetic
    >>> df = make_synthetic(5000, random_state=0)
    >>> sorted(round(float(v), 3) for v in df["jet_1_btag"].unique())  # still discrete
    [0.0, 1.087, 2.173]
    >>> bool(df["lepton_pT"].min() > 0)
    True
    """
    n_events = _check_n(n_events)
    return _to_frame(_Stream(random_state, jitter, source).draw(n_events))


# --------------------------------------------------------------------------
# Exact "%.18e" formatting in NumPy
# --------------------------------------------------------------------------

_POW5 = np.array([5**k for k in range(28)], dtype=np.uint64)
_POW5_HI = _POW5 >> np.uint64(32)
_POW5_LO = _POW5 & np.uint64(0xFFFFFFFF)
_POW10 = 10.0 ** np.arange(-12, 13)  # index d + 12; nearest doubles for d < 0
_U32 = np.uint64(0xFFFFFFFF)
_E18 = np.uint64(10**18)
_E19 = np.uint64(10**19)
_E10 = np.uint64(10**10)
_ASCII0 = np.uint64(0x3030303030303030)
# Values whose decimal exponent lies in [-8, 8] take the fast path: there the
# scaled significand needs at most 88 bits, binary shifts stay within +-32 and
# floor(log10) is exact after one comparison (a float32 is never within 1e-13
# relative of 10**-8..10**-1, and 1..10**8 are exact).  HIGGS values lie
# between about 1e-7 and 1e3.
_FAST_MIN, _FAST_MAX = 1e-8, 1e9
# 2**18 values per step keeps temporaries at ~2 MB: glibc reuses them from the
# heap instead of mapping (and page-faulting) fresh memory for every chunk.
_BLOCK_VALUES = 1 << 18


def _scaled_round(m, e, k):
    """round-half-even(m * 2**e * 10**k) for float32 significands ``m`` < 2**24.

    The caller guarantees ``0 <= k <= 27``, a result below 2**64 and
    ``-32 <= k + e <= 31``.  m * 5**k can need 88 bits, so it is carried as
    ``c * 2**32 + lo`` with both parts in uint64.
    """
    a = m * _POW5_HI[k]
    b = m * _POW5_LO[k]
    c = a + (b >> np.uint64(32))
    lo = b & _U32
    s = k + e
    down = s < 0
    # Both branches are computed for every value; clamp the shift counts so
    # the branch that is thrown away never shifts by 64 or more.
    up = np.minimum(np.maximum(s, 0), 31).astype(np.uint64)
    t = np.minimum(np.maximum(-s, 1), 32).astype(np.uint64)
    q = np.where(
        down, (c << (np.uint64(32) - t)) | (lo >> t), (c << (np.uint64(32) + up)) | (lo << up)
    )
    rem = lo & ((np.uint64(1) << t) - np.uint64(1))
    half = np.uint64(1) << (t - np.uint64(1))
    round_up = down & ((rem > half) | ((rem == half) & (q & np.uint64(1)).astype(bool)))
    return q + round_up.astype(np.uint64)


def _ascii8(v):
    """uint64 values < 10**8 -> their 8 zero-padded ASCII digits packed in a uint64.

    SWAR: split into 4-digit, 2-digit and 1-digit lanes with multiply-shift
    division; little-endian, so the most significant digit is the first byte.
    """
    hi = v // np.uint64(10000)
    x = hi | ((v - hi * np.uint64(10000)) << np.uint64(32))
    y = ((x * np.uint64(10486)) >> np.uint64(20)) & np.uint64(0x0000007F0000007F)
    x = y | ((x - y * np.uint64(100)) << np.uint64(16))
    y = ((x * np.uint64(103)) >> np.uint64(10)) & np.uint64(0x000F000F000F000F)
    x = y | ((x - y * np.uint64(10)) << np.uint64(8))
    return x | _ASCII0


def _format_fast(x):
    """``x`` (2-D float32, every value zero or in the fast range) as %.18e CSV.

    Each value becomes a 32-byte record of four uint64 words,
    ``[5 pad, sign, lead, '.'] [8 digits] [8 digits] [2 digits, 'e', sign,
    2 digits, separator, pad]``; pad bytes and the sign slot of non-negative
    values are 0 and are squeezed out at the end.  Returns a uint8 array
    (written to files without another copy), or raises ArithmeticError if a
    value falls outside what the integer arithmetic covers.
    """
    n_cols = x.shape[1]
    sep = np.full(n_cols, ord(","), dtype=np.uint64)
    sep[-1] = ord("\n")
    sep <<= np.uint64(48)
    flat = x.reshape(-1)
    bits = flat.view(np.uint32).astype(np.uint64)
    expo = ((bits >> np.uint64(23)) & np.uint64(0xFF)).astype(np.int64)
    zero = expo == 0  # only true zeros get here; subnormals take the slow path
    m = (bits & np.uint64(0x7FFFFF)) | np.uint64(0x800000)
    mag = np.abs(flat).astype(np.float64)
    mag[zero] = 1.0
    d = np.floor(np.log10(mag)).astype(np.int64)
    # SIMD log10 may be a few ulp off at exact powers of ten; compare exactly.
    d -= mag < _POW10[d + 12]
    d += mag >= _POW10[d + 13]
    q = _scaled_round(m, expo - 150, 18 - d)
    carry = q == _E19  # 9.99..95 rounds up into the next decade
    q[carry] = _E18
    d[carry] += 1
    q[zero] = _E18  # placeholder that passes the range check, fixed just below
    # One unsigned compare checks 10**18 <= q < 10**19 (smaller q wrap around).
    if bool(np.any((q - _E18) >= (_E19 - _E18))):
        raise ArithmeticError("fast %.18e formatting out of range")
    q[zero] = 0
    d[zero] = 0
    lead = q // _E18
    r = q - lead * _E18
    d1 = r // _E10
    r -= d1 * _E10
    d2 = r // np.uint64(100)
    d3 = r - d2 * np.uint64(100)
    ad = np.abs(d).astype(np.uint64)
    words = np.empty((flat.size, 4), dtype=np.uint64)
    words[:, 0] = (
        ((bits >> np.uint64(31)) * np.uint64(ord("-")) << np.uint64(40))
        | ((lead + np.uint64(48)) << np.uint64(48))
        | np.uint64(ord(".") << 56)
    )
    words[:, 1] = _ascii8(d1)
    words[:, 2] = _ascii8(d2)
    tens = d3 // np.uint64(10)
    etens = ad // np.uint64(10)
    w3 = (
        (tens + np.uint64(48))
        | ((d3 - tens * np.uint64(10) + np.uint64(48)) << np.uint64(8))
        | np.uint64(ord("e") << 16)
        | (np.where(d < 0, np.uint64(ord("-")), np.uint64(ord("+"))) << np.uint64(24))
        | ((etens + np.uint64(48)) << np.uint64(32))
        | ((ad - etens * np.uint64(10) + np.uint64(48)) << np.uint64(40))
    )
    words[:, 3] = (w3.reshape(-1, n_cols) | sep).reshape(-1)
    raw = words.view(np.uint8).reshape(-1)
    return raw[raw != 0]


def _format_slow(x):
    line = ",".join(["%.18e"] * x.shape[1]) + "\n"
    return "".join(line % tuple(row) for row in x.astype(np.float64).tolist()).encode("ascii")


def _format_parts(x):
    """Yield the %.18e CSV text of float32 rows ``x`` in pieces of about 8 MB."""
    step = max(1, _BLOCK_VALUES // x.shape[1])
    for r0 in range(0, x.shape[0], step):
        block = x[r0 : r0 + step]
        mag = np.abs(block)
        if np.all((mag == 0) | ((mag >= _FAST_MIN) & (mag < _FAST_MAX))):
            try:
                yield _format_fast(block)
                continue
            except ArithmeticError:
                pass
        yield _format_slow(block)


def format_uci_rows(values):
    """Format rows exactly as the raw UCI ``HIGGS.csv`` does (C's ``%.18e``).

    Parameters
    ----------
    values : array-like of shape (n_rows, n_columns)
        Converted to float32 first, as in the UCI file.

    Returns
    -------
    bytes
        ``n_rows`` comma-separated lines, each ending in ``\\n``; identical to
        ``numpy.savetxt(fh, values.astype("float32"), fmt="%.18e", delimiter=",")``
        but 3 to 7 times faster (integer arithmetic in NumPy; values outside
        1e-8 <= abs(x) < 1e9 fall back to Python's formatter).

    Examples
    --------
    >>> from higgs_sk.synthetic import format_uci_rows
    >>> format_uci_rows([[1, 0.869293212890625, -0.5]])
    b'1.000000000000000000e+00,8.692932128906250000e-01,-5.000000000000000000e-01\\n'
    """
    x = np.ascontiguousarray(np.asarray(values, dtype=np.float32))
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2:
        raise ValueError(f"values must be 1-D or 2-D, got shape {x.shape}")
    if x.size == 0:
        return b""
    return b"".join(bytes(p) for p in _format_parts(x))


# --------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------


def write_synthetic(
    path,
    n_events,
    *,
    format="csv",
    chunk_size=100_000,
    random_state=0,
    jitter=DEFAULT_JITTER,
    compresslevel=6,
):
    """Write SYNTHETIC events to disk in the raw UCI format or as Parquet.

    For benchmarks and scale tests only; see :func:`make_synthetic`.  Events
    are generated and written ``chunk_size`` at a time, so memory stays
    around 100 MB whatever ``n_events`` is (11 million is fine).

    Parameters
    ----------
    path : str or path-like
        Output file; overwritten.  With ``format="csv"`` a name ending in
        ``.gz`` produces gzip, like the file UCI distributes.
    n_events : int
        Number of events.
    format : {"csv", "parquet"}, default="csv"
        ``"csv"``: exactly the raw UCI layout (no header, label first, 29
        columns, ``%.18e``).  ``"parquet"``: canonical column names in UCI
        order, float32 features and int8 label, one row group per chunk.
    chunk_size : int, default=100_000
        Events generated and written per step (and Parquet row-group size).
    random_state : int, numpy.random.SeedSequence, numpy.random.Generator or None, default=0
        Seed; with an int the events do not depend on ``chunk_size`` and equal
        ``make_synthetic(n_events, random_state)``.
    jitter : float, default=0.02
        Noise scale, see :func:`make_synthetic`.
    compresslevel : int, default=6
        gzip level for ``.gz`` output.

    Returns
    -------
    pathlib.Path
        The written file.

    Examples
    --------
    >>> import tempfile, os
    >>> from higgs_sk.synthetic import write_synthetic
    >>> from higgs_sk.datasets import load_higgs
    >>> out = write_synthetic(os.path.join(tempfile.mkdtemp(), "syn.csv"), 1000)
    >>> load_higgs(out, cache=False).shape
    (1000, 29)
    """
    n_events = _check_n(n_events)
    chunk_size = _check_n(chunk_size)
    if format not in ("csv", "parquet"):
        raise ValueError(f"format must be 'csv' or 'parquet', got {format!r}")
    path = Path(os.fspath(path))
    stream = _Stream(random_state, jitter)
    chunks = (
        stream.draw(min(chunk_size, n_events - start))
        for start in range(0, n_events, chunk_size)
    )
    if format == "csv":
        if path.suffix.lower() == ".gz":
            fh = gzip.open(path, "wb", compresslevel=compresslevel)
        else:
            fh = open(path, "wb")
        with fh:
            for block in chunks:
                for part in _format_parts(block):
                    fh.write(part)
        return path

    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema(
        [(LABEL, pa.int8())] + [(n, pa.float32()) for n in FEATURE_NAMES],
        metadata={
            b"higgs_sk.synthetic": b"true",
            b"higgs_sk.note": b"SYNTHETIC resampled+jittered events; benchmarks only",
        },
    )
    with pq.ParquetWriter(str(path), schema) as writer:
        for block in chunks:
            arrays = [pa.array(block[:, 0].astype(np.int8))]
            arrays += [pa.array(block[:, j]) for j in range(1, block.shape[1])]
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
    return path


def main(argv=None):
    """Command line: ``python -m higgs_sk.synthetic OUT N [--format F] [--seed S]``."""
    parser = argparse.ArgumentParser(
        prog="python -m higgs_sk.synthetic",
        description="Write SYNTHETIC HIGGS-like events (resampled + jittered real events) "
        "for benchmarks and scale tests only -- never for quality claims.",
    )
    parser.add_argument("out", help="output file (.csv, .csv.gz or .parquet)")
    parser.add_argument("n_events", type=int, help="number of events, e.g. 11000000")
    parser.add_argument(
        "--format", choices=("csv", "parquet"), default=None,
        help="default: parquet for .parquet/.pq names, else raw UCI csv",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--chunk-size", type=int, default=100_000)
    parser.add_argument("--jitter", type=float, default=DEFAULT_JITTER)
    args = parser.parse_args(argv)
    fmt = args.format
    if fmt is None:
        fmt = "parquet" if args.out.lower().endswith((".parquet", ".pq")) else "csv"
    start = time.perf_counter()
    path = write_synthetic(
        args.out, args.n_events, format=fmt, chunk_size=args.chunk_size,
        random_state=args.seed, jitter=args.jitter,
    )  # fmt: skip
    took = time.perf_counter() - start
    size = path.stat().st_size
    print(
        f"wrote {args.n_events:,} SYNTHETIC events to {path} ({fmt}, {size / 1e6:,.1f} MB) "
        f"in {took:.1f} s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
