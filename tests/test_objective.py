"""Tests of ``SoftmaxObjective`` over the in-memory data source.

The oracle is the one-block mathematics of :mod:`softmax_classifier.math`
evaluated on the whole data at once (itself tested against finite differences
and a naive implementation in ``test_math.py``), plus independent identities:

* blocked sums (any ``block_rows``) equal the one-block functions;
* float32 data is used in place and agrees with float64;
* one epoch of mini-batches covers every row once, is reproducible from the
  seed, and the epoch mean of the unbiased batch gradients is the full gradient;
* ``lipschitz_bound`` dominates the largest Hessian eigenvalue, computed with
  ``numpy.linalg.eigvalsh`` from a dense Hessian assembled from ``hessp``.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from softmax_classifier import math as sm
from softmax_classifier.data import InMemoryData
from softmax_classifier.objective import SoftmaxObjective

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def make_problem(seed, *, n=50, d=6, c=4, container="dense", weighted=False, scale=1.0):
    """Random ``(X, y, sample_weight)``; every class occurs, weights include zeros."""
    rng = np.random.default_rng(seed)
    if container == "dense":
        X = scale * rng.standard_normal((n, d))
    else:
        X = sp.random(
            n, d, density=0.3, format="csr", random_state=rng, data_rvs=rng.standard_normal
        )
        X = (scale * X).tocsr()
    y = rng.permutation(np.arange(n) % c)
    sample_weight = None
    if weighted:
        sample_weight = rng.uniform(0.1, 3.0, size=n)
        sample_weight[[1, 4, 9]] = 0.0
    return X, y, sample_weight


def random_params(objective, seed, scale=0.7):
    return scale * np.random.default_rng(seed).standard_normal(objective.n_params)


def assert_close(actual, expected, rtol):
    """Element-wise agreement relative to the largest entry of ``expected``."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape
    scale = max(float(np.max(np.abs(expected))), np.finfo(np.float64).tiny)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale)


def dense_hessian(objective, params):
    """The Hessian, one column per ``hessp`` with a unit vector."""
    eye = np.eye(objective.n_params)
    return np.column_stack([objective.hessp(params, eye[j]) for j in range(objective.n_params)])


# ---------------------------------------------------------------------------
# Parameter layout
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_pack_unpack_layout(fit_intercept):
    X, y, _ = make_problem(0, n=10, d=3, c=4)
    objective = SoftmaxObjective(InMemoryData(X, y), 4, fit_intercept=fit_intercept)
    coef = np.arange(12.0).reshape(4, 3) + 1.0
    intercept = np.array([-1.0, -2.0, -3.0, -4.0])
    params = objective.pack(coef, intercept)
    assert params.dtype == np.float64
    expected = np.concatenate([coef.ravel(), intercept]) if fit_intercept else coef.ravel()
    np.testing.assert_array_equal(params, expected)
    assert objective.n_params == expected.size
    unpacked_coef, unpacked_intercept = objective.unpack(params)
    np.testing.assert_array_equal(unpacked_coef, coef)
    if fit_intercept:
        np.testing.assert_array_equal(unpacked_intercept, intercept)
    else:
        assert unpacked_intercept is None
    zeros = objective.zeros()
    assert zeros.shape == (objective.n_params,)
    assert not np.any(zeros)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_sparse_data_lays_the_coefficients_out_feature_by_feature(fit_intercept):
    X, y, _ = make_problem(0, n=10, d=3, c=4)
    objective = SoftmaxObjective(InMemoryData(sp.csr_matrix(X), y), 4, fit_intercept=fit_intercept)
    assert objective.layout == "feature-major"
    coef = np.arange(12.0).reshape(4, 3) + 1.0
    intercept = np.array([-1.0, -2.0, -3.0, -4.0])
    params = objective.pack(coef, intercept)
    expected = coef.T.ravel()  # feature 0's four classes, then feature 1's, ...
    if fit_intercept:
        expected = np.concatenate([expected, intercept])
    np.testing.assert_array_equal(params, expected)
    unpacked_coef, unpacked_intercept = objective.unpack(params)
    np.testing.assert_array_equal(unpacked_coef, coef)
    assert np.shares_memory(unpacked_coef, params)  # a view: no copy per pass
    if fit_intercept:
        np.testing.assert_array_equal(unpacked_intercept, intercept)


def test_the_same_model_gives_the_same_values_in_either_layout():
    """Dense and sparse copies of X: the same objective, gradient and Hessian product
    once each is unpacked from its own layout."""
    X, y, w = make_problem(3, n=40, d=5, c=3, weighted=True)
    dense = SoftmaxObjective(InMemoryData(X, y, w), 3, alpha=0.2)
    sparse = SoftmaxObjective(InMemoryData(sp.csr_matrix(X), y, w), 3, alpha=0.2)
    rng = np.random.default_rng(0)
    coef, intercept = rng.standard_normal((3, 5)), rng.standard_normal(3)
    direction = rng.standard_normal((3, 5)), rng.standard_normal(3)
    value_d, grad_d = dense.value_and_grad(dense.pack(coef, intercept))
    value_s, grad_s = sparse.value_and_grad(sparse.pack(coef, intercept))
    # Same float64 sums in different orders: ~1e-15 relative; 1e-12 is the margin.
    assert value_s == pytest.approx(value_d, rel=1e-12)
    for a, b in zip(dense.unpack(grad_d), sparse.unpack(grad_s), strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-14)
    hess_d = dense.hessp(dense.pack(coef, intercept), dense.pack(*direction))
    hess_s = sparse.hessp(sparse.pack(coef, intercept), sparse.pack(*direction))
    for a, b in zip(dense.unpack(hess_d), sparse.unpack(hess_s), strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------------------
# Blocked evaluation == one-block mathematics
# ---------------------------------------------------------------------------

N_ROWS = 50


@pytest.mark.parametrize("block_rows", [1, 7, 64, N_ROWS])
@pytest.mark.parametrize("container", ["dense", "csr"])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("alpha", [0.0, 0.3])
def test_objective_matches_one_block_math(block_rows, container, fit_intercept, weighted, alpha):
    X, y, sample_weight = make_problem(
        block_rows + 3 * fit_intercept, n=N_ROWS, container=container, weighted=weighted
    )
    data = InMemoryData(X, y, sample_weight, block_rows=block_rows)
    assert data.block_rows == block_rows
    objective = SoftmaxObjective(data, 4, alpha=alpha, fit_intercept=fit_intercept)
    params = random_params(objective, 1)
    direction = random_params(objective, 2, scale=1.0)
    coef, intercept = objective.unpack(params)
    direction_coef, direction_intercept = objective.unpack(direction)

    expected_value = sm.loss(coef, intercept, X, y, sample_weight, alpha)
    np.testing.assert_allclose(objective.value(params), expected_value, rtol=1e-12)

    value, grad = objective.value_and_grad(params)
    loss_value, grad_coef, grad_intercept = sm.loss_gradient(
        coef, intercept, X, y, sample_weight, alpha
    )
    np.testing.assert_allclose(value, loss_value, rtol=1e-12)
    assert grad.shape == (objective.n_params,)
    assert grad.dtype == np.float64
    assert_close(grad, objective.pack(grad_coef, grad_intercept), rtol=1e-12)

    _, _, hessp = sm.gradient_hessian_product(coef, intercept, X, y, sample_weight, alpha)
    hess_coef, hess_intercept = hessp(direction_coef, direction_intercept)
    hess = objective.hessp(params, direction)
    assert hess.shape == (objective.n_params,)
    assert_close(hess, objective.pack(hess_coef, hess_intercept), rtol=1e-12)


def test_default_block_rows_and_block_walk():
    X, y, sample_weight = make_problem(5, n=23, weighted=True)
    data = InMemoryData(X, y, sample_weight, block_rows=5)
    blocks = list(data.blocks())
    assert [b[0].shape[0] for b in blocks] == [5, 5, 5, 5, 3]
    np.testing.assert_array_equal(np.vstack([b[0] for b in blocks]), X)
    np.testing.assert_array_equal(np.concatenate([b[1] for b in blocks]), y)
    np.testing.assert_array_equal(np.concatenate([b[2] for b in blocks]), sample_weight)
    assert data.total_weight == pytest.approx(sample_weight.sum(), rel=1e-15)
    assert InMemoryData(X, y).total_weight == 23.0
    assert InMemoryData(X, y).block_rows >= 1


def test_csc_input_is_converted_to_csr():
    X, y, _ = make_problem(6, container="csr")
    data = InMemoryData(X.tocsc(), y, block_rows=7)
    assert data.X.format == "csr"
    objective = SoftmaxObjective(data, 4, alpha=0.1)
    params = random_params(objective, 3)
    coef, intercept = objective.unpack(params)
    np.testing.assert_allclose(
        objective.value(params), sm.loss(coef, intercept, X, y, None, 0.1), rtol=1e-12
    )


# ---------------------------------------------------------------------------
# float32
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("container", ["dense", "csr"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_float32_data_is_kept_and_agrees_with_float64(container, weighted, fit_intercept):
    X64, y, sample_weight = make_problem(11, n=60, container=container, weighted=weighted)
    X32 = X64.astype(np.float32)
    data32 = InMemoryData(X32, y, sample_weight, block_rows=16)
    assert data32.X is X32  # no copy, no cast
    assert data32.dtype == np.float32
    assert next(iter(data32.blocks()))[0].dtype == np.float32
    if weighted:
        assert data32.sample_weight.dtype == np.float32

    # The float64 reference sees exactly the float32 numbers.
    data64 = InMemoryData(X32.astype(np.float64), y, sample_weight, block_rows=16)
    objective32 = SoftmaxObjective(data32, 4, alpha=0.05, fit_intercept=fit_intercept)
    objective64 = SoftmaxObjective(data64, 4, alpha=0.05, fit_intercept=fit_intercept)
    params = random_params(objective32, 4)
    direction = random_params(objective32, 5, scale=1.0)

    value32, grad32 = objective32.value_and_grad(params)
    value64, grad64 = objective64.value_and_grad(params)
    assert np.isfinite(value32)
    assert np.all(np.isfinite(grad32))
    assert grad32.dtype == np.float64
    np.testing.assert_allclose(value32, value64, rtol=1e-5)
    assert_close(grad32, grad64, rtol=1e-5)
    np.testing.assert_allclose(objective32.value(params), value64, rtol=1e-5)

    hess32 = objective32.hessp(params, direction)
    assert np.all(np.isfinite(hess32))
    assert_close(hess32, objective64.hessp(params, direction), rtol=1e-5)


# ---------------------------------------------------------------------------
# Mini-batches
# ---------------------------------------------------------------------------


def indexed_problem(n, container, weighted):
    """Data whose first column (plus one) and weights identify each row."""
    rng = np.random.default_rng(21)
    X = rng.standard_normal((n, 3))
    X[:, 0] = np.arange(n) + 1.0
    y = rng.integers(0, 3, size=n)
    sample_weight = rng.uniform(0.5, 2.0, size=n) if weighted else None
    if container == "csr":
        X = sp.csr_matrix(X)
    return X, y, sample_weight


def batch_rows(batch):
    X_batch = batch[0]
    first = X_batch[:, [0]].toarray() if sp.issparse(X_batch) else X_batch[:, [0]]
    return np.asarray(first).ravel().astype(np.int64) - 1


@pytest.mark.parametrize("batch_size", [1, 7, 10, 50, 64])
@pytest.mark.parametrize("container", ["dense", "csr"])
@pytest.mark.parametrize("weighted", [False, True])
def test_batches_cover_every_row_once(batch_size, container, weighted):
    n = 50
    X, y, sample_weight = indexed_problem(n, container, weighted)
    objective = SoftmaxObjective(InMemoryData(X, y, sample_weight), 3)
    batches = list(objective.batches(batch_size, np.random.default_rng(0)))
    sizes = [b[0].shape[0] for b in batches]
    # ceil(n / batch_size) batches of near-equal size: no small remainder batch.
    assert len(sizes) == -(-n // batch_size)
    assert max(sizes) <= batch_size and max(sizes) - min(sizes) <= 1
    rows = [batch_rows(b) for b in batches]
    np.testing.assert_array_equal(np.sort(np.concatenate(rows)), np.arange(n))
    X_dense = X.toarray() if sp.issparse(X) else X
    for batch, index in zip(batches, rows, strict=True):
        X_batch = batch[0].toarray() if sp.issparse(batch[0]) else batch[0]
        np.testing.assert_array_equal(X_batch, X_dense[index])
        np.testing.assert_array_equal(batch[1], y[index])
        if weighted:
            np.testing.assert_array_equal(batch[2], sample_weight[index])
        else:
            assert batch[2] is None


@pytest.mark.parametrize("batch_size", [1, 8])
def test_batches_are_determined_by_the_rng(batch_size):
    n = 40
    X, y, _ = indexed_problem(n, "dense", False)
    data = InMemoryData(X, y)

    def order(seed):
        return np.concatenate(
            [batch_rows(b) for b in data.batches(batch_size, np.random.default_rng(seed))]
        )

    np.testing.assert_array_equal(order(123), order(123))
    assert not np.array_equal(order(123), order(124))
    # Shuffled: not simply the rows in order.
    assert not np.array_equal(order(123), np.arange(n))


@pytest.mark.parametrize("batch_size", [1, 6, 20, 60])
@pytest.mark.parametrize("container", ["dense", "csr"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_epoch_mean_of_batch_gradients_is_full_gradient(
    batch_size, container, weighted, fit_intercept
):
    n = 60  # divisible by every batch size: all batches of one epoch are equal in size
    X, y, sample_weight = make_problem(31, n=n, container=container, weighted=weighted)
    objective = SoftmaxObjective(
        InMemoryData(X, y, sample_weight), 4, alpha=0.3, fit_intercept=fit_intercept
    )
    params = random_params(objective, 8)
    estimates = [
        objective.batch_value_and_grad(params, batch)
        for batch in objective.batches(batch_size, np.random.default_rng(5))
    ]
    assert len(estimates) == n // batch_size
    mean_value = np.mean([value for value, _ in estimates])
    mean_grad = np.mean([grad for _, grad in estimates], axis=0)
    value, grad = objective.value_and_grad(params)
    np.testing.assert_allclose(mean_value, value, rtol=1e-12)
    assert_close(mean_grad, grad, rtol=1e-12)


def test_single_example_batch_gradient_is_note_004_derivative():
    """batch_size=1, unit weights: (p_i - 1[i = y_t]) x_t and p_i - 1[i = y_t], plus alpha w_i."""
    X, y, _ = make_problem(41, n=12, d=5, c=3)
    alpha = 0.2
    objective = SoftmaxObjective(InMemoryData(X, y), 3, alpha=alpha)
    params = random_params(objective, 9)
    coef, intercept = objective.unpack(params)
    for t in range(len(y)):
        batch = (X[t : t + 1], y[t : t + 1], None)
        value, grad = objective.batch_value_and_grad(params, batch)
        logits = coef @ X[t] + intercept
        p = np.exp(logits - logits.max())
        p /= p.sum()
        residual = p - (np.arange(3) == y[t])
        expected = objective.pack(np.outer(residual, X[t]) + alpha * coef, residual)
        assert_close(grad, expected, rtol=1e-12)
        expected_value = -np.log(p[y[t]]) + 0.5 * alpha * np.sum(coef**2)
        np.testing.assert_allclose(value, expected_value, rtol=1e-12)


# ---------------------------------------------------------------------------
# Lipschitz bound
# ---------------------------------------------------------------------------


def power_iteration(objective, params, n_iter=60):
    vector = np.random.default_rng(0).standard_normal(objective.n_params)
    estimate = 0.0
    for _ in range(n_iter):
        vector /= np.linalg.norm(vector)
        product = objective.hessp(params, vector)
        estimate = float(vector @ product)
        vector = product
    return estimate


@pytest.mark.parametrize("container", ["dense", "csr"])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize(("weighted", "alpha"), [(False, 0.0), (True, 0.3)])
@pytest.mark.parametrize("scale", [0.01, 1.0, 3.0])
def test_lipschitz_bound_dominates_hessian(container, fit_intercept, weighted, alpha, scale):
    c = 3
    X, y, sample_weight = make_problem(
        51, n=12, d=3, c=c, container=container, weighted=weighted, scale=scale
    )
    objective = SoftmaxObjective(
        InMemoryData(X, y, sample_weight, block_rows=8), c, alpha=alpha, fit_intercept=fit_intercept
    )
    bound = objective.lipschitz_bound()
    assert np.isfinite(bound)
    points = [objective.zeros()] + [random_params(objective, s, scale=2.0) for s in range(3)]
    if fit_intercept:
        # Probability split evenly between two classes: the softmax Jacobian's largest
        # eigenvalue 1/2, reached along the intercept direction (e_0 - e_1).
        points.append(objective.pack(np.zeros((c, 3)), np.array([8.0, 8.0, -8.0])))
    for params in points:
        hessian = dense_hessian(objective, params)
        assert_close(hessian, hessian.T, rtol=1e-12)
        eigenvalues = np.linalg.eigvalsh(0.5 * (hessian + hessian.T))
        largest = eigenvalues[-1]
        assert eigenvalues[0] >= -1e-12 * max(1.0, largest)  # convex
        estimate = power_iteration(objective, params)
        assert estimate <= largest * (1 + 1e-9) + 1e-15
        assert estimate <= bound * (1 + 1e-12), (estimate, bound)
        assert largest <= bound * (1 + 1e-12), (largest, bound)


@pytest.mark.parametrize("container", ["dense", "csr"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_threads", [2, 3])
def test_threaded_blocks_equal_sequential_blocks_exactly(container, weighted, dtype, n_threads):
    # The fast path (blocks on several threads) against the reference path (one
    # thread): same blocks, results added in block order, so bit-identical.
    X, y, sample_weight = make_problem(11, n=300, d=7, c=5, container=container, weighted=weighted)
    X = X.astype(dtype)

    def objective(threads):
        data = InMemoryData(X, y, sample_weight, block_rows=16, n_threads=threads)
        return SoftmaxObjective(data, 5, alpha=0.1)

    reference, fast = objective(1), objective(n_threads)
    params = random_params(reference, 3)
    direction = random_params(reference, 4)
    value_ref, grad_ref = reference.value_and_grad(params)
    value_fast, grad_fast = fast.value_and_grad(params)
    assert value_fast == value_ref
    np.testing.assert_array_equal(grad_fast, grad_ref)
    assert fast.value(params) == reference.value(params)
    np.testing.assert_array_equal(fast.hessp(params, direction), reference.hessp(params, direction))


def test_threads_default_to_the_available_cpus():
    X, y, _ = make_problem(0)
    assert InMemoryData(X, y).n_threads >= 1
    assert InMemoryData(X, y, n_threads=1).n_threads == 1
