"""Saving and loading fitted pipelines with verifiable metadata.

``save_pipeline(pipe, "model.joblib")`` writes two files atomically:
``model.joblib`` (plain joblib, so ``joblib.load`` works too) and
``model.joblib.meta.json`` with the library versions, feature names, the
SHA-256 and size of the model file and a training summary.

Security: unpickling runs code.  :func:`load_pipeline` verifies the
recorded SHA-256 *before* unpickling and refuses a mismatch, so a truncated
or altered file is never executed; it cannot make a file from an untrusted
source safe, since whoever made the file also made its metadata.  Only load
models you or your collaborators produced.  The ``higgs-sk`` command line
loads a model only from the path given to ``--model``; it never looks for
one in a directory, a default location or the data's folder.

Compatibility: a model saved by a newer higgs-sk model format raises
:class:`~higgs_sk.exceptions.IncompatibleModelError`; one saved with other
major.minor versions of higgs-sk, scikit-learn, Keras, TensorFlow or scikeras
loads with a :class:`ModelVersionWarning`, and if it then cannot be
unpickled, the error is an ``IncompatibleModelError`` naming both versions.

Examples
--------
>>> from higgs_sk.persistence import save_pipeline, load_pipeline  # doctest: +SKIP
>>> save_pipeline(pipe, "run/model.joblib", training={"epochs": 12})  # doctest: +SKIP
>>> pipe = load_pipeline("run/model.joblib")                          # doctest: +SKIP
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import platform
import warnings
from importlib import metadata as _md
from pathlib import Path

import joblib

from .atomic import atomic_path, atomic_write_text
from .exceptions import IncompatibleModelError, ModelFileError

__all__ = [
    "save_pipeline",
    "load_pipeline",
    "read_metadata",
    "metadata_path",
    "file_sha256",
    "check_feature_names",
    "ModelVersionWarning",
]

FORMAT = "higgs-sk-pipeline"
FORMAT_VERSION = 1
_TRACKED = ("higgs-sk", "scikit-learn", "scikeras", "keras", "tensorflow-cpu", "tensorflow",
            "numpy", "joblib")  # fmt: skip


class ModelVersionWarning(UserWarning):
    """The model was saved with other library versions than the installed ones."""


def metadata_path(path):
    """Path of the metadata file that belongs to model file ``path``.

    Examples
    --------
    >>> metadata_path("run/model.joblib").name
    'model.joblib.meta.json'
    """
    path = Path(path)
    return path.with_name(path.name + ".meta.json")


def file_sha256(path, chunk_size=1 << 20):
    """SHA-256 hex digest of a file, read in chunks.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "x")
    >>> _ = open(p, "wb").write(b"abc")
    >>> file_sha256(p)[:12]
    'ba7816bf8f01'
    """
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(chunk_size), b""):
            h.update(chunk)
    return h.hexdigest()


def _versions():
    out = {"python": platform.python_version()}
    for dist in _TRACKED:
        try:
            out[dist] = _md.version(dist)
        except _md.PackageNotFoundError:
            continue
    return out


def _feature_names(pipe):
    try:
        first = pipe.steps[0][1] if hasattr(pipe, "steps") else pipe
        return [str(n) for n in first.get_feature_names_out()]
    except Exception:  # noqa: BLE001 - names are informative, not required
        return None


def save_pipeline(pipe, path, *, training=None):
    """Save a fitted pipeline and its metadata, each file atomically.

    Parameters
    ----------
    pipe : estimator
        Usually the fitted result of :func:`~higgs_sk.pipeline.make_higgs_pipeline`.
    path : str or path-like
        Model file to write (``.joblib`` by convention).
    training : dict, optional
        JSON-serialisable training summary stored in the metadata.

    Returns
    -------
    dict
        The metadata written next to the model.
    """
    path = Path(path)
    with atomic_path(path) as tmp:
        joblib.dump(pipe, tmp)
        meta = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "model_file": path.name,
            "sha256": file_sha256(tmp),
            "size": tmp.stat().st_size,
            "versions": _versions(),
            "feature_names": _feature_names(pipe),
            "training": training or {},
        }
        # Metadata first: if we die between the two renames, the old model no
        # longer matches the new hash and loading refuses it, loudly.
        atomic_write_text(metadata_path(path), json.dumps(meta, indent=2, default=str))
    return meta


def read_metadata(path):
    """Read and check the metadata of model file ``path``.

    Raises
    ------
    higgs_sk.exceptions.ModelFileError
        Missing or unreadable metadata, or not a higgs-sk model.
    """
    mpath = metadata_path(path)
    if not mpath.is_file():
        raise ModelFileError(
            f"{path}: metadata file {mpath.name} is missing, so the model cannot be "
            f"verified before unpickling; save it with save_pipeline, or use "
            f"joblib.load only if you trust the file"
        )
    try:
        meta = json.loads(mpath.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{mpath}: unreadable model metadata ({exc})") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(f"{mpath}: not higgs-sk model metadata")
    return meta


def _check_versions(meta, path):
    """Refuse a newer model format; warn about other library versions, return them."""
    saved_format = meta.get("format_version")
    if not isinstance(saved_format, int) or saved_format > FORMAT_VERSION:
        raise IncompatibleModelError(
            f"{path}: saved in model format {saved_format!r} "
            f"(higgs-sk {meta.get('versions', {}).get('higgs-sk', '?')}); this higgs-sk "
            f"reads format {FORMAT_VERSION} or older; upgrade higgs-sk"
        )
    saved = meta.get("versions")
    saved = saved if isinstance(saved, dict) else {}
    now = _versions()
    differ = []
    for dist in ("higgs-sk", "scikit-learn", "keras", "tensorflow-cpu", "tensorflow", "scikeras"):
        a, b = saved.get(dist), now.get(dist)
        if a and b and str(a).split(".")[:2] != b.split(".")[:2]:
            differ.append(f"{dist} {a} (saved) vs {b} (installed)")
    if differ:
        warnings.warn(
            f"{path}: model saved with other library versions: {'; '.join(differ)}. "
            f"Predictions may differ; retrain or install the saved versions.",
            ModelVersionWarning,
            stacklevel=3,
        )
    return differ


def load_pipeline(path, *, return_metadata=False):
    """Load a pipeline saved by :func:`save_pipeline`, verifying it first.

    Parameters
    ----------
    path : str or path-like
    return_metadata : bool, default=False
        Also return the metadata dict.

    Returns
    -------
    estimator or (estimator, dict)

    Raises
    ------
    higgs_sk.exceptions.ModelFileError
        Missing file, a directory, missing or unreadable metadata, truncated
        or altered model (SHA-256 or size mismatch, checked before
        unpickling), or a file that does not unpickle to a model.
    higgs_sk.exceptions.IncompatibleModelError
        Saved by a newer, incompatible higgs-sk, or saved with other library
        versions and not loadable with the installed ones.

    Warns
    -----
    ModelVersionWarning
        Saved with other major.minor versions of higgs-sk, scikit-learn,
        Keras, TensorFlow or scikeras.
    """
    path = Path(path)
    if path.is_dir():
        # Never guess a file inside: the caller names the model it trusts.
        raise ModelFileError(
            f"{path}: is a directory; give the model file itself, e.g. {path / 'model.joblib'}"
        )
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file")
    meta = read_metadata(path)
    differ = _check_versions(meta, path)
    if not isinstance(meta.get("sha256"), str) or not isinstance(meta.get("size"), int):
        raise ModelFileError(
            f"{path}: {metadata_path(path).name} records no SHA-256 and size, so the model "
            f"cannot be verified; refusing to unpickle it"
        )
    size = path.stat().st_size
    if size != meta.get("size") or file_sha256(path) != meta.get("sha256"):
        raise ModelFileError(
            f"{path}: the model file does not match the SHA-256/size recorded in "
            f"{metadata_path(path).name} (truncated, corrupted or modified: "
            f"{size} bytes, expected {meta.get('size')}); refusing to unpickle it"
        )
    # The model pulls in Keras objects; make sure scikeras' pickle support is registered.
    from . import model as _model  # noqa: F401

    try:
        pipe = joblib.load(path)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means a bad file
        if differ:
            raise IncompatibleModelError(
                f"{path}: could not load the model with the installed libraries "
                f"({type(exc).__name__}: {exc}); it was saved with {'; '.join(differ)}. "
                f"Install the saved versions or retrain"
            ) from exc
        raise ModelFileError(
            f"{path}: could not load the model ({type(exc).__name__}: {exc})"
        ) from exc
    if not hasattr(pipe, "predict_proba"):
        raise ModelFileError(f"{path}: holds a {type(pipe).__name__}, not a classifier pipeline")
    return (pipe, meta) if return_metadata else pipe


def check_feature_names(meta, columns, *, model="the model", data="the data"):
    """Check that events have every feature column a saved model was trained on.

    Parameters
    ----------
    meta : dict
        Metadata from :func:`read_metadata` or ``load_pipeline(...,
        return_metadata=True)``.
    columns : iterable of str
        Column names of the events (any common spelling).
    model, data : str
        How to name the model and the events in the message.

    Raises
    ------
    higgs_sk.exceptions.IncompatibleModelError
        The events lack some of the model's features.  Extra columns and
        another column order are fine: the pipeline selects by name.

    Examples
    --------
    >>> check_feature_names({"feature_names": ["lepton_pT"]}, ["lepton pT", "label"])
    """
    from .datasets import canonical_name

    needed = meta.get("feature_names") or []
    if not all(canonical_name(n) == n for n in needed):
        return  # positional models name their inputs x0, x1, ...: nothing to compare
    have = {canonical_name(c) for c in columns}
    missing = [n for n in needed if n not in have]
    if missing:
        raise IncompatibleModelError(
            f"{model} was trained on feature column(s) {missing} that {data} lacks; "
            f"use events with those columns or a model trained on the columns present"
        )
