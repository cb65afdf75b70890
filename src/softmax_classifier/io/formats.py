"""The data file formats, told from a file's name.

The formats and their names are listed in :mod:`softmax_classifier.io`.

This module needs only the standard library (the CLI's ``--help`` lists
:data:`FORMATS` without loading NumPy or pyarrow).
"""

from __future__ import annotations

import os

from softmax_classifier.io.errors import DataFileError

__all__ = ["COMPRESSED", "FORMATS", "check_not_directory", "detect_format", "is_compressed"]

#: The formats :func:`softmax_classifier.io.read_data` reads.
FORMATS = ("csv", "parquet", "libsvm", "npz")

#: Name endings of compressed text files, after the format's own ending.
COMPRESSED = (".gz", ".bz2")

# Name endings (lower case) -> format; ``COMPRESSED`` endings may follow them.
_EXTENSIONS = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".npz": "npz",
    **dict.fromkeys(
        (".svm", ".svmlight", ".libsvm", ".txt", ".scale", ".t", ".tr", ".val"), "libsvm"
    ),
}
_CAN_BE_COMPRESSED = ("csv", "libsvm")


def detect_format(path):
    """Tell a data file's format from its name.

    Parameters
    ----------
    path : str or os.PathLike
        A file, or a directory (taken as a directory of Parquet files).

    Returns
    -------
    format : str
        One of :data:`FORMATS`.

    Raises
    ------
    DataFileError
        When the name ends in none of the known extensions.

    Examples
    --------
    >>> detect_format("train.csv.gz"), detect_format("a9a.t"), detect_format("x.npz")
    ('csv', 'libsvm', 'npz')
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        return "parquet"
    stem, ext = os.path.splitext(os.path.basename(path).lower())
    compressed = ext in COMPRESSED
    if compressed:
        ext = os.path.splitext(stem)[1]
    fmt = _EXTENSIONS.get(ext)
    if fmt is None or (compressed and fmt not in _CAN_BE_COMPRESSED):
        raise DataFileError(
            f"cannot tell the format of {path} from its name; supported formats are "
            "csv (.csv, .csv.gz, .csv.bz2), parquet (.parquet, .pq, or a directory of them), "
            "libsvm (.svm, .svmlight, .libsvm, .txt, .scale, .t, .tr, .val, also .gz/.bz2) "
            "and npz (.npz); pass format=... (--format) to choose one"
        )
    return fmt


def is_compressed(path):
    """Whether a text file is compressed (read from the start only), by its name.

    Parameters
    ----------
    path : str

    Returns
    -------
    bool

    Examples
    --------
    >>> is_compressed("rows.svm.GZ"), is_compressed("rows.csv")
    (True, False)
    """
    return path.lower().endswith(COMPRESSED)


def check_not_directory(path, format):
    """Refuse a directory given as anything but Parquet data.

    Parameters
    ----------
    path : str
    format : str
        One of :data:`FORMATS`.

    Raises
    ------
    DataFileError
        When ``path`` is a directory and ``format`` is not ``"parquet"``.
    """
    if format != "parquet" and os.path.isdir(path):
        raise DataFileError(
            f"cannot read {path}: it is a directory, and only Parquet data can be a directory"
        )
