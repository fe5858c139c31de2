"""Out-of-core training: the full 11-million-event HIGGS file in bounded memory.

:func:`train_streaming` trains the standard pipeline (feature selector →
``StandardScaler`` → :class:`~higgs_sk.model.HiggsClassifier`) on a Parquet
or CSV file chunk by chunk, so peak memory follows ``chunk_size``, not the
size of the file:

1. **Scan.**  One pass over the file validates every event (finite
   features, 0/1 labels), counts them and fits the scaler with
   ``StandardScaler.partial_fit``.  A CSV file (raw UCI, with header, gzip or
   not) is copied during this pass into an anonymous temporary *spool* of
   float32 rows holding only the selected features and the label, so later
   epochs neither parse text again nor have to read the file in order.
2. **Epochs.**  Each epoch visits the chunks in a new random order and
   shuffles the events inside each chunk; the network takes one Keras
   ``fit`` pass over every chunk, with the same batch size as in-memory
   training.  Optimizer state carries over from chunk to chunk.

The result is a plain fitted :class:`sklearn.pipeline.Pipeline`, identical in
structure to :func:`~higgs_sk.pipeline.make_higgs_pipeline`, so
:func:`~higgs_sk.persistence.save_pipeline`, ``load_pipeline``, ``evaluate``
and ``predict_proba`` work on it as on any other.

Chunks
------
For Parquet the chunks follow the row groups: consecutive row groups are
packed together up to ``chunk_size`` events, and a row group larger than
``chunk_size`` is read in ``chunk_size`` slices that stay together (so the
file is decoded once per epoch).  The cache written by ``higgs-sk fetch``
has 500,000-event row groups, so with the default ``chunk_size`` every
chunk is one row group.  For CSV the chunks are consecutive
``chunk_size``-event slices of the spool.

Early stopping
--------------
With ``early_stopping=True`` a share ``validation_fraction`` of the
*chunks* (at least one), evenly spread over the file, is held out; after
every epoch the loss on them is computed, and training stops when it has not
improved for ``patience`` epochs.  The weights of the best epoch are
restored.  Held-out chunks are never trained on.  Whole chunks, not single
events, are held out because that costs no extra pass over the file.

Examples
--------
>>> from higgs_sk.streaming import train_streaming
>>> pipe, info = train_streaming("HIGGS.parquet", epochs=5)   # doctest: +SKIP
>>> info["events_per_epoch"]                                   # doctest: +SKIP
[10450000, 10450000, 10450000, 10450000, 10450000]
"""

from __future__ import annotations

import copy
import math
from collections import defaultdict
import re
import sys
import tempfile
import time
import warnings
import zlib

import numpy as np
import pandas as pd

# The loader's own helpers, so header detection, canonical column names and
# the error messages are exactly those of load_higgs.
from .datasets import (
    _CSV_BLOCK_SIZE,
    LABEL,
    _check_path,
    _csv_layout,
    _explain_arrow_error,
    _is_gzip,
    _is_number,
    _layout_from_names,
    _layout_headerless,
    _locate_csv_error,
    _table_to_frame,
)
from .exceptions import DataFormatError
from .features import resolve_features

__all__ = ["train_streaming", "iter_higgs_chunks", "DEFAULT_CHUNK_SIZE"]

DEFAULT_CHUNK_SIZE = 500_000
"""Events per chunk: one row group of the ``higgs-sk fetch`` cache.  About
45 MB of float32 for the 21 low-level features; peak memory of a streamed
run stays well under 2 GB, most of it TensorFlow itself."""

_SCALER_BLOCK = 1 << 16  # events per StandardScaler.partial_fit call


# --------------------------------------------------------------------------- reading


def _file_format(path):
    """``"parquet"`` or ``"csv"``, by the same extension rule as load_higgs."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in (".parquet", ".pq"):
        return "parquet"
    if not suffixes or suffixes[-1] in (".csv", ".gz", ".txt") or ".csv" in suffixes:
        return "csv"
    raise DataFormatError(
        f"{path}: unknown file extension {path.suffix!r}; use .csv, .csv.gz or .parquet"
    )


def _parquet_layout(pf, path):
    """``{canonical name: name in the file}`` for a Parquet file."""
    names = pf.schema_arrow.names
    if all(_is_number(n) for n in names):
        canon = _layout_headerless(len(names), path)
    else:
        canon = _layout_from_names(names, path)
    return dict(zip(canon, names))


def _open_parquet(path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        # pre_buffer=True (pyarrow's default) keeps every pre-buffered column
        # chunk until the reader is closed: RSS grew by the whole file over a
        # scan (+44 MB per 500,000 events).  Without it memory stays flat.
        return pq.ParquetFile(str(path), pre_buffer=False)
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataFormatError(f"{path}: not a readable Parquet file ({exc})") from exc


def _check_columns(path, available, columns):
    missing = [c for c in columns if c not in available]
    if missing:
        raise DataFormatError(f"{path}: column(s) missing: {missing}")


def _iter_raw_batches(path, fmt, columns):
    """Yield ``(table, first_data_line)`` with canonical names, in file order.

    ``first_data_line`` is the 1-based line of the file's first event, so
    error messages can name lines.  Batches have whatever size the reader
    chooses; :func:`iter_higgs_chunks` re-cuts them.
    """
    import pyarrow as pa

    if fmt == "parquet":
        pf = _open_parquet(path)
        raw_of = _parquet_layout(pf, path)
        _check_columns(path, raw_of, columns)
        canon_of = {raw: c for c, raw in raw_of.items()}
        try:
            for batch in pf.iter_batches(batch_size=1 << 16, columns=[raw_of[c] for c in columns]):
                table = pa.Table.from_batches([batch])
                yield table.rename_columns([canon_of[n] for n in table.column_names]), 1
        except (pa.ArrowInvalid, OSError) as exc:
            raise DataFormatError(f"{path}: unreadable Parquet data ({exc})") from exc
        return

    import pyarrow.csv as pacsv

    names, has_header = _csv_layout(path)
    _check_columns(path, names, columns)
    read_opts = pacsv.ReadOptions(
        column_names=names, skip_rows=1 if has_header else 0, block_size=_CSV_BLOCK_SIZE
    )
    # Only the needed columns are converted; labels as float64 so that 0.0/1.0
    # and 0/1 both pass, exactly as load_higgs reads them.
    conv_opts = pacsv.ConvertOptions(
        column_types={c: (pa.float64() if c == LABEL else pa.float32()) for c in columns},
        include_columns=list(columns),
    )
    first_line = 2 if has_header else 1
    source = pa.input_stream(str(path), compression="gzip" if _is_gzip(path) else None)
    try:
        reader = pacsv.open_csv(source, read_options=read_opts, convert_options=conv_opts)
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            yield pa.Table.from_batches([batch]), first_line
    except (pa.ArrowInvalid, EOFError, OSError, zlib.error) as exc:
        where = _locate_csv_error(path, names, has_header, _is_gzip(path), exc)
        raise DataFormatError(f"{path}: {where or _explain_arrow_error(exc, has_header)}") from exc
    finally:
        source.close()


def _global_event_numbers(exc, start):
    """Shift the chunk-relative "(event N)" of a loader message to file positions."""
    return re.sub(r"\(event (\d+)\)", lambda m: f"(event {int(m.group(1)) + start})", str(exc))


def iter_higgs_chunks(path, chunk_size=DEFAULT_CHUNK_SIZE, *, columns=None, max_events=None):
    """Read a HIGGS file as validated DataFrames of at most ``chunk_size`` events.

    Memory stays proportional to ``chunk_size`` whatever the file size.  Same
    formats, header detection, canonical names, dtypes and checks as
    :func:`~higgs_sk.datasets.load_higgs`; concatenating the chunks gives
    ``load_higgs(path)[columns]``.

    Parameters
    ----------
    path : str or path-like
        Raw UCI CSV (gzip or not), CSV with a header, or Parquet.
    chunk_size : int, default=DEFAULT_CHUNK_SIZE
        Events per chunk; every chunk but the last has exactly this many.
    columns : list of str, optional
        Canonical names to read (``label`` included if wanted); default: all
        columns of the file.  Reading fewer columns is faster and uses less
        memory.
    max_events : int, optional
        Stop after the first ``max_events`` events of the file.

    Yields
    ------
    pandas.DataFrame
        Features as float32, ``label`` as int8, indexed by the event's
        position in the file.

    Raises
    ------
    higgs_sk.exceptions.DataFormatError
        Not HIGGS data, a missing column, or a bad value; the message names
        the line (CSV) and the event position.

    Examples
    --------
    >>> from higgs_sk.streaming import iter_higgs_chunks
    >>> sizes = [len(c) for c in iter_higgs_chunks("tests/data/higgs_uci_format_2000.csv", 800)]
    >>> sizes                                                     # doctest: +SKIP
    [800, 800, 400]
    """
    import pyarrow as pa

    chunk_size = _check_positive_int(chunk_size, "chunk_size")
    limit = math.inf if max_events is None else _check_positive_int(max_events, "max_events")
    path = _check_path(path)
    fmt = _file_format(path)
    if columns is None:
        columns = _file_columns(path, fmt)
    columns = list(columns)
    pending, n_pending, start, first_line = [], 0, 0, 1

    def emit(table):
        nonlocal start
        try:
            frame = _table_to_frame(table, path, first_line + start)
        except DataFormatError as exc:
            raise DataFormatError(_global_event_numbers(exc, start)) from None
        frame.index = pd.RangeIndex(start, start + len(frame))
        start += len(frame)
        wanted = [c for c in columns if c in frame.columns]
        # Reordering copies the chunk; skip it when the order is already right.
        return frame if list(frame.columns) == wanted else frame[wanted]

    for table, first_line in _iter_raw_batches(path, fmt, columns):
        room = limit - start - n_pending
        if table.num_rows > room:
            table = table.slice(0, room)
        pending.append(table)
        n_pending += table.num_rows
        while n_pending >= chunk_size:
            joined = pa.concat_tables(pending)
            yield emit(joined.slice(0, chunk_size))
            rest = joined.slice(chunk_size)
            pending, n_pending = ([rest] if rest.num_rows else []), rest.num_rows
        if start + n_pending >= limit:
            break  # the reader is closed by the generator's cleanup
    if n_pending:
        yield emit(pa.concat_tables(pending))
    elif start == 0:
        raise DataFormatError(f"{path}: the file holds no events")


def _file_columns(path, fmt):
    if fmt == "parquet":
        return [c for c in _parquet_layout(_open_parquet(path), path)]
    return _csv_layout(path)[0]


def _check_positive_int(value, name):
    if isinstance(value, bool) or int(value) != value or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


# --------------------------------------------------------------------------- chunk sources


class _ParquetChunks:
    """Random access to a Parquet file by chunk, following its row groups."""

    def __init__(self, path, selected, chunk_size, max_events=None):
        self.pf = _open_parquet(path)
        raw_of = _parquet_layout(self.pf, path)
        self.raw = [raw_of[c] for c in selected] + [raw_of[LABEL]]
        self.chunk_size = chunk_size
        meta = self.pf.metadata
        sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
        # A unit is a list of consecutive row groups whose events fit in one
        # chunk (packed), or a single larger row group read in chunk slices.
        self.units, self.unit_events, self.packed = [], [], []
        group, n, left = [], 0, math.inf if max_events is None else max_events

        def close_unit():
            self.units.append(group)
            self.unit_events.append(n)
            self.packed.append(sum(sizes[g] for g in group) <= chunk_size)

        for g, size in enumerate(sizes):
            size = min(size, left)  # events after max_events are not used
            if size <= 0:
                continue
            if n and n + size > chunk_size:
                close_unit()
                group, n = [], 0
            group.append(g)
            n += size
            left -= size
        if group:
            close_unit()

    def read(self, unit):
        """Yield ``(X, y)`` float32 / int arrays for one unit."""
        groups, left = self.units[unit], self.unit_events[unit]
        if self.packed[unit]:
            table = self.pf.read_row_groups(groups, columns=self.raw)
            yield self._arrays(table.slice(0, left))
            return
        for batch in self.pf.iter_batches(
            batch_size=self.chunk_size, row_groups=groups, columns=self.raw
        ):
            if left <= 0:
                break
            batch = batch.slice(0, left)
            left -= batch.num_rows
            yield self._arrays(batch)

    def _arrays(self, table):
        cols = [table.column(name).to_numpy(zero_copy_only=False) for name in self.raw]
        X = np.empty((len(cols[-1]), len(cols) - 1), dtype=np.float32)
        for j, col in enumerate(cols[:-1]):
            X[:, j] = col
        return X, cols[-1].astype(np.int64)

    def close(self):
        pass


class _SpoolChunks:
    """Float32 rows ``[selected features..., label]`` in an anonymous temp file.

    The file is unlinked from the start (``TemporaryFile``), so it disappears
    with the process however training ends.  Reads go through ``readinto``
    into fresh arrays rather than a memory map, so the operating system's
    page cache never counts towards the process' resident memory.
    """

    def __init__(self, n_columns, chunk_size, spool_dir):
        self.dir = spool_dir if spool_dir is not None else tempfile.gettempdir()
        self.fh = tempfile.TemporaryFile(prefix="higgs-sk-spool-", dir=self.dir)
        self.n_columns = n_columns
        self.chunk_size = chunk_size
        self.n_events = 0

    def append(self, X, y):
        block = np.empty((len(X), self.n_columns), dtype=np.float32)
        block[:, :-1] = X
        block[:, -1] = y
        try:
            self.fh.write(memoryview(block).cast("B"))
        except OSError as exc:
            raise OSError(
                f"writing the training spool in {str(self.dir)!r} failed ({exc}); "
                f"it needs {4 * self.n_columns} bytes per event: pass spool_dir= a "
                f"folder with more space, or convert the CSV to Parquet"
            ) from exc
        self.n_events += len(X)

    def finish(self):
        self.fh.flush()
        starts = range(0, self.n_events, self.chunk_size)
        self.units = [(s, min(s + self.chunk_size, self.n_events)) for s in starts]
        self.unit_events = [b - a for a, b in self.units]

    def read(self, unit):
        start, stop = self.units[unit]
        block = np.empty((stop - start, self.n_columns), dtype=np.float32)
        self.fh.seek(start * self.n_columns * 4)
        got = self.fh.readinto(memoryview(block).cast("B"))
        if got != block.nbytes:
            raise OSError(f"training spool truncated: read {got} of {block.nbytes} bytes")
        yield block[:, :-1], block[:, -1].astype(np.int64)

    def close(self):
        self.fh.close()


# --------------------------------------------------------------------------- training


class _Progress:
    """Status on stderr: one line redrawn per chunk on a terminal (an epoch over
    11 M events takes minutes), only the finished lines in a log file."""

    def __init__(self, enabled):
        self.enabled = enabled
        self.tty = enabled and sys.stderr.isatty()
        self.start = time.perf_counter()
        self.width = 0

    def __call__(self, text, end=""):
        if not self.enabled or not (end or self.tty):
            return
        line = f"{text}  {time.perf_counter() - self.start:6.0f}s"
        pad = " " * max(0, self.width - len(line))
        self.width = 0 if end else len(line)
        sys.stderr.write(("\r" if self.tty else "") + line + pad + end)
        sys.stderr.flush()


def _validation_units(n_units, fraction):
    """Evenly spread unit positions to hold out, at least one, never all."""
    n_val = min(max(1, round(fraction * n_units)), n_units - 1)
    return sorted({int((i + 0.5) * n_units / n_val) for i in range(n_val)})


def _release_arrow_memory():
    # Arrow's allocator (mimalloc/jemalloc) keeps freed chunk buffers for
    # reuse; over a scan that cached memory grew to several chunks' worth,
    # so hand it back after every chunk to keep the peak at one chunk.
    import pyarrow as pa

    pa.default_memory_pool().release_unused()


def _peak_rss_bytes():
    try:
        import resource
    except ImportError:  # Windows
        return None
    # Linux reports ru_maxrss in KiB, macOS in bytes.
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def train_streaming(
    path,
    *,
    chunk_size=DEFAULT_CHUNK_SIZE,
    epochs=10,
    max_events=None,
    features="low",
    scaler="standard",
    random_state=None,
    early_stopping=True,
    validation_fraction=0.05,
    patience=3,
    spool_dir=None,
    progress=False,
    callbacks=None,
    **classifier_params,
):
    """Train the standard pipeline on a file larger than memory, chunk by chunk.

    See the module documentation for the scheme (a scan pass that validates
    and fits the scaler, then epochs over shuffled chunks).

    Parameters
    ----------
    path : str or path-like
        Labelled HIGGS events: Parquet (e.g. the ``higgs-sk fetch`` cache),
        the raw UCI CSV (gzip or not) or a CSV with a header.
    chunk_size : int, default=DEFAULT_CHUNK_SIZE
        Events in memory at a time; bounds peak memory.  For Parquet, a
        chunk is made of whole row groups, or a slice of one larger row group.
    epochs : int, default=10
        Passes over the training chunks (upper bound with early stopping).
    max_events : int, optional
        Use only the first ``max_events`` events of the file, e.g.
        ``10_500_000`` on the ``higgs-sk fetch`` cache to keep its last
        500,000 events (the paper's test set, its last row group) unseen.
    features : {"low", "high", "all"} or list of str, default="low"
        As in :func:`~higgs_sk.pipeline.make_higgs_pipeline`; only these
        columns and the label are read.
    scaler : {"standard"} or None, default="standard"
        Only scalers that can be fitted incrementally are possible.
    random_state : int or None, default=None
        Seeds the network, chunk order and in-chunk shuffling; the same
        integer on the same file gives the same model.
    early_stopping : bool, default=True
        Hold out ``validation_fraction`` of the chunks, stop when their loss
        has not improved for ``patience`` epochs and keep the best epoch's
        weights.  A file of a single chunk cannot be split: a warning is
        given and all of it is trained on.
    validation_fraction : float, default=0.05
        Share of the chunks held out (rounded, at least one).
    patience : int, default=3
    spool_dir : str or path-like, optional
        Where a CSV input is spooled as float32 for the epochs (about
        ``4 * (n_features + 1)`` bytes per event, 0.97 GB for 11 M events
        with the low-level features); default: the system temporary folder.
        Not used for Parquet.
    progress : bool, default=False
        Draw a status line on stderr, updated per chunk.
    callbacks : list of keras.callbacks.Callback, optional
        Epoch-level callbacks (``on_train_begin``, ``on_epoch_end`` with
        ``loss`` and, with early stopping, ``val_loss``, ``val_accuracy``,
        ``on_train_end``), e.g. :class:`~higgs_sk.progress.EpochProgress`.
        Not stored in the model.
    **classifier_params
        Other :class:`~higgs_sk.model.HiggsClassifier` parameters:
        ``hidden_layer_sizes``, ``batch_size``, ``learning_rate``,
        ``dropout``, ``class_weight``, ...  ``epochs``, ``early_stopping``,
        ``validation_fraction``, ``patience`` and ``random_state`` above are
        recorded on the classifier too.

    Returns
    -------
    pipeline : sklearn.pipeline.Pipeline
        Fitted; steps ``select``, ``scale`` (unless ``scaler=None``), ``clf``.
        Accepts the same inputs as a pipeline fitted in memory on this file
        (DataFrames by column name; arrays in the file's feature layout,
        i.e. 28 columns in UCI order for the UCI data).
    info : dict
        JSON-serialisable summary:

        - ``n_events``: events used (the file's, or the first ``max_events``),
          split into ``n_train_events`` and ``n_validation_events``;
        - ``events_per_epoch``: training events seen in each epoch run;
        - ``n_chunks``, ``chunk_size``, ``validation_chunks``, ``format``;
        - ``history``: per-epoch ``loss`` (and ``val_loss``,
          ``val_accuracy``); ``epochs_run``; ``best_epoch`` (1-based, with
          early stopping);
        - ``scan_seconds``, ``train_seconds``, ``seconds``,
          ``events_per_second`` (training events × epochs / train seconds);
        - ``peak_rss_bytes``: the process' peak resident memory so far.

    Raises
    ------
    higgs_sk.exceptions.DataFormatError
        Not HIGGS data, no labels, a bad value (message names line/event).
    ValueError
        Bad parameters, or a file with only one class of events.

    Examples
    --------
    >>> from higgs_sk.streaming import train_streaming
    >>> from higgs_sk.persistence import save_pipeline
    >>> pipe, info = train_streaming("HIGGS.parquet", epochs=3, random_state=0,
    ...                              progress=True)                # doctest: +SKIP
    >>> save_pipeline(pipe, "run/model.joblib", training=info)     # doctest: +SKIP
    """
    from .pipeline import make_higgs_pipeline  # imports TensorFlow: only when training

    t_start = time.perf_counter()
    chunk_size = _check_positive_int(chunk_size, "chunk_size")
    epochs = _check_positive_int(epochs, "epochs")
    patience = _check_positive_int(patience, "patience")
    if early_stopping and not 0.0 < validation_fraction < 1.0:
        raise ValueError(f"validation_fraction must be in (0, 1), got {validation_fraction!r}")
    if scaler not in ("standard", None):
        raise ValueError(
            f"scaler={scaler!r} cannot be fitted chunk by chunk; use 'standard' or None"
        )
    selected = resolve_features(features)
    if not isinstance(selected[0], str):
        raise ValueError("features must be a group name or column names when streaming")
    path = _check_path(path)
    fmt = _file_format(path)

    pipe = make_higgs_pipeline(
        features=features, scaler=scaler, epochs=epochs, random_state=random_state,
        early_stopping=early_stopping, validation_fraction=validation_fraction,
        patience=patience, **classifier_params,
    )  # fmt: skip
    steps = dict(pipe.steps)
    selector, scale, clf = steps["select"], steps.get("scale"), steps["clf"]
    # The selector is fitted on the file's feature layout (not only the selected
    # columns), so the pipeline accepts the same inputs as one fitted in memory.
    file_columns = _file_columns(path, fmt)
    if LABEL not in file_columns:
        raise DataFormatError(f"{path}: no label column; training needs labelled events")
    file_features = [c for c in file_columns if c != LABEL]
    selector.fit(pd.DataFrame(np.zeros((1, len(file_features)), np.float32), columns=file_features))

    # -- scan: validate, count, fit the scaler, spool CSV ---------------------
    counts = np.zeros(2, dtype=np.int64)
    spool = _SpoolChunks(len(selected) + 1, chunk_size, spool_dir) if fmt == "csv" else None
    try:
        show = _Progress(progress)
        chunks = iter_higgs_chunks(
            path, chunk_size, columns=selected + [LABEL], max_events=max_events
        )
        for frame in chunks:
            X = selector.transform(frame)
            y = frame[LABEL].to_numpy()
            counts += np.bincount(y, minlength=2)[:2]
            if scale is not None:
                # partial_fit works in float64 on float32 input; slices keep
                # those temporaries small next to the chunk itself.
                for lo in range(0, len(X), _SCALER_BLOCK):
                    scale.partial_fit(X[lo : lo + _SCALER_BLOCK])
            if spool is not None:
                spool.append(X, y)
            del frame
            _release_arrow_memory()
            show(f"scanning {path.name}: {int(counts.sum()):,} events")
        show(f"scanned {path.name}: {int(counts.sum()):,} events", end="\n")
        n_events = int(counts.sum())
        if counts.min() == 0:
            raise ValueError(
                f"{path}: all {n_events} events are {'signal' if counts[1] else 'background'}; "
                f"training needs both classes"
            )
        if spool is not None:
            spool.finish()
            source = spool
        else:
            source = _ParquetChunks(path, selected, chunk_size, max_events)
        if sum(source.unit_events) != n_events:  # the file changed under us
            raise DataFormatError(
                f"{path}: {sum(source.unit_events)} events in the row groups but "
                f"{n_events} read; was the file modified during training?"
            )
        scan_seconds = time.perf_counter() - t_start
        result = _train_epochs(
            pipe, source, counts, chunk_size=chunk_size, epochs=epochs,
            early_stopping=early_stopping, validation_fraction=validation_fraction,
            patience=patience, progress=progress, callbacks=callbacks, path=path,
        )  # fmt: skip
    finally:
        if spool is not None:
            spool.close()

    seconds = time.perf_counter() - t_start
    n_val = result["n_validation_events"]
    info = {
        "format": fmt,
        "n_events": n_events,
        "max_events": max_events,
        "n_train_events": n_events - n_val,
        "n_validation_events": n_val,
        "n_signal": int(counts[1]),
        "n_background": int(counts[0]),
        "chunk_size": chunk_size,
        "n_chunks": len(source.unit_events),
        "validation_chunks": result["validation_units"],
        "events_per_epoch": result["events_per_epoch"],
        "epochs_run": clf.n_epochs_,
        "best_epoch": clf.best_epoch_,
        "history": {k: list(v) for k, v in clf.history_.items()},
        "features": features if isinstance(features, str) else list(selected),
        "classifier": {
            k: (list(v) if isinstance(v, tuple) else v)
            for k, v in clf.get_params().items()
            if k != "callbacks"
        },
        "scan_seconds": round(scan_seconds, 3),
        "train_seconds": round(result["train_seconds"], 3),
        "seconds": round(seconds, 3),
        "events_per_second": round(
            sum(result["events_per_epoch"]) / max(result["train_seconds"], 1e-9), 1
        ),
        "peak_rss_bytes": _peak_rss_bytes(),
    }
    return pipe, info


def _train_epochs(
    pipe, source, counts, *, chunk_size, epochs, early_stopping, validation_fraction,
    patience, progress, callbacks, path,
):  # fmt: skip
    """The epoch loop; sets the classifier's fitted attributes, returns counters."""
    from scikeras.utils.random_state import tensorflow_random_state

    steps = dict(pipe.steps)
    scale, clf = steps.get("scale"), steps["clf"]
    n_features = len(steps["select"].selected_)
    n_units = len(source.unit_events)

    val_units = []
    if early_stopping:
        if n_units < 2:
            warnings.warn(
                f"{path}: {sum(source.unit_events)} events make a single chunk of at most "
                f"{chunk_size}; no chunk can be held out, so early stopping is off and "
                f"every event is trained on (use a smaller chunk_size to validate)",
                UserWarning,
                stacklevel=3,
            )
        else:
            val_units = _validation_units(n_units, validation_fraction)
    train_units = np.array([u for u in range(n_units) if u not in set(val_units)])

    # Builds the network with the classifier's seed and sets classes_,
    # n_features_in_ and scikeras' encoders without training; two rows with
    # both labels are enough for that.
    clf.initialize(np.zeros((2, n_features), np.float32), np.array([0, 1]))
    model = clf.model_
    class_weight = None
    if clf.class_weight == "balanced":
        class_weight = {c: float(counts.sum() / (2.0 * counts[c])) for c in (0, 1)}
    elif clf.class_weight is not None:
        class_weight = {int(k): float(v) for k, v in dict(clf.class_weight).items()}

    def arrays(unit):
        for X, y in source.read(unit):
            _release_arrow_memory()
            if scale is not None:
                X = scale.transform(X)
            yield np.asarray(X, dtype=np.float32), y

    cbs = list(callbacks or []) + clf._schedule_callbacks()
    for cb in cbs:
        if hasattr(cb, "set_model"):
            cb.set_model(model)
    show = _Progress(progress)
    rng = np.random.default_rng(clf._random_state)  # the int scikeras derived
    history = {"loss": []}
    if val_units:
        history.update(val_loss=[], val_accuracy=[])
    events_per_epoch = []
    best_loss, best_epoch, best_weights, waited = math.inf, None, None, 0

    def run():
        nonlocal best_loss, best_epoch, best_weights, waited
        for cb in cbs:
            cb.on_train_begin({})
        for epoch in range(epochs):
            for cb in cbs:
                cb.on_epoch_begin(epoch, {})
            seen, loss_sum = 0, 0.0
            for k, unit in enumerate(rng.permutation(train_units)):
                for X, y in arrays(unit):
                    order = rng.permutation(len(y))
                    hist = model.fit(
                        X[order], y[order], batch_size=clf.batch_size, epochs=1,
                        shuffle=False, verbose=0, class_weight=class_weight,
                    )  # fmt: skip
                    loss_sum += float(hist.history["loss"][0]) * len(y)
                    seen += len(y)
                show(
                    f"epoch {epoch + 1}/{epochs}  chunk {k + 1}/{len(train_units)}  "
                    f"{seen:,} events  loss {loss_sum / max(seen, 1):.4f}"
                )
            events_per_epoch.append(seen)
            logs = {"loss": loss_sum / seen}
            if val_units:
                v_n, v_loss, v_acc = 0, 0.0, 0.0
                for unit in val_units:
                    for X, y in arrays(unit):
                        res = model.evaluate(
                            X, y, batch_size=65536, verbose=0, return_dict=True
                        )
                        v_loss += float(res["loss"]) * len(y)
                        v_acc += float(res["accuracy"]) * len(y)
                        v_n += len(y)
                logs.update(val_loss=v_loss / v_n, val_accuracy=v_acc / v_n)
            for key, value in logs.items():
                history[key].append(float(value))
            show(
                f"epoch {epoch + 1}/{epochs}  "
                + "  ".join(f"{k} {v:.4f}" for k, v in logs.items()),
                end="\n",
            )
            for cb in cbs:
                cb.on_epoch_end(epoch, dict(logs))
            if val_units:
                if logs["val_loss"] < best_loss:
                    best_loss, best_epoch, waited = logs["val_loss"], epoch + 1, 0
                    best_weights = copy.deepcopy(model.get_weights())
                else:
                    waited += 1
                    if waited >= patience:
                        break
        if best_weights is not None:
            model.set_weights(best_weights)
        for cb in cbs:
            cb.on_train_end({})

    t0 = time.perf_counter()
    if clf._random_state is not None:
        with tensorflow_random_state(clf._random_state):
            run()
    else:
        run()
    train_seconds = time.perf_counter() - t0

    # The same fitted attributes HiggsClassifier.fit leaves behind.
    clf.history_ = defaultdict(list, history)
    clf.n_epochs_ = len(history["loss"])
    clf.best_epoch_ = best_epoch
    clf._fit_callbacks = []
    clf._predict_callbacks = []
    return {
        "events_per_epoch": events_per_epoch,
        "validation_units": val_units,
        "n_validation_events": int(sum(source.unit_events[u] for u in val_units)),
        "train_seconds": train_seconds,
    }
