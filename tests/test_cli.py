"""The higgs-sk command line: the main job end to end on the bundled real sample."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from higgs_sk.cli import main
from higgs_sk.datasets import LABEL, load_higgs, load_sample
from higgs_sk.evaluation import evaluate
from higgs_sk.persistence import load_pipeline
from higgs_sk.training import split_events

FIGURES = ["history", "roc", "rejection", "output", "mass_spectra", "features", "correlation"]


@pytest.fixture(scope="module")
def train_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    assert main(["train", "--epochs", "3", "--out", str(out), "--quiet"]) == 0
    return out


def test_train_writes_every_output(train_run):
    for name in ["model.joblib", "model.joblib.meta.json", "metrics.json", "report.md"]:
        assert (train_run / name).stat().st_size > 0, name
    for fig in FIGURES:
        png = train_run / "figures" / f"{fig}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", fig
    report = (train_run / "report.md").read_text()
    for fig in FIGURES:
        assert f"(figures/{fig}.png)" in report
    assert not [p for p in train_run.parent.iterdir() if p.name.startswith(".")]


def test_metrics_json_consistent_with_saved_pipeline(train_run):
    doc = json.loads((train_run / "metrics.json").read_text())
    m, info = doc["metrics"], doc["training"]
    assert info["events"] == {"total": 9000, "train": 5400, "validation": 1350, "test": 2250}
    assert info["epochs_run"] == 3
    assert 0.5 < m["roc_auc"] < 0.75 and 0.45 < m["accuracy"] < 0.75
    assert m["n_events"] == 2250 and m["n_signal_events"] == 1192
    # Recompute from the saved model and the same split: identical numbers.
    frame = load_sample(as_frame=True).frame
    _, test = split_events(frame[LABEL], test_size=0.25, random_state=42)
    pipe = load_pipeline(train_run / "model.joblib")
    again = evaluate(pipe, frame.iloc[test].drop(columns=LABEL), frame[LABEL].to_numpy()[test])
    assert again.roc_auc == pytest.approx(m["roc_auc"], abs=1e-12)
    assert again.accuracy == pytest.approx(m["accuracy"], abs=1e-12)
    sp = m["mass_spectra"]
    assert sum(sp["true_signal"]) == pytest.approx(again.mass_spectra.true_signal.sum())


def test_spectra_use_the_masses_of_the_predicted_events(train_run):
    # The masses in the run are those of the test events themselves: refilling the
    # spectra from the test events' own m_wwbb reproduces them, while masses taken
    # from another split (the notebook's bug) do not.
    doc = json.loads((train_run / "metrics.json").read_text())
    saved = np.asarray(doc["metrics"]["mass_spectra"]["true_signal"])
    frame = load_sample(as_frame=True).frame
    train, test = split_events(frame[LABEL], test_size=0.25, random_state=42)
    pipe = load_pipeline(train_run / "model.joblib")
    ours = evaluate(pipe, frame.iloc[test].drop(columns=LABEL), frame[LABEL].to_numpy()[test])
    np.testing.assert_array_equal(ours.mass_spectra.true_signal, saved)
    wrong_masses = frame["m_wwbb"].iloc[train[: len(test)]]
    with pytest.raises(ValueError, match="index"):
        evaluate(pipe, frame.iloc[test].drop(columns=LABEL), frame[LABEL].to_numpy()[test],
                 masses=wrong_masses)
    old_way = evaluate(pipe, frame.iloc[test].drop(columns=LABEL), frame[LABEL].to_numpy()[test],
                       masses=wrong_masses.to_numpy())
    assert not np.array_equal(old_way.mass_spectra.true_signal, saved)


def test_predict_keeps_one_row_per_event_in_order(train_run, tmp_path, uci_path):
    for suffix in (".csv", ".parquet"):
        out = tmp_path / f"scored{suffix}"
        assert main(["predict", "--model", str(train_run / "model.joblib"),
                     "--data", str(uci_path), "--out", str(out)]) == 0
        scored = pd.read_csv(out) if suffix == ".csv" else pd.read_parquet(out)
        raw = load_higgs(uci_path)
        assert len(scored) == 2000
        np.testing.assert_array_equal(scored["lepton_pT"].to_numpy(np.float32),
                                      raw["lepton_pT"].to_numpy())
        pipe = load_pipeline(train_run / "model.joblib")
        np.testing.assert_allclose(scored["signal_probability"],
                                   pipe.predict_proba(raw)[:, 1], rtol=1e-6)


def test_evaluate_command(train_run, tmp_path, uci_path, capsys):
    assert main(["evaluate", "--model", str(train_run / "model.joblib"),
                 "--data", str(uci_path), "--out", str(tmp_path / "ev")]) == 0
    assert "ROC AUC" in capsys.readouterr().out
    doc = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert doc["metrics"]["n_events"] == 2000


def test_user_errors_are_one_line_and_exit_2(train_run, tmp_path, capsys):
    cases = [
        (["train", "--out", str(train_run), "--epochs", "1"], "not empty; pass --force"),
        (["evaluate", "--model", str(tmp_path / "none.joblib"), "--data", "x.csv"],
         "no such model file"),
        (["predict", "--model", str(train_run / "model.joblib"), "--data",
          str(tmp_path / "missing.csv"), "--out", str(tmp_path / "o.csv")], "no such file"),
        (["predict", "--model", str(train_run / "model.joblib"), "--data",
          str(tmp_path / "missing.csv"), "--out", str(tmp_path / "o.txt")], ".csv or .parquet"),
    ]
    for argv, fragment in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("higgs-sk: error:") and fragment in err[0]
    with pytest.raises(SystemExit) as exc:
        main(["train", "--hidden", "64,x"])
    assert exc.value.code == 2


@pytest.mark.parametrize("cmd", ["train", "evaluate", "predict", "tune", "fetch"])
def test_help_for_every_command(cmd, capsys):
    with pytest.raises(SystemExit) as exc:
        main([cmd, "--help"])
    assert exc.value.code == 0 and "usage: higgs-sk" in capsys.readouterr().out


def test_tune_ranks_candidates_and_saves_best(tmp_path, capsys):
    grid = tmp_path / "grid.json"
    grid.write_text(json.dumps({"hidden_layer_sizes": [[16], [32, 16]], "learning_rate": [0.003]}))
    out = tmp_path / "tune"
    assert main(["tune", "--grid", str(grid), "--cv", "2", "--epochs", "3",
                 "--out", str(out)]) == 0
    captured = capsys.readouterr()
    printed = captured.out
    assert "rank_test_score" in printed and "best ROC AUC" in printed
    # Progress while the search runs, on stderr: the plan, then one line per
    # (candidate, fold); stdout keeps only the results.
    assert "tune: 2 candidate(s) x 2 folds = 4 fits on 9000 events" in captured.err
    assert captured.err.count("END clf__hidden_layer_sizes=") == 4
    assert "END clf__" not in printed and "tune:" not in printed
    table = pd.read_csv(out / "cv_results.csv")
    assert len(table) == 2 and np.isfinite(table["mean_test_score"]).all()
    assert list(table["rank_test_score"]) == [1, 2]
    load_pipeline(out / "model.joblib")


def test_default_train_meets_the_quality_bar(tmp_path):
    # The README's main job, as a newcomer runs it: console script, all defaults.
    out = tmp_path / "default_run"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.run(
        [Path(sys.executable).with_name("higgs-sk"), "train", "--out", str(out)],
        capture_output=True, text=True, timeout=180, env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "ROC AUC" in proc.stdout and "oneDNN" not in proc.stderr
    auc = json.loads((out / "metrics.json").read_text())["metrics"]["roc_auc"]
    assert auc >= 0.62, auc


def test_bad_tune_grid_and_options_are_one_line_errors(tmp_path, capsys):
    grid = tmp_path / "grid.json"
    grid.write_text(json.dumps({"hidden_layer_sizes": [8]}))
    assert main(["tune", "--grid", str(grid), "--out", str(tmp_path / "t")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "must be lists of positive layer sizes" in err[0]
    grid.write_text(json.dumps({"batch_size": [0]}))
    assert main(["tune", "--grid", str(grid), "--out", str(tmp_path / "t")]) == 2
    assert "positive integers" in capsys.readouterr().err
    for argv in (["train", "--seed", "-1"], ["tune", "--cv", "1"], ["tune", "--n-jobs", "0"]):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2
        assert argv[1] in capsys.readouterr().err


def test_train_physics_uses_the_physics_network(uci_path, tmp_path):
    out = tmp_path / "physics"
    assert main(["train", "--physics", "--data", str(uci_path), "--out", str(out),
                 "--quiet"]) == 0
    pipe = load_pipeline(out / "model.joblib")
    assert [n for n, _ in pipe.steps] == ["select", "physics", "scale", "clf"]
    clf = pipe.named_steps["clf"]
    assert (clf.embedding, clf.hidden_layer_sizes, clf.batch_size) == (
        ("periodic", "ple"), (256, 256, 256), 256)
    assert clf.model_.get_layer("tower_0_periodic_embedding") is not None
    doc = json.loads((out / "metrics.json").read_text())
    # Without --epochs: the physics network's own fixed, cosine-annealed budget on every
    # training event (1,500 of the 2,000), not the plain network's 100 with early stopping.
    training = doc["training"]
    assert training["epochs_run"] == 25 and training["best_epoch"] is None
    assert training["events"]["train"] == 1500 and training["events"]["validation"] == 0
    assert training["classifier"]["learning_rate_schedule"] == "cosine"
    # 2,000 real events: well above chance on the test quarter.
    assert 0.65 < doc["metrics"]["roc_auc"] < 0.9


def test_train_stream_from_the_command_line(uci_path, tmp_path, capsys):
    out = tmp_path / "streamed"
    assert main(["train", "--stream", "--data", str(uci_path), "--chunk-size", "700",
                 "--epochs", "2", "--out", str(out), "--quiet"]) == 0
    doc = json.loads((out / "metrics.json").read_text())["training"]
    assert doc["n_chunks"] == 3 and doc["epochs_run"] <= 2
    X = load_higgs(uci_path).drop(columns=LABEL)
    assert load_pipeline(out / "model.joblib").predict_proba(X).shape == (2000, 2)
    # The streaming trainer has no physics step: asking for one is an error, not ignored.
    assert main(["train", "--stream", "--physics", "--data", str(uci_path),
                 "--out", str(tmp_path / "p"), "--quiet"]) == 2
    assert "--physics cannot be combined with --stream" in capsys.readouterr().err
    assert not (tmp_path / "p").exists()


def test_cli_page_lists_every_tunable_classifier_parameter():
    import re

    from higgs_sk import HiggsClassifier

    page = (Path(__file__).parents[1] / "docs" / "cli.md").read_text()
    item = page[page.index("* Valid `clf__` parameters:"):].split("\n* ")[0]
    listed = set(re.findall(r"`(\w+)`", item)) - {"clf__"}
    # callbacks and verbose are not values a JSON grid can hold or should search.
    assert listed == set(HiggsClassifier().get_params()) - {"callbacks", "verbose"}
