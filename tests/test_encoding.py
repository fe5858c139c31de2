"""PiecewiseLinearEncoder: the physics pipeline's input encoding."""

import numpy as np
import pytest
from sklearn.utils.estimator_checks import check_estimator

from higgs_sk.datasets import LOW_LEVEL_FEATURES
from higgs_sk.encoding import PiecewiseLinearEncoder
from higgs_sk.physics import LorentzFeatures
from higgs_sk.pipeline import make_higgs_pipeline


@pytest.fixture(scope="module")
def physics(sample_frame):
    lf = LorentzFeatures().fit(sample_frame[LOW_LEVEL_FEATURES])
    return lf.transform(sample_frame[LOW_LEVEL_FEATURES]), list(lf.get_feature_names_out())


def test_passes_check_estimator():
    check_estimator(PiecewiseLinearEncoder())


def test_ramps_reconstruct_the_real_b_pair_mass(physics):
    F, names = physics
    m_bb = F[:, [names.index("m_j1j2")]].astype(np.float64)
    enc = PiecewiseLinearEncoder(n_bins=8).fit(m_bb)
    edges = enc.edges_[0]
    assert len(edges) == 9 and edges[0] == m_bb.min() and edges[-1] == m_bb.max()
    # About one event in eight per bin, as quantile edges promise.
    counts = np.histogram(m_bb, edges)[0]
    assert counts.min() > 0.12 * len(m_bb) and counts.max() < 0.13 * len(m_bb)
    T = enc.transform(m_bb)
    assert T.shape == (len(m_bb), 8) and T.dtype == np.float32
    assert T.min() == 0.0 and T.max() == 1.0
    # Ramps fill in order, and their widths add back up to the mass.
    assert (np.diff(T, axis=1) <= 0).all()
    rebuilt = edges[0] + T.astype(np.float64) @ np.diff(edges)
    np.testing.assert_allclose(rebuilt, m_bb[:, 0], rtol=1e-5)
    # Beyond the training range the ramps saturate instead of growing.
    outside = enc.transform([[edges[0] - 50.0], [edges[-1] * 10]])
    np.testing.assert_array_equal(outside, [[0.0] * 8, [1.0] * 8])


def test_discrete_and_constant_columns(physics):
    F, names = physics
    cols = ["j2_btag", "j3_btag", "m_j1j2"]
    enc = PiecewiseLinearEncoder(n_bins=8).fit(F[:, [names.index(c) for c in cols]])
    # b-tag levels 0, 1, 2: two ramps; j3 is never b-tagged once jets are
    # ordered by b-tag in this sample, so it is constant and standardised to 0.
    assert len(enc.edges_[0]) == 3 and enc.edges_[1] is None
    out = enc.get_feature_names_out(cols).tolist()
    assert out[:3] == ["j2_btag_bin0", "j2_btag_bin1", "j3_btag"]
    assert len(out) == 2 + 1 + 8
    T = enc.transform(F[:, [names.index(c) for c in cols]])
    np.testing.assert_array_equal(T[:, 2], 0.0)
    levels = np.unique(T[:, :2], axis=0)
    np.testing.assert_array_equal(levels, [[0, 0], [1, 0], [1, 1]])


def test_physics_pipeline_encodes_and_plain_pipeline_scales():
    # Without the network's own embedding the physics inputs get the ramps.
    assert isinstance(make_higgs_pipeline(physics="lorentz", embedding=None).named_steps["scale"],
                      PiecewiseLinearEncoder)
    assert type(make_higgs_pipeline().named_steps["scale"]).__name__ == "StandardScaler"
    pipe = make_higgs_pipeline(scaler="ple")
    assert isinstance(pipe.named_steps["scale"], PiecewiseLinearEncoder)
