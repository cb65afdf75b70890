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

This module imports nothing from the rest of the package.
"""

from __future__ import annotations

import difflib
import os
import re
import zipfile
import zlib
from collections import Counter
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.dataset as pa_ds
import scipy.sparse as sp

__all__ = [
    "FORMATS",
    "MAX_LIBSVM_FEATURES",
    "DataFileError",
    "Dataset",
    "IndexNames",
    "detect_format",
    "read_data",
]

FORMATS = ("csv", "parquet", "libsvm", "npz")

# Name endings (lower case) -> format; ``_COMPRESSED`` endings may follow them.
_EXTENSIONS = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".npz": "npz",
    **dict.fromkeys(
        (".svm", ".svmlight", ".libsvm", ".txt", ".scale", ".t", ".tr", ".val"), "libsvm"
    ),
}
_COMPRESSED = (".gz", ".bz2")
_CAN_BE_COMPRESSED = ("csv", "libsvm")

_MAX_LISTED = 20  # column names listed in a message before "... (N more)"
_MAX_REASON = 300  # characters of a library's own message kept in ours
_FLOAT32_MAX = float(np.finfo(np.float32).max)

#: The most columns a LIBSVM file may have: SciPy's sparse matrices index their
#: columns with int32 (and scikit-learn's parser reads indices as C ints), so a
#: wider matrix cannot be built. Wider data would not fit a model either.
MAX_LIBSVM_FEATURES = int(np.iinfo(np.int32).max)

# Deflate cannot expand data more than about 1032 times (258-byte matches coded
# in 2 bits); a zip member claiming more than this is corrupt or hostile.
_MAX_DEFLATE_RATIO = 1032
_ZERO_BASED = ("auto", True, False)

# A value pyarrow's CSV reader would take as a number (or as a missing value).
_NUMBER_PATTERN = (
    r"^\s*[+-]?((\d+\.?\d*|\.\d+)(e[+-]?\d+)?|inf|infinity|nan)\s*$|"
    r"^(|NA|N/A|NULL|null|#N/A|-NaN|-nan|n/a|NaN|nan)$"
)


class DataFileError(ValueError):
    """A data file that cannot be used as asked.

    The message is one line naming the problem: the file and, where they are
    known, the column and the row.
    """


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
        :class:`IndexNames` (or a list when ``features`` selected columns).
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
    compressed = ext in _COMPRESSED
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
        :data:`MAX_LIBSVM_FEATURES`, object arrays in ``.npz``, an ``.npz``
        array larger than its zip member can hold.

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
    zero_based = _check_zero_based(zero_based)
    drop = _name_list(drop, "drop")

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
    if format != "parquet" and os.path.isdir(path):
        raise DataFileError(
            f"cannot read {path}: it is a directory, and only Parquet data can be a directory"
        )

    if drop and format not in ("csv", "parquet"):
        raise DataFileError(
            f"drop=... (--drop) selects columns of CSV and Parquet files; {path} is {format}"
        )
    if format == "libsvm":
        X, y, names = _read_libsvm(path, features, n_features, zero_based, dtype)
    elif format == "npz":
        X, y, names = _read_npz(path, features, require_target)
    else:
        X, y, names = _read_columns(
            path, format, target, features, require_target, dtype, bool(header), drop
        )

    if format != "libsvm" and n_features is not None and X.shape[1] != n_features:
        raise DataFileError(
            f"{path} has {X.shape[1]} feature columns but n_features={n_features} were expected"
        )
    X = _as_dtype(X, dtype, path)
    return Dataset(X=X, y=y, feature_names=names, path=path, format=format)


# --------------------------------------------------------------------------- helpers


def _one_line(text, limit=_MAX_REASON):
    """``text`` with its whitespace collapsed, cut to about ``limit`` characters."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _listing(names):
    """``"a, b, c"``, cut after ``_MAX_LISTED`` names."""
    names = [str(name) for name in names]
    shown = ", ".join(names[:_MAX_LISTED])
    if len(names) > _MAX_LISTED:
        shown += f", ... ({len(names) - _MAX_LISTED} more)"
    return shown or "(none)"


def _check_zero_based(zero_based):
    """``zero_based`` checked: "auto", True or False."""
    if isinstance(zero_based, (bool, np.bool_)):
        return bool(zero_based)
    if isinstance(zero_based, str) and zero_based.lower() == "auto":
        return "auto"
    raise ValueError(f'zero_based must be "auto", True or False; got {zero_based!r}')


def _name_list(names, argument):
    """A sequence of column names as a list of str (a single str is one name)."""
    if names is None:
        return []
    if isinstance(names, str):
        return [names]
    names = list(names)
    if not all(isinstance(name, str) for name in names):
        raise ValueError(f"{argument} must be column names (str); got {names!r}")
    return names


def _did_you_mean(name, names):
    """``" (did you mean 'x'?)"`` for the closest of ``names`` to ``name``, or ``""``."""
    close = difflib.get_close_matches(str(name), [str(n) for n in names], n=1, cutoff=0.6)
    if not close:  # e.g. a case slip in a short name: "Id" for "id"
        lowered = {str(n).lower(): str(n) for n in names}
        close = [lowered[str(name).lower()]] if str(name).lower() in lowered else []
    return f" (did you mean {close[0]!r}?)" if close else ""


def _not_found(kind, missing, names, path, hint=""):
    """The message for columns asked for but absent, with a did-you-mean per name."""
    shown = ", ".join(f"{name}{_did_you_mean(name, names)}" for name in missing[:5])
    if len(missing) > 5:
        shown += f", ... ({len(missing) - 5} more)"
    return f"{kind} not found in {path}: {shown}; columns are: {_listing(names)}{hint}"


def _looks_like_data(names):
    """Whether CSV column names look like a row of data: mostly numbers, or repeated numbers."""
    # A header with a few numeric names ("1,2,label") passes; a row of numbers with a
    # text label or two ("5.1,3.5,setosa") does not.
    numeric = sum(_is_number_text(name) for name in names)
    if (numeric >= 2 and numeric * 2 >= len(names)) or (names and numeric == len(names)):
        return True
    counts = Counter(names)
    return any(count > 1 and _is_number_text(name) for name, count in counts.items())


def _is_number_text(text):
    """Whether a header cell reads as a number (a data value, not a name)."""
    return bool(text.strip()) and re.match(_NUMBER_PATTERN, text, re.IGNORECASE) is not None


@contextmanager
def _reading(path):
    """Turn the errors libraries raise for a bad file into one-line DataFileErrors."""
    try:
        yield
    except (DataFileError, MemoryError):
        raise
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise DataFileError(f"cannot read {path}: {_one_line(reason)}") from exc
    except (
        ValueError,
        TypeError,
        NotImplementedError,
        EOFError,
        KeyError,
        zlib.error,
        zipfile.BadZipFile,
        pa.ArrowException,
    ) as exc:
        reason = str(exc) or type(exc).__name__
        raise DataFileError(f"cannot read {path}: {_one_line(reason)}") from exc


class _Rows:
    """Says where row ``i`` (0-based, of the whole data set) comes from.

    Parameters
    ----------
    path : str
        The file or directory as given.
    parts : list of (str, int) or None
        For a directory: each file's path and number of rows, in reading order.
    """

    def __init__(self, path, parts=None):
        self.path = path
        self.parts = parts
        if parts:
            self.ends = np.cumsum([n_rows for _, n_rows in parts])

    def __call__(self, i):
        if not self.parts:
            return f"row {i + 1} of {self.path}"
        k = int(np.searchsorted(self.ends, i, side="right"))
        start = int(self.ends[k - 1]) if k else 0
        where = f"row {i - start + 1} of {self.parts[k][0]}"
        if len(self.parts) > 1:
            where += f" (row {i + 1} of {self.path})"
        return where


def _as_dtype(X, dtype, path, first_row=0, first_index=1):
    """``X`` in ``dtype``, refusing finite values that float32 cannot hold.

    ``first_row``: rows of the data before ``X`` (sparse ``X`` read in blocks),
    added to the row in the message; ``first_index``: the LIBSVM index of
    column 0 (1 for a one-based file), for the message.
    """
    if X.dtype == dtype:
        return X
    if dtype == np.float32:
        values = X.data if sp.issparse(X) else X
        too_big = np.abs(values) > _FLOAT32_MAX
        if too_big.any():
            if sp.issparse(X):
                k = int(np.argmax(too_big))
                row = int(np.searchsorted(X.indptr, k, side="right")) - 1
                where = f"feature {X.indices[k] + first_index} at row {first_row + row + 1}"
            else:
                row, col = np.unravel_index(int(np.argmax(too_big)), too_big.shape)
                where = f"X at row {row}, column {col} (0-based)"
            raise DataFileError(f"value too large for float32 in {where} of {path}")
    return X.astype(dtype)


# ------------------------------------------------------------------ CSV and Parquet


def _is_numeric(arrow_type):
    """Whether a column of this Arrow type can be cast to float."""
    if pa.types.is_dictionary(arrow_type):
        arrow_type = arrow_type.value_type
    return (
        pa.types.is_integer(arrow_type)
        or pa.types.is_floating(arrow_type)
        or pa.types.is_boolean(arrow_type)
        or pa.types.is_decimal(arrow_type)
        or pa.types.is_null(arrow_type)
    )


def _decoded(column):
    """A dictionary-encoded column as plain values; others unchanged."""
    if pa.types.is_dictionary(column.type):
        return pc.cast(column, column.type.value_type)
    return column


def _read_columns(path, format, target, features, require_target, dtype, header=True, drop=()):
    """X, y and feature names from a CSV file or Parquet file/directory."""
    dataset = None
    if format == "csv":
        with _reading(path):
            table = pa_csv.read_csv(
                path,
                read_options=_csv_read_options(header),
                convert_options=pa_csv.ConvertOptions(strings_can_be_null=True),
            )
        if not header:
            table = table.rename_columns(_csv_column_names(table.num_columns))
        schema = table.schema
        index_columns = set()
    else:
        with _reading(path):
            dataset = pa_ds.dataset(path, format="parquet")
        if not dataset.files:
            raise DataFileError(f"no Parquet files in directory {path}")
        schema = dataset.schema
        metadata = schema.pandas_metadata or {}
        index_columns = {c for c in metadata.get("index_columns", []) if isinstance(c, str)}

    hint = (lambda columns: _first_text(table, columns)) if format == "csv" else None
    feature_columns, has_target = _select_columns(
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

    if dataset is None:
        rows = _Rows(path)
    else:
        table, rows = _read_parquet(path, dataset, feature_columns + [target] * has_target)
    if table.num_rows == 0:
        raise DataFileError(f"no data rows in {path}")

    X = _feature_matrix(table, feature_columns, dtype, rows)
    y = _labels(table.column(target), target, rows, path) if has_target else None
    return X, y, [str(name) for name in feature_columns]


def _csv_column_names(n_columns):
    """The names of the columns of a CSV file without a header: ``"1"``, ``"2"``, ...

    Counted from 1, as ``cut -f`` counts fields.

    Parameters
    ----------
    n_columns : int

    Returns
    -------
    list of str of length n_columns

    Examples
    --------
    >>> _csv_column_names(3)
    ['1', '2', '3']
    """
    return [str(j + 1) for j in range(n_columns)]


def _csv_read_options(header, **options):
    """pyarrow CSV read options for a file with or without a header line."""
    return pa_csv.ReadOptions(autogenerate_column_names=not header, **options)


def _select_columns(
    schema,
    path,
    target,
    features,
    require_target,
    index_columns,
    text_hint,
    *,
    drop=(),
    csv_header=False,
):
    """Check the target and feature columns of a table's ``schema``.

    ``drop`` names columns left out of the default features; ``csv_header``
    says the names come from a CSV header line, which may be a row of data.

    Returns
    -------
    feature_columns : list of str
    has_target : bool
        Whether ``target`` names a column of the file.
    """
    names = schema.names
    data_hint = ""
    if csv_header and _looks_like_data(names):
        data_hint = (
            f"; the first line of {path} looks like data, not a header: "
            "use --no-header (header=False)"
        )
    duplicated = [name for name, count in Counter(names).items() if count > 1]
    if duplicated:
        raise DataFileError(f"duplicate column names in {path}: {_listing(duplicated)}{data_hint}")

    missing = [name for name in drop if name not in names]
    if missing:
        raise DataFileError(_not_found("columns to drop", missing, names, path, data_hint))
    dropped = set(drop)

    has_target = target is not None and target in names
    if require_target and target is None:
        raise DataFileError(
            f"no target column given for {path}: pass --target NAME (target=NAME in Python); "
            f"columns are: {_listing(names)}"
        )
    if require_target and not has_target:
        raise DataFileError(
            f"column {target!r} not found in {path}{_did_you_mean(target, names)}; "
            f"columns are: {_listing(names)}{data_hint}"
        )
    if has_target and target in dropped:
        raise DataFileError(f"the target column {target!r} is also listed in drop")

    if features is None:
        excluded = {target} | set(index_columns) | dropped
        feature_columns = [n for n in names if n not in excluded]
    else:
        missing = [name for name in features if name not in names]
        if missing:
            raise DataFileError(_not_found("feature columns", missing, names, path, data_hint))
        repeated = [name for name, count in Counter(features).items() if count > 1]
        if repeated:
            raise DataFileError(f"features lists a column twice: {_listing(repeated)}")
        if has_target and target in features:
            raise DataFileError(f"the target column {target!r} is also listed in features")
        both = [name for name in features if name in dropped]
        if both:
            raise DataFileError(f"columns listed in both features and drop: {_listing(both)}")
        feature_columns = features
    if not feature_columns:
        raise DataFileError(f"no feature columns in {path}")

    non_numeric = [name for name in feature_columns if not _is_numeric(schema.field(name).type)]
    if non_numeric:
        message = (
            f"non-numeric feature columns in {path}: {_listing(non_numeric)}; "
            "pass features=... (--features) to select numeric ones"
        )
        if text_hint is not None:
            message += text_hint(non_numeric)
        raise DataFileError(message)
    return feature_columns, has_target


def _read_parquet(path, dataset, columns):
    """The ``columns`` of every file of ``dataset`` as one table, and a row locator."""
    tables, parts = [], []
    with _reading(path):
        for fragment in dataset.get_fragments():
            part = fragment.to_table(schema=dataset.schema, columns=columns)
            tables.append(part)
            parts.append((fragment.path, part.num_rows))
        table = pa.concat_tables(tables)
    return table, _Rows(path, parts if os.path.isdir(path) else None)


def _first_text(table, columns):
    """A hint naming the first non-number in text columns that hold mostly numbers."""
    hints = []
    for name in columns:
        column = table.column(name)
        if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            continue
        looks_numeric = pc.fill_null(
            pc.match_substring_regex(column, _NUMBER_PATTERN, ignore_case=True), True
        ).to_numpy(zero_copy_only=False)
        if looks_numeric.any() and not looks_numeric.all():
            i = int(np.argmin(looks_numeric))
            value = _one_line(column[i].as_py(), 40)
            hints.append(f"column {name!r} has text {value!r} at row {i + 1}")
        if len(hints) == 3:
            break
    return " (" + "; ".join(hints) + ")" if hints else ""


def _feature_matrix(table, columns, dtype, rows):
    """Stack numeric ``columns`` into a C-ordered (n_samples, n_features) array."""
    X = np.empty((table.num_rows, len(columns)), dtype=dtype)
    first = None  # (row, column index, problem) of the first bad value
    for j, name in enumerate(columns):
        with _reading(rows.path):
            column = pc.cast(_decoded(table.column(name)), pa.float64(), safe=False)
        values = column.to_numpy(zero_copy_only=False)  # nulls become NaN
        finite = np.isfinite(values)
        problem = None
        if not finite.all():
            i = int(np.argmin(finite))
            problem = "NaN or missing value" if np.isnan(values[i]) else "infinite value"
        elif dtype == np.float32:
            too_big = np.abs(values) > _FLOAT32_MAX
            if too_big.any():
                i, problem = int(np.argmax(too_big)), "value too large for float32"
        if problem is None:
            X[:, j] = values
        elif first is None or i < first[0]:
            first = (i, j, problem)
    if first is not None:
        i, j, problem = first
        raise DataFileError(f"{problem} in column {columns[j]!r} at {rows(i)}")
    return X


def _labels(column, name, rows, path):
    """The label column as a NumPy array of its own kind (str, int64, float64, bool)."""
    column = _decoded(column)
    if column.null_count:
        i = int(np.argmax(column.is_null().to_numpy(zero_copy_only=False)))
        raise DataFileError(f"missing label in column {name!r} at {rows(i)}")
    kind = column.type
    with _reading(path):
        if pa.types.is_boolean(kind):
            return column.to_numpy(zero_copy_only=False).astype(bool)
        if pa.types.is_integer(kind):
            return pc.cast(column, pa.int64()).to_numpy(zero_copy_only=False)
        if pa.types.is_floating(kind) or pa.types.is_decimal(kind):
            y = pc.cast(column, pa.float64(), safe=False).to_numpy(zero_copy_only=False)
            finite = np.isfinite(y)
            if not finite.all():
                i = int(np.argmin(finite))
                problem = "NaN label" if np.isnan(y[i]) else "infinite label"
                raise DataFileError(f"{problem} in column {name!r} at {rows(i)}")
            return y
        if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
            column = pc.cast(column, pa.string())  # dates, binary... as text
        return column.to_numpy(zero_copy_only=False).astype(str)


# ---------------------------------------------------------------------------- LIBSVM


def _read_libsvm(path, features, n_features, zero_based="auto", dtype=np.float64):
    """Sparse X, labels y and index names from a LIBSVM/svmlight file."""
    from sklearn.datasets import load_svmlight_file

    with _reading_libsvm(path):
        # Indices as written (zero_based=True keeps them); the base is decided below.
        X, y = load_svmlight_file(path, dtype=np.float64, zero_based=True)
    n_samples = X.shape[0]
    if n_samples == 0:
        raise DataFileError(f"no data rows in {path}")
    X = sp.csr_matrix(X)
    lowest = int(X.indices.min()) if X.nnz else None
    zero_based = _libsvm_base(zero_based, lowest, X, path)
    width = _libsvm_width(X.shape[1], zero_based, n_features, path)
    X = _libsvm_columns(X, zero_based, width)
    _check_libsvm_rows(X, y, path, zero_based=zero_based)
    X = _as_dtype(X, dtype, path, first_index=0 if zero_based else 1)
    if _integral_labels(y):
        y = y.astype(np.int64)
    names = _libsvm_names(width, zero_based)
    if features is not None:
        index = _libsvm_selection(features, names, path)
        if index is not None:
            X, names = X[:, index], list(features)
    return X, y, names


def _libsvm_base(zero_based, lowest, X, path, first_row=0):
    """Whether a LIBSVM file's indices start at 0, given the lowest index seen.

    ``"auto"`` decides as scikit-learn does: one-based unless an index 0
    occurs. A 0 in a file said to be one-based is an error naming its row.
    """
    if zero_based == "auto":
        return lowest == 0
    if not zero_based and lowest == 0:
        k = int(np.argmin(X.indices))
        row = int(np.searchsorted(X.indptr, k, side="right")) - 1
        raise DataFileError(
            f"cannot read {path}: feature index 0 at row {first_row + row + 1}, but "
            'zero_based=False (indices from 1); pass zero_based=True or "auto" '
            "(--zero-based yes|auto) for a zero-based file"
        )
    return bool(zero_based)


def _libsvm_width(raw_width, zero_based, n_features, path):
    """Columns of X from the parsed width (largest index + 1), checked against limits."""
    width = raw_width if zero_based else max(raw_width - 1, 0)
    if width > MAX_LIBSVM_FEATURES:
        raise DataFileError(_too_wide(path, f"feature index {raw_width - 1}"))
    if n_features is not None:
        if width > n_features:
            raise DataFileError(
                f"{path} uses feature index {raw_width - 1} but n_features={n_features}"
                + (" (zero-based indices)" if zero_based else "")
            )
        width = n_features
    return width


def _too_wide(path, what):
    return (
        f"{path} uses {what}, above the limit of {MAX_LIBSVM_FEATURES} columns "
        "(sparse matrices index columns with 32-bit integers); is the index a typo?"
    )


def _libsvm_columns(X, zero_based, width):
    """CSR rows parsed with indices as written -> columns from 0, ``width`` wide."""
    indices = X.indices if zero_based else X.indices - 1
    return sp.csr_matrix((X.data, indices, X.indptr), shape=(X.shape[0], width))


def _libsvm_names(width, zero_based):
    """Feature names of a LIBSVM file: its own indices, ``"1"``... or ``"0"``..."""
    return IndexNames(0 if zero_based else 1, width)


class IndexNames(Sequence):
    """The feature names of a LIBSVM file: its indices as strings, made on demand.

    A file may use indices up to :data:`MAX_LIBSVM_FEATURES`; a list of that
    many strings would take far more memory than the file, so names are made
    when asked for. Membership and :meth:`index` take constant time.

    Parameters
    ----------
    first : int
        The first index: 1 for a one-based file, 0 for a zero-based one.
    width : int
        The number of columns.

    Examples
    --------
    >>> names = IndexNames(1, 4)
    >>> list(names), names[0], "4" in names, "0" in names, names.index("3")
    (['1', '2', '3', '4'], '1', True, False, 2)
    >>> names == ["1", "2", "3", "4"]
    True
    """

    __hash__ = None

    def __init__(self, first, width):
        self.first, self.width = int(first), int(width)

    def __len__(self):
        return self.width

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [str(self.first + j) for j in range(self.width)[i]]
        return str(self.first + range(self.width)[i])

    def _position(self, name):
        if not isinstance(name, str) or not name.isdigit() or str(int(name)) != name:
            return None
        j = int(name) - self.first
        return j if 0 <= j < self.width else None

    def __contains__(self, name):
        return self._position(name) is not None

    def index(self, name, *args):
        j = self._position(name)
        if j is None or args:
            return list(self).index(name, *args)  # raises ValueError as a list would
        return j

    def __eq__(self, other):
        if isinstance(other, IndexNames):
            return (self.first, self.width) == (other.first, other.width) or (
                self.width == other.width == 0
            )
        if isinstance(other, (Sequence, np.ndarray)) and not isinstance(other, str):
            return len(other) == self.width and all(
                str(a) == b for a, b in zip(other, self, strict=True)
            )
        return NotImplemented

    def __repr__(self):
        if self.width <= 6:
            return repr(list(self))
        return f"IndexNames(first={self.first}, width={self.width})"


def _libsvm_selection(features, names, path):
    """Column indices of ``features`` (index names) in a LIBSVM file, None for all of them."""
    features = list(features)
    if names == features:
        return None
    missing = [name for name in features if name not in names]
    if missing:
        first, last = names[0] if names else "-", names[-1] if names else "-"
        raise DataFileError(
            f"feature columns not found in {path}: {_listing(missing)}; its features are "
            f"the indices {first} to {last} (zero_based decides whether they start at 0 or 1)"
        )
    repeated = [name for name, count in Counter(features).items() if count > 1]
    if repeated:
        raise DataFileError(f"features lists a column twice: {_listing(repeated)}")
    first = int(names[0]) if names else 0
    return np.asarray([int(name) - first for name in features], dtype=np.intp)


@contextmanager
def _reading_libsvm(path):
    """:func:`_reading` for LIBSVM files: an index too large for a C int is explained."""
    try:
        with _reading(path):
            yield
    except OverflowError as exc:  # scikit-learn's parser reads indices as C ints
        raise DataFileError(_too_wide(path, "a feature index of 2147483648 or more")) from exc


def _check_libsvm_rows(X, y, path, first_row=0, zero_based=False):
    """Refuse NaN or infinite labels and values in rows read from a LIBSVM file.

    Parameters
    ----------
    X : CSR matrix of shape (n_rows, n_features)
    y : ndarray of shape (n_rows,)
        float64 labels as parsed.
    path : str
    first_row : int, default=0
        Rows of the file before these (a file read in blocks), for the message.
    zero_based : bool, default=False
        Whether the file's indices start at 0 (column ``j`` is index ``j``),
        for the message.
    """
    finite = np.isfinite(y)
    if not finite.all():
        i = int(np.argmin(finite))
        problem = "NaN label" if np.isnan(y[i]) else "infinite label"
        raise DataFileError(f"{problem} at row {first_row + i + 1} of {path}")
    finite = np.isfinite(X.data)
    if not finite.all():
        k = int(np.argmin(finite))
        row = int(np.searchsorted(X.indptr, k, side="right")) - 1
        problem = "NaN value" if np.isnan(X.data[k]) else "infinite value"
        raise DataFileError(
            f"{problem} for feature {X.indices[k] + (not zero_based)} at row "
            f"{first_row + row + 1} of {path}"
        )


def _integral_labels(y):
    """Whether float64 LIBSVM labels are all whole numbers that int64 can hold."""
    return bool(np.all(y == np.trunc(y)) and np.all(np.abs(y) < 2.0**63))


# ------------------------------------------------------------------------------- npz


def _npz_array(archive, key, path):
    """One array of an open ``.npz`` archive, with its errors made DataFileErrors."""
    try:
        with _reading(path):
            return archive[key]
    except DataFileError as exc:
        if "allow_pickle" in str(exc):
            raise DataFileError(
                f"array {key!r} in {path} holds Python objects, which are not loaded "
                "(allow_pickle=False); store numbers or strings"
            ) from exc.__cause__
        raise


def _check_npz_sizes(path):
    """Refuse ``.npz`` arrays larger than their zip members can hold, before loading them.

    NumPy allocates an array from its header's shape before reading its data,
    so a few hundred bytes could ask for terabytes. Each array's
    ``shape x itemsize`` must fit in the uncompressed size of its member, and
    that size in what deflate can make of the stored bytes
    (:data:`_MAX_DEFLATE_RATIO`) and in the archive itself.
    """
    from numpy.lib import format as npy_format

    archive_bytes = os.path.getsize(path)
    with _reading(path):
        if not zipfile.is_zipfile(path):
            return  # np.load says what it is
        with zipfile.ZipFile(path) as archive:
            for member in archive.infolist():
                if not member.filename.endswith(".npy"):
                    continue
                key = member.filename[: -len(".npy")]
                stored_limit = member.compress_size
                if member.compress_type != zipfile.ZIP_STORED:
                    stored_limit *= _MAX_DEFLATE_RATIO
                if member.compress_size > archive_bytes or member.file_size > stored_limit + 2**16:
                    raise DataFileError(
                        f"array {key!r} in {path} claims {_bytes(member.file_size)} "
                        f"from {_bytes(member.compress_size)} stored in a "
                        f"{_bytes(archive_bytes)} file: the archive is damaged"
                    )
                with archive.open(member) as stream:
                    try:
                        version = npy_format.read_magic(stream)
                        if version == (1, 0):
                            shape, _, dtype = npy_format.read_array_header_1_0(stream)
                        else:
                            shape, _, dtype = npy_format.read_array_header_2_0(stream)
                    except ValueError:
                        continue  # not a readable .npy header: np.load reports it
                    header_bytes = stream.tell()
                if dtype.hasobject:
                    continue  # refused when loaded (allow_pickle=False)
                claimed = int(np.prod([int(n) for n in shape], dtype=object)) * dtype.itemsize
                held = member.file_size - header_bytes
                if claimed > held:
                    raise DataFileError(
                        f"array {key!r} in {path} claims shape {tuple(shape)} of {dtype} "
                        f"({_bytes(claimed)}) but its zip member holds {_bytes(max(held, 0))}: "
                        "the archive is damaged; nothing was allocated"
                    )


def _bytes(n):
    """``n`` bytes for a person: 386 bytes, 2.18 TiB..."""
    n = int(n)
    if n < 1024:
        return f"{n} bytes"
    for unit in ("KiB", "MiB", "GiB", "TiB", "PiB"):
        n /= 1024
        if n < 1024 or unit == "PiB":
            return f"{n:.3g} {unit}"
    return f"{n} bytes"  # pragma: no cover


def _read_npz(path, features, require_target):
    """Dense X, labels y (or None) and names (or None) from a NumPy ``.npz`` archive."""
    _check_npz_sizes(path)
    with _reading(path), open(path, "rb") as handle:
        try:
            archive = np.load(handle, allow_pickle=False)
        except ValueError as exc:  # neither zip nor .npy: NumPy tried to unpickle it
            raise DataFileError(f"cannot read {path}: not an .npz (zip) archive") from exc
        if isinstance(archive, np.ndarray):
            raise DataFileError(f"{path} holds a single .npy array, not an .npz archive with 'X'")
        with archive:
            keys = list(archive.files)
            if "X" not in keys:
                message = f"no array 'X' in {path}; arrays are: {_listing(keys)}"
                if {"data", "indices", "indptr", "shape"} <= set(keys):
                    message += " (a scipy.sparse.save_npz file? store sparse data as LIBSVM)"
                raise DataFileError(message)
            X = _npz_array(archive, "X", path)
            y = _npz_array(archive, "y", path) if "y" in keys else None
            names = _npz_array(archive, "feature_names", path) if "feature_names" in keys else None

    if X.ndim != 2:
        raise DataFileError(f"'X' in {path} must be 2-D, got shape {X.shape}")
    if X.dtype.kind not in "biuf":
        raise DataFileError(f"'X' in {path} must be numeric, got dtype {X.dtype}")
    n_samples, n_columns = X.shape
    if n_samples == 0:
        raise DataFileError(f"no data rows in {path}")
    X = np.asarray(X, dtype=np.float64) if X.dtype.kind != "f" else X
    finite = np.isfinite(X)
    if not finite.all():
        row, col = np.unravel_index(int(np.argmin(finite)), X.shape)
        problem = "NaN value" if np.isnan(X[row, col]) else "infinite value"
        raise DataFileError(f"{problem} in X at row {row}, column {col} (0-based) of {path}")
    if X.dtype != np.float32:
        X = X.astype(np.float64, copy=False)

    if names is not None:
        if names.ndim != 1 or names.dtype.kind not in "US" or len(names) != n_columns:
            raise DataFileError(
                f"'feature_names' in {path} must be {n_columns} strings (one per column of X), "
                f"got shape {names.shape} and dtype {names.dtype}"
            )
        with _reading(path):
            names = [str(name) for name in names.astype(str)]
    if features is not None:
        if names is None:
            raise DataFileError(
                f"features=... needs a 'feature_names' array in {path}; arrays are: "
                f"{_listing(keys)}"
            )
        missing = [name for name in features if name not in names]
        if missing:
            raise DataFileError(
                f"feature columns not found in {path}: {_listing(missing)}; "
                f"columns are: {_listing(names)}"
            )
        X = X[:, [names.index(name) for name in features]]
        names = list(features)

    if y is None:
        if require_target:
            raise DataFileError(f"no labels (array 'y') in {path}; arrays are: {_listing(keys)}")
        return X, None, names
    return X, _npz_labels(y, n_samples, path), names


def _npz_labels(y, n_samples, path):
    """The ``y`` array of an ``.npz`` file checked and as str, int64, float64 or bool."""
    if y.shape != (n_samples,):
        raise DataFileError(
            f"'y' in {path} must have shape ({n_samples},) to match X, got {y.shape}"
        )
    kind = y.dtype.kind
    if kind == "U" or kind == "b":
        return y
    if kind == "S":
        with _reading(path):
            return y.astype(str)
    if kind == "i":
        return y.astype(np.int64)
    if kind == "u":
        if y.max() > np.iinfo(np.int64).max:
            raise DataFileError(f"labels in 'y' of {path} are too large for int64")
        return y.astype(np.int64)
    if kind == "f":
        finite = np.isfinite(y)
        if not finite.all():
            i = int(np.argmin(finite))
            problem = "NaN label" if np.isnan(y[i]) else "infinite label"
            raise DataFileError(f"{problem} in 'y' at row {i} (0-based) of {path}")
        return y.astype(np.float64)
    raise DataFileError(f"'y' in {path} must hold numbers or strings, got dtype {y.dtype}")
