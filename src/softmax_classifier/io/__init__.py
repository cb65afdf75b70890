"""Data files -> arrays: CSV, Parquet, LIBSVM/svmlight and NumPy ``.npz``.

One function, :func:`read_data`, turns a file into a :class:`Dataset` holding the
feature matrix ``X`` of shape ``(n_samples, n_features)`` and, when the file has
one, the label vector ``y`` of shape ``(n_samples,)`` with the labels exactly as
written (strings stay strings, integers stay integers). Anything wrong with a
file is reported as one :class:`DataFileError` whose one-line message names the
file and, where there is one, the column and row.

=========  ==========================================  =================================
format     recognised names                            X
=========  ==========================================  =================================
csv        ``.csv``, ``.csv.gz``, ``.csv.bz2``         dense, from named columns
parquet    ``.parquet``, ``.pq``, a directory of them  dense, from named columns
libsvm     ``.svm``, ``.svmlight``, ``.libsvm``,       sparse CSR, 1- or 0-based indices
           ``.txt``, ``.scale``, ``.t``, ``.tr``,
           ``.val``, each also ``.gz`` / ``.bz2``
npz        ``.npz`` with arrays ``X``, ``y``,          dense
           ``feature_names``
=========  ==========================================  =================================

A CSV file without a header line is read with ``header=False``: its columns
are then named ``"1"``, ``"2"``, ... (counted from 1, as ``cut -f`` counts
them), so ``target="5"`` is the fifth column. LIBSVM features are named after
the file's own indices: ``"1"``, ``"2"``, ... for a one-based file, ``"0"``,
``"1"``, ... for a zero-based one.

Small files cannot ask for huge allocations: a LIBSVM feature index must fit
the 32-bit index type of SciPy's sparse matrices (at most
:data:`MAX_LIBSVM_FEATURES` columns), and every ``.npz`` array must fit in the
bytes its zip member holds, both checked before anything is allocated.

Rows in messages are counted from 1 as a person counts data lines after the
header (CSV, Parquet, LIBSVM), except for ``.npz`` arrays, where the message
says it uses 0-based indices.

Modules, each usable alone:

- :mod:`~softmax_classifier.io.errors`: :class:`DataFileError` and its messages
  (standard library only);
- :mod:`~softmax_classifier.io.formats`: :data:`FORMATS`, :func:`detect_format`
  (standard library only);
- :mod:`~softmax_classifier.io.text`: text files cut into byte ranges of whole lines;
- :mod:`~softmax_classifier.io.columns`, :mod:`~softmax_classifier.io.csv_text`,
  :mod:`~softmax_classifier.io.parquet`: named columns to checked arrays;
- :mod:`~softmax_classifier.io.libsvm`, :mod:`~softmax_classifier.io.npz`;
- :mod:`~softmax_classifier.io.read`: :func:`read_data` and :class:`Dataset`.

Importing this package, reading :data:`FORMATS` and calling
:func:`detect_format` load neither NumPy nor pyarrow (the CLI's ``--help``
stays fast); the other names load their modules when first used.

This package imports nothing from the rest of softmax_classifier.
"""

from __future__ import annotations

import importlib

from softmax_classifier.io.errors import DataFileError
from softmax_classifier.io.formats import FORMATS, detect_format

__all__ = [
    "FORMATS",
    "MAX_LIBSVM_FEATURES",
    "DataFileError",
    "Dataset",
    "IndexNames",
    "detect_format",
    "read_data",
]

# Public names loaded on first use -> the module defining them.
_LAZY = {
    "MAX_LIBSVM_FEATURES": "softmax_classifier.io.libsvm",
    "IndexNames": "softmax_classifier.io.libsvm",
    "Dataset": "softmax_classifier.io.read",
    "read_data": "softmax_classifier.io.read",
}


def __getattr__(name):
    """Load a heavy public name (NumPy, pyarrow) when it is first asked for (PEP 562)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
