"""Very many classes: the softmax by blocks of classes against the unblocked formulas.

Oracles. The block sums of ``softmax_classifier._class_blocks`` are compared
with math.py's unblocked NumPy formulas in float64 (the Hessian diagonal with
the formula written out here); predictions by blocks with the full
``predict_proba`` matrix sorted by ``np.argsort``; fits by class blocks with
scikit-learn's ``LogisticRegression`` optimum.

Tolerances. float64: both sides add the same terms in different orders (the
online log-sum-exp also rescales its partial sums by ``exp(m - m')``), so they
differ by a few units of roundoff times the number of terms, < 1e-14 relative
here; 1e-10 is the issue's bound and leaves four orders of margin. float32:
the blocked sums are computed in float32 (running sums in float64) and
compared with math.py in float64 on the same float32 numbers; logits of
about 5 carry absolute errors of ~5 x 6e-8, which exp turns into relative
errors of the same size, and a gradient entry sums 60 such terms with
cancellation: 1e-5 relative to the largest entry (measured < 1e-6).
"""

from __future__ import annotations

import io
import tracemalloc

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression

from cli_helpers import run_main
from softmax_classifier import SoftmaxClassifier, _class_blocks, _fused
from softmax_classifier import _top_k as top_k_module
from softmax_classifier import math as sm
from softmax_classifier._top_k import top_k
from softmax_classifier.data import InMemoryData
from softmax_classifier.objective import SoftmaxObjective
from softmax_classifier.solvers import choose_solver

BUDGET = _class_blocks.BUDGET_VARIABLE
RTOL = {np.float64: 1e-10, np.float32: 1e-5}
N_CLASSES = 11  # blocks of 3 classes: 3 + 3 + 3 + 2, an uneven last block


def _problem(seed, n=60, d=5, c=N_CLASSES, *, dtype=np.float64, sparse=False, weighted=False):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    if sparse:
        X = sp.csr_matrix(X * (rng.random((n, d)) < 0.4))
    X = X.astype(dtype)
    y = rng.integers(0, c, n)
    w = rng.uniform(0.1, 3.0, n).astype(dtype) if weighted else None
    coef = (rng.standard_normal((c, d)) * 0.7).astype(dtype)
    intercept = rng.standard_normal(c)
    direction = (rng.standard_normal((c, d))).astype(dtype)
    direction_intercept = rng.standard_normal(c)
    return X, y, w, coef, intercept, direction, direction_intercept


def _as64(a):
    return a.astype(np.float64) if a is not None else None


def _close(actual, expected, dtype):
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    scale = max(float(np.max(np.abs(expected), initial=0.0)), 1e-300)
    error = float(np.max(np.abs(actual - expected), initial=0.0))
    assert error <= RTOL[dtype] * scale, (error, scale)


def _diagonal_oracle(X, proba, w, with_intercept):
    """sum_k s_k p_ki (1 - p_ki) x_kj^2 (and without x): written out, dense."""
    X = X.toarray() if sp.issparse(X) else X
    curvature = proba * (1 - proba) * (1.0 if w is None else w[:, None])
    return curvature.T @ np.square(X), (curvature.sum(axis=0) if with_intercept else None)


CASES = [
    (dtype, sparse, weighted, with_intercept)
    for dtype in (np.float64, np.float32)
    for sparse in (False, True)
    for weighted in (False, True)
    for with_intercept in (False, True)
]


@pytest.mark.parametrize("row_block", [None, 7])
@pytest.mark.parametrize("block_size", [1, 3, N_CLASSES])
@pytest.mark.parametrize(("dtype", "sparse", "weighted", "with_intercept"), CASES)
def test_block_sums_equal_math(dtype, sparse, weighted, with_intercept, block_size, row_block):
    X, y, w, coef, b, V, v = _problem(3, dtype=dtype, sparse=sparse, weighted=weighted)
    if not with_intercept:
        b = v = None
    # The oracle: math.py in float64 on the same (float32-rounded) numbers.
    X64, w64, coef64, V64 = _as64(X), _as64(w), _as64(coef), _as64(V)
    loss, weight = _class_blocks.loss_sum(coef, b, X, y, w, block_size, row_block)
    expected_loss, expected_weight = sm._loss_sum(coef64, b, X64, y, w64)
    _close(loss, expected_loss, dtype)
    assert weight == pytest.approx(expected_weight, rel=1e-12)  # a sum of the same weights

    got = _class_blocks.loss_gradient_sum(coef, b, X, y, w, block_size, row_block)
    expected = sm._loss_gradient_sum(coef64, b, X64, y, w64)
    assert got[1].dtype == dtype and got[1].shape == coef.shape
    _close(got[0], expected[0], dtype)
    _close(got[1], expected[1], dtype)
    assert (got[2] is None) == (not with_intercept)
    if with_intercept:
        _close(got[2], expected[2], dtype)

    proba = sm.softmax(sm.raw_prediction(X64, coef64, b))
    change = sm.raw_prediction(X64, V64, v)
    expected = sm._hessian_product_sum(X64, proba, w64, change, with_intercept)
    got = _class_blocks.hessian_product_sum(X, coef, b, V, v, w, block_size, row_block)
    _close(got[0], expected[0], dtype)
    if with_intercept:
        _close(got[1], expected[1], dtype)

    expected = _diagonal_oracle(X64, proba, w64, with_intercept)
    got = _class_blocks.hessian_diagonal_sum(X, coef, b, w, block_size, row_block)
    _close(got[0], expected[0], dtype)
    if with_intercept:
        _close(got[1], expected[1], dtype)


@pytest.mark.parametrize("block_size", [1, 4, N_CLASSES])
def test_online_log_sum_exp_is_the_row_max_and_shifted_sum(block_size):
    X, _, _, coef, b, _, _ = _problem(5)
    logits = sm.raw_prediction(X, coef, b)
    row_max, row_sum = _class_blocks.log_sum_exp(X, coef, b, block_size)
    # The max of the same logits; a product with a block of the classes may round
    # the last bit differently from the whole product (BLAS kernels by shape).
    np.testing.assert_allclose(row_max, logits.max(axis=1), rtol=1e-14)
    expected = np.exp(logits - logits.max(axis=1, keepdims=True)).sum(axis=1)
    np.testing.assert_allclose(row_sum, expected, rtol=1e-13)  # ~11 terms, rescaled: roundoff


@pytest.mark.parametrize("scale", [1e100, 1e300])
def test_extreme_logits_give_finite_exact_sums(scale):
    """Logits of 1e300 (finite, far beyond exp's range): no NaN, no warning, math.py's numbers."""
    X, y, w, coef, b, _, _ = _problem(7, weighted=True)
    coef = coef * (scale / 10)  # |logits| up to ~scale: every exponent but the max underflows
    loss, _ = _class_blocks.loss_sum(coef, b, X, y, w, 3)
    assert np.isfinite(loss)
    _close(loss, sm._loss_sum(coef, b, X, y, w)[0], np.float64)
    got = _class_blocks.loss_gradient_sum(coef, b, X, y, w, 3)
    expected = sm._loss_gradient_sum(coef, b, X, y, w)
    assert np.isfinite(got[1]).all()
    _close(got[1], expected[1], np.float64)
    row_max, row_sum = _class_blocks.log_sum_exp(X, coef, b, 2)
    assert np.isfinite(row_max).all() and (row_sum >= 1).all()


# ---------------------------------------------------------------------------
# Through the objective: the block functions take class blocks past the budget
# ---------------------------------------------------------------------------


def _spy(monkeypatch, name, module=_class_blocks):
    """Record the arguments of each call of ``module.<name>`` (looked up at each call)."""
    calls = []
    original = getattr(module, name)

    def recorded(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, recorded)
    return calls


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("fit_intercept", [False, True])
def test_objective_by_class_blocks_equals_unblocked(monkeypatch, sparse, fit_intercept):
    X, y, w, *_ = _problem(11, n=90, sparse=sparse, weighted=True)
    data = InMemoryData(X, y, w, block_rows=40, n_threads=2)
    objective = SoftmaxObjective(data, N_CLASSES, alpha=0.01, fit_intercept=fit_intercept)
    rng = np.random.default_rng(0)
    point, direction = rng.standard_normal((2, objective.n_params))
    monkeypatch.delenv(BUDGET, raising=False)
    expected = [
        objective.value(point),
        *objective.value_and_grad(point),
        objective.hessp(point, direction),
        objective.hessian_diagonal(point),
    ]
    # Data blocks of 40, 40 and 10 rows: 30 rows x 1 class at a time, and the
    # kernels' scratch (a tile or a row x 3 x 11 classes) is over the budget too.
    monkeypatch.setenv(BUDGET, "30")
    spies = [
        _spy(monkeypatch, name)
        for name in ("loss_sum", "loss_gradient_sum", "hessian_product_sum", "hessian_diagonal_sum")
    ]
    objective._point_layout = None
    got = [
        objective.value(point),
        *objective.value_and_grad(point),
        objective.hessp(point, direction),
        objective.hessian_diagonal(point),
    ]
    assert all(len(calls) == 3 for calls in spies)  # three row blocks each, by class blocks
    for actual, reference in zip(got, expected, strict=True):
        _close(actual, reference, np.float64)


def test_kernels_are_kept_where_their_scratch_fits(monkeypatch):
    dense = np.zeros((1000, 8))
    assert _class_blocks.kernels_fit(dense, 100, _fused.by_columns, budget=256 * 300)
    assert not _class_blocks.kernels_fit(dense, 101, _fused.by_columns, budget=256 * 300)
    narrow = np.zeros((10, 8))  # a tile of 10 rows
    assert _class_blocks.kernels_fit(narrow, 1000, _fused.by_columns, budget=30_000)
    by_rows = sp.csr_matrix((1000, 8))  # one row at a time: 3 x 1000
    assert _class_blocks.kernels_fit(by_rows, 1000, lambda X, c: False, budget=3000)
    assert not _class_blocks.kernels_fit(by_rows, 1000, lambda X, c: True, budget=3000)


def test_block_shapes_and_budget_setting(monkeypatch):
    assert _class_blocks.block_shape(60, 11, budget=1000) == (60, 11)  # all fit
    assert _class_blocks.block_shape(200_000, 20_000, budget=2**20) == (1024, 1024)
    assert _class_blocks.block_shape(5000, 100, budget=2**16) == (1024, 64)
    assert _class_blocks.block_shape(5000, 100, budget=10) == (10, 1)
    assert _class_blocks.class_block_size(7, 11, budget=20) == 2
    assert _class_blocks.class_block_size(7, 11, budget=1) == 1
    assert [(s.start, s.stop) for s in _class_blocks.class_blocks(11, 3)] == [
        (0, 3), (3, 6), (6, 9), (9, 11)
    ]  # fmt: skip
    monkeypatch.delenv(BUDGET, raising=False)
    assert _class_blocks.logit_budget() == _class_blocks.DEFAULT_LOGIT_BUDGET
    monkeypatch.setenv(BUDGET, " 4096 ")
    assert _class_blocks.logit_budget() == 4096
    for bad in ("0", "-3", "1e6", "lots"):
        monkeypatch.setenv(BUDGET, bad)
        with pytest.raises(ValueError, match=f"{BUDGET} must be a positive integer"):
            _class_blocks.logit_budget()


def test_objective_memory_is_bounded_by_the_blocks(monkeypatch):
    """20,000 rows x 500 classes (80 MB of float64 logits) evaluated in well under 8 MB."""
    rng = np.random.default_rng(2)
    n, d, c = 20_000, 4, 500
    X = rng.standard_normal((n, d))
    y = rng.integers(0, c, n)
    data = InMemoryData(X, y, n_threads=2)
    objective = SoftmaxObjective(data, c, alpha=0.1)
    point = rng.standard_normal(objective.n_params) * 0.1
    budget = 2**14
    monkeypatch.setenv(BUDGET, str(budget))
    objective.value_and_grad(point)  # warm: thread pool, first-call allocations
    tracemalloc.start()
    try:
        objective.value_and_grad(point)
        objective.hessp(point, point)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # A few block arrays of `budget` float64 logits (128 KiB each) per thread,
    # the gradient sums (c x d) and the flat vectors: measured 0.8 MB; the bound
    # leaves 10x. The unblocked pass would hold n x c x 8 B = 80 MB at least once.
    assert peak < 8 * 2**20, peak
    assert n * c * 8 > 10 * peak  # the bound means something


# ---------------------------------------------------------------------------
# Predictions: predict and predict_proba(top_k=...) by blocks
# ---------------------------------------------------------------------------


def _fitted(seed=0, *, sparse=False, standardize=False):
    """A model of 11 classes (string labels) on 150 rows whose labels depend on X."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((150, 5)) * rng.uniform(0.5, 4, 5) + rng.uniform(-2, 2, 5)
    truth = rng.standard_normal((N_CLASSES, 5))
    y = np.argmax(X @ truth.T + 2 * rng.standard_normal((150, N_CLASSES)), axis=1)
    X = sp.csr_matrix(X * (rng.random(X.shape) < 0.5)) if sparse else X
    labels = np.array([f"c{k:02d}" for k in range(N_CLASSES)])[y]
    model = SoftmaxClassifier(alpha=1e-2, max_iter=1000, standardize=standardize)
    return model.fit(X, labels), X, labels


def _expected_top_k(model, X, k):
    proba = model.predict_proba(X)
    order = np.argsort(-proba, axis=1, kind="stable")[:, :k]  # ties: the earlier class first
    return model.classes_[order], np.take_along_axis(proba, order, axis=1)


@pytest.mark.parametrize("k", [1, 3, N_CLASSES])
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("standardize", [False, True])
@pytest.mark.parametrize("calibrated", [False, True])
def test_top_k_by_blocks_equals_the_full_matrix(monkeypatch, k, sparse, standardize, calibrated):
    model, X, y = _fitted(1, sparse=sparse, standardize=standardize)
    if calibrated:  # temperature_ is respected: softmax(logits / T)
        model.calibrate(X, y)
        assert abs(model.temperature_ - 1) > 0.01
    labels, proba = _expected_top_k(model, X, k)
    expected_predict = model.predict(X)
    monkeypatch.setenv(BUDGET, "6")  # blocks of 6 rows x 1 class
    row_blocks = _spy(monkeypatch, "_top_k_rows", top_k_module)
    got_labels, got_proba = model.predict_proba(X, top_k=k)
    assert len(row_blocks) == 25 and all(len(call[5]) == N_CLASSES for call in row_blocks)
    assert got_labels.shape == got_proba.shape == (X.shape[0], k)
    np.testing.assert_array_equal(got_labels, labels)
    _close(got_proba, proba, np.float64)
    np.testing.assert_array_equal(model.predict(X), expected_predict)  # by blocks too
    assert len(row_blocks) == 50


def test_top_k_ties_go_to_the_earlier_class():
    X = np.random.default_rng(0).standard_normal((20, 3))
    coef = np.zeros((N_CLASSES, 3))
    intercept = np.full(N_CLASSES, -1.0)
    intercept[[1, 4, 7, 10]] = 2.0  # equal logits exactly (0 * x + 2), in four blocks of 3
    index, proba = top_k(X, coef, intercept, 3, budget=3 * 20)
    np.testing.assert_array_equal(index, np.tile([1, 4, 7], (20, 1)))
    expected = np.exp(2.0) / (4 * np.exp(2.0) + 7 * np.exp(-1.0))
    np.testing.assert_allclose(proba, expected, rtol=1e-14)  # one exp and a sum of 11
    index, _ = top_k(X, coef, intercept, 1, with_proba=False, budget=2)
    assert (index[:, 0] == 1).all()
    # Ties inside a block, at the k-th value: classes 3, 4, 5 at 2, the rest at -1.
    intercept = np.full(N_CLASSES, -1.0)
    intercept[[3, 4, 5]] = 2.0
    for k, classes_per_block in [(2, 3), (4, 5), (4, 3), (7, 4)]:
        index, _ = top_k(X, coef, intercept, k, budget=20 * classes_per_block)
        expected = np.argsort(-intercept, kind="stable")[:k]  # [3, 4, 5, 0, 1, 2, 6]
        np.testing.assert_array_equal(index, np.tile(expected, (20, 1)))


def test_top_k_of_no_rows():
    index, proba = top_k(np.zeros((0, 3)), np.ones((4, 3)), None, 2, budget=1)
    assert index.shape == proba.shape == (0, 2)


def test_top_k_float32_rows(monkeypatch):
    model, X, _ = _fitted(2)
    X32 = X.astype(np.float32)
    labels, proba = _expected_top_k(model, X32, 4)
    monkeypatch.setenv(BUDGET, "12")
    got_labels, got_proba = model.predict_proba(X32, top_k=4)
    assert got_proba.dtype == np.float32
    np.testing.assert_array_equal(got_labels, labels)
    _close(got_proba, proba, np.float32)


def test_top_k_rows_whose_logits_overflow(monkeypatch):
    """Rows of 1e305 and weights of 1e4: logits overflow float64; computed whole, as before."""
    model, X, _ = _fitted(3)
    X = X.copy()
    X[::7] *= 1e305 / np.abs(X[::7]).max(axis=1, keepdims=True)  # largest entry 1e305
    model.coef_ = model.coef_ * 1e4  # as an unpenalised fit on separable rows can give
    # The check of the case itself: its products overflow, and with OpenBLAS's
    # Sandybridge kernels inf - inf in the same sum also gives NaN ("invalid").
    with np.errstate(over="ignore", invalid="ignore"):
        assert not np.isfinite(X @ model.coef_.T).all()  # the case is there
    full = model.predict_proba(X)
    expected_predict = model.predict(X)
    monkeypatch.setenv(BUDGET, "20")
    got_labels, got_proba = model.predict_proba(X, top_k=3)
    assert np.isfinite(got_proba).all()
    # Most of these rows have one probability 1 and the rest 0 (underflowed): the
    # classes of equal probability are ranked by logit, not by position, so the
    # check is that each class returned has the returned probability in the full
    # matrix, and that these are its three largest.
    columns = np.searchsorted(model.classes_, got_labels)
    assert (np.sort(columns, axis=1)[:, 1:] != np.sort(columns, axis=1)[:, :-1]).all()
    _close(got_proba, np.take_along_axis(full, columns, axis=1), np.float64)
    _close(got_proba, -np.sort(-full, axis=1)[:, :3], np.float64)
    np.testing.assert_array_equal(model.predict(X), expected_predict)


def test_top_k_memory_is_bounded(monkeypatch):
    """10,000 rows x 2,000 classes (160 MB of logits) predicted in a few MB."""
    rng = np.random.default_rng(4)
    n, d, c = 10_000, 8, 2000
    X = rng.standard_normal((n, d))
    coef, intercept = rng.standard_normal((c, d)), rng.standard_normal(c)
    budget = 2**15
    top_k(X[:10], coef, intercept, 5, budget=budget)  # warm
    tracemalloc.start()
    try:
        index, _ = top_k(X, coef, intercept, 5, budget=budget)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # The outputs (n x 5 x 16 B = 0.8 MB), the cast coefficients (0.1 MB) and a few
    # block arrays of `budget` logits (0.25 MB each): measured 2.2 MB.
    assert peak < 6 * 2**20, peak
    assert n * c * 8 > 20 * peak
    logits = X[:50] @ coef.T + intercept  # a spot check against the whole rows
    np.testing.assert_array_equal(index[:50], np.argsort(-logits, axis=1, kind="stable")[:, :5])


@pytest.mark.parametrize("bad", [0, -1, N_CLASSES + 1, 2.0, True, "3", np.array([2])])
def test_bad_top_k_is_a_clear_error(bad):
    model, X, _ = _fitted(0)
    n_classes = len(model.classes_)
    with pytest.raises(ValueError, match=rf"top_k must be an integer from 1 to .* \({n_classes}\)"):
        model.predict_proba(X, top_k=bad)


def test_top_k_of_an_unfitted_model_says_so():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        SoftmaxClassifier().predict_proba(np.zeros((2, 3)), top_k=1)


# ---------------------------------------------------------------------------
# Fits by class blocks reach scikit-learn's optimum; solver="auto" for many classes
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(("sparse", "solver"), [(False, "lbfgs"), (True, "newton-cg")])
def test_fit_by_tiny_class_blocks_reaches_the_optimum(monkeypatch, sparse, solver):
    rng = np.random.default_rng(5)
    n, alpha = 300, 1e-2
    X = rng.standard_normal((n, 4))
    X = sp.csr_matrix(X * (rng.random(X.shape) < 0.6)) if sparse else X
    y = rng.integers(0, N_CLASSES, n)
    reference = LogisticRegression(C=1 / (alpha * n), tol=1e-12, max_iter=10_000).fit(X, y)
    monkeypatch.setenv(BUDGET, "30")  # blocks of 30 rows x 1 class; the kernels' scratch is more
    spy = _spy(monkeypatch, "loss_gradient_sum")
    model = SoftmaxClassifier(alpha=alpha, solver=solver, tol=1e-9, max_iter=500).fit(X, y)
    assert spy  # the fit went by class blocks
    assert model.fit_report_.stop_reason == "converged"
    # Both optima to ~1e-9 in the gradient of a problem with curvature ~alpha
    # or more: the coefficients agree to ~1e-7; 1e-5 leaves two orders.
    np.testing.assert_allclose(model.coef_, reference.coef_, atol=1e-5)
    centred = reference.intercept_ - reference.intercept_.mean()  # ours sum to zero
    np.testing.assert_allclose(model.intercept_, centred, atol=1e-5)


def test_auto_uses_lbfgs_for_very_many_classes():
    X = np.lib.stride_tricks.as_strided(np.zeros(1), (200_000, 64), (0, 0))  # shape only
    solver, reason = choose_solver(X, 20_000)
    assert solver == "lbfgs" and "20000 classes" in reason
    assert choose_solver(X, 2048)[0] == "newton-cg"  # the Kronecker factor still small


@pytest.mark.parametrize(("n_classes", "expected"), [(2048, "kronecker"), (2049, "none")])
def test_newton_cg_named_explicitly_leaves_out_the_kronecker_factor_for_many_classes(
    n_classes, expected
):
    # solver="newton-cg" chosen by hand on dense data: its "auto" preconditioner would
    # build an n_classes x n_classes factor (3.2 GB at 20,000 classes) without this rule.
    from types import SimpleNamespace

    from softmax_classifier.solvers.newton_cg import preconditioning

    objective = SimpleNamespace(
        data=None, n_classes=n_classes, n_features=64, alpha=0.0, fit_intercept=True,
        unpack=None, prefers_diagonal_preconditioning=False,
    )  # fmt: skip
    assert preconditioning(objective) == expected


# ---------------------------------------------------------------------------
# The command line: softmax predict --top-k by blocks
# ---------------------------------------------------------------------------


def test_cli_predict_top_k_by_blocks(monkeypatch, capsys, tmp_path):
    _, X, y = _fitted(6)
    frame = pd.DataFrame(X, columns=[f"f{j}" for j in range(X.shape[1])])
    model = SoftmaxClassifier(alpha=1e-2, max_iter=1000).fit(frame, y)
    model.save(tmp_path / "m.safetensors")
    frame.to_csv(tmp_path / "rows.csv", index=False)
    labels, proba = _expected_top_k(model, frame, 3)
    monkeypatch.setenv(BUDGET, "8")
    row_blocks = _spy(monkeypatch, "_top_k_rows", top_k_module)
    status, out, err = run_main(
        capsys, "predict", tmp_path / "m.safetensors", tmp_path / "rows.csv", "--top-k", "3"
    )
    assert status == 0, err
    assert len(row_blocks) == 19  # 150 rows, 8 at a time, one class at a time
    table = pd.read_csv(io.StringIO(out))
    assert list(table.columns) == ["prediction", "top1", "top1_proba", "top2", "top2_proba",
                                   "top3", "top3_proba"]  # fmt: skip
    np.testing.assert_array_equal(table["prediction"], labels[:, 0])
    for rank in range(3):
        np.testing.assert_array_equal(table[f"top{rank + 1}"], labels[:, rank])
        # Printed to the last digit (repr); summed in another order than the full
        # matrix's softmax: a few units of roundoff, the float64 bound of the module.
        _close(table[f"top{rank + 1}_proba"], proba[:, rank], np.float64)
