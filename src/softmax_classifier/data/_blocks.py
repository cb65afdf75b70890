"""Row blocks shared by the data sources: stacking blocks, and shuffled mini-batch epochs."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = ["shuffled_batches", "stack_blocks"]


def stack_blocks(blocks):
    """Rows of several blocks as one block, in order.

    Parameters
    ----------
    blocks : sequence of (X, y, weights)
        ``X`` of shape (m_i, n_features), dense or all CSR; ``y`` of shape
        (m_i,); ``weights`` of shape (m_i,) or None (then None in every block).

    Returns
    -------
    X : ndarray or CSR matrix of shape (sum m_i, n_features)
    y : ndarray of shape (sum m_i,)
    weights : ndarray of shape (sum m_i,) or None
    """
    Xs = [block[0] for block in blocks]
    X = sp.vstack(Xs, format="csr") if sp.issparse(Xs[0]) else np.concatenate(Xs)
    y = np.concatenate([block[1] for block in blocks])
    weights = None if blocks[0][2] is None else np.concatenate([block[2] for block in blocks])
    return X, y, weights


def shuffled_batches(blocks, batch_size, rng, buffer_rows=1):
    """One epoch of mini-batches from blocks that arrive in a random order.

    Blocks are gathered into a buffer of at least ``buffer_rows`` rows (at
    least one block); the buffer is shuffled and cut into batches of
    ``batch_size`` rows; rows that do not fill a batch join the next buffer.
    The rows left at the end are shuffled and cut the same way (the last
    batch may be smaller). Rows within a batch keep their buffer order
    (better memory locality, the same sum).

    Parameters
    ----------
    blocks : iterable of (X, y, weights)
        Each block as in :func:`stack_blocks`, already in the epoch's order.
    batch_size : int
        Rows per batch.
    rng : numpy.random.Generator
        Draws the permutations; the same state gives the same batches.
    buffer_rows : int, default=1
        Rows gathered before shuffling (1: each block on its own).

    Yields
    ------
    X_batch : ndarray or CSR matrix of shape (rows, n_features)
    y_batch : ndarray of shape (rows,)
    weight_batch : ndarray of shape (rows,) or None
    """
    pending, n_pending = [], 0
    for block in blocks:
        pending.append(block)
        n_pending += len(block[1])
        if n_pending < buffer_rows:
            continue
        X, y, w = stack_blocks(pending)
        order = rng.permutation(len(y))
        n_full = (len(y) // batch_size) * batch_size
        yield from _cut(X, y, w, order[:n_full], batch_size)
        rest = order[n_full:]
        pending = [(X[rest], y[rest], None if w is None else w[rest])]
        n_pending = len(rest)
    if n_pending:
        X, y, w = stack_blocks(pending)
        yield from _cut(X, y, w, rng.permutation(len(y)), batch_size)


def _cut(X, y, w, order, batch_size):
    for start in range(0, len(order), batch_size):
        rows = np.sort(order[start : start + batch_size])
        yield X[rows], y[rows], None if w is None else w[rows]
