"""Deprecated: the data file readers moved to :mod:`softmax_classifier.io`.

This module re-exports their public names and warns when imported; import
them from :mod:`softmax_classifier.io` instead. As there, ``FORMATS`` and
``detect_format`` load neither NumPy nor pyarrow; the other names load them
when first used.
"""

import warnings

import softmax_classifier.io as _io
from softmax_classifier.io import FORMATS, DataFileError, detect_format

__all__ = [
    "FORMATS",
    "MAX_LIBSVM_FEATURES",  # noqa: F822 (from softmax_classifier.io, on first use)
    "DataFileError",
    "Dataset",  # noqa: F822 (from softmax_classifier.io, on first use)
    "IndexNames",  # noqa: F822 (from softmax_classifier.io, on first use)
    "detect_format",
    "read_data",  # noqa: F822 (from softmax_classifier.io, on first use)
]

warnings.warn(
    "softmax_classifier.files moved to softmax_classifier.io; import FORMATS, DataFileError, "
    "Dataset, detect_format, read_data, MAX_LIBSVM_FEATURES and IndexNames from there",
    DeprecationWarning,
    stacklevel=2,
)


def __getattr__(name):
    if name in __all__:
        return getattr(_io, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
