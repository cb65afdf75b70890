"""The sample-weight contract of ``SoftmaxClassifier``, for every solver.

The objective is ``sum_i w_i CE_i / sum_i w_i + alpha/2 ||coef||^2``, so:

* integer weights are the same as repeating rows that many times;
* multiplying all weights by one constant changes nothing;
* a zero weight is the same as dropping the row;
* ``class_weight`` (a dict, or ``"balanced"``) is the same as the matching
  ``sample_weight``.

Every expectation is a statement about the *objective*: two fits that should
solve the same problem are compared through the same full-data objective,
evaluated independently with :func:`softmax_classifier.math.loss` (and, for the
deterministic solvers, also through their predicted probabilities). Each test
also checks that the weights it uses change the optimum by far more than its
tolerance, so that a solver that ignored the weights would fail it.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from softmax_classifier import SoftmaxClassifier
from softmax_classifier.math import loss

ALPHA = 1e-2  # makes the small standardised problem well conditioned
SOLVERS = ["lbfgs", "newton-cg", "gd", "sgd", "adam"]
DETERMINISTIC = ("lbfgs", "newton-cg", "gd")
STOCHASTIC = ("sgd", "adam")

# Deterministic solvers are fitted to a tight gradient tolerance so that two fits
# of one problem land on the same optimum (up to max|grad| ~ 1e-9, i.e. parameter
# differences ~ 1e-7 and objective differences ~ 1e-16). gd's value-based Armijo
# search cannot resolve max|grad| much below 1e-9 in float64, hence 1e-9 for it.
TIGHT = {
    "lbfgs": {"tol": 1e-9, "max_iter": 2000},
    "newton-cg": {"tol": 1e-10, "max_iter": 200},
    "gd": {"tol": 1e-9, "max_iter": 1000},
}
# Deterministic fits of equivalent problems: relative difference of objective
# values (second order in the parameter error, so ~1e-16 in practice), and
# absolute difference of predicted probabilities. The latter is first order: with
# max|grad| <= 1e-9 and curvature >= alpha = 1e-2 the parameters are pinned down to
# ~1e-7, and probabilities move by at most half the change of the logits. lbfgs
# and newton-cg agree to 1e-15, gd (stopping just under 1e-9) to ~8e-9.
DETERMINISTIC_RTOL = 1e-8
PROBA_ATOL = 1e-7

# sgd and adam with their defaults (200 epochs, batch_size=32, cosine decay of
# the step) and a fixed random_state stop at max_iter slightly above the optimum,
# at a point that depends on the sequence of mini-batches. Repeating rows or
# dropping zero-weight rows changes the number of rows, hence the batches, so the
# two fits cannot agree bit for bit. What they must agree on is the objective:
# both within STOCHASTIC_RTOL (relative) of the deterministic optimum, hence within
# 2 * STOCHASTIC_RTOL of each other. On this problem (240 rows) both solvers end
# 1e-6 to 3e-4 above the optimum, so 1e-3 leaves a margin of about 5 for changes
# in the mini-batch sequence. (With 120 rows adam's default budget of 200 epochs
# of 3-4 batches is not enough: it ends 0.7 % to 4 % above the optimum, which
# says nothing about weights.) Every test below checks that ignoring the weights
# would move the objective by more than 5x this tolerance.
STOCHASTIC_RTOL = 1e-3
# When the rows (and so the mini-batches) are the same and only the weights are
# rescaled, or given through class_weight instead of sample_weight, the batch
# gradients are normalised by the total weight, so even sgd and adam must follow
# the same path up to rounding.
SAME_BATCHES_RTOL = 1e-6
# How far the "wrong" (unweighted) optimum must be, relative, for a test to count.
TEETH = 5 * STOCHASTIC_RTOL


def make_problem(seed=0, n=240, d=5):
    """A standardised 3-class problem with unequal classes (labels 0, 1, 2)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    coef = 1.5 * rng.standard_normal((3, d))
    logits = X @ coef.T + np.array([1.0, 0.0, -0.7])
    y = np.argmax(logits + rng.gumbel(size=logits.shape), axis=1)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    assert np.all(np.bincount(y, minlength=3) >= 10)
    return X, y


def fit(solver, X, y, sample_weight=None, **params):
    """Fit with tight settings (deterministic) or the defaults and a seed (stochastic)."""
    settings = dict(TIGHT.get(solver, {}), random_state=0)
    settings.update(params)
    clf = SoftmaxClassifier(alpha=ALPHA, solver=solver, **settings)
    with warnings.catch_warnings():
        # sgd/adam stop at max_iter with the defaults; deterministic fits may end
        # with line_search_failed at the float64 floor (checked below instead).
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y, sample_weight=sample_weight)
    if solver in DETERMINISTIC:
        assert clf.fit_report_.grad_norm <= 1e-8, clf.fit_report_
    return clf


def objective(clf, X, y, sample_weight):
    """The full-data weighted objective at the fitted parameters (y are labels 0..2)."""
    assert list(clf.classes_) == [0, 1, 2]
    return loss(
        clf.coef_.astype(np.float64),
        clf.intercept_.astype(np.float64),
        X,
        y,
        sample_weight,
        alpha=ALPHA,
    )


def reference_optimum(X, y, sample_weight):
    """Objective value at the optimum, from newton-cg fitted to max|grad| ~ 1e-14."""
    clf = SoftmaxClassifier(alpha=ALPHA, solver="newton-cg", tol=1e-12, max_iter=200)
    clf.fit(X, y, sample_weight=sample_weight)
    assert clf.fit_report_.grad_norm <= 1e-10
    return objective(clf, X, y, sample_weight)


def rel(a, b):
    return abs(a - b) / abs(b)


def assert_same_optimum(solver, clf_a, clf_b, X, y, sample_weight):
    """Both fits solve the weighted problem ``(X, y, sample_weight)`` equally well."""
    f_a = objective(clf_a, X, y, sample_weight)
    f_b = objective(clf_b, X, y, sample_weight)
    f_star = reference_optimum(X, y, sample_weight)
    # Teeth: the unweighted optimum must be clearly worse on the weighted objective.
    f_unweighted = objective(fit("newton-cg", X, y), X, y, sample_weight)
    assert f_unweighted - f_star > TEETH * f_star
    if solver in DETERMINISTIC:
        assert rel(f_a, f_b) <= DETERMINISTIC_RTOL
        assert rel(f_a, f_star) <= DETERMINISTIC_RTOL
        np.testing.assert_allclose(
            clf_a.predict_proba(X), clf_b.predict_proba(X), rtol=0, atol=PROBA_ATOL
        )
    else:
        assert f_a >= f_star * (1 - 1e-12) and f_b >= f_star * (1 - 1e-12)
        assert rel(f_a, f_star) <= STOCHASTIC_RTOL, (f_a, f_star)
        assert rel(f_b, f_star) <= STOCHASTIC_RTOL, (f_b, f_star)
        assert rel(f_a, f_b) <= 2 * STOCHASTIC_RTOL


@pytest.fixture(scope="module")
def problem():
    return make_problem()


@pytest.mark.parametrize("solver", SOLVERS)
def test_integer_weights_equal_repeated_rows(solver, problem):
    X, y = problem
    rng = np.random.default_rng(1)
    # Weights 1..7, larger for the rare class and on one side of a feature, so
    # that they matter.
    counts = rng.integers(1, 3, size=len(y)) + 4 * (y == 2) + 2 * (X[:, 0] > 0.3)
    weighted = fit(solver, X, y, sample_weight=counts)
    repeated = fit(solver, np.repeat(X, counts, axis=0), np.repeat(y, counts))
    assert_same_optimum(solver, weighted, repeated, X, y, counts.astype(np.float64))


@pytest.mark.parametrize("solver", SOLVERS)
def test_scaling_all_weights_changes_nothing(solver, problem):
    X, y = problem
    weights = np.random.default_rng(2).uniform(0.2, 3.0, size=len(y)) * (1 + 3 * (y == 2))
    base = fit(solver, X, y, sample_weight=weights)
    scaled = fit(solver, X, y, sample_weight=3.7 * weights)
    f_base = objective(base, X, y, weights)
    f_scaled = objective(scaled, X, y, weights)
    if solver in DETERMINISTIC:
        assert rel(f_scaled, f_base) <= DETERMINISTIC_RTOL
        np.testing.assert_allclose(
            scaled.predict_proba(X), base.predict_proba(X), rtol=0, atol=PROBA_ATOL
        )
    else:
        # Same rows, same batches, gradients normalised by the total weight.
        assert rel(f_scaled, f_base) <= SAME_BATCHES_RTOL
    # Teeth: the weights themselves matter far more than the tolerance.
    f_star = reference_optimum(X, y, weights)
    f_unweighted = objective(fit("newton-cg", X, y), X, y, weights)
    assert f_unweighted - f_star > TEETH * f_star


@pytest.mark.parametrize("solver", SOLVERS)
def test_zero_weight_equals_dropping_the_row(solver, problem):
    X, y = problem
    weights = np.ones(len(y))
    dropped = X[:, 1] > 0.2  # about 40 % of the rows, chosen by a feature
    weights[dropped] = 0.0
    zero_weighted = fit(solver, X, y, sample_weight=weights)
    without = fit(solver, X[~dropped], y[~dropped])
    assert_same_optimum(solver, zero_weighted, without, X, y, weights)


@pytest.mark.parametrize("solver", SOLVERS)
def test_class_weight_dict_equals_sample_weight(solver, problem):
    X, y = problem
    class_weight = {0: 0.25, 1: 1.0, 2: 6.0}
    by_class = fit(solver, X, y, class_weight=class_weight)
    expected_weights = np.array([class_weight[label] for label in y])
    by_sample = fit(solver, X, y, sample_weight=expected_weights)
    f_class = objective(by_class, X, y, expected_weights)
    f_sample = objective(by_sample, X, y, expected_weights)
    rtol = DETERMINISTIC_RTOL if solver in DETERMINISTIC else SAME_BATCHES_RTOL
    assert rel(f_class, f_sample) <= rtol
    f_star = reference_optimum(X, y, expected_weights)
    assert rel(f_class, f_star) <= (
        DETERMINISTIC_RTOL if solver in DETERMINISTIC else STOCHASTIC_RTOL
    )
    f_unweighted = objective(fit("newton-cg", X, y), X, y, expected_weights)
    assert f_unweighted - f_star > TEETH * f_star


@pytest.mark.parametrize("solver", SOLVERS)
def test_class_weight_balanced_equals_sample_weight(solver, problem):
    X, y = problem
    counts = np.bincount(y)
    assert counts.max() >= 2 * counts.min()  # unbalanced enough for this to matter
    # The definition: n_samples / (n_classes * bincount(y)), per row.
    balanced = (len(y) / (3 * counts))[y]
    by_class = fit(solver, X, y, class_weight="balanced")
    by_sample = fit(solver, X, y, sample_weight=balanced)
    f_class = objective(by_class, X, y, balanced)
    f_sample = objective(by_sample, X, y, balanced)
    rtol = DETERMINISTIC_RTOL if solver in DETERMINISTIC else SAME_BATCHES_RTOL
    assert rel(f_class, f_sample) <= rtol
    f_star = reference_optimum(X, y, balanced)
    assert rel(f_class, f_star) <= (
        DETERMINISTIC_RTOL if solver in DETERMINISTIC else STOCHASTIC_RTOL
    )
    f_unweighted = objective(fit("newton-cg", X, y), X, y, balanced)
    assert f_unweighted - f_star > TEETH * f_star


@pytest.mark.parametrize("solver", SOLVERS)
def test_class_weight_multiplies_sample_weight(solver, problem):
    X, y = problem
    class_weight = {0: 3.0, 1: 1.0, 2: 0.5}
    sample_weight = np.random.default_rng(3).uniform(0.5, 2.0, size=len(y))
    both = fit(solver, X, y, sample_weight=sample_weight, class_weight=class_weight)
    product = sample_weight * np.array([class_weight[label] for label in y])
    by_sample = fit(solver, X, y, sample_weight=product)
    f_both = objective(both, X, y, product)
    f_sample = objective(by_sample, X, y, product)
    rtol = DETERMINISTIC_RTOL if solver in DETERMINISTIC else SAME_BATCHES_RTOL
    assert rel(f_both, f_sample) <= rtol


@pytest.mark.parametrize("solver", DETERMINISTIC)
def test_unit_weights_equal_no_weights(solver, problem):
    X, y = problem
    unweighted = fit(solver, X, y)
    ones = fit(solver, X, y, sample_weight=np.ones(len(y)))
    np.testing.assert_allclose(
        ones.predict_proba(X), unweighted.predict_proba(X), rtol=0, atol=PROBA_ATOL
    )
    assert rel(objective(ones, X, y, None), objective(unweighted, X, y, None)) <= (
        DETERMINISTIC_RTOL
    )
