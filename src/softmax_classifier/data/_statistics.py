"""Statistics of a data source, each a sum over its row blocks: class totals, means, scales.

Every source (arrays, files, a Dask cluster) computes them with the same block
functions through its ``reduce``, in float64, so a statistic does not depend on
where the rows live.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = ["mean_and_scale", "per_class_weights", "totals_by_label"]


def totals_by_label(parts):
    """Distinct labels with their weight totals and row counts.

    Parameters
    ----------
    parts : iterable of (labels, weights, counts)
        ``labels`` of shape (m,); ``weights`` of shape (m,) or None (all ones);
        ``counts`` of shape (m,) or None (one row each). Rows of a block, or
        the totals of earlier blocks (so that a pass can keep only distinct
        labels).

    Returns
    -------
    classes : ndarray of shape (n_classes,)
        Sorted distinct labels.
    totals, counts : ndarray of shape (n_classes,)
        float64 sums of the weights and of the counts per class.
    """
    parts = list(parts)
    labels = np.concatenate([y for y, _, _ in parts])
    weights = np.concatenate([np.ones(len(y)) if w is None else w for y, w, _ in parts])
    counts = np.concatenate([np.ones(len(y)) if c is None else c for y, _, c in parts])
    classes, index = np.unique(labels, return_inverse=True)
    return (
        classes,
        np.bincount(index, weights=weights, minlength=len(classes)),
        np.bincount(index, weights=counts, minlength=len(classes)),
    )


def per_class_weights(class_weight, classes, class_counts):
    """``class_weight`` as one multiplier per class, or None for all ones.

    Parameters
    ----------
    class_weight : dict, "balanced" or None
        ``"balanced"`` gives ``n_samples / (n_classes * count_k)`` (row counts,
        as scikit-learn's ``compute_class_weight``); a dict maps labels to
        weights (missing labels weigh 1).
    classes : ndarray of shape (n_classes,)
    class_counts : ndarray of shape (n_classes,)
        Rows per class.

    Returns
    -------
    ndarray of shape (n_classes,), float64, or None

    Raises
    ------
    ValueError
        If the dict names labels that are not among ``classes``.
    """
    if class_weight is None:
        return None
    if isinstance(class_weight, str):  # "balanced"
        counts = np.asarray(class_counts, dtype=np.float64)
        return counts.sum() / (len(classes) * counts)
    known = set(classes.tolist())
    unknown = [label for label in class_weight if label not in known]
    if unknown:
        raise ValueError(f"class_weight names labels not in y: {sorted(map(repr, unknown))}.")
    return np.array([float(class_weight.get(c, 1.0)) for c in classes.tolist()])


def mean_and_scale(source):
    """Per-feature weighted mean and standard deviation of any data source, in two passes.

    In memory, streamed or on Dask: the same block sums in float64. Each
    feature is first divided by its largest absolute value (found in the first
    pass), so values from 1e-300 to 1e300 neither underflow nor overflow when
    squared. Sparse sources: the mean is returned as zeros (rows are scaled,
    never centred), the scale is the standard deviation around the true mean.
    """
    total, weighted_sum, largest = source.reduce(_first_moment_block)
    unit = np.where(largest > 0, largest, 1.0)
    with np.errstate(over="ignore", invalid="ignore"):
        mean = weighted_sum / total
    if not np.isfinite(mean).all():  # the sums overflowed: add up x / max|x| instead
        (unit_sum,) = source.reduce(_unit_sum_block, unit)
        mean = unit_sum / total * unit
    (squares,) = source.reduce(_centred_square_block, mean, unit)
    scale = _scale_from_variance(squares / total, unit)
    if source.is_sparse:
        mean = np.zeros_like(mean)
    return mean, scale


def _first_moment_block(X, y, weights):
    """``sum_k w_k``, ``sum_k w_k x_k`` and ``max_k |x_k|`` per feature, in float64."""
    w = np.ones(X.shape[0]) if weights is None else weights.astype(np.float64)
    with np.errstate(over="ignore"):
        if sp.issparse(X):  # from the stored entries: no CSC copy of a (wide) block
            largest = np.zeros(X.shape[1])
            np.maximum.at(largest, X.indices, np.abs(X.data).astype(np.float64))
            return w.sum(), np.asarray(X.T @ w, dtype=np.float64).ravel(), largest
        largest = np.abs(X).max(axis=0).astype(np.float64)
        return w.sum(), w @ X.astype(np.float64, copy=False), largest


def _unit_sum_block(X, y, weights, unit):
    """``sum_k w_k x_k / unit`` per feature."""
    w = np.ones(X.shape[0]) if weights is None else weights.astype(np.float64)
    if sp.issparse(X):
        return (np.asarray(X.T @ w, dtype=np.float64).ravel() / unit,)
    return (w @ (X.astype(np.float64) / unit),)


def _centred_square_block(X, y, weights, mean, unit):
    """``sum_k w_k ((x_k - mean) / unit)^2`` per feature (sparse: expanded, X stays sparse)."""
    w = np.ones(X.shape[0]) if weights is None else weights.astype(np.float64)
    centre = mean / unit
    if sp.issparse(X):
        X = X.astype(np.float64).multiply(1.0 / unit).tocsr()
        first = np.asarray(X.T @ w).ravel()
        second = np.asarray(X.multiply(X).T @ w).ravel()
        return (second - 2 * centre * first + centre**2 * w.sum(),)
    return (w @ np.square(X.astype(np.float64) / unit - centre),)


def _scale_from_variance(unit_variance, unit):
    """Standard deviations from the variance of ``x / unit``; 1 for constant features.

    A feature is constant when its spread is at the rounding level of its own
    largest value (``std <= 16 eps max|x|``: a mean of identical values is
    exact to a few eps), whatever its units: 1e-20-sized features that vary
    are scaled, not dropped.
    """
    unit_std = np.sqrt(np.maximum(unit_variance, 0.0))
    constant = ~(unit_std > 16 * np.finfo(np.float64).eps)
    scale = unit_std * unit
    scale[constant] = 1.0
    return scale
