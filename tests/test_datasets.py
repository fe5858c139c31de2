"""Loading HIGGS files in every format people have, and the bundled sample."""

import gzip
import shutil

import numpy as np
import pandas as pd
import pytest

from higgs_sk.datasets import (
    FEATURE_NAMES,
    HIGH_LEVEL_FEATURES,
    LABEL,
    LOW_LEVEL_FEATURES,
    UCI_COLUMNS,
    canonical_name,
    load_higgs,
    load_sample,
)
from higgs_sk.exceptions import DataFormatError


def test_names_follow_uci_order():
    assert len(LOW_LEVEL_FEATURES) == 21 and len(HIGH_LEVEL_FEATURES) == 7
    assert UCI_COLUMNS[0] == LABEL and UCI_COLUMNS[1] == "lepton_pT"
    assert LOW_LEVEL_FEATURES[8] == "jet_1_btag" and LOW_LEVEL_FEATURES[-1] == "jet_4_btag"
    assert HIGH_LEVEL_FEATURES[-1] == "m_wwbb"


@pytest.mark.parametrize(
    "raw, canon",
    [
        ("lepton pT", "lepton_pT"),
        ("lepton_pT", "lepton_pT"),
        ("jet 1 b-tag", "jet_1_btag"),
        ("Jet_4_BTAG", "jet_4_btag"),
        ("missing energy magnitude", "missing_energy_magnitude"),
        ("class label", LABEL),
        ("target", LABEL),
        ("m_wwbb", "m_wwbb"),
        ("event_id", None),
    ],
)
def test_canonical_name_spellings(raw, canon):
    assert canonical_name(raw) == canon


def test_raw_uci_file_keeps_first_event(uci_path):
    df = load_higgs(uci_path)
    assert df.shape == (2000, 29)
    assert list(df.columns) == FEATURE_NAMES + [LABEL]
    assert df[LABEL].iloc[0] == 1
    # float32 of the first real HIGGS event; a header-eating reader loses it.
    assert df["lepton_pT"].iloc[0] == np.float32(0.869293212890625)
    assert df["lepton_pT"].dtype == np.float32
    assert all(df[c].dtype == np.float32 for c in FEATURE_NAMES)
    assert df[LABEL].dtype.kind == "i" and set(np.unique(df[LABEL])) == {0, 1}


def test_n_rows(uci_path):
    df = load_higgs(uci_path, n_rows=5)
    assert len(df) == 5 and df["lepton_pT"].iloc[0] == np.float32(0.869293212890625)


def _sorted_by_content(df):
    return df.sort_values(list(df.columns), kind="mergesort").reset_index(drop=True)


def test_header_csv_and_raw_file_agree_bit_for_bit(uci_path, tmp_path):
    raw = load_higgs(uci_path).iloc[1:]
    # The sample CSV (header, label last, 9-digit values) holds the same events.
    sample = load_sample(as_frame=True).frame
    merged = raw.merge(sample, on=FEATURE_NAMES + [LABEL], how="inner")
    assert len(merged) == 1999
    a = _sorted_by_content(raw)
    b = _sorted_by_content(sample.iloc[:1999])
    pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_header_spellings_label_first_spaces(uci_path, tmp_path):
    raw = load_higgs(uci_path)
    spaced = [c.replace("_", " ").replace("btag", "b-tag") for c in FEATURE_NAMES]
    out = raw[[LABEL] + FEATURE_NAMES].copy()
    out.columns = ["class label"] + spaced
    path = tmp_path / "spaced.csv"
    out.to_csv(path, index=False, float_format="%.9g")
    back = load_higgs(path)
    pd.testing.assert_frame_equal(back, raw, check_exact=True)


def test_gzip_and_parquet_copies_load_identically(uci_path, tmp_path):
    raw = load_higgs(uci_path)
    gz = tmp_path / "HIGGS.csv.gz"
    with open(uci_path, "rb") as src, gzip.open(gz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    pd.testing.assert_frame_equal(load_higgs(gz), raw, check_exact=True)

    # gzip is recognised by content, not by name
    disguised = tmp_path / "HIGGS.csv"
    shutil.copy(gz, disguised)
    pd.testing.assert_frame_equal(load_higgs(disguised), raw, check_exact=True)

    pq = tmp_path / "HIGGS.parquet"
    raw.to_parquet(pq, index=False)
    pd.testing.assert_frame_equal(load_higgs(pq), raw, check_exact=True)

    # Parquet written straight from the headerless CSV has positional names.
    positional = pd.read_csv(uci_path, header=None, dtype="float32")
    positional.columns = [str(i) for i in range(29)]
    pq2 = tmp_path / "positional.parquet"
    positional.to_parquet(pq2, index=False)
    pd.testing.assert_frame_equal(load_higgs(pq2), raw, check_exact=True)


def test_features_only_file_has_no_label(uci_path, tmp_path):
    raw = load_higgs(uci_path, n_rows=10)
    path = tmp_path / "events.csv"
    raw[FEATURE_NAMES].to_csv(path, index=False, header=False, float_format="%.9g")
    back = load_higgs(path)
    assert list(back.columns) == FEATURE_NAMES
    pd.testing.assert_frame_equal(back, raw[FEATURE_NAMES], check_exact=True)


def test_load_sample_bunch():
    bunch = load_sample()
    assert bunch.data.shape == (9000, 28) and bunch.data.dtype == np.float32
    assert bunch.target.shape == (9000,)
    assert round(float(bunch.target.mean()), 3) == 0.530
    assert list(bunch.feature_names) == FEATURE_NAMES
    assert bunch.frame is None
    assert "CC BY 4.0" in bunch.DESCR and "Apache-2.0" in bunch.DESCR
    X, y = load_sample(return_X_y=True, as_frame=True)
    assert isinstance(X, pd.DataFrame) and list(X.columns) == FEATURE_NAMES
    assert isinstance(y, pd.Series) and y.sum() == 4770


def test_bad_label_is_reported_with_line(uci_path, tmp_path):
    lines = uci_path.read_text().splitlines()
    lines[3] = "2" + lines[3][lines[3].index(","):]
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataFormatError, match=r"bad.csv.*line 4"):
        load_higgs(path)
