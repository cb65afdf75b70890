r"""Second-order statistics of the data for the Newton solvers, summed over a data source.

With :math:`\tilde x = [x; 1]` when fitting an intercept (else :math:`\tilde x = x`),
:math:`J(p) = \operatorname{diag}(p) - p p^T` the softmax Jacobian (``docs/math.md``,
sections 5 and 9) and sample weights :math:`s_k`, the Hessian of the objective in the
parameters seen as the :math:`c \times \tilde d` matrix :math:`[W \mid b]` is

.. math::

    H = \frac{\sum_k s_k\, J(p_k) \otimes \tilde x_k \tilde x_k^T}{\sum_k s_k}
        + \alpha\, (I_c \otimes \operatorname{diag}(1, \dots, 1, 0)),

(the last diagonal entry of each class block is the intercept's, which is not
penalised). This module computes, each in one pass of ``data.reduce``:

* :func:`feature_moment`: :math:`S = \sum_k s_k \tilde x_k \tilde x_k^T / \sum_k s_k`
  (:math:`\tilde d \times \tilde d`), the data's factor of the Kronecker
  approximation :math:`H \approx A \otimes S + \alpha I`;
* :func:`class_curvature`: :math:`A = \sum_k s_k J(p_k) / \sum_k s_k`
  (:math:`c \times c`), its class factor, at given parameters;
* :func:`full_hessian`: :math:`H` itself, :math:`(c \tilde d)^2` numbers (an oracle for
  tests and measurements; exact Newton with it was measured slower than Newton-CG,
  ``docs/solvers.md``).

The first two may use every ``row_step``-th row of each block only (a
systematic subsample: a preconditioner needs no exact statistics). Block
functions take ``(X_block, y_block, weight_block, *args)``; ``X_block`` may be
dense or CSR, float32 or float64, and ``weight_block`` None (all ones).
Products run in ``X``'s dtype; sums are float64.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.linalg.blas import dsyrk as _dsyrk

from softmax_classifier import math as sm

__all__ = ["class_curvature", "feature_moment", "full_hessian", "to_flat_layout"]

# Rows per chunk of the full Hessian's (rows, c * d~) work array: keeps it at a few MB.
_HESSIAN_CHUNK_ENTRIES = 1 << 20


def feature_moment(data, fit_intercept, *, row_step=1):
    r"""Weighted second moment :math:`S = \sum_k s_k \tilde x_k \tilde x_k^T / \sum_k s_k`.

    Parameters
    ----------
    data : data source
        Provides ``reduce(block_fn, *args)``.
    fit_intercept : bool
        Whether :math:`\tilde x` ends with a constant 1 (then the last row
        and column of ``S`` are the weighted mean of ``x`` and 1).
    row_step : int, default=1
        Use rows ``0, row_step, 2 row_step, ...`` of each block only.

    Returns
    -------
    ndarray of shape (d~, d~), float64
        ``d~ = n_features + fit_intercept``; symmetric positive semidefinite.
    """
    gram, column_sums, weight_sum = data.reduce(_moment_block, int(row_step))
    if fit_intercept:
        d = gram.shape[0]
        moment = np.empty((d + 1, d + 1))
        moment[:d, :d] = gram
        moment[:d, d] = moment[d, :d] = column_sums
        moment[d, d] = weight_sum
    else:
        moment = np.array(gram, dtype=np.float64)
    return moment / weight_sum


def class_curvature(data, coef, intercept=None, *, row_step=1):
    r"""Mean softmax Jacobian :math:`A = \sum_k s_k J(p_k) / \sum_k s_k`.

    :math:`J(p) = \operatorname{diag}(p) - p p^T` (``docs/math.md``, section 9).

    Parameters
    ----------
    data : data source
    coef : ndarray of shape (n_classes, n_features)
    intercept : ndarray of shape (n_classes,) or None
    row_step : int, default=1
        Use rows ``0, row_step, 2 row_step, ...`` of each block only.

    Returns
    -------
    ndarray of shape (n_classes, n_classes), float64
        Symmetric positive semidefinite, with rows summing to zero
        (:math:`A \mathbf 1 = 0`, ``docs/math.md`` section 9).
    """
    coef = np.asarray(coef, dtype=np.float64)
    mean_proba, outer, weight_sum = data.reduce(_jacobian_block, coef, intercept, int(row_step))
    return (np.diag(mean_proba) - outer) / weight_sum


def full_hessian(data, coef, intercept, alpha):
    r"""The objective's Hessian :math:`H` in the ``[W | b]`` layout, float64.

    Computed as :math:`\sum_k s_k (\operatorname{diag}(p_k) \otimes \tilde x_k
    \tilde x_k^T) - Z^T Z` with :math:`Z_{k, (i, j)} = \sqrt{s_k}\, p_{ki}
    \tilde x_{kj}`, divided by :math:`\sum_k s_k`, plus :math:`\alpha` on the
    diagonal entries of ``W``: :math:`c` products of :math:`\tilde d \times
    \tilde d` and one of :math:`c \tilde d \times c \tilde d` per block, about
    :math:`n \tilde d^2 c (c + 2) / 2` multiply-adds in all.

    Parameters
    ----------
    data : data source
    coef : ndarray of shape (n_classes, n_features)
    intercept : ndarray of shape (n_classes,) or None
        None: no intercept (``d~ = n_features``).
    alpha : float

    Returns
    -------
    ndarray of shape (n_classes * d~, n_classes * d~)
        Row and column ``i * d~ + j`` belong to class ``i`` and column ``j`` of
        ``[W | b]``; :func:`to_flat_layout` reorders it to the objective's
        flat parameter vector.
    """
    coef = np.asarray(coef, dtype=np.float64)
    n_classes, n_features = coef.shape
    with_intercept = intercept is not None
    d_tilde = n_features + int(with_intercept)
    hessian, weight_sum = data.reduce(_hessian_block, coef, intercept)
    hessian /= weight_sum
    # Z^T Z was accumulated in its upper triangle only (syrk); mirror it.
    lower = np.tril_indices(n_classes * d_tilde, -1)
    hessian[lower] = hessian.T[lower]
    penalised = np.ones((n_classes, d_tilde), dtype=bool)
    if with_intercept:
        penalised[:, -1] = False
    hessian[np.diag_indices_from(hessian)] += alpha * penalised.ravel()
    return hessian


def to_flat_layout(n_classes, n_features, fit_intercept, layout="class-major"):
    """Index array mapping the objective's flat parameters to the ``[W | b]`` layout.

    Parameters
    ----------
    n_classes, n_features : int
    fit_intercept : bool
    layout : {"class-major", "feature-major"}, default="class-major"
        The objective's ``layout``: ``coef`` row by row, or ``coef.T`` row by row.

    Returns
    -------
    ndarray of shape (n_params,), int
        ``order[m]`` is the ``[W | b]`` index (``i * d~ + j``) of flat parameter
        ``m`` (the coefficients in ``layout``'s order, then the intercepts), so
        that ``H_flat = H[np.ix_(order, order)]``.
    """
    d_tilde = n_features + int(bool(fit_intercept))
    grid = np.arange(n_classes * d_tilde).reshape(n_classes, d_tilde)
    coef_part = grid[:, :n_features]
    parts = [coef_part.T.ravel() if layout == "feature-major" else coef_part.ravel()]
    if fit_intercept:
        parts.append(grid[:, n_features])
    return np.concatenate(parts)


# -- block functions ----------------------------------------------------------


def _subsample(X, y, weights, row_step):
    if row_step <= 1:
        return X, weights
    rows = slice(0, X.shape[0], row_step)
    return X[rows], None if weights is None else weights[rows]


def _moment_block(X, y, weights, row_step):
    """``(X^T diag(s) X, s^T X, sum s)`` of (every ``row_step``-th row of) one block."""
    X, weights = _subsample(sm._as_float_data(X), y, weights, row_step)
    if X.shape[0] == 0:
        return np.zeros((X.shape[1], X.shape[1])), np.zeros(X.shape[1]), 0.0
    if weights is None:
        scaled, weight_sum = X, float(X.shape[0])
        column_sums = np.asarray(X.sum(axis=0, dtype=np.float64)).ravel()
    else:
        weights = np.asarray(weights, dtype=X.dtype)
        weight_sum = float(np.sum(weights, dtype=np.float64))
        column_sums = np.asarray(X.T @ weights, dtype=np.float64).ravel()
        root = np.sqrt(weights)
        scaled = sp.diags(root) @ X if sp.issparse(X) else X * root[:, None]
    if sp.issparse(scaled):
        gram = (scaled.T @ scaled).toarray()
    else:
        gram = scaled.T @ scaled  # one symmetric product (NumPy calls syrk for A^T A)
    return gram.astype(np.float64, copy=False), column_sums, weight_sum


def _jacobian_block(X, y, weights, coef, intercept, row_step):
    """``(sum_k s_k p_k, sum_k s_k p_k p_k^T, sum s)`` of every ``row_step``-th row of a block."""
    X, weights = _subsample(sm._as_float_data(X), y, weights, row_step)
    proba = sm.softmax(sm.raw_prediction(X, coef, intercept)).astype(np.float64, copy=False)
    if weights is None:
        weighted, weight_sum = proba, float(X.shape[0])
    else:
        weights = np.asarray(weights, dtype=np.float64)
        weighted, weight_sum = proba * weights[:, None], float(weights.sum())
    return weighted.sum(axis=0), proba.T @ weighted, weight_sum


def _hessian_block(X, y, weights, coef, intercept):
    """``(sum_k s_k J(p_k) (x) x~_k x~_k^T, sum s)`` of one block; the Z^T Z part upper only."""
    X = sm._as_float_data(X)
    n_classes, n_features = coef.shape
    with_intercept = intercept is not None
    d_tilde = n_features + int(with_intercept)
    size = n_classes * d_tilde
    hessian = np.zeros((size, size))
    chunk = max(1, _HESSIAN_CHUNK_ENTRIES // size)
    for start in range(0, X.shape[0], chunk):
        rows = slice(start, start + chunk)
        X_rows = X[rows]
        X_tilde = X_rows.toarray() if sp.issparse(X_rows) else X_rows
        X_tilde = np.asarray(X_tilde, dtype=np.float64)
        if with_intercept:
            X_tilde = np.hstack([X_tilde, np.ones((X_tilde.shape[0], 1))])
        proba = sm.softmax(sm.raw_prediction(X_tilde[:, :n_features], coef, intercept))
        if weights is not None:
            proba *= np.sqrt(np.asarray(weights[rows], dtype=np.float64))[:, None]
        # Z[k, (i, j)] = sqrt(s_k) p_ki x~_kj; its Gram is the p p^T part.
        Z = (proba[:, :, None] * X_tilde[:, None, :]).reshape(X_tilde.shape[0], size)
        hessian -= _upper_gram(Z)
        if weights is not None:  # sqrt(s) p carries one sqrt(s); the diagonal needs s p
            proba *= np.sqrt(np.asarray(weights[rows], dtype=np.float64))[:, None]
        for i in range(n_classes):
            block = slice(i * d_tilde, (i + 1) * d_tilde)
            hessian[block, block] += (X_tilde * proba[:, i : i + 1]).T @ X_tilde
    weight_sum = float(X.shape[0] if weights is None else np.sum(weights, dtype=np.float64))
    return hessian, weight_sum


def _upper_gram(Z):
    """``Z^T Z`` with only its upper triangle filled (BLAS syrk): half the work of a product."""
    # Z.T is Fortran-ordered: syrk reads it without a copy.
    return _dsyrk(1.0, Z.T, trans=0, lower=0)
