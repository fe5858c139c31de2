"""Download the full UCI HIGGS data set once and return the paper's split.

:func:`fetch_higgs` downloads ``HIGGS.csv.gz`` (11 million events, 2.8 GB)
from the UCI Machine Learning Repository with the standard library only,
verifies its size and SHA-256, converts it once into a float32 Parquet cache
and returns the split of Baldi, Sadowski & Whiteson (2014): the first
10,500,000 events for training and the last 500,000 as the test set.

Files live in ``data_home``: the ``data_home`` argument, else the
``HIGGS_SK_DATA`` environment variable, else ``~/.cache/higgs_sk``.

======================  ==========================================================
``HIGGS.csv.gz.part``   download in progress; a later call resumes it with an
                        HTTP ``Range`` request
``HIGGS.csv.gz``        the verified download (only ever renamed into place
                        after its size and SHA-256 matched); may be deleted once
                        the Parquet cache exists
``HIGGS.parquet``       float32 features + int8 label, all events in file order;
                        every later call reads only this file
======================  ==========================================================

Examples
--------
>>> from higgs_sk.fetch import fetch_higgs
>>> higgs = fetch_higgs()                      # doctest: +SKIP
>>> higgs.X_train.shape, higgs.X_test.shape    # doctest: +SKIP
((10500000, 28), (500000, 28))
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import shutil
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

from .atomic import atomic_path
from .datasets import FEATURE_NAMES, LABEL, load_higgs
from .exceptions import ChecksumError, DataFormatError

__all__ = [
    "DEFAULT_URL",
    "HIGGS_SIZE",
    "HIGGS_SHA256",
    "N_TEST",
    "get_data_home",
    "fetch_higgs",
]

DEFAULT_URL = "https://archive.ics.uci.edu/ml/machine-learning-databases/00280/HIGGS.csv.gz"
"""Where :func:`fetch_higgs` downloads ``HIGGS.csv.gz`` from by default."""

HIGGS_SIZE = 2_816_407_858
"""Size in bytes of the published ``HIGGS.csv.gz``."""

HIGGS_SHA256 = "ea302c18164d4e3d916a1e2e83a9a8d07069fa6ebc7771e4c0540d54e593b698"
"""SHA-256 of the published ``HIGGS.csv.gz``."""

N_TEST = 500_000
"""Number of final events the paper holds out as the test set."""

DATA_HOME_ENV = "HIGGS_SK_DATA"
ARCHIVE_NAME = "HIGGS.csv.gz"
CACHE_NAME = "HIGGS.parquet"

# 500,000-row groups (~60 MB each) put the paper's test set in exactly the last
# row group of the real file and keep memory low while the cache is written.
_ROW_GROUP_SIZE = 500_000
_CHUNK = 1 << 20
# Seconds to wait before retry k is k * _RETRY_WAIT; the tests set it to 0.
_RETRY_WAIT = 1.0
# Bumped when the cache layout changes so that old caches are rebuilt, not misread.
_CACHE_VERSION = b"1"
_META_SHA = b"higgs_sk.source_sha256"
_META_VERSION = b"higgs_sk.cache_version"
_USER_AGENT = "higgs-sk (Python urllib; +https://archive.ics.uci.edu/dataset/280/higgs)"

_DESCR = """\
UCI HIGGS data set
------------------

11,000,000 simulated collision events (Baldi, Sadowski & Whiteson,
"Searching for exotic particles in high-energy physics with deep learning",
Nature Communications 5, 4308 (2014); UCI Machine Learning Repository,
data set 280, licence CC BY 4.0).

Features: 21 low-level detector measurements (lepton pT, eta, phi; missing
energy magnitude and phi; four jets' pT, eta, phi and b-tag) and 7 high-level
invariant masses (m_jj, m_jjj, m_lv, m_jlv, m_bb, m_wbb, m_wwbb), float32.
Target: 1 = signal (gg -> H0 -> W H+-), 0 = background (ttbar), int8.

Split as in the paper: the first N - n_test events (10,500,000) are the
training set, the last n_test (500,000) the test set; rows keep their event
number in the file as index.
"""


class _Interrupted(ConnectionError):
    """The server closed the connection before the whole body arrived."""


def get_data_home(data_home=None):
    """Return the folder where HIGGS files are kept, creating it if needed.

    Parameters
    ----------
    data_home : str or path-like, optional
        Folder to use.  Default: the ``HIGGS_SK_DATA`` environment variable
        if set and non-empty, else ``~/.cache/higgs_sk``.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> get_data_home("/tmp/higgs")  # doctest: +SKIP
    PosixPath('/tmp/higgs')
    """
    if data_home is None:
        data_home = os.environ.get(DATA_HOME_ENV) or Path("~") / ".cache" / "higgs_sk"
    path = Path(os.fspath(data_home)).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


# --------------------------------------------------------------------------- progress


class _SimpleBar:
    """Fallback progress display on stderr when tqdm is not installed."""

    def __init__(self, total, initial, desc, stream):
        self.total, self.n, self.desc, self.stream = total, initial, desc, stream
        self.start_n, self.t0 = initial, time.monotonic()
        self.tty = hasattr(stream, "isatty") and stream.isatty()
        self.last_draw, self.last_step = 0.0, -1
        self._draw()

    def update(self, n):
        self.n += n
        now = time.monotonic()
        if self.tty and now - self.last_draw >= 0.2:
            self._draw()
        elif not self.tty and int(10 * self.n / max(self.total, 1)) > self.last_step:
            self._draw()  # a log file gets one line per 10 %, not one per chunk

    def reset(self):  # same meaning as tqdm.reset(): back to 0 bytes
        self.n = self.start_n = 0
        self.t0 = time.monotonic()

    def write(self, message, file=None):
        # A status line must not be glued onto the bar being redrawn with \r.
        self.stream.write(("\n" if self.tty else "") + message + "\n")
        if self.tty:
            self._draw()

    def close(self):
        if self.n != self.drawn_n:
            self._draw()
        if self.tty:
            self.stream.write("\n")
        self.stream.flush()

    def _draw(self):
        now = time.monotonic()
        self.last_draw, self.drawn_n = now, self.n
        self.last_step = int(10 * self.n / max(self.total, 1))
        mib = 1 << 20
        rate = (self.n - self.start_n) / mib / max(now - self.t0, 1e-9)
        line = (
            f"{self.desc}: {100 * self.n / max(self.total, 1):5.1f}% "
            f"{self.n / mib:,.1f}/{self.total / mib:,.1f} MiB {rate:,.1f} MiB/s"
        )
        self.stream.write(("\r" + line) if self.tty else (line + "\n"))
        self.stream.flush()


class _NoBar:
    def update(self, n):
        pass

    def reset(self):
        pass

    def write(self, message, file=None):
        pass

    def close(self):
        pass


def _progress_bar(total, initial, desc, enabled):
    if not enabled:
        return _NoBar()
    try:
        from tqdm import tqdm  # optional: nicer bar, not a dependency
    except ImportError:
        return _SimpleBar(total, initial, desc, sys.stderr)
    return tqdm(
        total=total, initial=initial, desc=desc, unit="B", unit_scale=True,
        unit_divisor=1024, file=sys.stderr, leave=True,
    )  # fmt: skip


def _say(progress, message, bar=None):
    if not progress:
        return
    if bar is not None:
        bar.write(f"higgs-sk: {message}", file=sys.stderr)  # tqdm.write or _SimpleBar.write
    else:
        print(f"higgs-sk: {message}", file=sys.stderr, flush=True)


def _human(n_bytes):
    return f"{n_bytes / 1e9:.2f} GB" if n_bytes >= 1e9 else f"{n_bytes / 1e6:.2f} MB"


# --------------------------------------------------------------------------- download


def _verify(path, size, sha256, name):
    """Raise ChecksumError unless ``path`` has ``size`` bytes and SHA-256 ``sha256``."""
    actual_size = path.stat().st_size
    if actual_size != size:
        raise ChecksumError(
            f"{name}: size mismatch: expected {size} bytes, got {actual_size} bytes"
        )
    with open(path, "rb") as fh:
        actual = hashlib.file_digest(fh, "sha256").hexdigest()
    if actual != sha256:
        raise ChecksumError(
            f"{name}: SHA-256 mismatch: expected {sha256}, got {actual}"
        )


def _content_range(value):
    """Parse ``bytes START-END/TOTAL``; TOTAL may be ``*``.  Returns (start, total)."""
    m = re.fullmatch(r"\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*", value or "")
    if not m:
        return None, None
    total = None if m.group(3) == "*" else int(m.group(3))
    return int(m.group(1)), total


def _lock(fh, part):
    # Two processes appending to one .part would interleave bytes; fail fast instead.
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; the checksum still catches it
        return
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise OSError(f"{part}: another process is downloading this file") from None


def _download_once(url, fh, size, timeout, bar, progress):
    """One HTTP request that continues the .part file; returns once it holds ``size`` bytes."""
    fh.seek(0, os.SEEK_END)
    have = fh.tell()
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    if have:
        request.add_header("Range", f"bytes={have}-")
    with urllib.request.urlopen(request, timeout=timeout) as resp:
        status = resp.status
        if have and status == 206:
            start, total = _content_range(resp.headers.get("Content-Range"))
            if total is not None and total != size:
                raise ChecksumError(
                    f"{ARCHIVE_NAME}: size mismatch: expected {size} bytes, the server "
                    f"at {url} reports {total} bytes"
                )
            if start != have:
                # A body starting elsewhere cannot be appended; start over cleanly.
                fh.seek(0)
                fh.truncate()
                bar.reset()
                raise _Interrupted(
                    f"server answered Range bytes={have}- with "
                    f"Content-Range {resp.headers.get('Content-Range')!r}"
                )
        elif status == 200:
            if have:
                # The server ignored Range and sends the whole file: rewrite from byte 0
                # rather than append a second copy behind the partial one.
                _say(progress, f"{url} ignored the Range request; restarting from byte 0", bar)
                fh.seek(0)
                fh.truncate()
                have = 0
                bar.reset()
            length = resp.headers.get("Content-Length")
            if length is not None and length.isdigit() and int(length) != size:
                raise ChecksumError(
                    f"{ARCHIVE_NAME}: size mismatch: expected {size} bytes, the server "
                    f"at {url} reports {int(length)} bytes"
                )
        else:
            raise OSError(f"{url}: unexpected HTTP status {status} {resp.reason}")

        while True:
            # Ask for one byte past the expected end so an oversized body is noticed.
            chunk = resp.read(min(_CHUNK, size - have + 1))
            if not chunk:
                break
            fh.write(chunk)
            have += len(chunk)
            bar.update(len(chunk))
            if have > size:
                raise ChecksumError(
                    f"{ARCHIVE_NAME}: size mismatch: expected {size} bytes, the server "
                    f"at {url} sent more"
                )
    fh.flush()
    if have < size:
        # http.client returns b"" instead of raising when a body is cut short.
        raise _Interrupted(f"connection closed after {have} of {size} bytes")


def _is_transient(exc):
    if isinstance(exc, urllib.error.HTTPError):
        return exc.code >= 500 or exc.code == 408 or exc.code == 429
    return isinstance(
        exc,
        (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError),
    )


def _download(url, dest, size, sha256, *, timeout, retries, progress):
    """Download ``url`` to ``dest`` via ``dest.part``, resuming; verify, then rename."""
    part = dest.with_name(dest.name + ".part")
    try:
        _fill_part(url, part, size, timeout=timeout, retries=retries, progress=progress)
    except BaseException:
        if part.exists() and part.stat().st_size == 0:
            part.unlink()  # nothing to resume (e.g. HTTP 404): leave no litter
        raise
    _say(progress, f"verifying the SHA-256 of {dest.name}")
    try:
        _verify(part, size, sha256, f"{dest} (downloaded from {url})")
    except ChecksumError:
        part.unlink(missing_ok=True)  # a corrupt download must not be resumed
        raise
    os.replace(part, dest)


def _fill_part(url, part, size, *, timeout, retries, progress):
    """Grow ``part`` to ``size`` bytes from ``url``, resuming and retrying."""
    dest = part.with_suffix("")
    fd = os.open(part, os.O_RDWR | os.O_CREAT, 0o644)
    with os.fdopen(fd, "r+b") as fh:
        _lock(fh, part)
        have = fh.seek(0, os.SEEK_END)
        if have > size:
            fh.truncate(0)  # cannot be a prefix of the expected file
            have = 0
        if have < size:
            free = shutil.disk_usage(dest.parent).free
            if free < size - have:
                raise OSError(
                    f"{dest.parent}: {_human(free)} free, the download needs "
                    f"{_human(size - have)} more (set data_home or {DATA_HOME_ENV})"
                )
            if have:
                _say(progress, f"resuming {dest.name} at byte {have:,} of {size:,}")
            else:
                _say(progress, f"downloading {url} ({_human(size)}) to {dest.parent}")
            bar = _progress_bar(size, have, dest.name, progress)
            failures = 0
            try:
                while True:
                    before = fh.seek(0, os.SEEK_END)
                    try:
                        _download_once(url, fh, size, timeout, bar, progress)
                        break
                    except urllib.error.HTTPError as exc:
                        if exc.code == 416 and before:
                            # The .part is not a prefix the server can continue.
                            fh.seek(0)
                            fh.truncate()
                            bar.reset()
                            continue
                        if not _is_transient(exc):
                            raise OSError(f"{url}: HTTP {exc.code} {exc.reason}") from exc
                        error = exc
                    except ChecksumError:
                        raise
                    except Exception as exc:  # noqa: BLE001 - filtered just below
                        if not _is_transient(exc):
                            raise
                        error = exc
                    now = fh.seek(0, os.SEEK_END)
                    failures = 1 if now > before else failures + 1  # progress resets
                    if failures > retries:
                        raise ConnectionError(
                            f"{url}: download interrupted at byte {now:,} of {size:,} "
                            f"({error}); the {now:,} bytes are kept in {part} and the next "
                            f"call resumes from there"
                        ) from error
                    _say(progress, f"{error}; retrying ({failures}/{retries})", bar)
                    time.sleep(_RETRY_WAIT * failures)
            finally:
                bar.close()


# --------------------------------------------------------------------------- Parquet cache


def _cache_is_valid(path, sha256):
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        meta = pq.read_schema(path).metadata or {}
    except (OSError, pa.ArrowInvalid):
        return False
    return meta.get(_META_SHA) == sha256.encode() and meta.get(_META_VERSION) == _CACHE_VERSION


def _write_cache(archive, cache, sha256, progress):
    import pyarrow as pa
    import pyarrow.parquet as pq

    _say(progress, f"converting {archive.name} to {cache.name} (once; takes a few minutes)")
    t0 = time.monotonic()
    frame = load_higgs(archive, cache=False)  # fetch keeps its own Parquet copy
    missing = [c for c in FEATURE_NAMES + [LABEL] if c not in frame.columns]
    if missing:
        raise DataFormatError(f"{archive}: column(s) missing: {missing}")
    frame = frame[FEATURE_NAMES + [LABEL]]
    schema = pa.Schema.from_pandas(frame.iloc[:0], preserve_index=False).with_metadata(
        {_META_SHA: sha256.encode(), _META_VERSION: _CACHE_VERSION}
    )
    # Written beside the cache and renamed, so a crash never leaves a half cache
    # under the final name and concurrent readers see the old or the new file.
    with atomic_path(cache) as tmp:
        with pq.ParquetWriter(tmp, schema) as writer:
            for start in range(0, len(frame), _ROW_GROUP_SIZE):
                part = frame.iloc[start : start + _ROW_GROUP_SIZE]
                writer.write_table(
                    pa.Table.from_pandas(part, schema=schema, preserve_index=False),
                    row_group_size=_ROW_GROUP_SIZE,
                )
    _say(progress, f"wrote {cache} ({len(frame):,} events, {time.monotonic() - t0:.0f} s)")


def _ensure_cache(
    data_home=None, *, url=DEFAULT_URL, size=HIGGS_SIZE, sha256=HIGGS_SHA256,
    progress=True, timeout=60.0, retries=3, download_if_missing=True,
):  # fmt: skip
    """Make sure a valid Parquet cache exists; return ``(archive_path, cache_path)``."""
    sha256 = str(sha256).lower()
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise ValueError(f"sha256 must be 64 hexadecimal digits, got {sha256!r}")
    if int(size) != size or size < 1:
        raise ValueError(f"size must be a positive number of bytes, got {size!r}")
    home = get_data_home(data_home)
    archive, cache = home / ARCHIVE_NAME, home / CACHE_NAME
    if _cache_is_valid(cache, sha256):
        return archive, cache
    if archive.exists():
        _say(progress, f"verifying the SHA-256 of {archive}")
        try:
            _verify(archive, size, sha256, str(archive))
        except ChecksumError as exc:
            # Not deleted: it may be a file the user put there; say what to do instead.
            raise ChecksumError(f"{exc}; delete it to download it again") from None
    elif not download_if_missing:
        raise OSError(
            f"{archive}: HIGGS data not found in {home} and download_if_missing=False"
        )
    else:
        _download(
            url, archive, int(size), sha256,
            timeout=timeout, retries=int(retries), progress=progress,
        )  # fmt: skip
    _write_cache(archive, cache, sha256, progress)
    return archive, cache


# --------------------------------------------------------------------------- public API


def fetch_higgs(
    data_home=None, *, n_test=N_TEST, return_X_y=False, download_if_missing=True,
    url=DEFAULT_URL, size=HIGGS_SIZE, sha256=HIGGS_SHA256, progress=True,
    timeout=60.0, retries=3,
):  # fmt: skip
    """Load the full UCI HIGGS data set, downloading it on first use.

    On the first call ``HIGGS.csv.gz`` (2.8 GB) is downloaded into
    ``data_home``, its size and SHA-256 are verified, and it is converted into
    ``HIGGS.parquet`` (float32 features, int8 label).  Later calls read only
    the Parquet file: no network, no CSV parsing.  An interrupted download
    resumes where it stopped, within the call (``retries``) and on the next
    call.  Only the Python standard library is used for the download; if
    ``tqdm`` is installed it draws the progress bar.

    Parameters
    ----------
    data_home : str or path-like, optional
        Folder for the download and the cache.  Default: the ``HIGGS_SK_DATA``
        environment variable if set, else ``~/.cache/higgs_sk``.  Needs about
        4.5 GB (the archive may be deleted once ``HIGGS.parquet`` exists).
    n_test : int, default=500_000
        Number of final events returned as the test set; the preceding ones
        are the training set.  The default is the paper's split
        (10,500,000 / 500,000).
    return_X_y : bool, default=False
        Return ``(X_train, X_test, y_train, y_test)``, in the order of
        :func:`sklearn.model_selection.train_test_split`, instead of a Bunch.
    download_if_missing : bool, default=True
        If False and neither the cache nor the archive is in ``data_home``,
        raise :class:`OSError` instead of downloading.
    url : str, default=DEFAULT_URL
        Where to download ``HIGGS.csv.gz`` from (a mirror, or a local server
        in tests).  The local file names do not depend on it.
    size : int, default=HIGGS_SIZE
        Expected size of the archive in bytes.
    sha256 : str, default=HIGGS_SHA256
        Expected SHA-256 of the archive.  The cache records it, so a cache
        built from another file is rebuilt rather than used.
    progress : bool, default=True
        Show a progress bar and status lines on stderr.
    timeout : float, default=60.0
        Seconds to wait for the server on each connect or read, not for the
        whole download.
    retries : int, default=3
        Reconnections (with ``Range``) allowed in a row without new bytes
        before giving up; the partial file is kept for the next call.

    Returns
    -------
    sklearn.utils.Bunch or tuple
        Bunch with

        - ``X_train``, ``X_test``: DataFrames of the 28 float32 features in
          UCI order, indexed by event number in the file;
        - ``y_train``, ``y_test``: int8 Series named ``label`` (1 = signal);
        - ``feature_names``, ``target_names``, ``DESCR``;
        - ``filename``: path of ``HIGGS.csv.gz``; ``cache_filename``: path of
          ``HIGGS.parquet``; ``data_home``: the folder (all ``str``).

    Raises
    ------
    higgs_sk.exceptions.ChecksumError
        The download (or an archive already in ``data_home``) does not have
        the expected size or SHA-256.  A bad download is deleted, never kept
        under the final name.
    ConnectionError
        The download broke off more than ``retries`` times in a row; the
        bytes received are kept and the next call resumes.
    OSError
        Other network or disk errors (HTTP 404, disk full, ...).
    ValueError
        ``n_test`` is negative or not smaller than the number of events.

    Examples
    --------
    >>> from higgs_sk.fetch import fetch_higgs
    >>> X_train, X_test, y_train, y_test = fetch_higgs(return_X_y=True)  # doctest: +SKIP
    >>> len(X_train), len(X_test)                                        # doctest: +SKIP
    (10500000, 500000)
    """
    if isinstance(n_test, bool) or int(n_test) != n_test or n_test < 0:
        raise ValueError(f"n_test must be a non-negative integer, got {n_test!r}")
    n_test = int(n_test)
    archive, cache = _ensure_cache(
        data_home, url=url, size=size, sha256=sha256, progress=progress,
        timeout=timeout, retries=retries, download_if_missing=download_if_missing,
    )  # fmt: skip

    import pyarrow.parquet as pq

    table = pq.read_table(cache, columns=FEATURE_NAMES + [LABEL])
    n = table.num_rows
    if n_test >= n:
        raise ValueError(f"n_test={n_test} leaves no training events: {cache} holds {n}")
    n_train = n - n_test

    def split(start, stop):
        part = table.slice(start, stop - start)
        X = part.select(FEATURE_NAMES).to_pandas()
        y = part.column(LABEL).to_pandas()
        # Keep the event number as index, as train_test_split keeps a frame's index.
        X.index = y.index = pd.RangeIndex(start, stop)
        y.name = LABEL
        return X, y

    X_train, y_train = split(0, n_train)
    X_test, y_test = split(n_train, n)
    del table
    if return_X_y:
        return X_train, X_test, y_train, y_test
    return Bunch(
        X_train=X_train,
        X_test=X_test,
        y_train=y_train,
        y_test=y_test,
        feature_names=np.array(FEATURE_NAMES, dtype=object),
        target_names=np.array(["background", "signal"], dtype=object),
        DESCR=_DESCR,
        filename=str(archive),
        cache_filename=str(cache),
        data_home=str(cache.parent),
    )


# --------------------------------------------------------------------------- CLI


def add_fetch_parser(subparsers):
    """Add the ``fetch`` subcommand to an :mod:`argparse` subparsers object."""
    p = subparsers.add_parser(
        "fetch",
        help="download the full UCI HIGGS data set and build its Parquet cache",
        description=(
            "Download HIGGS.csv.gz (2.8 GB, resumable), verify its SHA-256 and "
            "convert it once to HIGGS.parquet."
        ),
    )
    p.add_argument(
        "--data-home", metavar="DIR", default=None,
        help=f"folder for the files (default: ${DATA_HOME_ENV} or ~/.cache/higgs_sk)",
    )  # fmt: skip
    p.add_argument("--url", default=DEFAULT_URL, help="download from a mirror")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run_fetch)
    return p


def run_fetch(args):
    """Run ``higgs-sk fetch``; prints the cache path and returns the exit status."""
    # Only the cache is prepared: loading 11 M events into memory would be wasted here.
    archive, cache = _ensure_cache(args.data_home, url=args.url, progress=not args.quiet)
    print(cache)
    return 0
