"""Every plot returns a Figure with the expected panels and saves a real PNG."""

import json
import subprocess
import sys

import numpy as np
import pytest
from matplotlib.figure import Figure
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from higgs_sk.datasets import FEATURE_NAMES, HIGH_LEVEL_FEATURES, LABEL, LOW_LEVEL_FEATURES
from higgs_sk.evaluation import EvaluationResult, evaluate
from higgs_sk.plotting import (
    plot_background_rejection,
    plot_classifier_output,
    plot_correlation_matrix,
    plot_feature_distributions,
    plot_history,
    plot_mass_spectra,
    plot_roc,
    save_figure,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
HISTORY = {
    "loss": [0.69, 0.64, 0.62],
    "val_loss": [0.68, 0.65, 0.64],
    "binary_accuracy": [0.55, 0.63, 0.66],
    "val_binary_accuracy": [0.56, 0.62, 0.64],
}


@pytest.fixture(scope="module")
def events(sample_frame):
    part = sample_frame.iloc[:3000]
    return part[FEATURE_NAMES], part[LABEL]


@pytest.fixture(scope="module")
def result(events):
    X, y = events
    X_tr, y_tr, X_te, y_te = X.iloc[:2000], y.iloc[:2000], X.iloc[2000:], y.iloc[2000:]
    pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X_tr, y_tr)
    return evaluate(pipe, X_te, y_te, X_train=X_tr, y_train=y_tr)


def _saves_png(fig, tmp_path, name="fig.png"):
    path = save_figure(fig, tmp_path / name, dpi=40)
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 1000
    return path


def test_history_loss_and_accuracy(tmp_path):
    fig = plot_history(HISTORY, title="MLP")
    assert isinstance(fig, Figure)
    assert [len(ax.lines) for ax in fig.axes] == [2, 2]
    assert [ax.get_ylabel() for ax in fig.axes] == ["loss", "accuracy"]
    np.testing.assert_array_equal(fig.axes[1].lines[1].get_ydata(), HISTORY["val_binary_accuracy"])
    np.testing.assert_array_equal(fig.axes[0].lines[0].get_xdata(), [1, 2, 3])
    _saves_png(fig, tmp_path)


def test_history_variants():
    class Fitted:  # scikeras-style estimator
        history_ = {"loss": [1.0, 0.5], "accuracy": [0.5, 0.7]}

    fig = plot_history(Fitted())
    assert [len(ax.lines) for ax in fig.axes] == [1, 1]  # no validation split
    fig = plot_history({"loss": [1.0, 0.5], "val_loss": [1.1, 0.6]})
    assert len(fig.axes) == 1 and len(fig.axes[0].lines) == 2  # no accuracy recorded
    with pytest.raises(ValueError, match="loss"):
        plot_history({"accuracy": [0.5]})
    with pytest.raises(TypeError):
        plot_history([0.1, 0.2])


def test_roc(result, tmp_path):
    fig = plot_roc(result)
    (ax,) = fig.axes
    assert len(ax.lines) == 2  # curve and diagonal
    assert f"{result.roc_auc:.4f}" in ax.get_legend().get_texts()[0].get_text()
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), result.roc.fpr)
    _saves_png(fig, tmp_path)
    # From arrays, without a result.
    fig = plot_roc(y_true=result.y_true, y_score=result.y_score)
    assert len(fig.axes) == 1 and len(fig.axes[0].lines) == 2
    with pytest.raises(ValueError):
        plot_roc()


@pytest.mark.parametrize("kind, scale", [("1-eff", "linear"), ("inverse", "log")])
def test_background_rejection(result, tmp_path, kind, scale):
    fig = plot_background_rejection(result, kind=kind)
    (ax,) = fig.axes
    assert len(ax.lines) == 1 and ax.get_yscale() == scale
    x, y = ax.lines[0].get_data()
    if kind == "1-eff":
        np.testing.assert_allclose(y, 1 - result.roc.fpr)
    else:
        assert np.isfinite(y).all() and y.min() >= 1.0
    np.testing.assert_array_equal(np.diff(x) >= 0, True)
    _saves_png(fig, tmp_path)
    with pytest.raises(ValueError, match="kind"):
        plot_background_rejection(result, kind="ratio")


def test_classifier_output_with_ks_in_legend(result, tmp_path):
    fig = plot_classifier_output(result)
    (ax,) = fig.axes
    assert len(ax.patches) == 2  # filled test histograms
    assert len(ax.containers) == 2  # training points with error bars
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(f"KS p = {result.ks_signal:.3f}" in t and "signal" in t for t in labels)
    assert any(f"KS p = {result.ks_background:.3f}" in t and "background" in t for t in labels)
    _saves_png(fig, tmp_path)
    # Test events only: no points, no KS.
    fig = plot_classifier_output(y_test=result.y_true, score_test=result.y_score)
    assert len(fig.axes[0].patches) == 2 and len(fig.axes[0].containers) == 0


def test_classifier_output_from_json_round_trip(result):
    back = EvaluationResult.from_dict(json.loads(json.dumps(result.to_dict())))
    fig = plot_classifier_output(back)
    assert len(fig.axes[0].patches) == 2 and len(fig.axes[0].containers) == 2


def test_mass_spectra(result, tmp_path):
    fig = plot_mass_spectra(result)
    assert len(fig.axes) == 2
    assert [len(ax.patches) for ax in fig.axes] == [2, 2]  # true and predicted
    true_sig = fig.axes[0].patches[0].get_data().values
    np.testing.assert_array_equal(true_sig, result.mass_spectra.true_signal)
    _saves_png(fig, tmp_path)
    assert len(plot_mass_spectra(result.mass_spectra).axes) == 2


def test_mass_spectra_from_arrays_refuses_misaligned_series(events):
    X, y = events
    pred = (X["m_wwbb"] > 1).astype(int)
    fig = plot_mass_spectra(masses=X["m_wwbb"], y_true=y, y_pred=pred, bins=10)
    assert [len(ax.patches) for ax in fig.axes] == [2, 2]
    with pytest.raises(ValueError, match="index differs"):
        plot_mass_spectra(masses=X["m_wwbb"].sample(frac=1.0, random_state=0), y_true=y,
                          y_pred=pred)


def test_feature_distributions(events, tmp_path):
    X, y = events
    fig = plot_feature_distributions(X.iloc[:1000], y.iloc[:1000])
    assert len(fig.axes) == len(LOW_LEVEL_FEATURES) == 21
    assert [ax.get_title() for ax in fig.axes] == LOW_LEVEL_FEATURES
    assert all(len(ax.patches) == 2 for ax in fig.axes)  # signal and background
    _saves_png(fig, tmp_path)
    # A 28-column array is read in UCI order.
    fig = plot_feature_distributions(X.to_numpy()[:500], y.to_numpy()[:500], features="high")
    assert [ax.get_title() for ax in fig.axes] == HIGH_LEVEL_FEATURES
    with pytest.raises(ValueError, match="index differs"):
        plot_feature_distributions(X, y.sample(frac=1.0, random_state=0))


def test_correlation_matrix(events, tmp_path):
    X, y = events
    fig = plot_correlation_matrix(X.iloc[:1000])
    assert len(fig.axes) == 2  # matrix and colour bar
    corr = fig.axes[0].images[0].get_array()
    assert corr.shape == (28, 28)
    np.testing.assert_allclose(np.diag(corr), 1.0)
    expected = np.corrcoef(X.iloc[:1000].to_numpy(dtype=float), rowvar=False)
    np.testing.assert_allclose(corr, expected, atol=1e-10)
    _saves_png(fig, tmp_path)
    fig = plot_correlation_matrix(X.iloc[:1000], y.iloc[:1000], features="high")
    assert len(fig.axes) == 3  # signal, background, colour bar
    assert fig.axes[0].images[0].get_array().shape == (7, 7)
    # Events with only the low-level columns (plus extras) still get a matrix.
    low = X.iloc[:300][LOW_LEVEL_FEATURES[::-1]].assign(event_id=range(300))
    fig = plot_correlation_matrix(low)
    assert fig.axes[0].images[0].get_array().shape == (21, 21)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == LOW_LEVEL_FEATURES


def test_save_figure_is_atomic(tmp_path):
    target = tmp_path / "sub" / "roc.png"
    fig = plot_history(HISTORY)
    save_figure(fig, target, dpi=30)
    first = target.read_bytes()
    save_figure(fig, target, dpi=60)  # replaces the old file
    assert target.read_bytes() != first and target.read_bytes().startswith(PNG_MAGIC)
    kept = target.read_bytes()
    with pytest.raises(ValueError):
        save_figure(fig, target, format="no-such-format")
    assert target.read_bytes() == kept  # a failed save leaves the old file alone
    assert sorted(p.name for p in target.parent.iterdir()) == ["roc.png"]  # no temp files
    pdf = save_figure(fig, tmp_path / "h.pdf")
    assert pdf.read_bytes().startswith(b"%PDF")


def test_plotting_never_uses_pyplot(tmp_path):
    code = (
        "import sys\n"
        "from higgs_sk.plotting import plot_roc, save_figure\n"
        "fig = plot_roc(y_true=[1, 0, 1, 0], y_score=[0.9, 0.8, 0.3, 0.1])\n"
        f"save_figure(fig, {str(tmp_path / 'r.png')!r}, dpi=20)\n"
        "print('matplotlib.pyplot' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.strip() == "False"
