"""Write a run's human-readable report: ``report.md`` plus its PNG figures.

Examples
--------
>>> from higgs_sk.report import write_report                       # doctest: +SKIP
>>> write_report("run", run.result, history=run.history, X=X_test, y=y_test)  # doctest: +SKIP
PosixPath('run/report.md')
"""

from __future__ import annotations

from pathlib import Path

from .atomic import atomic_write_text

__all__ = ["write_report", "FIGURES"]

FIGURES = {
    "history": "Training history: loss and accuracy per epoch, training vs validation events "
               "(training only when the network trained without early stopping).",
    "roc": "ROC curve of the test events, with the area under it.",
    "rejection": "Background rejection versus signal efficiency on the test events.",
    "output": "Classifier output for signal and background, training vs test events, "
    "with Kolmogorov-Smirnov probabilities (overtraining check).",
    "mass_spectra": "m_wwbb spectra of the test events: true vs predicted signal and true vs "
    "predicted background; masses and predictions belong to the same events.",
    "features": "The 21 low-level features, signal vs background (test events).",
    "correlation": "Linear correlation of the features (test events).",
}


def _figures(result, history, X, y):
    from . import plotting

    if history:
        yield "history", plotting.plot_history(history)
    yield "roc", plotting.plot_roc(result)
    yield "rejection", plotting.plot_background_rejection(result)
    yield "output", plotting.plot_classifier_output(result)
    if result.mass_spectra is not None:
        yield "mass_spectra", plotting.plot_mass_spectra(result)
    if X is not None and y is not None:
        yield "features", plotting.plot_feature_distributions(X, y)
        yield "correlation", plotting.plot_correlation_matrix(X, y)


def _metrics_table(result):
    rows = [
        ("test events", f"{result.n_events} ({result.n_signal_events} signal)"),
        ("accuracy", f"{result.accuracy:.4f}"),
        ("ROC AUC", f"{result.roc_auc:.4f}"),
    ]
    if result.train_roc_auc is not None:
        rows.append(("ROC AUC on training events", f"{result.train_roc_auc:.4f}"))
    for eff_b, eff_s in result.signal_efficiency_at_background.items():
        rows.append((f"signal efficiency at background efficiency {eff_b:g}", f"{eff_s:.4f}"))
    for eff_s, rej in result.background_rejection_at_signal.items():
        rows.append((f"background rejection 1/eff_B at signal efficiency {eff_s:g}", f"{rej:.2f}"))
    rows.append(("separation <S^2>", f"{result.separation:.4f}"))
    if result.ks_signal is not None:
        rows.append(("KS probability train vs test, signal", f"{result.ks_signal:.3f}"))
        rows.append(("KS probability train vs test, background", f"{result.ks_background:.3f}"))
    cut = result.optimal_cut
    rows.append(
        (
            "cut maximising S/sqrt(S+B)",
            f"output >= {cut.cut:.4f}: S/sqrt(S+B) = {cut.significance:.3f}, "
            f"eff_S = {cut.signal_efficiency:.3f}, eff_B = {cut.background_efficiency:.3f}",
        )
    )
    lines = ["| quantity | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in rows]
    return "\n".join(lines)


def write_report(directory, result, *, history=None, X=None, y=None, info=None,
                 title="higgs-sk run"):
    """Write ``report.md`` and ``figures/*.png`` into ``directory``, each file atomically.

    Parameters
    ----------
    directory : str or path-like
    result : higgs_sk.evaluation.EvaluationResult
    history : dict, optional
        The network's per-epoch history (``HiggsClassifier.history_``).
    X, y : DataFrame and array, optional
        Test events for the feature figures.
    info : dict, optional
        Run summary shown at the top (events, parameters, timing).
    title : str

    Returns
    -------
    pathlib.Path
        The report file.
    """
    from .plotting import save_figure

    directory = Path(directory)
    fig_dir = directory / "figures"
    written = []
    for name, fig in _figures(result, history, X, y):
        save_figure(fig, fig_dir / f"{name}.png")
        written.append(name)

    parts = [f"# {title}", ""]
    if info:
        ev = info.get("events", {})
        if ev:
            parts.append(
                f"Events: {ev.get('total')} in all; {ev.get('train')} for training, "
                f"{ev.get('validation')} for early stopping, {ev.get('test')} for this test."
            )
        if "epochs_run" in info:
            best = info.get("best_epoch")
            kept = (f"best {best}" if best is not None
                    else "a fixed budget without early stopping, the last epoch kept")
            parts.append(
                f"Training: {info['epochs_run']} epochs ({kept}), "
                f"{info.get('fit_seconds')} s, {info.get('events_per_second')} events/s."
            )
        parts.append("")
    parts += ["## Results on the test events", "", _metrics_table(result), "", "## Figures", ""]
    for name in written:
        parts += [f"### {name.replace('_', ' ')}", "", FIGURES[name], "",
                  f"![{name}](figures/{name}.png)", ""]
    parts += [
        "See docs/figures_of_merit.md in the higgs-sk sources for the definition "
        "of each figure of merit.",
        "",
    ]
    path = directory / "report.md"
    atomic_write_text(path, "\n".join(parts))
    return path
