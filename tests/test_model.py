"""HiggsClassifier and the pipeline as scikit-learn sees them, on real events."""

import subprocess
import sys
import textwrap

import joblib
import keras
import numpy as np
import pytest
from sklearn.base import clone, is_classifier
from sklearn.metrics import accuracy_score
from sklearn.model_selection import StratifiedKFold, check_cv, cross_val_score
from sklearn.utils import get_tags

from higgs_sk.datasets import LOW_LEVEL_FEATURES
from higgs_sk.exceptions import ModelFileError
from higgs_sk.model import HiggsClassifier, build_mlp
from higgs_sk.persistence import load_pipeline, metadata_path, save_pipeline
from higgs_sk.pipeline import make_grid_search, make_higgs_pipeline

FAST = dict(epochs=4, batch_size=256, random_state=0)


@pytest.fixture(scope="module")
def fitted(small_xy):
    X, y = small_xy
    return make_higgs_pipeline(**FAST).fit(X, y)


class CountEpochs(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.epochs = 0

    def on_epoch_end(self, epoch, logs=None):
        self.epochs += 1


def test_sklearn_sees_a_binary_classifier():
    clf = HiggsClassifier()
    assert is_classifier(clf) and is_classifier(make_higgs_pipeline())
    tags = get_tags(clf)
    assert tags.estimator_type == "classifier" and tags.target_tags.required
    assert tags.classifier_tags is not None
    # cv=5 on a classifier must mean stratified folds
    y = np.r_[np.zeros(50), np.ones(50)]
    assert isinstance(check_cv(5, y, classifier=is_classifier(clf)), StratifiedKFold)


def test_default_network_is_the_original_analysis():
    model = build_mlp(21)
    dense = [layer.units for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    drops = [layer.rate for layer in model.layers if isinstance(layer, keras.layers.Dropout)]
    assert dense == [64, 64, 64, 32, 1] and drops == [0.2, 0.2, 0.2]
    assert model.loss == "binary_crossentropy"
    assert isinstance(model.optimizer, keras.optimizers.Adam)


def test_params_are_plain_and_tunable():
    clf = HiggsClassifier(hidden_layer_sizes=(8,), learning_rate=0.01)
    params = clf.get_params()
    assert params["hidden_layer_sizes"] == (8,) and params["learning_rate"] == 0.01
    assert "optimizer" not in params and "model" not in params
    pipe = make_higgs_pipeline().set_params(clf__hidden_layer_sizes=(16, 8))
    assert pipe.named_steps["clf"].hidden_layer_sizes == (16, 8)


def test_cross_val_score_roc_auc_is_finite_and_stratified(sample_frame):
    X, y = sample_frame[LOW_LEVEL_FEATURES + ["m_wwbb"]], sample_frame["label"].to_numpy()
    pipe = make_higgs_pipeline(epochs=8, random_state=0)
    cv = check_cv(3, y, classifier=is_classifier(pipe))
    assert isinstance(cv, StratifiedKFold)
    for _, test in cv.split(X, y):
        assert abs(y[test].mean() - y.mean()) < 0.002
    scores = cross_val_score(pipe, X, y, cv=3, scoring="roc_auc")
    assert scores.shape == (3,) and np.isfinite(scores).all()
    assert (scores > 0.55).all(), scores


def test_predict_proba_columns_follow_classes(fitted, small_xy):
    X, y = small_xy
    proba = fitted.predict_proba(X)
    clf = fitted.named_steps["clf"]
    assert list(clf.classes_) == [0, 1]
    assert proba.shape == (len(X), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(fitted.predict(X), (proba[:, 1] > 0.5).astype(int))


def test_score_is_accuracy_not_loss(fitted, small_xy):
    X, y = small_xy
    assert fitted.score(X, y) == pytest.approx(accuracy_score(y, fitted.predict(X)))
    assert 0.5 < fitted.score(X, y) <= 1.0


def test_same_random_state_same_predictions(fitted, small_xy):
    X, y = small_xy
    again = make_higgs_pipeline(**FAST).fit(X, y)
    np.testing.assert_array_equal(again.predict_proba(X), fitted.predict_proba(X))


def test_early_stopping_split_is_stratified_inside_fit(small_xy):
    X, y = small_xy
    clf = HiggsClassifier(**FAST)
    clf.random_state = 3
    clf._random_state = 3
    train, val = clf._validation_split(len(y), y)
    assert len(val) == pytest.approx(0.15 * len(y), abs=1)
    assert abs(y[val].mean() - y.mean()) < 0.01
    assert len(np.intersect1d(train, val)) == 0 and len(train) + len(val) == len(y)
    assert not (np.diff(val) > 0).all()  # drawn shuffled, not the last 15 % in file order
    assert val.max() - val.min() > 0.9 * len(y)


@pytest.mark.parametrize(
    "transform",
    [
        lambda y: y.astype(float),
        lambda y: y.astype(bool),
        lambda y: y.reshape(-1, 1),
        lambda y: y.astype(float).reshape(-1, 1),
    ],
    ids=["float", "bool", "column", "float-column"],
)
def test_label_forms_are_binary_not_multilabel(small_xy, transform):
    X, y = small_xy
    X, y = X.iloc[:600], y[:600]
    pipe = make_higgs_pipeline(epochs=1, random_state=0).fit(X, transform(y))
    assert list(pipe.named_steps["clf"].classes_) == [0, 1]
    assert pipe.predict_proba(X).shape == (600, 2)


@pytest.mark.parametrize("bad", [2, -1, "yes"])
def test_bad_labels_are_clear_errors(small_xy, bad):
    X, y = small_xy
    y = y[:200].astype(object)
    y[7] = bad
    with pytest.raises(ValueError, match=r"0 \(background\) or 1 \(signal\).*row 7"):
        HiggsClassifier(epochs=1).fit(X.iloc[:200, :21], y)


def test_single_class_is_a_clear_error(small_xy):
    X, _ = small_xy
    with pytest.raises(ValueError, match="both signal.*only label 1"):
        HiggsClassifier(epochs=1).fit(X.iloc[:50, :21], np.ones(50))


def test_sample_weight_and_balanced_class_weight(small_xy):
    X, y = small_xy
    X, y = X.iloc[:1500], y[:1500]
    w = np.where(y == 1, 0.2, 1.0)
    w_before = w.copy()
    a = make_higgs_pipeline(epochs=3, random_state=0).fit(X, y, clf__sample_weight=w)
    b = make_higgs_pipeline(epochs=3, random_state=0).fit(X, y)
    np.testing.assert_array_equal(w, w_before)  # never modified in place
    # Down-weighting signal must lower the predicted signal probability.
    assert a.predict_proba(X)[:, 1].mean() < b.predict_proba(X)[:, 1].mean() - 0.02
    # 'balanced' on a background-heavy subset must raise the signal probability.
    keep = np.r_[np.flatnonzero(y == 0), np.flatnonzero(y == 1)[:150]]
    Xi, yi = X.iloc[keep], y[keep]
    plain = make_higgs_pipeline(epochs=3, random_state=0).fit(Xi, yi)
    bal = make_higgs_pipeline(epochs=3, random_state=0, class_weight="balanced").fit(Xi, yi)
    assert bal.predict_proba(Xi)[:, 1].mean() > plain.predict_proba(Xi)[:, 1].mean() + 0.05


def test_fit_callbacks_are_used_not_dropped(small_xy):
    X, y = small_xy
    as_param, as_fit_arg = CountEpochs(), CountEpochs()
    pipe = make_higgs_pipeline(epochs=2, random_state=0, callbacks=[as_param])
    pipe.fit(X.iloc[:500], y[:500], clf__callbacks=[as_fit_arg])
    assert as_param.epochs == 2 and as_fit_arg.epochs == 2
    # Callbacks given as parameters do not break clone, fitted or not.
    for est in (pipe, make_higgs_pipeline(callbacks=[CountEpochs()])):
        c = clone(est)
        assert c.get_params()["clf__callbacks"][0] is not est.get_params()["clf__callbacks"][0]
    # A fitted pipeline with callbacks still round-trips through joblib.
    import io

    buf = io.BytesIO()
    joblib.dump(pipe, buf)
    buf.seek(0)
    back = joblib.load(buf)
    np.testing.assert_array_equal(back.predict_proba(X.iloc[:50]), pipe.predict_proba(X.iloc[:50]))


class RecordLearningRate(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.rates = []

    def on_epoch_end(self, epoch, logs=None):
        self.rates.append(float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)))


def test_cosine_schedule_anneals_every_epoch_and_trains_on_every_event(small_xy):
    X, y = small_xy
    seen = RecordLearningRate()
    clf = HiggsClassifier(epochs=4, learning_rate=0.01, learning_rate_schedule="cosine",
                          early_stopping=False, batch_size=256, random_state=0)
    clf.fit(X.iloc[:600, :21].to_numpy(), y[:600], callbacks=[seen])
    np.testing.assert_allclose(seen.rates, [0.01, 0.00853553, 0.005, 0.00146447], rtol=1e-5)
    assert clf.n_epochs_ == 4 and clf.n_validation_events_ == 0
    # The default stays a constant step size.
    seen = RecordLearningRate()
    HiggsClassifier(epochs=2, learning_rate=0.01, random_state=0).fit(
        X.iloc[:600, :21].to_numpy(), y[:600], callbacks=[seen])
    np.testing.assert_allclose(seen.rates, [0.01, 0.01])


def test_unknown_learning_rate_schedule_is_refused_and_leaves_no_model(small_xy):
    X, y = small_xy
    clf = HiggsClassifier(epochs=1, learning_rate_schedule="linear")
    with pytest.raises(ValueError, match="learning_rate_schedule must be 'constant' or 'cosine', "
                                         "got 'linear'"):
        clf.fit(X.iloc[:200, :21].to_numpy(), y[:200])
    assert not hasattr(clf, "model_")


def test_unknown_fit_argument_is_an_error(small_xy):
    X, y = small_xy
    with pytest.raises(TypeError):
        HiggsClassifier(epochs=1).fit(X.iloc[:100, :21], y[:100], epochz=3)


def test_clone_fitted_and_unfitted(fitted):
    c = clone(fitted)
    assert c.get_params()["clf__epochs"] == FAST["epochs"]
    assert not hasattr(c.named_steps["clf"], "model_")
    clone(make_higgs_pipeline())


def _predict_in_fresh_process(model_path, data_path, out_path, loader):
    code = textwrap.dedent(
        f"""
        import numpy as np, pandas as pd, joblib
        from higgs_sk.persistence import load_pipeline
        X = pd.read_parquet({str(data_path)!r})
        pipe = {loader}({str(model_path)!r})
        np.save({str(out_path)!r}, pipe.predict_proba(X))
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)
    return np.load(out_path)


def test_joblib_and_save_pipeline_round_trip_bit_for_bit(fitted, small_xy, tmp_path):
    X, _ = small_xy
    X.to_parquet(tmp_path / "X.parquet")
    expected = fitted.predict_proba(X)

    joblib.dump(fitted, tmp_path / "plain.joblib")
    got = _predict_in_fresh_process(
        tmp_path / "plain.joblib", tmp_path / "X.parquet", tmp_path / "a.npy", "joblib.load"
    )
    np.testing.assert_array_equal(got, expected)

    meta = save_pipeline(fitted, tmp_path / "model.joblib", training={"epochs": 4})
    assert meta["feature_names"] == LOW_LEVEL_FEATURES
    assert {"scikit-learn", "keras", "higgs-sk"} <= set(meta["versions"])
    got = _predict_in_fresh_process(
        tmp_path / "model.joblib", tmp_path / "X.parquet", tmp_path / "b.npy", "load_pipeline"
    )
    np.testing.assert_array_equal(got, expected)


def test_truncated_model_file_is_refused_by_name(fitted, tmp_path):
    path = tmp_path / "model.joblib"
    save_pipeline(fitted, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match=r"model.joblib.*does not match"):
        load_pipeline(path)
    metadata_path(path).unlink()
    with pytest.raises(ModelFileError, match=r"model.joblib.*metadata file .* missing"):
        load_pipeline(path)


def test_grid_search_serial_and_parallel(small_xy):
    X, y = small_xy
    grid = {"clf__hidden_layer_sizes": [(16,), (32, 16)], "clf__learning_rate": [3e-3]}
    results = {}
    for n_jobs in (1, 2):
        search = make_grid_search(
            make_higgs_pipeline(epochs=5, batch_size=128, random_state=0), grid, cv=2,
            n_jobs=n_jobs,
        )
        search.fit(X, y)
        assert np.isfinite(search.best_score_) and 0.55 < search.best_score_ < 1
        assert np.isfinite(search.cv_results_["mean_test_score"]).all()
        results[n_jobs] = search.cv_results_["mean_test_score"]
    np.testing.assert_allclose(results[1], results[2], rtol=0, atol=1e-6)
    scores = cross_val_score(
        make_higgs_pipeline(epochs=2, random_state=0), X, y, cv=2, scoring="roc_auc", n_jobs=2
    )
    assert np.isfinite(scores).all()


def test_seeded_fit_leaves_global_tensorflow_state_alone(small_xy):
    # scikeras' seeding context leaves op determinism on, after which any unseeded
    # Keras model in the same process fails with "Random ops require a seed".
    from tensorflow.python.framework import config

    X, y = small_xy
    assert not config.is_op_determinism_enabled()
    HiggsClassifier(epochs=1, random_state=0).fit(X.iloc[:300, :21], y[:300])
    assert not config.is_op_determinism_enabled()
    plain = build_mlp(21, hidden_layer_sizes=(4,))
    plain.fit(X.iloc[:300, :21].to_numpy(), y[:300], epochs=1, verbose=0)
