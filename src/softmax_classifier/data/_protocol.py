"""The contract every data source fulfils, whatever holds its rows."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = ["DataSource"]


@runtime_checkable
class DataSource(Protocol):
    """Rows of ``(X, y, sample_weight)`` walked in blocks; nothing about the model.

    The objective passes block functions to :meth:`reduce`; the mini-batch
    solvers draw :meth:`batches`; the fit pipeline reads the classes and
    their totals, asks for a :meth:`transformed` view (standardised rows,
    class weights), and scores a fitted model over :meth:`labelled_blocks`.
    :class:`~softmax_classifier.data.InMemoryData`,
    :class:`~softmax_classifier.data.StreamingData` and
    :class:`~softmax_classifier.data.DaskData` implement all of it; open one
    with :func:`~softmax_classifier.data.as_source`.

    Blocks are ``(X_block, y_block, weight_block)``: ``X_block`` an ndarray or
    CSR matrix of shape (rows, n_features) in :attr:`dtype`, ``y_block`` the
    class indices into :attr:`classes` (ints, shape (rows,)), ``weight_block``
    of shape (rows,) in :attr:`dtype` or None for all ones.

    Attributes
    ----------
    n_samples, n_features : int
    shape : tuple of int
        ``(n_samples, n_features)``.
    dtype : numpy.dtype
        float32 or float64: the dtype of every block.
    is_sparse : bool
        Whether blocks are CSR matrices (standardisation then scales, never
        centres).
    classes : ndarray of shape (n_classes,)
        The sorted distinct labels, of their own type.
    class_counts : ndarray of shape (n_classes,)
        Rows per class, float64.
    class_totals : ndarray of shape (n_classes,)
        Sum of the rows' weights per class, float64.
    total_weight : float
        Sum of the weights the blocks carry (class weights included).
    weight_scale : float
        The given weights (times class weights) are the blocks' weights times
        this: 1 unless the source divided them by a common factor to keep them
        in range. ``total_weight * weight_scale`` is the sum as given.
    feature_names : sequence of str or None
    target_name : str or None
        The label column's name, when the rows came from a table.
    """

    n_samples: int
    n_features: int
    dtype: np.dtype
    is_sparse: bool
    classes: np.ndarray
    class_counts: np.ndarray
    class_totals: np.ndarray
    total_weight: float
    weight_scale: float
    feature_names: Sequence[str] | None
    target_name: str | None

    @property
    def shape(self) -> tuple[int, int]: ...

    def blocks(self) -> Iterator[tuple[Any, np.ndarray, np.ndarray | None]]:
        """Yield the row blocks in order, transformed as the view says."""
        ...

    def reduce(self, block_fn: Callable[..., tuple], *args: Any) -> tuple:
        """Sum ``block_fn(X_block, y_block, weight_block, *args)`` over the blocks.

        The tuples are added element-wise in block order (``None`` stays
        ``None``), so the result does not depend on threads or workers.
        """
        ...

    def batches(
        self, batch_size: int, rng: np.random.Generator
    ) -> Iterator[tuple[Any, np.ndarray, np.ndarray | None]]:
        """One epoch of shuffled mini-batches covering every row once."""
        ...

    def labelled_blocks(self) -> Iterator[tuple[Any, np.ndarray]]:
        """Yield ``(X_block, labels_block)`` as given: no transform, original labels."""
        ...

    def transformed(
        self,
        *,
        mean: np.ndarray | None = None,
        scale: np.ndarray | None = None,
        class_weight: np.ndarray | None = None,
    ) -> DataSource:
        """A view whose rows are ``(x - mean) / scale`` and weights times ``class_weight[y]``.

        Each call replaces any earlier transform (it applies to the rows as
        given).
        """
        ...
