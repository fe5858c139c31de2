"""The network's own layers: the parameter-efficient ensemble (n_members > 1)
and the periodic input embedding, on real events."""

import keras
import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from higgs_sk.datasets import LABEL, LOW_LEVEL_FEATURES
from higgs_sk.encoding import PiecewiseLinearEncoder
from higgs_sk.layers import (
    MemberHeads,
    MemberScale,
    PeriodicEmbedding,
    PiecewiseLinearEmbedding,
    member_binary_crossentropy,
)
from higgs_sk.model import HiggsClassifier, build_mlp
from higgs_sk.persistence import load_pipeline, save_pipeline
from higgs_sk.physics import LorentzFeatures
from higgs_sk.pipeline import make_higgs_pipeline
from higgs_sk.streaming import train_streaming


@pytest.fixture(scope="module")
def encoded(sample_frame):
    """Physics inputs of 3,000 real events, piecewise-linear encoded, and their labels."""
    part = sample_frame.iloc[:3000]
    F = LorentzFeatures().fit_transform(part[LOW_LEVEL_FEATURES])
    return PiecewiseLinearEncoder().fit_transform(F), part[LABEL].to_numpy()


@pytest.fixture(scope="module")
def ensemble(encoded):
    X, y = encoded
    return HiggsClassifier(n_members=8, hidden_layer_sizes=(32, 32), epochs=3, batch_size=256,
                           random_state=0).fit(X, y)


def test_network_shapes_and_parameter_count():
    # Hidden layers 21-64-64-64-32 have 11,808 parameters either way; the plain
    # network adds a Dense(32 -> 1) head (33), four members add 4 x 21 input
    # scales and 4 x (32 + 1) head weights.
    plain, four = build_mlp(21), build_mlp(21, n_members=4)
    assert plain.count_params() == 11808 + 33 and four.count_params() == 11808 + 4 * 21 + 4 * 33
    assert plain.output.shape == (None, 1) and four.output.shape == (None, 4)
    assert isinstance(four.layers[1], MemberScale)
    assert isinstance(four.layers[-1], MemberHeads)
    scale = four.get_layer("member_scale").get_weights()[0]
    assert set(np.unique(scale)) == {-1.0, 1.0}  # random signs to start with
    with pytest.raises(ValueError, match="n_members must be a positive int"):
        build_mlp(21, n_members=0)


def test_members_differ_and_the_prediction_is_their_mean(ensemble, encoded):
    X, y = encoded
    members = np.asarray(ensemble.model_(X, training=False))
    assert members.shape == (len(X), 8)
    # Eight distinct networks, not eight copies of one.
    assert members.std(axis=1).mean() > 0.01
    np.testing.assert_allclose(ensemble.predict_proba(X)[:, 1], members.mean(axis=1), atol=1e-6)
    # Each member has learnt something, and the ensemble is at least as good
    # as its average member on the events it saw.
    member_auc = [roc_auc_score(y, members[:, i]) for i in range(8)]
    assert min(member_auc) > 0.7
    assert roc_auc_score(y, members.mean(axis=1)) >= np.mean(member_auc)


def test_loss_is_the_mean_of_the_members_cross_entropies(ensemble, encoded):
    X, y = encoded
    p = np.clip(np.asarray(ensemble.model_(X[:500], training=False), np.float64), 1e-7, 1 - 1e-7)
    t = y[:500, None].astype(np.float64)
    by_hand = -(t * np.log(p) + (1 - t) * np.log(1 - p)).mean(axis=1)
    got = np.asarray(member_binary_crossentropy(y[:500], p.astype(np.float32)))
    np.testing.assert_allclose(got, by_hand, rtol=1e-4)
    # Labels shaped (n, 1), as Keras passes them, give the same.
    np.testing.assert_array_equal(
        np.asarray(member_binary_crossentropy(y[:500, None], p.astype(np.float32))), got)
    # The training history reports that loss and the ensemble's accuracy.
    assert set(ensemble.history_) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert 0.5 < ensemble.history_["accuracy"][-1] < 1.0


def test_same_seed_same_ensemble(ensemble, encoded):
    X, y = encoded
    again = HiggsClassifier(**ensemble.get_params()).fit(X, y)
    np.testing.assert_array_equal(again.predict_proba(X), ensemble.predict_proba(X))


@pytest.mark.parametrize("embedding", [None, "periodic"])
def test_ensemble_pipeline_saves_and_loads_bit_for_bit(small_xy, tmp_path, embedding):
    X, y = small_xy
    pipe = make_higgs_pipeline(physics="lorentz", scaler="quantile", embedding=embedding,
                               n_members=4, epochs=2, random_state=0).fit(X, y)
    save_pipeline(pipe, tmp_path / "model.joblib")
    keras.backend.clear_session()  # the reload must not find the layers in a live session
    loaded = load_pipeline(tmp_path / "model.joblib")
    model = loaded.named_steps["clf"].model_
    assert isinstance(model.get_layer("member_scale"), MemberScale)
    if embedding:
        assert isinstance(model.get_layer("periodic_embedding"), PeriodicEmbedding)
    np.testing.assert_array_equal(loaded.predict_proba(X), pipe.predict_proba(X))


def test_periodic_embedding_matches_its_formula(sample_frame):
    # Real, unit-scaled inputs: three low-level columns of 50 events, standardised.
    x = sample_frame[LOW_LEVEL_FEATURES[:3]].to_numpy(np.float64)[:50]
    x = ((x - x.mean(0)) / x.std(0)).astype(np.float32)
    layer = PeriodicEmbedding(n_frequencies=5, frequency_scale=0.3, embedding_dim=4, seed=1)
    got = np.asarray(layer(x))
    c, W, b = (np.asarray(w, np.float64) for w in layer.get_weights())
    assert c.shape == (3, 5) and W.shape == (3, 10, 4) and b.shape == (3, 4)
    for j in range(3):
        angle = 2 * np.pi * x[:, j, None] * c[j]
        basis = np.concatenate([np.cos(angle), np.sin(angle)], axis=1)
        np.testing.assert_allclose(got[:, 4 * j:4 * j + 4], np.maximum(basis @ W[j] + b[j], 0),
                                   atol=1e-5)
    # Frequencies start near N(0, 0.3^2), not at one value.
    assert 0.1 < c.std() < 0.6
    # Same seed, same layer.
    again = PeriodicEmbedding(n_frequencies=5, frequency_scale=0.3, embedding_dim=4, seed=1)
    np.testing.assert_array_equal(np.asarray(again(x)), got)


def test_piecewise_linear_embedding_bins_quantile_scaled_events_like_the_encoder(sample_frame):
    from sklearn.preprocessing import QuantileTransformer

    F = LorentzFeatures().fit_transform(sample_frame[LOW_LEVEL_FEATURES])
    columns = [0, 20, 31]  # lepton pT, m_j1j2, m_T(l, v): continuous, peaked, tailed
    raw = F[:, columns]
    normal = QuantileTransformer(output_distribution="normal", random_state=0).fit_transform(raw)
    ramps = np.asarray(PiecewiseLinearEmbedding()(normal.astype(np.float32))).reshape(-1, 3, 8)
    # Each event sits in one bin per column: full ramps below it, empty above.
    in_layer = (ramps >= 1.0).sum(axis=2)
    assert ((ramps > 0) & (ramps < 1)).sum(axis=2).max() <= 1
    # Equal shares of the events in every bin, as with training quantiles ...
    for j in range(3):
        shares = np.bincount(np.minimum(in_layer[:, j], 7), minlength=8) / len(raw)
        np.testing.assert_allclose(shares, 1 / 8, atol=0.01)
    # ... and the very bins the encoder cuts on the raw values.
    enc = PiecewiseLinearEncoder().fit_transform(raw).reshape(-1, 3, 8)
    in_encoder = (enc >= 1.0).sum(axis=2)
    agree = (np.minimum(in_layer, 7) == np.minimum(in_encoder, 7)).mean()
    assert agree > 0.99, agree


def test_two_networks_side_by_side(small_xy, tmp_path):
    X, y = small_xy
    pipe = make_higgs_pipeline(physics="lorentz", embedding=("periodic", "ple"), epochs=3,
                               random_state=0).fit(X, y)
    clf = pipe.named_steps["clf"]
    model = clf.model_
    assert isinstance(model.get_layer("tower_0_periodic_embedding"), PeriodicEmbedding)
    assert isinstance(model.get_layer("tower_1_ple_embedding"), PiecewiseLinearEmbedding)
    # No weight is shared: every tower's layers own their variables.
    names = [w.path for w in model.weights]
    assert len(names) == len(set(names))
    assert {n.split("/")[0][:7] for n in names} == {"tower_0", "tower_1"}
    Z = X
    for _, step in pipe.steps[:-1]:
        Z = step.transform(Z)
    both = np.asarray(model(Z.astype(np.float32), training=False))
    assert both.shape == (len(X), 2)
    np.testing.assert_allclose(pipe.predict_proba(X)[:, 1], both.mean(axis=1), atol=1e-6)
    # Both networks learnt, and differently.
    assert min(roc_auc_score(y, both[:, 0]), roc_auc_score(y, both[:, 1])) > 0.7
    assert np.abs(both[:, 0] - both[:, 1]).mean() > 0.01
    save_pipeline(pipe, tmp_path / "model.joblib")
    keras.backend.clear_session()
    loaded = load_pipeline(tmp_path / "model.joblib")
    np.testing.assert_array_equal(loaded.predict_proba(X), pipe.predict_proba(X))


def test_embedding_settings_are_checked():
    assert build_mlp(21, embedding="periodic", embedding_dim=8).get_layer(
        "dense_0").input.shape == (None, 21 * 8)
    for bad in ("fourier", ("periodic", "fourier"), ()):
        with pytest.raises(ValueError, match="embedding must be None, 'periodic', 'ple' or a "
                                             "tuple of them"):
            build_mlp(21, embedding=bad)
    with pytest.raises(ValueError, match="n_members > 1 cannot be combined with a tuple"):
        build_mlp(21, embedding=("periodic", "ple"), n_members=4)
    with pytest.raises(ValueError, match="weight_decay must be >= 0, got -1"):
        build_mlp(21, weight_decay=-1)
    with pytest.raises(ValueError, match="frequency_scale"):
        build_mlp(21, embedding="periodic", frequency_scale=0.0)
    with pytest.raises(ValueError, match="n_frequencies and embedding_dim"):
        build_mlp(21, embedding="periodic", embedding_dim=0)


def test_streaming_trains_an_ensemble(uci_path):
    pipe, info = train_streaming(uci_path, chunk_size=700, epochs=2, batch_size=128,
                                 n_members=4, random_state=0)
    assert pipe.named_steps["clf"].model_.output.shape == (None, 4)
    assert len(info["history"]["val_loss"]) == info["epochs_run"]
    assert np.isfinite(info["history"]["val_loss"]).all()


def test_auto_scaling_follows_the_embedding():
    from sklearn.preprocessing import QuantileTransformer, StandardScaler

    def scale(**kw):
        return type(make_higgs_pipeline(**kw).named_steps["scale"])

    # The physics default embeds its inputs, so it gets unit-width ones.
    assert make_higgs_pipeline(physics="lorentz").named_steps["clf"].embedding == (
        "periodic", "ple")
    assert scale(physics="lorentz") is QuantileTransformer
    assert scale(physics="lorentz", embedding="ple") is QuantileTransformer
    assert scale(physics="lorentz", embedding=None) is PiecewiseLinearEncoder
    assert scale(physics="lorentz", embedding=None, scaler="quantile") is QuantileTransformer
    assert scale() is StandardScaler
    assert scale(embedding="periodic") is StandardScaler
