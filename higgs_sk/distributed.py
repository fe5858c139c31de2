"""Hyper-parameter search on a Dask cluster, beyond one machine.

scikit-learn parallelises ``GridSearchCV`` through joblib, and joblib can
hand its work to a Dask cluster.  :func:`dask_backend` sets that up: it
connects a ``dask.distributed.Client``, limits TensorFlow's thread pools in
every worker, and routes joblib to the cluster, so an unchanged
``search.fit(X, y)`` spreads its (candidate, fold) fits over all workers::

    from higgs_sk.distributed import dask_backend
    from higgs_sk.pipeline import make_grid_search

    search = make_grid_search(param_grid=grid, cv=3)    # n_jobs=None: whole cluster
    with dask_backend("tcp://scheduler:8786"):
        search.fit(X, y)

:func:`run_grid_search` does the same in one call; the command line
``higgs-sk tune --scheduler ADDRESS`` runs its search the same way.

This module imports ``distributed`` when it is itself imported (for the
worker plugin's base class), and ``higgs_sk`` never imports this module
by itself, so Dask costs nothing to users who do not use it.

Threads
-------
Each Dask worker thread runs one Keras fit at a time, and TensorFlow would
otherwise start a pool of as many threads as the machine has cores *per
fit*: a 16-core machine with 16 worker threads would run 256 compute
threads and crawl.  Every worker therefore gets ``TF_NUM_INTRAOP_THREADS``
= ``tf_threads`` (default 1), ``TF_NUM_INTEROP_THREADS`` = 1 and
``OMP_NUM_THREADS`` = ``tf_threads``, set before TensorFlow starts in that
worker.  Start one worker thread per core (``dask worker ADDRESS --nthreads
1 --nworkers CORES``, or ``--nthreads CORES`` with ``tf_threads=1``).  A
worker that already ran TensorFlow before it joined keeps its pools; restart
such workers.

Requirements
------------
Dask is an optional dependency: ``pip install "higgs-sk[dask]"``.  Every
worker needs higgs-sk installed (same versions as the client), because the
estimator is sent to it by pickle.

Examples
--------
>>> from higgs_sk.distributed import run_grid_search
>>> search = run_grid_search(X, y, {"clf__learning_rate": [1e-3, 3e-3]},
...                          scheduler="tcp://127.0.0.1:8786")  # doctest: +SKIP
>>> search.best_params_                                          # doctest: +SKIP
{'clf__learning_rate': 0.003}
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings

__all__ = ["dask_backend", "run_grid_search", "require_dask", "DASK_EXTRA_HINT"]

DASK_EXTRA_HINT = 'pip install "higgs-sk[dask]"'

try:  # only for the plugin's base class; nothing else is imported before use
    from distributed.diagnostics.plugin import WorkerPlugin as _WorkerPluginBase
except ImportError:  # pragma: no cover - exercised only without the extra
    _WorkerPluginBase = object


def require_dask():
    """Import ``dask.distributed`` or raise an ImportError that names the extra.

    Returns
    -------
    module
        ``distributed``.

    Raises
    ------
    ImportError
        Dask is not installed.

    Examples
    --------
    >>> require_dask().__name__                                     # doctest: +SKIP
    'distributed'
    """
    try:
        import distributed
    except ImportError as exc:
        raise ImportError(
            f"running on a Dask cluster needs dask.distributed, which is not installed "
            f"({exc}); install the optional extra: {DASK_EXTRA_HINT}"
        ) from exc
    return distributed


def _thread_env(tf_threads):
    n = str(int(tf_threads))
    return {"TF_NUM_INTRAOP_THREADS": n, "TF_NUM_INTEROP_THREADS": "1", "OMP_NUM_THREADS": n}


class _TFThreadLimits(_WorkerPluginBase):
    """Worker plugin: bound TensorFlow's thread pools before it starts in the worker.

    Seeded fits need no help here: :func:`~higgs_sk.model.build_mlp` seeds every
    layer explicitly, so the worker's event loop drawing from Python's global
    ``random`` (``dask.sizeof`` does) cannot change the network.
    """

    name = "higgs-sk-worker-setup"

    def __init__(self, tf_threads=1):
        self.tf_threads = None if tf_threads is None else int(tf_threads)

    def setup(self, worker):
        if self.tf_threads is None:
            return
        # TensorFlow reads these when its runtime starts, i.e. at the first
        # fit in this worker process; a worker that already ran TensorFlow
        # keeps its pools, which is why the docs say to restart such workers.
        os.environ.update(_thread_env(self.tf_threads))
        if "tensorflow" in sys.modules:
            import tensorflow as tf

            with contextlib.suppress(RuntimeError):  # runtime already started
                tf.config.threading.set_intra_op_parallelism_threads(self.tf_threads)
                tf.config.threading.set_inter_op_parallelism_threads(1)


def _joblib_dask_config(client, n_jobs):
    import joblib

    # parallel_config (joblib >= 1.3) also sets the default n_jobs, so an
    # estimator left at n_jobs=None uses every thread of the cluster.
    if hasattr(joblib, "parallel_config"):
        return joblib.parallel_config(backend="dask", n_jobs=n_jobs, client=client)
    return joblib.parallel_backend("dask", n_jobs=n_jobs, client=client)  # pragma: no cover


@contextlib.contextmanager
def dask_backend(scheduler=None, *, tf_threads=1, n_workers=None, timeout=60):
    """Run joblib work, e.g. ``GridSearchCV.fit``, on a Dask cluster.

    Parameters
    ----------
    scheduler : str, distributed.Client, cluster or None, default=None
        Where to run:

        - ``"tcp://host:8786"`` (any address ``dask.distributed.Client``
          accepts): connect to a running cluster;
        - a ``Client``: use it (it is not closed on exit);
        - a cluster object such as ``LocalCluster`` or a dask-jobqueue
          cluster: connect a new client to it;
        - ``None`` or ``"local"``: start a ``LocalCluster`` on this machine
          with processes, one thread each, on the loopback interface, and
          stop it on exit.
    tf_threads : int or None, default=1
        TensorFlow intra-op threads per fit in every worker (see the module
        notes).  ``None`` leaves the workers' settings alone.
    n_workers : int, optional
        Workers of the local cluster (default: the number of cores); only
        with ``scheduler=None`` or ``"local"``.
    timeout : float, default=60
        Seconds to wait for the connection and for at least one worker.

    Yields
    ------
    distributed.Client

    Raises
    ------
    ImportError
        ``dask[distributed]`` is not installed; the message names the
        extra ``higgs-sk[dask]``.

    Examples
    --------
    >>> from higgs_sk.distributed import dask_backend
    >>> from higgs_sk.pipeline import make_grid_search
    >>> search = make_grid_search(param_grid={"clf__learning_rate": [1e-3, 3e-3]})
    >>> with dask_backend("tcp://scheduler:8786") as client:       # doctest: +SKIP
    ...     search.fit(X, y)
    """
    distributed = require_dask()
    owned = []  # what we started, closed in reverse order on exit
    try:
        if isinstance(scheduler, distributed.Client):
            client = scheduler
        elif scheduler is None or scheduler == "local":
            env = _thread_env(tf_threads) if tf_threads is not None else {}
            cluster = distributed.LocalCluster(
                n_workers=n_workers or os.cpu_count() or 1,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
                env=env,
            )
            owned.append(cluster)
            client = distributed.Client(cluster, timeout=timeout)
            owned.append(client)
        else:
            if n_workers is not None:
                raise ValueError("n_workers only applies to a local cluster (scheduler=None)")
            client = distributed.Client(scheduler, timeout=timeout)
            owned.append(client)
        client.register_plugin(_TFThreadLimits(tf_threads), name=_TFThreadLimits.name)
        client.wait_for_workers(1, timeout=timeout)
        with _joblib_dask_config(client, n_jobs=-1):
            yield client
    finally:
        for obj in reversed(owned):
            with contextlib.suppress(Exception):  # never hide the real error
                obj.close()


def run_grid_search(
    X,
    y,
    param_grid=None,
    *,
    pipeline=None,
    cv=3,
    n_jobs=None,
    scheduler=None,
    random_state=0,
    scoring="roc_auc",
    verbose=0,
    tf_threads=1,
):
    """Fit a :func:`~higgs_sk.pipeline.make_grid_search` search, locally or on Dask.

    Parameters
    ----------
    X : DataFrame or array-like of shape (n_events, n_features)
    y : array-like of shape (n_events,)
    param_grid : dict or list of dict, optional
        Default: :func:`~higgs_sk.pipeline.default_param_grid`.
    pipeline : Pipeline, optional
        Default: :func:`~higgs_sk.pipeline.make_higgs_pipeline`.
    cv : int or cross-validation generator, default=3
        An int means stratified, shuffled folds seeded by ``random_state``.
    n_jobs : int, optional
        Concurrent fits.  ``None``: one at a time locally, every worker
        thread of the cluster with ``scheduler``.  With a scheduler,
        ``n_jobs=1`` would run everything in this process, so it warns.
    scheduler : str, distributed.Client, cluster or None, default=None
        ``None``: run here with joblib's default backend.  Otherwise as in
        :func:`dask_backend` (``"local"`` starts a local Dask cluster).
    random_state : int, default=0
        Seeds the folds.
    scoring : str, default="roc_auc"
    verbose : int, default=0
    tf_threads : int or None, default=1
        TensorFlow threads per fit in the workers; see :func:`dask_backend`.

    Returns
    -------
    sklearn.model_selection.GridSearchCV
        Fitted; the best pipeline is refitted on all of ``X`` in this process.

    Examples
    --------
    >>> from higgs_sk import load_sample
    >>> from higgs_sk.distributed import run_grid_search
    >>> X, y = load_sample(return_X_y=True, as_frame=True)
    >>> grid = {"clf__learning_rate": [1e-3, 3e-3]}
    >>> search = run_grid_search(X, y, grid, scheduler="local")    # doctest: +SKIP
    >>> sorted(search.cv_results_["mean_test_score"].round(2))      # doctest: +SKIP
    [0.71, 0.72]
    """
    from .pipeline import make_grid_search

    search = make_grid_search(
        pipeline, param_grid, cv=cv, scoring=scoring, n_jobs=n_jobs,
        random_state=random_state, verbose=verbose,
    )  # fmt: skip
    if scheduler is None:
        return search.fit(X, y)
    if n_jobs == 1:
        warnings.warn(
            "n_jobs=1 runs the search sequentially in this process even with a Dask "
            "scheduler; use n_jobs=None (all worker threads)",
            UserWarning,
            stacklevel=2,
        )
    with dask_backend(scheduler, tf_threads=tf_threads):
        return search.fit(X, y)
