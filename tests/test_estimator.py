"""Tests of ``SoftmaxClassifier``: scikit-learn conventions, validation, reports.

Expectations come from definitions, not from the code's output: probabilities
are checked against an independent softmax of ``X @ coef_.T + intercept_``
(``scipy.special.softmax``), objective values against
:func:`softmax_classifier.math.loss`, accuracies against fixed thresholds, and
memory use against the size of the copy that must not happen.
"""

from __future__ import annotations

import json
import re
import tracemalloc
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import log_softmax as scipy_log_softmax
from scipy.special import softmax as scipy_softmax
from sklearn.datasets import load_digits, load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

from softmax_classifier import SoftmaxClassifier
from softmax_classifier.math import loss

SOLVERS = ["lbfgs", "newton-cg", "gd", "sgd", "adam"]
STOCHASTIC = ("sgd", "adam")


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def small_problem(seed=0, n=60, d=4, c=3):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = np.argmax(X @ rng.standard_normal((c, d)).T + rng.gumbel(size=(n, c)), axis=1)
    return X, y


def fit_quietly(clf, X, y, **kwargs):
    """Fit, ignoring ConvergenceWarning (only where convergence is not the point)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return clf.fit(X, y, **kwargs)


def raw_logits(clf, X):
    X = X.toarray() if sp.issparse(X) else np.asarray(X)
    return X.astype(np.float64) @ clf.coef_.T.astype(np.float64) + clf.intercept_


# ---------------------------------------------------------------------------
# dtype: float32 stays float32, float64 stays float64, no float64 copy of X
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("container", ["dense", "csr"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("solver", SOLVERS)
def test_dtype_is_kept(solver, dtype, container, iris):
    X, y = iris
    X = X.astype(dtype)
    if container == "csr":
        X = sp.csr_matrix(X)
    clf = fit_quietly(SoftmaxClassifier(solver=solver, max_iter=30, random_state=0), X, y)
    assert clf.coef_.dtype == dtype
    assert clf.coef_.shape == (3, 4)
    assert clf.intercept_.dtype == dtype
    for method in ("predict_proba", "predict_log_proba", "decision_function"):
        assert getattr(clf, method)(X).dtype == dtype, method
    assert clf.score(X, y) > 0.8


def test_integer_X_is_fitted_in_float64():
    X, y = small_problem()
    X_int = np.round(3 * X).astype(np.int64)
    clf = SoftmaxClassifier().fit(X_int, y)
    assert clf.coef_.dtype == np.float64
    assert clf.predict_proba(X_int).dtype == np.float64


def _peak_traced_bytes(fn):
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("solver", ["lbfgs", "newton-cg"])
def test_float32_dense_is_not_copied_to_float64(solver):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200_000, 50), dtype=np.float32)  # 40 MB
    y = rng.integers(0, 3, size=X.shape[0])
    clf = SoftmaxClassifier(solver=solver, max_iter=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fit_peak = _peak_traced_bytes(lambda: clf.fit(X, y))
    # A float64 copy would be 2 * X.nbytes (80 MB); NumPy allocations are traced.
    assert fit_peak < 0.5 * X.nbytes, fit_peak
    assert clf.coef_.dtype == np.float32
    predict_peak = _peak_traced_bytes(lambda: clf.predict_proba(X))
    assert predict_peak < 0.5 * X.nbytes, predict_peak


def test_float32_csr_is_not_copied_to_float64():
    rng = np.random.default_rng(0)
    X = sp.random(200_000, 50, density=0.25, format="csr", dtype=np.float32, rng=rng)
    y = rng.integers(0, 3, size=X.shape[0])
    clf = SoftmaxClassifier(max_iter=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        peak = _peak_traced_bytes(lambda: clf.fit(X, y))
    # A float64 copy of the values alone would be 2 * X.data.nbytes (20 MB).
    assert peak < 1.5 * X.data.nbytes, peak
    assert clf.coef_.dtype == np.float32
    assert clf.predict_proba(X[:10]).dtype == np.float32


# ---------------------------------------------------------------------------
# Validation: bad input and bad hyperparameters raise ValueError naming the problem
# ---------------------------------------------------------------------------


def _with(X, index, value):
    X = X.copy()
    X[index] = value
    return X


BAD_INPUT = {
    "nan in X": (lambda X, y: (_with(X, (3, 1), np.nan), y, None), r"NaN"),
    "inf in X": (lambda X, y: (_with(X, (3, 1), np.inf), y, None), r"infinity|inf"),
    "nan in y": (lambda X, y: (X, _with(y.astype(float), 2, np.nan), None), r"NaN"),
    "nan in sample_weight": (
        lambda X, y: (X, y, _with(np.ones(len(y)), 1, np.nan)),
        r"sample_weight.*(NaN|inf)",
    ),
    "inf in sample_weight": (
        lambda X, y: (X, y, _with(np.ones(len(y)), 1, np.inf)),
        r"sample_weight.*(NaN|inf)",
    ),
    "empty X": (lambda X, y: (X[:0], y[:0], None), r"0 sample"),
    "one class": (lambda X, y: (X, np.zeros(len(y), dtype=int), None), r"2 classes"),
    "X and y lengths": (lambda X, y: (X, y[:-1], None), r"inconsistent numbers of samples"),
    "sample_weight length": (
        lambda X, y: (X, y, np.ones(len(y) - 1)),
        r"sample_weight.*shape|sample_weight.*length",
    ),
    "negative weight": (
        lambda X, y: (X, y, _with(np.ones(len(y)), 4, -0.5)),
        r"sample_weight.*(non-negative|negative)",
    ),
    "all weights zero": (lambda X, y: (X, y, np.zeros(len(y))), r"sum to zero"),
    "strings in X": (
        lambda X, y: (np.array([["a", "b"]] * len(y)), y, None),
        r"could not convert string to float",
    ),
    "1-D X": (lambda X, y: (X[:, 0], y, None), r"2D array"),
    "continuous y": (lambda X, y: (X, np.linspace(0, 1, len(y)), None), r"continuous"),
}


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_training_input_raises(case):
    X, y = small_problem()
    make, pattern = BAD_INPUT[case]
    X_bad, y_bad, weights = make(X, y)
    with pytest.raises(ValueError, match=pattern):
        SoftmaxClassifier().fit(X_bad, y_bad, sample_weight=weights)


def test_wrong_feature_count_at_predict_raises():
    X, y = small_problem()
    clf = SoftmaxClassifier().fit(X, y)
    for method in ("predict", "predict_proba", "predict_log_proba", "decision_function"):
        with pytest.raises(ValueError, match=r"3 features.*expecting 4 features"):
            getattr(clf, method)(X[:, :3])


def test_nan_at_predict_raises():
    X, y = small_problem()
    clf = SoftmaxClassifier().fit(X, y)
    with pytest.raises(ValueError, match=r"NaN"):
        clf.predict(_with(X, (0, 0), np.nan))


def test_predict_before_fit_raises():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        SoftmaxClassifier().predict(np.zeros((2, 3)))


BAD_PARAMS = [
    ({"alpha": -1}, r"alpha"),
    ({"alpha": np.nan}, r"alpha"),
    ({"alpha": "big"}, r"alpha"),
    ({"solver": "nope"}, r"solver.*nope"),
    ({"max_iter": 0}, r"max_iter"),
    ({"max_iter": 2.5}, r"max_iter"),
    ({"tol": -1}, r"tol"),
    ({"batch_size": 0, "solver": "sgd"}, r"batch_size"),
    ({"momentum": 1.0, "solver": "sgd"}, r"momentum"),
    ({"momentum": -0.1, "solver": "sgd"}, r"momentum"),
    ({"learning_rate": 0.0, "solver": "gd"}, r"learning_rate"),
    ({"learning_rate": "fast", "solver": "gd"}, r"learning_rate"),
    ({"class_weight": "weird"}, r"class_weight"),
    ({"class_weight": {0: -1.0}}, r"class_weight"),
    ({"class_weight": {7: 1.0}}, r"class_weight.*7"),
    ({"solver_options": {"bogus": 1}}, r"solver_options.*bogus"),
    ({"solver_options": {"max_iter": 3}}, r"solver_options.*max_iter"),
    ({"fit_intercept": "yes"}, r"fit_intercept"),
    ({"verbose": -1}, r"verbose"),
]


@pytest.mark.parametrize(("params", "pattern"), BAD_PARAMS, ids=[str(p) for p, _ in BAD_PARAMS])
def test_bad_hyperparameters_raise(params, pattern):
    X, y = small_problem()
    with pytest.raises(ValueError, match=pattern):
        SoftmaxClassifier(**params).fit(X, y)


# ---------------------------------------------------------------------------
# Labels, probabilities, two classes
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "labels",
    [
        np.array(["setosa", "versicolor", "virginica"]),
        np.array([10, 20, 30]),
        np.array([30, 10, 20]),  # classes_ must come out sorted whatever the order
        np.array([-1.0, 0.0, 2.0]),  # integral floats are class labels too
    ],
    ids=["strings", "ints", "unsorted-ints", "integral-floats"],
)
def test_labels_of_any_type_are_returned(labels, iris):
    X, y_index = iris
    y = labels[y_index]
    clf = SoftmaxClassifier().fit(X, y)
    np.testing.assert_array_equal(clf.classes_, np.sort(labels))
    predicted = clf.predict(X)
    assert set(predicted.tolist()) <= set(labels.tolist())
    assert predicted.dtype == np.sort(labels).dtype
    assert np.mean(predicted == y) > 0.9
    # The model itself does not depend on how the labels are spelt, only on their order.
    reference = SoftmaxClassifier().fit(X, np.searchsorted(np.sort(labels), y))
    np.testing.assert_allclose(clf.predict_proba(X), reference.predict_proba(X), atol=1e-12)


def test_boolean_labels(iris):
    X, y = iris
    y_bool = y == 2
    clf = SoftmaxClassifier().fit(X, y_bool)
    np.testing.assert_array_equal(clf.classes_, [False, True])
    assert clf.predict(X).dtype == bool
    assert clf.coef_.shape == (2, 4)
    assert clf.score(X, y_bool) > 0.9


@pytest.mark.parametrize("solver", SOLVERS)
def test_two_classes(solver, iris):
    X, y = iris
    labels = np.array(["no", "yes"])[(y == 1).astype(int)]
    clf = fit_quietly(SoftmaxClassifier(solver=solver, random_state=0), X, labels)
    np.testing.assert_array_equal(clf.classes_, ["no", "yes"])
    assert clf.coef_.shape == (2, 4)
    assert clf.intercept_.shape == (2,)
    decision = clf.decision_function(X)
    assert decision.shape == (len(y),)
    raw = raw_logits(clf, X)
    np.testing.assert_allclose(decision, raw[:, 1] - raw[:, 0], rtol=1e-10, atol=1e-10)
    predicted = clf.predict(X)
    np.testing.assert_array_equal(predicted == "yes", decision > 0)
    proba = clf.predict_proba(X)
    assert proba.shape == (len(y), 2)
    # Log-odds of classes_[1] against classes_[0].
    np.testing.assert_allclose(np.log(proba[:, 1] / proba[:, 0]), decision, atol=1e-8)


@pytest.mark.parametrize("solver", SOLVERS)
def test_probabilities(solver, iris):
    X, y = iris
    clf = fit_quietly(SoftmaxClassifier(solver=solver, random_state=0), X, y)
    raw = raw_logits(clf, X)
    decision = clf.decision_function(X)
    assert decision.shape == (len(y), 3)
    np.testing.assert_allclose(decision, raw, rtol=1e-10, atol=1e-10)
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba, scipy_softmax(raw, axis=1), rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    assert np.all(proba >= 0)
    log_proba = clf.predict_log_proba(X)
    not_tiny = proba > 1e-300
    np.testing.assert_allclose(log_proba[not_tiny], np.log(proba[not_tiny]), rtol=1e-10)
    assert np.all(np.isfinite(log_proba))
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[np.argmax(proba, axis=1)])
    assert clf.score(X, y) == pytest.approx(np.mean(clf.predict(X) == y))
    assert clf.score(X, y) > 0.9


def test_log_proba_is_finite_where_proba_underflows(iris):
    X, y = iris
    clf = SoftmaxClassifier().fit(X, y)
    far = 1e4 * X[[0, 60, 120]]  # logits of order 1e5: some probabilities are exactly 0
    raw = raw_logits(clf, far)
    assert np.any(clf.predict_proba(far) == 0)
    log_proba = clf.predict_log_proba(far)
    assert np.all(np.isfinite(log_proba))
    np.testing.assert_allclose(log_proba, scipy_log_softmax(raw, axis=1), rtol=1e-10)


def test_intercept_is_centred_and_optional(iris):
    X, y = iris
    clf = SoftmaxClassifier().fit(X + 3.0, y)  # shifted features: a non-trivial intercept
    assert abs(clf.intercept_.sum()) < 1e-12
    assert np.abs(clf.intercept_).max() > 0.1
    no_intercept = SoftmaxClassifier(fit_intercept=False).fit(X, y)
    np.testing.assert_array_equal(no_intercept.intercept_, np.zeros(3))
    np.testing.assert_allclose(
        no_intercept.predict_proba(X), scipy_softmax(X @ no_intercept.coef_.T, axis=1)
    )


def test_fit_reaches_the_optimum_of_the_documented_objective(iris):
    # At the optimum of sum_i CE_i / n + alpha/2 ||coef||^2 the gradient is zero, so
    # no small perturbation of the parameters may decrease math.loss.
    X, y = iris
    alpha = 0.05
    clf = SoftmaxClassifier(alpha=alpha, tol=1e-10, solver="newton-cg").fit(X, y)
    f = loss(clf.coef_, clf.intercept_, X, y, alpha=alpha)
    rng = np.random.default_rng(0)
    for _ in range(20):
        d_coef = 1e-4 * rng.standard_normal(clf.coef_.shape)
        d_int = 1e-4 * rng.standard_normal(3)
        assert loss(clf.coef_ + d_coef, clf.intercept_ + d_int, X, y, alpha=alpha) > f
    # And the penalty is on coef: a larger alpha gives a smaller coef_.
    stronger = SoftmaxClassifier(alpha=10 * alpha, tol=1e-10).fit(X, y)
    assert np.linalg.norm(stronger.coef_) < np.linalg.norm(clf.coef_)


def test_feature_names_from_dataframe(iris):
    pd = pytest.importorskip("pandas")
    X, y = iris
    names = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    frame = pd.DataFrame(X, columns=names)
    clf = SoftmaxClassifier().fit(frame, y)
    np.testing.assert_array_equal(clf.feature_names_in_, names)
    assert clf.n_features_in_ == 4
    reference = SoftmaxClassifier().fit(X, y)
    np.testing.assert_allclose(clf.predict_proba(frame), reference.predict_proba(X), atol=1e-12)
    # scikit-learn's conventions: other names are an error, no names a warning.
    with pytest.raises(ValueError, match=r"feature names"):
        clf.predict(frame.rename(columns={"petal_width": "petal_depth"}))
    with pytest.warns(UserWarning, match=r"feature names"):
        clf.predict(X)


def test_no_feature_names_from_arrays(iris):
    X, y = iris
    clf = SoftmaxClassifier().fit(X, y)
    assert clf.n_features_in_ == 4
    assert not hasattr(clf, "feature_names_in_")


# ---------------------------------------------------------------------------
# fit_report_, ConvergenceWarning, verbose
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("solver", ["lbfgs", "newton-cg", "gd"])
def test_fit_report_on_an_easy_problem(solver, iris):
    X, y = iris
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf = SoftmaxClassifier(solver=solver, alpha=1e-2).fit(X, y)
    report = clf.fit_report_
    assert report.solver == solver
    assert report.stop_reason == "converged"
    assert report.converged
    assert report.grad_norm <= clf.tol
    assert report.n_iter == clf.n_iter_ >= 1
    assert report.n_passes >= report.n_iter
    assert report.time_seconds > 0
    assert len(report.objective_history) == report.n_iter + 1
    # The first entry is the objective at zero parameters: log(n_classes).
    assert report.objective_history[0] == pytest.approx(np.log(3), rel=1e-12)
    assert report.objective_history[-1] == pytest.approx(
        loss(clf.coef_, clf.intercept_, X, y, alpha=1e-2), rel=1e-10
    )
    assert isinstance(report.message, str) and report.message
    text = json.dumps(report.as_dict())
    assert json.loads(text)["stop_reason"] == "converged"


@pytest.mark.parametrize("solver", ["lbfgs", "gd"])
def test_objective_history_is_non_increasing(solver, digits):
    X, y = digits
    clf = SoftmaxClassifier(solver=solver, max_iter=200)
    fit_quietly(clf, X, y)
    history = np.array(clf.fit_report_.objective_history)
    assert len(history) > 10
    assert np.all(np.diff(history) <= 1e-12 * np.abs(history[:-1]))


@pytest.mark.parametrize("solver", SOLVERS)
def test_convergence_warning_names_reason_and_remedy(solver, digits):
    X, y = digits
    clf = SoftmaxClassifier(solver=solver, max_iter=1, random_state=0)
    with pytest.warns(ConvergenceWarning, match=r"max_iter") as record:
        clf.fit(X, y)
    message = str(record[0].message)
    assert clf.fit_report_.stop_reason == "max_iter"
    assert "(max_iter)" in message or "max_iter =" in message  # the stop reason
    assert re.search(r"[Ii]ncrease max_iter", message)  # what to change
    assert clf.n_iter_ == 1


def test_lbfgs_line_search_failure_warns_once_and_only_convergence(iris):
    # A tol below what float64 can resolve ends in a failed line search. The user
    # should get one ConvergenceWarning, not scipy's LineSearchWarning (a
    # RuntimeWarning, which this project's pytest configuration turns into an error).
    X, y = iris
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clf = SoftmaxClassifier(tol=1e-15, max_iter=1000).fit(X, y)
    categories = [w.category.__name__ for w in caught]
    assert clf.fit_report_.stop_reason in ("line_search_failed", "converged")
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)], categories
    if clf.fit_report_.stop_reason == "line_search_failed":
        assert categories == ["ConvergenceWarning"]


def test_gd_stops_when_no_step_makes_progress(iris):
    # gd's Armijo search cannot resolve max|grad| below ~1e-9 in float64. With an
    # unreachable tol it must say so (line_search_failed) instead of spinning on
    # the same parameters until max_iter and then advising to increase max_iter.
    X, y = iris
    clf = SoftmaxClassifier(solver="gd", alpha=1e-2, tol=1e-15, max_iter=3000)
    with pytest.warns(ConvergenceWarning):
        clf.fit(X, y)
    assert clf.fit_report_.stop_reason == "line_search_failed", clf.fit_report_.message
    assert clf.n_iter_ < 3000


def test_verbose_prints_one_line_per_iteration_to_stderr(capsys, iris):
    X, y = iris
    clf = SoftmaxClassifier(verbose=1).fit(X, y)
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    iteration_lines = [line for line in lines if re.match(r"\s*iter\s+\d+", line)]
    assert len(iteration_lines) == clf.n_iter_ >= 2
    assert any("converged" in line for line in lines)


def test_not_verbose_prints_nothing(capsys, iris):
    X, y = iris
    SoftmaxClassifier().fit(X, y)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


# ---------------------------------------------------------------------------
# warm_start
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("solver", ["lbfgs", "newton-cg", "gd"])
def test_warm_start_continues_from_previous_solution(solver, digits):
    X, y = digits
    clf = SoftmaxClassifier(solver=solver, alpha=1e-2, warm_start=True, max_iter=1000)
    clf.fit(X, y)
    first = clf.fit_report_
    assert first.stop_reason == "converged" and first.n_iter > 5
    coef = clf.coef_.copy()
    clf.fit(X, y)
    assert clf.n_iter_ <= 1
    # It starts where it stopped: the first objective of the refit is the last one.
    assert clf.fit_report_.objective_history[0] == pytest.approx(
        first.objective_history[-1], rel=1e-12
    )
    np.testing.assert_allclose(clf.coef_, coef, atol=1e-3)
    # Without warm_start the refit starts from zero again.
    clf.set_params(warm_start=False).fit(X, y)
    assert clf.n_iter_ == first.n_iter


def test_warm_start_ignores_a_different_problem(iris, digits):
    X, y = digits
    clf = SoftmaxClassifier(warm_start=True).fit(X, y)
    X2, y2 = iris
    clf.fit(X2, y2)  # other features and classes: start from zero
    assert clf.coef_.shape == (3, 4)
    assert clf.fit_report_.objective_history[0] == pytest.approx(np.log(3), rel=1e-12)


# ---------------------------------------------------------------------------
# partial_fit
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("solver", SOLVERS)
def test_partial_fit_only_for_minibatch_solvers(solver):
    assert hasattr(SoftmaxClassifier(solver=solver), "partial_fit") == (solver in STOCHASTIC)


@pytest.mark.parametrize("solver", STOCHASTIC)
def test_partial_fit_errors(solver, iris):
    X, y = iris
    with pytest.raises(ValueError, match=r"classes"):
        SoftmaxClassifier(solver=solver).partial_fit(X, y)
    with pytest.raises(ValueError, match=r"not in classes"):
        SoftmaxClassifier(solver=solver).partial_fit(X, y, classes=[0, 1])
    clf = SoftmaxClassifier(solver=solver).partial_fit(X, y, classes=[0, 1, 2, 3])
    with pytest.raises(ValueError, match=r"not in classes"):
        clf.partial_fit(X, y + 2)  # label 4
    with pytest.raises(ValueError, match=r"classes"):
        clf.partial_fit(X, y, classes=[0, 1, 2])
    with pytest.raises(ValueError, match=r"features"):
        clf.partial_fit(X[:, :3], y)


@pytest.mark.parametrize("solver", STOCHASTIC)
def test_partial_fit_learns_digits_in_chunks(solver, digits):
    X, y = digits
    classes = np.arange(10)
    clf = SoftmaxClassifier(solver=solver, random_state=0, alpha=1e-3)
    chunks = np.array_split(np.random.default_rng(0).permutation(len(y)), 9)
    objective = [loss(np.zeros((10, 64)), np.zeros(10), X, y, alpha=clf.alpha)]
    n_calls = 0
    for _ in range(20):
        for rows in chunks:
            clf.partial_fit(X[rows], y[rows], classes=classes)
            n_calls += 1
        objective.append(loss(clf.coef_, clf.intercept_, X, y, alpha=clf.alpha))
    assert clf.n_iter_ == n_calls
    assert clf.coef_.shape == (10, 64)
    assert clf.intercept_.shape == (10,)
    np.testing.assert_allclose(clf.predict_proba(X).sum(axis=1), 1.0, atol=1e-12)
    assert objective[-1] < 0.5 * objective[0]
    assert objective[-1] < objective[1]  # later passes still help
    assert clf.score(X, y) >= 0.9


@pytest.mark.parametrize(("solver", "learning_rate"), [("sgd", 0.05), ("adam", 0.01)])
def test_partial_fit_continues_one_optimisation(solver, learning_rate, iris):
    # With a constant step, k calls of partial_fit on all the data are k epochs of
    # one run: the optimiser state (velocity, moments, epoch counter) carries over.
    X, y = iris
    params = dict(
        solver=solver,
        learning_rate=learning_rate,
        momentum=0.0,
        random_state=3,
        solver_options={"schedule": "constant"},
    )
    if solver == "sgd":
        params["momentum"] = 0.5
    else:
        del params["momentum"]
    incremental = SoftmaxClassifier(**params)
    for _ in range(4):
        incremental.partial_fit(X, y, classes=[0, 1, 2])
    at_once = fit_quietly(SoftmaxClassifier(**params, max_iter=4, tol=0.0), X, y)
    assert at_once.n_iter_ == incremental.n_iter_ == 4
    np.testing.assert_allclose(incremental.coef_, at_once.coef_, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(incremental.intercept_, at_once.intercept_, atol=1e-12)


# ---------------------------------------------------------------------------
# Numerical stability at the estimator level
# ---------------------------------------------------------------------------


def huge_scale_problem():
    rng = np.random.default_rng(0)
    X = 1e6 * rng.standard_normal((200, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 0)
    return X, y


@pytest.mark.parametrize("solver", SOLVERS)
def test_huge_feature_scale_gives_valid_probabilities(solver):
    X, y = huge_scale_problem()
    # RuntimeWarnings (overflow, invalid) are errors under this project's pytest
    # configuration; not converging within the default budget is allowed here.
    clf = fit_quietly(SoftmaxClassifier(solver=solver, random_state=0), X, y)
    assert np.all(np.isfinite(clf.coef_)) and np.all(np.isfinite(clf.intercept_))
    assert np.all(np.isfinite(clf.fit_report_.objective_history))
    proba = clf.predict_proba(X)
    assert np.all(np.isfinite(proba)) and np.all(proba >= 0)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)
    assert np.all(np.isfinite(clf.predict_log_proba(X)))
    # Far outside the training range the logits are huge; probabilities stay valid.
    far = 1e3 * X[:5]
    assert np.all(np.isfinite(clf.predict_proba(far)))
    np.testing.assert_allclose(clf.predict_proba(far).sum(axis=1), 1.0, atol=1e-12)


@pytest.mark.parametrize("solver", ["lbfgs", "newton-cg", "gd"])
def test_huge_feature_scale_deterministic_solvers_make_progress(solver):
    # The same problem divided by 1e6 is easy; scikit-learn's LogisticRegression
    # (lbfgs and newton-cg) fits the unscaled one to 0.765 training accuracy. The
    # descent solvers with a line search must at least leave the start point
    # (objective log(3), uniform probabilities) and get most of the way there.
    X, y = huge_scale_problem()
    clf = fit_quietly(SoftmaxClassifier(solver=solver, max_iter=2000), X, y)
    report = clf.fit_report_
    assert report.n_iter >= 1, report.message
    assert report.objective_history[-1] < 0.8 * np.log(3), report.message
    if solver == "gd":
        # Plain gradient descent cannot finish this fit: the coef directions have
        # curvature ~1e12 (features of 1e6 squared) and the intercept ~1, so the
        # step 1e-12 that the former allow barely moves the latter. Progress is
        # all that can be asked of it here (the advice to standardise applies).
        return
    assert clf.score(X, y) >= 0.7, report.message


# -- defaults and hardening (issue 10) ---------------------------------------------------


def test_default_alpha_is_scikit_learns_c_equal_one(iris):
    # The old default alpha=1e-3 ignored the number of rows; "auto" is 1 / sum(weights),
    # scikit-learn's C = 1. Oracle: LogisticRegression() reaches the same optimum.
    from sklearn.linear_model import LogisticRegression

    X, y = iris
    ours = SoftmaxClassifier(tol=1e-10).fit(X, y)
    assert ours.alpha_ == pytest.approx(1 / len(y), rel=1e-15)
    theirs = LogisticRegression(tol=1e-10, max_iter=10_000).fit(X, y)
    f_ours = loss(ours.coef_, ours.intercept_, X, y, alpha=ours.alpha_)
    f_theirs = loss(theirs.coef_, theirs.intercept_, X, y, alpha=1 / len(y))
    # Both solve the same problem to a gradient of 1e-10; objective values agree
    # far below 1e-9 relative (the margin covers scikit-learn's own stopping rule).
    assert f_ours <= f_theirs * (1 + 1e-9)
    weights = np.linspace(0.5, 2.0, len(y))
    weighted = SoftmaxClassifier(class_weight={0: 2.0}).fit(X, y, sample_weight=weights)
    combined = weights * np.where(y == 0, 2.0, 1.0)
    assert weighted.alpha_ == pytest.approx(1 / combined.sum(), rel=1e-12)
    assert SoftmaxClassifier(alpha=0.25).fit(X, y).alpha_ == 0.25


@pytest.mark.parametrize("dtype, huge", [(np.float64, 1e308), (np.float32, 3e38)])
def test_predictions_of_finite_huge_inputs_are_finite(iris, dtype, huge):
    # Regression: a value of 1e308 made predict_proba return NaN (inf - inf in the
    # logits) and predict write "nan". The limit is known: all mass on the class whose
    # logit grows fastest along x.
    X, y = iris
    clf = SoftmaxClassifier().fit(X.astype(dtype), y)
    rows = np.array([[huge, 0, 0, 0], [-huge, huge, 0, 0], [0, 0, huge, -huge]], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and no overflow warnings either
        proba = clf.predict_proba(rows)
        log_proba = clf.predict_log_proba(rows)
        decision = clf.decision_function(rows)
        labels = clf.predict(rows)
    assert np.isfinite(proba).all() and not np.isnan(log_proba).any()
    assert not np.isnan(decision).any()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    fastest = np.argmax((rows.astype(np.float64) / huge) @ clf.coef_.T.astype(np.float64), axis=1)
    np.testing.assert_array_equal(labels, clf.classes_[fastest])
    np.testing.assert_array_equal(np.argmax(proba, axis=1), fastest)


@pytest.mark.parametrize("factor", [1e-20, 1e-200, 1e160, 1e300])
def test_standardize_works_at_any_feature_scale(iris, factor):
    # Regression: features with std below 2.2e-16 were silently treated as constant
    # (chance accuracy, "converged"); std above ~1e154 gave an infinite scale.
    # Standardisation makes the problem scale-free, so the oracle is the fit at scale 1.
    X, y = iris
    reference = SoftmaxClassifier(standardize=True, tol=1e-10).fit(X, y)
    scaled = SoftmaxClassifier(standardize=True, tol=1e-10).fit(X * factor, y)
    np.testing.assert_allclose(scaled.feature_scale_, reference.feature_scale_ * factor, rtol=1e-12)
    # Same problem up to rounding of the standardised X (~1e-15): coefficients agree
    # to the solver's tolerance over the smallest curvature (1e-10 / alpha ~ 1e-8).
    np.testing.assert_allclose(scaled.coef_, reference.coef_, rtol=1e-6, atol=1e-7)
    assert scaled.score(X * factor, y) == reference.score(X, y)


def test_standardize_still_leaves_constant_features_alone():
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.normal(size=60), np.full(60, 0.1), np.full(60, 3e-30)])
    y = (X[:, 0] > 0).astype(int)
    clf = SoftmaxClassifier(standardize=True).fit(X, y)
    np.testing.assert_array_equal(clf.feature_scale_[1:], 1.0)


@pytest.mark.parametrize(
    "weight, dtype", [(1e300, np.float32), (1e-300, np.float32), (1e307, np.float64)]
)
def test_extreme_sample_weights_give_the_model_of_unit_weights(iris, weight, dtype):
    # Regression: weights of 1e300 in a float32 fit (inf once cast) or whose sum
    # overflows gave an all-zero model with only a ConvergenceWarning. The weighted
    # mean does not depend on a common factor; with alpha fixed the model must not.
    X, y = iris
    X = X.astype(dtype)
    weights = np.full(len(y), weight)
    weights[::3] *= 2.0
    reference = SoftmaxClassifier(alpha=0.01).fit(X, y, sample_weight=weights / weight)
    extreme = SoftmaxClassifier(alpha=0.01).fit(X, y, sample_weight=weights)
    # Identical problems after rescaling by the largest weight (exact powers aside,
    # ~1 ulp of the weights): float32 coefficients agree to float32 rounding.
    np.testing.assert_allclose(extreme.coef_, reference.coef_, rtol=1e-4, atol=1e-5)
    assert np.abs(extreme.coef_).max() > 0.1


def test_a_model_too_large_for_memory_is_refused_before_allocating():
    # Regression: one LIBSVM index of 2e9 asked for 15 GiB before failing.
    X = sp.csr_matrix(([1.0, 1.0], ([0, 1], [0, 2_000_000_000])), shape=(2, 2_000_000_001))
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"4,000,000,004 parameters.*GiB"):
            SoftmaxClassifier().fit(X, [0, 1])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**27  # nothing of the model's size was allocated


@pytest.mark.parametrize("solver", STOCHASTIC)
def test_stochastic_convergence_warning_says_what_is_true(digits, solver):
    # Regression: sgd/adam always advised "standardise the features", even on
    # standardised data 7e-4 from the optimum.
    X, y = digits
    with pytest.warns(ConvergenceWarning) as record:
        SoftmaxClassifier(solver=solver, random_state=0, max_iter=20).fit(X, y)
    text = str(record[0].message)
    assert "standardise" not in text
    assert "end near the optimum" in text and "lbfgs" in text
    assert re.search(r"objective changed by \d\.\de-\d\d relative over the last 2 epochs", text)
