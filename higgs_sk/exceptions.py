"""Error types raised by higgs-sk.

Every error subclasses a built-in exception (``ValueError`` or ``OSError``) so
code written against plain scikit-learn or pandas keeps catching it, while
callers who care can catch the specific type.

Examples
--------
>>> from higgs_sk.exceptions import DataFormatError
>>> issubclass(DataFormatError, ValueError)
True
"""

__all__ = [
    "HiggsSKError",
    "DataFormatError",
    "ModelFileError",
    "IncompatibleModelError",
    "ChecksumError",
]


class HiggsSKError(Exception):
    """Base class of every error raised on purpose by higgs-sk."""


class DataFormatError(HiggsSKError, ValueError):
    """An input file or table is not valid HIGGS data.

    The message names the file, and the column and line where that applies.
    """


class ModelFileError(HiggsSKError, OSError):
    """A saved model is missing, truncated, tampered with or not a model."""


class IncompatibleModelError(HiggsSKError, ValueError):
    """A saved model does not fit the data or the installed library versions."""


class ChecksumError(HiggsSKError, OSError):
    """A downloaded file does not have the expected size or SHA-256."""
