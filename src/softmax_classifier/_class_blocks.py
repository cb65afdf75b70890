r"""The softmax over blocks of classes: exact sums without an (n_rows, n_classes) array.

With very many classes (tens of thousands) a block of rows times all classes
of logits no longer fits in memory: 200,000 rows x 20,000 classes are 32 GB
of float64. Every formula of :mod:`softmax_classifier.math` needs the classes
of a row only through its log-normaliser

.. math::

    \mathrm{lse}(a) = \log \sum_{j=1}^{c} e^{a_j} = m + \log s, \qquad
    m = \max_j a_j, \quad s = \sum_j e^{a_j - m},

and the probabilities :math:`p_j = e^{a_j - m} / s`. Both can be had one block of
classes at a time. The *online log-sum-exp* keeps, for each row, the largest
logit seen so far :math:`m` and the sum :math:`s = \sum e^{a_j - m}` over the
classes seen so far; a new block :math:`B` with largest logit :math:`m_B`
updates them as

.. math::

    m' = \max(m, m_B), \qquad
    s' = s\, e^{m - m'} + \sum_{j \in B} e^{a_j - m'},

which is exact (the rescaling :math:`e^{m - m'}` moves the old terms to the new
shift; every exponent is at most 0, so nothing overflows, as in
:func:`softmax_classifier.math.softmax`). After the last block :math:`m` is the
row maximum and :math:`s` the shifted sum of :mod:`~softmax_classifier.math`,
up to the order of the additions (a few units of roundoff).

A second sweep over the same class blocks then recomputes each block's logits
and uses :math:`p_j = e^{a_j - m}/s`: for the gradient, the Hessian product
and the Hessian diagonal, each class block gives the rows of the result that
belong to its classes (``coef`` rows :math:`i \in B`), so nothing is summed
across class blocks except the per-row :math:`m, s` (and :math:`p^T r` for the
Hessian product, kept online like :math:`s`). Logits are computed twice per
class block (three products with ``X`` instead of two for the gradient): that
is the price of holding ``n_rows x block`` logits instead of ``n_rows x c``.

Nothing here samples or approximates: every function returns the number of its
counterpart in :mod:`softmax_classifier.math` (``tests/test_class_blocks.py``:
float64 to 1e-10).

Memory
------
The *logit budget* :func:`logit_budget` is the most logits one array of a
block may hold: a block is at most that many rows x classes, and a block
function holds about four arrays of that size at once (logits, exponentials,
residuals; the Hessian product's logit changes). The default,
:data:`DEFAULT_LOGIT_BUDGET`, is ``2**20`` logits (8 MiB in float64); the
environment variable ``SOFTMAX_CLASSIFIER_LOGIT_BUDGET`` sets another.

The compiled kernels (:mod:`softmax_classifier._fused`) hold at most a tile
of rows x all classes: dense blocks go tile by tile (at most
:data:`KERNEL_TILE_ROWS` rows x ``3 c`` numbers of scratch), CSR blocks by
rows one row at a time (``2 c``); only the by-columns form of wide CSR blocks
holds all rows of the block x ``2 c``. :func:`kernels_fit` says whether that
scratch is within the budget; the objective uses the kernels where it is (or
where the whole block's logits fit anyway) and these class blocks otherwise.
At 20,000 classes the blocks, whose products are BLAS's, were also the faster:
value and gradient of 8192 x 64 rows on one thread, 1.0 s (float32) and 2.1 s
(float64) by blocks of 1024 x 1024 against 1.9 s and 3.8 s by the kernels.
"""

from __future__ import annotations

import os

import numpy as np
import scipy.sparse as sp

from softmax_classifier import math as sm

__all__ = [
    "DEFAULT_LOGIT_BUDGET",
    "KERNEL_TILE_ROWS",
    "RunningLogSumExp",
    "block_logits",
    "block_shape",
    "class_block_size",
    "class_blocks",
    "hessian_diagonal_sum",
    "hessian_product_sum",
    "kernels_fit",
    "log_sum_exp",
    "logit_budget",
    "loss_gradient_sum",
    "loss_sum",
]

#: Logits one block array may hold by default (8 MiB of float64).
DEFAULT_LOGIT_BUDGET = 2**20
#: Environment variable that sets the budget (a positive integer).
BUDGET_VARIABLE = "SOFTMAX_CLASSIFIER_LOGIT_BUDGET"
#: The most rows in a tile of the compiled dense kernels (``tile_rows`` in ``_kernels.c``).
KERNEL_TILE_ROWS = 256
# Row blocks: at least this many rows unless the budget is smaller. Measured
# (value and gradient, 8192 x 64 rows, 20,000 classes, one thread): blocks of
# 8192 rows x 128 classes 2.4 s (float64) / 1.4 s (float32); 1024 x 1024 2.1 s /
# 1.1 s; 256 x 1024 1.9 s / 1.1 s. Blocks of all the rows were the slowest.
_MIN_BLOCK_ROWS = 1024


def logit_budget():
    """The most logits one block array may hold: the environment's setting or the default.

    Returns
    -------
    int
        ``SOFTMAX_CLASSIFIER_LOGIT_BUDGET`` when set, else
        :data:`DEFAULT_LOGIT_BUDGET`.

    Raises
    ------
    ValueError
        When the variable is set to anything but a positive integer.
    """
    text = os.environ.get(BUDGET_VARIABLE, "").strip()
    if not text:
        return DEFAULT_LOGIT_BUDGET
    try:
        budget = int(text)
    except ValueError:
        budget = 0
    if budget < 1:
        raise ValueError(
            f"{BUDGET_VARIABLE} must be a positive integer (logits per block), got {text!r}"
        )
    return budget


def class_block_size(n_rows, n_classes, budget=None):
    """Classes per block so that ``n_rows x block`` logits are within the budget.

    Parameters
    ----------
    n_rows, n_classes : int
    budget : int or None, default=None
        Logits; None for :func:`logit_budget`.

    Returns
    -------
    int
        Between 1 and ``n_classes``; ``n_classes`` (one block, nothing to
        split) when all the logits fit.
    """
    budget = logit_budget() if budget is None else int(budget)
    return int(min(n_classes, max(1, budget // max(n_rows, 1))))


def block_shape(n_rows, n_classes, budget=None):
    """``(rows, classes)`` of the blocks that ``n_rows x n_classes`` logits are taken in.

    All of them when they fit the budget. Otherwise rows first: as many as
    fit with all classes, but at least ``min(1024, budget)`` (products with
    few rows are slow); then as many classes as fit with those rows.

    Parameters
    ----------
    n_rows, n_classes : int
    budget : int or None, default=None
        Logits; None for :func:`logit_budget`.

    Returns
    -------
    (int, int)
        Rows per block (1 to ``n_rows``) and classes per block (1 to
        ``n_classes``), their product within the budget unless one row of one
        class is already more; ``(n_rows, n_classes)`` when they all fit.

    Examples
    --------
    >>> block_shape(200_000, 20_000, budget=2**20)
    (1024, 1024)
    >>> block_shape(100, 10, budget=2**20)
    (100, 10)
    """
    budget = logit_budget() if budget is None else int(budget)
    if n_rows * n_classes <= budget:
        return n_rows, n_classes
    rows = max(min(_MIN_BLOCK_ROWS, budget), budget // max(n_classes, 1), 1)
    rows = int(min(max(n_rows, 1), rows))
    return rows, class_block_size(rows, n_classes, budget)


def class_blocks(n_classes, block_size):
    """The class blocks ``[slice(0, b), slice(b, 2b), ...]`` covering ``0 .. n_classes - 1``.

    Parameters
    ----------
    n_classes, block_size : int

    Returns
    -------
    list of slice
        The last one may be shorter.
    """
    block_size = max(1, int(block_size))
    return [slice(a, min(a + block_size, n_classes)) for a in range(0, n_classes, block_size)]


def kernels_fit(X, n_classes, by_columns, budget=None):
    """Whether the compiled kernels' scratch for block ``X`` is within the logit budget.

    Dense blocks: a tile of at most ``KERNEL_TILE_ROWS`` rows x ``3 n_classes``
    (logits, exponentials, logit changes); CSR taken by rows: one row
    (``3 n_classes``); CSR taken by columns (``by_columns(X, n_classes)``,
    :func:`softmax_classifier._fused.by_columns`): every row of the block.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_rows, n_features)
    n_classes : int
    by_columns : callable
        ``by_columns(X, n_classes) -> bool`` for CSR blocks.
    budget : int or None, default=None

    Returns
    -------
    bool
    """
    budget = logit_budget() if budget is None else int(budget)
    n_rows = X.shape[0]
    if sp.issparse(X):
        rows = n_rows if by_columns(X, n_classes) else 1
    else:
        rows = min(n_rows, KERNEL_TILE_ROWS)
    return rows * 3 * n_classes <= budget


# ---------------------------------------------------------------------------
# The online log-sum-exp
# ---------------------------------------------------------------------------


def block_logits(X, coef, intercept, block):
    """Logits of the classes of ``block``: ``X @ coef[block].T + intercept[block]``.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_rows, n_features)
    coef : ndarray of shape (n_classes, n_features)
    intercept : ndarray of shape (n_classes,) or None
    block : slice
        The classes.

    Returns
    -------
    ndarray of shape (n_rows, block.stop - block.start)
        :func:`softmax_classifier.math.raw_prediction` of those classes.
    """
    return sm.raw_prediction(X, coef[block], None if intercept is None else intercept[block])


class RunningLogSumExp:
    r"""The online log-sum-exp of the module docstring, one class block at a time.

    Parameters
    ----------
    n_rows : int
    dtype : numpy dtype
        The logits' float dtype.
    extra : bool, default=False
        Also keep :math:`t = \sum_j e^{a_j - m} r_j` for a second array ``r``
        given with each block (the Hessian product's :math:`p^T r = t / s`).

    Attributes
    ----------
    max : ndarray of shape (n_rows,)
        :math:`m`, the largest logit so far (``-inf`` before any), in ``dtype``.
    sum : ndarray of shape (n_rows,), float64
        :math:`s = \sum_j e^{a_j - m}` over the classes so far.
    extra : ndarray of shape (n_rows,), float64, or None
        :math:`t`, rescaled with :math:`s`.
    """

    def __init__(self, n_rows, dtype, extra=False):
        self.max = np.full(n_rows, -np.inf, dtype=dtype)
        self.sum = np.zeros(n_rows)
        self.extra = np.zeros(n_rows) if extra else None

    def add(self, logits, extra=None, block_max=None):
        """Take in one block's logits ``(n_rows, width)``, overwritten by their exponentials.

        ``extra`` is the block's ``r`` (same shape) when keeping :math:`t`;
        ``block_max`` the logits' row maxima when already known.
        """
        block_max = logits.max(axis=1) if block_max is None else block_max
        new_max = np.maximum(self.max, block_max)
        exp = logits
        with np.errstate(over="ignore"):  # a gap beyond the dtype's range is -inf: exp gives 0
            rescale = np.exp(self.max - new_max).astype(np.float64, copy=False)
            exp -= new_max[:, None]
        np.exp(exp, out=exp)
        self.sum *= rescale
        self.sum += exp.sum(axis=1, dtype=np.float64)
        if self.extra is not None:
            self.extra *= rescale
            self.extra += np.einsum("ij,ij->i", exp, extra, dtype=np.float64)
        self.max = new_max

    def proba(self, logits):
        """:math:`p_j = e^{a_j - m} / s` of one block's logits, in place, in their dtype."""
        with np.errstate(over="ignore"):  # as in add()
            logits -= self.max[:, None]
        np.exp(logits, out=logits)
        logits /= self.sum.astype(logits.dtype)[:, None]
        return logits


def log_sum_exp(X, coef, intercept, block_size):
    r"""Row maximum :math:`m` and shifted sum :math:`s` of the logits, by class blocks.

    :math:`\log\sum_j e^{a_j(x_k)} = m_k + \log s_k`, with :math:`m_k = \max_j
    a_j(x_k)` and :math:`s_k = \sum_j e^{a_j(x_k) - m_k}`, accumulated online
    over blocks of ``block_size`` classes (module docstring): at most
    ``n_rows x block_size`` logits are held.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_rows, n_features)
    coef : ndarray of shape (n_classes, n_features)
    intercept : ndarray of shape (n_classes,) or None
    block_size : int
        Classes per block.

    Returns
    -------
    row_max : ndarray of shape (n_rows,)
        In ``X``'s float dtype.
    row_sum : ndarray of shape (n_rows,), float64
        Between 1 and ``n_classes``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0, 0.0], [0.0, 2.0]])
    >>> coef = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> m, s = log_sum_exp(X, coef, None, block_size=2)
    >>> np.allclose(m + np.log(s), np.log(np.exp(X @ coef.T).sum(axis=1)))
    True
    """
    X = sm._as_float_data(X)
    running = RunningLogSumExp(X.shape[0], X.dtype)
    for block in class_blocks(coef.shape[0], block_size):
        running.add(block_logits(X, coef, intercept, block))
    return running.max, running.sum


# ---------------------------------------------------------------------------
# Block sums of math.py, by class blocks
# ---------------------------------------------------------------------------


def _row_chunks(n_rows, row_block):
    """Slices of ``row_block`` rows (all rows for None) covering ``0 .. n_rows - 1``."""
    step = max(1, n_rows if row_block is None else int(row_block))
    return [slice(a, min(a + step, n_rows)) for a in range(0, n_rows, step)]


def _part(sample_weight, rows):
    return None if sample_weight is None else sample_weight[rows]


def _rows_by_class(y, blocks):
    """For each class block, the rows whose label is in it (one stable sort of ``y``)."""
    order = np.argsort(y, kind="stable")
    starts = np.searchsorted(y[order], [b.start for b in blocks] + [blocks[-1].stop])
    return [order[starts[i] : starts[i + 1]] for i in range(len(blocks))]


def _zeros_like_coef(X, n_classes):
    """A ``(n_classes, n_features)`` sum in ``X``'s dtype, in the order math.py's products give."""
    if sp.issparse(X):  # (X.T @ R).T: Fortran order
        return np.zeros((X.shape[1], n_classes), dtype=X.dtype).T
    return np.zeros((n_classes, X.shape[1]), dtype=X.dtype)


def _backward_add(X, residual, sample_weight, sum_coef, sum_intercept, block):
    """:func:`softmax_classifier.math._backward` of one class block, added into its rows."""
    block_coef, block_intercept = sm._backward(
        X, residual, sample_weight, sum_intercept is not None
    )
    sum_coef[block] += block_coef
    if sum_intercept is not None:
        sum_intercept[block] += block_intercept


def _loss_sweep(coef, intercept, X, y, sample_weight, blocks):
    """First sweep over the class blocks of one row chunk: loss sum, running (m, s), label rows."""
    label_rows = _rows_by_class(y, blocks)
    running = RunningLogSumExp(X.shape[0], X.dtype)
    label_logit = np.empty(X.shape[0], dtype=X.dtype)
    for block, rows in zip(blocks, label_rows, strict=True):
        logits = block_logits(X, coef, intercept, block)
        label_logit[rows] = logits[rows, y[rows] - block.start]
        running.add(logits)
    cross_entropy = np.log(running.sum) - (label_logit - running.max)
    return sm._weighted_total(cross_entropy, sample_weight), running, label_rows


def loss_sum(coef, intercept, X, y, sample_weight, block_size, row_block=None):
    r""":func:`softmax_classifier.math._loss_sum` by class blocks.

    :math:`\sum_k s_k \mathrm{CE}_k` with :math:`\mathrm{CE}_k = \log s_k -
    (a_{y_k}(x_k) - m_k)` from the online log-sum-exp (:func:`log_sum_exp`):
    the loss of math.py, :math:`\log\sum_j e^{a_j - m} - (a_{y} - m)`, with
    the labels' logits picked from the block that holds them. One sweep.

    Parameters
    ----------
    coef : ndarray of shape (n_classes, n_features)
    intercept : ndarray of shape (n_classes,) or None
    X : ndarray or sparse matrix of shape (n_rows, n_features)
    y : ndarray of shape (n_rows,)
        Class indices.
    sample_weight : ndarray of shape (n_rows,) or None
    block_size : int
        Classes per block.
    row_block : int or None, default=None
        Rows taken at a time (the rows are independent: their sums are
        added); None for all rows at once. At most ``row_block x
        block_size`` logits are held.

    Returns
    -------
    loss_sum, weight_sum : float
    """
    X = sm._as_float_data(X)
    sample_weight = sm._as_weights(sample_weight, X)
    y = np.asarray(y)
    blocks = class_blocks(coef.shape[0], block_size)
    loss = 0.0
    for rows in _row_chunks(X.shape[0], row_block):
        weights = _part(sample_weight, rows)
        loss += _loss_sweep(coef, intercept, X[rows], y[rows], weights, blocks)[0]
    return loss, sm._weight_sum(sample_weight, X)


def loss_gradient_sum(coef, intercept, X, y, sample_weight, block_size, row_block=None):
    r""":func:`softmax_classifier.math._loss_gradient_sum` by class blocks.

    The first sweep gives the loss (:func:`loss_sum`) and each row's
    :math:`m, s`; the second recomputes each block's logits, its probabilities
    :math:`p_i = e^{a_i - m}/s` and residuals :math:`p_i - \delta_{y i}`, and
    the rows :math:`i \in B` of the gradient sums, :math:`\sum_k s_k (p_{ki} -
    \delta_{y_k i}) x_k` and :math:`\sum_k s_k (p_{ki} - \delta_{y_k i})`.

    Parameters
    ----------
    As :func:`loss_sum`.

    Returns
    -------
    loss_sum : float
    grad_coef_sum : ndarray of shape (n_classes, n_features)
        In ``X``'s dtype (Fortran order for sparse ``X``), as math.py's.
    grad_intercept_sum : ndarray of shape (n_classes,) or None
    weight_sum : float
    """
    X = sm._as_float_data(X)
    sample_weight = sm._as_weights(sample_weight, X)
    y = np.asarray(y)
    n_classes = coef.shape[0]
    blocks = class_blocks(n_classes, block_size)
    grad_coef = _zeros_like_coef(X, n_classes)
    grad_intercept = None if intercept is None else np.zeros(n_classes, dtype=X.dtype)
    loss = 0.0
    for rows in _row_chunks(X.shape[0], row_block):
        X_rows, y_rows, weights = X[rows], y[rows], _part(sample_weight, rows)
        chunk_loss, running, label_rows = _loss_sweep(
            coef, intercept, X_rows, y_rows, weights, blocks
        )
        loss += chunk_loss
        for block, labelled in zip(blocks, label_rows, strict=True):
            residual = running.proba(block_logits(X_rows, coef, intercept, block))
            residual[labelled, y_rows[labelled] - block.start] -= 1
            _backward_add(X_rows, residual, weights, grad_coef, grad_intercept, block)
    return loss, grad_coef, grad_intercept, sm._weight_sum(sample_weight, X)


def hessian_product_sum(
    X,
    coef,
    intercept,
    direction_coef,
    direction_intercept,
    sample_weight,
    block_size,
    row_block=None,
):
    r""":func:`softmax_classifier.math._hessian_product_sum` by class blocks.

    The Hessian-vector product's block sums at the probabilities
    ``softmax(X @ coef.T + intercept)``, in the direction ``(direction_coef,
    direction_intercept)``.

    With the logit change :math:`r_k = V x_k + v`, math.py's
    :math:`q_k = p_k \odot (r_k - p_k^T r_k)`; :math:`p_k^T r_k = t_k / s_k`
    with :math:`t_k = \sum_j e^{a_j - m} r_j`, kept online beside :math:`s_k`
    (rescaled by the same :math:`e^{m - m'}`). The second sweep gives the
    rows :math:`i \in B` of :math:`\sum_k s_k q_{ki} x_k` and
    :math:`\sum_k s_k q_{ki}`. Logits and logit changes of a block come from
    one product with ``[coef[B]; direction_coef[B]]``.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_rows, n_features)
    coef, direction_coef : ndarray of shape (n_classes, n_features)
    intercept, direction_intercept : ndarray of shape (n_classes,) or None
        Both None without an intercept.
    sample_weight : ndarray of shape (n_rows,) or None
    block_size : int
        Classes per block.
    row_block : int or None, default=None
        Rows at a time, as in :func:`loss_sum`.

    Returns
    -------
    hess_coef_sum : ndarray of shape (n_classes, n_features)
        In ``X``'s dtype.
    hess_intercept_sum : ndarray of shape (n_classes,) or None
    """
    X = sm._as_float_data(X)
    sample_weight = sm._as_weights(sample_weight, X)
    n_classes = coef.shape[0]
    blocks = class_blocks(n_classes, block_size)
    with_intercept = intercept is not None

    def logits_and_changes(X_rows, block):
        both = sm.raw_prediction(X_rows, np.concatenate([coef[block], direction_coef[block]]))
        if with_intercept:
            both += np.concatenate([intercept[block], direction_intercept[block]]).astype(
                both.dtype, copy=False
            )
        width = block.stop - block.start
        return both[:, :width], both[:, width:]

    hess_coef = _zeros_like_coef(X, n_classes)
    hess_intercept = np.zeros(n_classes, dtype=X.dtype) if with_intercept else None
    for rows in _row_chunks(X.shape[0], row_block):
        X_rows, weights = X[rows], _part(sample_weight, rows)
        running = RunningLogSumExp(X_rows.shape[0], X.dtype, extra=True)
        for block in blocks:
            running.add(*logits_and_changes(X_rows, block))
        mean_change = (running.extra / running.sum).astype(X.dtype)  # p^T r per row
        for block in blocks:
            logits, change = logits_and_changes(X_rows, block)
            proba = running.proba(logits)
            change -= mean_change[:, None]
            change *= proba
            _backward_add(X_rows, change, weights, hess_coef, hess_intercept, block)
    return hess_coef, hess_intercept


def hessian_diagonal_sum(X, coef, intercept, sample_weight, block_size, row_block=None):
    r"""The objective's Hessian-diagonal block sums by class blocks.

    :math:`\sum_k s_k p_{ki}(1 - p_{ki}) x_{kj}^2` and :math:`\sum_k s_k
    p_{ki}(1 - p_{ki})` (``SoftmaxObjective.hessian_diagonal``), the rows
    :math:`i \in B` from each block's probabilities :math:`e^{a_i - m}/s`.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_rows, n_features)
    coef : ndarray of shape (n_classes, n_features)
    intercept : ndarray of shape (n_classes,) or None
    sample_weight : ndarray of shape (n_rows,) or None
    block_size : int
        Classes per block.
    row_block : int or None, default=None
        Rows at a time, as in :func:`loss_sum`.

    Returns
    -------
    diag_coef_sum : ndarray of shape (n_classes, n_features)
    diag_intercept_sum : ndarray of shape (n_classes,) or None
    """
    X = sm._as_float_data(X)
    sample_weight = sm._as_weights(sample_weight, X)
    n_classes = coef.shape[0]
    blocks = class_blocks(n_classes, block_size)
    if sp.issparse(X):  # squared values on X's own index arrays, duplicates summed first
        if not X.has_canonical_format:
            X = X.tocsr(copy=True)
            X.sum_duplicates()
        squares = sp.csr_matrix((np.square(X.data), X.indices, X.indptr), shape=X.shape)
    else:
        squares = np.square(X)
    diag_coef = _zeros_like_coef(X, n_classes)
    diag_intercept = None if intercept is None else np.zeros(n_classes, dtype=X.dtype)
    for rows in _row_chunks(X.shape[0], row_block):
        X_rows, weights = X[rows], _part(sample_weight, rows)
        running = RunningLogSumExp(X_rows.shape[0], X.dtype)
        for block in blocks:
            running.add(block_logits(X_rows, coef, intercept, block))
        for block in blocks:
            proba = running.proba(block_logits(X_rows, coef, intercept, block))
            curvature = proba * (1 - proba)
            _backward_add(squares[rows], curvature, weights, diag_coef, diag_intercept, block)
    return diag_coef, diag_intercept
