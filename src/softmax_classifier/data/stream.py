"""Streaming data source: rows read batch by batch from Parquet, CSV or LIBSVM files.

Nothing here holds more than a few record batches of the file at once, so a
file larger than memory can be fitted: full-batch solvers make one pass over
the file per evaluation, mini-batch solvers walk it in a shuffled order.
"""

from __future__ import annotations

import bz2
import gzip
import io
import os

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.dataset as pa_ds
import pyarrow.parquet as pq
import scipy.sparse as sp

from softmax_classifier import files
from softmax_classifier.data._parallel import add_in_order, available_cpus, map_in_order
from softmax_classifier.data._transform import Transform, Transformable

__all__ = ["StreamingData"]

_STREAMED_FORMATS = ("parquet", "csv", "libsvm")
# LIBSVM blocks are byte ranges of about ``block_rows`` lines, never smaller than this.
_MIN_BLOCK_BYTES = 2**12


class StreamingData(Transformable):
    """Rows of a Parquet, CSV or LIBSVM file (or a directory of Parquet files), read in batches.

    Opening the source makes one pass over the file: it checks the columns,
    counts the rows, finds the classes and checks every value (the first
    missing, NaN or infinite value is reported with its column and row), so
    that a bad file fails before any fitting starts.

    Pass it to :meth:`SoftmaxClassifier.fit` in place of ``X`` (and no
    ``y``). Memory is bounded by ``block_rows`` (full-batch passes) and
    ``shuffle_rows`` (mini-batch epochs), not by the size of the file.

    Parameters
    ----------
    path : str or os.PathLike
        A Parquet file, a directory of Parquet files (read in the order of
        their names), a CSV file (``.csv``, ``.csv.gz``, ``.csv.bz2``) or a
        LIBSVM/svmlight file (``.svm``, ``.libsvm``, ... also ``.gz``/``.bz2``;
        see :func:`softmax_classifier.files.detect_format`).
    target : str or None, default=None
        Parquet/CSV: the label column (required); labels keep their type
        (strings, ints, ...). LIBSVM: must be None, the label leads each line
        (int64 when every label is a whole number, float64 otherwise).
    features : list of str or None, default=None
        Parquet/CSV: the feature columns, in this order; by default every
        column but the target and the weight column. LIBSVM: must be None.
    weight_column : str or None, default=None
        Parquet/CSV: a column of non-negative sample weights. LIBSVM: must be
        None (rows have weight 1).
    dtype : {numpy.float64, numpy.float32}, default=numpy.float64
        dtype of the feature blocks.
    block_rows : int, default=65536
        Rows per record batch read (CSV: about that many; LIBSVM: a byte range
        of about that many lines, at least 4 KiB); each full-batch pass
        evaluates one batch per thread at a time.
    shuffle_rows : int, default=262144
        Rows held for shuffling by :meth:`batches`: Parquet row groups (and
        the byte ranges of an uncompressed LIBSVM file) are read in a random
        order into a buffer of about this many rows, which is shuffled and
        cut into mini-batches.
    n_threads : int or None, default=None
        Threads evaluating blocks concurrently (``None``: every available CPU).
    format : {"parquet", "csv", "libsvm"} or None, default=None
        By default from the name (see :func:`softmax_classifier.files.detect_format`).
    n_features : int or None, default=None
        The number of features expected (a model's, or the training file's for
        a test file). LIBSVM: the blocks are this wide, and a feature index
        above it is an error; by default the largest index in the file.
        Parquet/CSV: a different number of feature columns is an error.

    Attributes
    ----------
    n_samples, n_features : int
    feature_names : list of str or None
        The feature columns; None for LIBSVM files (their features have
        numbers, not names, as for :func:`softmax_classifier.files.read_data`).
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
    softmax_classifier.files.DataFileError
        For a file that cannot be used: unreadable, missing or non-numeric
        columns, no rows, missing/NaN/infinite values, negative weights,
        a LIBSVM feature index 0 or above ``n_features``, a target, features
        or weight column asked of a LIBSVM file.

    Notes
    -----
    CSV column types are inferred from the first block of the file; a column
    that turns from numbers to text later on is reported when it is reached.

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
        block_rows=65536,
        shuffle_rows=262144,
        n_threads=None,
        format=None,
        n_features=None,
    ):
        self.path = os.fspath(path)
        self.format = files.detect_format(self.path) if format is None else str(format).lower()
        if self.format not in _STREAMED_FORMATS:
            raise files.DataFileError(
                f"streaming reads Parquet, CSV and LIBSVM files; {self.path} is {self.format}"
            )
        self.target = target
        self.weight_column = weight_column
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64; got {self.dtype}.")
        self.block_rows = int(block_rows)
        self.shuffle_rows = int(shuffle_rows)
        if self.block_rows < 1 or self.shuffle_rows < 1:
            raise ValueError("block_rows and shuffle_rows must be positive.")
        if n_features is not None:
            n_features = int(n_features)
            if n_features < 1:
                raise ValueError(f"n_features must be at least 1; got {n_features}.")
        self.n_threads = available_cpus() if n_threads is None else max(1, int(n_threads))
        self.is_sparse = self.format == "libsvm"
        self._transform = Transform()
        if self.is_sparse:
            self._open_libsvm(features)
            self._scan_libsvm(n_features)
        else:
            self._open(features, n_features)
            self._scan()

    # -- opening and the first pass --------------------------------------------------
    def _open(self, features, n_features):
        with files._reading(self.path):
            if self.format == "csv":
                self._dataset = pa_ds.dataset(self.path, format="csv")
            else:
                self._dataset = pa_ds.dataset(self.path, format="parquet")
        if not self._dataset.files:
            raise files.DataFileError(f"no {self.format} files in directory {self.path}")
        schema = self._dataset.schema
        metadata = schema.pandas_metadata or {}
        excluded = {c for c in metadata.get("index_columns", []) if isinstance(c, str)}
        if self.weight_column is not None:
            if self.weight_column not in schema.names:
                raise files.DataFileError(
                    f"weight column {self.weight_column!r} not found in {self.path}"
                )
            excluded.add(self.weight_column)
        columns, _ = files._select_columns(
            schema, self.path, self.target, features, True, excluded, None
        )
        self.feature_names = [str(name) for name in columns]
        self.n_features = len(columns)
        if n_features is not None and self.n_features != n_features:
            raise files.DataFileError(
                f"{self.path} has {self.n_features} feature columns but "
                f"n_features={n_features} were expected"
            )
        self._columns = (
            columns + [self.target] + [self.weight_column] * (self.weight_column is not None)
        )

    def _scan(self):
        """Count rows, find the classes and their weights, check every value."""
        n_samples, labels = 0, []
        for table, rows in self._tables():
            self._arrays(table, rows)  # raises on a bad value
            y = files._labels(table.column(self.target), self.target, rows, self.path)
            weights = self._weights(table, rows)
            labels.append((y, weights, None))
            n_samples += table.num_rows
            # Keep only distinct labels with their weight totals, not all rows.
            labels = [_totals_by_label(labels)]
        if n_samples == 0:
            raise files.DataFileError(f"no data rows in {self.path}")
        self.n_samples = n_samples
        self.classes, self.class_totals, self.class_counts = labels[0]
        self.total_weight = float(self.class_totals.sum())
        if not self.total_weight > 0:
            raise files.DataFileError(f"the weights in {self.path} sum to zero")

    @property
    def shape(self):
        return (self.n_samples, self.n_features)

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
            labels = files._labels(table.column(self.target), self.target, rows, self.path)
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

        Parquet row groups (the byte ranges of an uncompressed LIBSVM file)
        are read in an order drawn from ``rng`` into a buffer of about
        ``shuffle_rows`` rows; the buffer is shuffled and cut into batches of
        ``batch_size`` rows (rows left over join the next buffer). CSV and
        compressed LIBSVM files are read in file order and shuffled within the
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
        pending, n_pending = [], 0
        for part in self._shuffled_parts(rng):
            pending.append(part)
            n_pending += len(part[1])
            if n_pending < self.shuffle_rows:
                continue
            X, y, w = _concatenate(pending)
            order = rng.permutation(len(y))
            n_full = (len(y) // batch_size) * batch_size
            for start in range(0, n_full, batch_size):
                rows = np.sort(order[start : start + batch_size])
                yield X[rows], y[rows], None if w is None else w[rows]
            rest = order[n_full:]
            pending = [(X[rest], y[rest], None if w is None else w[rest])]
            n_pending = len(rest)
        if n_pending:
            X, y, w = _concatenate(pending)
            order = rng.permutation(len(y))
            for start in range(0, len(y), batch_size):
                rows = np.sort(order[start : start + batch_size])
                yield X[rows], y[rows], None if w is None else w[rows]

    # -- reading ------------------------------------------------------------------------
    def _tables(self):
        """Record batches as tables with a row locator for messages, in file order.

        Parquet files are read row group by row group and CSV files block by
        block, so that only the current batch is held (pyarrow's dataset
        scanner was measured to buffer far ahead of a slow consumer).
        """
        locate = files._Rows(self.path, self._parts() if os.path.isdir(self.path) else None)
        start = 0
        for path in self._dataset.files:
            with files._reading(path):
                for batch in self._file_batches(path):
                    if batch.num_rows == 0:
                        continue
                    table = pa.Table.from_batches([batch])
                    yield table, _Offset(locate, start)
                    start += batch.num_rows

    def _file_batches(self, path):
        if self.format == "parquet":
            # pre_buffer=True (the default) keeps every row group read so far.
            return pq.ParquetFile(path, pre_buffer=False).iter_batches(
                batch_size=self.block_rows, columns=self._columns, use_threads=False
            )
        # CSV blocks are measured in bytes: about block_rows rows of short numbers.
        block_bytes = max(2**20, 16 * self.block_rows * len(self._columns))
        return pa_csv.open_csv(
            path,
            read_options=pa_csv.ReadOptions(block_size=block_bytes, use_threads=False),
            convert_options=pa_csv.ConvertOptions(
                include_columns=self._columns, strings_can_be_null=True
            ),
        )

    def _parts(self):
        if not hasattr(self, "_parts_cache"):
            self._parts_cache = [
                (path, pq.ParquetFile(path).metadata.num_rows) for path in self._dataset.files
            ]
        return self._parts_cache

    def _shuffled_parts(self, rng):
        """Blocks of rows in a random order of Parquet row groups or LIBSVM byte ranges.

        CSV and compressed LIBSVM files: file order.
        """
        if self.format == "csv" or (self.is_sparse and self._compressed):
            yield from self.blocks()
            return
        if self.is_sparse:
            for X, labels in self._libsvm_blocks(rng.permutation(len(self._ranges))):
                yield self._transform.apply(X, np.searchsorted(self.classes, labels), None)
            return
        groups = []
        for path in self._dataset.files:
            n_groups = pq.ParquetFile(path).metadata.num_row_groups
            groups.extend((path, g) for g in range(n_groups))
        for k in rng.permutation(len(groups)):
            path, group = groups[k]
            with files._reading(path):
                parquet = pq.ParquetFile(path, pre_buffer=False)
                table = parquet.read_row_group(group, columns=self._columns, use_threads=False)
            yield self._block(table, _Offset(files._Rows(path), 0))

    def _block(self, table, rows):
        X = self._arrays(table, rows)
        y = files._labels(table.column(self.target), self.target, rows, self.path)
        y = np.searchsorted(self.classes, y)
        return self._transform.apply(X, y, self._weights(table, rows))

    def _arrays(self, table, rows):
        return files._feature_matrix(table, self._columns[: self.n_features], self.dtype, rows)

    def _weights(self, table, rows):
        if self.weight_column is None:
            return None
        (weights,) = files._feature_matrix(table, [self.weight_column], np.float64, rows).T
        negative = np.flatnonzero(weights < 0)
        if negative.size:
            raise files.DataFileError(
                f"negative weight in column {self.weight_column!r} at {rows(int(negative[0]))}"
            )
        return weights

    # -- LIBSVM -------------------------------------------------------------------------
    def _open_libsvm(self, features):
        """Refuse what a LIBSVM file cannot give: named columns."""
        asked = [
            (self.target, f"target={self.target!r}", "its label leads each line"),
            (features, "features=...", "its features have numbers, not names"),
            (self.weight_column, f"weight_column={self.weight_column!r}", "it has no weights"),
        ]
        for value, argument, reason in asked:
            if value is not None:
                raise files.DataFileError(
                    f"{argument} cannot select columns of the LIBSVM file {self.path}: "
                    f"{reason} (pass {argument.split('=')[0]}=None)"
                )
        self.feature_names = None
        self._compressed = self.path.lower().endswith((".gz", ".bz2"))

    def _scan_libsvm(self, n_features):
        """Split the file into byte ranges, count rows, find classes and width, check values."""
        self._block_bytes = self._libsvm_block_bytes()
        self._ranges = []  # (start, end) byte offsets of the ranges holding rows
        n_samples, labels, width, integral = 0, [], 1, True
        for start, chunk in self._libsvm_chunks():
            X, y = self._parse_libsvm(io.BytesIO(chunk), None, np.float64)
            if X.shape[0] == 0:  # only blank or comment lines
                continue
            files._check_libsvm_rows(X, y, self.path, first_row=n_samples)
            files._as_dtype(X, self.dtype, self.path, first_row=n_samples)  # float32 range
            width = max(width, X.shape[1])
            if n_features is not None and width > n_features:
                raise files.DataFileError(
                    f"{self.path} uses feature index {width} but n_features={n_features}"
                )
            integral = integral and files._integral_labels(y)
            labels = [_totals_by_label([*labels, (y, None, None)])]
            self._ranges.append((start, start + len(chunk)))
            n_samples += X.shape[0]
        if n_samples == 0:
            raise files.DataFileError(f"no data rows in {self.path}")
        self.n_samples = n_samples
        self.n_features = width if n_features is None else n_features
        self._integral = integral
        classes, self.class_totals, self.class_counts = labels[0]
        self.classes = classes.astype(np.int64) if integral else classes
        self.total_weight = float(self.class_totals.sum())

    def _libsvm_block_bytes(self):
        """Bytes of about ``block_rows`` lines, from the mean line length of the first MiB."""
        with files._reading(self.path), self._open_binary() as f:
            head = f.read(2**20)
        lines = head.count(b"\n") + (not head.endswith(b"\n"))
        return max(_MIN_BLOCK_BYTES, int(self.block_rows * len(head) / max(lines, 1)))

    def _open_binary(self):
        """The file opened for reading bytes, decompressed on the fly (``.gz``, ``.bz2``)."""
        if self.path.lower().endswith(".gz"):
            return gzip.open(self.path, "rb")
        if self.path.lower().endswith(".bz2"):
            return bz2.open(self.path, "rb")
        return open(self.path, "rb")

    def _libsvm_chunks(self):
        """``(start, chunk)``: the file cut into whole lines of about ``_block_bytes`` each.

        ``start`` is the chunk's byte offset in the (decompressed) file.
        """
        with files._reading(self.path), self._open_binary() as f:
            start = 0
            while chunk := f.read(self._block_bytes):
                if not chunk.endswith(b"\n"):
                    chunk += f.readline()
                yield start, chunk
                start += len(chunk)

    def _libsvm_blocks(self, order=None):
        """``(X, labels)`` per byte range, in file order or in ``order`` (uncompressed files).

        ``X`` is a CSR matrix of shape (rows, n_features) in :attr:`dtype`,
        ``labels`` the labels as read (int64 or float64).
        """
        if self._compressed:
            for _, chunk in self._libsvm_chunks():
                X, y = self._parse_libsvm(io.BytesIO(chunk), self.n_features, self.dtype)
                if X.shape[0]:
                    yield X, self._libsvm_labels(y)
            return
        order = range(len(self._ranges)) if order is None else order
        with files._reading(self.path), open(self.path, "rb") as f:
            for k in order:
                start, end = self._ranges[k]
                # load_svmlight_file skips the rest of the line at ``offset`` (> 0) and
                # reads the lines starting up to ``offset + length``: [start, end) here.
                offset = start - 1 if start else 0
                f.seek(0)  # it seeks only for an offset > 0
                X, y = self._parse_libsvm(
                    f, self.n_features, self.dtype, offset=offset, length=end - 1 - offset
                )
                yield X, self._libsvm_labels(y)

    def _parse_libsvm(self, stream, n_features, dtype, offset=0, length=-1):
        """CSR rows and float64 labels of ``stream`` (a file or bytes) from ``offset``."""
        from sklearn.datasets import load_svmlight_file

        with files._reading_libsvm(self.path):
            X, y = load_svmlight_file(
                stream,
                n_features=n_features,
                dtype=dtype,
                zero_based=False,
                offset=offset,
                length=length,
            )
        return sp.csr_matrix(X), y

    def _libsvm_labels(self, y):
        """Labels as :func:`softmax_classifier.files.read_data` gives them (int64 if whole)."""
        return y.astype(np.int64) if self._integral else y


class _Offset:
    """A row locator for one batch: row ``i`` of the batch is row ``start + i`` of the data."""

    def __init__(self, rows, start):
        self.rows, self.start, self.path = rows, start, rows.path

    def __call__(self, i):
        return self.rows(self.start + i)


def _totals_by_label(parts):
    """Distinct labels with their weight totals and row counts.

    ``parts`` holds ``(labels, weights, counts)``: rows of a batch (weights
    None when unweighted, counts None for one row each) or earlier totals.
    """
    labels = np.concatenate([y for y, _, _ in parts])
    weights = np.concatenate([np.ones(len(y)) if w is None else w for y, w, _ in parts])
    counts = np.concatenate([np.ones(len(y)) if c is None else c for y, _, c in parts])
    classes, index = np.unique(labels, return_inverse=True)
    return (
        classes,
        np.bincount(index, weights=weights, minlength=len(classes)),
        np.bincount(index, weights=counts, minlength=len(classes)),
    )


def _concatenate(parts):
    blocks = [p[0] for p in parts]
    X = sp.vstack(blocks, format="csr") if sp.issparse(blocks[0]) else np.concatenate(blocks)
    y = np.concatenate([p[1] for p in parts])
    w = None if parts[0][2] is None else np.concatenate([p[2] for p in parts])
    return X, y, w
