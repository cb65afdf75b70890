"""Tests of the solvers: each reaches the reference optimum and keeps its contract.

Oracles, none of them taken from the output of the code under test:

* scikit-learn's ``LogisticRegression`` (multinomial, ``C = 1 / (alpha * n)``),
  whose solution is scored with our objective;
* note ``004``'s per-example SGD update, written out by hand here;
* the solver contract itself (stop reasons, history, callback), checked against
  objective evaluations made by the test.
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

from softmax_classifier import SoftmaxClassifier
from softmax_classifier.data import InMemoryData
from softmax_classifier.objective import SoftmaxObjective
from softmax_classifier.solvers import SOLVERS, Iteration, adam, gd, lbfgs, newton_cg, sgd

ALL_SOLVERS = ["lbfgs", "newton-cg", "gd", "sgd", "adam"]
STOCHASTIC = ("sgd", "adam")

# ---------------------------------------------------------------------------
# Data and the scikit-learn reference (cached: several tests share them)
# ---------------------------------------------------------------------------


def _sparse_problem():
    """300 x 50 CSR, density 0.1, 4 classes drawn from a random linear model."""
    rng = np.random.default_rng(0)
    X = sp.random(
        300, 50, density=0.1, format="csr", random_state=rng, data_rvs=rng.standard_normal
    )
    coef = 2.0 * rng.standard_normal((4, 50))
    y = np.argmax(X @ coef.T + rng.gumbel(size=(300, 4)), axis=1)
    return X, y


@functools.cache
def dataset(name):
    if name == "sparse":
        return _sparse_problem()
    loader = {"digits": load_digits, "iris": load_iris, "wine": load_wine}[name]
    X, y = loader(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def objective_for(X, y, alpha, **kwargs):
    return SoftmaxObjective(InMemoryData(X, y), len(np.unique(y)), alpha=alpha, **kwargs)


@functools.cache
def sklearn_reference(name, alpha):
    """scikit-learn's fit and its value of OUR objective."""
    X, y = dataset(name)
    n = X.shape[0]
    # One BLAS thread: at tol=1e-10 scikit-learn's lbfgs makes thousands of small products,
    # and a second OpenBLAS thread woken for each made the digits reference take ~15 s on
    # two cores instead of ~1 s. The reference optimum does not depend on the thread count.
    with warnings.catch_warnings(), threadpool_limits(1, user_api="blas"):
        warnings.simplefilter("ignore", ConvergenceWarning)
        reference = LogisticRegression(C=1.0 / (alpha * n), tol=1e-10, max_iter=10000).fit(X, y)
    objective = objective_for(X, y, alpha)
    value = objective.value(objective.pack(reference.coef_, reference.intercept_))
    return reference, value


def our_value(clf, name, alpha):
    X, y = dataset(name)
    objective = objective_for(X, y, alpha)
    return objective.value(objective.pack(clf.coef_, clf.intercept_))


# ---------------------------------------------------------------------------
# Same optimum as scikit-learn
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("solver", ["lbfgs", "newton-cg"])
@pytest.mark.parametrize(
    ("name", "alpha"),
    [("digits", 1e-3), ("iris", 1e-3), ("wine", 1e-3), ("sparse", 1e-3), ("digits", 1e-2)],
)
def test_same_optimum_as_sklearn(solver, name, alpha):
    X, y = dataset(name)
    reference, f_sklearn = sklearn_reference(name, alpha)
    with warnings.catch_warnings():
        # At tol=1e-10 lbfgs may end with "line_search_failed" at the limit of
        # precision (ConvergenceWarning). scipy's LineSearchWarning leaking out of
        # lbfgs is checked separately, in test_lbfgs_emits_no_line_search_warning.
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.filterwarnings("ignore", message="The line search algorithm did not converge")
        clf = SoftmaxClassifier(alpha=alpha, solver=solver, tol=1e-10, max_iter=10000).fit(X, y)
    assert clf.fit_report_.stop_reason in ("converged", "line_search_failed")
    f_ours = our_value(clf, name, alpha)
    assert f_ours <= f_sklearn * (1 + 1e-8), (f_ours, f_sklearn)
    assert abs(f_ours - f_sklearn) <= 1e-8 * abs(f_sklearn), (f_ours, f_sklearn)
    np.testing.assert_allclose(clf.predict_proba(X), reference.predict_proba(X), rtol=0, atol=1e-5)


@pytest.mark.parametrize("solver", ["gd", "sgd", "adam"])
def test_first_order_solver_defaults_reach_sklearn_objective(solver):
    X, y = dataset("digits")
    _, f_sklearn = sklearn_reference("digits", 1e-3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter is expected here
        clf = SoftmaxClassifier(alpha=1e-3, solver=solver, random_state=0).fit(X, y)
    f_ours = our_value(clf, "digits", 1e-3)
    assert abs(f_ours - f_sklearn) <= 1e-3 * f_sklearn, (f_ours, f_sklearn)


def test_newton_cg_converges_in_few_iterations():
    X, y = dataset("digits")
    objective = objective_for(X, y, 1e-3)
    result = SOLVERS["newton-cg"](objective, objective.zeros(), tol=1e-8, max_iter=100)
    assert result.stop_reason == "converged"
    assert result.n_iter < 20
    _, grad = objective.value_and_grad(result.params)
    assert np.max(np.abs(grad)) <= 1e-8


def test_lbfgs_emits_no_line_search_warning():
    """lbfgs handles a failed Wolfe search itself; scipy's LineSearchWarning (a
    RuntimeWarning, an error under this project's pytest settings) must not escape."""
    X, y = dataset("iris")
    objective = objective_for(X, y, 1e-3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        result = SOLVERS["lbfgs"](objective, objective.zeros(), tol=1e-12, max_iter=10000)
    assert result.stop_reason in ("converged", "line_search_failed")
    _, grad = objective.value_and_grad(result.params)
    assert np.max(np.abs(grad)) <= 1e-8


# ---------------------------------------------------------------------------
# SGD with batch_size=1 is note 004's per-example update
# ---------------------------------------------------------------------------


class InOrderData(InMemoryData):
    """Rows one at a time in their stored order, whatever the rng."""

    def batches(self, batch_size, rng):
        assert batch_size == 1
        for i in range(self.n_samples):
            yield self.X[i : i + 1], self.y[i : i + 1], None


def test_sgd_one_epoch_is_note_004_update():
    rng = np.random.default_rng(3)
    n, d, c = 40, 5, 3
    X = rng.standard_normal((n, d))
    y = rng.integers(0, c, size=n)
    objective = SoftmaxObjective(InOrderData(X, y), c, alpha=0.0)
    x0 = 0.3 * rng.standard_normal(objective.n_params)
    lr = 0.1
    result = sgd.minimize(
        objective,
        x0,
        max_iter=1,
        tol=0,
        learning_rate=lr,
        schedule="constant",
        batch_size=1,
        momentum=0.0,
    )
    assert result.n_iter == 1
    assert result.stop_reason == "max_iter"

    # Note 004, example by example.
    W = x0[: c * d].reshape(c, d).copy()
    b = x0[c * d :].copy()
    for t in range(n):
        logits = W @ X[t] + b
        p = np.exp(logits - logits.max())
        p /= p.sum()
        for i in range(c):
            indicator = 1.0 if i == y[t] else 0.0
            W[i] -= lr * X[t] * (p[i] - indicator)
            b[i] -= lr * (p[i] - indicator)
    expected = np.concatenate([W.ravel(), b])
    np.testing.assert_allclose(result.params, expected, rtol=1e-12, atol=1e-12)
    assert not np.allclose(expected, x0)  # the epoch did move the parameters


# ---------------------------------------------------------------------------
# The solver contract
# ---------------------------------------------------------------------------


@functools.cache
def small_problem():
    X, y = dataset("iris")
    return X, y


def small_objective(alpha=1e-2):
    X, y = small_problem()
    return objective_for(X, y, alpha)


def options(solver):
    return {"random_state": 0} if solver in STOCHASTIC else {}


@pytest.mark.parametrize("solver", ALL_SOLVERS)
def test_max_iter_stop_and_history(solver):
    objective = small_objective()
    x0 = 0.1 * np.random.default_rng(1).standard_normal(objective.n_params)
    result = SOLVERS[solver](objective, x0, max_iter=2, tol=0, **options(solver))
    assert result.stop_reason == "max_iter"
    assert not result.converged
    assert result.n_iter == 2
    assert len(result.objective_history) == result.n_iter + 1
    assert result.objective_history[0] == pytest.approx(objective.value(x0), rel=1e-14)
    value, grad = objective.value_and_grad(result.params)
    assert result.objective_history[-1] == pytest.approx(value, rel=1e-14)
    assert result.grad_norm == pytest.approx(np.max(np.abs(grad)), rel=1e-12)
    assert result.params.dtype == np.float64
    assert result.params.shape == x0.shape
    assert isinstance(result.message, str)
    assert result.message


@pytest.mark.parametrize(
    ("solver", "tol"),
    [("lbfgs", 1e-6), ("newton-cg", 1e-6), ("gd", 1e-6), ("sgd", 1e-3), ("adam", 1e-3)],
)
def test_converged_when_tol_is_reachable(solver, tol):
    objective = small_objective()
    result = SOLVERS[solver](
        objective, objective.zeros(), max_iter=2000, tol=tol, **options(solver)
    )
    assert result.stop_reason == "converged"
    assert result.converged
    assert 0 < result.n_iter < 2000
    assert len(result.objective_history) == result.n_iter + 1
    _, grad = objective.value_and_grad(result.params)
    assert np.max(np.abs(grad)) <= tol
    assert result.grad_norm <= tol


def _weight_check_problem(sparse):
    """scikit-learn's sample-weight equivalence problem: 15 rows, 30 features, 3 classes.

    Wider than tall, so the smallest curvature is alpha: a fit must reach a
    gradient near machine precision to pin the coefficients down.
    """
    rng = np.random.RandomState(42)
    X, y = rng.rand(15, 30), rng.randint(0, 3, size=15)
    return (sp.csr_matrix(X) if sparse else X), y


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("solver", ["lbfgs", "newton-cg"])
def test_tight_tolerance_is_reached_where_values_are_rounding_noise(solver, sparse):
    # Regression (CI red on Intel): with Armijo tests on objective values alone,
    # where values differ only by rounding the searches failed at max|grad| ~ 1e-10
    # or stopped there on one BLAS kernel and not another. Accepting steps by their
    # directional derivative there reaches 1e-12 (values are then ~1e-13 apart).
    X, y = _weight_check_problem(sparse)
    objective = objective_for(X, y, 1 / 15)
    result = SOLVERS[solver](objective, objective.zeros(), max_iter=1000, tol=1e-12)
    assert result.stop_reason == "converged", result.message
    _, grad = objective.value_and_grad(result.params)
    assert np.max(np.abs(grad)) <= 1e-12


@pytest.mark.parametrize("solver", ["lbfgs", "newton-cg"])
def test_float32_data_reach_the_default_tolerance(solver):
    # Regression: float32 iris with weights stopped by line_search_failed at
    # max|grad| = 2.4e-5 > tol = 1e-5 (the default), a ConvergenceWarning on a toy set.
    X, y = dataset("iris")
    weights = np.ones(len(y))
    weights[::3] = 2.0
    data = InMemoryData(X.astype(np.float32), y, weights.astype(np.float32))
    objective = SoftmaxObjective(data, 3, alpha=0.01)
    result = SOLVERS[solver](objective, objective.zeros(), tol=1e-6)
    assert result.stop_reason == "converged", result.message


@pytest.mark.parametrize("solver", ["lbfgs", "newton-cg", "gd"])
def test_full_batch_history_is_non_increasing(solver):
    X, y = dataset("wine")
    objective = objective_for(X, y, 1e-3)
    result = SOLVERS[solver](objective, objective.zeros(), max_iter=300, tol=1e-9)
    history = np.array(result.objective_history)
    assert len(history) == result.n_iter + 1 > 5
    assert np.all(np.diff(history) <= 0), np.diff(history).max()
    assert history[-1] < history[0]


@pytest.mark.parametrize("solver", ALL_SOLVERS)
def test_callback_stops_and_sees_iterations(solver):
    objective = small_objective()
    seen = []

    def callback(info):
        seen.append(info)
        return info.iteration == 3

    result = SOLVERS[solver](
        objective, objective.zeros(), max_iter=50, tol=0, callback=callback, **options(solver)
    )
    assert result.stop_reason == "stopped"
    assert result.n_iter == 3
    assert len(result.objective_history) == 4
    assert all(isinstance(info, Iteration) for info in seen)
    assert [info.iteration for info in seen] == [1, 2, 3]
    for info, value in zip(seen, result.objective_history[1:], strict=True):
        assert info.objective == value
        assert info.objective == pytest.approx(objective.value(info.params), rel=1e-14)
    np.testing.assert_array_equal(seen[-1].params, result.params)
    _, grad = objective.value_and_grad(seen[-1].params)
    assert seen[-1].grad_norm == pytest.approx(np.max(np.abs(grad)), rel=1e-12)


@pytest.mark.parametrize("solver", ALL_SOLVERS)
def test_iteration_state_called_after_the_run_is_that_iterations_checkpoint(solver):
    objective = small_objective()
    seen = []
    kwargs = {"max_iter": 4, "tol": 0, **options(solver)}
    result = SOLVERS[solver](objective, objective.zeros(), callback=seen.append, **kwargs)
    saved = seen[1].state()  # called once the run has gone two iterations further
    assert saved["n_iter"] == 2
    np.testing.assert_array_equal(saved["x"], seen[1].params)
    assert list(saved["history"]) == result.objective_history[:3]
    resumed = SOLVERS[solver](objective, objective.zeros(), resume=saved, **kwargs)
    np.testing.assert_array_equal(resumed.params, result.params)
    assert resumed.objective_history == result.objective_history


def hand_stepper(solver, objective):
    """A full-batch solver's public ``init`` and one-argument ``step``, for a loop by hand."""
    if solver == "newton-cg":
        direction = newton_cg.search_direction(objective)
        return newton_cg.init, lambda state: newton_cg.step(objective, state, direction)
    module = {"gd": gd, "lbfgs": lbfgs}[solver]
    return module.init, lambda state: module.step(objective, state)


@pytest.mark.parametrize("solver", ["gd", "lbfgs", "newton-cg"])
def test_init_and_step_looped_by_hand_take_minimizes_iterates(solver):
    objective = small_objective()
    seen = []
    SOLVERS[solver](objective, objective.zeros(), max_iter=5, tol=0, callback=seen.append)
    init, step = hand_stepper(solver, objective)
    state = init(objective, objective.zeros())
    for info in seen:
        before = {name: np.copy(getattr(state, name)) for name in ("x", "value", "grad")}
        new_state, stop = step(state)
        assert stop is None
        for name, value in before.items():  # the state handed in is left as it was
            np.testing.assert_array_equal(getattr(state, name), value)
        state = new_state
        np.testing.assert_array_equal(state.x, info.params)
        assert state.value == info.objective
    assert len(seen) == 5


# ---------------------------------------------------------------------------
# Non-finite objective
# ---------------------------------------------------------------------------


def large_feature_problem(feature_scale):
    rng = np.random.default_rng(7)
    X = feature_scale * rng.standard_normal((60, 4))
    y = np.arange(60) % 3
    return X, y


@pytest.mark.parametrize(
    ("feature_scale", "alpha"),
    [
        (1e3, 1e-3),  # the penalty's gradient grows the weights ~1e27-fold per step
        (1e160, 0.0),  # the logits overflow at the first step
    ],
)
@pytest.mark.parametrize("solver", ["gd", "sgd"])
def test_huge_learning_rate_stops_non_finite(solver, feature_scale, alpha):
    X, y = large_feature_problem(feature_scale)
    objective = objective_for(X, y, alpha)
    extra = {"schedule": "constant", "random_state": 0} if solver == "sgd" else {}
    result = SOLVERS[solver](
        objective, objective.zeros(), max_iter=100, tol=0, learning_rate=1e30, **extra
    )
    assert result.stop_reason == "non_finite"
    assert np.all(np.isfinite(result.params))
    assert len(result.objective_history) == result.n_iter + 1
    assert np.all(np.isfinite(result.objective_history))
    # The returned parameters are the last finite iterate, whose value closes the history.
    assert objective.value(result.params) == pytest.approx(result.objective_history[-1], rel=1e-12)


# ---------------------------------------------------------------------------
# Determinism and continuation of the stochastic solvers
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("solver", STOCHASTIC)
def test_same_random_state_gives_identical_fit(solver):
    X, y = small_problem()

    def fit(seed):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return SoftmaxClassifier(solver=solver, max_iter=5, random_state=seed).fit(X, y)

    first, second, other = fit(0), fit(0), fit(1)
    np.testing.assert_array_equal(first.coef_, second.coef_)
    np.testing.assert_array_equal(first.intercept_, second.intercept_)
    assert first.fit_report_.objective_history == second.fit_report_.objective_history
    assert not np.array_equal(first.coef_, other.coef_)


@pytest.mark.parametrize(
    ("module", "kwargs"),
    [
        (sgd, {"learning_rate": 0.05, "momentum": 0.9, "batch_size": 16}),
        (sgd, {"learning_rate": 0.05, "momentum": 0.9, "nesterov": True, "batch_size": 7}),
        (adam, {"batch_size": 16}),
    ],
)
def test_continuation_equals_one_run(module, kwargs):
    objective = small_objective()
    x0 = objective.zeros()
    common = {"tol": 0, "schedule": "constant", "random_state": 11, **kwargs}
    whole = module.minimize(objective, x0, max_iter=4, **common)
    first = module.minimize(objective, x0, max_iter=2, **common)
    second = module.minimize(objective, first.params, max_iter=2, state=first.state, **common)
    assert whole.n_iter == 4
    assert first.n_iter == second.n_iter == 2
    assert second.state["epoch"] == whole.state["epoch"] == 4
    np.testing.assert_array_equal(second.params, whole.params)
    assert first.objective_history + second.objective_history[1:] == whole.objective_history
    # Epochs do differ (a resumed run that restarted epoch 0's shuffle would not match).
    assert not np.array_equal(first.params, whole.params)
