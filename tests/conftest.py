"""Shared fixtures: real HIGGS events only (the bundled sample and the raw UCI excerpt)."""

import os
from pathlib import Path

# TensorFlow is loud and slow to start; keep the logs readable and runs repeatable.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402

DATA = Path(__file__).parent / "data"
UCI_2000 = DATA / "higgs_uci_format_2000.csv"


@pytest.fixture(scope="session", autouse=True)
def _private_parquet_cache(tmp_path_factory):
    """Tests never write the user's real loader cache."""
    old = os.environ.get("HIGGS_SK_CACHE")
    os.environ["HIGGS_SK_CACHE"] = str(tmp_path_factory.mktemp("higgs_cache"))
    yield
    if old is None:
        os.environ.pop("HIGGS_SK_CACHE", None)
    else:
        os.environ["HIGGS_SK_CACHE"] = old


@pytest.fixture(scope="session")
def uci_path():
    """2,000 real events in the exact raw UCI format (no header, label first)."""
    return UCI_2000


@pytest.fixture(scope="session")
def sample_frame():
    """The 9,000 bundled real events as a DataFrame (28 features + label)."""
    from higgs_sk.datasets import load_sample

    return load_sample(as_frame=True).frame


@pytest.fixture(scope="session")
def small_xy(sample_frame):
    """3,000 real events (stratified by construction of the sample) for quick fits."""
    from higgs_sk.datasets import FEATURE_NAMES, LABEL

    part = sample_frame.iloc[:3000]
    return part[FEATURE_NAMES], part[LABEL].to_numpy()
