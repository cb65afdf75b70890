"""LIBSVM/svmlight files -> sparse CSR feature matrices and float or integer labels.

Lines are parsed by :func:`sklearn.datasets.load_svmlight_file`, with the
indices as written; whether they start at 0 or 1 is decided once the whole
file has been seen (``zero_based="auto"``: one-based unless an index 0 occurs,
as scikit-learn decides). Column ``j`` of ``X`` is named after the index
written in the file (:class:`IndexNames`).

A file is read whole (:func:`read_libsvm`) or streamed: :class:`Scan` makes
the first pass over byte ranges of whole lines, checking every row, and
:func:`read_ranges` / :func:`read_chunks` parse them again on later passes.

An index must fit the 32-bit column index of SciPy's sparse matrices (at
most :data:`MAX_LIBSVM_FEATURES` columns), checked before anything that wide
is allocated.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Sequence
from contextlib import contextmanager

import numpy as np
import scipy.sparse as sp

from softmax_classifier.io.arrays import as_dtype
from softmax_classifier.io.errors import DataFileError, listing, reading
from softmax_classifier.io.text import text_chunks

__all__ = [
    "MAX_LIBSVM_FEATURES",
    "IndexNames",
    "Scan",
    "check_zero_based",
    "parse",
    "read_chunks",
    "read_libsvm",
    "read_ranges",
    "refuse_columns",
]

#: The most columns a LIBSVM file may have: SciPy's sparse matrices index their
#: columns with int32 (and scikit-learn's parser reads indices as C ints), so a
#: wider matrix cannot be built. Wider data would not fit a model either.
MAX_LIBSVM_FEATURES = int(np.iinfo(np.int32).max)


def check_zero_based(zero_based):
    """``zero_based`` checked: ``"auto"``, True or False.

    Parameters
    ----------
    zero_based : {"auto", True, False}
        Any case of ``"auto"``; a NumPy bool is taken as a bool.

    Returns
    -------
    "auto" or bool

    Examples
    --------
    >>> check_zero_based("AUTO"), check_zero_based(np.True_)
    ('auto', True)
    """
    if isinstance(zero_based, (bool, np.bool_)):
        return bool(zero_based)
    if isinstance(zero_based, str) and zero_based.lower() == "auto":
        return "auto"
    raise ValueError(f'zero_based must be "auto", True or False; got {zero_based!r}')


def refuse_columns(path, target=None, weight_column=None):
    """Refuse what a LIBSVM file cannot give: a target or weight column.

    Parameters
    ----------
    path : str
    target, weight_column : str or None, default=None
        Columns asked of the file; each must be None.

    Raises
    ------
    DataFileError
        For a column asked for, saying why the file has none.
    """
    asked = [
        (target, f"target={target!r}", "its label leads each line"),
        (weight_column, f"weight_column={weight_column!r}", "it has no weights"),
    ]
    for value, argument, reason in asked:
        if value is not None:
            raise DataFileError(
                f"{argument} cannot select columns of the LIBSVM file {path}: "
                f"{reason} (pass {argument.split('=')[0]}=None)"
            )


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


def read_libsvm(path, features, n_features, zero_based="auto", dtype=np.float64):
    """A whole LIBSVM/svmlight file: sparse X, labels y and index names.

    Parameters
    ----------
    path : str
        Maybe compressed (``.gz``, ``.bz2``).
    features : list of str or None
        Columns by their index names, in this order; None for all.
    n_features : int or None
        The width of ``X`` (a model's); a higher index is an error.
    zero_based : {"auto", True, False}, default="auto"
    dtype : numpy.dtype, default=numpy.float64

    Returns
    -------
    X : CSR matrix of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
        int64 when every label is a whole number, float64 otherwise.
    names : IndexNames or list of str of length n_features
    """
    from sklearn.datasets import load_svmlight_file

    with _reading_libsvm(path):
        # Indices as written (zero_based=True keeps them); the base is decided below.
        X, y = load_svmlight_file(path, dtype=np.float64, zero_based=True)
    n_samples = X.shape[0]
    if n_samples == 0:
        raise DataFileError(f"no data rows in {path}")
    X = sp.csr_matrix(X)
    lowest = int(X.indices.min()) if X.nnz else None
    zero_based = _base(zero_based, lowest, X, path)
    width = _width(X.shape[1], zero_based, n_features, path)
    indices = X.indices if zero_based else X.indices - 1
    X = sp.csr_matrix((X.data, indices, X.indptr), shape=(X.shape[0], width))
    _check_rows(X, y, path, zero_based=zero_based)
    X = as_dtype(X, dtype, path, first_index=0 if zero_based else 1)
    if _integral_labels(y):
        y = y.astype(np.int64)
    names = IndexNames(0 if zero_based else 1, width)
    if features is not None:
        index = _selection(features, names, path)
        if index is not None:
            X, names = X[:, index], list(features)
    return X, y, names


def parse(stream, path, n_features, dtype, zero_based, offset=0, length=-1):
    """CSR rows and float64 labels of ``stream`` (a file or bytes) from ``offset``.

    Parameters
    ----------
    stream : binary file object
        Read from ``offset`` (the rest of the line at ``offset > 0`` is skipped)
        to the lines starting before ``offset + length``.
    path : str
        The file, for messages.
    n_features : int or None
        The width of ``X``; None for the largest index + 1.
    dtype : numpy.dtype
    zero_based : bool
        Whether indices start at 0 (True keeps them as written).
    offset, length : int, default=0 and -1

    Returns
    -------
    X : CSR matrix of shape (n_rows, n_features)
    y : ndarray of shape (n_rows,)
        float64.
    """
    from sklearn.datasets import load_svmlight_file

    with _reading_libsvm(path):
        X, y = load_svmlight_file(
            stream,
            n_features=n_features,
            dtype=dtype,
            zero_based=zero_based,
            offset=offset,
            length=length,
        )
    return sp.csr_matrix(X), y


class Scan:
    """The first pass over a LIBSVM file, a byte range of whole lines at a time.

    Iterating parses each range with its indices as written, checks its rows
    (NaN or infinite values and labels, values too large for ``dtype``, an
    index 0 when ``zero_based`` is False) and yields its labels; the ranges
    holding rows are recorded. :meth:`columns` then decides the index base
    and the width.

    Parameters
    ----------
    path : str
    chunk_bytes : int
        Bytes of text per range (whole lines are completed).
    zero_based : {"auto", True, False}
    dtype : numpy.dtype
        The dtype the blocks will have (values must fit it).

    Attributes
    ----------
    ranges : list of (int, int)
        ``(start, end)`` byte offsets of the ranges holding rows.
    n_samples : int
    integral : bool
        Whether every label is a whole number int64 can hold.
    """

    def __init__(self, path, chunk_bytes, zero_based, dtype):
        self.path, self.chunk_bytes = path, chunk_bytes
        self.zero_based, self.dtype = zero_based, dtype
        self.ranges, self.n_samples, self.integral = [], 0, True
        self._raw_width, self._lowest = 1, None

    def __iter__(self):
        """Yield the float64 labels of each range holding rows, of shape (n_rows,).

        Raises
        ------
        DataFileError
            For a bad row, or (at the end) a file without rows.
        """
        for start, chunk in text_chunks(self.path, self.chunk_bytes):
            X, y = parse(io.BytesIO(chunk), self.path, None, np.float64, zero_based=True)
            if X.shape[0] == 0:  # only blank or comment lines
                continue
            if X.nnz:
                low = int(X.indices.min())
                self._lowest = low if self._lowest is None else min(self._lowest, low)
                if self.zero_based is False:  # a 0 here is an error naming its row
                    _base(False, low, X, self.path, first_row=self.n_samples)
            # Indices as written: messages name them as they are (zero_based=True).
            _check_rows(X, y, self.path, first_row=self.n_samples, zero_based=True)
            as_dtype(X, self.dtype, self.path, first_row=self.n_samples, first_index=0)
            self._raw_width = max(self._raw_width, X.shape[1])
            self.integral = self.integral and _integral_labels(y)
            self.ranges.append((start, start + len(chunk)))
            self.n_samples += X.shape[0]
            yield y
        if self.n_samples == 0:
            raise DataFileError(f"no data rows in {self.path}")

    def columns(self, n_features, features):
        """The index base and the columns, once the whole file has been seen.

        Parameters
        ----------
        n_features : int or None
            The width asked for (a model's); a higher index is an error.
        features : list of str or None
            Columns by their index names; None for all.

        Returns
        -------
        zero_based : bool
        width : int
            Columns of the parsed blocks.
        names : IndexNames or list of str of length n_features
        select : ndarray of shape (n_features,) or None
            Columns of the parsed blocks kept, None for all.
        """
        zero_based = _base(self.zero_based, self._lowest, None, self.path)
        width = _width(self._raw_width, zero_based, n_features, self.path)
        names = IndexNames(0 if zero_based else 1, width)
        select = None
        if features is not None:
            select = _selection(features, names, self.path)
            if select is not None:
                names = list(features)
        return zero_based, width, names, select


def read_ranges(path, ranges, order, width, dtype, zero_based):
    """Parse recorded byte ranges of an uncompressed file again, in the order asked.

    Parameters
    ----------
    path : str
    ranges : list of (int, int)
        As :class:`Scan` recorded them.
    order : iterable of int
        Indices into ``ranges``.
    width : int
    dtype : numpy.dtype
    zero_based : bool

    Yields
    ------
    X : CSR matrix of shape (n_rows, width)
    y : ndarray of shape (n_rows,)
        float64 labels.
    """
    with reading(path), open(path, "rb") as f:
        for k in order:
            start, end = ranges[k]
            # load_svmlight_file skips the rest of the line at ``offset`` (> 0) and
            # reads the lines starting up to ``offset + length``: [start, end) here.
            offset = start - 1 if start else 0
            f.seek(0)  # it seeks only for an offset > 0
            yield parse(f, path, width, dtype, zero_based, offset=offset, length=end - 1 - offset)


def read_chunks(path, chunk_bytes, width, dtype, zero_based):
    """Parse a (compressed) file from its start, a chunk of whole lines at a time.

    Parameters
    ----------
    path : str
    chunk_bytes : int
    width : int
    dtype : numpy.dtype
    zero_based : bool

    Yields
    ------
    X : CSR matrix of shape (n_rows, width)
        ``n_rows > 0``: chunks of blank or comment lines are left out.
    y : ndarray of shape (n_rows,)
        float64 labels.
    """
    for _, chunk in text_chunks(path, chunk_bytes):
        X, y = parse(io.BytesIO(chunk), path, width, dtype, zero_based)
        if X.shape[0]:
            yield X, y


def _base(zero_based, lowest, X, path, first_row=0):
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


def _width(raw_width, zero_based, n_features, path):
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


def _selection(features, names, path):
    """Column indices of ``features`` (index names) in a LIBSVM file, None for all of them."""
    features = list(features)
    if names == features:
        return None
    missing = [name for name in features if name not in names]
    if missing:
        first, last = names[0] if names else "-", names[-1] if names else "-"
        raise DataFileError(
            f"feature columns not found in {path}: {listing(missing)}; its features are "
            f"the indices {first} to {last} (zero_based decides whether they start at 0 or 1)"
        )
    repeated = [name for name, count in Counter(features).items() if count > 1]
    if repeated:
        raise DataFileError(f"features lists a column twice: {listing(repeated)}")
    first = int(names[0]) if names else 0
    return np.asarray([int(name) - first for name in features], dtype=np.intp)


@contextmanager
def _reading_libsvm(path):
    """:func:`reading` for LIBSVM files: an index too large for a C int is explained."""
    try:
        with reading(path):
            yield
    except OverflowError as exc:  # scikit-learn's parser reads indices as C ints
        raise DataFileError(_too_wide(path, "a feature index of 2147483648 or more")) from exc


def _check_rows(X, y, path, first_row=0, zero_based=False):
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
        raise DataFileError(
            f"{problem} at row {first_row + i + 1} of {path}", row=first_row + i, problem="label"
        )
    finite = np.isfinite(X.data)
    if not finite.all():
        k = int(np.argmin(finite))
        row = int(np.searchsorted(X.indptr, k, side="right")) - 1
        problem = "NaN value" if np.isnan(X.data[k]) else "infinite value"
        raise DataFileError(
            f"{problem} for feature {X.indices[k] + (not zero_based)} at row "
            f"{first_row + row + 1} of {path}",
            row=first_row + row,
            problem="value",
        )


def _integral_labels(y):
    """Whether float64 LIBSVM labels are all whole numbers that int64 can hold."""
    return bool(np.all(y == np.trunc(y)) and np.all(np.abs(y) < 2.0**63))
