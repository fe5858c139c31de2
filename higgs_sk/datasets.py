"""Loading HIGGS events: column names, file readers and the bundled sample.

The UCI ``HIGGS.csv(.gz)`` file has **no header row**: the label comes first,
then 21 low-level and 7 high-level features.  Other copies in circulation have
a header (with spaces or underscores, label first or last) or are Parquet.
:func:`load_higgs` reads all of them into one canonical frame and decides
whether the first line is a header by its content, never by its position, so
the first event is never mistaken for column names.

Examples
--------
>>> from higgs_sk.datasets import load_sample, LOW_LEVEL_FEATURES
>>> X, y = load_sample(return_X_y=True, as_frame=True)
>>> X.shape, len(LOW_LEVEL_FEATURES)
((9000, 28), 21)
"""

from __future__ import annotations

import gzip
import io
import os
import re
import zlib
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

from .exceptions import DataFormatError

__all__ = [
    "LOW_LEVEL_FEATURES",
    "HIGH_LEVEL_FEATURES",
    "FEATURE_NAMES",
    "LABEL",
    "UCI_COLUMNS",
    "canonical_name",
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


def _read_csv(path, n_rows):
    import pyarrow as pa
    import pyarrow.csv as pacsv

    first = _first_line(path).rstrip("\r\n")
    if not first.strip():
        raise DataFormatError(f"{path}: line 1 is blank; expected a header or an event")
    fields = [f.strip().strip('"') for f in first.split(",")]
    numeric = [_is_number(f) for f in fields]
    if all(numeric):
        has_header = False
        columns = _layout_headerless(len(fields), path)
    elif not any(numeric):
        has_header = True
        columns = _layout_from_names(fields, path)
    else:
        raise DataFormatError(
            f"{path}: line 1 mixes names and numbers ({first[:80]!r}); "
            f"expected either a header row or an event"
        )

    types = {c: (pa.float32() if c != LABEL else pa.float64()) for c in columns}
    read_opts = pacsv.ReadOptions(
        column_names=columns, skip_rows=1 if has_header else 0, block_size=1 << 24
    )
    conv_opts = pacsv.ConvertOptions(column_types=types)
    source = pa.input_stream(str(path), compression="gzip" if _is_gzip(path) else None)
    batches = []
    n_read = 0
    try:
        reader = pacsv.open_csv(source, read_options=read_opts, convert_options=conv_opts)
        for batch in reader:
            batches.append(batch)
            n_read += batch.num_rows
            if n_rows is not None and n_read >= n_rows:
                break
        schema = reader.schema
    except (pa.ArrowInvalid, EOFError, OSError, zlib.error) as exc:
        raise DataFormatError(f"{path}: {_explain_arrow_error(exc, has_header)}") from exc
    finally:
        source.close()
    if not batches:
        raise DataFormatError(f"{path}: header only, the file holds no events")
    table = pa.Table.from_batches(batches, schema=schema)
    if n_rows is not None:
        table = table.slice(0, n_rows)
    first_data_line = 2 if has_header else 1
    return table, first_data_line


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
    if n_rows is None:
        table = pf.read()
    else:
        batches = []
        n_read = 0
        for batch in pf.iter_batches(batch_size=min(n_rows, 1 << 16)):
            batches.append(batch)
            n_read += batch.num_rows
            if n_read >= n_rows:
                break
        table = pa.Table.from_batches(batches, schema=pf.schema_arrow).slice(0, n_rows)
    return table.rename_columns(columns), 1


def _table_to_frame(table, path, first_data_line):
    """Arrow table with canonical names -> validated canonical DataFrame."""
    present = set(table.column_names)
    features = [n for n in FEATURE_NAMES if n in present]
    n = table.num_rows
    data = {}
    for name in features:
        col = table.column(name).cast("float32").to_numpy(zero_copy_only=False)
        bad = ~np.isfinite(col)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataFormatError(
                f"{path}: column {name!r} has a missing, NaN or infinite value "
                f"at line {row + first_data_line} (event {row})"
            )
        data[name] = col
    frame = pd.DataFrame(data, copy=False)
    if LABEL in present:
        label = table.column(LABEL).to_numpy(zero_copy_only=False).astype(np.float64)
        bad = ~np.isin(label, (0.0, 1.0))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataFormatError(
                f"{path}: label at line {row + first_data_line} (event {row}) is "
                f"{label[row]!r}; labels must be 0 (background) or 1 (signal)"
            )
        frame[LABEL] = label.astype(np.int8)
    assert len(frame) == n
    return frame


def load_higgs(path, n_rows=None):
    """Read HIGGS events from a raw UCI file, a CSV with header, or Parquet.

    Parameters
    ----------
    path : str or path-like
        ``HIGGS.csv``, ``HIGGS.csv.gz`` (gzip is detected from the content, not
        the name), any CSV with a header in a common spelling (``lepton pT`` or
        ``lepton_pT``, ``jet 1 b-tag`` or ``jet_1_btag``, ``class label``,
        ``label`` or ``target``; label first, last or absent), or a
        ``.parquet`` file.
    n_rows : int, optional
        Read only the first ``n_rows`` events.

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
    """
    if n_rows is not None and (int(n_rows) != n_rows or n_rows < 1):
        raise ValueError(f"n_rows must be a positive integer, got {n_rows!r}")
    path = _check_path(path)
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in (".parquet", ".pq"):
        table, first_line = _read_parquet(path, n_rows)
    elif not suffixes or suffixes[-1] in (".csv", ".gz", ".txt") or ".csv" in suffixes:
        table, first_line = _read_csv(path, n_rows)
    else:
        raise DataFormatError(
            f"{path}: unknown file extension {path.suffix!r}; "
            f"use .csv, .csv.gz or .parquet"
        )
    return _table_to_frame(table, path, first_line)


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
