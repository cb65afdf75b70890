"""Tests of ``softmax_classifier.math``: the objective, its gradient and Hessian.

Every expectation comes from an independent oracle, never from the output of
the code under test:

* central finite differences of ``loss`` (gradient) and of ``loss_gradient``
  (Hessian-vector product);
* a deliberately naive per-sample implementation written here from the notes'
  formulas, and ``sklearn.metrics.log_loss``;
* closed-form values (zero weights, ``softmax([0, log 3])``);
* ``scipy.special.logsumexp`` for huge logits;
* algebraic identities (shift invariance, symmetry, weight contracts) checked
  with random data and with Hypothesis.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy.special import logsumexp
from sklearn.metrics import log_loss

from softmax_classifier.math import (
    gradient_hessian_product,
    log_softmax,
    loss,
    loss_gradient,
    raw_prediction,
    softmax,
)

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def make_problem(
    seed,
    *,
    n=30,
    d=5,
    c=4,
    container="dense",
    fit_intercept=True,
    weighted=False,
    coef_scale=0.5,
    dtype=np.float64,
):
    """A random problem ``(X, y, coef, intercept, sample_weight)``.

    ``container`` is ``"dense"``, ``"csr_matrix"`` (``scipy.sparse.random``,
    density 0.3, normal entries) or ``"csr_array"``. Every class occurs in ``y``;
    weights are positive with three exact zeros.
    """
    rng = np.random.default_rng(seed)
    if container == "dense":
        X = rng.standard_normal((n, d))
    else:
        X = sp.random(n, d, density=0.3, format="csr", rng=rng, data_rvs=rng.standard_normal)
        if container == "csr_array":
            X = sp.csr_array(X)
    X = X.astype(dtype)
    y = rng.integers(0, c, size=n)
    y[:c] = np.arange(c)
    rng.shuffle(y)
    coef = coef_scale * rng.standard_normal((c, d))
    intercept = coef_scale * rng.standard_normal(c) if fit_intercept else None
    if weighted:
        sample_weight = rng.uniform(0.1, 3.0, size=n)
        sample_weight[rng.choice(n, size=3, replace=False)] = 0.0
    else:
        sample_weight = None
    return X, y, coef, intercept, sample_weight


def to_dense(X):
    return X.toarray() if sp.issparse(X) else np.asarray(X)


def rel_err(actual, reference):
    """``||actual - reference|| / ||reference||`` (flattened, float64)."""
    actual = np.asarray(actual, dtype=np.float64).ravel()
    reference = np.asarray(reference, dtype=np.float64).ravel()
    denom = np.linalg.norm(reference)
    if denom == 0:
        return float(np.linalg.norm(actual - reference))
    return float(np.linalg.norm(actual - reference) / denom)


def pack(coef, intercept):
    if intercept is None:
        return np.asarray(coef, dtype=np.float64).ravel().copy()
    return np.concatenate([np.ravel(coef), np.ravel(intercept)]).astype(np.float64)


def unpack(theta, c, d, fit_intercept):
    coef = theta[: c * d].reshape(c, d).copy()
    intercept = theta[c * d :].copy() if fit_intercept else None
    return coef, intercept


def naive_loss_gradient(coef, intercept, X, y, sample_weight=None, alpha=0.0):
    """Per-sample loops straight from the notes (unshifted exp: small logits only).

    p_i(x) = exp(a_i) / sum_j exp(a_j),  CE = -log p_y,
    grad_w_i = (1/S) sum_k s_k (p_i(x_k) - delta(y_k, i)) x_k + alpha w_i.
    """
    X = to_dense(X).astype(np.float64)
    n, d = X.shape
    c = coef.shape[0]
    s = np.ones(n) if sample_weight is None else np.asarray(sample_weight, float)
    total = 0.0
    g_coef = np.zeros((c, d))
    g_int = np.zeros(c)
    for k in range(n):
        a = np.array(
            [
                sum(coef[i, j] * X[k, j] for j in range(d))
                + (0.0 if intercept is None else intercept[i])
                for i in range(c)
            ]
        )
        e = np.exp(a)
        p = e / e.sum()
        onehot = np.zeros(c)
        onehot[y[k]] = 1.0
        total += s[k] * -math.log(p[y[k]])
        for i in range(c):
            g_int[i] += s[k] * (p[i] - onehot[i])
            for j in range(d):
                g_coef[i, j] += s[k] * (p[i] - onehot[i]) * X[k, j]
    S = s.sum()
    value = total / S + 0.5 * alpha * float(np.sum(coef**2))
    g_coef = g_coef / S + alpha * coef
    g_int = g_int / S if intercept is not None else None
    return value, g_coef, g_int


GRID = pytest.mark.parametrize("alpha", [0.0, 0.1])
GRID_W = pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
GRID_B = pytest.mark.parametrize("fit_intercept", [True, False], ids=["intercept", "no_intercept"])
GRID_X = pytest.mark.parametrize("container", ["dense", "csr_matrix"])


# ---------------------------------------------------------------------------
# 1. Gradient vs central finite differences of the loss
# ---------------------------------------------------------------------------


@GRID
@GRID_W
@GRID_B
@GRID_X
def test_gradient_matches_finite_differences(container, fit_intercept, weighted, alpha):
    """Oracle: central differences of ``loss`` in every coordinate of (coef, b)."""
    X, y, coef, intercept, w = make_problem(
        11, container=container, fit_intercept=fit_intercept, weighted=weighted
    )
    c, d = coef.shape
    theta = pack(coef, intercept)

    def f(t):
        W, b = unpack(t, c, d, fit_intercept)
        return loss(W, b, X, y, sample_weight=w, alpha=alpha)

    fd = np.empty_like(theta)
    for j in range(theta.size):
        h = 1e-6 * max(1.0, abs(theta[j]))
        e = np.zeros_like(theta)
        e[j] = h
        fd[j] = (f(theta + e) - f(theta - e)) / (2 * h)

    value, g_coef, g_int = loss_gradient(coef, intercept, X, y, sample_weight=w, alpha=alpha)
    assert value == pytest.approx(f(theta), rel=1e-14)
    assert (g_int is None) == (not fit_intercept)
    assert g_coef.shape == coef.shape
    if fit_intercept:
        assert g_int.shape == intercept.shape
    assert rel_err(pack(g_coef, g_int), fd) <= 1e-6


# ---------------------------------------------------------------------------
# 2. Hessian-vector product vs finite differences of the gradient
# ---------------------------------------------------------------------------


@GRID
@GRID_W
@GRID_B
@GRID_X
def test_hessp_matches_finite_differences_of_gradient(container, fit_intercept, weighted, alpha):
    """Oracle: (grad(theta + h D) - grad(theta - h D)) / 2h along a random D."""
    X, y, coef, intercept, w = make_problem(
        12, container=container, fit_intercept=fit_intercept, weighted=weighted
    )
    rng = np.random.default_rng(120)
    V = rng.standard_normal(coef.shape)
    v = rng.standard_normal(coef.shape[0]) if fit_intercept else None
    h = 1e-6 / np.linalg.norm(pack(V, v))

    def grad(t):
        W = coef + t * V
        b = None if intercept is None else intercept + t * v
        _, gW, gb = loss_gradient(W, b, X, y, sample_weight=w, alpha=alpha)
        return pack(gW, gb)

    fd = (grad(h) - grad(-h)) / (2 * h)
    _, _, hessp = gradient_hessian_product(coef, intercept, X, y, sample_weight=w, alpha=alpha)
    hW, hb = hessp(V, v)
    assert hW.shape == V.shape
    assert (hb is None) == (v is None)
    assert rel_err(pack(hW, hb), fd) <= 1e-6


@GRID
@GRID_W
@GRID_B
@GRID_X
def test_hessian_is_symmetric_and_positive_semidefinite(container, fit_intercept, weighted, alpha):
    """Oracle: u^T H v == v^T H u and v^T H v >= 0 (cross-entropy is convex)."""
    X, y, coef, intercept, w = make_problem(
        13, container=container, fit_intercept=fit_intercept, weighted=weighted
    )
    c = coef.shape[0]
    rng = np.random.default_rng(130)
    _, _, hessp = gradient_hessian_product(coef, intercept, X, y, sample_weight=w, alpha=alpha)

    def direction():
        return rng.standard_normal(coef.shape), (rng.standard_normal(c) if fit_intercept else None)

    for _ in range(5):
        U, u = direction()
        V, v = direction()
        uHv = pack(U, u) @ pack(*hessp(V, v))
        vHu = pack(V, v) @ pack(*hessp(U, u))
        scale = np.linalg.norm(pack(U, u)) * np.linalg.norm(pack(*hessp(V, v)))
        assert abs(uHv - vHu) <= 1e-10 * max(abs(uHv), scale)
        vHv = pack(V, v) @ pack(*hessp(V, v))
        assert vHv >= -1e-12 * np.linalg.norm(pack(V, v)) ** 2
        if alpha > 0:
            # the penalty alone contributes alpha * ||V||^2
            assert vHv >= alpha * np.sum(V**2) * (1 - 1e-12)


def test_hessian_is_zero_along_common_logit_shift():
    """Oracle: adding the same b to every class leaves softmax unchanged, so
    H [0, 1] = 0 (the common shift is the Hessian's null direction)."""
    X, y, coef, intercept, w = make_problem(14, weighted=True)
    _, _, hessp = gradient_hessian_product(coef, intercept, X, y, sample_weight=w)
    hW, hb = hessp(np.zeros_like(coef), np.ones_like(intercept))
    assert np.abs(hW).max() <= 1e-15
    assert np.abs(hb).max() <= 1e-15


def test_hessp_without_intercept_direction_is_coef_block():
    """Oracle: hessp(V, None) is the coef block, i.e. hessp(V, 0)'s coef part."""
    X, y, coef, intercept, w = make_problem(15, weighted=True)
    _, _, hessp = gradient_hessian_product(coef, intercept, X, y, sample_weight=w, alpha=0.1)
    V = np.random.default_rng(150).standard_normal(coef.shape)
    hW_none, hb_none = hessp(V)
    hW_zero, _ = hessp(V, np.zeros(coef.shape[0]))
    assert hb_none is None
    assert rel_err(hW_none, hW_zero) <= 1e-14


# ---------------------------------------------------------------------------
# 3. Independent naive reference and scikit-learn
# ---------------------------------------------------------------------------


@GRID
@GRID_W
@GRID_B
@GRID_X
def test_matches_naive_per_sample_reference(container, fit_intercept, weighted, alpha):
    """Oracle: ``naive_loss_gradient`` (per-sample loops from the notes)."""
    X, y, coef, intercept, w = make_problem(
        21, container=container, fit_intercept=fit_intercept, weighted=weighted
    )
    ref_value, ref_coef, ref_int = naive_loss_gradient(coef, intercept, X, y, w, alpha)
    assert loss(coef, intercept, X, y, sample_weight=w, alpha=alpha) == pytest.approx(
        ref_value, rel=1e-12
    )
    value, g_coef, g_int = loss_gradient(coef, intercept, X, y, sample_weight=w, alpha=alpha)
    assert value == pytest.approx(ref_value, rel=1e-12)
    assert rel_err(g_coef, ref_coef) <= 1e-12
    if fit_intercept:
        assert rel_err(g_int, ref_int) <= 1e-12
    else:
        assert g_int is None


@GRID_W
@GRID_B
@GRID_X
def test_loss_matches_sklearn_log_loss(container, fit_intercept, weighted):
    """Oracle: ``sklearn.metrics.log_loss`` on softmax probabilities (alpha=0)."""
    X, y, coef, intercept, w = make_problem(
        22, container=container, fit_intercept=fit_intercept, weighted=weighted
    )
    c = coef.shape[0]
    # independent logits (dense product written here) for the oracle
    logits = to_dense(X) @ coef.T + (0.0 if intercept is None else intercept)
    proba = softmax(logits)
    expected = log_loss(y, proba, labels=list(range(c)), sample_weight=w)
    assert loss(coef, intercept, X, y, sample_weight=w) == pytest.approx(expected, rel=1e-10)


def test_raw_prediction_matches_explicit_product():
    """Oracle: X @ W.T + b written out with numpy on dense data, and the
    docstring example."""
    for container in ["dense", "csr_matrix", "csr_array"]:
        X, _, coef, intercept, _ = make_problem(23, container=container)
        Xd = to_dense(X)
        np.testing.assert_allclose(
            raw_prediction(X, coef, intercept), Xd @ coef.T + intercept, rtol=1e-14, atol=1e-14
        )
        out = raw_prediction(X, coef)
        assert isinstance(out, np.ndarray) and out.shape == (X.shape[0], coef.shape[0])
        np.testing.assert_allclose(out, Xd @ coef.T, rtol=1e-14, atol=1e-14)
    np.testing.assert_array_equal(
        raw_prediction(np.array([[1.0, 2.0]]), np.eye(2), np.array([0.5, 0.0])), [[1.5, 2.0]]
    )


# ---------------------------------------------------------------------------
# 4. Known values
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("c", [2, 3, 4, 7])
@GRID_W
@GRID_X
def test_zero_parameters_give_log_c_and_class_frequencies(c, weighted, container):
    """Oracle: at W = 0, b = 0 every p_i = 1/c, so L = log c and
    grad_b = 1/c - weighted class frequencies, grad_W_i = (mean x)/c - class-i weighted sum."""
    X, y, coef, _, w = make_problem(31, c=c, weighted=weighted, container=container)
    W0, b0 = np.zeros_like(coef), np.zeros(c)
    value = loss(W0, b0, X, y, sample_weight=w)
    assert abs(value - math.log(c)) <= 1e-15 * math.log(c) + 1e-15
    _, g_coef, g_int = loss_gradient(W0, b0, X, y, sample_weight=w)
    s = np.ones(X.shape[0]) if w is None else w
    freq = np.array([s[y == i].sum() for i in range(c)]) / s.sum()
    np.testing.assert_allclose(g_int, 1.0 / c - freq, rtol=0, atol=1e-15)
    Xd = to_dense(X)
    mean_x = (s @ Xd) / s.sum()
    class_sum = np.array([(s[y == i] @ Xd[y == i]) for i in range(c)]) / s.sum()
    np.testing.assert_allclose(g_coef, mean_x / c - class_sum, rtol=0, atol=1e-14)


def test_softmax_known_values():
    """Oracle: e^0 : e^{log 3} = 1 : 3, so softmax([0, log 3]) = [1/4, 3/4];
    and log_softmax([0, 2000]) = [-2000, 0]."""
    np.testing.assert_allclose(softmax(np.array([[0.0, np.log(3.0)]])), [[0.25, 0.75]], rtol=1e-15)
    np.testing.assert_allclose(
        log_softmax(np.array([[0.0, np.log(3.0)]])), [[np.log(0.25), np.log(0.75)]], rtol=1e-15
    )
    np.testing.assert_array_equal(log_softmax(np.array([[0.0, 2000.0]])), [[-2000.0, 0.0]])
    np.testing.assert_allclose(softmax(np.zeros((3, 5))), np.full((3, 5), 0.2), rtol=1e-15)
    # integer input is promoted to float
    np.testing.assert_allclose(softmax(np.array([[0, 0]])), [[0.5, 0.5]], rtol=1e-15)


def test_softmax_does_not_modify_its_input():
    """Oracle: a copy of the input taken before the call."""
    a = np.random.default_rng(32).standard_normal((6, 3))
    before = a.copy()
    softmax(a)
    log_softmax(a)
    np.testing.assert_array_equal(a, before)


def test_inputs_are_not_modified():
    """Oracle: copies of every argument taken before the calls."""
    for container in ["dense", "csr_matrix"]:
        X, y, coef, intercept, w = make_problem(33, container=container, weighted=True)
        copies = [to_dense(X).copy(), y.copy(), coef.copy(), intercept.copy(), w.copy()]
        loss(coef, intercept, X, y, sample_weight=w, alpha=0.1)
        loss_gradient(coef, intercept, X, y, sample_weight=w, alpha=0.1)
        _, _, hessp = gradient_hessian_product(coef, intercept, X, y, sample_weight=w, alpha=0.1)
        V, v = coef.copy() + 1.0, intercept.copy() + 1.0
        hessp(V, v)
        for arr, ref in zip([to_dense(X), y, coef, intercept, w], copies, strict=True):
            np.testing.assert_array_equal(arr, ref)
        np.testing.assert_array_equal(V, coef + 1.0)
        np.testing.assert_array_equal(v, intercept + 1.0)


# ---------------------------------------------------------------------------
# 5. Numerical stability
# ---------------------------------------------------------------------------


def _huge_logit_problem(seed, kind, dtype):
    """Problems whose logits reach about 1e4 ("logits") or ~1e6 ("features")."""
    rng = np.random.default_rng(seed)
    n, d, c = 40, 5, 4
    y = rng.integers(0, c, size=n)
    if kind == "logits":
        X = rng.standard_normal((n, d))
        coef = rng.standard_normal((c, d))
        coef *= 1e4 / np.abs(X @ coef.T).max()
        intercept = rng.uniform(-10, 10, size=c)
    else:  # features of order 1e6, coef magnitudes 1e-2 .. 1
        X = rng.choice([-1.0, 1.0], size=(n, d)) * 10 ** rng.uniform(5.5, 6.0, size=(n, d))
        coef = rng.choice([-1.0, 1.0], size=(c, d)) * 10 ** rng.uniform(-2, 0, size=(c, d))
        intercept = rng.standard_normal(c)
    return X.astype(dtype), y, coef, intercept


@pytest.mark.parametrize("kind", ["logits", "features"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("container", ["dense", "csr_matrix"])
def test_huge_logits_are_stable(kind, dtype, container):
    """Oracle: scipy.special.logsumexp on float64 logits; finiteness; rows sum to 1."""
    X, y, coef, intercept = _huge_logit_problem(41, kind, dtype)
    if container != "dense":
        X = sp.csr_matrix(X)
    raw = raw_prediction(X, coef, intercept)
    assert np.abs(raw).max() > 1e3  # really large logits
    raw64 = to_dense(X).astype(np.float64) @ coef.T + intercept
    sum_tol = 1e-6 if dtype == np.float32 else 1e-12

    p = softmax(raw)
    assert p.dtype == dtype
    assert np.all(np.isfinite(p)) and np.all(p >= 0) and np.all(p <= 1)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=0, atol=sum_tol)
    assert np.any(p == 0)  # some probabilities underflow ...
    lp = log_softmax(raw)
    assert np.all(np.isfinite(lp))  # ... but their logs stay finite
    assert np.all(lp <= 0)
    ref_lp = raw.astype(np.float64) - logsumexp(raw.astype(np.float64), axis=1, keepdims=True)
    np.testing.assert_allclose(
        lp, ref_lp, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=sum_tol
    )

    rows = np.arange(len(y))
    ref_loss = float(np.mean(logsumexp(raw64, axis=1) - raw64[rows, y]))
    value, g_coef, g_int = loss_gradient(coef, intercept, X, y, alpha=0.1)
    ref_loss += 0.05 * float(np.sum(coef**2))
    assert math.isfinite(value)
    rtol = 1e-4 if dtype == np.float32 else 1e-10
    assert value == pytest.approx(ref_loss, rel=rtol)
    assert loss(coef, intercept, X, y, alpha=0.1) == pytest.approx(ref_loss, rel=rtol)
    assert np.all(np.isfinite(g_coef)) and np.all(np.isfinite(g_int))
    _, _, hessp = gradient_hessian_product(coef, intercept, X, y, alpha=0.1)
    hW, hb = hessp(np.ones_like(coef), np.ones_like(intercept))
    assert np.all(np.isfinite(hW)) and np.all(np.isfinite(hb))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_extreme_two_class_values(dtype):
    """Oracle: logits (1e4, -1e4) give CE = 2e4 for the wrong class and 0 for the
    right one (log(1 + e^{-2e4}) == 0 in floating point)."""
    X = np.array([[1.0], [1.0]], dtype=dtype)
    coef = np.array([[1e4], [-1e4]])
    y = np.array([1, 0])
    assert loss(coef, None, X, y) == pytest.approx(1e4, rel=1e-12)  # (2e4 + 0) / 2
    p = softmax(raw_prediction(X, coef))
    np.testing.assert_array_equal(p, [[1.0, 0.0], [1.0, 0.0]])
    np.testing.assert_array_equal(log_softmax(raw_prediction(X, coef)), [[0.0, -2e4], [0.0, -2e4]])
    _, g_coef, _ = loss_gradient(coef, None, X, y)
    # residuals: row 0 (y=1): (1, -1); row 1 (y=0): (0, 0) -> mean (0.5, -0.5)
    np.testing.assert_allclose(g_coef, [[0.5], [-0.5]], rtol=1e-12)


# ---------------------------------------------------------------------------
# 6. Property-based tests
# ---------------------------------------------------------------------------

_LOGIT = st.floats(-50, 50, allow_nan=False, allow_infinity=False, allow_subnormal=False)


@st.composite
def logit_matrices(draw):
    n = draw(st.integers(1, 6))
    c = draw(st.integers(1, 6))
    return draw(hnp.arrays(np.float64, (n, c), elements=_LOGIT))


@st.composite
def problems(draw):
    n = draw(st.integers(1, 8))
    d = draw(st.integers(1, 4))
    c = draw(st.integers(2, 5))
    X = draw(hnp.arrays(np.float64, (n, d), elements=st.floats(-10, 10, allow_subnormal=False)))
    coef = draw(hnp.arrays(np.float64, (c, d), elements=st.floats(-5, 5, allow_subnormal=False)))
    intercept = draw(
        st.none() | hnp.arrays(np.float64, c, elements=st.floats(-5, 5, allow_subnormal=False))
    )
    y = draw(hnp.arrays(np.int64, n, elements=st.integers(0, c - 1)))
    w = draw(
        st.none() | hnp.arrays(np.float64, n, elements=st.floats(0, 10, allow_subnormal=False))
    )
    if w is not None and w.sum() <= 0:
        w[0] = 1.0
    alpha = draw(st.sampled_from([0.0, 0.1, 1.0]))
    return X, y, coef, intercept, w, alpha


@settings(deadline=None, max_examples=50)
@given(logit_matrices(), st.data())
def test_softmax_is_shift_invariant(a, data):
    """Oracle: softmax(a + t 1^T) == softmax(a) for any per-row constant t."""
    t = data.draw(hnp.arrays(np.float64, (a.shape[0], 1), elements=_LOGIT))
    np.testing.assert_allclose(softmax(a + t), softmax(a), rtol=0, atol=1e-12)
    np.testing.assert_allclose(log_softmax(a + t), log_softmax(a), rtol=0, atol=1e-12)


@settings(deadline=None, max_examples=50)
@given(logit_matrices())
def test_softmax_is_a_distribution_and_log_softmax_its_log(a):
    """Oracle: probability axioms; log_softmax == log(softmax) where p > 1e-300;
    and the order of the logits is preserved."""
    p = softmax(a)
    assert p.shape == a.shape
    assert np.all(p >= 0) and np.all(p <= 1)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    lp = log_softmax(a)
    mask = p > 1e-300
    np.testing.assert_allclose(lp[mask], np.log(p[mask]), rtol=1e-12, atol=1e-12)
    # independent oracle for log-probabilities
    np.testing.assert_allclose(lp, a - logsumexp(a, axis=1, keepdims=True), rtol=1e-12, atol=1e-12)


@settings(deadline=None, max_examples=50)
@given(problems())
def test_loss_and_gradient_identities(problem):
    """Oracle: CE >= 0; sum_i (p_i - delta_i) = 0 per sample, so the intercept
    gradient sums to 0 and the coef gradient's class-sum is alpha * coef's class-sum."""
    X, y, coef, intercept, w, alpha = problem
    value, g_coef, g_int = loss_gradient(coef, intercept, X, y, sample_weight=w, alpha=alpha)
    assert value >= 0
    assert value >= 0.5 * alpha * float(np.sum(coef**2)) * (1 - 1e-12)
    assert loss(coef, intercept, X, y, sample_weight=w, alpha=alpha) == pytest.approx(
        value, rel=1e-14
    )
    if intercept is None:
        assert g_int is None
    else:
        assert abs(g_int.sum()) <= 1e-12 * max(1.0, np.abs(g_int).max())
    col_scale = 1.0 + np.abs(X).max() + alpha * np.abs(coef).sum(axis=0)
    assert np.all(np.abs(g_coef.sum(axis=0) - alpha * coef.sum(axis=0)) <= 1e-12 * col_scale)


# ---------------------------------------------------------------------------
# 7. dtype
# ---------------------------------------------------------------------------


@GRID_B
@GRID_W
@pytest.mark.parametrize("container", ["dense", "csr_matrix", "csr_array"])
def test_dtype_is_preserved_and_float32_agrees_with_float64(container, weighted, fit_intercept):
    """Oracle: the same data evaluated in float64 (X32 cast up exactly)."""
    X64, y, coef, intercept, w = make_problem(
        71, container=container, fit_intercept=fit_intercept, weighted=weighted
    )
    X32 = X64.astype(np.float32)
    X64 = X32.astype(np.float64)  # identical values, so only rounding differs
    rng = np.random.default_rng(710)
    V = rng.standard_normal(coef.shape)
    v = rng.standard_normal(coef.shape[0]) if fit_intercept else None

    results = {}
    for X in (X32, X64):
        dt = X.dtype
        raw = raw_prediction(X, coef, intercept)
        assert raw.dtype == dt
        assert softmax(raw).dtype == dt
        assert log_softmax(raw).dtype == dt
        value = loss(coef, intercept, X, y, sample_weight=w, alpha=0.1)
        assert type(value) is float
        value2, g_coef, g_int = loss_gradient(coef, intercept, X, y, sample_weight=w, alpha=0.1)
        assert type(value2) is float
        assert g_coef.dtype == dt
        hg_coef, hg_int, hessp = gradient_hessian_product(
            coef, intercept, X, y, sample_weight=w, alpha=0.1
        )
        assert hg_coef.dtype == dt
        hW, hb = hessp(V, v)
        assert hW.dtype == dt
        if fit_intercept:
            assert g_int.dtype == dt and hg_int.dtype == dt and hb.dtype == dt
        results[dt] = (raw, softmax(raw), value, pack(g_coef, g_int), pack(hW, hb))

    r32, r64 = results[np.dtype(np.float32)], results[np.dtype(np.float64)]
    for a32, a64 in zip(r32, r64, strict=True):
        assert rel_err(a32, a64) <= 1e-5


# ---------------------------------------------------------------------------
# 8. Internal consistency
# ---------------------------------------------------------------------------


@GRID
@GRID_W
@GRID_B
@GRID_X
def test_gradient_hessian_product_gradient_equals_loss_gradient(
    container, fit_intercept, weighted, alpha
):
    """Oracle: ``loss_gradient``'s gradient (independently checked above)."""
    X, y, coef, intercept, w = make_problem(
        81, container=container, fit_intercept=fit_intercept, weighted=weighted
    )
    _, g_coef, g_int = loss_gradient(coef, intercept, X, y, sample_weight=w, alpha=alpha)
    h_coef, h_int, _ = gradient_hessian_product(coef, intercept, X, y, sample_weight=w, alpha=alpha)
    assert rel_err(h_coef, g_coef) <= 1e-14
    if fit_intercept:
        assert rel_err(h_int, g_int) <= 1e-14
    else:
        assert h_int is None


@GRID
@GRID_W
@GRID_B
@pytest.mark.parametrize("container", ["csr_matrix", "csr_array"])
def test_dense_and_sparse_agree(container, fit_intercept, weighted, alpha):
    """Oracle: the dense evaluation of the same X."""
    Xs, y, coef, intercept, w = make_problem(
        82, container=container, fit_intercept=fit_intercept, weighted=weighted
    )
    Xd = to_dense(Xs)
    rng = np.random.default_rng(820)
    V = rng.standard_normal(coef.shape)
    v = rng.standard_normal(coef.shape[0]) if fit_intercept else None

    def evaluate(X):
        value, g_coef, g_int = loss_gradient(coef, intercept, X, y, sample_weight=w, alpha=alpha)
        _, _, hessp = gradient_hessian_product(coef, intercept, X, y, sample_weight=w, alpha=alpha)
        return (
            raw_prediction(X, coef, intercept),
            loss(coef, intercept, X, y, sample_weight=w, alpha=alpha),
            value,
            pack(g_coef, g_int),
            pack(*hessp(V, v)),
        )

    for a_sparse, a_dense in zip(evaluate(Xs), evaluate(Xd), strict=True):
        assert rel_err(a_sparse, a_dense) <= 1e-12


# ---------------------------------------------------------------------------
# 9. The sample-weight contract
# ---------------------------------------------------------------------------


def _evaluate_all(X, y, coef, intercept, w, alpha, V, v):
    value, g_coef, g_int = loss_gradient(coef, intercept, X, y, sample_weight=w, alpha=alpha)
    _, _, hessp = gradient_hessian_product(coef, intercept, X, y, sample_weight=w, alpha=alpha)
    return (
        loss(coef, intercept, X, y, sample_weight=w, alpha=alpha),
        value,
        pack(g_coef, g_int),
        pack(*hessp(V, v)),
    )


def _assert_all_close(res_a, res_b, tol=1e-12):
    for a, b in zip(res_a, res_b, strict=True):
        assert rel_err(a, b) <= tol


def _directions(coef, fit_intercept, seed):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(coef.shape), (
        rng.standard_normal(coef.shape[0]) if fit_intercept else None
    )


@GRID
@GRID_B
@GRID_X
def test_integer_weights_equal_repeated_rows(container, fit_intercept, alpha):
    """Oracle: the unweighted problem with row k repeated s_k times (s_k = 0 drops it)."""
    X, y, coef, intercept, _ = make_problem(91, container=container, fit_intercept=fit_intercept)
    rng = np.random.default_rng(910)
    s = rng.integers(0, 4, size=X.shape[0])
    s[0] = 2
    idx = np.repeat(np.arange(X.shape[0]), s)
    V, v = _directions(coef, fit_intercept, 911)
    weighted = _evaluate_all(X, y, coef, intercept, s.astype(np.float64), alpha, V, v)
    repeated = _evaluate_all(X[idx], y[idx], coef, intercept, None, alpha, V, v)
    _assert_all_close(weighted, repeated)
    # integer dtype weights behave like their float values
    _assert_all_close(_evaluate_all(X, y, coef, intercept, s, alpha, V, v), repeated)


@GRID
@GRID_B
@GRID_X
def test_scaling_all_weights_changes_nothing(container, fit_intercept, alpha):
    """Oracle: the same problem with weights divided by 7.3; and unit weights == None."""
    X, y, coef, intercept, w = make_problem(
        92, container=container, fit_intercept=fit_intercept, weighted=True
    )
    V, v = _directions(coef, fit_intercept, 920)
    _assert_all_close(
        _evaluate_all(X, y, coef, intercept, 7.3 * w, alpha, V, v),
        _evaluate_all(X, y, coef, intercept, w, alpha, V, v),
    )
    _assert_all_close(
        _evaluate_all(X, y, coef, intercept, np.full(X.shape[0], 7.3), alpha, V, v),
        _evaluate_all(X, y, coef, intercept, None, alpha, V, v),
    )


@GRID
@GRID_B
@GRID_X
def test_zero_weight_equals_dropping_the_row(container, fit_intercept, alpha):
    """Oracle: the problem without the zero-weight rows."""
    X, y, coef, intercept, w = make_problem(
        93, container=container, fit_intercept=fit_intercept, weighted=True
    )
    keep = w > 0
    assert not keep.all()
    V, v = _directions(coef, fit_intercept, 930)
    _assert_all_close(
        _evaluate_all(X, y, coef, intercept, w, alpha, V, v),
        _evaluate_all(X[keep], y[keep], coef, intercept, w[keep], alpha, V, v),
    )
    # a zero-weight row's label and features do not matter at all
    y2 = y.copy()
    y2[~keep] = (y2[~keep] + 1) % coef.shape[0]
    Xd = to_dense(X).copy()
    Xd[~keep] = 1e3
    X2 = sp.csr_matrix(Xd) if sp.issparse(X) else Xd
    _assert_all_close(
        _evaluate_all(X2, y2, coef, intercept, w, alpha, V, v),
        _evaluate_all(X[keep], y[keep], coef, intercept, w[keep], alpha, V, v),
    )
