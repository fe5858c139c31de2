"""fetch_higgs against a local HTTP server: download, resume, checksum, cache, split.

Nothing here leaves 127.0.0.1: a threaded ``http.server`` on an ephemeral port
serves a gzip of the 2,000 real events in raw UCI format, with Range support
and switches to drop the connection or ignore Range.
"""

import argparse
import gzip
import hashlib
import http.server
import re
import sys
import threading

import numpy as np
import pyarrow.parquet as pq
import pytest

import higgs_sk.fetch as fetch_mod
from higgs_sk.datasets import FEATURE_NAMES, LABEL, load_higgs
from higgs_sk.exceptions import ChecksumError
from higgs_sk.fetch import add_fetch_parser, fetch_higgs, get_data_home, run_fetch

N_EVENTS = 2000
N_TEST = 500
TIMEOUT = 5.0
_real_ensure = fetch_mod._ensure_cache  # before any monkeypatching


class _Handler(http.server.BaseHTTPRequestHandler):
    # Set per test by the fixture, on a subclass.
    body = b""
    ignore_range = False
    drop_first_after = None  # bytes sent on the first request before hanging up
    status_override = None
    requests = None  # list of (path, Range header or None, status sent)

    def do_GET(self):  # noqa: N802 - http.server API
        rng = self.headers.get("Range")
        if self.status_override:
            self.requests.append((self.path, rng, self.status_override))
            self.send_error(self.status_override)
            return
        start = 0
        m = re.fullmatch(r"bytes=(\d+)-", rng or "")
        if m and not self.ignore_range:
            start = int(m.group(1))
            if start >= len(self.body):
                self.requests.append((self.path, rng, 416))
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(self.body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header(
                "Content-Range", f"bytes {start}-{len(self.body) - 1}/{len(self.body)}"
            )
            status = 206
        else:
            self.send_response(200)
            status = 200
        self.send_header("Content-Type", "application/x-gzip")
        self.send_header("Content-Length", str(len(self.body) - start))
        self.end_headers()
        first = not self.requests
        self.requests.append((self.path, rng, status))
        payload = self.body[start:]
        if first and self.drop_first_after is not None:
            # Promise the whole body, send part of it, hang up: a dropped connection.
            payload = payload[: self.drop_first_after]
            self.close_connection = True
        self.wfile.write(payload)
        self.wfile.flush()

    def log_message(self, *args):  # keep pytest output clean
        pass


@pytest.fixture(scope="module")
def archive(tmp_path_factory, uci_path):
    """Gzip of the 2,000 real events, its size and SHA-256."""
    raw = uci_path.read_bytes()
    data = gzip.compress(raw, compresslevel=6, mtime=0)
    path = tmp_path_factory.mktemp("served") / "HIGGS.csv.gz"
    path.write_bytes(data)
    last_line = raw.rstrip(b"\n").rsplit(b"\n", 1)[-1].decode()
    return {
        "data": data,
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "last": np.array(last_line.split(","), dtype=np.float64).astype(np.float32),
    }


@pytest.fixture
def server(archive):
    handler = type("Handler", (_Handler,), {"body": archive["data"], "requests": []})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    handler.url = f"http://127.0.0.1:{httpd.server_address[1]}/HIGGS.csv.gz"
    yield handler
    httpd.shutdown()
    httpd.server_close()
    thread.join(TIMEOUT)


@pytest.fixture(autouse=True)
def _fast(monkeypatch):
    monkeypatch.setattr(fetch_mod, "_RETRY_WAIT", 0.0)
    monkeypatch.setattr(fetch_mod, "_ROW_GROUP_SIZE", 500)  # 4 row groups for 2,000 events
    monkeypatch.delenv("HIGGS_SK_DATA", raising=False)


def _fetch(home, server, archive, **kw):
    kw.setdefault("progress", False)
    kw.setdefault("retries", 0)
    return fetch_higgs(
        home, url=server.url, size=archive["size"], sha256=archive["sha256"],
        n_test=N_TEST, timeout=TIMEOUT, **kw,
    )  # fmt: skip


def _check_split(b, archive):
    assert b.X_train.shape == (N_EVENTS - N_TEST, 28)
    assert b.X_test.shape == (N_TEST, 28)
    assert list(b.X_train.columns) == FEATURE_NAMES
    assert (b.X_train.dtypes == np.float32).all() and b.y_train.dtype == np.int8
    assert b.y_test.name == LABEL and set(np.unique(b.y_train)) <= {0, 1}
    # First event of the UCI file, bit for bit as float32.
    assert b.X_train["lepton_pT"].iloc[0] == np.float32(0.869293212890625)
    assert b.y_train.iloc[0] == 1
    # The last test event is the last line of the file.
    assert b.y_test.iloc[-1] == archive["last"][0]
    np.testing.assert_array_equal(b.X_test.iloc[-1].to_numpy(), archive["last"][1:])
    # Rows keep their event number, as train_test_split keeps a frame's index.
    assert b.X_test.index[0] == N_EVENTS - N_TEST and b.y_test.index[-1] == N_EVENTS - 1


def test_full_download_verifies_caches_and_splits(tmp_path, server, archive):
    b = _fetch(tmp_path, server, archive)
    _check_split(b, archive)
    assert server.requests == [("/HIGGS.csv.gz", None, 200)]
    assert (tmp_path / "HIGGS.csv.gz").read_bytes() == archive["data"]
    assert not (tmp_path / "HIGGS.csv.gz.part").exists()
    assert b.filename == str(tmp_path / "HIGGS.csv.gz")
    assert b.cache_filename == str(tmp_path / "HIGGS.parquet")
    meta = pq.ParquetFile(b.cache_filename).metadata
    assert meta.num_rows == N_EVENTS and meta.num_row_groups == 4
    assert not list(tmp_path.glob("*.tmp"))
    assert "HIGGS" in b.DESCR and list(b.target_names) == ["background", "signal"]


def test_second_call_reads_parquet_cache_only(tmp_path, server, archive, monkeypatch):
    first = _fetch(tmp_path, server, archive)
    n_requests = len(server.requests)

    def no_parse(*a, **k):
        raise AssertionError("the CSV was parsed again")

    monkeypatch.setattr(fetch_mod, "load_higgs", no_parse)
    (tmp_path / "HIGGS.csv.gz").unlink()  # the cache alone is enough
    second = _fetch(tmp_path, server, archive)
    assert len(server.requests) == n_requests
    for key in ("X_train", "X_test", "y_train", "y_test"):
        assert first[key].equals(second[key])


def test_interrupted_download_resumes_with_range(tmp_path, server, archive):
    k = archive["size"] // 3
    server.drop_first_after = k
    with pytest.raises(ConnectionError, match="resumes"):
        _fetch(tmp_path, server, archive, retries=0)
    part = tmp_path / "HIGGS.csv.gz.part"
    assert part.read_bytes() == archive["data"][:k]
    assert not (tmp_path / "HIGGS.csv.gz").exists()

    b = _fetch(tmp_path, server, archive)
    assert server.requests == [
        ("/HIGGS.csv.gz", None, 200),
        ("/HIGGS.csv.gz", f"bytes={k}-", 206),
    ]
    assert (tmp_path / "HIGGS.csv.gz").read_bytes() == archive["data"]
    assert not part.exists()
    _check_split(b, archive)


def test_dropped_connection_is_retried_within_the_call(tmp_path, server, archive):
    k = archive["size"] // 2
    server.drop_first_after = k
    _check_split(_fetch(tmp_path, server, archive, retries=2), archive)
    assert [r[1:] for r in server.requests] == [(None, 200), (f"bytes={k}-", 206)]


def test_existing_part_file_is_resumed(tmp_path, server, archive):
    k = 12345
    (tmp_path / "HIGGS.csv.gz.part").write_bytes(archive["data"][:k])
    _fetch(tmp_path, server, archive)
    assert [r[1:] for r in server.requests] == [(f"bytes={k}-", 206)]
    assert (tmp_path / "HIGGS.csv.gz").read_bytes() == archive["data"]


def test_complete_part_file_needs_no_request(tmp_path, server, archive):
    (tmp_path / "HIGGS.csv.gz.part").write_bytes(archive["data"])
    _check_split(_fetch(tmp_path, server, archive), archive)
    assert server.requests == []


def test_server_ignoring_range_restarts_cleanly(tmp_path, server, archive):
    # Garbage in the .part proves the 200 body replaced it instead of being appended.
    k = 4096
    (tmp_path / "HIGGS.csv.gz.part").write_bytes(b"\0" * k)
    server.ignore_range = True
    _check_split(_fetch(tmp_path, server, archive), archive)
    assert [r[1:] for r in server.requests] == [(f"bytes={k}-", 200)]
    assert (tmp_path / "HIGGS.csv.gz").read_bytes() == archive["data"]


def test_checksum_mismatch_raises_and_keeps_no_file(tmp_path, server, archive):
    wrong = "0" * 64
    with pytest.raises(ChecksumError) as info:
        fetch_higgs(
            tmp_path, url=server.url, size=archive["size"], sha256=wrong,
            n_test=N_TEST, progress=False, timeout=TIMEOUT, retries=0,
        )  # fmt: skip
    msg = str(info.value)
    assert "HIGGS.csv.gz" in msg and wrong in msg and archive["sha256"] in msg
    assert isinstance(info.value, OSError)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_size_reported_by_server_is_checked_before_downloading(tmp_path, server, archive):
    with pytest.raises(ChecksumError, match=rf"expected {archive['size'] + 1} bytes.*"
                       rf"reports {archive['size']} bytes"):  # fmt: skip
        fetch_higgs(
            tmp_path, url=server.url, size=archive["size"] + 1, sha256=archive["sha256"],
            progress=False, timeout=TIMEOUT, retries=0,
        )  # fmt: skip
    assert not (tmp_path / "HIGGS.csv.gz").exists()


def test_corrupt_archive_in_data_home_is_not_used(tmp_path, server, archive):
    bad = bytearray(archive["data"])
    bad[100] ^= 0xFF
    (tmp_path / "HIGGS.csv.gz").write_bytes(bytes(bad))
    with pytest.raises(ChecksumError, match="SHA-256 mismatch.*delete it"):
        _fetch(tmp_path, server, archive)
    assert not (tmp_path / "HIGGS.parquet").exists() and server.requests == []


def test_cache_from_another_file_is_rebuilt(tmp_path, server, archive, monkeypatch):
    _fetch(tmp_path, server, archive)
    calls = []
    monkeypatch.setattr(fetch_mod, "load_higgs", lambda p, **kw: calls.append(p) or load_higgs(p, **kw))
    table = pq.read_table(tmp_path / "HIGGS.parquet")
    meta = dict(table.schema.metadata)
    meta[b"higgs_sk.source_sha256"] = b"f" * 64
    pq.write_table(table.replace_schema_metadata(meta), tmp_path / "HIGGS.parquet")
    _check_split(_fetch(tmp_path, server, archive), archive)
    assert len(calls) == 1 and len(server.requests) == 1


def test_http_error_is_reported_and_leaves_no_part(tmp_path, server, archive):
    server.status_override = 404
    with pytest.raises(OSError, match="404"):
        _fetch(tmp_path, server, archive)
    assert list(tmp_path.iterdir()) == []


def test_download_if_missing_false(tmp_path, server, archive):
    with pytest.raises(OSError, match="download_if_missing"):
        _fetch(tmp_path, server, archive, download_if_missing=False)
    assert server.requests == []


def test_return_x_y_and_n_test_validation(tmp_path, server, archive):
    X_train, X_test, y_train, y_test = _fetch(tmp_path, server, archive, return_X_y=True)
    assert len(X_train) == len(y_train) == N_EVENTS - N_TEST and len(X_test) == N_TEST
    with pytest.raises(ValueError, match="no training events"):
        fetch_higgs(
            tmp_path, url=server.url, size=archive["size"], sha256=archive["sha256"],
            n_test=N_EVENTS, progress=False,
        )  # fmt: skip
    with pytest.raises(ValueError, match="n_test"):
        fetch_higgs(tmp_path, n_test=-1)


def test_data_home_defaults(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("USERPROFILE", str(tmp_path))
    assert get_data_home() == tmp_path / ".cache" / "higgs_sk"
    monkeypatch.setenv("HIGGS_SK_DATA", str(tmp_path / "env"))
    assert get_data_home() == tmp_path / "env" and (tmp_path / "env").is_dir()
    assert get_data_home(tmp_path / "arg") == tmp_path / "arg"


@pytest.mark.parametrize("with_tqdm", [False, True])
def test_progress_on_stderr(tmp_path, server, archive, monkeypatch, capsys, with_tqdm):
    if with_tqdm:
        pytest.importorskip("tqdm")
    else:
        monkeypatch.setitem(sys.modules, "tqdm", None)  # import tqdm -> ImportError
    _fetch(tmp_path, server, archive, progress=True)
    out, err = capsys.readouterr()
    assert out == ""
    assert "100" in err and "HIGGS.csv.gz" in err and "HIGGS.parquet" in err


def test_cli_fetch(tmp_path, server, archive, monkeypatch, capsys):
    parser = argparse.ArgumentParser(prog="higgs-sk")
    add_fetch_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["fetch", "--data-home", str(tmp_path), "--url", server.url,
                              "--quiet"])  # fmt: skip
    monkeypatch.setattr(
        fetch_mod, "_ensure_cache",
        lambda *a, **k: _real_ensure(
            *a, **k, size=archive["size"], sha256=archive["sha256"], timeout=TIMEOUT
        ),
    )
    assert args.func is run_fetch and args.func(args) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "HIGGS.parquet")
    assert pq.ParquetFile(tmp_path / "HIGGS.parquet").metadata.num_rows == N_EVENTS



def test_concurrent_download_of_same_part_is_refused(tmp_path, server, archive):
    fcntl = pytest.importorskip("fcntl")
    with open(tmp_path / "HIGGS.csv.gz.part", "wb") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # "another process"
        with pytest.raises(OSError, match="another process"):
            _fetch(tmp_path, server, archive)
    assert server.requests == []
