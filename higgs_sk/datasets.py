"""Loading HIGGS events: column names, file readers and the bundled sample.

The UCI ``HIGGS.csv(.gz)`` file has **no header row**: the label comes first,
then 21 low-level and 7 high-level features.  Other copies in circulation have
a header (with spaces or underscores, label first or last) or are Parquet.
:func:`load_higgs` reads all of them into one canonical frame and decides
whether the first line is a header by its content, never by its position, so
the first event is never mistaken for column names.

CSV text is parsed by Arrow on all cores straight into float32, batch by
batch, so peak memory stays close to the size of the result (about 113 MB
per million events, where ``pandas.read_csv`` peaks above 1 GB).  Parsed CSV
files of 64 MiB or more are cached as Parquet in :func:`get_cache_dir`
(``$HIGGS_SK_CACHE`` or ``~/.cache/higgs_sk/parquet``), so loading the same
file again takes a fraction of a second; see the ``cache`` argument of
:func:`load_higgs` and :func:`clear_cache`.

Examples
--------
>>> from higgs_sk.datasets import load_sample, LOW_LEVEL_FEATURES
>>> X, y = load_sample(return_X_y=True, as_frame=True)
>>> X.shape, len(LOW_LEVEL_FEATURES)
((9000, 28), 21)
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import hashlib
import io
import json
import os
import re
import warnings
import zlib
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

from .atomic import atomic_path
from .exceptions import DataFormatError

__all__ = [
    "LOW_LEVEL_FEATURES",
    "HIGH_LEVEL_FEATURES",
    "FEATURE_NAMES",
    "LABEL",
    "UCI_COLUMNS",
    "CACHE_ENV",
    "CACHE_MIN_BYTES",
    "canonical_name",
    "clear_cache",
    "get_cache_dir",
    "load_higgs",
    "load_sample",
]

LOW_LEVEL_FEATURES = [
    "lepton_pT", "lepton_eta", "lepton_phi",
    "missing_energy_magnitude", "missing_energy_phi",
    "jet_1_pt", "jet_1_eta", "jet_1_phi", "jet_1_btag",
    "jet_2_pt", "jet_2_eta", "jet_2_phi", "jet_2_btag",
    "jet_3_pt", "jet_3_eta", "jet_3_phi", "jet_3_btag",
    "jet_4_pt", "jet_4_eta", "jet_4_phi", "jet_4_btag",
]  # fmt: skip
"""The 21 low-level detector measurements, in UCI column order."""

HIGH_LEVEL_FEATURES = ["m_jj", "m_jjj", "m_lv", "m_jlv", "m_bb", "m_wbb", "m_wwbb"]
"""The 7 physicist-derived invariant masses, in UCI column order."""

FEATURE_NAMES = LOW_LEVEL_FEATURES + HIGH_LEVEL_FEATURES
"""All 28 features in UCI order (the raw file without its label column)."""

LABEL = "label"
"""Name of the target column: 1 for signal, 0 for background."""

UCI_COLUMNS = [LABEL] + FEATURE_NAMES
"""The 29 columns of the raw UCI file, label first."""

_LABEL_KEYS = {"label", "classlabel", "class", "target", "y", "signal", "issignal"}
_KEY_TO_NAME = {re.sub(r"[^0-9a-z]", "", n.lower()): n for n in FEATURE_NAMES}
_KEY_TO_NAME.update(
    {
        # Spellings seen in published copies of the data set.
        "missingenergy": "missing_energy_magnitude",
        "missingenergymag": "missing_energy_magnitude",
        "met": "missing_energy_magnitude",
        "metphi": "missing_energy_phi",
    }
)
_SAMPLE_FILE = "higgs_sample.csv.gz"


def canonical_name(name):
    """Return the canonical HIGGS column name for a spelling, or ``None``.

    Case, spaces, underscores and hyphens are ignored, so ``"jet 1 b-tag"``,
    ``"Jet_1_btag"`` and ``"jet1btag"`` all map to ``"jet_1_btag"``; any of
    ``label``, ``class label``, ``target`` maps to :data:`LABEL`.

    Parameters
    ----------
    name : object
        A column name as found in a file or DataFrame.

    Returns
    -------
    str or None

    Examples
    --------
    >>> canonical_name("lepton  pT"), canonical_name("class label"), canonical_name("x")
    ('lepton_pT', 'label', None)
    """
    key = re.sub(r"[^0-9a-z]", "", str(name).lower())
    if key in _LABEL_KEYS:
        return LABEL
    return _KEY_TO_NAME.get(key)


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def _is_gzip(path):
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def _open_text(path):
    if _is_gzip(path):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def _first_line(path):
    try:
        with _open_text(path) as fh:
            return fh.readline()
    except (EOFError, OSError, zlib.error, UnicodeDecodeError) as exc:
        raise DataFormatError(f"{path}: cannot read the first line ({exc})") from exc


def _check_path(path):
    path = Path(os.fspath(path))
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if path.is_dir():
        raise IsADirectoryError(f"{path}: is a directory, expected a HIGGS data file")
    if path.stat().st_size == 0:
        raise DataFormatError(f"{path}: the file is empty")
    return path


def _layout_from_names(names, path):
    """Map raw column names to canonical ones; reject unknown or duplicated names."""
    canon = [canonical_name(n) for n in names]
    unknown = [str(n) for n, c in zip(names, canon) if c is None]
    if unknown:
        raise DataFormatError(
            f"{path}: unknown column name(s) {unknown}; expected HIGGS names such as "
            f"'label', 'lepton_pT', 'jet_1_btag', 'm_wwbb'"
        )
    seen = set()
    for raw, c in zip(names, canon):
        if c in seen:
            raise DataFormatError(f"{path}: column {c!r} appears more than once ({raw!r})")
        seen.add(c)
    missing = [n for n in LOW_LEVEL_FEATURES if n not in seen]
    if missing:
        raise DataFormatError(f"{path}: low-level column(s) missing: {missing}")
    return canon


def _layout_headerless(n_fields, path):
    if n_fields == len(UCI_COLUMNS):
        return list(UCI_COLUMNS)
    if n_fields == len(FEATURE_NAMES):
        return list(FEATURE_NAMES)  # features only, e.g. events to classify
    raise DataFormatError(
        f"{path}: line 1 has {n_fields} fields; a HIGGS file without header has 29 "
        f"(label then 28 features) or 28 (features only)"
    )


# Arrow's streaming CSV reader reads up to ~32 blocks ahead; with 1 MiB blocks
# that is ~32 MiB in flight, where 16 MiB blocks cost ~600 MiB of peak memory
# on a 730 MB file and were slower as well.
_CSV_BLOCK_SIZE = 1 << 20
# Bytes sampled at the head of a file to estimate its number of events.
_SAMPLE_BYTES = 1 << 20
# Over-allocation when the row count is estimated.  Pages never written are
# never faulted in, and the buffer is shrunk in place at the end, so a
# generous margin costs address space only, not memory.
_ROW_MARGIN = 1.05


class _FrameBuilder:
    """Fill a preallocated float32 block batch by batch, then wrap it in pandas.

    The features live in one flat buffer laid out as pandas stores a block,
    one contiguous row per column, so the final DataFrame is a view of it:
    no Arrow table, no float64 and no second copy of the data is ever alive,
    and peak memory is about the size of the result plus one batch.
    """

    def __init__(self, columns, capacity, limit=None):
        import pyarrow as pa

        self._float32 = pa.float32()
        present = set(columns)
        self.features = [n for n in FEATURE_NAMES if n in present]
        self.has_label = LABEL in present
        self.limit = limit
        self.cap = max(int(capacity), 1)
        self.n = 0
        self.buf = np.empty(len(self.features) * self.cap, dtype=np.float32)
        self.label = np.empty(self.cap, dtype=np.int8) if self.has_label else None
        self.bad_label = None  # (row, value) of the first label not in {0, 1}
        self._schema = None
        self._tensor_cols = None

    @property
    def full(self):
        return self.limit is not None and self.n >= self.limit

    def _grow(self, need):
        cap = max(need, int(self.cap * 1.25) + 1024)
        nf = len(self.features)
        buf = np.empty(nf * cap, dtype=np.float32)
        buf.reshape(nf, cap)[:, : self.n] = self.buf.reshape(nf, self.cap)[:, : self.n]
        self.buf = buf
        if self.has_label:
            label = np.empty(cap, dtype=np.int8)
            label[: self.n] = self.label[: self.n]
            self.label = label
        self.cap = cap

    def _add_as_tensor(self, batch, block, lo, hi):
        """Copy all features of a null-free float32 RecordBatch in one call.

        Per-column ``to_numpy`` costs ~10 us of overhead per column and batch,
        a quarter of the parse time with 1 MiB blocks; one column-major
        tensor per batch costs one extra memcpy instead.
        """
        if not hasattr(batch, "to_tensor"):  # pyarrow < 16
            return False
        if self._schema is None or not batch.schema.equals(self._schema):
            names = batch.schema.names
            self._schema = batch.schema
            self._tensor_cols = None
            if all(n in names for n in self.features) and all(
                batch.schema.field(n).type == self._float32 for n in self.features
            ):
                self._tensor_cols = [names.index(n) for n in self.features]
        if self._tensor_cols is None:
            return False
        part = batch.select(self._tensor_cols)
        if any(c.null_count for c in part.columns):
            return False
        block[:, lo:hi] = np.asarray(part.to_tensor(row_major=False)).T[:, : hi - lo]
        return True

    def add(self, batch):
        """Append an Arrow RecordBatch or Table with canonical column names."""
        m = batch.num_rows
        if self.limit is not None:
            m = min(m, self.limit - self.n)
        if m <= 0:
            return
        lo, hi = self.n, self.n + m
        if hi > self.cap:
            self._grow(hi)
        block = self.buf.reshape(len(self.features), self.cap)
        if not self._add_as_tensor(batch, block, lo, hi):
            for j, name in enumerate(self.features):
                col = batch.column(name)
                if col.type != self._float32:
                    col = col.cast(self._float32)
                # Nulls become NaN here and are reported by finish().
                block[j, lo:hi] = col.to_numpy(zero_copy_only=False)[:m]
        if self.has_label:
            lab = np.asarray(batch.column(LABEL).to_numpy(zero_copy_only=False)[:m])
            lab = lab.astype(np.float64, copy=False)
            bad = (lab != 0.0) & (lab != 1.0)
            if bad.any():
                if self.bad_label is None:
                    row = int(np.flatnonzero(bad)[0])
                    self.bad_label = (lo + row, lab[row])
                lab = np.where(bad, 0.0, lab)  # reported by finish(); avoid NaN -> int8
            self.label[lo:hi] = lab
        self.n = hi

    def finish(self, path, first_data_line):
        """Validate, shrink the buffers to size and return the canonical frame."""
        n, nf, cap = self.n, len(self.features), self.cap
        if n < cap:
            # Move column j from offset j*cap to j*n, then give the tail back
            # with realloc (no copy, no second buffer).
            for j in range(1, nf):
                self.buf[j * n : (j + 1) * n] = self.buf[j * cap : j * cap + n]
            try:
                self.buf.resize(nf * n, refcheck=True)
            except ValueError:  # someone holds a view: copy instead
                self.buf = self.buf[: nf * n].copy()
            if self.has_label:
                try:
                    self.label.resize(n, refcheck=True)
                except ValueError:
                    self.label = self.label[:n].copy()
            self.cap = n
        block = self.buf.reshape(nf, n)
        for j, name in enumerate(self.features):
            finite = np.isfinite(block[j])
            if not finite.all():
                row = int(np.flatnonzero(~finite)[0])
                raise DataFormatError(
                    f"{path}: column {name!r} has a missing, NaN or infinite value "
                    f"at line {row + first_data_line} (event {row})"
                )
        if self.bad_label is not None:
            row, value = self.bad_label
            value = float(value)
            shown = int(value) if value.is_integer() else value
            raise DataFormatError(
                f"{path}: label at line {row + first_data_line} (event {row}) is "
                f"{shown!r}; labels must be 0 (background) or 1 (signal)"
            )
        # block.T is the (n_events, n_features) view pandas stores as one block.
        frame = pd.DataFrame(block.T, columns=self.features, copy=False)
        if self.has_label:
            frame[LABEL] = self.label
        return frame


def _table_to_frame(table, path, first_data_line):
    """Arrow table with canonical names -> validated canonical DataFrame.

    For callers that already hold a table (``higgs_sk.streaming``); same
    checks and messages as :func:`load_higgs`.
    """
    builder = _FrameBuilder(table.column_names, table.num_rows)
    builder.add(table)
    return builder.finish(path, first_data_line)


def _estimate_rows(path, gz, has_header):
    """Events in a CSV file: exact for small files, else estimated from its head.

    The head's bytes per line times the file size; for gzip, the compression
    ratio of the head scales the compressed size.  Used only to size the
    buffer, which grows if the estimate was low and shrinks at the end.
    """
    size = path.stat().st_size
    with open(path, "rb") as fh:
        if gz:
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            raw = fh.read(_SAMPLE_BYTES // 3)
            head = d.decompress(raw, _SAMPLE_BYTES)
            consumed = len(raw) - len(d.unconsumed_tail)
            whole = d.eof and not d.unused_data and len(raw) == size
            total = len(head) if whole else size * len(head) / max(consumed, 1)
        else:
            head = fh.read(_SAMPLE_BYTES)
            whole = len(head) == size
            total = size
    lines = head.count(b"\n") + (1 if whole and head and not head.endswith(b"\n") else 0)
    if whole:
        return max(lines - has_header, 1)
    per_line = len(head) / max(lines, 1)
    return int(total / per_line * _ROW_MARGIN) + 1024


def _csv_layout(path):
    """Canonical column names of a CSV file and whether line 1 is a header.

    Decided by the content of line 1, never by its position, so the first
    event of a raw UCI file is never taken for column names.
    """
    first = _first_line(path).rstrip("\r\n")
    if not first.strip():
        raise DataFormatError(f"{path}: line 1 is blank; expected a header or an event")
    fields = [f.strip().strip('"') for f in first.split(",")]
    numeric = [_is_number(f) for f in fields]
    if all(numeric):
        return _layout_headerless(len(fields), path), False
    if not any(numeric):
        return _layout_from_names(fields, path), True
    raise DataFormatError(
        f"{path}: line 1 mixes names and numbers ({first[:80]!r}); "
        f"expected either a header row or an event"
    )


def _read_csv(path, n_rows):
    import pyarrow as pa
    import pyarrow.csv as pacsv

    columns, has_header = _csv_layout(path)

    gz = _is_gzip(path)
    first_data_line = 2 if has_header else 1
    try:
        capacity = _estimate_rows(path, gz, has_header)
    except (OSError, zlib.error):
        capacity = 1 << 16  # a bad stream is reported by the reader below
    if n_rows is not None:
        capacity = min(capacity, n_rows)
    builder = _FrameBuilder(columns, capacity, limit=n_rows)

    # Read the label as float64 so 1.0000001 is rejected, not rounded to 1.
    types = {c: (pa.float32() if c != LABEL else pa.float64()) for c in columns}
    read_opts = pacsv.ReadOptions(
        column_names=columns, skip_rows=1 if has_header else 0, block_size=_CSV_BLOCK_SIZE
    )
    conv_opts = pacsv.ConvertOptions(column_types=types)
    source = pa.input_stream(str(path), compression="gzip" if gz else None)
    try:
        reader = pacsv.open_csv(source, read_options=read_opts, convert_options=conv_opts)
        for batch in reader:
            builder.add(batch)
            del batch  # hand the batch back to Arrow's pool before the next one
            if builder.full:
                break
    except (pa.ArrowInvalid, EOFError, OSError, zlib.error) as exc:
        source.close()
        where = _locate_csv_error(path, columns, has_header, gz, exc)
        raise DataFormatError(f"{path}: {where or _explain_arrow_error(exc, has_header)}") from exc
    finally:
        source.close()
    if builder.n == 0:
        raise DataFormatError(f"{path}: header only, the file holds no events")
    return builder, first_data_line


# Cells Arrow reads as null (then reported as missing values with their line).
_ARROW_NULLS = frozenset(
    ["", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
     "1.#QNAN", "N/A", "NA", "NULL", "NaN", "n/a", "nan", "null"]
)  # fmt: skip
# Bytes of plain numeric lines; a line with any other byte gets a cell-by-cell check.
_NUMERIC_BYTES = b"0123456789.eE+-, \t\r\n"
_NUMERIC_TABLE = np.zeros(256, dtype=bool)
_NUMERIC_TABLE[list(_NUMERIC_BYTES)] = True
_SCAN_BYTES = 1 << 22  # block size when looking for the line Arrow rejected


def _arrow_reads_number(cell):
    """Whether Arrow's float parser accepts ``cell`` (a number, inf or a null)."""
    if cell in _ARROW_NULLS:
        return True
    text = cell.strip(" \t")
    if text in _ARROW_NULLS:
        return True
    if not text.isascii() or "_" in text:  # Python's float() takes these, Arrow does not
        return False
    try:
        float(text)
    except ValueError:
        return False
    return True


def _short(cell, limit=40):
    return cell if len(cell) <= limit else cell[: limit - 3] + "..."


def _check_csv_line(line, lineno, columns, ref):
    """Message for a raw CSV line Arrow would reject, or None if it is fine."""
    text = line.decode("utf-8", "replace")
    if not text:
        return None  # Arrow skips empty lines
    fields = next(csv.reader([text])) if '"' in text else text.split(",")
    if len(fields) != len(columns):
        return (
            f"line {lineno} has {len(fields)} fields, expected {len(columns)} {ref} "
            f"({_short(text, 60)!r})"
        )
    for j, (name, cell) in enumerate(zip(columns, fields)):
        if _arrow_reads_number(cell):
            continue
        if name == LABEL:
            return (
                f"label at line {lineno} is {_short(cell)!r}; labels must be "
                f"0 (background) or 1 (signal)"
            )
        return f"line {lineno}, column {name!r} (field {j + 1}): {_short(cell)!r} is not a number"
    return None


def _scan_csv_block(chunk, before, columns, hint, ref):
    """First rejected line of ``chunk`` (whole lines; ``before`` lines precede it)."""
    arr = np.frombuffer(chunk, dtype=np.uint8)
    ends = np.flatnonzero(arr == ord("\n"))
    starts = np.r_[0, ends[:-1] + 1]
    # Commas per line, vectorised; empty lines are skipped by Arrow.
    commas = np.diff(np.searchsorted(np.flatnonzero(arr == ord(",")), ends), prepend=0)
    length = ends - starts
    empty = (length == 0) | ((length == 1) & (arr[starts] == ord("\r")))
    suspect = (commas != len(columns) - 1) & ~empty
    if chunk.translate(None, _NUMERIC_BYTES):  # bytes a plain number never has
        suspect[np.searchsorted(ends, np.flatnonzero(~_NUMERIC_TABLE[arr]))] = True
    if hint:
        pos = chunk.find(hint)
        while pos >= 0:
            suspect[np.searchsorted(ends, pos)] = True
            pos = chunk.find(hint, pos + 1)
    for i in np.flatnonzero(suspect):
        line = chunk[starts[i] : ends[i]].rstrip(b"\r")
        found = _check_csv_line(line, before + int(i) + 1, columns, ref)
        if found:
            return found
    return None


def _locate_csv_error(path, columns, has_header, gz, exc):
    """Line (and column) of the first row Arrow rejected, or None.

    Arrow's messages for a row with the wrong number of fields or a cell that
    is not a number carry no line number.  Only on that error path, the file
    is read again (gzip-aware) in blocks up to the first offending line:
    field counts are checked on every line with NumPy, and cells one by one
    on lines holding anything but digits, signs, points and exponents, or
    holding the value Arrow named.  About 1 s per GB of text.
    """
    import pyarrow as pa

    if not isinstance(exc, pa.ArrowInvalid):
        return None
    msg = str(exc)
    hint = re.search(r"invalid value '(.*)'", msg)
    if not (hint or re.search(r"Expected \d+ columns, got \d+", msg)):
        return None
    hint = hint.group(1).encode("utf-8", "replace") if hint and hint.group(1) else None
    ref = "as in the header" if has_header else "as on line 1"
    try:
        with gzip.open(path, "rb") if gz else open(path, "rb") as fh:
            before = 1 if has_header else 0
            if has_header:
                fh.readline()
            rest = b""
            while True:
                block = fh.read(_SCAN_BYTES)
                data = rest + block
                if block:
                    cut = data.rfind(b"\n") + 1
                    chunk, rest = data[:cut], data[cut:]
                else:  # end of file: the last line may lack its newline
                    chunk, rest = (data + b"\n" if data else b""), b""
                if chunk:
                    found = _scan_csv_block(chunk, before, columns, hint, ref)
                    if found:
                        return found
                    before += chunk.count(b"\n")
                if not block:
                    return None
    except (OSError, EOFError, zlib.error, csv.Error):
        return None


def _explain_arrow_error(exc, has_header):
    msg = str(exc).strip().splitlines()[0]
    m = re.search(r"Expected (\d+) columns, got (\d+)", msg)
    if m:
        return f"a row has {m.group(2)} fields, expected {m.group(1)} ({msg})"
    if "conversion error" in msg or "invalid value" in msg:
        return f"a cell is not a number ({msg})"
    if "gzip" in msg.lower() or "compressed" in msg.lower() or isinstance(exc, EOFError):
        return f"the gzip stream is truncated or corrupt ({msg})"
    return msg


def _read_parquet(path, n_rows):
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(str(path))
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataFormatError(f"{path}: not a readable Parquet file ({exc})") from exc
    names = pf.schema_arrow.names
    if all(_is_number(n) for n in names):
        columns = _layout_headerless(len(names), path)
    else:
        columns = _layout_from_names(names, path)
    total = pf.metadata.num_rows
    builder = _FrameBuilder(columns, min(total, n_rows or total), limit=n_rows)
    try:
        for i in range(pf.num_row_groups):
            builder.add(pf.read_row_group(i).rename_columns(columns))
            if builder.full:
                break
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataFormatError(f"{path}: not a readable Parquet file ({exc})") from exc
    return builder, 1


# --------------------------------------------------------------------------
# Parquet cache of parsed CSV files
# --------------------------------------------------------------------------

CACHE_ENV = "HIGGS_SK_CACHE"
"""Environment variable naming the cache directory (see :func:`get_cache_dir`)."""

CACHE_MIN_BYTES = 64 * 2**20
"""With ``cache=None`` (the default), CSV files at least this big are cached."""

# Bump when the parsed frame or the cache layout changes: old entries then
# stop matching and are rebuilt.
_CACHE_VERSION = 1
_CACHE_KEY = b"higgs_sk.cache"
_CHECKSUM_WORDS = 512  # 64-bit words per checksum block: 4 KiB, a disk sector or page


def get_cache_dir(cache_dir=None):
    """Return the directory of the Parquet cache used by :func:`load_higgs`.

    Parameters
    ----------
    cache_dir : str or path-like, optional
        Returned as is (made absolute) when given.

    Returns
    -------
    pathlib.Path
        ``cache_dir``, else ``$HIGGS_SK_CACHE`` if set, else
        ``$XDG_CACHE_HOME/higgs_sk/parquet``, else
        ``~/.cache/higgs_sk/parquet``.  Not created here.

    Examples
    --------
    >>> from higgs_sk.datasets import get_cache_dir
    >>> get_cache_dir("/tmp/higgs-cache").as_posix()
    '/tmp/higgs-cache'
    """
    if cache_dir is None:
        cache_dir = os.environ.get(CACHE_ENV) or None
    if cache_dir is None:
        xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache")
        cache_dir = os.path.join(xdg, "higgs_sk", "parquet")
    return Path(os.path.abspath(os.path.expanduser(os.fspath(cache_dir))))


def clear_cache(cache_dir=None):
    """Delete the cached Parquet copies made by :func:`load_higgs`.

    Parameters
    ----------
    cache_dir : str or path-like, optional
        Directory to clear; default :func:`get_cache_dir`.

    Returns
    -------
    int
        Number of files removed.  Other files in the directory are left alone.

    Examples
    --------
    >>> import tempfile
    >>> from higgs_sk.datasets import clear_cache
    >>> clear_cache(tempfile.mkdtemp())
    0
    """
    folder = get_cache_dir(cache_dir)
    removed = 0
    # Entries, and temporary files that an interrupted write left behind
    # (atomic_path's names; ".tmp-*" from higgs-sk 0.1).
    patterns = ["*.higgs.parquet", ".*.higgs.parquet.*.tmp", ".tmp-*.parquet"]
    for entry in [e for pattern in patterns for e in folder.glob(pattern)]:
        try:
            entry.unlink()
            removed += 1
        except FileNotFoundError:
            pass
    return removed


def _cache_entry(path, folder):
    """Cache file for ``path`` in its current state, and the facts that key it."""
    st = path.stat()
    source = os.path.realpath(path)
    facts = {
        "version": _CACHE_VERSION,
        "source": source,
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "inode": st.st_ino,  # catches a file replaced by one of equal size and mtime
    }
    src_hash = hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    state = json.dumps(facts, sort_keys=True).encode()
    state_hash = hashlib.sha256(state).hexdigest()[:16]
    stem = re.sub(r"[^A-Za-z0-9._-]", "_", path.name)[:48]
    return folder / f"{stem}-{src_hash}-{state_hash}.higgs.parquet", facts


def _read_cache(entry, facts, n_rows):
    """The cached frame, or None if the entry is missing, stale or damaged."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not entry.is_file():
        return None
    try:
        # Memory-mapped, one column chunk at a time: pages come straight from
        # the page cache instead of through read() into fresh buffers, which
        # cut system time from ~0.25 s to ~0.03 s per million events here.
        # The decoded columns are private copies (checked in _owned_numpy), so
        # the frame never points into the file; entries are only ever
        # replaced by rename, never rewritten in place, so the mapping stays
        # valid while it is read.  Full reads verify the column checksums
        # from the metadata (a fifth of the cost of Parquet's page CRCs);
        # partial reads cannot, so they check the CRCs of the pages they decode.
        with pq.ParquetFile(str(entry), memory_map=True, pre_buffer=False) as pf:
            meta = json.loads((pf.schema_arrow.metadata or {}).get(_CACHE_KEY, b"null"))
            total = pf.metadata.num_rows
            if not isinstance(meta, dict) or meta.get("facts") != facts:
                return None
            columns = pf.schema_arrow.names
            expected = [n for n in FEATURE_NAMES if n in columns] + (
                [LABEL] if LABEL in columns else []
            )
            want = [pa.int8() if n == LABEL else pa.float32() for n in columns]
            if (
                total < 1
                or meta.get("rows") != total
                or columns != expected
                or columns != meta.get("columns")
                or sorted(meta.get("checksums", {})) != sorted(columns)
                or [pf.schema_arrow.field(n).type for n in columns] != want
            ):
                return None
            if n_rows is None or n_rows >= total:
                table = pf.read()
        if n_rows is not None and n_rows < total:
            return _read_cache_head(entry, columns, n_rows)
        if table.num_rows != total:
            return None
        data = {}
        for name in columns:
            data[name] = _owned_numpy(table.column(name), np.int8 if name == LABEL else np.float32)
            if _checksum(data[name]) != meta["checksums"][name]:
                return None
        del table
        return pd.DataFrame(data, copy=False)
    except (pa.ArrowException, OSError, ValueError, TypeError, KeyError, DataFormatError):
        # Truncated, bit-flipped (checksums) or foreign file: rebuild it.
        return None


def _read_cache_head(entry, columns, n_rows):
    """First ``n_rows`` events of a cache entry, decoding only the pages needed."""
    import pyarrow.parquet as pq

    builder = _FrameBuilder(columns, n_rows, limit=n_rows)
    with pq.ParquetFile(str(entry), page_checksum_verification=True) as pf:
        for batch in pf.iter_batches(batch_size=min(n_rows, 1 << 16)):
            builder.add(batch)
            if builder.full:
                break
    return builder.finish(entry, 1) if builder.n == n_rows else None


def _checksum(values):
    """Order-sensitive 128-bit checksum of an array's bytes; not cryptographic.

    Sums of 64-bit words per 4 KiB block, then the plain and the
    position-weighted sum of those block sums (mod 2**64).  Any single bit
    flip changes the first, swapped or misplaced blocks change the second,
    and NumPy computes both near memory speed: about 10 ms per million
    events against about 40 ms for Parquet's page CRC32s.
    """
    raw = np.ascontiguousarray(values).reshape(-1).view(np.uint8)
    block = 8 * _CHECKSUM_WORDS
    cut = raw.size - raw.size % block
    tail = np.zeros(block, dtype=np.uint8)
    tail[: raw.size - cut] = raw[cut:]
    sums = np.concatenate(
        [
            raw[:cut].view(np.uint64).reshape(-1, _CHECKSUM_WORDS).sum(axis=1, dtype=np.uint64),
            tail.view(np.uint64).sum(dtype=np.uint64, keepdims=True),
        ]
    )
    weights = np.arange(1, sums.size + 1, dtype=np.uint64)
    plain = int(sums.sum(dtype=np.uint64))
    weighted = int((sums * weights).sum(dtype=np.uint64))
    return f"{raw.size:x}:{plain:016x}{weighted:016x}"


def _owned_numpy(chunked, dtype):
    """Writeable NumPy view of a null-free single-chunk Arrow column, else a copy.

    ``to_numpy`` views are read-only, so ``df.loc[i, c] = v`` would fail on a
    cached frame and work on a parsed one.  The Parquet reader hands out
    freshly allocated, mutable buffers that nothing else references once the
    table is dropped, so a writeable view is safe and saves a 113 MB copy per
    million events.
    """
    if chunked.num_chunks == 1 and chunked.null_count == 0:
        arr = chunked.chunk(0)
        buf = arr.buffers()[1]
        if buf is not None and buf.is_mutable:
            itemsize = np.dtype(dtype).itemsize
            view = np.frombuffer(buf, dtype=dtype, count=len(arr), offset=arr.offset * itemsize)
            if view.flags.writeable:
                return view
    return np.array(chunked.to_numpy(zero_copy_only=False), dtype=dtype)


def _write_cache(frame, entry, facts):
    """Write ``frame`` to ``entry`` atomically; a failure only warns."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = entry.parent
    try:
        arrays = [pa.array(frame[c].to_numpy()) for c in frame.columns]
        meta = {
            "facts": facts,
            "rows": len(frame),
            "columns": list(frame.columns),
            "checksums": {c: _checksum(frame[c].to_numpy()) for c in frame.columns},
        }
        schema = pa.schema(
            [pa.field(c, a.type) for c, a in zip(frame.columns, arrays)],
            metadata={_CACHE_KEY: json.dumps(meta).encode()},
        )
        table = pa.Table.from_arrays(arrays, schema=schema)
        # One row group, so every column comes back as one Arrow buffer that
        # becomes the frame's column without a copy.  Uncompressed and without
        # dictionaries: float noise does not compress and the point of the
        # cache is read speed.  Page CRCs serve partial reads; full reads
        # check the cheaper column checksums in the metadata.
        with atomic_path(entry) as tmp:  # readers see the old entry or the new one
            pq.write_table(
                table,
                tmp,
                row_group_size=max(len(frame), 1),
                compression="none",
                use_dictionary=False,
                write_statistics=False,
                write_page_checksum=True,
            )
        # Entries for earlier versions of the same source file are dead weight.
        prefix = entry.name.rsplit("-", 1)[0] + "-"
        for old in folder.glob(prefix + "*.higgs.parquet"):
            if old.name != entry.name:
                with contextlib.suppress(OSError):
                    old.unlink()
    except Exception as exc:  # the cache must never break a load
        warnings.warn(
            f"higgs_sk: could not write the Parquet cache {entry} ({exc}); "
            f"the data was loaded normally",
            RuntimeWarning,
            stacklevel=3,
        )


def _check_cache_arg(cache):
    if cache is None or isinstance(cache, (bool, np.bool_)):
        return cache if cache is None else bool(cache)
    if isinstance(cache, (str, os.PathLike)):
        if not os.fspath(cache):
            raise ValueError("cache: an empty string is not a directory; use True or False")
        return cache
    raise TypeError(f"cache must be None, True, False or a directory, got {cache!r}")


def _cache_folder(cache, path):
    """Cache directory to use for CSV file ``path``, or None for no caching."""
    if cache is None:
        return get_cache_dir() if path.stat().st_size >= CACHE_MIN_BYTES else None
    if cache is True:
        return get_cache_dir()
    if cache is False:
        return None
    return get_cache_dir(cache)


def load_higgs(path, n_rows=None, *, cache=None):
    """Read HIGGS events from a raw UCI file, a CSV with header, or Parquet.

    CSV parsing is multi-threaded (Arrow), streams gzip, and writes float32
    straight into the final frame, so peak memory is close to the size of the
    result (about 113 MB per million events, against about 1.1 GB for
    ``pandas.read_csv``).  A Parquet copy of a parsed CSV file can be cached:
    loading the same file again then takes about 0.1 s per million events on
    an idle machine (roughly 30 times less CPU than parsing it).

    Parameters
    ----------
    path : str or path-like
        ``HIGGS.csv``, ``HIGGS.csv.gz`` (gzip is detected from the content, not
        the name), any CSV with a header in a common spelling (``lepton pT`` or
        ``lepton_pT``, ``jet 1 b-tag`` or ``jet_1_btag``, ``class label``,
        ``label`` or ``target``; label first, last or absent), or a
        ``.parquet`` file.
    n_rows : int, optional
        Read only the first ``n_rows`` events.  A partial read uses an
        existing cache entry but never creates one.
    cache : bool, str, path-like or None, default=None
        Parquet cache for CSV input (Parquet input is never cached).
        ``None``: cache CSV files of at least :data:`CACHE_MIN_BYTES`
        (64 MiB, about 90,000 raw events) in :func:`get_cache_dir`
        (``$HIGGS_SK_CACHE``, else ``~/.cache/higgs_sk/parquet``).
        ``True``: cache whatever the size.  ``False``: never read or write
        the cache.  A directory: cache there whatever the size.  Entries
        are keyed by the file's real path, size, modification time and
        inode, so an edited or replaced file is parsed again; a damaged
        entry is detected (column checksums, row count, schema) and
        rebuilt; entries are written to a temporary file and renamed, so
        concurrent loads never see a partial file.  Failing to write the
        cache only warns.  :func:`clear_cache` empties it.

    Returns
    -------
    pandas.DataFrame
        One row per event, in file order: the features present in the file
        (at least the 21 low-level ones) as float32 with canonical names in
        UCI order, then ``label`` as int8 (0 or 1) when the file has labels.

    Raises
    ------
    FileNotFoundError, IsADirectoryError
        The path is missing or a directory.
    higgs_sk.exceptions.DataFormatError
        The content is not HIGGS data; the message names the file and, where
        possible, the column and line.

    Examples
    --------
    >>> from higgs_sk.datasets import load_higgs
    >>> df = load_higgs("tests/data/higgs_uci_format_2000.csv")  # doctest: +SKIP
    >>> df.shape, int(df["label"].iloc[0])                       # doctest: +SKIP
    ((2000, 29), 1)
    >>> df = load_higgs("HIGGS.csv.gz", cache="/scratch/cache")  # doctest: +SKIP
    """
    if n_rows is not None and (int(n_rows) != n_rows or n_rows < 1):
        raise ValueError(f"n_rows must be a positive integer, got {n_rows!r}")
    cache = _check_cache_arg(cache)
    path = _check_path(path)
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in (".parquet", ".pq"):
        builder, first_line = _read_parquet(path, n_rows)
        return builder.finish(path, first_line)
    if not (not suffixes or suffixes[-1] in (".csv", ".gz", ".txt") or ".csv" in suffixes):
        raise DataFormatError(
            f"{path}: unknown file extension {path.suffix!r}; "
            f"use .csv, .csv.gz or .parquet"
        )
    folder = _cache_folder(cache, path)
    if folder is not None:
        entry, facts = _cache_entry(path, folder)
        frame = _read_cache(entry, facts, n_rows)
        if frame is not None:
            return frame
    builder, first_line = _read_csv(path, n_rows)
    frame = builder.finish(path, first_line)
    del builder
    # Key the entry by the state seen before parsing, and skip it if the file
    # changed while it was being read.
    if folder is not None and n_rows is None and _cache_entry(path, folder)[1] == facts:
        _write_cache(frame, entry, facts)
    return frame


_DESCR = """\
HIGGS sample bundled with higgs-sk
----------------------------------

9,000 real events of the UCI HIGGS data set (Baldi, Sadowski & Whiteson,
"Searching for exotic particles in high-energy physics with deep learning",
Nature Communications 5, 4308 (2014); UCI Machine Learning Repository,
data set 280, licence CC BY 4.0).  They are a 0.1 % sample taken from the
public repository sassoftware/sas-viya-workbench-examples (data/higgs.csv,
Apache-2.0); values rounded to 9 significant digits by that source, which
round-trips float32 exactly.

Features: 21 low-level detector measurements (lepton pT, eta, phi; missing
energy magnitude and phi; four jets' pT, eta, phi and b-tag) and 7 high-level
invariant masses (m_jj, m_jjj, m_lv, m_jlv, m_bb, m_wbb, m_wwbb).
Target: 1 = signal (gg -> H0 -> W H+-), 0 = background (ttbar).
Signal fraction: 0.530.
"""


def load_sample(*, return_X_y=False, as_frame=False):
    """Load the 9,000 real HIGGS events shipped inside the package.

    Follows scikit-learn's loader conventions (``load_breast_cancer``).

    Parameters
    ----------
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.
    as_frame : bool, default=False
        Return ``data`` as a DataFrame and ``target`` as a Series and fill
        ``frame``; otherwise NumPy arrays and ``frame=None``.

    Returns
    -------
    sklearn.utils.Bunch or tuple
        Bunch with ``data`` (9000, 28) float32, ``target`` (9000,) int8,
        ``frame``, ``feature_names``, ``target_names``, ``DESCR`` and
        ``filename``.

    Examples
    --------
    >>> from higgs_sk import load_sample
    >>> bunch = load_sample()
    >>> bunch.data.shape, round(float(bunch.target.mean()), 3)
    ((9000, 28), 0.53)
    """
    ref = resources.files("higgs_sk") / "data" / _SAMPLE_FILE
    with resources.as_file(ref) as path:
        frame = load_higgs(path)
        filename = str(path)
    data = frame[FEATURE_NAMES]
    target = frame[LABEL]
    if not as_frame:
        data, target, frame = data.to_numpy(), target.to_numpy(), None
    if return_X_y:
        return data, target
    return Bunch(
        data=data,
        target=target,
        frame=frame,
        feature_names=np.array(FEATURE_NAMES, dtype=object),
        target_names=np.array(["background", "signal"], dtype=object),
        DESCR=_DESCR,
        filename=filename,
    )
