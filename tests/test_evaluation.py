"""Figures of merit against hand-computed values, and evaluate() on real HIGGS events.

The classifier here is a LogisticRegression pipeline: evaluate() must work
with any fitted sklearn classifier, and these tests must not need TensorFlow.
"""

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, classification_report, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from higgs_sk.datasets import FEATURE_NAMES, LABEL
from higgs_sk.evaluation import (
    EvaluationResult,
    background_efficiency_at,
    background_rejection_at,
    check_aligned,
    efficiency_curve,
    evaluate,
    ks_overtraining,
    mass_spectra,
    optimal_cut,
    output_histograms,
    separation,
    signal_efficiency_at,
    significance,
    thin_curve,
)
from higgs_sk.features import FeatureSelector

# A toy with 4 signal and 10 background events and no ties.  Sorted by output:
#   0.95 S, 0.90 B, 0.85 S, 0.70 B, 0.60 S, 0.50 B, 0.45 B, 0.40 B, 0.35 B, 0.30 S, ...
# ROC points (eff_B, eff_S): (0,0) (0,.25) (.1,.25) (.1,.5) (.2,.5) (.2,.75)
#   (.3,.75) (.4,.75) (.5,.75) (.6,.75) (.6,1) ... (1,1)
TOY_SIG = [0.95, 0.85, 0.60, 0.30]
TOY_BKG = [0.90, 0.70, 0.50, 0.45, 0.40, 0.35, 0.25, 0.20, 0.15, 0.10]
TOY_Y = np.array([1] * 4 + [0] * 10)
TOY_S = np.array(TOY_SIG + TOY_BKG)


# --------------------------------------------------------------------------
# Pure figures of merit on tiny arrays
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "eff_b, expected",
    [
        (0.0, 0.25),  # top of the first vertical step: the 0.95 signal beats all bkg
        (0.01, 0.25),  # flat between (0, .25) and (.1, .25)
        (0.1, 0.5),  # top of the step at eff_B = 0.1
        (0.15, 0.5),
        (0.3, 0.75),
        (0.6, 1.0),
        (1.0, 1.0),
    ],
)
def test_signal_efficiency_at_hand_computed(eff_b, expected):
    assert signal_efficiency_at(TOY_Y, TOY_S, eff_b) == pytest.approx(expected)


def test_signal_efficiency_interpolates_across_tied_outputs():
    # One signal and one background with the same output: the ROC curve is the
    # straight diagonal from (0, 0) to (1, 1), so eff_S = eff_B everywhere.
    got = signal_efficiency_at([1, 0], [0.5, 0.5], [0.01, 0.1, 0.3])
    np.testing.assert_allclose(got, [0.01, 0.1, 0.3])
    # 2 signal at 0.8, 1 signal + 2 background tied at 0.5, 2 background at 0.1:
    # points (0,0) (0,2/3) (.5,1) (1,1); eff_B = 0.25 is halfway up the diagonal.
    y = [1, 1, 1, 0, 0, 0, 0]
    s = [0.8, 0.8, 0.5, 0.5, 0.5, 0.1, 0.1]
    assert signal_efficiency_at(y, s, 0.25) == pytest.approx(2 / 3 + 0.5 / 3)


def test_signal_efficiency_with_weights_matches_repeated_events():
    y = [1, 0, 1, 0]
    s = [0.9, 0.8, 0.6, 0.3]
    w = [2, 1, 1, 3]
    y_rep = [1, 1, 0, 1, 0, 0, 0]
    s_rep = [0.9, 0.9, 0.8, 0.6, 0.3, 0.3, 0.3]
    for eff_b in (0.0, 0.1, 0.25, 0.5, 0.9):
        assert signal_efficiency_at(y, s, eff_b, sample_weight=w) == pytest.approx(
            signal_efficiency_at(y_rep, s_rep, eff_b)
        )


@pytest.mark.parametrize(
    "eff_s, expected",
    [(0.0, 0.0), (0.25, 0.0), (0.5, 0.1), (0.6, 0.2), (0.75, 0.2), (0.9, 0.6), (1.0, 0.6)],
)
def test_background_efficiency_at_hand_computed(eff_s, expected):
    assert background_efficiency_at(TOY_Y, TOY_S, eff_s) == pytest.approx(expected)


def test_background_rejection_is_inverse_efficiency():
    assert background_rejection_at(TOY_Y, TOY_S, 0.5) == pytest.approx(10.0)
    assert background_rejection_at(TOY_Y, TOY_S, 0.75) == pytest.approx(5.0)
    assert background_rejection_at(TOY_Y, TOY_S, 0.25) == np.inf  # no background left
    np.testing.assert_allclose(background_rejection_at(TOY_Y, TOY_S, [0.5, 0.75]), [10, 5])


def test_efficiency_curve_starts_at_origin_and_ends_at_one():
    eff_b, eff_s, thr = efficiency_curve(TOY_Y, TOY_S)
    assert (eff_b[0], eff_s[0], thr[0]) == (0.0, 0.0, np.inf)
    assert (eff_b[-1], eff_s[-1]) == (1.0, 1.0)
    assert len(thr) == len(TOY_S) + 1  # every distinct output is a cut


@pytest.mark.parametrize(
    "bad",
    [
        dict(y_true=[1, 1, 1], y_score=[0.1, 0.2, 0.3]),  # no background
        dict(y_true=[0, 0], y_score=[0.1, 0.2]),  # no signal
        dict(y_true=[0, 2], y_score=[0.1, 0.2]),  # not a HIGGS label
        dict(y_true=[0, 1], y_score=[0.1, np.nan]),
        dict(y_true=[0, 1, 1], y_score=[0.1, 0.2]),
    ],
)
def test_bad_inputs_raise(bad):
    with pytest.raises(ValueError):
        signal_efficiency_at(bad["y_true"], bad["y_score"], 0.1)


@pytest.mark.parametrize("eff", [-0.1, 1.5, np.nan])
def test_efficiency_outside_unit_interval_raises(eff):
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        signal_efficiency_at(TOY_Y, TOY_S, eff)


def test_ks_overtraining_equals_scipy():
    rng = np.random.default_rng(1)
    y_tr, y_te = rng.integers(0, 2, 60), rng.integers(0, 2, 40)
    s_tr, s_te = rng.random(60), rng.random(40) ** 1.3
    ks = ks_overtraining(y_tr, s_tr, y_te, s_te)
    assert ks == {
        "signal": stats.ks_2samp(s_tr[y_tr == 1], s_te[y_te == 1]).pvalue,
        "background": stats.ks_2samp(s_tr[y_tr == 0], s_te[y_te == 0]).pvalue,
    }


def test_ks_overtraining_flags_a_memorising_classifier():
    # Training outputs pushed to 0/1 while the test outputs stay spread out.
    rng = np.random.default_rng(2)
    y = np.repeat([0, 1], 200)
    s_test = np.clip(rng.normal(0.4 + 0.2 * y, 0.15), 0, 1)
    s_train = np.clip(rng.normal(0.05 + 0.9 * y, 0.05), 0, 1)
    ks = ks_overtraining(y, s_train, y, s_test)
    assert ks["signal"] < 1e-6 and ks["background"] < 1e-6
    same = ks_overtraining(y, s_test, y, s_test)
    assert same == {"signal": 1.0, "background": 1.0}


def test_significance():
    assert significance(3.0, 1.0) == 1.5
    assert significance(0.0, 0.0) == 0.0
    np.testing.assert_allclose(significance([4, 0], [5, 3]), [4 / 3, 0.0])


def test_optimal_cut_toy_with_known_answer():
    # Signal 0.9 0.8 0.7, background 0.85 0.3 0.2 0.1.  S/sqrt(S+B) per cut:
    #   >=0.9: 1/1   >=0.85: 1/sqrt2   >=0.8: 2/sqrt3   >=0.7: 3/2 (best)   >=0.3: 3/sqrt5 ...
    y = [1, 1, 1, 0, 0, 0, 0]
    s = [0.9, 0.8, 0.7, 0.85, 0.3, 0.2, 0.1]
    c = optimal_cut(y, s)
    assert (c.cut, c.significance) == (0.7, 1.5)
    assert (c.signal_efficiency, c.background_efficiency) == (1.0, 0.25)
    assert (c.n_signal, c.n_background) == (3.0, 4.0)  # default: the events' own counts
    assert (c.n_signal_selected, c.n_background_selected) == (3.0, 1.0)
    # 100 times more background: keeping the one background event above 0.7
    # now costs 25 events, so the tightest cut wins with S = 1, B = 0.
    c = optimal_cut(y, s, n_signal=3, n_background=400)
    assert (c.cut, c.significance, c.background_efficiency) == (0.9, 1.0, 0.0)


def test_optimal_cut_matches_brute_force():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 300)
    s = np.round(np.clip(rng.normal(0.4 + 0.2 * y, 0.2), 0, 1), 2)  # many ties
    w = rng.uniform(0.5, 2.0, 300)
    n_s, n_b = 50.0, 5000.0
    best = (-1.0, None)
    for t in np.unique(s):
        sel = s >= t
        S = n_s * w[sel & (y == 1)].sum() / w[y == 1].sum()
        B = n_b * w[sel & (y == 0)].sum() / w[y == 0].sum()
        z = S / np.sqrt(S + B)
        if z > best[0] + 1e-12 or (abs(z - best[0]) <= 1e-12 and t > best[1]):
            best = (z, t)
    c = optimal_cut(y, s, n_signal=n_s, n_background=n_b, sample_weight=w)
    assert c.significance == pytest.approx(best[0])
    assert c.cut == best[1]


def test_separation_hand_computed():
    assert separation([1, 1, 0, 0], [0.9, 0.8, 0.2, 0.1], bins=2, range=(0, 1)) == 1.0
    assert separation([1, 0, 1, 0], [0.3, 0.3, 0.7, 0.7], bins=2, range=(0, 1)) == 0.0
    # Signal 3/4 in the upper bin, background 1/4: 0.5 * 2 * (0.5^2 / 1) = 0.25.
    y = [1, 1, 1, 1, 0, 0, 0, 0]
    s = [0.2, 0.6, 0.7, 0.8, 0.1, 0.2, 0.3, 0.9]
    assert separation(y, s, bins=2, range=(0, 1)) == pytest.approx(0.25)


def test_thin_curve_keeps_ends_and_low_efficiency_corner():
    x = np.linspace(0, 1, 20001) ** 3  # dense near 0, like a good ROC's corner
    y = x ** 0.2
    tx, ty, tt = thin_curve(x, y, np.arange(len(x)), max_points=100)
    assert len(tx) <= 100
    assert (tx[0], tx[-1]) == (x[0], x[-1])
    assert (tx < 1e-3).sum() >= 10  # the corner a log-scale rejection plot shows
    np.testing.assert_array_equal(ty, y[tt])


def test_mass_spectra_hand_computed():
    sp = mass_spectra([0.5, 1.0, 1.5, 2.0], [1, 1, 0, 0], [1, 0, 0, 1], bins=2, range=(0, 2))
    np.testing.assert_array_equal(sp.edges, [0, 1, 2])
    np.testing.assert_array_equal(sp.true_signal, [1, 1])
    np.testing.assert_array_equal(sp.predicted_signal, [1, 1])
    np.testing.assert_array_equal(sp.true_background, [0, 2])
    np.testing.assert_array_equal(sp.predicted_background, [0, 2])  # 1.0 is in [1, 2]


def test_output_histograms_include_upper_edge():
    h = output_histograms([1, 1, 0], [1.0, 0.0, 0.5], bins=4)
    np.testing.assert_array_equal(h.signal_test, [1, 0, 0, 1])
    np.testing.assert_array_equal(h.background_test, [0, 0, 1, 0])
    assert h.signal_train is None


# --------------------------------------------------------------------------
# evaluate() on the real sample
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def split(sample_frame):
    X, y = sample_frame[FEATURE_NAMES], sample_frame[LABEL]
    return train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)


@pytest.fixture(scope="module")
def fitted(split):
    X_tr, _, y_tr, _ = split
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X_tr, y_tr)


@pytest.fixture(scope="module")
def result(fitted, split):
    X_tr, X_te, y_tr, y_te = split
    return evaluate(fitted, X_te, y_te, X_train=X_tr, y_train=y_tr)


def test_evaluate_scores_match_sklearn(result, fitted, split):
    X_tr, X_te, y_tr, y_te = split
    proba = fitted.predict_proba(X_te)[:, 1]
    pred = fitted.predict(X_te)
    assert result.roc_auc == pytest.approx(roc_auc_score(y_te, proba), abs=1e-12)
    # Logistic regression on all 28 features of the real sample: AUC ~0.69.
    assert 0.65 < result.roc_auc < 0.75
    assert result.accuracy == pytest.approx(accuracy_score(y_te, pred))
    assert result.classification_report == classification_report(
        y_te, pred, target_names=["background", "signal"], output_dict=True
    )
    assert result.n_events == len(y_te) == result.n_signal_events + result.n_background_events
    assert result.n_signal_events == int(y_te.sum())
    np.testing.assert_array_equal(result.y_score, proba)
    np.testing.assert_array_equal(result.index, X_te.index)
    train_auc = roc_auc_score(y_tr, fitted.predict_proba(X_tr)[:, 1])
    assert result.train_roc_auc == pytest.approx(train_auc)


def test_evaluate_low_level_only_is_weaker(split):
    X_tr, X_te, y_tr, y_te = split
    pipe = make_pipeline(FeatureSelector("low"), StandardScaler(), LogisticRegression())
    res = evaluate(pipe.fit(X_tr, y_tr), X_te, y_te)
    assert res.roc_auc == pytest.approx(roc_auc_score(y_te, pipe.predict_proba(X_te)[:, 1]))
    assert 0.55 < res.roc_auc < 0.65  # the low-level features need a non-linear model
    assert res.ks_signal is None and res.ks_background is None and res.train_roc_auc is None
    assert res.output_histograms.signal_train is None


def test_evaluate_figures_of_merit_consistent(result, split):
    _, X_te, _, y_te = split
    s = result.y_score
    for eff_b, eff_s in result.signal_efficiency_at_background.items():
        assert eff_s == pytest.approx(signal_efficiency_at(y_te, s, eff_b))
    effs = list(result.signal_efficiency_at_background.values())
    assert effs == sorted(effs) and 0 < effs[0] < effs[-1] < 1
    for eff_s, rej in result.background_rejection_at_signal.items():
        assert rej == pytest.approx(1 / background_efficiency_at(y_te, s, eff_s))
        assert rej == pytest.approx(1 / result.background_efficiency_at_signal[eff_s])
    c = result.optimal_cut
    assert c.significance == pytest.approx(optimal_cut(y_te, s).significance)
    sel = s >= c.cut
    assert c.signal_efficiency == pytest.approx(sel[y_te.to_numpy() == 1].mean())
    assert c.background_efficiency == pytest.approx(sel[y_te.to_numpy() == 0].mean())
    assert 0 < result.separation < 1


def test_evaluate_ks_equals_scipy_on_train_and_test_outputs(result, fitted, split):
    X_tr, X_te, y_tr, y_te = split
    s_tr, s_te = fitted.predict_proba(X_tr)[:, 1], fitted.predict_proba(X_te)[:, 1]
    y_tr, y_te = y_tr.to_numpy(), y_te.to_numpy()
    assert result.ks_signal == stats.ks_2samp(s_tr[y_tr == 1], s_te[y_te == 1]).pvalue
    assert result.ks_background == stats.ks_2samp(s_tr[y_tr == 0], s_te[y_te == 0]).pvalue
    # A linear model on 6,750 events does not overtrain.
    assert result.ks_signal > 0.01 and result.ks_background > 0.01


def test_to_dict_is_strict_json_and_round_trips(result):
    d = result.to_dict()
    text = json.dumps(d, allow_nan=False)
    assert "y_score" not in d and "masses" not in d  # per-event arrays only on request
    assert d["roc"]["thresholds"][0] is None  # the "select nothing" cut, inf
    assert set(d["signal_efficiency_at_background"]) == {"0.01", "0.1", "0.3"}
    back = EvaluationResult.from_dict(json.loads(text))
    assert back.roc_auc == result.roc_auc
    assert back.signal_efficiency_at_background == result.signal_efficiency_at_background
    assert back.roc.thresholds[0] == np.inf
    np.testing.assert_array_equal(back.roc.tpr, result.roc.tpr)
    np.testing.assert_array_equal(back.mass_spectra.true_signal, result.mass_spectra.true_signal)
    assert back.optimal_cut.cut == result.optimal_cut.cut
    assert back.summary() == result.summary()
    full = result.to_dict(include_events=True)
    json.dumps(full, allow_nan=False)
    assert len(full["y_score"]) == len(full["masses"]) == len(full["index"]) == result.n_events
    assert len(d["roc"]["fpr"]) <= 400


def test_evaluate_accepts_numpy_inputs(split):
    X_tr, X_te, y_tr, y_te = split
    X_tr, X_te, y_tr, y_te = (a.to_numpy() for a in (X_tr, X_te, y_tr, y_te))
    pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X_tr, y_tr)
    res = evaluate(pipe, X_te, y_te, X_train=X_tr, y_train=y_tr)
    # m_wwbb is read from column 27 of a 28-column array (UCI order).
    np.testing.assert_array_equal(res.masses, X_te[:, FEATURE_NAMES.index("m_wwbb")])
    np.testing.assert_array_equal(res.index, np.arange(len(y_te)))
    assert res.roc_auc == pytest.approx(roc_auc_score(y_te, pipe.predict_proba(X_te)[:, 1]))


def test_evaluate_with_weights_and_physics_counts(fitted, split):
    _, X_te, _, y_te = split
    w = np.where(y_te == 1, 0.01, 1.0)
    res = evaluate(fitted, X_te, y_te, sample_weight=w, n_signal=50, n_background=10_000)
    s = fitted.predict_proba(X_te)[:, 1]
    assert res.roc_auc == pytest.approx(roc_auc_score(y_te, s, sample_weight=w))
    assert res.optimal_cut.n_signal == 50 and res.optimal_cut.n_background == 10_000
    # Rare signal pushes the best cut far into the signal-like tail.
    assert res.optimal_cut.cut > 0.7
    assert res.optimal_cut.background_efficiency < 0.1


def test_evaluate_rejects_non_binary_classifier(split):
    X_tr, X_te, y_tr, y_te = split
    clf = LogisticRegression(max_iter=200).fit(X_tr, np.asarray(y_tr) + 1)
    with pytest.raises(ValueError, match="classes_"):
        evaluate(clf, X_te, y_te)


# --------------------------------------------------------------------------
# Mass spectra come from the very events that were classified
# --------------------------------------------------------------------------


def test_spectra_are_filled_from_the_classified_events(result, fitted, split):
    _, X_te, _, y_te = split
    m = X_te["m_wwbb"].to_numpy()
    y = y_te.to_numpy()
    pred = fitted.predict(X_te)
    sp = result.mass_spectra
    edges = sp.edges
    np.testing.assert_array_equal(sp.true_signal, np.histogram(m[y == 1], bins=edges)[0])
    np.testing.assert_array_equal(sp.predicted_signal, np.histogram(m[pred == 1], bins=edges)[0])
    np.testing.assert_array_equal(sp.true_background, np.histogram(m[y == 0], bins=edges)[0])
    np.testing.assert_array_equal(
        sp.predicted_background, np.histogram(m[pred == 0], bins=edges)[0]
    )
    np.testing.assert_array_equal(result.masses, m)


def test_explicit_masses_with_the_same_index_give_the_same_spectra(result, fitted, split):
    X_tr, X_te, y_tr, y_te = split
    res = evaluate(fitted, X_te, y_te, masses=X_te["m_wwbb"].copy())
    np.testing.assert_array_equal(res.mass_spectra.predicted_signal,
                                  result.mass_spectra.predicted_signal)


def test_shuffled_masses_series_raises(fitted, split):
    _, X_te, _, y_te = split
    shuffled = X_te["m_wwbb"].sample(frac=1.0, random_state=1)
    with pytest.raises(ValueError, match="same events in a different order"):
        evaluate(fitted, X_te, y_te, masses=shuffled)
    with pytest.raises(ValueError, match="index differs"):
        mass_spectra(shuffled, y_te, fitted.predict(X_te))
    with pytest.raises(ValueError, match="index differs"):
        mass_spectra(shuffled, y_te.to_numpy(), fitted.predict(X_te), index=X_te.index)


def test_masses_from_another_split_raise(fitted, split, sample_frame):
    # The original analysis histogrammed masses of one train/test split while
    # the predictions came from another.
    _, X_te, _, y_te = split
    _, X_other = train_test_split(sample_frame, test_size=0.25, random_state=1)
    with pytest.raises(ValueError, match="different events"):
        evaluate(fitted, X_te, y_te, masses=X_other["m_wwbb"])
    with pytest.raises(ValueError, match="entries"):
        evaluate(fitted, X_te, y_te, masses=X_te["m_wwbb"].to_numpy()[:-1])
    with pytest.raises(ValueError, match="index differs"):
        evaluate(fitted, X_te, y_te.sample(frac=1.0, random_state=0))


def test_the_old_misalignment_would_change_the_spectra(fitted, split, sample_frame):
    # What the checks above guard against: the same arrays paired in another
    # order give visibly different "predicted signal" spectra, so a test that
    # compares with the aligned histograms would catch the old bug.
    _, X_te, _, y_te = split
    pred = fitted.predict(X_te)
    good = mass_spectra(X_te["m_wwbb"], y_te, pred)
    shuffled = X_te["m_wwbb"].sample(frac=1.0, random_state=1).to_numpy()
    bad = mass_spectra(shuffled, y_te, pred, range=(good.edges[0], good.edges[-1]))
    assert not np.array_equal(good.predicted_signal, bad.predicted_signal)
    assert not np.array_equal(good.true_signal, bad.true_signal)
    assert np.abs(good.true_signal - bad.true_signal).sum() > 0.05 * good.true_signal.sum()
    # And the totals agree, so only an event-by-event comparison reveals it.
    assert good.predicted_signal.sum() == pytest.approx(bad.predicted_signal.sum(), abs=30)


def test_check_aligned_lengths_and_reference():
    idx = pd.Index([10, 11, 12])
    assert check_aligned(index=idx, a=np.zeros(3), b=pd.Series([1, 2, 3], index=idx)) is idx
    with pytest.raises(ValueError, match="has 2 entries"):
        check_aligned(index=idx, n_events=3, a=np.zeros(2))
    # Without an explicit index, the first Series is the reference.
    with pytest.raises(ValueError, match="index differs"):
        check_aligned(a=pd.Series([1, 2], index=[0, 1]), b=pd.Series([1, 2], index=[1, 0]))
