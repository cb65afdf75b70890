r"""The ``k`` most probable classes of each row, by blocks of rows and classes.

``predict_proba(X, top_k=k)`` and ``predict`` for very many classes: the
logits are computed a block of rows times a block of classes at a time
(:func:`softmax_classifier._class_blocks.block_shape`), each row keeps its
``k`` best classes so far, and the probabilities come from the online
log-sum-exp of :mod:`softmax_classifier._class_blocks`: the same numbers as
the columns of :func:`softmax_classifier.math.softmax`, without an
``(n_samples, n_classes)`` array.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from softmax_classifier import math as sm
from softmax_classifier._blas import one_blas_thread
from softmax_classifier._class_blocks import (
    RunningLogSumExp,
    block_logits,
    block_shape,
    class_blocks,
    logit_budget,
)

__all__ = ["top_k"]


def top_k(
    X,
    coef,
    intercept,
    k,
    *,
    temperature=None,
    with_proba=True,
    budget=None,
    full_logits=None,
    n_threads=None,
):
    r"""The ``k`` largest logits of each row and their probabilities, by row and class blocks.

    Rows are taken in blocks and, within a row block, classes in blocks
    (:func:`block_shape`): at most ``budget`` logits are held per thread.
    Across the class blocks each row keeps its ``k`` best classes so far and
    the online log-sum-exp (module docstring) of the tempered logits
    :math:`a / T`; at the end :math:`p_j = e^{a_j/T - m}/s` for the ``k`` kept
    classes, :func:`softmax_classifier.math.softmax` of ``a / T`` at those
    classes. Classes are ranked by logit, the larger first, and a tie by class
    index, the smaller first (``np.argmax``'s rule; ``T > 0`` keeps the order).

    A row whose logits are not all finite (they overflow the dtype) is
    computed whole, ``full_logits(X[rows])`` of all classes, a few rows at a
    time (``budget // n_classes``, at least one), exactly as an unblocked
    prediction does.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_samples, n_features)
    coef : ndarray of shape (n_classes, n_features)
    intercept : ndarray of shape (n_classes,) or None
    k : int
        Between 1 and ``n_classes`` (not checked here).
    temperature : float or None, default=None
        Probabilities of ``a / temperature``; None for ``T = 1``.
    with_proba : bool, default=True
        False: the classes only (no exponentials taken).
    budget : int or None, default=None
        Logits; None for :func:`logit_budget`.
    full_logits : callable or None, default=None
        ``full_logits(X_rows) -> (rows, n_classes)`` logits for rows that
        overflow; None for :func:`softmax_classifier.math.raw_prediction`.
    n_threads : int or None, default=None
        Row blocks evaluated at once, each on its own thread with BLAS on one
        thread; None for the CPUs this process may use.

    Returns
    -------
    index : ndarray of shape (n_samples, k), intp
        Class indices, the most probable first.
    proba : ndarray of shape (n_samples, k) or None
        Their probabilities, in ``X``'s float dtype; None without
        ``with_proba``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.eye(3)
    >>> coef = np.array([[3.0, 0, 0], [2.0, 0, 1], [1.0, 5, 2], [0, 0, 0]])
    >>> index, proba = top_k(X, coef, None, 2, budget=2)
    >>> index
    array([[0, 1],
           [2, 0],
           [2, 1]])
    >>> bool(np.allclose(proba[0], np.exp([3, 2]) / np.exp([3, 2, 1, 0]).sum()))
    True
    """
    X = sm._as_float_data(X)
    budget = logit_budget() if budget is None else int(budget)
    n_rows, n_classes = X.shape[0], coef.shape[0]
    coef = np.ascontiguousarray(coef, dtype=X.dtype)  # cast once, not per block
    intercept = None if intercept is None else np.asarray(intercept, dtype=X.dtype)
    scale = None if temperature is None else X.dtype.type(temperature)
    rows_per_block, classes_per_block = block_shape(n_rows, n_classes, budget)
    rows_per_block = max(rows_per_block, 1)  # no rows: no blocks
    blocks = class_blocks(n_classes, classes_per_block)
    index = np.empty((n_rows, k), dtype=np.intp)
    proba = np.empty((n_rows, k), dtype=X.dtype) if with_proba else None

    def row_block(start):  # writes its own rows of index and proba
        rows = slice(start, min(start + rows_per_block, n_rows))
        bad = _top_k_rows(X[rows], coef, intercept, k, scale, blocks, index, proba, rows)
        return np.flatnonzero(bad) + start

    starts = range(0, n_rows, rows_per_block)
    n_threads = _cpus() if n_threads is None else max(1, int(n_threads))
    with one_blas_thread():
        if n_threads == 1 or len(starts) <= 1:
            overflow = [row_block(start) for start in starts]
        else:
            with ThreadPoolExecutor(min(n_threads, len(starts))) as pool:
                overflow = list(pool.map(row_block, starts))
    overflow = np.concatenate(overflow) if overflow else np.empty(0, dtype=np.intp)
    if overflow.size:
        full_logits = sm.raw_prediction if full_logits is None else full_logits
        step = max(1, budget // n_classes)
        for first in range(0, overflow.size, step):
            rows = overflow[first : first + step]
            logits = np.asarray(full_logits(X[rows]))
            order = np.argsort(-logits, axis=1, kind="stable")[:, :k]
            index[rows] = order
            if with_proba:
                tempered = logits if scale is None else logits / logits.dtype.type(scale)
                probabilities = sm.softmax(tempered)
                proba[rows] = np.take_along_axis(probabilities, order, axis=1)
    return index, proba


def _top_k_rows(X, coef, intercept, k, scale, blocks, index, proba, rows):
    """One row block of :func:`top_k`, written into ``index[rows]`` (and ``proba[rows]``).

    Returns the mask of rows whose logits were not all finite (left to the caller).
    """
    n_rows = X.shape[0]
    best = np.full((n_rows, k), -np.inf, dtype=X.dtype)
    best_index = np.full((n_rows, k), -1, dtype=np.intp)
    running = None if proba is None else RunningLogSumExp(n_rows, X.dtype)
    bad = np.zeros(n_rows, dtype=bool)
    for block in blocks:
        with np.errstate(over="ignore", invalid="ignore"):  # overflowing rows: set aside
            logits = block_logits(X, coef, intercept, block)
            bad |= ~np.isfinite(logits.sum(axis=1))
        if bad.any():
            logits[bad] = 0
        block_max = _merge_top(best, best_index, logits, block.start)
        if running is not None:
            if scale is not None:
                logits /= scale
                block_max = block_max / scale
            running.add(logits, block_max=block_max)
    index[rows] = best_index
    if running is not None:
        tempered = best if scale is None else best / scale
        with np.errstate(over="ignore"):  # a gap beyond the dtype's range: probability 0
            tempered -= running.max[:, None]
        np.exp(tempered, out=tempered)
        tempered /= running.sum.astype(X.dtype)[:, None]
        proba[rows] = tempered
    return bad


def _merge_top(best, best_index, logits, start):
    """Merge one class block into each row's ``k`` best ``(logit, class)``, in place.

    ``best`` (n_rows, k) is sorted by logit, larger first, ties by class;
    the block's classes are ``start + column``, all larger than those kept,
    so a block logit equal to the k-th best does not enter. Returns the
    block's row maxima.
    """
    n_rows, k = best.shape
    width = logits.shape[1]
    if k == 1:  # argmax: the first largest column
        column = logits.argmax(axis=1)
        block_max = logits[np.arange(n_rows), column]
        better = block_max > best[:, 0]
        best[better, 0] = block_max[better]
        best_index[better, 0] = column[better] + start
        return block_max
    block_max = logits.max(axis=1)
    rows = np.flatnonzero(block_max > best[:, -1])  # rows the block can change
    if rows.size == 0:
        return block_max
    candidates = logits[rows]
    if width > k:  # the block's k best columns, in column order
        kth = np.partition(candidates, width - k, axis=1)[:, width - k]
        taken = candidates >= kth[:, None]
        columns = _first_k_columns(taken, candidates, kth, k)
    else:
        columns = np.broadcast_to(np.arange(width), (rows.size, width))
    values = np.concatenate([best[rows], np.take_along_axis(candidates, columns, axis=1)], axis=1)
    classes = np.concatenate([best_index[rows], columns + start], axis=1)
    order = np.lexsort((classes, -values), axis=1)[:, :k]
    best[rows] = np.take_along_axis(values, order, axis=1)
    best_index[rows] = np.take_along_axis(classes, order, axis=1)
    return block_max


def _first_k_columns(taken, values, kth, k):
    """Columns of the ``k`` largest ``values`` of each row, ties at ``kth`` by column order.

    ``taken`` is ``values >= kth`` (row by row): exactly ``k`` entries where
    no other value ties with the k-th largest (the rule for continuous logits),
    more where some do; those rows keep the values above ``kth`` and the
    first columns equal to it.
    """
    counts = taken.sum(axis=1)
    tied = np.flatnonzero(counts > k)
    if tied.size:
        above = values[tied] > kth[tied, None]
        wanted = k - above.sum(axis=1)
        equal = taken[tied] & ~above
        taken[tied] = above | (equal & (np.cumsum(equal, axis=1) <= wanted[:, None]))
    return np.nonzero(taken)[1].reshape(taken.shape[0], k)


def _cpus():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
