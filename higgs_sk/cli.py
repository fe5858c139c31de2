"""The ``higgs-sk`` command line: train, evaluate, predict, tune, fetch.

A thin shell over the library: each command parses arguments, calls the
library functions and writes files atomically.  User errors (bad paths,
bad data, bad models) print one ``higgs-sk: error: ...`` line and exit 2.

Examples
--------
.. code-block:: console

    $ higgs-sk train --out run1              # bundled real sample, 60/15/25 split
    $ higgs-sk predict --model run1/model.joblib --data events.csv --out scored.parquet
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path

from .atomic import atomic_directory

__all__ = ["main", "build_parser"]

MODEL_FILE = "model.joblib"
METRICS_FILE = "metrics.json"


class UserError(Exception):
    """A problem with the command's input that the user can fix."""


# -- helpers ---------------------------------------------------------------------


def _arg_type(convert, ok, expected):
    """An argparse ``type`` that converts, checks and explains in one line."""

    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not ok(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    return parse


_positive_int = _arg_type(int, lambda v: v >= 1, "a positive integer")
_positive_float = _arg_type(float, lambda v: v > 0, "a positive number")
_fraction = _arg_type(float, lambda v: 0.0 < v < 1.0, "a number in (0, 1)")
_seed = _arg_type(int, lambda v: 0 <= v < 2**32, "an integer in [0, 2**32)")
_folds = _arg_type(int, lambda v: v >= 2, "at least 2 cross-validation folds")
_n_jobs = _arg_type(int, lambda v: v >= 1 or v == -1, "a positive integer or -1")


def _layers(text):
    try:
        sizes = tuple(int(t) for t in text.split(",") if t.strip())
    except ValueError:
        sizes = ()
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive layer sizes like 64,64,64,32, got {text!r}"
        )
    return sizes


def _check_out_dir(out, force, *inputs):
    """Refuse an --out directory early, before loading data or training.

    A non-empty directory needs --force; and even with --force it must not
    hold one of the command's own inputs, which replacing it would delete.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out}: exists and is not a directory")
    if out.is_dir() and any(out.iterdir()):
        if not force:
            raise UserError(f"--out {out}: directory is not empty; pass --force to replace it")
        root = out.resolve()
        for item in inputs:
            if item is not None and root in Path(item).resolve().parents:
                raise UserError(
                    f"--out {out}: holds the input {item}, which --force would delete; "
                    f"choose another --out directory"
                )


def _load_events(path, *, need_labels):
    from .datasets import LABEL, load_higgs, load_sample

    if path is None:
        return load_sample(as_frame=True).frame, "bundled real sample (9,000 events)"
    frame = load_higgs(path)
    if need_labels and LABEL not in frame.columns:
        raise UserError(f"{path}: has no label column; this command needs labelled events")
    return frame, str(path)


def _import_tensorflow_quietly():
    """Import TensorFlow with its C-level start-up logging sent to /dev/null.

    TensorFlow writes absl/oneDNN banners straight to file descriptor 2 before
    any Python logging applies; Python errors raised by the import still
    propagate (and print) after stderr is restored.
    """
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import keras  # noqa: F401
        import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _write_json(path, data):
    from .atomic import atomic_write_text

    atomic_write_text(path, json.dumps(data, indent=2, allow_nan=False, default=str) + "\n")


# -- commands --------------------------------------------------------------------


def _network_options(args):
    # Only what the user gave: otherwise the pipeline's defaults apply, which
    # differ between the plain and the --physics network.
    given = {"batch_size": args.batch_size, "hidden_layer_sizes": args.hidden,
             "epochs": args.epochs}
    return {k: v for k, v in given.items() if v is not None}


def _epoch_budget(args):
    """--epochs, or the default of the network that will be trained."""
    if args.epochs is not None:
        return args.epochs
    from .pipeline import make_higgs_pipeline

    physics = "lorentz" if getattr(args, "physics", False) else None
    return make_higgs_pipeline(physics=physics).get_params()["clf__epochs"]


def cmd_train(args):
    from .report import write_report

    _check_out_dir(args.out, args.force, args.data)
    if args.stream:
        if args.physics:
            raise UserError("--physics cannot be combined with --stream: the streaming "
                            "trainer fits the plain low-level network")
        return _train_stream(args)
    frame, source = _load_events(args.data, need_labels=True)
    with atomic_directory(args.out, replace=args.force) as staging:
        callbacks = []
        if not args.quiet:
            from .progress import EpochProgress

            callbacks.append(EpochProgress(_epoch_budget(args)))
            print(f"training on {source}", file=sys.stderr)
        from .training import train_and_evaluate

        run = train_and_evaluate(
            frame,
            test_size=args.test_size,
            val_size=args.val_size,
            random_state=args.seed,
            physics="lorentz" if args.physics else None,
            callbacks=callbacks,
            n_signal=args.n_signal,
            n_background=args.n_background,
            **_network_options(args),
        )
        from .persistence import save_pipeline

        info = dict(run.info, data=source)
        save_pipeline(run.pipeline, staging / MODEL_FILE, training=info)
        _write_json(staging / METRICS_FILE, {"metrics": run.result.to_dict(), "training": info})
        test = frame.loc[run.test_index]
        from .datasets import LABEL

        write_report(
            staging, run.result, history=run.history, X=test.drop(columns=LABEL),
            y=test[LABEL].to_numpy(), info=info, title=f"higgs-sk train: {source}",
        )
    if not args.quiet:
        print(run.result.summary())
        print(f"wrote {args.out}/{MODEL_FILE}, {METRICS_FILE}, report.md, figures/")
    return 0


def _train_stream(args):
    from .persistence import save_pipeline
    from .streaming import train_streaming

    if args.data is None:
        raise UserError("--stream needs --data: a file too large to load at once")
    with atomic_directory(args.out, replace=args.force) as staging:
        pipe, info = train_streaming(
            args.data,
            chunk_size=args.chunk_size,
            random_state=args.seed,
            progress=not args.quiet,
            **{**_network_options(args), "epochs": _epoch_budget(args)},
        )
        info = dict(info, data=str(args.data))
        save_pipeline(pipe, staging / MODEL_FILE, training=info)
        _write_json(staging / METRICS_FILE, {"training": info})
    if not args.quiet:
        print(f"streamed {info.get('events_per_epoch')} events per epoch; wrote {args.out}")
    return 0


def cmd_evaluate(args):
    from .datasets import LABEL
    from .evaluation import evaluate
    from .persistence import check_feature_names, load_pipeline

    if args.out is not None:
        _check_out_dir(args.out, args.force, args.data, args.model)
    # The model named by --model, and no other path; a bad one fails before the data is read.
    pipe, meta = load_pipeline(args.model, return_metadata=True)
    frame, source = _load_events(args.data, need_labels=True)
    check_feature_names(meta, frame.columns, model=str(args.model), data=source)
    X, y = frame.drop(columns=LABEL), frame[LABEL].to_numpy()
    if args.out is None:
        result = evaluate(pipe, X, y, n_signal=args.n_signal, n_background=args.n_background)
    else:
        from .report import write_report

        with atomic_directory(args.out, replace=args.force) as staging:
            result = evaluate(pipe, X, y, n_signal=args.n_signal, n_background=args.n_background)
            _write_json(staging / METRICS_FILE, {"metrics": result.to_dict(), "data": source,
                                                 "model": str(args.model)})
            write_report(staging, result, X=X, y=y, title=f"higgs-sk evaluate: {source}")
    print(result.summary())
    return 0


def cmd_predict(args):
    import numpy as np

    from .atomic import atomic_path
    from .datasets import load_higgs
    from .persistence import check_feature_names, load_pipeline

    out = Path(args.out)
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        raise UserError(f"--out {out}: use a .csv or .parquet file name")
    if out.is_dir():
        raise UserError(f"--out {out}: is a directory; give the scores file's name")
    for name, item in (("--data", args.data), ("--model", args.model)):
        if out.exists() and Path(item).exists() and out.samefile(item):
            raise UserError(f"--out {out}: is the {name} file; writing it would destroy it")
    pipe, meta = load_pipeline(args.model, return_metadata=True)
    frame = load_higgs(args.data)
    check_feature_names(meta, frame.columns, model=str(args.model), data=str(args.data))
    frame = frame.assign(signal_probability=pipe.predict_proba(frame)[:, 1].astype(np.float32))
    with atomic_path(out) as tmp:
        if suffix == ".csv":
            frame.to_csv(tmp, index=False, float_format="%.9g")
        else:
            frame.to_parquet(tmp, index=False)
    print(f"wrote {len(frame)} events with signal_probability to {out}", file=sys.stderr)
    return 0


_POSITIVE_INT_PARAMS = {"batch_size", "epochs", "patience"}


def _read_grid(path):
    if path is None:
        from .pipeline import default_param_grid

        return default_param_grid()
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"--grid {path}: no such file") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise UserError(f"--grid {path}: not valid JSON ({exc})") from exc
    if not isinstance(raw, dict) or not raw or not all(isinstance(v, list) for v in raw.values()):
        raise UserError(f"--grid {path}: expected an object mapping parameter names to lists")
    grid = {}
    for key, values in raw.items():
        name = key if "__" in key else f"clf__{key}"
        if name.endswith("hidden_layer_sizes"):
            if not all(isinstance(v, list) and v and all(isinstance(u, int) and u > 0 for u in v)
                       for v in values):
                raise UserError(f"--grid {path}: {key} values must be lists of positive layer "
                                f"sizes, e.g. [[64, 64, 64, 32], [8]]; got {values}")
        elif name.split("__")[-1] in _POSITIVE_INT_PARAMS:
            if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in values):
                raise UserError(f"--grid {path}: {key} values must be positive integers; "
                                f"got {values}")
        # JSON has no tuples; layer sizes come as lists of lists.
        grid[name] = [tuple(v) if isinstance(v, list) else v for v in values]
    return grid


def cmd_tune(args):
    import pandas as pd

    from .datasets import LABEL
    from .persistence import save_pipeline
    from .pipeline import make_higgs_pipeline

    _check_out_dir(args.out, args.force, args.data, args.grid)
    grid = _read_grid(args.grid)
    frame, source = _load_events(args.data, need_labels=True)
    with atomic_directory(args.out, replace=args.force) as staging:
        X, y = frame.drop(columns=LABEL), frame[LABEL].to_numpy()
        base = make_higgs_pipeline(epochs=args.epochs, random_state=args.seed)
        invalid = sorted(set(grid) - set(base.get_params()))
        if invalid:
            raise UserError(f"--grid: unknown parameter(s) {invalid}")
        from .distributed import run_grid_search

        # On a cluster every worker thread should take fits; n_jobs=1 would keep them here.
        n_jobs = None if args.scheduler and args.n_jobs == 1 else args.n_jobs
        start = time.perf_counter()
        if not args.quiet:
            from sklearn.model_selection import ParameterGrid

            n = len(ParameterGrid(grid))
            print(f"tune: {n} candidate(s) x {args.cv} folds = {n * args.cv} fits on "
                  f"{len(y)} events, then a refit of the best", file=sys.stderr, flush=True)
        # verbose=3: scikit-learn prints every fit's fold, parameters, score and time,
        # on stdout; progress belongs on stderr, beside the plan line.
        with contextlib.redirect_stdout(sys.stderr):
            search = run_grid_search(X, y, grid, pipeline=base, cv=args.cv, n_jobs=n_jobs,
                                     scheduler=args.scheduler, random_state=args.seed,
                                     verbose=0 if args.quiet else 3)
        seconds = time.perf_counter() - start
        table = pd.DataFrame(search.cv_results_)
        cols = ["rank_test_score", "mean_test_score", "std_test_score", "mean_fit_time"]
        cols += [c for c in table.columns if c.startswith("param_")]
        table = table[cols].sort_values("rank_test_score")
        from .atomic import atomic_path

        with atomic_path(staging / "cv_results.csv") as tmp:
            table.to_csv(tmp, index=False)
        info = {
            "data": source,
            "grid": {k: [list(v) if isinstance(v, tuple) else v for v in vs]
                     for k, vs in grid.items()},
            "cv": args.cv,
            "best_params": {k: list(v) if isinstance(v, tuple) else v
                            for k, v in search.best_params_.items()},
            "best_score_roc_auc": float(search.best_score_),
            "search_seconds": round(seconds, 1),
        }
        save_pipeline(search.best_estimator_, staging / MODEL_FILE, training=info)
        _write_json(staging / "search.json", info)
    if not args.quiet:
        with pd.option_context("display.width", 160, "display.max_columns", 20):
            print(table.to_string(index=False))
    print(f"best ROC AUC {search.best_score_:.4f} with {search.best_params_}; "
          f"wrote {args.out}/{MODEL_FILE}")
    return 0


# -- parser ----------------------------------------------------------------------


def _add_count_options(p):
    p.add_argument("--n-signal", type=_positive_float, metavar="S",
                   help="expected signal events for the S/sqrt(S+B) cut (default: test-set count)")
    p.add_argument("--n-background", type=_positive_float, metavar="B",
                   help="expected background events for the S/sqrt(S+B) cut "
                   "(default: test-set count)")


def build_parser():
    """The ``higgs-sk`` argument parser (exposed for documentation and tests)."""
    parser = argparse.ArgumentParser(
        prog="higgs-sk",
        description="Separate Higgs-boson signal from background with a Keras MLP "
        "in scikit-learn, on the UCI HIGGS data set.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("train", help="train, evaluate and save a pipeline",
                       description="Split labelled events 60/15/25 (train/validation/test, "
                       "stratified; 75/25 with --physics, which trains on the validation "
                       "part too), train the network, evaluate it on the test events and "
                       "write the model, metrics.json, report.md and figures into --out.")
    p.add_argument("--data", metavar="PATH",
                   help="HIGGS events (raw UCI CSV[.gz], CSV with header, Parquet); "
                   "default: the bundled real sample")
    p.add_argument("--out", metavar="DIR", default="higgs_run", help="output directory")
    p.add_argument("--force", action="store_true", help="replace a non-empty --out directory")
    p.add_argument("--test-size", type=_fraction, default=0.25)
    p.add_argument("--val-size", type=_fraction, default=0.15)
    p.add_argument("--epochs", type=_positive_int, default=None,
                   help="epoch budget (default 100, early stopping usually ends sooner; "
                        "25 with --physics, a fixed cosine-annealed budget)")
    p.add_argument("--batch-size", type=_positive_int, default=None,
                   help="mini-batch size (default 1024; 256 with --physics)")
    p.add_argument("--hidden", type=_layers, default=None,
                   help="hidden layer sizes (default 64,64,64,32; 256,256,256 with --physics)")
    p.add_argument("--physics", action="store_true",
                   help="add invariant masses and angles computed from the low-level features")
    p.add_argument("--seed", type=_seed, default=42, help="seed for the split and the network")
    p.add_argument("--stream", action="store_true",
                   help="train out of core, chunk by chunk (files larger than memory)")
    p.add_argument("--chunk-size", type=_positive_int, default=500_000,
                   help="events per chunk with --stream")
    p.add_argument("--quiet", action="store_true", help="no progress bar or results table")
    _add_count_options(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="evaluate a saved pipeline on labelled events")
    p.add_argument("--model", required=True, metavar="M", help="model file from train or tune")
    p.add_argument("--data", required=True, metavar="D", help="labelled HIGGS events")
    p.add_argument("--out", metavar="DIR", help="also write metrics.json, report.md, figures")
    p.add_argument("--force", action="store_true", help="replace a non-empty --out directory")
    _add_count_options(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("predict", help="add the signal probability to each event")
    p.add_argument("--model", required=True, metavar="M")
    p.add_argument("--data", required=True, metavar="D", help="HIGGS events, labelled or not")
    p.add_argument("--out", required=True, metavar="FILE",
                   help="output .csv or .parquet: the events in input order plus "
                   "a signal_probability column")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("tune", help="grid search on ROC AUC with stratified CV")
    p.add_argument("--data", metavar="D", help="labelled events; default: the bundled sample")
    p.add_argument("--grid", metavar="FILE.json",
                   help='parameter grid, e.g. {"hidden_layer_sizes": [[64,64,64,32],[128,128]], '
                   '"learning_rate": [0.001, 0.003]}; default: default_param_grid()')
    p.add_argument("--cv", type=_folds, default=3, help="stratified folds (default 3)")
    p.add_argument("--n-jobs", type=_n_jobs, default=1,
                   help="parallel fits (default 1; -1: all cores)")
    p.add_argument("--epochs", type=_positive_int, default=100)
    p.add_argument("--seed", type=_seed, default=0, help="seed for the folds and networks")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="run the search on a Dask cluster (needs higgs-sk[dask])")
    p.add_argument("--out", metavar="DIR", default="higgs_tune")
    p.add_argument("--force", action="store_true")
    p.add_argument("--quiet", action="store_true",
                   help="no line per fit and no results table, only the best candidate")
    p.set_defaults(func=cmd_tune)

    from .fetch import add_fetch_parser

    add_fetch_parser(sub)
    return parser


def main(argv=None):
    """Entry point of the ``higgs-sk`` console script; returns the exit status."""
    # Quiet TensorFlow's C++ start-up chatter for command-line users.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("MPLBACKEND", "Agg")
    parser = build_parser()
    args = parser.parse_args(argv)
    from .exceptions import HiggsSKError

    try:
        if args.command != "fetch":
            _import_tensorflow_quietly()
        return args.func(args)
    except KeyboardInterrupt:
        print("higgs-sk: interrupted (output directories are only written when complete)",
              file=sys.stderr)
        return 130
    except (UserError, HiggsSKError, OSError, ValueError) as exc:
        message = " ".join(str(exc).split())
        print(f"higgs-sk: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
