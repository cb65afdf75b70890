"""Dask data source: rows that live on a Dask cluster, summed where they live.

The rows of a ``dask.array`` or ``dask.dataframe`` are computed once and kept
on the workers, block by block. Every evaluation of the objective sends the
parameters to the workers, runs the block function on each block there and
adds the results up on the workers in a fixed tree, so that only parameters
and one sum per evaluation cross the network and the sum is the same whatever
the scheduling. The solver and its state stay in the client process.

Faults: when a worker dies, Dask recomputes the blocks it held from their
recipe (the task graph of the input) and the evaluation finishes with the same
numbers. A task that keeps killing workers, or a lost scheduler, ends the fit
with :class:`DaskFitError` instead of a hang.
"""

from __future__ import annotations

import concurrent.futures

import numpy as np
import scipy.sparse as sp

from softmax_classifier.data._blocks import shuffled_batches
from softmax_classifier.data._checks import first_problem, problem_message
from softmax_classifier.data._parallel import add_in_order
from softmax_classifier.data._statistics import totals_by_label
from softmax_classifier.data._transform import Transform, Transformable

__all__ = ["DaskData", "DaskFitError"]

# Block results are added on the workers by tasks of this many inputs each, in
# block order, then those sums the same way, until at most this many are left,
# which the client adds in order.
_FAN_IN = 8
# Arguments larger than this are sent to every worker once per evaluation
# instead of once per task.
_BROADCAST_BYTES = 1 << 16


class DaskFitError(RuntimeError):
    """The Dask cluster could not finish an evaluation: lost scheduler, workers killed."""


class DaskData(Transformable):
    """Rows of a Dask array or dataframe, kept and evaluated on the cluster's workers.

    Opening the source computes the input once, block by block, and keeps the
    blocks on the workers (as NumPy arrays or CSR matrices in ``dtype``); it
    checks every value there and brings back only counts and the distinct
    labels. Pass it, or the Dask collections themselves, to
    :meth:`SoftmaxClassifier.fit`.

    Parameters
    ----------
    X : dask.array.Array or dask.dataframe.DataFrame of shape (n_samples, n_features)
        Numeric features. Array chunks may be NumPy arrays or SciPy sparse
        matrices (e.g. ``X.map_blocks(scipy.sparse.csr_matrix)``); chunks along
        the columns are joined. A dataframe's columns are the features.
    y : dask.array.Array or dask.dataframe.Series of shape (n_samples,)
        Labels of any type, in blocks of the same rows as ``X`` (same row
        chunks or the same partitions).
    sample_weight : same kind as ``y``, or None, default=None
        Non-negative weights.
    client : distributed.Client or None, default=None
        The client of the cluster; by default the current one
        (``distributed.get_client()``).
    dtype : {None, numpy.float32, numpy.float64}, default=None
        dtype of the blocks; by default float32 input stays float32 and
        everything else becomes float64.

    Attributes
    ----------
    n_samples, n_features : int
    shape : tuple
        ``(n_samples, n_features)``.
    dtype : numpy.dtype
    is_sparse : bool
        Whether the blocks are CSR matrices.
    classes : ndarray of shape (n_classes,)
        The sorted distinct labels.
    class_totals, class_counts : ndarray of shape (n_classes,)
        Sum of weights (row counts when unweighted) and rows per class, float64.
    total_weight : float
        Sum of the weights the objective sees (class weights included).
    block_sizes : list of int
        Rows in each block, in order.
    feature_names : list of str or None
        A dataframe's column names; None for an array.
    target_name : str or None
        The name of the label series, if it has one.

    Raises
    ------
    ValueError
        For missing, NaN or infinite values, negative weights, blocks of ``X``
        and ``y`` that do not line up, or non-numeric features; the message
        names the block and the row.
    DaskFitError
        When the cluster cannot compute the blocks.

    Notes
    -----
    Mini-batch solvers (``sgd``, ``adam``) bring one block at a time to the
    client and cut it into shuffled batches there: sending the parameters to
    the data for every small batch would cost more than the rows.

    Examples
    --------
    >>> import dask.array as da
    >>> from distributed import Client, LocalCluster
    >>> from sklearn.datasets import load_iris
    >>> from softmax_classifier import SoftmaxClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> cluster = LocalCluster(n_workers=2, processes=False, dashboard_address=":0")
    >>> client = Client(cluster)
    >>> source = DaskData(da.from_array(X, chunks=50), da.from_array(y, chunks=50))
    >>> source.shape, source.block_sizes
    ((150, 4), [50, 50, 50])
    >>> model = SoftmaxClassifier().fit(source)  # or fit(dask_X, dask_y)
    >>> model.predict(X[:3])
    array([0, 0, 0])
    >>> client.close(); cluster.close()
    """

    def __init__(self, X, y, sample_weight=None, *, client=None, dtype=None):
        distributed = _import_distributed()
        self.client = client if client is not None else _current_client(distributed)
        if dtype is not None and np.dtype(dtype) not in (np.float32, np.float64):
            raise ValueError(f"dtype must be None, float32 or float64; got {np.dtype(dtype)}.")
        if y is None:
            raise ValueError("y is required: the labels, a dask array or series like X.")
        parts, names, self.is_sparse = _partitions(X, y, sample_weight)
        self.dtype = _block_dtype(X, dtype)
        self.feature_names = names
        name = getattr(y, "name", None)
        self.target_name = name if isinstance(name, str) else None
        self._transform = Transform()
        self._parts = []
        self._address = getattr(self.client, "scheduler", None) and self.client.scheduler.address

        raw = self.client.compute(
            [_delayed(_prepare_block)(part, self.dtype, self.is_sparse) for part in parts]
        )
        summaries = self._gather([self.client.submit(_summarise_block, r) for r in raw])
        self._check(summaries)
        self.block_sizes = [s["n_rows"] for s in summaries]
        self.n_samples = int(sum(self.block_sizes))
        self.n_features = summaries[0]["n_features"]
        self.classes, self.class_totals, self.class_counts = totals_by_label(
            [s["labels"] for s in summaries]
        )
        self.total_weight = float(self.class_totals.sum())
        if not self.total_weight > 0:
            raise ValueError("The sample weights sum to zero: at least one row needs weight > 0.")
        # The blocks the fit uses: features, class indices, weights.
        self._parts = [self.client.submit(_encode_block, r, self.classes) for r in raw]

    @property
    def shape(self):
        return (self.n_samples, self.n_features)

    @property
    def block_rows(self):
        """Deprecated: the rows of each block, now :attr:`block_sizes`."""
        import warnings

        warnings.warn(
            "DaskData.block_rows is deprecated: use block_sizes (a list, one entry per block).",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.block_sizes

    # -- the data-source interface -------------------------------------------------
    def reduce(self, block_fn, *args):
        """Sum ``block_fn(X_block, y_block, weight_block, *args)`` over the blocks, on the workers.

        Large arguments are sent to each worker once; block results are added
        on the workers in block order (a fixed tree of sums, eight at a time,
        until at most eight are left, which the client adds), so the result
        does not depend on which worker ran what.

        Returns
        -------
        tuple
            The element-wise sum.

        Raises
        ------
        DaskFitError
            When the scheduler is lost or a block keeps killing workers.
        """
        self._check_client()
        args = [self._broadcast(a) for a in args]
        results = [
            self.client.submit(_evaluate, block_fn, self._transform, part, *args, pure=False)
            for part in self._parts
        ]
        while len(results) > _FAN_IN:
            results = [
                self.client.submit(_add, *results[i : i + _FAN_IN], pure=False)
                for i in range(0, len(results), _FAN_IN)
            ]
        # The last few sums are added here: one scheduling round trip fewer.
        return add_in_order(self._gather(results))

    def batches(self, batch_size, rng):
        """One epoch of shuffled mini-batches, built in the client one block at a time.

        Blocks are fetched in an order drawn from ``rng``; the rows of each
        (with any rows left over from the previous one) are shuffled and cut
        into batches of ``batch_size`` rows.

        Parameters
        ----------
        batch_size : int
        rng : numpy.random.Generator

        Yields
        ------
        X_batch, y_batch, weight_batch
        """
        order = rng.permutation(len(self._parts))
        yield from shuffled_batches(self._blocks(order), batch_size, rng)

    def blocks(self):
        """Yield the blocks in order, brought to the client one at a time, transformed.

        Yields
        ------
        X_block : ndarray or CSR matrix of shape (rows, n_features)
        y_block : ndarray of shape (rows,)
        weight_block : ndarray of shape (rows,) or None
        """
        return self._blocks(range(len(self._parts)))

    def _blocks(self, order):
        self._check_client()
        for k in order:
            yield self._transform.apply(*_copy_block(self._fetch(self._parts[k])))

    def labelled_blocks(self):
        """Yield ``(X_block, labels_block)`` as given: no transform, original labels.

        For scoring a fitted model; each block is brought to the client in turn.
        """
        for part in self._parts:
            X, y, _ = self._fetch(part)
            yield X, self.classes[y]

    # -- talking to the cluster ------------------------------------------------------
    def _broadcast(self, value):
        if isinstance(value, np.ndarray) and value.nbytes > _BROADCAST_BYTES:
            return self.client.scatter(value, broadcast=True, hash=False)
        return value

    def _fetch(self, future):
        (value,) = self._gather([future])
        return value

    def _check_client(self):
        if not self._parts:
            raise DaskFitError(
                "this source's blocks were lost with a failed task: make a new DaskData "
                "(or pass the Dask collections to fit again)."
            )
        if self.client.status not in ("running", "connecting"):
            raise DaskFitError(
                f"the Dask client is {self.client.status}: the scheduler at "
                f"{self._address} was lost or the client closed. {_WHAT_NOW}"
            )

    def _gather(self, futures):
        """Results of ``futures``; cluster failures become :class:`DaskFitError`."""
        distributed = _import_distributed()
        try:
            return self.client.gather(futures)
        except distributed.KilledWorker as exc:
            # Let the scheduler forget the failed tasks: a new source of the same
            # collection (to resume) must compute them afresh, not meet this error.
            for future in [*futures, *self._parts]:
                future.release()
            self._parts.clear()
            raise DaskFitError(
                f"a task of this fit was running on every worker that died for it ({exc}); "
                "it keeps killing workers (out of memory?). "
                "Dask gives up after distributed.scheduler.allowed-failures deaths. "
                f"{_WHAT_NOW}"
            ) from exc
        except (concurrent.futures.CancelledError, OSError, TimeoutError) as exc:
            raise DaskFitError(
                f"lost the Dask scheduler at {self._address} ({type(exc).__name__}: {exc}). "
                f"{_WHAT_NOW}"
            ) from exc

    def _check(self, summaries):
        n_features = {s["n_features"] for s in summaries}
        if len(n_features) > 1:
            raise ValueError(f"the blocks of X have different numbers of columns: {n_features}")
        start = 0
        for k, s in enumerate(summaries):
            if s["problem"] is not None:
                row, problem, detail = s["problem"]
                where = f"block {k}, row {row} of the block"
                raise ValueError(problem_message(problem, start + row, [detail, where]))
            start += s["n_rows"]
        if start == 0:
            raise ValueError("X has no rows.")


_WHAT_NOW = (
    "Fit again once the cluster is healthy; with checkpoint_dir set, resume=True "
    "continues from the last checkpoint."
)


def _import_distributed():
    try:
        import distributed
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "fitting Dask collections needs dask.distributed: "
            "pip install 'softmax-classifier[dask]'"
        ) from exc
    return distributed


def _current_client(distributed):
    try:
        return distributed.get_client()
    except ValueError as exc:
        raise ValueError(
            "no Dask client: start one first, e.g. distributed.Client(LocalCluster()) "
            "or distributed.Client('tcp://scheduler:8786'), or pass client=."
        ) from exc


def _delayed(fn):
    import dask

    return dask.delayed(fn, pure=True)


def _block_dtype(X, dtype):
    if dtype is not None:
        return np.dtype(dtype)
    dtypes = list(X.dtypes) if hasattr(X, "columns") else [X.dtype]
    return np.dtype(np.float32 if all(str(d) == "float32" for d in dtypes) else np.float64)


def _partitions(X, y, sample_weight):
    """Row blocks as Delayed ``(X, y, weights)`` sources, the feature names, sparsity.

    Each block is a tuple ``(X_part, y_part, w_part)`` for arrays (``w_part``
    None without weights) or one dataframe partition holding the features,
    the labels and the weights in its last columns, split on the worker.
    """
    import dask.array as da
    import dask.dataframe as dd

    if isinstance(X, dd.DataFrame):
        names = [str(c) for c in X.columns]
        extra = {}
        for name, v in (("y", y), ("sample_weight", sample_weight)):
            if v is None:
                continue
            if not isinstance(v, (dd.Series, dd.DataFrame)):
                raise TypeError(
                    f"with a dask dataframe X, {name} must be a dask series; "
                    f"got {type(v).__name__}."
                )
            extra[f"__softmax_{name}__"] = v if isinstance(v, dd.Series) else v.iloc[:, 0]
        try:
            # One frame: its partitions hold the labels and weights of their rows.
            combined = X.assign(**extra)
        except ValueError as exc:
            raise ValueError(
                f"y and sample_weight must line up with the rows of X ({exc}); take them "
                "from the same dataframe, e.g. frame[features], frame['label']."
            ) from None
        parts = [(part, len(extra)) for part in combined.to_delayed()]
        return parts, names, False

    if not isinstance(X, da.Array):
        raise TypeError(f"X must be a dask array or dataframe; got {type(X).__name__}.")
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features); got {X.ndim}-D.")
    is_sparse = sp.issparse(X._meta)
    X = X.rechunk({1: -1}) if X.numblocks[1] > 1 else X
    X_parts = list(X.to_delayed()[:, 0])

    def rows_of(v, name):
        if v is None:
            return [None] * len(X_parts)
        if not isinstance(v, da.Array):
            raise TypeError(
                f"with a dask array X, {name} must be a dask array too; got {type(v).__name__}."
            )
        if not (np.isnan(X.shape[0]) or np.isnan(v.shape[0])):
            if v.shape[0] != X.shape[0]:
                raise ValueError(f"X has {X.shape[0]} rows but {name} has {v.shape[0]}.")
            v = v.rechunk((X.chunks[0], *v.chunks[1:]))  # line the blocks up with X's
        parts = list(v.to_delayed().ravel())
        if len(parts) != len(X_parts):
            raise ValueError(
                f"X has {len(X_parts)} row blocks but {name} has {len(parts)}: "
                "give them the same row chunks."
            )
        return parts

    parts = list(
        zip(X_parts, rows_of(y, "y"), rows_of(sample_weight, "sample_weight"), strict=True)
    )
    return parts, None, is_sparse


# Functions run on the workers --------------------------------------------------------


def _prepare_block(part, dtype, is_sparse):
    """One block as ``(X, labels, weights)``: X a NumPy array or CSR matrix in ``dtype``."""
    first, second = part[0], part[1]
    if hasattr(first, "iloc"):  # a pandas partition, labels and weights last
        n_extra = second
        frame, extra = first.iloc[:, : first.shape[1] - n_extra], first.iloc[:, -n_extra:]
        non_numeric = [c for c, d in frame.dtypes.items() if not np.issubdtype(d, np.number)]
        if non_numeric:
            raise ValueError(f"features must be numeric; column {non_numeric[0]!r} is not.")
        X = frame.to_numpy(dtype=dtype)
        y = extra.iloc[:, 0].to_numpy()
        w = extra.iloc[:, 1].to_numpy(dtype=np.float64) if n_extra > 1 else None
        return X, y, w
    X, y, w = part
    if is_sparse or sp.issparse(X):
        X = sp.csr_matrix(X, dtype=dtype)
        X.sum_duplicates()
    else:
        X = np.asarray(X, dtype=dtype)
    y = _column(y, "y")
    w = None if w is None else _column(w, "sample_weight").astype(np.float64)
    if X.ndim != 2 or y.shape[0] != X.shape[0] or (w is not None and w.shape[0] != X.shape[0]):
        raise ValueError(
            f"a block of X has {X.shape[0]} rows but its y/sample_weight block has "
            f"{y.shape[0]}: give them the same row chunks."
        )
    return X, y, w


def _column(v, name):
    v = v.to_numpy() if hasattr(v, "to_numpy") else np.asarray(v)
    if v.ndim == 2 and v.shape[1] == 1:
        v = v[:, 0]
    if v.ndim != 1:
        raise ValueError(f"{name} must be one column; a block has shape {v.shape}.")
    return v


def _summarise_block(block):
    """Row count, labels with their weights, and the first bad row of a block."""
    X, y, w = block
    problem = first_problem(X, y, w)
    if problem is None and len(y):
        labels = totals_by_label([(y, w, None)])
    else:
        labels = (y[:0], np.zeros(0), np.zeros(0))
    return {"n_rows": X.shape[0], "n_features": X.shape[1], "problem": problem, "labels": labels}


def _encode_block(block, classes):
    X, y, w = block
    return X, np.searchsorted(classes, y), None if w is None else w.astype(X.dtype)


def _copy_block(block):
    X, y, w = block
    return X.copy(), y, w


def _evaluate(block_fn, transform, block, *args):
    X, y, w = block
    if transform.mean is not None or transform.scale is not None:
        X = X.copy()  # the kept block must not change
    return block_fn(*transform.apply(X, y, w), *args)


def _add(*results):
    return add_in_order(results)
