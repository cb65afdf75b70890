"""Inference tables (softmax_classifier.inference.summary) against independent oracles.

Oracles: statsmodels' MNLogit (alpha = 0), a direct float64 sandwich written here with NumPy
(every covariance type, penalised or not), the same rows repeated (frequency weights), the
dense rows (sparse input) and the objective's own loss (log-likelihood).
"""

from __future__ import annotations

import copy
import re
import warnings

import numpy as np
import pytest
import scipy.linalg
import scipy.sparse as sp

from softmax_classifier import SoftmaxClassifier
from softmax_classifier import math as sm
from softmax_classifier.inference import MAX_HESSIAN_ORDER, Summary, summary

statsmodels_api = pytest.importorskip("statsmodels.api")

COLUMNS = ("coef", "std_err", "z", "p_value", "ci_low", "ci_high")
SCALARS = ("llf", "llnull", "llr", "llr_pvalue", "pseudo_r2", "aic", "bic", "nobs")


def overlapping_classes(n=400, d=3, c=3, seed=0):
    """Rows drawn from a softmax model: classes overlap, so the MLE exists."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    logits = X @ rng.normal(size=(c, d)).T + rng.normal(size=c)
    proba = sm.softmax(logits)
    y = (rng.random(n)[:, None] > np.cumsum(proba, axis=1)).sum(axis=1)
    return X, y


def tight_fit(X, y, sample_weight=None, alpha=0.0, **params):
    model = SoftmaxClassifier(alpha=alpha, solver="newton-cg", tol=1e-12, max_iter=500, **params)
    return model.fit(X, y, sample_weight=sample_weight)


@pytest.fixture(scope="module")
def data():
    X, y = overlapping_classes()
    return X, y, tight_fit(X, y), tight_fit(X, y, alpha=0.01)


def statsmodels_fit(X, y, **fit_options):
    model = statsmodels_api.MNLogit(y, statsmodels_api.add_constant(X))
    return model.fit(method="newton", tol=1e-14, maxiter=100, disp=0, **fit_options)


def relative(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


# -- the direct computation -------------------------------------------------------------


def direct_covariance(model, X, y, w=None, cov_type="nonrobust", groups=None, reference=0):
    """The covariance of the table, dense float64, from the model's probabilities."""
    n, c = X.shape[0], len(model.classes_)
    w = np.ones(n) if w is None else np.asarray(w, dtype=float)
    X1 = np.column_stack([np.ones(n), X])
    P = model.predict_proba(X).astype(float)
    Y = np.eye(c)[y]
    scores = ((Y - P)[:, :, None] * X1[:, None, :]).reshape(n, -1)  # class-major, then term
    J = P[:, :, None] * np.eye(c) - P[:, :, None] * P[:, None, :]
    info = np.einsum("i,iab,icd->acbd", w, J, X1[:, :, None] * X1[:, None, :])
    info = info.reshape(c * X1.shape[1], c * X1.shape[1])
    if cov_type == "nonrobust":
        meat = info
    elif cov_type == "HC0":
        meat = (scores * w[:, None]).T @ scores
    else:
        sums = np.array([(w[groups == g, None] * scores[groups == g]).sum(0) for g in set(groups)])
        meat = sums.T @ sums
    T = X1.shape[1]
    if model.alpha_ == 0:
        keep = np.array([k * T + t for k in range(c) if k != reference for t in range(T)])
        bread = np.linalg.inv(info[np.ix_(keep, keep)])
        meat = meat[np.ix_(keep, keep)]
        return bread if cov_type == "nonrobust" else bread @ meat @ bread
    # Penalised: project onto the complement of the common intercept shift u (centred
    # intercepts) and invert there.
    penalty = np.tile(np.r_[0.0, np.ones(T - 1)], c) * w.sum() * model.alpha_
    u = np.tile(np.r_[1.0, np.zeros(T - 1)], c)
    Q = scipy.linalg.null_space(u[None, :])
    bread = Q @ np.linalg.inv(Q.T @ (info + np.diag(penalty)) @ Q) @ Q.T
    return bread @ meat @ bread


# -- alpha = 0 against statsmodels ------------------------------------------------------


def test_unpenalised_table_equals_statsmodels_mnlogit(data):
    # Both optimisers stop at the MLE to about 1e-12 relative (measured: coefficients
    # 1.6e-12, standard errors 1.8e-13), so 1e-6 has a margin of 1e5. llnull is
    # statsmodels' own iterative fit of the intercept-only model (ours is closed form,
    # sum_k N_k log(N_k / N)): they differ by 8e-11 relative, llr by 2e-10, still 50 times
    # under 1e-8.
    X, y, model, _ = data
    table = summary(model, X, y)
    oracle = statsmodels_fit(X, y)
    assert table.classes.tolist() == [1, 2] and table.reference == 0
    assert table.terms == ["intercept", "x0", "x1", "x2"]
    assert relative(table.coef, oracle.params.T) < 1e-6
    assert relative(table.std_err, oracle.bse.T) < 1e-6
    assert relative(table.z, oracle.tvalues.T) < 1e-6
    assert relative(table.p_value, oracle.pvalues.T) < 1e-5
    low, high = np.asarray(oracle.conf_int()).reshape(2, -1, 2).transpose(2, 0, 1)
    assert relative(table.ci_low, low) < 1e-6 and relative(table.ci_high, high) < 1e-6
    for ours, theirs in [("llf", "llf"), ("llr", "llr"), ("pseudo_r2", "prsquared")]:
        assert relative(getattr(table, ours), getattr(oracle, theirs)) < 1e-8, ours
    for name in ("llnull", "aic", "bic"):
        assert relative(getattr(table, name), getattr(oracle, name)) < 1e-8, name
    assert relative(table.llr_pvalue, oracle.llr_pvalue) < 1e-6
    assert table.nobs == oracle.nobs == 400 and table.df_model == oracle.df_model == 6


def test_another_reference_class_equals_statsmodels_with_that_class_first(data):
    X, y, model, _ = data
    table = summary(model, X, y, reference=2)
    assert table.classes.tolist() == [0, 1] and table.reference == 2
    oracle = statsmodels_fit(X, (y + 1) % 3)  # class 2 becomes 0, the first; 0 -> 1, 1 -> 2
    assert relative(table.coef, oracle.params.T) < 1e-6
    assert relative(table.std_err, oracle.bse.T) < 1e-6
    assert relative(table.llf, oracle.llf) < 1e-8


@pytest.mark.parametrize("cov_type", ["HC0", "cluster"])
def test_robust_standard_errors_equal_statsmodels_without_correction(data, cov_type):
    X, y, model, _ = data
    groups = np.random.default_rng(1).integers(0, 30, len(y))
    options = {"groups": groups} if cov_type == "cluster" else {}
    table = summary(model, X, y, cov_type=cov_type, **options)
    kwds = {"cov_kwds": {"groups": groups, "use_correction": False}} if options else {}
    oracle = statsmodels_fit(X, y, cov_type=cov_type, **kwds)
    assert relative(table.std_err, oracle.bse.T) < 1e-6
    assert table.n_groups == (30 if options else None)


# -- the direct sandwich -----------------------------------------------------------------


@pytest.mark.parametrize("penalised", [False, True], ids=["alpha0", "alpha>0"])
@pytest.mark.parametrize("cov_type", ["nonrobust", "HC0", "cluster"])
def test_covariance_equals_a_direct_float64_computation(data, cov_type, penalised):
    X, y, unpenalised, ridge = data
    model = ridge if penalised else unpenalised
    w = np.random.default_rng(2).uniform(0.5, 2.0, len(y))
    groups = np.random.default_rng(3).integers(0, 25, len(y))
    options = {"groups": groups} if cov_type == "cluster" else {}
    model = copy.deepcopy(model).fit(X, y, sample_weight=w)
    table = summary(model, X, y, sample_weight=w, cov_type=cov_type, **options)
    expected = direct_covariance(model, X, y, w, cov_type, groups)
    scale = np.abs(expected).max()
    np.testing.assert_allclose(table.covariance, expected, rtol=1e-8, atol=1e-12 * scale)
    assert relative(table.std_err.ravel(), np.sqrt(np.diag(expected))) < 1e-8


def test_penalised_table_covers_every_class_with_centred_intercepts(data):
    X, y, _, model = data
    table = summary(model, X, y)
    assert table.classes.tolist() == [0, 1, 2] and table.reference is None
    np.testing.assert_array_equal(table.coef[:, 1:], model.coef_)
    np.testing.assert_array_equal(table.coef[:, 0], model.intercept_)
    intercepts = np.arange(3) * 4  # the intercepts' places in coef.ravel()
    # The centred intercepts sum to zero: so does their covariance, along every row.
    shift = table.covariance[np.ix_(intercepts, intercepts)].sum(axis=1)
    assert np.abs(shift).max() < 1e-12 * np.abs(table.covariance).max()
    # Effective parameters: below c (d + 1) - 1, near (c - 1)(d + 1) for a small penalty.
    assert 7 < table.n_params < 8 and table.df_model == table.n_params - 2


def test_log_likelihood_is_the_weighted_loss_times_the_weight_sum(data):
    X, y, _, model = data
    w = np.linspace(0.5, 2.0, len(y))
    table = summary(model, X, y, sample_weight=w)
    loss = sm.loss(model.coef_, model.intercept_, X, y, w)
    assert relative(table.llf, -loss * w.sum()) < 1e-12
    counts = np.bincount(y, weights=w)
    assert relative(table.llnull, counts @ np.log(counts / w.sum())) < 1e-12
    assert table.nobs == pytest.approx(w.sum(), rel=1e-15)
    assert relative(table.aic, -2 * table.llf + 2 * table.n_params) < 1e-15


# -- frequency weights, sparse rows, standardised models -------------------------------


@pytest.mark.parametrize("penalised", [False, True], ids=["alpha0", "alpha>0"])
@pytest.mark.parametrize("cov_type", ["nonrobust", "HC0", "cluster"])
def test_a_row_of_weight_two_is_the_row_twice(data, cov_type, penalised):
    X, y, unpenalised, ridge = data
    model = ridge if penalised else unpenalised
    counts = np.random.default_rng(4).integers(0, 4, len(y))  # zero weights drop rows
    groups = np.random.default_rng(5).integers(0, 40, len(y))
    weighted = {"groups": groups} if cov_type == "cluster" else {}
    repeated = {"groups": np.repeat(groups, counts)} if cov_type == "cluster" else {}
    model = copy.deepcopy(model).fit(X, y, sample_weight=counts)
    once = summary(model, X, y, sample_weight=counts, cov_type=cov_type, **weighted).to_dict()
    rows = np.repeat(np.arange(len(y)), counts)
    twice = summary(model, X[rows], y[rows], cov_type=cov_type, **repeated).to_dict()
    for name in COLUMNS:
        assert relative(once[name], twice[name]) < 1e-10, name
    for name in SCALARS:
        assert relative(once[name], twice[name]) < 1e-10, name
    assert once["nobs"] == counts.sum()


@pytest.mark.parametrize("cov_type", ["nonrobust", "HC0", "cluster"])
def test_sparse_rows_give_the_dense_table(data, cov_type):
    X, y, model, _ = data
    X = np.where(np.abs(X) < 0.5, 0.0, X)  # a third of the entries zero
    groups = np.arange(len(y)) % 17
    options = {"groups": groups} if cov_type == "cluster" else {}
    model = copy.deepcopy(model).fit(X, y)
    dense = summary(model, X, y, cov_type=cov_type, **options).to_dict()
    sparse = summary(model, sp.csr_matrix(X), y, cov_type=cov_type, **options).to_dict()
    for name in (*COLUMNS, *SCALARS):
        assert relative(sparse[name], dense[name]) < 1e-10, name


@pytest.mark.parametrize("to_sparse", [False, True], ids=["dense", "sparse"])
def test_a_standardised_model_is_summarised_on_its_standardised_rows(to_sparse):
    X, y = overlapping_classes(seed=6)
    X = X * [1.0, 10.0, 1000.0] + [0.0, 5.0, 0.0]
    fitted_on = sp.csr_matrix(X) if to_sparse else X
    model = tight_fit(fitted_on, y, alpha=1e-3, standardize=True)
    table = summary(model, fitted_on, y)
    plain = copy.deepcopy(model)
    plain.feature_mean_ = plain.feature_scale_ = None
    mean = 0.0 if to_sparse else model.feature_mean_
    reference = summary(plain, (X - mean) / model.feature_scale_, y)
    assert table.standardized and not reference.standardized
    assert "standardised features" in str(table)
    assert relative(table.std_err, reference.std_err) < 1e-10
    assert relative(table.llf, reference.llf) < 1e-12


# -- the outputs ---------------------------------------------------------------------


def test_to_dict_to_frame_and_text():
    pd = pytest.importorskip("pandas")
    X, y = overlapping_classes(n=300, d=2, seed=7)
    labels = np.array(["ant", "bee", "cat"])[y]
    frame = pd.DataFrame(X, columns=["height", "width"])
    model = tight_fit(frame, labels)
    table = summary(model, frame, labels, level=0.9)
    assert isinstance(table, Summary)
    as_dict = table.to_dict()
    assert set(as_dict) == {"classes", "terms", *COLUMNS, *SCALARS, "cov_type"}
    assert as_dict["classes"] == ["bee", "cat"] and as_dict["cov_type"] == "nonrobust"
    assert as_dict["terms"] == ["intercept", "height", "width"]
    assert all(as_dict[name].shape == (2, 3) for name in COLUMNS)
    z90 = 1.6448536269514722
    np.testing.assert_allclose(as_dict["ci_high"] - as_dict["coef"], z90 * as_dict["std_err"])
    frame_out = table.to_frame()
    assert frame_out.shape == (6, 6) and list(frame_out.columns) == list(COLUMNS)
    assert frame_out.loc[("cat", "width"), "coef"] == as_dict["coef"][1, 2]
    text = str(table)
    assert "class 'bee' vs reference 'ant'" in text and "[0.05" in text and "0.95]" in text
    assert "height" in text and "Pseudo R^2" in text


def test_a_model_without_intercept_has_no_intercept_term(data):
    X, y, _, _ = data
    model = tight_fit(X, y, fit_intercept=False)
    table = summary(model, X, y)
    assert table.terms == ["x0", "x1", "x2"] and table.coef.shape == (2, 3)
    assert relative(table.llnull, -len(y) * np.log(3)) < 1e-15  # the uniform model
    expected = sm.loss(model.coef_, None, X, y) * len(y)
    assert relative(table.llf, -expected) < 1e-12


# -- refusals ----------------------------------------------------------------------


def test_too_many_parameters_for_a_dense_hessian():
    rng = np.random.default_rng(8)
    n_features = MAX_HESSIAN_ORDER // 2  # two classes: 2 * (n_features + 1) > the limit
    X, y = rng.normal(size=(6, n_features)), np.array([0, 1] * 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = SoftmaxClassifier(alpha=1.0, max_iter=3).fit(X, y)
    with pytest.raises(ValueError, match=r"dense Hessian .* 2 \* 2501 = 5002 .* limit is 5000"):
        summary(model, X, y)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"groups": np.zeros(5), "cov_type": "cluster"}, "one label per row"),
        ({"reference": 7}, r"reference must be one of the model's classes \[0, 1, 2\]"),
        ({"reference": "0"}, "reference must be one of"),
        ({"cov_type": "cluster"}, 'cov_type="cluster" needs groups'),
        ({"groups": np.zeros(400)}, 'groups are used by cov_type="cluster" only'),
        ({"cov_type": "HC1"}, "cov_type must be one of"),
        ({"level": 0.0}, "level must be a number strictly between 0 and 1"),
        ({"level": 1.0}, "level must be"),
        ({"level": 95}, "level must be"),
        ({"level": True}, "level must be"),
        ({"sample_weight": np.zeros(400)}, "sum to zero"),
    ],
)
def test_bad_input_is_a_clear_value_error(data, options, message):
    X, y, model, _ = data
    with pytest.raises(ValueError, match=message):
        summary(model, X, y, **options)


def test_refusals_that_depend_on_the_model(data):
    X, y, unpenalised, ridge = data
    with pytest.raises(ValueError, match="reference is for unpenalised models"):
        summary(ridge, X, y, reference=0)
    with pytest.raises(ValueError, match="labels not in classes"):
        summary(unpenalised, X, np.where(y == 2, 5, y))
    weighted = tight_fit(X, y, alpha=0.01, class_weight="balanced")
    with pytest.raises(ValueError, match="class_weight"):
        summary(weighted, X, y)
    constant = np.column_stack([X, np.zeros(len(y))])  # a feature with no information
    with pytest.raises(ValueError, match="information matrix is singular"):
        summary(tight_fit(constant, y), constant, y)


def test_separable_classes_are_flagged_as_unreliable_or_refused():
    # Iris' setosa is separable from the others by sepal length and width: with alpha = 0
    # there is no MLE, the fit stops where the loss is flat and the information is
    # singular to rounding (its scaled pivots span 5e12).
    from sklearn.datasets import load_iris

    # How far the fit drifts along the flat direction depends on the BLAS kernels' rounding
    # (OpenBLAS' Sandybridge kernels take it further than Haswell's/Zen's): the information
    # is then nearly singular (a warning) or singular to rounding (an error). Either way the
    # user is told the classes may be separable; nothing else is acceptable.
    X, y = load_iris(return_X_y=True)
    model = tight_fit(X[:, :2], y)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            summary(model, X[:, :2], y)
        except ValueError as error:
            assert re.search(r"is singular.*separable", str(error)), error
        else:
            messages = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
            assert any(re.search(r"nearly singular.*separable", m) for m in messages), messages


def test_the_estimator_method_is_the_module_function(data):
    X, y, _, model = data
    groups = np.arange(len(y)) % 7
    by_method = model.summary(X, y, cov_type="cluster", groups=groups, level=0.9).to_dict()
    by_function = summary(model, X, y, cov_type="cluster", groups=groups, level=0.9).to_dict()
    for key, value in by_function.items():
        np.testing.assert_array_equal(by_method[key], value, err_msg=key)
    with pytest.raises(Exception, match="not fitted"):
        SoftmaxClassifier().summary(X, y)
