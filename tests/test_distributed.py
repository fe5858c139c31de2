"""Grid search on a real (local, loopback) Dask cluster gives the same answer as locally."""

import os
import sys

import numpy as np
import pytest

distributed = pytest.importorskip("dask.distributed")

from higgs_sk.distributed import dask_backend, require_dask, run_grid_search  # noqa: E402

GRID = {"clf__hidden_layer_sizes": [(8,), (32, 32)]}
FAST = dict(epochs=8, batch_size=64, learning_rate=1e-2, early_stopping=False, random_state=0)


@pytest.fixture(scope="module")
def cluster():
    # Two worker processes with one thread each, on loopback only.
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=None,
    ) as c:  # fmt: skip
        yield c


@pytest.fixture(scope="module")
def events(sample_frame):
    """2,000 real events of the bundled sample."""
    from higgs_sk.datasets import LABEL

    part = sample_frame.iloc[:2000]
    return part.drop(columns=LABEL), part[LABEL].to_numpy()


def test_grid_search_on_cluster_equals_local_run(cluster, events):
    from higgs_sk.pipeline import make_higgs_pipeline

    X, y = events
    pipe = make_higgs_pipeline(**FAST)
    local = run_grid_search(X, y, GRID, pipeline=pipe, cv=2, n_jobs=1)
    remote = run_grid_search(X, y, GRID, pipeline=pipe, cv=2, scheduler=cluster.scheduler_address)

    assert remote.best_params_ == local.best_params_
    # Same seeds, same folds: every (candidate, fold) network is bit-identical.
    np.testing.assert_array_equal(
        remote.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"]
    )
    # The networks learned something, so equality is not two coin flips agreeing.
    assert remote.cv_results_["mean_test_score"].min() > 0.55
    assert len(set(remote.cv_results_["mean_test_score"])) == 2
    # The refitted best pipeline works like any other.
    assert remote.best_estimator_.predict_proba(X.iloc[:5]).shape == (5, 2)


def test_work_runs_in_the_workers_with_bounded_threads(cluster):
    import joblib

    with dask_backend(cluster.scheduler_address, tf_threads=1) as client:
        pids = joblib.Parallel()(joblib.delayed(os.getpid)() for _ in range(6))
        worker_pids = set(client.run(os.getpid).values())
        env = client.run(lambda: os.environ.get("TF_NUM_INTRAOP_THREADS"))
    assert set(pids) <= worker_pids and os.getpid() not in pids
    assert set(env.values()) == {"1"}


def test_without_dask_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # makes the import fail
    with pytest.raises(ImportError, match=r"higgs-sk\[dask\]"):
        require_dask()
    with pytest.raises(ImportError, match=r"higgs-sk\[dask\]"):
        with dask_backend("tcp://127.0.0.1:1"):
            pass
