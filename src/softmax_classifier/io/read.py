"""Data files -> arrays: CSV, Parquet, LIBSVM/svmlight and NumPy ``.npz``, read whole.

:func:`read_data` turns a file into a :class:`Dataset` holding the feature
matrix ``X`` of shape ``(n_samples, n_features)`` and, when the file has one,
the label vector ``y`` of shape ``(n_samples,)`` with the labels exactly as
written (strings stay strings, integers stay integers).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import partial

import numpy as np
import scipy.sparse as sp

from softmax_classifier.io import csv_text, parquet
from softmax_classifier.io.arrays import as_dtype
from softmax_classifier.io.columns import (
    Rows,
    column_labels,
    feature_matrix,
    first_text,
    name_list,
    select_columns,
)
from softmax_classifier.io.errors import DataFileError
from softmax_classifier.io.formats import FORMATS, check_not_directory, detect_format
from softmax_classifier.io.libsvm import check_zero_based, read_libsvm
from softmax_classifier.io.npz import read_npz

__all__ = ["Dataset", "read_data"]


@dataclass
class Dataset:
    """The arrays read from one data file.

    Attributes
    ----------
    X : ndarray or scipy.sparse.csr_matrix of shape (n_samples, n_features)
        float64, or float32 when asked; sparse (CSR) for LIBSVM files only.
    y : ndarray of shape (n_samples,) or None
        The labels as written: str (NumPy unicode), int64, float64 or bool.
        ``None`` when the file has no target.
    feature_names : list of str, IndexNames or None
        One name per column of ``X``; ``None`` for ``.npz`` files without a
        ``feature_names`` array. LIBSVM files: their indices as written
        (``"1"``, ``"2"``, ... or, zero-based, ``"0"``, ``"1"``, ...), an
        :class:`~softmax_classifier.io.libsvm.IndexNames` (or a list when
        ``features`` selected columns).
    path : str
        The file (or Parquet directory) as given.
    format : str
        One of :data:`FORMATS`.
    """

    X: np.ndarray | sp.csr_matrix
    y: np.ndarray | None
    feature_names: list[str] | None
    path: str
    format: str


def read_data(
    path,
    *,
    target=None,
    features=None,
    format=None,
    n_features=None,
    dtype=np.float64,
    require_target=False,
    zero_based="auto",
    header=True,
    drop=(),
):
    """Read a data file into a :class:`Dataset`.

    Parameters
    ----------
    path : str or os.PathLike
        The file, or a directory of Parquet files (read as one data set, in
        the order of their names).
    target : str or None, default=None
        CSV/Parquet: the name of the label column. When it is absent from the
        file and ``require_target`` is false, the file is read without labels
        (``y`` is ``None``), as for data to predict. Ignored for LIBSVM (the
        label leads each line) and ``.npz`` (the array ``y``).
    features : list of str or None, default=None
        The columns that make ``X``, in this order. By default every column but
        the target (and but a pandas index stored in a Parquet file). For
        ``.npz`` this needs a ``feature_names`` array; LIBSVM files have no
        names, so it must be ``None`` for them.
    format : {"csv", "parquet", "libsvm", "npz"} or None, default=None
        By default from the name, see :func:`detect_format`.
    n_features : int or None, default=None
        The number of features expected (a model's). LIBSVM: ``X`` is padded
        with empty columns to this width, and a file using a higher feature
        index is an error. Other formats: a different number of feature
        columns is an error.
    dtype : {numpy.float64, numpy.float32}, default=numpy.float64
        The dtype of ``X``. Values too large for float32 are an error.
    require_target : bool, default=False
        Whether the file must have labels (training data).
    zero_based : {"auto", True, False}, default="auto"
        LIBSVM: whether feature indices start at 0 (as scikit-learn's
        ``dump_svmlight_file`` writes by default) or at 1 (LIBSVM's own
        convention). ``"auto"`` decides as scikit-learn does: one-based unless
        the index 0 occurs in the file. Either way column ``j`` of ``X`` is
        named after the index written in the file. Ignored for other formats.
    header : bool, default=True
        CSV: whether the first line names the columns. Without one, columns
        are named ``"1"``, ``"2"``, ... (counted from 1, like ``cut -f``).
        Ignored for other formats.
    drop : sequence of str, default=()
        CSV/Parquet: columns left out before the features are chosen (an
        identifier, a leaked label...). Each must exist.

    Returns
    -------
    Dataset
        ``X`` of shape (n_samples, n_features), ``y`` of shape (n_samples,) or
        ``None``, ``feature_names``, ``path`` and ``format``.

    Raises
    ------
    DataFileError
        For any file that cannot be used as asked: missing or unreadable,
        unparsable, no data rows, missing columns, non-numeric feature columns,
        missing/NaN/infinite values (with the first such row and column), a
        missing label, too many LIBSVM features, a LIBSVM index above
        :data:`~softmax_classifier.io.libsvm.MAX_LIBSVM_FEATURES`, object arrays
        in ``.npz``, an ``.npz`` array larger than its zip member can hold.

    Examples
    --------
    >>> import os, shutil, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> path = os.path.join(folder, "flowers.csv")
    >>> with open(path, "w") as f:
    ...     _ = f.write("length,width,species\\n5.1,3.5,setosa\\n6.2,2.9,versicolor\\n")
    >>> data = read_data(path, target="species", require_target=True)
    >>> data.X
    array([[5.1, 3.5],
           [6.2, 2.9]])
    >>> data.y
    array(['setosa', 'versicolor'], dtype='<U10')
    >>> data.feature_names
    ['length', 'width']
    >>> shutil.rmtree(folder)
    """
    path = os.fspath(path)
    dtype = np.dtype(dtype)
    if dtype not in (np.float64, np.float32):
        raise ValueError(f"dtype must be float64 or float32, got {dtype}")
    if n_features is not None:
        n_features = int(n_features)
        if n_features < 1:
            raise ValueError(f"n_features must be at least 1, got {n_features}")
    if isinstance(features, str):
        features = [features]
    elif features is not None:
        features = list(features)
    zero_based = check_zero_based(zero_based)
    drop = name_list(drop, "drop")

    if format is None:
        if not os.path.exists(path):
            raise DataFileError(f"cannot read {path}: no such file or directory")
        format = detect_format(path)
    else:
        format = str(format).lower()
        if format not in FORMATS:
            raise DataFileError(
                f"unknown format {format!r} for {path}; supported formats are: "
                + ", ".join(FORMATS)
            )
        if not os.path.exists(path):
            raise DataFileError(f"cannot read {path}: no such file or directory")
    check_not_directory(path, format)

    if drop and format not in ("csv", "parquet"):
        raise DataFileError(
            f"drop=... (--drop) selects columns of CSV and Parquet files; {path} is {format}"
        )
    if format == "libsvm":
        X, y, names = read_libsvm(path, features, n_features, zero_based, dtype)
    elif format == "npz":
        X, y, names = read_npz(path, features, require_target)
    else:
        X, y, names = _read_columns(
            path, format, target, features, require_target, dtype, bool(header), drop
        )

    if format != "libsvm" and n_features is not None and X.shape[1] != n_features:
        raise DataFileError(
            f"{path} has {X.shape[1]} feature columns but n_features={n_features} were expected"
        )
    X = as_dtype(X, dtype, path)
    return Dataset(X=X, y=y, feature_names=names, path=path, format=format)


def _read_columns(path, format, target, features, require_target, dtype, header=True, drop=()):
    """X, y and feature names from a CSV file or Parquet file/directory."""
    if format == "csv":
        table = csv_text.read_table(path, header)
        schema, index_columns = table.schema, set()
        hint = partial(first_text, table)
    else:
        dataset = parquet.open_dataset(path)
        schema, hint = dataset.schema, None
        index_columns = parquet.index_columns(schema)

    feature_columns, has_target = select_columns(
        schema,
        path,
        target,
        features,
        require_target,
        index_columns,
        hint,
        drop=drop,
        csv_header=format == "csv" and header,
    )

    if format == "csv":
        rows = Rows(path)
    else:
        table, rows = parquet.read_table(path, dataset, feature_columns + [target] * has_target)
    if table.num_rows == 0:
        raise DataFileError(f"no data rows in {path}")

    X = feature_matrix(table, feature_columns, dtype, rows)
    y = column_labels(table.column(target), target, rows, path) if has_target else None
    return X, y, [str(name) for name in feature_columns]
