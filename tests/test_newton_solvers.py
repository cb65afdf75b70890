"""Tests of the second-order pieces: curvature statistics, the Kronecker preconditioner,
Newton-CG preconditioned by it, and ``solver="auto"``.

Oracles, none of them taken from the output of the code under test:

* central finite differences of the gradient, in float64 (the full Hessian);
* the statistics written out row by row with NumPy (S, A);
* ``M = A (x) S + alpha I`` built densely with ``np.kron`` (its inverse);
* scikit-learn's ``LogisticRegression`` (multinomial, ``C = 1 / (alpha * sum(s))``),
  whose solution is scored with our objective.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_digits, load_iris, load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from softmax_classifier import _curvature as curvature
from softmax_classifier.data import InMemoryData
from softmax_classifier.objective import SoftmaxObjective
from softmax_classifier.solvers import choose_solver, newton_cg
from softmax_classifier.solvers._kronecker import KroneckerPreconditioner

# ---------------------------------------------------------------------------
# Small random problems in every layout
# ---------------------------------------------------------------------------

LAYOUTS = [
    pytest.param(False, False, True, id="dense-unweighted-intercept"),
    pytest.param(False, True, True, id="dense-weighted-intercept"),
    pytest.param(False, True, False, id="dense-weighted-no-intercept"),
    pytest.param(True, False, True, id="sparse-unweighted-intercept"),
    pytest.param(True, True, False, id="sparse-weighted-no-intercept"),
]


def random_problem(sparse, weighted, n=60, d=5, c=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    if sparse:
        X = sp.csr_matrix(X * (rng.random((n, d)) < 0.4))
    y = rng.integers(0, c, size=n)
    weights = rng.uniform(0.2, 3.0, size=n) if weighted else None
    return X, y, weights


def objective_on(X, y, weights, fit_intercept, alpha=0.3, block_rows=17):
    """Several blocks (block_rows) so that the sums over blocks are exercised."""
    data = InMemoryData(X, y, weights, block_rows=block_rows)
    return SoftmaxObjective(data, len(np.unique(y)), alpha=alpha, fit_intercept=fit_intercept)


def tilde(X, fit_intercept):
    dense = X.toarray() if sp.issparse(X) else np.asarray(X, dtype=np.float64)
    return np.hstack([dense, np.ones((dense.shape[0], 1))]) if fit_intercept else dense


# ---------------------------------------------------------------------------
# Curvature statistics
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(("sparse", "weighted", "fit_intercept"), LAYOUTS)
def test_full_hessian_matches_finite_differences_of_the_gradient(sparse, weighted, fit_intercept):
    X, y, weights = random_problem(sparse, weighted)
    objective = objective_on(X, y, weights, fit_intercept)
    rng = np.random.default_rng(1)
    x = 0.5 * rng.standard_normal(objective.n_params)
    coef, intercept = objective.unpack(x)
    hessian = curvature.full_hessian(objective.data, coef, intercept, objective.alpha)
    order = curvature.to_flat_layout(
        objective.n_classes, objective.n_features, fit_intercept, objective.layout
    )
    flat = hessian[np.ix_(order, order)]
    eps = 1e-5
    columns = []
    for e in np.eye(objective.n_params):
        plus = objective.value_and_grad(x + eps * e)[1]
        minus = objective.value_and_grad(x - eps * e)[1]
        columns.append((plus - minus) / (2 * eps))
    finite_differences = np.column_stack(columns)
    # Central differences err by O(eps^2 |f'''|) ~ 1e-10 plus rounding 1e-16 / eps ~ 1e-11;
    # 1e-7 leaves three orders of margin for any BLAS summation order.
    np.testing.assert_allclose(flat, finite_differences, rtol=0, atol=1e-7)
    np.testing.assert_array_equal(hessian, hessian.T)


@pytest.mark.parametrize(("sparse", "weighted", "fit_intercept"), LAYOUTS)
@pytest.mark.parametrize("row_step", [1, 3])
def test_feature_moment_and_class_curvature_match_row_by_row_sums(
    sparse, weighted, fit_intercept, row_step
):
    X, y, weights = random_problem(sparse, weighted)
    block_rows = 17
    objective = objective_on(X, y, weights, fit_intercept, block_rows=block_rows)
    x = 0.5 * np.random.default_rng(2).standard_normal(objective.n_params)
    coef, intercept = objective.unpack(x)
    # The rows used: every row_step-th row of each block of 17.
    rows = np.concatenate(
        [
            np.arange(start, min(start + block_rows, X.shape[0]))[::row_step]
            for start in range(0, X.shape[0], block_rows)
        ]
    )
    s = np.ones(X.shape[0]) if weights is None else weights
    Xt = tilde(X, fit_intercept)
    expected_S = sum(s[k] * np.outer(Xt[k], Xt[k]) for k in rows) / s[rows].sum()
    logits = tilde(X, False) @ coef.T + (0 if intercept is None else intercept)
    expected_A = 0
    for k in rows:
        p = np.exp(logits[k] - logits[k].max())
        p /= p.sum()
        expected_A = expected_A + s[k] * (np.diag(p) - np.outer(p, p))
    expected_A = expected_A / s[rows].sum()
    S = curvature.feature_moment(objective.data, fit_intercept, row_step=row_step)
    A = curvature.class_curvature(objective.data, coef, intercept, row_step=row_step)
    # float64 sums of 60 terms of size ~10: rounding ~1e-14; 1e-12 is a wide margin.
    np.testing.assert_allclose(S, expected_S, rtol=0, atol=1e-12)
    np.testing.assert_allclose(A, expected_A, rtol=0, atol=1e-12)


def test_statistics_of_float32_data_agree_with_float64():
    X, y, weights = random_problem(False, True)
    objectives = [
        objective_on(X.astype(dtype), y, weights, True) for dtype in (np.float32, np.float64)
    ]
    x = 0.5 * np.random.default_rng(3).standard_normal(objectives[0].n_params)
    results = []
    for objective in objectives:
        coef, intercept = objective.unpack(x)
        results.append(
            (
                curvature.feature_moment(objective.data, True),
                curvature.class_curvature(objective.data, coef, intercept),
                curvature.full_hessian(objective.data, coef, intercept, 0.3),
            )
        )
    for low, high in zip(*results, strict=True):
        # float32 products: relative error ~ sqrt(n) eps32 ~ 1e-6 of entries of size <= 10;
        # 1e-4 absolute is a 10x margin over the largest such error.
        np.testing.assert_allclose(low, high, rtol=0, atol=1e-4)


# ---------------------------------------------------------------------------
# The Kronecker preconditioner
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("alpha", [0.3, 0.0])
@pytest.mark.parametrize("sparse", [False, True], ids=["class-major", "feature-major"])
def test_kronecker_application_is_the_inverse_of_the_dense_matrix(fit_intercept, alpha, sparse):
    X, y, weights = random_problem(sparse, True)
    objective = objective_on(X, y, weights, fit_intercept, alpha=alpha)
    x = 0.5 * np.random.default_rng(4).standard_normal(objective.n_params)
    coef, intercept = objective.unpack(x)
    S = curvature.feature_moment(objective.data, fit_intercept)
    A = curvature.class_curvature(objective.data, coef, intercept)
    preconditioner = KroneckerPreconditioner(
        S, objective.n_classes, alpha, fit_intercept, objective.layout
    )
    preconditioner.update(A)
    inverse = preconditioner.dense()
    np.testing.assert_allclose(inverse, inverse.T, rtol=0, atol=1e-10 * np.abs(inverse).max())
    assert np.linalg.eigvalsh(inverse).min() > 0  # positive definite even with alpha = 0
    order = curvature.to_flat_layout(
        objective.n_classes, objective.n_features, fit_intercept, objective.layout
    )
    M = np.kron(A, S) + alpha * np.eye(A.shape[0] * S.shape[0])
    M = M[np.ix_(order, order)]
    if alpha > 0:
        # M's condition number here is < 1e3: the product is I to ~1e-13; 1e-10 for margin.
        np.testing.assert_allclose(inverse @ M, np.eye(len(M)), rtol=0, atol=1e-10)
    else:
        # M is singular (A 1 = 0); its eigenvalues are floored at 1e-8 of the largest.
        # On M's eigenvectors (a dense eigh) of eigenvalue above 1e-4 of the largest,
        # M^{-1} M is I up to rounding amplified by the floor: 2e-16 * 1e8 ~ 2e-8; 1e-6
        # leaves a 45x margin.
        values, vectors = np.linalg.eigh(M)
        kept = vectors[:, values > 1e-4 * values.max()]
        np.testing.assert_allclose(inverse @ M @ kept, kept, rtol=0, atol=1e-6)


# ---------------------------------------------------------------------------
# Same optimum as scikit-learn
# ---------------------------------------------------------------------------


@functools.cache
def dataset(name):
    if name == "sparse":
        rng = np.random.default_rng(0)
        X = sp.random(
            300, 50, density=0.1, format="csr", random_state=rng, data_rvs=rng.standard_normal
        )
        coef = 2.0 * rng.standard_normal((4, 50))
        y = np.argmax(X @ coef.T + rng.gumbel(size=(300, 4)), axis=1)
        return X, y
    loader = {"digits": load_digits, "iris": load_iris, "wine": load_wine}[name]
    X, y = loader(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@functools.cache
def sklearn_optimum(name, alpha, weighted, fit_intercept):
    X, y = dataset(name)
    weights = _weights(len(y)) if weighted else None
    total = len(y) if weights is None else weights.sum()
    # One BLAS thread: on a loaded 2-core machine threaded BLAS made this fit 20x slower.
    with warnings.catch_warnings(), threadpool_limits(1, user_api="blas"):
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = LogisticRegression(
            C=1.0 / (alpha * total), tol=1e-10, max_iter=10000, fit_intercept=fit_intercept
        ).fit(X, y, sample_weight=weights)
    intercept = model.intercept_ if fit_intercept else None
    objective = objective_on(X, y, weights, fit_intercept, alpha=alpha, block_rows=None)
    return objective.value(objective.pack(model.coef_, intercept))


def _weights(n):
    return np.random.default_rng(5).uniform(0.5, 2.0, size=n)


CASES = [
    ("digits", 1e-3, False, True),
    ("iris", 1e-3, True, True),
    ("wine", 1e-2, False, False),
    ("sparse", 1e-3, True, True),
    ("sparse", 1e-3, False, False),
]


def run_kronecker(objective, **options):
    return newton_cg.minimize(objective, objective.zeros(), precondition="kronecker", **options)


@pytest.mark.parametrize(("name", "alpha", "weighted", "fit_intercept"), CASES)
def test_same_optimum_as_sklearn(name, alpha, weighted, fit_intercept):
    X, y = dataset(name)
    weights = _weights(len(y)) if weighted else None
    objective = objective_on(X, y, weights, fit_intercept, alpha=alpha, block_rows=None)
    result = run_kronecker(objective, tol=1e-10, max_iter=200)
    assert result.stop_reason == "converged", result.message
    f_sklearn = sklearn_optimum(name, alpha, weighted, fit_intercept)
    f_ours = objective.value(result.params)
    # scikit-learn at tol=1e-10 is within ~1e-12 relative of the optimum and so are we
    # (max|grad| <= 1e-10 with curvature >= alpha): 1e-9 leaves a wide margin.
    assert f_ours <= f_sklearn * (1 + 1e-9), (f_ours, f_sklearn)
    assert abs(f_ours - f_sklearn) <= 1e-9 * abs(f_sklearn), (f_ours, f_sklearn)


def test_float32_data_reach_the_float64_optimum():
    X, y = dataset("wine")
    weights = _weights(len(y))
    objective = objective_on(X.astype(np.float32), y, weights.astype(np.float32), True, 1e-3)
    result = run_kronecker(objective, tol=1e-5, max_iter=200)
    assert result.stop_reason == "converged", result.message
    exact = objective_on(X, y, weights, True, alpha=1e-3)
    f_sklearn = sklearn_optimum("wine", 1e-3, True, True)
    # max|grad| <= 1e-5 with curvature >= alpha = 1e-3 bounds the gap by about
    # n_params * tol^2 / (2 alpha) ~ 2e-6 relative to f ~ 0.02; 1e-4 relative is the margin.
    assert abs(exact.value(result.params) - f_sklearn) <= 1e-4 * f_sklearn


def test_kronecker_without_penalty_matches_sklearn_probabilities():
    """alpha = 0 makes M singular along every common shift (A 1 = 0): the eigenvalue
    floor must keep CG stable. Two iris features leave the classes overlapping, so a
    minimiser exists; probabilities are unique even though coefficients are not."""
    X, y = dataset("iris")
    X = X[:, :2]  # two features: the three classes overlap, the optimum is finite
    objective = objective_on(X, y, None, True, alpha=0.0, block_rows=None)
    result = run_kronecker(objective, tol=1e-10, max_iter=100)
    assert result.stop_reason == "converged", result.message
    with threadpool_limits(1, user_api="blas"):
        model = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10000).fit(X, y)
    coef, intercept = objective.unpack(result.params)
    logits = X @ coef.T + intercept
    proba = np.exp(logits - logits.max(axis=1, keepdims=True))
    proba /= proba.sum(axis=1, keepdims=True)
    # Both at max|grad| ~1e-10 on a problem of curvature ~1e-2: probabilities agree to
    # ~1e-8; 1e-6 is the margin.
    np.testing.assert_allclose(proba, model.predict_proba(X), rtol=0, atol=1e-6)


@pytest.mark.parametrize(("sparse", "weighted", "fit_intercept"), LAYOUTS)
def test_kronecker_factors_are_the_hessian_at_zero(sparse, weighted, fit_intercept):
    """With all parameters zero every row has p = 1/c, so J(p_k) = A for every k and
    the Hessian is exactly A (x) S plus alpha on the coefficients."""
    X, y, weights = random_problem(sparse, weighted)
    objective = objective_on(X, y, weights, fit_intercept)
    coef, intercept = objective.unpack(objective.zeros())
    S = curvature.feature_moment(objective.data, fit_intercept)
    A = curvature.class_curvature(objective.data, coef, intercept)
    c = objective.n_classes
    np.testing.assert_allclose(A, (np.eye(c) - 1.0 / c) / c, rtol=0, atol=1e-15)
    penalty = np.ones(S.shape[0])
    if fit_intercept:
        penalty[-1] = 0.0
    expected = np.kron(A, S) + objective.alpha * np.diag(np.tile(penalty, c))
    hessian = curvature.full_hessian(objective.data, coef, intercept, objective.alpha)
    # Both are float64 sums of 60 rows of entries ~10: agreement to ~1e-14; 1e-12 margin.
    np.testing.assert_allclose(hessian, expected, rtol=0, atol=1e-12)


def test_kronecker_solves_the_newton_system_at_zero_in_few_products():
    """At ``W = 0, b = 0`` every row has ``p = 1/c``, so ``A (x) S`` is the data term of
    the Hessian exactly and ``M - H`` is ``alpha`` on the ``c`` intercepts: rank ``c``,
    so preconditioned CG ends within ``c + 1`` products in exact arithmetic, whatever
    the features' scales. Plain CG needs about one product per distinct eigenvalue."""
    rng = np.random.default_rng(6)
    n, d, c = 400, 8, 4
    X = rng.standard_normal((n, d)) * np.logspace(-2, 2, d)  # scales 1e-2 .. 1e2
    y = rng.integers(0, c, size=n)
    objective = objective_on(X, y, None, True, alpha=1e-3, block_rows=None)
    x = objective.zeros()
    _, grad = objective.value_and_grad(x)
    S = curvature.feature_moment(objective.data, True)
    preconditioner = KroneckerPreconditioner(S, c, objective.alpha, True)
    preconditioner.update(curvature.class_curvature(objective.data, *objective.unpack(x)))
    products = {}
    for name, precondition in (("none", None), ("kronecker", preconditioner)):
        direction, products[name] = newton_cg._conjugate_gradient(
            lambda v: objective.hessp(x, v), -grad, 1e-8 * np.linalg.norm(grad), 500, precondition
        )
        residual = objective.hessp(x, direction) + grad
        assert np.linalg.norm(residual) <= 1e-8 * np.linalg.norm(grad)
    # Counts of products, not timings: c + 1 = 5 in exact arithmetic, +1 for rounding
    # (2 measured). Plain CG meets about one eigenvalue of S (d + 1 of them, spread
    # over 1e-4 .. 1e4) per product: at least d (16 measured).
    assert products["kronecker"] <= c + 2, products
    assert products["none"] >= d, products


# ---------------------------------------------------------------------------
# Options and contract
# ---------------------------------------------------------------------------


def test_precondition_values():
    X, y = dataset("iris")
    dense = objective_on(X, y, None, True, block_rows=None)
    sparse = objective_on(sp.csr_matrix(X), y, None, True, block_rows=None)
    assert newton_cg.preconditioning(dense, "auto") == "kronecker"
    assert newton_cg.preconditioning(sparse, "auto") == "diagonal"
    assert newton_cg.preconditioning(dense, True) == "diagonal"
    assert newton_cg.preconditioning(dense, False) == "none"
    with pytest.raises(ValueError, match="precondition must be one of"):
        newton_cg.preconditioning(dense, "cholesky")


def test_resume_continues_exactly():
    X, y = dataset("wine")
    objective = objective_on(X, y, None, True, alpha=1e-3, block_rows=None)
    states = []
    whole = run_kronecker(objective, tol=1e-10, max_iter=100)
    run_kronecker(
        objective,
        tol=1e-10,
        max_iter=100,
        callback=lambda info: states.append(info.state()) or info.iteration == 2,
    )
    resumed = run_kronecker(objective, tol=1e-10, max_iter=100, resume=states[-1])
    assert resumed.n_iter == whole.n_iter
    np.testing.assert_array_equal(resumed.params, whole.params)


def test_auto_choice():
    """The rules of choose_solver's docstring, one case each (shapes only: no data read)."""
    small = np.zeros((1347, 64))
    assert choose_solver(small, 10)[0] == "lbfgs"
    solver, reason = choose_solver(np.zeros((15000, 16)), 26)
    assert (solver, "A (x) S" in reason) == ("newton-cg", True)
    wide = np.zeros((200, newton_cg.KRONECKER_MAX_FEATURES), dtype=np.float32)
    assert choose_solver(wide, 3)[0] == "lbfgs"
    solver, reason = choose_solver(sp.csr_matrix((1000, 5000)), 20)
    assert solver == "newton-cg"
    assert "sparse" in reason
