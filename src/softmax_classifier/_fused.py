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
When those rows are spread over more memory than the caches hold (wide X,
many classes), every stored entry waits on memory; then the block is taken
by columns instead (:func:`by_columns`), so that the coefficients are read
once, in order, and the random accesses go to the block's logits.

Every function here returns exactly what its counterpart in
:mod:`softmax_classifier.math` returns (``tests/test_kernels.py`` checks them
against each other: float64 to 1e-10, float32 to the bound stated there), or
``None`` where the kernels do not apply, and the caller then uses the
reference:

* the compiled module did not build or import (a machine without a C
  compiler: the package still installs and works, more slowly), or the
  environment variable ``SOFTMAX_CLASSIFIER_KERNELS=numpy`` asks for the
  reference (benchmarks and tests compare the two that way);
* ``X`` is not float32/float64, or dense with rows that are not each
  contiguous (Fortran order), or sparse but not CSR.

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
    "by_columns",
    "coef_layout",
    "hessian_product_sum",
    "kernel_variant",
    "loss_gradient_sum",
    "loss_sum",
    "stacked_layout",
]

_ENV = "SOFTMAX_CLASSIFIER_KERNELS"

# by_columns(): coefficients beyond this many bytes miss the caches when read
# in random order, and a block is taken by columns when it has fewer rows
# than X has features. Measured 2026-12-02 (AMD EPYC, L2 512 KiB, value and
# gradient / Hessian product, rows -> columns): 0.8 MB of coefficients
# 86-106 -> 100-108 ms / 127-140 -> 152 ms (rows win); 3.2 MB about even;
# 8 MB (benchmarks' sparse 100000 x 50000) 332-388 -> 206-270 ms / 480-520 ->
# 245-289 ms; sector's 46 MB 480-580 -> 428-516 ms / 845-954 -> 480-564 ms.
_COLUMNS_MIN_COEF_BYTES = 4 * 2**20


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
    return isinstance(X, np.ndarray) and X.ndim == 2 and _rows_contiguous(X)


def _rows_contiguous(X):
    """Whether each row of 2-D ``X`` is contiguous, rows in increasing order.

    True for C order and for columns sliced from a C-ordered array (such as
    scikit-learn's ``load_digits().data``): the dense kernels take the row
    stride and need no copy. False for Fortran order and reversed rows.
    """
    n_rows, n_features = X.shape
    item, (row, column) = X.itemsize, X.strides
    return (n_features <= 1 or column == item) and (
        n_rows <= 1 or (row >= n_features * item and row % item == 0)
    )


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


def stacked_layout(point_layout, direction_coef):
    """``vstack([coef, direction_coef])`` for the dense Hessian kernel, in ``point_layout``'s dtype.

    One product ``X @ stacked.T`` then gives both the logits and their change
    (a skinny product with 2c columns costs little more than with c). The
    sparse kernels take the two apart and need no stack.

    Parameters
    ----------
    point_layout : ndarray of shape (n_classes, n_features)
        ``coef_layout(coef, dtype, sparse=False)``.
    direction_coef : ndarray of shape (n_classes, n_features)

    Returns
    -------
    ndarray of shape (2 * n_classes, n_features), C order
    """
    n_classes, n_features = point_layout.shape
    both = np.empty((2 * n_classes, n_features), dtype=point_layout.dtype)
    both[:n_classes] = point_layout
    both[n_classes:] = direction_coef
    return both


def by_columns(X, n_classes):
    """Whether the sparse kernels should take CSR block ``X`` by columns (CSC).

    By rows, each stored entry reads ``n_classes`` coefficients of its
    column, from anywhere in the ``n_features * n_classes`` of them; by
    columns, it updates ``n_classes`` logits of its row, from anywhere in the
    block's ``n_rows * n_classes``, and the coefficients are read in order.
    Columns win when the coefficients are too many to stay in cache and the
    block has fewer rows than ``X`` has columns, the conversion to CSC
    included (the measurements are by ``_COLUMNS_MIN_COEF_BYTES``).

    Parameters
    ----------
    X : CSR matrix of shape (n_rows, n_features)
    n_classes : int

    Returns
    -------
    bool
    """
    n_rows, n_features = X.shape
    itemsize = X.dtype.itemsize
    return n_features * n_classes * itemsize > _COLUMNS_MIN_COEF_BYTES and n_rows < n_features


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
        kernel, X, minor = _sparse_form(
            X, n_classes, _kernels.csr_loss_grad, _kernels.csc_loss_grad
        )
        loss = kernel(
            X.data, X.indices, X.indptr, minor, y, weights, coef.T, intercept, grad_t,
            grad_intercept,
        )  # fmt: skip
        grad_coef = None if grad_t is None else grad_t.T
    else:
        grad_coef = np.zeros((n_classes, n_features)) if with_gradient else None
        loss = _kernels.dense_loss_grad(X, y, weights, coef, intercept, grad_coef, grad_intercept)
    return loss, grad_coef, grad_intercept, _weight_sum(sample_weight, X.shape[0])


def hessian_product_sum(coef, direction_coef, intercept, direction_intercept, X, sample_weight,
                        stacked=None):  # fmt: skip
    """Block sums of the Hessian-vector product by the compiled kernel, or None.

    The same sums as :func:`softmax_classifier.math._hessian_product_sum` at
    the probabilities ``softmax(X @ coef.T + intercept)`` and the logit change
    ``X @ direction_coef.T + direction_intercept``.

    Parameters
    ----------
    coef, direction_coef : ndarray of shape (n_classes, n_features)
        Ideally from :func:`coef_layout` (no copy then).
    intercept, direction_intercept : ndarray of shape (n_classes,) or None
        Both None when there is no intercept.
    X : ndarray or CSR matrix of shape (n_rows, n_features)
    sample_weight : ndarray of shape (n_rows,) or None
    stacked : ndarray of shape (2 * n_classes, n_features), optional
        :func:`stacked_layout` of the two, for dense ``X`` (made here if not
        given); unused for sparse ``X``.

    Returns
    -------
    (hess_coef_sum, hess_intercept_sum) : tuple, or None
        float64 arrays of shapes (n_classes, n_features) (Fortran order for
        CSR) and (n_classes,) or None.
    """
    if not _applies(X):
        return None
    n_classes, n_features = coef.shape
    dtype = X.dtype
    weights = _vector(sample_weight, dtype)
    hess_intercept = None if intercept is None else np.zeros(n_classes)
    if sp.issparse(X):
        hess_t = np.zeros((n_features, n_classes))
        kernel, X, minor = _sparse_form(X, n_classes, _kernels.csr_hessp, _kernels.csc_hessp)
        kernel(
            X.data, X.indices, X.indptr, minor, weights, _as_layout(coef, X).T,
            _as_layout(direction_coef, X).T, _vector(intercept, dtype),
            _vector(direction_intercept, dtype), hess_t, hess_intercept,
        )  # fmt: skip
        return hess_t.T, hess_intercept
    if stacked is None:
        stacked = stacked_layout(_as_layout(coef, X), direction_coef)
    both_intercepts = None
    if intercept is not None:
        both_intercepts = np.concatenate([intercept, direction_intercept]).astype(dtype)
    hess_coef = np.zeros((n_classes, n_features))
    _kernels.dense_hessp(X, weights, _as_layout(stacked, X), both_intercepts, hess_coef,
                         hess_intercept)  # fmt: skip
    return hess_coef, hess_intercept


def _sparse_form(X, n_classes, by_rows_kernel, by_columns_kernel):
    """``(kernel, X in its form, the kernel's 4th argument)`` for CSR block ``X``."""
    if by_columns(X, n_classes):
        return by_columns_kernel, X.tocsc(), X.shape[0]
    return by_rows_kernel, X, X.shape[1]
