"""In-memory data source: dense or CSR arrays walked in row blocks."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from softmax_classifier.data._parallel import add_in_order, available_cpus, map_in_order

__all__ = ["InMemoryData"]

# Block sizing (see _default_block_rows), in stored entries of X per block. Below
# the minimum, handing a block to a thread costs about as much as the block's
# products; above the maximum, the (block_rows, n_classes) temporaries grow past
# a few MB without making BLAS any faster.
_MIN_BLOCK_ENTRIES = 1 << 18
_MAX_BLOCK_ENTRIES = 1 << 22


class InMemoryData:
    """Rows of ``(X, y, sample_weight)`` held in memory, visited in blocks.

    A data source knows how to walk rows and nothing about the model: the
    objective passes in a block function and the source adds up its results.
    It implements :class:`~softmax_classifier.data.DataSource`; open one from
    labels of any type with :func:`~softmax_classifier.data.as_source`.

    Parameters
    ----------
    X : ndarray or scipy.sparse matrix of shape (n_samples, n_features)
        float32 or float64; sparse input should be CSR (other formats are
        converted once).
    y : ndarray of shape (n_samples,)
        Integer class indices (into ``classes``).
    sample_weight : ndarray of shape (n_samples,) or None, default=None
        Stored in ``X.dtype`` for the blocks (and in float64 for
        :meth:`transformed`, which rescales weights that ``X.dtype`` cannot
        hold). ``None`` means all ones.
    classes : ndarray of shape (n_classes,) or None, default=None
        The labels the indices stand for; by default ``0 .. max(y)``.
    feature_names : sequence of str or None, default=None
    target_name : str or None, default=None
    block_rows : int or None, default=None
        Rows per block for :meth:`reduce`. By default about four blocks per
        thread, each holding between 2**18 and 2**22 stored entries of ``X``
        (sparse blocks at least ``8 * n_features``, so that a block's work
        outweighs its dense ``(n_features, n_classes)`` gradient); small data
        is one block.
    n_threads : int or None, default=None
        Threads that evaluate blocks concurrently in :meth:`reduce` (NumPy and
        BLAS release the GIL); ``None`` uses every CPU this process may run on.
        The result does not depend on it: blocks are always the same and their
        results are added in block order.

    Attributes
    ----------
    n_samples, n_features : int
    dtype : numpy.dtype
        ``X.dtype``.
    is_sparse : bool
        Whether ``X`` is a sparse matrix.
    classes : ndarray of shape (n_classes,)
    class_counts, class_totals : ndarray of shape (n_classes,)
        Rows and sum of weights per class, float64.
    total_weight : float
        ``sum(sample_weight)`` in float64 (``n_samples`` when unweighted).
    weight_scale : float
        1, or the factor :meth:`transformed` divided the weights by.
    """

    def __init__(
        self,
        X,
        y,
        sample_weight=None,
        *,
        classes=None,
        feature_names=None,
        target_name=None,
        block_rows=None,
        n_threads=None,
    ):
        if sp.issparse(X) and X.format != "csr":
            X = X.tocsr()
        self.X = X
        self.y = np.asarray(y)
        # The weights as given (float64, no copy when they are), for transformed().
        self._given = None if sample_weight is None else np.asarray(sample_weight, np.float64)
        with np.errstate(over="ignore", under="ignore"):  # see transformed(): rescaled there
            self.sample_weight = (
                None if sample_weight is None else self._given.astype(X.dtype, copy=False)
            )
        self.n_samples, self.n_features = X.shape
        self.dtype = X.dtype
        self.is_sparse = sp.issparse(X)
        if classes is None:
            classes = np.arange(int(self.y.max()) + 1 if self.y.size else 0)
        self.classes = np.asarray(classes)
        self.feature_names = feature_names
        self.target_name = target_name
        if self.sample_weight is None:
            self.total_weight = float(self.n_samples)
        else:
            with np.errstate(over="ignore"):  # inf: transformed() rescales
                self.total_weight = float(np.sum(self.sample_weight, dtype=np.float64))
        self.weight_scale = 1.0
        self.n_threads = available_cpus() if n_threads is None else max(1, int(n_threads))
        if block_rows is None:
            block_rows = _default_block_rows(X, self.n_threads)
        self.block_rows = max(1, int(block_rows))

    @property
    def shape(self):
        return (self.n_samples, self.n_features)

    @property
    def class_counts(self):
        return np.bincount(self.y, minlength=len(self.classes)).astype(np.float64)

    @property
    def class_totals(self):
        if self._given is None:
            return self.class_counts
        return np.bincount(self.y, weights=self._given, minlength=len(self.classes))

    def blocks(self):
        """Yield consecutive row blocks.

        Yields
        ------
        X_block : ndarray or sparse matrix of shape (block_rows, n_features)
        y_block : ndarray of shape (block_rows,)
        weight_block : ndarray of shape (block_rows,) or None
        """
        for start in range(0, self.n_samples, self.block_rows):
            rows = slice(start, start + self.block_rows)
            weights = None if self.sample_weight is None else self.sample_weight[rows]
            yield _rows(self.X, rows), self.y[rows], weights

    def labelled_blocks(self):
        """Yield ``(X_block, labels_block)``: the rows with their labels from ``classes``.

        Yields
        ------
        X_block : ndarray or sparse matrix of shape (block_rows, n_features)
        labels_block : ndarray of shape (block_rows,)
        """
        for X, y, _ in self.blocks():
            yield X, self.classes[y]

    def reduce(self, block_fn, *args):
        """Sum ``block_fn(X_block, y_block, weight_block, *args)`` over all blocks.

        Parameters
        ----------
        block_fn : callable
            Returns a tuple of numbers and arrays; tuples from successive blocks
            are added element-wise (``None`` entries stay ``None``).
        *args
            Passed to every call after the block.

        Returns
        -------
        tuple
            The element-wise sum, added in block order whatever the number of
            threads, so that results are reproducible.
        """
        n_threads = 1 if self.block_rows >= self.n_samples else self.n_threads
        return add_in_order(map_in_order(block_fn, self.blocks(), args, n_threads))

    def batches(self, batch_size, rng):
        """Yield shuffled mini-batches covering every row once (one epoch).

        The epoch is split into ``ceil(n_samples / batch_size)`` batches whose
        sizes differ by at most one, so no batch is a small noisy remainder
        (and with ``batch_size >= n_samples`` the one batch is all the data).

        Parameters
        ----------
        batch_size : int
            Largest number of rows in a batch.
        rng : numpy.random.Generator
            Draws the permutation; the same generator state gives the same
            batches.

        Yields
        ------
        X_batch, y_batch, weight_batch
            As in :meth:`blocks`; rows within a batch are in their original
            order (better memory locality, same sum).
        """
        order = rng.permutation(self.n_samples)
        n_batches = -(-self.n_samples // batch_size)
        for rows in np.array_split(order, n_batches):
            rows = np.sort(rows)
            weights = None if self.sample_weight is None else self.sample_weight[rows]
            yield self.X[rows], self.y[rows], weights

    def transformed(self, *, mean=None, scale=None, class_weight=None):
        """These rows standardised and weighted by class, as a new in-memory source.

        Unlike sources read block by block, the transform is done once here:
        ``X`` is copied as ``(X - mean) / scale`` (sparse: scaled only), and
        the weights ``sample_weight * class_weight[y]`` are divided by their
        largest value (``weight_scale``), so that neither 1e300 in float32 nor
        1e-300 turns into inf or 0 (the objective's weighted mean does not
        depend on a common factor).

        Parameters
        ----------
        mean, scale : ndarray of shape (n_features,) or None
        class_weight : ndarray of shape (n_classes,) or None

        Returns
        -------
        InMemoryData
            Call it on the source as opened: a view's rows are already
            transformed.
        """
        X = self.X
        if mean is not None and self.is_sparse:
            raise ValueError("sparse rows cannot be centred: pass mean=None")
        if scale is not None and self.is_sparse:
            X = X.multiply((1.0 / scale).astype(X.dtype)).tocsr()
        elif scale is not None or mean is not None:
            X = X.copy() if mean is None else X - mean.astype(X.dtype)
            if scale is not None:
                X /= scale.astype(X.dtype)
        weights = self._given
        if class_weight is not None:
            class_weights = np.asarray(class_weight, dtype=np.float64)[self.y]
            weights = class_weights if weights is None else weights * class_weights
        largest = 1.0
        if weights is not None:
            largest = float(weights.max()) if weights.size else 0.0
            if not largest > 0:
                raise ValueError(
                    "The sample weights sum to zero: at least one row needs weight > 0."
                )
            weights = weights / largest
        view = InMemoryData(
            X,
            self.y,
            weights,
            classes=self.classes,
            feature_names=self.feature_names,
            target_name=self.target_name,
            n_threads=self.n_threads,
        )
        view.weight_scale = largest
        return view


def _default_block_rows(X, n_threads):
    """Rows per block: about four blocks per thread, within the entry bounds above.

    A sparse block's gradient is a dense ``(n_features, n_classes)`` array that
    is allocated and added once per block, so a sparse block should also hold
    at least ``8 * n_features`` stored entries (wide tf-idf data once got
    64-row blocks and a 15x slower pass). Small data is one block.
    """
    n_samples, n_features = X.shape
    if sp.issparse(X):
        entries_per_row = max(X.nnz / max(n_samples, 1), 1.0)
        min_entries = max(_MIN_BLOCK_ENTRIES, 8 * n_features)
    else:
        entries_per_row = max(n_features, 1)
        min_entries = _MIN_BLOCK_ENTRIES
    entries = n_samples * entries_per_row
    most_blocks = max(1, int(entries // min_entries))
    fewest_blocks = int(np.ceil(entries / _MAX_BLOCK_ENTRIES))
    n_blocks = min(max(4 * n_threads, fewest_blocks), most_blocks)
    if n_blocks > n_threads:  # whole rounds of blocks keep every thread busy to the end
        n_blocks = min(-(-n_blocks // n_threads) * n_threads, max(most_blocks, n_threads))
    return max(1, -(-n_samples // max(n_blocks, 1)))


def _rows(X, rows):
    """Rows ``start:stop`` of X without copying X's data (for CSR too, unlike ``X[rows]``)."""
    if not sp.issparse(X):
        return X[rows]
    start, stop, _ = rows.indices(X.shape[0])
    first, last = X.indptr[start], X.indptr[stop]
    return sp.csr_matrix(
        (X.data[first:last], X.indices[first:last], X.indptr[start : stop + 1] - first),
        shape=(stop - start, X.shape[1]),
        copy=False,
    )
