"""Atomic file writes: a file either keeps its old content or gets the complete new one.

Models, caches, metrics and figures are written to a temporary file in the
same directory and renamed over the target only once complete, so an
interrupted run (Ctrl-C, out of memory, a full disk) never leaves a half
written file that a later run would trust.

Examples
--------
>>> import os, tempfile
>>> from higgs_sk.atomic import atomic_path
>>> target = os.path.join(tempfile.mkdtemp(), "metrics.json")
>>> with atomic_path(target) as tmp:
...     with open(tmp, "w") as fh:
...         _ = fh.write("{}")
>>> open(target).read()
'{}'
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from pathlib import Path

__all__ = ["atomic_path", "atomic_write_text", "atomic_directory"]


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path next to ``path``; rename it over ``path`` on success.

    On any exception (KeyboardInterrupt included) the temporary file is
    removed and ``path`` is left untouched.

    Parameters
    ----------
    path : str or path-like

    Yields
    ------
    pathlib.Path
        Where to write the content.
    """
    path = Path(path)
    with _explained(path):
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        with _disk_full_names(path):
            yield tmp
        # mkstemp creates 0600 files; give the result the permissions a plain open() would.
        os.chmod(tmp, 0o666 & ~_umask())
        try:
            os.replace(tmp, path)
        except IsADirectoryError as exc:
            raise IsADirectoryError(f"cannot write {path}: it is a directory") from exc
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


@contextlib.contextmanager
def _explained(path):
    """Create ``path``'s directory; name ``path``, not a temporary file, in any failure."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        blocker = next((p for p in path.parents if p.exists()), None)
        why = (f"{blocker} is not a directory" if blocker is not None and not blocker.is_dir()
               else exc.strerror or str(exc))
        raise type(exc)(
            f"cannot write {path}: cannot create the directory {path.parent} ({why})"
        ) from exc
    try:
        yield
    except OSError as exc:
        raise type(exc)(
            f"cannot write {path}: cannot create a file in {path.parent} ({exc.strerror or exc})"
        ) from exc


@contextlib.contextmanager
def _disk_full_names(path):
    """Name ``path`` in a full-disk error, which the OS reports without a file name."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        raise type(exc)(f"cannot write {path}: {exc.strerror}") from exc


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path, text):
    """Write ``text`` to ``path`` atomically (UTF-8).

    Parameters
    ----------
    path : str or path-like
    text : str
    """
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


@contextlib.contextmanager
def atomic_directory(path, *, replace=False):
    """Yield a staging directory that becomes ``path`` only when the block succeeds.

    A run directory (model, metrics, report, figures) is built beside
    ``path`` and renamed into place at the end, so an interrupted run leaves
    the previous complete directory, or none, never a mixture.

    Parameters
    ----------
    path : str or path-like
        The directory to create.
    replace : bool, default=False
        Replace an existing non-empty ``path``; otherwise that is an error.

    Yields
    ------
    pathlib.Path
        The staging directory to fill.

    Raises
    ------
    FileExistsError
        ``path`` is a non-empty directory (or a file) and ``replace`` is False.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise FileExistsError(f"{path}: exists and is not a directory")
    if path.is_dir() and any(path.iterdir()) and not replace:
        raise FileExistsError(f"{path}: directory is not empty; pass --force to replace it")
    with _explained(path):
        staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".partial",
                                        dir=path.parent))
    old = None
    try:
        os.chmod(staging, 0o777 & ~_umask())  # mkdtemp makes 0700
        with _disk_full_names(path):
            yield staging
        if path.exists():
            old = path.with_name(f".{path.name}.old-{os.getpid()}")
            os.replace(path, old)
        os.replace(staging, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        # Interrupted between the two renames: put the previous directory back.
        if old is not None and old.exists() and not path.exists():
            os.replace(old, path)
        shutil.rmtree(staging, ignore_errors=True)
        raise
