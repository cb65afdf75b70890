"""Streaming data source: rows read batch by batch from Parquet, CSV or LIBSVM files.

Nothing here holds more than a few blocks of the file at once, so a file
larger than memory can be fitted: full-batch solvers make one pass over the
file per evaluation, mini-batch solvers walk it in a shuffled order.

Blocks are sized by bytes: :data:`DEFAULT_BLOCK_BYTES` of features per block
(``n_features * itemsize`` bytes a row), whatever the width of the file, unless
``block_rows`` is given. A block exists in at most two copies while it is
made (the decoded Arrow batch or parsed text, and the NumPy/CSR block it is
turned into; standardisation then works in place), and a pass holds one
block per evaluating thread plus the one being read.
"""

from __future__ import annotations

import os

import numpy as np

from softmax_classifier.data._blocks import shuffled_batches
from softmax_classifier.data._checks import BAD_LABEL, BAD_VALUE, BAD_WEIGHT, problem_message
from softmax_classifier.data._parallel import add_in_order, available_cpus, map_in_order
from softmax_classifier.data._statistics import totals_by_label
from softmax_classifier.data._transform import Transform, Transformable
from softmax_classifier.io import csv_text, libsvm, parquet
from softmax_classifier.io.columns import (
    Rows,
    column_labels,
    feature_matrix,
    name_list,
    select_columns,
)
from softmax_classifier.io.errors import DataFileError, did_you_mean, reading
from softmax_classifier.io.formats import check_not_directory, detect_format, is_compressed
from softmax_classifier.io.text import read_ranges, sample_line_bytes, text_chunks

__all__ = ["DEFAULT_BLOCK_BYTES", "StreamingData"]

_STREAMED_FORMATS = ("parquet", "csv", "libsvm")
#: Bytes of features per block when neither ``block_rows`` nor ``block_bytes`` is
#: given: large enough that per-block Python overhead is negligible (a block is
#: millions of values), small enough that a pass on many threads stays far below
#: the data (see ``docs/scaling.md`` for the peak memory to expect).
DEFAULT_BLOCK_BYTES = 32 * 2**20
# Text blocks (CSV, LIBSVM) are byte ranges of whole lines, never smaller than this.
_MIN_BLOCK_BYTES = 2**12


class StreamingData(Transformable):
    """Rows of a Parquet, CSV or LIBSVM file (or a directory of Parquet files), read in batches.

    Opening the source makes one pass over the file: it checks the columns,
    counts the rows, finds the classes and checks every value (the first
    missing, NaN or infinite value is reported with its column and row), so
    that a bad file fails before any fitting starts.

    Pass it to :meth:`SoftmaxClassifier.fit` in place of ``X`` (and no
    ``y``). Memory is bounded by the block size (full-batch passes) and
    ``shuffle_rows`` (mini-batch epochs), not by the size of the file: a pass
    holds about ``n_threads + 2`` blocks of ``block_bytes`` each (see
    ``docs/scaling.md``).

    Parameters
    ----------
    path : str or os.PathLike
        A Parquet file, a directory of Parquet files (read in the order of
        their names), a CSV file (``.csv``, ``.csv.gz``, ``.csv.bz2``) or a
        LIBSVM/svmlight file (``.svm``, ``.libsvm``, ... also ``.gz``/``.bz2``;
        see :func:`softmax_classifier.io.detect_format`).
    target : str or None, default=None
        Parquet/CSV: the label column (required); labels keep their type
        (strings, ints, ...). LIBSVM: must be None, the label leads each line
        (int64 when every label is a whole number, float64 otherwise).
    features : list of str or None, default=None
        Parquet/CSV: the feature columns, in this order; by default every
        column but the target, the weight column and ``drop``. LIBSVM: the
        columns by their index names (``"1"``, ... see ``zero_based``).
    weight_column : str or None, default=None
        Parquet/CSV: a column of non-negative sample weights. LIBSVM: must be
        None (rows have weight 1).
    dtype : {numpy.float64, numpy.float32}, default=numpy.float64
        dtype of the feature blocks.
    block_rows : int or None, default=None
        Rows per block read (CSV and LIBSVM: a byte range of about that many
        lines, at least 4 KiB); each full-batch pass evaluates one block per
        thread at a time. When given, it wins over ``block_bytes``.
    shuffle_rows : int, default=262144
        Rows held for shuffling by :meth:`batches`: Parquet row groups (and
        the byte ranges of an uncompressed LIBSVM file) are read in a random
        order into a buffer of about this many rows, which is shuffled and
        cut into mini-batches.
    n_threads : int or None, default=None
        Threads evaluating blocks concurrently (``None``: every available CPU).
    format : {"parquet", "csv", "libsvm"} or None, default=None
        By default from the name (see :func:`softmax_classifier.io.detect_format`).
    n_features : int or None, default=None
        The number of features expected (a model's, or the training file's for
        a test file). LIBSVM: the blocks are this wide, and a feature index
        above it is an error; by default the largest index in the file.
        Parquet/CSV: a different number of feature columns is an error.
    block_bytes : int or None, default=None
        The memory budget of one block when ``block_rows`` is None: rows of
        ``n_features * itemsize`` bytes each fill it (LIBSVM: rows of this
        many bytes of text). None means :data:`DEFAULT_BLOCK_BYTES` (32 MiB).
    zero_based : {"auto", True, False}, default="auto"
        LIBSVM: whether feature indices start at 0; ``"auto"``: one-based
        unless the index 0 occurs in the file, decided by the first pass (as
        :func:`softmax_classifier.io.read_data` does).
    header : bool, default=True
        CSV: whether the first line names the columns; without one they are
        named ``"1"``, ``"2"``, ... (counted from 1, like ``cut -f``).
    drop : sequence of str, default=()
        Parquet/CSV: columns left out of the default features.

    Attributes
    ----------
    n_samples, n_features : int
    feature_names : list of str or softmax_classifier.io.IndexNames
        The feature columns; for LIBSVM files, their indices as written
        (``"1"``, ... or, zero-based, ``"0"``, ...), as for
        :func:`softmax_classifier.io.read_data`.
    zero_based : bool or str
        LIBSVM: whether the file's indices start at 0 (decided by the first
        pass when ``"auto"`` was asked).
    classes : ndarray of shape (n_classes,)
        The sorted distinct labels.
    class_totals : ndarray of shape (n_classes,)
        Sum of sample weights (row counts when unweighted) per class, float64.
    class_counts : ndarray of shape (n_classes,)
        Rows per class, float64.
    shape : tuple
        ``(n_samples, n_features)``.
    total_weight : float
        Sum of the weights the objective sees (class weights included).
    dtype : numpy.dtype
    is_sparse : bool
        True for LIBSVM files, whose blocks are CSR matrices (standardisation
        then scales and never centres); False otherwise (dense blocks).

    Raises
    ------
    softmax_classifier.io.DataFileError
        For a file that cannot be used: unreadable, missing or non-numeric
        columns, no rows, missing/NaN/infinite values, negative weights,
        a LIBSVM feature index 0 in a file said to be one-based, an index
        above ``n_features`` or :data:`softmax_classifier.io.MAX_LIBSVM_FEATURES`,
        a target or weight column asked of a LIBSVM file.

    Notes
    -----
    CSV files are read as byte ranges of whole lines, like LIBSVM files: the
    first pass records the ranges, later passes read the same ones (so block
    sums are the same on every pass) and epochs of :meth:`batches` take them
    in a random order. A value cannot hold a newline (as in pyarrow's
    default). Feature and weight columns are parsed as float64; the target's
    type is inferred from the first MiB of rows (a label column that turns
    from numbers to text later on is reported when it is reached).

    LIBSVM files are parsed by :func:`sklearn.datasets.load_svmlight_file`, a
    byte range at a time (``offset``, ``length``): the first pass records the
    ranges (whole lines), later passes read the same ones, so block sums are
    the same on every pass. A compressed file (``.gz``, ``.bz2``) cannot be
    entered at a byte offset without decompressing everything before it, so
    it is decompressed from the start on every pass, and :meth:`batches`
    takes its blocks in file order (shuffling rows within the buffer), as for
    CSV: decompress a large file before many passes over it.

    Examples
    --------
    >>> import os, shutil, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> path = os.path.join(folder, "rows.svm")
    >>> with open(path, "w") as f:
    ...     _ = f.write("1 1:0.5 3:1\\n2 2:1.5\\n1 1:-1\\n")
    >>> source = StreamingData(path)
    >>> source.shape, source.classes, source.is_sparse
    ((3, 3), array([1, 2]), True)
    >>> X_block, y_block, weights = next(source.blocks())
    >>> X_block.toarray()
    array([[ 0.5,  0. ,  1. ],
           [ 0. ,  1.5,  0. ],
           [-1. ,  0. ,  0. ]])
    >>> y_block
    array([0, 1, 0])
    >>> shutil.rmtree(folder)
    """

    def __init__(
        self,
        path,
        target=None,
        features=None,
        *,
        weight_column=None,
        dtype=np.float64,
        block_rows=None,
        shuffle_rows=262144,
        n_threads=None,
        format=None,
        n_features=None,
        block_bytes=None,
        zero_based="auto",
        header=True,
        drop=(),
    ):
        self.path = os.fspath(path)
        self.format = detect_format(self.path) if format is None else str(format).lower()
        if self.format not in _STREAMED_FORMATS:
            raise DataFileError(
                f"streaming reads Parquet, CSV and LIBSVM files; {self.path} is {self.format}"
            )
        self.target = target
        self.weight_column = weight_column
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64; got {self.dtype}.")
        self.block_rows = None if block_rows is None else int(block_rows)
        self.block_bytes = DEFAULT_BLOCK_BYTES if block_bytes is None else int(block_bytes)
        self.shuffle_rows = int(shuffle_rows)
        if (self.block_rows is not None and self.block_rows < 1) or self.shuffle_rows < 1:
            raise ValueError("block_rows and shuffle_rows must be positive.")
        if self.block_bytes < 1:
            raise ValueError(f"block_bytes must be positive; got {self.block_bytes}.")
        if n_features is not None:
            n_features = int(n_features)
            if n_features < 1:
                raise ValueError(f"n_features must be at least 1; got {n_features}.")
        self.zero_based = libsvm.check_zero_based(zero_based)
        self.header = bool(header)
        drop = name_list(drop, "drop")
        self.n_threads = available_cpus() if n_threads is None else max(1, int(n_threads))
        self.is_sparse = self.format == "libsvm"
        self._compressed = is_compressed(self.path)
        self._transform = Transform()
        if drop and self.is_sparse:
            raise DataFileError(
                f"drop=... (--drop) selects columns of CSV and Parquet files; {self.path} is libsvm"
            )
        check_not_directory(self.path, self.format)
        try:
            if self.is_sparse:
                libsvm.refuse_columns(self.path, self.target, self.weight_column)
                self._scan_libsvm(n_features, features)
            else:
                self._open(features, n_features, drop)
                self._scan()
        except DataFileError as error:
            raise _in_shared_words(error) from None

    def _rows_per_block(self, n_features):
        """``block_rows`` if given, else the rows whose features fill ``block_bytes``."""
        if self.block_rows is not None:
            return self.block_rows
        return max(1, self.block_bytes // (max(n_features, 1) * self.dtype.itemsize))

    # -- opening and the first pass --------------------------------------------------
    def _open(self, features, n_features, drop):
        if self.format == "csv":
            head = csv_text.open_csv(self.path, self.header)
            self._csv_names, self._header_bytes = head.names, len(head.header_line)
            self._line_bytes = head.line_bytes
            schema, hint, excluded = head.schema, head.text_hint, set()
        else:
            self._dataset = parquet.open_dataset(self.path)
            schema, hint = self._dataset.schema, None
            excluded = parquet.index_columns(schema)
        if self.weight_column is not None:
            if self.weight_column not in schema.names:
                raise DataFileError(
                    f"weight column {self.weight_column!r} not found in {self.path}"
                    f"{did_you_mean(self.weight_column, schema.names)}"
                )
            excluded.add(self.weight_column)
        columns, _ = select_columns(
            schema,
            self.path,
            self.target,
            features,
            True,
            excluded,
            hint,
            drop=drop,
            csv_header=self.format == "csv" and self.header,
        )
        self.feature_names = [str(name) for name in columns]
        self.n_features = len(columns)
        if n_features is not None and self.n_features != n_features:
            raise DataFileError(
                f"{self.path} has {self.n_features} feature columns but "
                f"n_features={n_features} were expected"
            )
        self._columns = (
            columns + [self.target] + [self.weight_column] * (self.weight_column is not None)
        )
        self._rows = self._rows_per_block(self.n_features)
        if self.format == "csv":
            self._csv_types = csv_text.block_types(schema, columns, self.target, self.weight_column)
            text = self._rows * self._line_bytes
            if self.block_rows is None:  # the budget bounds the text too (long unused columns)
                text = min(text, self.block_bytes)
            self._block_text = max(_MIN_BLOCK_BYTES, int(text))

    def _scan(self):
        """Count rows, find the classes and their weights, check every value."""
        n_samples, labels = 0, []
        if self.format == "csv":
            self._ranges = []  # (start, end) byte offsets of the ranges holding rows
        for table, rows in self._tables(record=True):
            self._arrays(table, rows)  # raises on a bad value
            y = column_labels(table.column(self.target), self.target, rows, self.path)
            weights = self._weights(table, rows)
            labels.append((y, weights, None))
            n_samples += table.num_rows
            # Keep only distinct labels with their weight totals, not all rows.
            labels = [totals_by_label(labels)]
        if n_samples == 0:
            raise DataFileError(f"no data rows in {self.path}")
        self.n_samples = n_samples
        self.classes, self.class_totals, self.class_counts = labels[0]
        self.total_weight = float(self.class_totals.sum())
        if not self.total_weight > 0:
            raise DataFileError(f"the weights in {self.path} sum to zero")

    @property
    def shape(self):
        return (self.n_samples, self.n_features)

    @property
    def target_name(self):
        """str or None: the label column (None for LIBSVM files, whose lines lead with it)."""
        return None if self.target is None else str(self.target)

    # -- the data-source interface -------------------------------------------------
    def blocks(self):
        """Yield record batches as ``(X_block, y_block, weight_block)``, in file order.

        Yields
        ------
        X_block : ndarray or CSR matrix of shape (rows, n_features)
            In :attr:`dtype`; CSR for LIBSVM files.
        y_block : ndarray of shape (rows,)
            Class indices into :attr:`classes`.
        weight_block : ndarray of shape (rows,) or None
        """
        if self.is_sparse:
            for X, labels in self._libsvm_blocks():
                yield self._transform.apply(X, np.searchsorted(self.classes, labels), None)
            return
        for table, rows in self._tables():
            yield self._block(table, rows)

    def labelled_blocks(self):
        """Yield ``(X_block, labels_block)`` as in the file: no transform, original labels.

        For scoring a fitted model block by block.

        Yields
        ------
        X_block : ndarray or CSR matrix of shape (rows, n_features)
        labels_block : ndarray of shape (rows,)
        """
        if self.is_sparse:
            yield from self._libsvm_blocks()
            return
        for table, rows in self._tables():
            labels = column_labels(table.column(self.target), self.target, rows, self.path)
            yield self._arrays(table, rows), labels

    def reduce(self, block_fn, *args):
        """Sum ``block_fn(X_block, y_block, weight_block, *args)`` over one pass of the file.

        Results are added in file order whatever the number of threads.

        Returns
        -------
        tuple
        """
        return add_in_order(map_in_order(block_fn, self.blocks(), args, self.n_threads))

    def batches(self, batch_size, rng):
        """One epoch of shuffled mini-batches covering every row once.

        Parquet row groups (the byte ranges of an uncompressed CSV or LIBSVM
        file) are read in an order drawn from ``rng`` into a buffer of about
        ``shuffle_rows`` rows; the buffer is shuffled and cut into batches of
        ``batch_size`` rows (rows left over join the next buffer). Compressed
        CSV and LIBSVM files are read in file order and shuffled within the
        buffer.

        Parameters
        ----------
        batch_size : int
        rng : numpy.random.Generator

        Yields
        ------
        X_batch : ndarray or CSR matrix of shape (rows, n_features)
        y_batch : ndarray of shape (rows,)
        weight_batch : ndarray of shape (rows,) or None
        """
        yield from shuffled_batches(self._shuffled_parts(rng), batch_size, rng, self.shuffle_rows)

    # -- reading ------------------------------------------------------------------------
    def _tables(self, record=False):
        """Record batches as tables with a row locator for messages, in file order.

        Parquet files are read ``self._rows`` rows at a time, CSV files a byte
        range of whole lines at a time, so that only the current batch is held
        (pyarrow's dataset scanner and its streaming CSV reader were measured
        to read far ahead of a slow consumer: up to ~34 blocks).

        ``record`` (CSV, first pass): note the byte range of each block.
        """
        if self.format == "csv":
            yield from self._csv_tables(record=record)
            return
        locate = Rows(self.path, self._parts() if os.path.isdir(self.path) else None)
        start = 0
        for path in self._dataset.files:
            for table in parquet.iter_batches(path, self._rows, self._columns):
                if table.num_rows == 0:
                    continue
                yield table, locate.shifted(start)
                start += table.num_rows

    def _parts(self):
        if not hasattr(self, "_parts_cache"):
            self._parts_cache = parquet.file_rows(self._dataset.files)
        return self._parts_cache

    def _shuffled_parts(self, rng):
        """Blocks of rows in a random order of Parquet row groups or text byte ranges.

        Compressed CSV and LIBSVM files: file order.
        """
        if self._compressed:
            yield from self.blocks()
            return
        order = rng.permutation(len(self._ranges)) if self.format != "parquet" else None
        if self.is_sparse:
            for X, labels in self._libsvm_blocks(order):
                yield self._transform.apply(X, np.searchsorted(self.classes, labels), None)
            return
        if self.format == "csv":
            for table, rows in self._csv_tables(order):
                yield self._block(table, rows)
            return
        groups = parquet.row_groups(self._dataset.files)
        for k in rng.permutation(len(groups)):
            path, group = groups[k]
            for table in parquet.iter_batches(path, self._rows, self._columns, [group]):
                yield self._block(table, Rows(path))

    # -- CSV ----------------------------------------------------------------------------
    def _csv_tables(self, order=None, record=False):
        """``(table, rows)`` per byte range of whole lines, in file order or in ``order``."""
        locate = Rows(self.path)
        names = self._csv_names
        if self._compressed or record:
            start_row = 0
            for start, chunk in text_chunks(self.path, self._block_text, self._header_bytes):
                with reading(self.path):
                    table = csv_text.parse_block(chunk, names, self._columns, self._csv_types)
                if table.num_rows == 0:  # blank lines only
                    continue
                if record:
                    self._ranges.append((start, start + len(chunk), start_row))
                yield table, locate.shifted(start_row)
                start_row += table.num_rows
            return
        order = range(len(self._ranges)) if order is None else order
        for k, chunk in read_ranges(self.path, self._ranges, order):
            with reading(self.path):
                table = csv_text.parse_block(chunk, names, self._columns, self._csv_types)
            del chunk  # the text is not needed once parsed
            yield table, locate.shifted(self._ranges[k][2])

    def _block(self, table, rows):
        X = self._arrays(table, rows)
        y = column_labels(table.column(self.target), self.target, rows, self.path)
        y = np.searchsorted(self.classes, y)
        return self._transform.apply(X, y, self._weights(table, rows))

    def _arrays(self, table, rows):
        return feature_matrix(table, self._columns[: self.n_features], self.dtype, rows)

    def _weights(self, table, rows):
        if self.weight_column is None:
            return None
        try:
            (weights,) = feature_matrix(table, [self.weight_column], np.float64, rows).T
        except DataFileError as error:  # a missing, NaN or infinite weight
            raise DataFileError(str(error), row=error.row, problem="weight") from None
        negative = np.flatnonzero(weights < 0)
        if negative.size:
            i = int(negative[0])
            raise DataFileError(
                f"negative weight in column {self.weight_column!r} at {rows(i)}",
                row=rows.index(i),
                problem="weight",
            )
        return weights

    # -- LIBSVM -------------------------------------------------------------------------
    def _scan_libsvm(self, n_features, features):
        """Split the file into byte ranges, count rows, find classes, width and index base.

        Every range is parsed with its indices as written; whether they start
        at 0 or 1 (``zero_based="auto"``: one-based unless a 0 occurs) is
        decided once the whole file has been seen, and later passes parse
        with that decision (see :class:`softmax_classifier.io.libsvm.Scan`).
        """
        self._line_bytes = sample_line_bytes(self.path)
        self._block_text = max(_MIN_BLOCK_BYTES, int(self._rows_for_text() * self._line_bytes))
        scan = libsvm.Scan(self.path, self._block_text, self.zero_based, self.dtype)
        labels = []
        for y in scan:
            labels = [totals_by_label([*labels, (y, None, None)])]
        self._ranges = scan.ranges  # (start, end) byte offsets of the ranges holding rows
        self.zero_based, self._width, names, self._select = scan.columns(n_features, features)
        self.feature_names = names
        self.n_samples = scan.n_samples
        self.n_features = len(names)
        self._integral = scan.integral
        classes, self.class_totals, self.class_counts = labels[0]
        self.classes = classes.astype(np.int64) if self._integral else classes
        self.total_weight = float(self.class_totals.sum())

    def _rows_for_text(self):
        """Rows per LIBSVM block: ``block_rows``, or a budget of ``block_bytes``.

        The width is not known before the first pass; a sparse row holds
        about one stored value (8 bytes, plus a 4-byte index) per 10 bytes of
        text, so the budget is counted in text: rows of ``block_bytes`` of text.
        """
        if self.block_rows is not None:
            return self.block_rows
        return max(1, int(self.block_bytes / max(self._line_bytes, 1)))

    def _libsvm_blocks(self, order=None):
        """``(X, labels)`` per byte range, in file order or in ``order`` (uncompressed files).

        ``X`` is a CSR matrix of shape (rows, n_features) in :attr:`dtype`,
        ``labels`` the labels as read (int64 or float64).
        """
        if self._compressed:
            parts = libsvm.read_chunks(
                self.path, self._block_text, self._width, self.dtype, self.zero_based
            )
        else:
            order = range(len(self._ranges)) if order is None else order
            parts = libsvm.read_ranges(
                self.path, self._ranges, order, self._width, self.dtype, self.zero_based
            )
        for X, y in parts:
            X = X if self._select is None else X[:, self._select]
            yield X, (y.astype(np.int64) if self._integral else y)


def _in_shared_words(error):
    """A bad value, label or weight said as every source says it, then in the file's words.

    ``"X has a missing, NaN or infinite feature value in row 7 (NaN or missing
    value in column 'f2' at row 8 of rows.csv)."``: the sentence of
    :mod:`softmax_classifier.data._checks` (rows counted from 0, as for arrays
    and Dask), then where the file has it. Other errors are returned unchanged.
    """
    if error.problem is None or error.row is None:
        return error
    problem = {"value": BAD_VALUE, "label": BAD_LABEL, "weight": BAD_WEIGHT}[error.problem]
    message = problem_message(problem, error.row, [str(error)])
    return DataFileError(message, row=error.row, problem=error.problem)
