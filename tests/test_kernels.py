"""The compiled block kernels (softmax_classifier._fused) against the NumPy formulas of math.py.

The NumPy functions are the reference: every kernel must return the same block
sums on dense and CSR blocks, weighted and unweighted, with and without an
intercept, in float32 and float64, over shapes that cross every tile and
vector boundary of the C code (classes 1..30 cover its 4-, 2- and 1-class
paths and its narrow-X form with 1 to 8 vectors of classes for 7 to 1 rows at
a time; 1..701 features its vector tails and L1-sized feature slices), and
through the objective with one and several threads.

Tolerances. float64: both sides sum the same products in different orders, so
they differ by a few units of roundoff times the number of terms (< 1e-13
relative here); 1e-10 is the issue's bound and leaves three orders of margin.
float32: the products are float32 on both sides; an entry sums at most
n_features * n_rows float32 roundings of relative size 6e-8 (2**-24), which
for these shapes (< 40 features, sums accumulated in float64 by the kernel
and per BLAS block by NumPy) stays below 1e-5 relative to the largest entry;
measured: < 4e-7.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import scipy.sparse as sp

from softmax_classifier import _fused
from softmax_classifier import math as sm
from softmax_classifier.data import InMemoryData
from softmax_classifier.objective import SoftmaxObjective

# The build must produce the kernels wherever the tests run (CI included): a
# missing compiler makes the install fall back to NumPy silently, so it fails
# here, unless the reference was asked for on purpose.
_REFERENCE_REQUESTED = os.environ.get("SOFTMAX_CLASSIFIER_KERNELS", "").lower() == "numpy"


def test_the_compiled_kernels_are_built():
    if _REFERENCE_REQUESTED:
        pytest.skip("SOFTMAX_CLASSIFIER_KERNELS=numpy: the reference was asked for")
    from softmax_classifier import _kernels

    assert _kernels.variant in ("avx2", "baseline")
    assert _fused.kernel_variant() == _kernels.variant


needs_kernels = pytest.mark.skipif(
    _REFERENCE_REQUESTED, reason="SOFTMAX_CLASSIFIER_KERNELS=numpy: the reference was asked for"
)

RTOL = {np.float64: 1e-10, np.float32: 1e-5}


def _problem(rng, n, d, c, dtype, *, sparse, weighted, intercept):
    if sparse:
        X = sp.random(n, d, density=0.3, format="csr", random_state=rng, dtype=np.float64)
        X = X.astype(dtype)
    else:
        X = rng.standard_normal((n, d)).astype(dtype)
    y = rng.integers(0, c, n)
    w = rng.random(n).astype(dtype) if weighted else None
    coef = rng.standard_normal((c, d)) * 0.5
    b = rng.standard_normal(c) if intercept else None
    return X, y, w, coef, b


def _close(actual, expected, dtype):
    actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(expected, np.float64)
    scale = max(float(np.max(np.abs(expected), initial=0.0)), 1e-300)
    assert np.max(np.abs(actual - expected), initial=0.0) <= RTOL[dtype] * scale


CASES = [
    (dtype, sparse, weighted, intercept)
    for dtype in (np.float64, np.float32)
    for sparse in (False, True)
    for weighted in (False, True)
    for intercept in (False, True)
]

# The sparse kernels take a block by rows (CSR) or by columns (CSC, for wide X
# with many classes: _fused.by_columns); both are checked on every sparse case.
FORM_CASES = [
    (dtype, sparse, weighted, intercept, form)
    for dtype, sparse, weighted, intercept in CASES
    for form in (("rows", "columns") if sparse else ("dense",))
]


def _use_form(monkeypatch, form):
    monkeypatch.setattr(_fused, "by_columns", lambda X, n_classes: form == "columns")


@needs_kernels
@pytest.mark.parametrize(("dtype", "sparse", "weighted", "intercept", "form"), FORM_CASES)
@pytest.mark.parametrize(
    ("n", "d", "c"),
    [
        (1, 1, 2),
        (7, 3, 1),
        (50, 9, 3),
        (301, 37, 9),
        (23, 701, 5),
        (9, 40, 30),
        (40, 12, 21),
        (33, 6, 26),
    ],
)
def test_loss_and_gradient_equal_the_numpy_formulas(
    n, d, c, dtype, sparse, weighted, intercept, form, monkeypatch
):
    _use_form(monkeypatch, form)
    rng = np.random.default_rng(n * 1000 + d * 10 + c)
    X, y, w, coef, b = _problem(rng, n, d, c, dtype, sparse=sparse, weighted=weighted,
                                intercept=intercept)  # fmt: skip
    coef_x = coef.astype(dtype)
    b_x = None if b is None else b.astype(dtype)
    expected = sm._loss_gradient_sum(coef_x, b_x, X, y, w)
    fused = _fused.loss_gradient_sum(coef, b, X, y, w)
    _close(fused[0], expected[0], dtype)
    _close(fused[1], expected[1], dtype)
    assert (fused[2] is None) == (expected[2] is None)
    if b is not None:
        _close(fused[2], expected[2], dtype)
    assert fused[3] == pytest.approx(expected[3], rel=1e-12)
    loss_only = _fused.loss_sum(coef, b, X, y, w)
    _close(loss_only[0], expected[0], dtype)


@needs_kernels
@pytest.mark.parametrize(("dtype", "sparse", "weighted", "intercept", "form"), FORM_CASES)
@pytest.mark.parametrize(("n", "d", "c"), [(1, 1, 2), (50, 9, 3), (301, 37, 9), (23, 701, 5)])
def test_hessian_product_equals_the_numpy_formula(
    n, d, c, dtype, sparse, weighted, intercept, form, monkeypatch
):
    _use_form(monkeypatch, form)
    rng = np.random.default_rng(n + d + c)
    X, _, w, coef, b = _problem(rng, n, d, c, dtype, sparse=sparse, weighted=weighted,
                                intercept=intercept)  # fmt: skip
    direction = rng.standard_normal((c, d))
    direction_b = rng.standard_normal(c) if intercept else None
    cast = lambda a: None if a is None else a.astype(dtype)  # noqa: E731
    proba = sm.softmax(sm.raw_prediction(X, cast(coef), cast(b)))
    change = sm.raw_prediction(X, cast(direction), cast(direction_b))
    expected = sm._hessian_product_sum(X, proba, w, change, intercept)
    fused = _fused.hessian_product_sum(coef, direction, b, direction_b, X, w)
    _close(fused[0], expected[0], dtype)
    if intercept:
        _close(fused[1], expected[1], dtype)
    else:
        assert fused[1] is None


@needs_kernels
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_objective_with_kernels_equals_the_reference_on_one_and_two_threads(
    sparse, dtype, monkeypatch
):
    """The whole pass (blocks added in order, penalty) with kernels and with NumPy."""
    rng = np.random.default_rng(5)
    X, y, w, coef, b = _problem(rng, 600, 23, 5, dtype, sparse=sparse, weighted=True,
                                intercept=True)  # fmt: skip
    params = np.concatenate([coef.ravel(), b])
    direction = rng.standard_normal(params.size)
    results = {}
    for mode in ("kernels", "numpy"):
        if mode == "numpy":
            monkeypatch.setenv("SOFTMAX_CLASSIFIER_KERNELS", "numpy")
        for n_threads in (1, 2):
            data = InMemoryData(X, y, w, block_rows=97, n_threads=n_threads)
            objective = SoftmaxObjective(data, 5, alpha=0.01)
            value, grad = objective.value_and_grad(params)
            results[mode, n_threads] = (
                value,
                objective.value(params),
                grad,
                objective.hessp(params, direction),
            )
    expected = results["numpy", 1]
    for result in results.values():
        for got, want in zip(result, expected, strict=True):
            _close(got, want, dtype)


@needs_kernels
def test_csr_with_int64_indices_and_unsorted_duplicates():
    """scipy may give int64 indices; CSR blocks may hold unsorted or duplicate entries."""
    rng = np.random.default_rng(3)
    data = rng.standard_normal(8)
    indices = np.array([4, 1, 1, 0, 3, 3, 2, 4], dtype=np.int64)
    indptr = np.array([0, 3, 3, 8], dtype=np.int64)
    X = sp.csr_matrix((data, indices, indptr), shape=(3, 5))
    X.indices, X.indptr = indices, indptr  # scipy downcasts small index arrays to int32
    assert X.indices.dtype == np.int64
    y = np.array([0, 2, 1])
    coef, b = rng.standard_normal((3, 5)), rng.standard_normal(3)
    expected = sm._loss_gradient_sum(coef, b, X.toarray(), y, None)
    fused = _fused.loss_gradient_sum(coef, b, X, y, None)
    for got, want in zip(fused, expected, strict=True):
        _close(got, want, np.float64)


@needs_kernels
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_columns_sliced_from_a_wider_array_are_taken_without_a_copy(dtype):
    """Rows ``ldx > n_features`` apart (scikit-learn's load_digits().data is such a view)."""
    rng = np.random.default_rng(8)
    wide = rng.standard_normal((301, 45)).astype(dtype)
    X = wide[:, 3:40]
    assert not X.flags.c_contiguous and _fused._applies(X)
    y, w = rng.integers(0, 6, 301), rng.random(301).astype(dtype)
    coef, b = rng.standard_normal((6, 37)), rng.standard_normal(6)
    direction, direction_b = rng.standard_normal((6, 37)), rng.standard_normal(6)
    dense = np.ascontiguousarray(X)
    for got, want in zip(
        _fused.loss_gradient_sum(coef, b, X, y, w),
        _fused.loss_gradient_sum(coef, b, dense, y, w),
        strict=True,
    ):
        np.testing.assert_array_equal(got, want)  # the same arithmetic in the same order
    for got, want in zip(
        _fused.hessian_product_sum(coef, direction, b, direction_b, X, w),
        _fused.hessian_product_sum(coef, direction, b, direction_b, dense, w),
        strict=True,
    ):
        np.testing.assert_array_equal(got, want)


@needs_kernels
def test_blocks_the_kernels_do_not_take_use_the_reference():
    """Integer data, Fortran-ordered blocks and COO input give None: the caller uses NumPy."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((10, 4))
    y, coef = rng.integers(0, 3, 10), rng.standard_normal((3, 4))
    assert _fused.loss_gradient_sum(coef, None, np.asfortranarray(X), y, None) is None
    assert _fused.loss_gradient_sum(coef, None, X[::-1], y, None) is None
    assert _fused.loss_gradient_sum(coef, None, X[:, ::2], y, None) is None
    assert _fused.loss_gradient_sum(coef, None, X.astype(np.int64), y, None) is None
    assert _fused.loss_gradient_sum(coef, None, sp.coo_matrix(X), y, None) is None


def test_env_variable_selects_the_reference(monkeypatch):
    monkeypatch.setenv("SOFTMAX_CLASSIFIER_KERNELS", "numpy")
    assert _fused.kernel_variant() == "numpy"
    X = np.ones((2, 2))
    assert _fused.loss_sum(np.ones((2, 2)), None, X, np.array([0, 1]), None) is None


@needs_kernels
@pytest.mark.parametrize("sparse", [False, True])
def test_bad_labels_raise_instead_of_reading_out_of_bounds(sparse):
    X = np.ones((3, 2))
    X = sp.csr_matrix(X) if sparse else X
    coef = np.zeros((2, 2))
    for y in (np.array([0, 1, 2]), np.array([0, -1, 1])):
        with pytest.raises(ValueError, match="class index"):
            _fused.loss_gradient_sum(coef, None, X, y, None)


@needs_kernels
def test_bad_csr_structure_raises():
    from softmax_classifier import _kernels

    data = np.ones(2)
    y, WT = np.zeros(2, dtype=np.int64), np.zeros((3, 2))
    bad_column = (data, np.array([0, 7], np.int32), np.array([0, 1, 2], np.int32))
    decreasing = (data, np.array([0, 1], np.int32), np.array([0, 2, 1], np.int32))
    short = (data, np.array([0, 1], np.int32), np.array([0, 1, 5], np.int32))
    for arrays in (bad_column, decreasing, short):
        with pytest.raises(ValueError):
            _kernels.csr_loss_grad(*arrays, 3, y, None, WT, None, np.zeros((3, 2)), None)
        with pytest.raises(ValueError):
            _kernels.csr_hessp(*arrays, 3, None, WT, WT, None, None, np.zeros((3, 2)), None)


@needs_kernels
def test_bad_csc_structure_raises():
    """By columns: indptr has n_features + 1 entries and indices are row numbers."""
    from softmax_classifier import _kernels

    data = np.ones(2)
    y, WT, GT = np.zeros(3, dtype=np.int64), np.zeros((2, 2)), np.zeros((2, 2))
    bad_row = (data, np.array([0, 7], np.int32), np.array([0, 1, 2], np.int32))
    decreasing = (data, np.array([0, 1], np.int32), np.array([0, 2, 1], np.int32))
    short = (data, np.array([0, 1], np.int32), np.array([0, 1, 5], np.int32))
    for arrays in (bad_row, decreasing, short):
        with pytest.raises(ValueError):
            _kernels.csc_loss_grad(*arrays, 3, y, None, WT, None, GT, None)
        with pytest.raises(ValueError):
            _kernels.csc_hessp(*arrays, 3, None, WT, WT, None, None, GT, None)
    good = (data, np.array([0, 2], np.int32), np.array([0, 1, 2], np.int32))
    with pytest.raises(ValueError, match="class index"):
        _kernels.csc_loss_grad(*good, 3, np.array([0, 5, 1]), None, WT, None, GT, None)
    with pytest.raises(ValueError, match="VT must"):
        _kernels.csc_hessp(*good, 3, None, WT, np.zeros((3, 2)), None, None, GT, None)
    with pytest.raises(ValueError, match="both given"):
        _kernels.csc_hessp(*good, 3, None, WT, WT, np.zeros(2), None, GT, None)


@needs_kernels
def test_wrong_shapes_and_dtypes_raise():
    from softmax_classifier import _kernels

    X = np.ones((4, 3))
    y = np.zeros(4, dtype=np.int64)
    G = np.zeros((2, 3))
    with pytest.raises(ValueError, match="W must be"):
        _kernels.dense_loss_grad(X, y, None, np.zeros((2, 5)), None, G, None)
    with pytest.raises(ValueError, match="y and w"):
        _kernels.dense_loss_grad(X, y[:3], None, np.zeros((2, 3)), None, G, None)
    with pytest.raises(ValueError, match="dtype"):
        _kernels.dense_loss_grad(X, y, None, np.zeros((2, 3), np.float32), None, G, None)
    with pytest.raises(ValueError, match="G must"):
        _kernels.dense_loss_grad(X, y, None, np.zeros((2, 3)), None, np.zeros((3, 3)), None)
    with pytest.raises((ValueError, BufferError)):
        _kernels.dense_loss_grad(X.T, y[:3], None, np.zeros((2, 4)), None, G, None)
    with pytest.raises(ValueError, match="each row must be contiguous"):
        _kernels.dense_loss_grad(X[::-1], y, None, np.zeros((2, 3)), None, G, None)


@needs_kernels
def test_non_finite_logits_give_a_non_finite_loss_like_the_reference():
    X = np.array([[np.inf, 1.0], [1.0, 2.0]])
    y, coef = np.array([0, 1]), np.ones((2, 2))
    fused = _fused.loss_gradient_sum(coef, None, X, y, None)
    with np.errstate(invalid="ignore"):
        expected = sm._loss_gradient_sum(coef, None, X, y, None)
    assert np.isnan(fused[0]) == np.isnan(expected[0])
    assert not np.isfinite(fused[0])
