"""Out-of-core training on real events: chunk counts, the fitted pipeline, saving, errors."""

import gzip

import keras
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler

from higgs_sk.datasets import FEATURE_NAMES, LABEL, LOW_LEVEL_FEATURES, load_higgs
from higgs_sk.exceptions import DataFormatError
from higgs_sk.streaming import _ParquetChunks, iter_higgs_chunks, train_streaming

FAST = dict(epochs=2, batch_size=64, learning_rate=1e-2, random_state=0, early_stopping=False)


def _write_parquet(frame, path, row_group_size):
    pq.write_table(
        pa.Table.from_pandas(frame, preserve_index=False), path, row_group_size=row_group_size
    )
    return path


@pytest.fixture(scope="module")
def parquet_path(sample_frame, tmp_path_factory):
    """3,000 real events in 6 row groups of 500 (label last, as in the fetch cache)."""
    path = tmp_path_factory.mktemp("stream") / "events.parquet"
    return _write_parquet(sample_frame.iloc[:3000], path, 500)


@pytest.fixture(scope="module")
def streamed(parquet_path):
    return train_streaming(parquet_path, chunk_size=1000, **FAST)


def _count_lines(path):
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as fh:
        return sum(1 for line in fh if line.strip())


def test_parquet_every_event_is_seen_once_per_epoch(parquet_path, streamed):
    pipe, info = streamed
    n_file = pq.ParquetFile(parquet_path).metadata.num_rows
    assert n_file == 3000
    assert pq.ParquetFile(parquet_path).metadata.num_row_groups == 6
    assert info["n_events"] == n_file
    assert info["events_per_epoch"] == [n_file, n_file]
    assert info["n_chunks"] == 3  # two 500-event row groups per 1,000-event chunk
    assert info["epochs_run"] == 2 and len(info["history"]["loss"]) == 2
    assert info["n_signal"] + info["n_background"] == n_file


def test_raw_uci_csv_multi_chunk(uci_path):
    # The raw UCI excerpt: no header, label first; 3 chunks of at most 700 events.
    pipe, info = train_streaming(uci_path, chunk_size=700, **FAST)
    n_file = _count_lines(uci_path)
    assert n_file == 2000
    assert info["format"] == "csv" and info["n_chunks"] == 3
    assert info["events_per_epoch"] == [n_file, n_file]


def test_gzip_csv_with_header_label_last(sample_frame, tmp_path):
    frame = sample_frame.iloc[:1500]
    spaced = frame.rename(columns=lambda c: c.replace("_", " "))  # "lepton pT", "jet 1 btag"
    path = tmp_path / "events.csv.gz"
    with gzip.open(path, "wt", newline="") as fh:
        spaced.to_csv(fh, index=False)
    pipe, info = train_streaming(path, chunk_size=400, epochs=1, batch_size=128,
                                 random_state=0, early_stopping=False)
    assert info["n_chunks"] == 4
    assert info["events_per_epoch"] == [_count_lines(path) - 1] == [1500]


def test_result_is_a_normal_pipeline_that_saves_and_loads(streamed, sample_frame, tmp_path):
    from higgs_sk.persistence import load_pipeline, save_pipeline
    from higgs_sk.pipeline import make_higgs_pipeline

    pipe, info = streamed
    assert [n for n, _ in pipe.steps] == [n for n, _ in make_higgs_pipeline().steps]
    test = sample_frame.iloc[6000:9000]  # events not in the training file
    X_test, y_test = test.drop(columns=LABEL), test[LABEL].to_numpy()
    before = pipe.predict_proba(X_test)

    save_pipeline(pipe, tmp_path / "model.joblib", training=info)
    loaded = load_pipeline(tmp_path / "model.joblib")
    proba = loaded.predict_proba(X_test)
    assert proba.shape == (len(X_test), 2)
    np.testing.assert_array_equal(proba, before)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    # A 28-column array in UCI order is accepted, as by an in-memory fitted pipeline.
    np.testing.assert_array_equal(loaded.predict_proba(X_test.to_numpy()), before)
    # low-level features only, 3,000 training events: weak but clearly above chance
    assert roc_auc_score(y_test, proba[:, 1]) > 0.58
    clf = loaded.named_steps["clf"]
    assert list(clf.classes_) == [0, 1] and clf.n_features_in_ == 21
    assert clf.n_epochs_ == 2


def test_scaler_statistics_equal_the_in_memory_fit(streamed, parquet_path):
    pipe, _ = streamed
    X = load_higgs(parquet_path)[LOW_LEVEL_FEATURES].to_numpy()
    full = StandardScaler().fit(X)
    scale = pipe.named_steps["scale"]
    assert scale.n_samples_seen_ == len(X)
    np.testing.assert_allclose(scale.mean_, full.mean_, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(scale.scale_, full.scale_, rtol=1e-6)


def test_chunks_never_exceed_chunk_size(sample_frame, tmp_path, monkeypatch):
    # Row groups of 1,500 with chunk_size=600: each group is read in slices.
    path = _write_parquet(sample_frame.iloc[:3000], tmp_path / "big_groups.parquet", 1500)
    sizes = []
    original = _ParquetChunks._arrays

    def spy(self, table):
        sizes.append(table.num_rows)
        return original(self, table)

    monkeypatch.setattr(_ParquetChunks, "_arrays", spy)
    pipe, info = train_streaming(path, chunk_size=600, epochs=1, batch_size=128,
                                 random_state=0, early_stopping=False)
    assert max(sizes) <= 600 and sum(sizes) == 3000
    assert info["events_per_epoch"] == [3000]
    assert all(len(c) <= 600 for c in iter_higgs_chunks(path, 600))


def test_max_events_uses_only_the_first_events(parquet_path, uci_path):
    # 1,700 of 3,000: two row groups, then three more of which the last is cut to 200.
    pipe, info = train_streaming(parquet_path, chunk_size=1000, max_events=1700, epochs=1,
                                 batch_size=128, random_state=0, early_stopping=False)
    assert info["n_events"] == 1700 and info["events_per_epoch"] == [1700]
    assert info["n_chunks"] == 2
    pipe, info = train_streaming(uci_path, chunk_size=700, max_events=1500, epochs=1,
                                 batch_size=128, random_state=0, early_stopping=False)
    assert info["events_per_epoch"] == [1500] and info["n_chunks"] == 3
    assert [len(c) for c in iter_higgs_chunks(uci_path, 700, max_events=1500)] == [700, 700, 100]


def test_same_seed_same_model(uci_path):
    X = load_higgs(uci_path).drop(columns=LABEL)
    a, _ = train_streaming(uci_path, chunk_size=700, epochs=1, batch_size=128,
                           random_state=3, early_stopping=False)
    b, _ = train_streaming(uci_path, chunk_size=700, epochs=1, batch_size=128,
                           random_state=3, early_stopping=False)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


def test_cosine_schedule_is_applied_per_epoch(uci_path):
    from higgs_sk.model import cosine_learning_rate

    pipe, info = train_streaming(uci_path, chunk_size=700, epochs=3, batch_size=128,
                                 learning_rate=0.01, learning_rate_schedule="cosine",
                                 random_state=0, early_stopping=False)
    rate = float(keras.ops.convert_to_numpy(pipe[-1].model_.optimizer.learning_rate))
    assert rate == pytest.approx(cosine_learning_rate(0.01, 2, 3)) == pytest.approx(0.0025)
    assert info["epochs_run"] == 3


def test_early_stopping_holds_out_whole_chunks(parquet_path):
    pipe, info = train_streaming(parquet_path, chunk_size=500, epochs=3, batch_size=128,
                                 random_state=0, early_stopping=True,
                                 validation_fraction=0.2, patience=1)
    assert info["n_chunks"] == 6 and len(info["validation_chunks"]) == 1
    assert info["n_validation_events"] == 500
    assert info["n_train_events"] + info["n_validation_events"] == info["n_events"] == 3000
    assert set(info["events_per_epoch"]) == {2500}
    assert len(info["history"]["val_loss"]) == info["epochs_run"] <= 3
    assert info["best_epoch"] == int(np.argmin(info["history"]["val_loss"])) + 1


def test_single_chunk_cannot_validate_and_says_so(uci_path):
    with pytest.warns(UserWarning, match="early stopping is off"):
        _, info = train_streaming(uci_path, chunk_size=5000, epochs=1, random_state=0)
    assert info["events_per_epoch"] == [2000] and info["validation_chunks"] == []


def test_iter_chunks_concatenate_to_the_loader(uci_path):
    chunks = list(iter_higgs_chunks(uci_path, 700))
    assert [len(c) for c in chunks] == [700, 700, 600]
    pd.testing.assert_frame_equal(
        pd.concat(chunks), load_higgs(uci_path)[[LABEL] + FEATURE_NAMES]
    )


def test_bad_value_in_a_late_chunk_names_its_line(uci_path, tmp_path):
    lines = uci_path.read_text().splitlines(keepends=True)
    fields = lines[1499].split(",")
    fields[3] = "nan"
    lines[1499] = ",".join(fields)
    bad = tmp_path / "bad.csv"
    bad.write_text("".join(lines))
    with pytest.raises(DataFormatError, match=r"line 1500 \(event 1499\)"):
        train_streaming(bad, chunk_size=700, epochs=1, early_stopping=False)


def test_unlabelled_file_is_refused(sample_frame, tmp_path):
    path = _write_parquet(sample_frame[FEATURE_NAMES].iloc[:500], tmp_path / "x.parquet", 100)
    with pytest.raises(DataFormatError, match="label"):
        train_streaming(path, chunk_size=200, epochs=1)


def test_unsupported_scaler_is_refused(parquet_path):
    with pytest.raises(ValueError, match="chunk by chunk"):
        train_streaming(parquet_path, scaler="quantile")
