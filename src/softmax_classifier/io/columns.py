"""Named columns (CSV, Parquet) -> checked feature matrices and label vectors.

An Arrow table of a CSV or Parquet file becomes the feature matrix ``X`` of
shape ``(n_samples, n_features)`` and the label vector ``y`` of shape
``(n_samples,)``: :func:`select_columns` checks which columns are asked for,
:func:`feature_matrix` and :func:`column_labels` convert them, refusing missing, NaN
and infinite values with the first such row (a :class:`Rows` locator names
it, counted from 1 after the header).
"""

from __future__ import annotations

import copy
import re
from collections import Counter

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from softmax_classifier.io.arrays import FLOAT32_MAX
from softmax_classifier.io.errors import (
    DataFileError,
    did_you_mean,
    listing,
    not_found,
    one_line,
    reading,
)

__all__ = [
    "NUMBER_PATTERN",
    "Rows",
    "column_labels",
    "feature_matrix",
    "first_text",
    "name_list",
    "select_columns",
]

#: A value pyarrow's CSV reader would take as a number (or as a missing value).
NUMBER_PATTERN = (
    r"^\s*[+-]?((\d+\.?\d*|\.\d+)(e[+-]?\d+)?|inf|infinity|nan)\s*$|"
    r"^(|NA|N/A|NULL|null|#N/A|-NaN|-nan|n/a|NaN|nan)$"
)


class Rows:
    """Says where row ``i`` (0-based, of the whole data set) comes from.

    Parameters
    ----------
    path : str
        The file or directory as given.
    parts : list of (str, int) or None
        For a directory: each file's path and number of rows, in reading order.

    Examples
    --------
    >>> Rows("a.csv")(0), Rows("d", [("d/1.pq", 2), ("d/2.pq", 3)])(3)
    ('row 1 of a.csv', 'row 2 of d/2.pq (row 4 of d)')
    >>> Rows("a.csv").shifted(10)(0)
    'row 11 of a.csv'
    """

    def __init__(self, path, parts=None):
        self.path = path
        self.parts = parts
        self.first = 0
        if parts:
            self.ends = np.cumsum([n_rows for _, n_rows in parts])

    def shifted(self, start):
        """The locator of a batch whose row ``i`` is row ``start + i`` of these rows.

        Parameters
        ----------
        start : int

        Returns
        -------
        Rows
        """
        rows = copy.copy(self)
        rows.first = self.first + start
        return rows

    def index(self, i):
        """Row ``i`` of these rows, counted from 0 over the whole data set.

        Parameters
        ----------
        i : int

        Returns
        -------
        int
        """
        return self.first + i

    def __call__(self, i):
        i += self.first
        if not self.parts:
            return f"row {i + 1} of {self.path}"
        k = int(np.searchsorted(self.ends, i, side="right"))
        start = int(self.ends[k - 1]) if k else 0
        where = f"row {i - start + 1} of {self.parts[k][0]}"
        if len(self.parts) > 1:
            where += f" (row {i + 1} of {self.path})"
        return where


def name_list(names, argument):
    """A sequence of column names as a list of str (a single str is one name).

    Parameters
    ----------
    names : str, sequence of str or None
    argument : str
        The argument's name, for the message.

    Returns
    -------
    list of str
        Empty for None.

    Examples
    --------
    >>> name_list("id", "drop"), name_list(None, "drop")
    (['id'], [])
    """
    if names is None:
        return []
    if isinstance(names, str):
        return [names]
    names = list(names)
    if not all(isinstance(name, str) for name in names):
        raise ValueError(f"{argument} must be column names (str); got {names!r}")
    return names


def _is_number_text(text):
    """Whether a header cell reads as a number (a data value, not a name)."""
    return bool(text.strip()) and re.match(NUMBER_PATTERN, text, re.IGNORECASE) is not None


def _looks_like_data(names):
    """Whether CSV column names look like a row of data: mostly numbers, or repeated numbers."""
    # A header with a few numeric names ("1,2,label") passes; a row of numbers with a
    # text label or two ("5.1,3.5,setosa") does not.
    numeric = sum(_is_number_text(name) for name in names)
    if (numeric >= 2 and numeric * 2 >= len(names)) or (names and numeric == len(names)):
        return True
    counts = Counter(names)
    return any(count > 1 and _is_number_text(name) for name, count in counts.items())


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


def select_columns(
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

    Parameters
    ----------
    schema : pyarrow.Schema
        The file's columns (n_columns of them) and their types.
    path : str
        The file, for messages.
    target : str or None
        The label column; may be absent unless ``require_target``.
    features : list of str or None
        The feature columns asked for, in order; None for every column but
        the target, ``index_columns`` and ``drop``.
    require_target : bool
        Whether ``target`` must name a column.
    index_columns : set of str
        Columns left out of the default features (a pandas index, a weight
        column).
    text_hint : callable or None
        ``text_hint(columns) -> str``: appended to the message about
        non-numeric columns (where the text is, see :func:`first_text`).
    drop : sequence of str, default=()
        Columns left out of the default features; each must exist.
    csv_header : bool, default=False
        Whether the names come from a CSV header line, which may be a row of
        data (the messages then say so).

    Returns
    -------
    feature_columns : list of str of length n_features
    has_target : bool
        Whether ``target`` names a column of the file.

    Raises
    ------
    DataFileError
        For duplicated, missing or non-numeric columns, and columns asked for
        twice or in two roles.
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
        raise DataFileError(f"duplicate column names in {path}: {listing(duplicated)}{data_hint}")

    missing = [name for name in drop if name not in names]
    if missing:
        raise DataFileError(not_found("columns to drop", missing, names, path, data_hint))
    dropped = set(drop)

    has_target = target is not None and target in names
    if require_target and target is None:
        raise DataFileError(
            f"no target column given for {path}: pass --target NAME (target=NAME in Python); "
            f"columns are: {listing(names)}"
        )
    if require_target and not has_target:
        raise DataFileError(
            f"column {target!r} not found in {path}{did_you_mean(target, names)}; "
            f"columns are: {listing(names)}{data_hint}"
        )
    if has_target and target in dropped:
        raise DataFileError(f"the target column {target!r} is also listed in drop")

    if features is None:
        excluded = {target} | set(index_columns) | dropped
        feature_columns = [n for n in names if n not in excluded]
    else:
        missing = [name for name in features if name not in names]
        if missing:
            raise DataFileError(not_found("feature columns", missing, names, path, data_hint))
        repeated = [name for name, count in Counter(features).items() if count > 1]
        if repeated:
            raise DataFileError(f"features lists a column twice: {listing(repeated)}")
        if has_target and target in features:
            raise DataFileError(f"the target column {target!r} is also listed in features")
        both = [name for name in features if name in dropped]
        if both:
            raise DataFileError(f"columns listed in both features and drop: {listing(both)}")
        feature_columns = features
    if not feature_columns:
        raise DataFileError(f"no feature columns in {path}")

    non_numeric = [name for name in feature_columns if not _is_numeric(schema.field(name).type)]
    if non_numeric:
        message = (
            f"non-numeric feature columns in {path}: {listing(non_numeric)}; "
            "pass features=... (--features) to select numeric ones"
        )
        if text_hint is not None:
            message += text_hint(non_numeric)
        raise DataFileError(message)
    return feature_columns, has_target


def first_text(table, columns):
    """A hint naming the first non-number in text columns that hold mostly numbers.

    Parameters
    ----------
    table : pyarrow.Table
    columns : list of str
        Columns of ``table`` found not numeric.

    Returns
    -------
    str
        ``" (column 'x' has text 'n/a?' at row 7)"`` for up to three columns,
        or ``""``.
    """
    hints = []
    for name in columns:
        column = table.column(name)
        if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            continue
        looks_numeric = pc.fill_null(
            pc.match_substring_regex(column, NUMBER_PATTERN, ignore_case=True), True
        ).to_numpy(zero_copy_only=False)
        if looks_numeric.any() and not looks_numeric.all():
            i = int(np.argmin(looks_numeric))
            value = one_line(column[i].as_py(), 40)
            hints.append(f"column {name!r} has text {value!r} at row {i + 1}")
        if len(hints) == 3:
            break
    return " (" + "; ".join(hints) + ")" if hints else ""


def feature_matrix(table, columns, dtype, rows):
    """Stack numeric ``columns`` into a C-ordered (n_samples, n_features) array.

    Parameters
    ----------
    table : pyarrow.Table with n_samples rows
    columns : list of str of length n_features
        Numeric columns of ``table`` (see :func:`select_columns`).
    dtype : numpy.dtype
        float64 or float32.
    rows : Rows or callable
        ``rows(i) -> str`` names row ``i`` of the table; ``rows.path`` is the file.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)

    Raises
    ------
    DataFileError
        For the first (by row) missing, NaN or infinite value, or a value too
        large for float32, with its column and row.
    """
    X = np.empty((table.num_rows, len(columns)), dtype=dtype)
    first = None  # (row, column index, problem) of the first bad value
    for j, name in enumerate(columns):
        with reading(rows.path):
            column = pc.cast(_decoded(table.column(name)), pa.float64(), safe=False)
        values = column.to_numpy(zero_copy_only=False)  # nulls become NaN
        finite = np.isfinite(values)
        problem = None
        if not finite.all():
            i = int(np.argmin(finite))
            problem = "NaN or missing value" if np.isnan(values[i]) else "infinite value"
        elif dtype == np.float32:
            too_big = np.abs(values) > FLOAT32_MAX
            if too_big.any():
                i, problem = int(np.argmax(too_big)), "value too large for float32"
        if problem is None:
            X[:, j] = values
        elif first is None or i < first[0]:
            first = (i, j, problem)
    if first is not None:
        i, j, problem = first
        raise DataFileError(
            f"{problem} in column {columns[j]!r} at {rows(i)}",
            row=_index(rows, i),
            problem=None if problem.startswith("value too large") else "value",
        )
    return X


def column_labels(column, name, rows, path):
    """The label column as a NumPy array of its own kind (str, int64, float64, bool).

    Parameters
    ----------
    column : pyarrow.ChunkedArray or Array of length n_samples
    name : str
        The column's name, for messages.
    rows : Rows or callable
        ``rows(i) -> str`` names row ``i``.
    path : str

    Returns
    -------
    y : ndarray of shape (n_samples,)
        bool, int64, float64 or str (dates, binary... as text).

    Raises
    ------
    DataFileError
        For a missing, NaN or infinite label, with its row.
    """
    column = _decoded(column)
    if column.null_count:
        i = int(np.argmax(column.is_null().to_numpy(zero_copy_only=False)))
        raise DataFileError(
            f"missing label in column {name!r} at {rows(i)}", row=_index(rows, i), problem="label"
        )
    kind = column.type
    with reading(path):
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
                raise DataFileError(
                    f"{problem} in column {name!r} at {rows(i)}",
                    row=_index(rows, i),
                    problem="label",
                )
            return y
        if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
            column = pc.cast(column, pa.string())  # dates, binary... as text
        return column.to_numpy(zero_copy_only=False).astype(str)


def _index(rows, i):
    """Row ``i``'s index in the whole data set, when ``rows`` can say (a :class:`Rows`)."""
    return rows.index(i) if isinstance(rows, Rows) else None
