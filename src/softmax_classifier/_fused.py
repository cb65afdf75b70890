"""Fused compiled block kernels; the NumPy formulas of ``math`` are their reference.

One pass of the objective over a block of rows computes the logits
``X @ coef.T + intercept``, the softmax, and the chain rule back through
``X``. In NumPy that is two skinny matrix products, each reading ``X`` once,
with ``(n_rows, n_classes)`` temporaries between them. The C kernels in
``_kernels.c`` do the same arithmetic tile by tile: a tile of rows gives its
logits, residuals and share of the gradient while it is still in cache, so
``X`` is read from memory once per pass, and sums over rows are accumulated
in float64 (``benchmarks/bench_pass.py`` measures it against reading ``X``).
For CSR blocks they touch, for each stored entry, one row of the transposed
coefficients, which is what the sparse products of SciPy do less directly.

Every function here returns exactly what its counterpart in
:mod:`softmax_classifier.math` returns (``tests/test_kernels.py`` checks them
against each other: float64 to 1e-10, float32 to the bound stated there), or
``None`` where the kernels do not apply, and the caller then uses the
reference:

* the compiled module did not build or import (a machine without a C
  compiler: the package still installs and works, more slowly), or the
  environment variable ``SOFTMAX_CLASSIFIER_KERNELS=numpy`` asks for the
  reference (benchmarks and tests compare the two that way);
* ``X`` is not float32/float64, or dense but not C-contiguous, or sparse but
  not CSR.

Coefficient layouts
-------------------
A kernel reads ``coef`` in the order that makes its inner loops contiguous:
for dense ``X``, ``coef`` as (n_classes, n_features) in C order; for CSR,
``coef.T`` as (n_features, n_classes) in C order (``coef`` in Fortran order).
:func:`coef_layout` makes that layout once per pass; any other ``coef`` is
converted here, per block.
"""

from __future__ import annotations

import os

import numpy as np
import scipy.sparse as sp

try:  # built by the package's build (setup.py); optional, see the module docstring
    from softmax_classifier import _kernels
except ImportError:  # pragma: no cover - only without a C compiler at install time
    _kernels = None

__all__ = [
    "coef_layout",
    "hessian_product_sum",
    "kernel_variant",
    "loss_gradient_sum",
    "loss_sum",
    "stacked_layout",
]

_ENV = "SOFTMAX_CLASSIFIER_KERNELS"


def kernel_variant():
    """Which kernels run: ``"avx2"``, ``"baseline"``, or ``"numpy"`` (the reference).

    Returns
    -------
    str
        The compiled variant the CPU supports, or ``"numpy"`` when the
        compiled module is missing or ``SOFTMAX_CLASSIFIER_KERNELS=numpy``.
    """
    if _kernels is None or os.environ.get(_ENV, "").strip().lower() == "numpy":
        return "numpy"
    return _kernels.variant


def _applies(X):
    """Whether the kernels handle block ``X`` (dtype, format, memory order)."""
    if kernel_variant() == "numpy" or X.dtype not in (np.float32, np.float64):
        return False
    if sp.issparse(X):
        return X.format == "csr" and X.indices.dtype == X.indptr.dtype
    return isinstance(X, np.ndarray) and X.ndim == 2 and X.flags.c_contiguous


def coef_layout(coef, dtype, sparse):
    """``coef`` (n_classes, n_features) as the kernels read it, in ``dtype``.

    Parameters
    ----------
    coef : ndarray of shape (n_classes, n_features)
    dtype : numpy dtype
        X's dtype.
    sparse : bool
        Whether X is sparse (CSR).

    Returns
    -------
    ndarray of shape (n_classes, n_features)
        C order for dense X; Fortran order for sparse X (its transpose,
        (n_features, n_classes), is C order). NumPy's products accept
        either, so the reference path can use it too.
    """
    if sparse:
        return np.asfortranarray(coef, dtype=dtype)
    return np.ascontiguousarray(coef, dtype=dtype)


def stacked_layout(point_layout, direction_coef, sparse):
    """``vstack([coef, direction_coef])`` laid out as the kernels read it.

    Parameters
    ----------
    point_layout : ndarray of shape (n_classes, n_features)
        ``coef_layout(coef, dtype, sparse)``: Newton-CG multiplies many
        directions by the Hessian at one point, so the caller lays the point
        out once and keeps it.
    direction_coef : ndarray of shape (n_classes, n_features)
    sparse : bool

    Returns
    -------
    ndarray of shape (2 * n_classes, n_features)
        In ``point_layout``'s dtype, as :func:`coef_layout` of the stack
        (built without the stack: for sparse X, the point's half is copied
        from its transposed layout row by row).
    """
    n_classes, n_features = point_layout.shape
    if sparse:  # (n_features, 2c) in C order: per feature the point's c, then the direction's
        both = np.empty((n_features, 2 * n_classes), dtype=point_layout.dtype)
        both[:, :n_classes] = point_layout.T
        both[:, n_classes:] = direction_coef.T
        return both.T
    both = np.empty((2 * n_classes, n_features), dtype=point_layout.dtype)
    both[:n_classes] = point_layout
    both[n_classes:] = direction_coef
    return both


def _as_layout(coef, X):
    """``coef`` as the kernel for block ``X`` reads it (no copy when it already is)."""
    return coef_layout(coef, X.dtype, sp.issparse(X))


def _vector(values, dtype):
    return None if values is None else np.ascontiguousarray(values, dtype=dtype)


def _labels(y):
    return np.ascontiguousarray(y, dtype=np.int64)


def _weight_sum(sample_weight, n_rows):
    if sample_weight is None:
        return float(n_rows)
    return float(np.sum(sample_weight, dtype=np.float64))


def loss_sum(coef, intercept, X, y, sample_weight):
    """:func:`softmax_classifier.math._loss_sum` by the compiled kernel, or None.

    Parameters
    ----------
    coef : ndarray of shape (n_classes, n_features)
    intercept : ndarray of shape (n_classes,) or None
    X : ndarray or CSR matrix of shape (n_rows, n_features)
    y : ndarray of shape (n_rows,)
        Class indices in ``0 .. n_classes - 1``.
    sample_weight : ndarray of shape (n_rows,) or None

    Returns
    -------
    (loss_sum, weight_sum) : tuple of float, or None
    """
    result = _loss_gradient(coef, intercept, X, y, sample_weight, with_gradient=False)
    return None if result is None else (result[0], result[3])


def loss_gradient_sum(coef, intercept, X, y, sample_weight):
    """:func:`softmax_classifier.math._loss_gradient_sum` by the compiled kernel, or None.

    Parameters
    ----------
    As :func:`loss_sum`.

    Returns
    -------
    loss_sum : float
    grad_coef_sum : ndarray of shape (n_classes, n_features), float64
        In Fortran order for CSR ``X``.
    grad_intercept_sum : ndarray of shape (n_classes,), float64, or None
    weight_sum : float

    Or None where the kernels do not apply.
    """
    return _loss_gradient(coef, intercept, X, y, sample_weight, with_gradient=True)


def _loss_gradient(coef, intercept, X, y, sample_weight, *, with_gradient):
    if not _applies(X):
        return None
    n_classes, n_features = coef.shape
    dtype = X.dtype
    coef = _as_layout(coef, X)
    intercept = _vector(intercept, dtype)
    weights = _vector(sample_weight, dtype)
    y = _labels(y)
    grad_intercept = np.zeros(n_classes) if with_gradient and intercept is not None else None
    if sp.issparse(X):
        grad_t = np.zeros((n_features, n_classes)) if with_gradient else None
        loss = _kernels.csr_loss_grad(
            X.data, X.indices, X.indptr, n_features, y, weights, coef.T, intercept, grad_t,
            grad_intercept,
        )  # fmt: skip
        grad_coef = None if grad_t is None else grad_t.T
    else:
        grad_coef = np.zeros((n_classes, n_features)) if with_gradient else None
        loss = _kernels.dense_loss_grad(X, y, weights, coef, intercept, grad_coef, grad_intercept)
    return loss, grad_coef, grad_intercept, _weight_sum(sample_weight, X.shape[0])


def hessian_product_sum(stacked_coef, intercept, direction_intercept, X, sample_weight):
    """Block sums of the Hessian-vector product by the compiled kernel, or None.

    The same sums as :func:`softmax_classifier.math._hessian_product_sum` at
    the probabilities ``softmax(X @ coef.T + intercept)`` and the logit change
    ``X @ direction_coef.T + direction_intercept``.

    Parameters
    ----------
    stacked_coef : ndarray of shape (2 * n_classes, n_features)
        ``coef`` then ``direction_coef``, ideally from :func:`stacked_layout`.
    intercept, direction_intercept : ndarray of shape (n_classes,) or None
        Both None when there is no intercept.
    X : ndarray or CSR matrix of shape (n_rows, n_features)
    sample_weight : ndarray of shape (n_rows,) or None

    Returns
    -------
    (hess_coef_sum, hess_intercept_sum) : tuple, or None
        float64 arrays of shapes (n_classes, n_features) (Fortran order for
        CSR) and (n_classes,) or None.
    """
    if not _applies(X):
        return None
    n_classes = stacked_coef.shape[0] // 2
    n_features = stacked_coef.shape[1]
    dtype = X.dtype
    stacked_coef = _as_layout(stacked_coef, X)
    both_intercepts = None
    if intercept is not None:
        both_intercepts = np.concatenate([intercept, direction_intercept]).astype(dtype)
    weights = _vector(sample_weight, dtype)
    hess_intercept = None if intercept is None else np.zeros(n_classes)
    if sp.issparse(X):
        hess_t = np.zeros((n_features, n_classes))
        _kernels.csr_hessp(
            X.data, X.indices, X.indptr, n_features, weights, stacked_coef.T, both_intercepts,
            hess_t, hess_intercept,
        )  # fmt: skip
        return hess_t.T, hess_intercept
    hess_coef = np.zeros((n_classes, n_features))
    _kernels.dense_hessp(X, weights, stacked_coef, both_intercepts, hess_coef, hess_intercept)
    return hess_coef, hess_intercept
