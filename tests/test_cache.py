"""Parquet cache of parsed CSV files: hits, invalidation, damage, atomic writes."""

import gzip
import os
import shutil
import warnings

import pandas as pd
import pyarrow.csv
import pyarrow.parquet as pq
import pytest

import higgs_sk.datasets as datasets
from higgs_sk.datasets import FEATURE_NAMES, clear_cache, get_cache_dir, load_higgs


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Never touch the real ~/.cache, whatever a test does."""
    folder = tmp_path / "env-cache"
    monkeypatch.setenv("HIGGS_SK_CACHE", str(folder))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return folder


@pytest.fixture
def csv_copy(uci_path, tmp_path):
    """A private copy of the real raw UCI excerpt whose mtime tests may change."""
    path = tmp_path / "data" / "HIGGS.csv"
    path.parent.mkdir()
    shutil.copyfile(uci_path, path)
    return path


@pytest.fixture
def no_parse(monkeypatch):
    """After this fixture, any CSV parse fails loudly."""

    def fail(*args, **kwargs):
        raise AssertionError("the CSV file was parsed again")

    def arm():
        monkeypatch.setattr(pyarrow.csv, "open_csv", fail)
        monkeypatch.setattr(datasets, "_read_csv", fail)

    return arm


def _entries(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def _bump_mtime(path, seconds=10):
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + seconds * 10**9))


@pytest.mark.parametrize("kind", ["raw", "gzip", "header"])
def test_second_load_comes_from_the_cache(kind, csv_copy, tmp_path, no_parse):
    if kind == "gzip":
        path = csv_copy.with_suffix(".csv.gz")
        with open(csv_copy, "rb") as src, gzip.open(path, "wb") as dst:
            shutil.copyfileobj(src, dst)
    elif kind == "header":
        path = csv_copy.with_name("header.csv")
        load_higgs(csv_copy, cache=False).to_csv(path, index=False, float_format="%.9g")
    else:
        path = csv_copy
    folder = tmp_path / "cache"
    first = load_higgs(path, cache=folder)
    assert len(_entries(folder)) == 1 and _entries(folder)[0].endswith(".higgs.parquet")
    no_parse()
    second = load_higgs(path, cache=folder)
    pd.testing.assert_frame_equal(second, first, check_exact=True)
    pd.testing.assert_frame_equal(load_higgs(path, n_rows=7, cache=folder), first.iloc[:7])


def test_features_only_file_round_trips(csv_copy, tmp_path, no_parse):
    path = tmp_path / "events.csv"
    load_higgs(csv_copy, cache=False)[FEATURE_NAMES].to_csv(
        path, index=False, header=False, float_format="%.9g"
    )
    first = load_higgs(path, cache=True)
    no_parse()
    pd.testing.assert_frame_equal(load_higgs(path, cache=True), first, check_exact=True)


def test_default_caches_only_big_csv_files(csv_copy, private_cache, monkeypatch):
    load_higgs(csv_copy)  # 1.4 MB: below CACHE_MIN_BYTES
    assert _entries(private_cache) == []
    monkeypatch.setattr(datasets, "CACHE_MIN_BYTES", 1_000)
    load_higgs(csv_copy)
    assert len(_entries(private_cache)) == 1  # in $HIGGS_SK_CACHE
    assert get_cache_dir() == private_cache


def test_cache_false_never_reads_or_writes(csv_copy, tmp_path):
    folder = tmp_path / "cache"
    load_higgs(csv_copy, cache=folder)
    entry = folder / _entries(folder)[0]
    entry.write_bytes(b"not parquet")  # would be rebuilt if it were looked at
    load_higgs(csv_copy, cache=False)
    assert entry.read_bytes() == b"not parquet"


def test_changed_file_is_parsed_again(csv_copy, tmp_path):
    folder = tmp_path / "cache"
    full = load_higgs(csv_copy, cache=folder)
    old_entry = _entries(folder)
    # Same size, new content: only the modification time tells.
    text = csv_copy.read_bytes()
    one, zero = b"1.000000000000000000e+00,", b"0.000000000000000000e+00,"
    csv_copy.write_bytes(text.replace(one, zero, 1))
    _bump_mtime(csv_copy)
    changed = load_higgs(csv_copy, cache=folder)
    assert full["label"].iloc[0] == 1 and changed["label"].iloc[0] == 0
    assert len(_entries(folder)) == 1 and _entries(folder) != old_entry  # stale one removed
    # Fewer events: the size tells.
    csv_copy.write_bytes(b"".join(text.splitlines(keepends=True)[:10]))
    assert len(load_higgs(csv_copy, cache=folder)) == 10


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage", "empty"])
def test_damaged_entry_is_rebuilt_silently(damage, csv_copy, tmp_path):
    folder = tmp_path / "cache"
    ref = load_higgs(csv_copy, cache=folder)
    entry = folder / _entries(folder)[0]
    data = bytearray(entry.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "flip":
        # The middle of the file is float data; only page checksums notice.
        data[len(data) // 2] ^= 0x10
    elif damage == "garbage":
        data = bytearray(b"PAR1" + b"\x00" * 100 + b"PAR1")
    else:
        data = bytearray()
    entry.write_bytes(bytes(data))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = load_higgs(csv_copy, cache=folder)
    pd.testing.assert_frame_equal(again, ref, check_exact=True)
    assert pq.ParquetFile(entry).metadata.num_rows == len(ref)  # rewritten whole


def test_foreign_parquet_at_the_entry_name_is_not_trusted(csv_copy, tmp_path):
    folder = tmp_path / "cache"
    ref = load_higgs(csv_copy, cache=folder)
    entry = folder / _entries(folder)[0]
    ref.iloc[::-1].reset_index(drop=True).to_parquet(entry, index=False)  # valid, wrong
    pd.testing.assert_frame_equal(load_higgs(csv_copy, cache=folder), ref, check_exact=True)


def test_partial_read_uses_but_never_creates_an_entry(csv_copy, tmp_path, no_parse):
    folder = tmp_path / "cache"
    load_higgs(csv_copy, n_rows=5, cache=folder)
    assert _entries(folder) == []
    full = load_higgs(csv_copy, cache=folder)
    no_parse()
    pd.testing.assert_frame_equal(
        load_higgs(csv_copy, n_rows=1500, cache=folder), full.iloc[:1500], check_exact=True
    )


def test_write_is_atomic_and_leaves_no_temp_files(csv_copy, tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    load_higgs(csv_copy, cache=folder)
    assert [n for n in _entries(folder) if not n.endswith(".higgs.parquet")] == []

    other = tmp_path / "cache2"
    real_write = pq.write_table

    def write_then_crash(table, where, **kwargs):
        real_write(table.slice(0, 10), where, **kwargs)  # a partial file on disk...
        raise OSError("disk full")  # ...then the writer dies

    monkeypatch.setattr(pq, "write_table", write_then_crash)
    with pytest.warns(RuntimeWarning, match="could not write the Parquet cache"):
        frame = load_higgs(csv_copy, cache=other)
    assert len(frame) == 2000
    assert _entries(other) == []  # neither a temp file nor a half-written entry


def test_file_changed_while_parsing_is_not_cached(csv_copy, tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    real_read = datasets._read_csv

    def read_and_touch(path, n_rows):
        result = real_read(path, n_rows)
        _bump_mtime(path)
        return result

    monkeypatch.setattr(datasets, "_read_csv", read_and_touch)
    load_higgs(csv_copy, cache=folder)
    assert [n for n in _entries(folder) if n.endswith(".higgs.parquet")] == []


def test_parquet_input_is_never_cached(csv_copy, tmp_path):
    pq_path = tmp_path / "h.parquet"
    load_higgs(csv_copy, cache=False).to_parquet(pq_path, index=False)
    load_higgs(pq_path, cache=tmp_path / "cache")
    assert _entries(tmp_path / "cache") == []


def test_clear_cache_and_arguments(csv_copy, tmp_path):
    folder = tmp_path / "cache"
    (folder).mkdir()
    (folder / "keep.txt").write_text("not ours")
    load_higgs(csv_copy, cache=folder)
    (entry,) = [p for p in folder.iterdir() if p.name.endswith(".higgs.parquet")]
    # What a write killed between open and rename (SIGKILL, power loss) leaves.
    (folder / f".{entry.name}.k3j2x9.tmp").write_bytes(b"PAR1 half")
    (folder / ".tmp-old01.parquet").write_bytes(b"PAR1 half")
    assert clear_cache(folder) == 3
    assert _entries(folder) == ["keep.txt"]
    with pytest.raises(TypeError, match="cache must be"):
        load_higgs(csv_copy, cache=3)
    with pytest.raises(ValueError, match="empty string"):
        load_higgs(csv_copy, cache="")


def test_cached_frame_is_an_ordinary_writeable_frame(csv_copy, tmp_path):
    folder = tmp_path / "cache"
    parsed = load_higgs(csv_copy, cache=folder)
    cached = load_higgs(csv_copy, cache=folder)
    for frame in (parsed, cached):
        frame.loc[0, "lepton_pT"] = 5.0  # would fail on read-only Arrow memory
        frame.iloc[1, 0] = 6.0
        assert frame.loc[0, "lepton_pT"] == 5.0 and frame.iloc[1, 0] == 6.0
    # Editing one copy never leaks into the cache or into another load.
    again = load_higgs(csv_copy, cache=folder)
    assert again.loc[0, "lepton_pT"] != 5.0


def test_checksum_sees_flips_and_moved_blocks():
    import numpy as np

    data = np.random.default_rng(0).random(5_001).astype(np.float32)
    ref = datasets._checksum(data)
    assert datasets._checksum(data.copy()) == ref
    flipped = data.copy()
    flipped.view(np.uint8)[7_777] ^= 1
    swapped = data.copy()
    swapped[:1024], swapped[1024:2048] = data[1024:2048], data[:1024]  # two 4 KiB blocks
    assert datasets._checksum(flipped) != ref and datasets._checksum(swapped) != ref
    # Unaligned column views (as in one pandas block with an odd row count) work.
    block = np.arange(2 * 1_001, dtype=np.float32).reshape(2, 1_001)
    assert datasets._checksum(block[1]) == datasets._checksum(block[1].copy())


def test_damage_is_caught_on_partial_reads_too(csv_copy, tmp_path):
    folder = tmp_path / "cache"
    ref = load_higgs(csv_copy, cache=folder)
    entry = folder / _entries(folder)[0]
    first_page = pq.ParquetFile(entry).metadata.row_group(0).column(0).data_page_offset
    data = bytearray(entry.read_bytes())
    data[first_page + 200] ^= 0x10  # inside the first values of lepton_pT
    entry.write_bytes(bytes(data))
    pd.testing.assert_frame_equal(
        load_higgs(csv_copy, n_rows=100, cache=folder), ref.iloc[:100], check_exact=True
    )
