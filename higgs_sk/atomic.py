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
import os
import tempfile
from pathlib import Path

__all__ = ["atomic_path", "atomic_write_text"]


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
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def atomic_write_text(path, text):
    """Write ``text`` to ``path`` atomically (UTF-8).

    Parameters
    ----------
    path : str or path-like
    text : str
    """
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
