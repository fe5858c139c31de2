"""The SYNTHETIC event generator (benchmarks only): format, layout, reproducibility."""

import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from higgs_sk.datasets import FEATURE_NAMES, LABEL, UCI_COLUMNS, load_higgs, load_sample
from higgs_sk.synthetic import (
    format_uci_rows,
    iter_synthetic,
    main,
    make_synthetic,
    write_synthetic,
)

BTAGS = [n for n in FEATURE_NAMES if n.endswith("_btag")]
PHIS = [n for n in FEATURE_NAMES if n.endswith("_phi")]
ETAS = [n for n in FEATURE_NAMES if n.endswith("_eta")]
POSITIVE = [n for n in FEATURE_NAMES if n not in BTAGS + PHIS + ETAS]
# One raw UCI value: C's %.18e, e.g. -1.092063903808593750e+00
UCI_VALUE = r"-?\d\.\d{18}e[+-]\d\d"
UCI_LINE = re.compile(rf"{UCI_VALUE}(,{UCI_VALUE}){{28}}")


@pytest.fixture(scope="module")
def real():
    return load_sample(as_frame=True).frame


def _python_e18(x):
    return "".join(",".join("%.18e" % v for v in row) + "\n" for row in x.astype(np.float64))


def test_formatter_reproduces_the_real_uci_file_byte_for_byte(uci_path):
    df = load_higgs(uci_path, cache=False)
    assert format_uci_rows(df[UCI_COLUMNS].to_numpy(np.float32)) == uci_path.read_bytes()


def test_formatter_equals_printf_on_hard_values():
    rng = np.random.default_rng(7)
    bits = rng.integers(0, 2**32, size=400_000, dtype=np.uint64).astype(np.uint32)
    rand = bits.view(np.float32)
    rand = rand[np.isfinite(rand) & (np.abs(rand) >= 1e-8) & (np.abs(rand) < 1e9)]
    # Exact ties at the 19th digit (odd multiples of 2**-19 in [1, 2)) must round
    # half to even, as printf does.
    ties = ((2 * np.arange(5_000) + 2**19 + 1) * 2.0**-19).astype(np.float32)
    p10 = np.array([10.0**k for k in range(-8, 9)], dtype=np.float32)
    edges = np.concatenate(
        [p10, np.nextafter(p10, np.float32(0)), np.nextafter(p10, np.float32(np.inf))]
    )
    special = np.array([0.0, -0.0, 1.0, -1.0, 0.869293212890625, 9.999999e8], np.float32)
    values = np.concatenate([rand, ties, -ties, edges, -edges, special])
    values = values[: len(values) // 29 * 29].reshape(-1, 29)
    assert format_uci_rows(values).decode() == _python_e18(values)


def test_formatter_falls_back_outside_the_fast_range():
    odd = np.array([[np.nan, np.inf, -np.inf, 1e20, 1e-30, 1e-45, 3.0e38, 0.5]], np.float32)
    assert format_uci_rows(odd).decode() == _python_e18(odd)
    assert format_uci_rows(np.empty((0, 3))) == b""


def test_csv_file_has_the_raw_uci_layout(tmp_path, real):
    path = write_synthetic(tmp_path / "syn.csv", 3_000, chunk_size=700, random_state=1)
    lines = path.read_bytes().decode().splitlines()
    assert len(lines) == 3_000
    assert all(UCI_LINE.fullmatch(line) for line in lines)  # no header, 29 fields
    assert {line.split(",", 1)[0] for line in lines} == {
        "0.000000000000000000e+00",
        "1.000000000000000000e+00",
    }  # label first
    df = load_higgs(path, cache=False)
    assert df.shape == (3_000, 29) and list(df.columns) == FEATURE_NAMES + [LABEL]
    for name in BTAGS:  # b-tags keep their three discrete real values
        assert set(np.unique(df[name])) <= set(np.unique(real[name]))
    bound = np.abs(real[PHIS].to_numpy()).max()
    assert np.abs(df[PHIS].to_numpy()).max() <= bound
    for name in ETAS:
        assert np.abs(df[name]).max() <= np.abs(real[name]).max()
    assert (df[POSITIVE].to_numpy() > 0).all()
    assert 0.45 < df[LABEL].mean() < 0.61


def test_same_seed_same_events_whatever_the_chunks(tmp_path):
    ref = make_synthetic(2_500, 11)
    chunks = pd.concat(list(iter_synthetic(2_500, 11, chunk_size=333)), ignore_index=True)
    pd.testing.assert_frame_equal(chunks, ref, check_exact=True)
    csv = write_synthetic(tmp_path / "a.csv", 2_500, chunk_size=1_000, random_state=11)
    pd.testing.assert_frame_equal(load_higgs(csv, cache=False), ref, check_exact=True)
    gz = write_synthetic(tmp_path / "a.csv.gz", 2_500, chunk_size=999, random_state=11)
    pd.testing.assert_frame_equal(load_higgs(gz, cache=False), ref, check_exact=True)
    assert not make_synthetic(100, 12).equals(make_synthetic(100, 11))


def test_parquet_output_has_several_row_groups(tmp_path):
    path = write_synthetic(
        tmp_path / "syn.parquet", 2_500, format="parquet", chunk_size=1_000, random_state=3
    )
    pf = pq.ParquetFile(path)
    assert pf.num_row_groups == 3 and pf.schema_arrow.names == UCI_COLUMNS
    assert pf.schema_arrow.metadata[b"higgs_sk.synthetic"] == b"true"
    pd.testing.assert_frame_equal(load_higgs(path), make_synthetic(2_500, 3), check_exact=True)


def test_zero_jitter_gives_real_events(real):
    df = make_synthetic(500, 0, jitter=0.0)
    keys = FEATURE_NAMES + [LABEL]
    merged = df.merge(real.drop_duplicates(), on=keys, how="left", indicator=True)
    assert (merged["_merge"] == "both").all()


def test_jitter_changes_continuous_values_only(real):
    df = make_synthetic(2_000, 5)
    for name in POSITIVE + ETAS + PHIS:
        # Clipping at the eta acceptance edge may reproduce a real edge value.
        assert np.isin(df[name], real[name]).mean() < 0.01, name
    for name in BTAGS + [LABEL]:
        assert np.isin(df[name], real[name]).all(), name


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"n_events": 0}, ValueError),
        ({"n_events": 2.5}, ValueError),
        ({"n_events": 10, "format": "xlsx"}, ValueError),
        ({"n_events": 10, "chunk_size": 0}, ValueError),
        ({"n_events": 10, "jitter": -1}, ValueError),
        ({"n_events": 10, "random_state": "seed"}, TypeError),
    ],
)
def test_bad_arguments(tmp_path, kwargs, error):
    with pytest.raises(error):
        write_synthetic(tmp_path / "x.csv", **kwargs)


def test_cli_writes_csv_and_parquet(tmp_path, capsys):
    assert main([str(tmp_path / "c.csv"), "200", "--seed", "4"]) == 0
    assert "SYNTHETIC" in capsys.readouterr().err
    assert main([str(tmp_path / "p.parquet"), "200", "--seed", "4"]) == 0
    a, b = load_higgs(tmp_path / "c.csv", cache=False), load_higgs(tmp_path / "p.parquet")
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    pd.testing.assert_frame_equal(a, make_synthetic(200, 4), check_exact=True)


def test_python_dash_m_entry_point(tmp_path):
    out = tmp_path / "m.csv"
    proc = subprocess.run(
        [sys.executable, "-m", "higgs_sk.synthetic", str(out), "50"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert load_higgs(out, cache=False).shape == (50, 29)


def test_source_restricts_resampling_to_the_given_events(sample_frame):
    from higgs_sk.synthetic import make_synthetic

    pool = sample_frame.iloc[:5]
    out = make_synthetic(200, random_state=0, source=pool, jitter=0.0)
    rows = {tuple(r) for r in pool.to_numpy()}
    assert all(tuple(r) in rows for r in out.to_numpy())
    assert len({tuple(r) for r in out.to_numpy()}) == 5
