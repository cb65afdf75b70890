"""softmax_classifier.teach: the toy data, the CSV reader, the recorded iterates, the trace.

The oracles: the library's own estimator refitted for exactly k iterations (the frames must
be its iterates), softmax_classifier.math on one row (the trace), finite differences (the
Lipschitz constant), scikit-learn (XOR defeats a linear model) and the file formats' magic
numbers (PNG, GIF).
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from softmax_classifier.math import loss, loss_gradient, raw_prediction, softmax
from softmax_classifier.teach import TOY_NAMES, read_points, toy_data, write_lesson
from softmax_classifier.teach._lesson import (
    DIVERGING_FACTORS,
    FRAME_ITERATIONS,
    _checked,
    diverging_run,
    estimator,
    fit_run,
    lipschitz_constant,
)
from softmax_classifier.teach._trace import trace_example, trace_markdown

# ---------------------------------------------------------------------- toy data


@pytest.mark.parametrize(("name", "n_classes"), [("blobs", 3), ("moons", 2), ("xor", 2)])
def test_toy_data_shapes_and_labels(name, n_classes):
    X, y = toy_data(name, n_samples=101, seed=3)
    assert X.shape == (101, 2)
    assert X.dtype == np.float64
    assert np.all(np.isfinite(X))
    assert np.issubdtype(y.dtype, np.integer)
    assert set(np.unique(y)) == set(range(n_classes))
    again, _ = toy_data(name, n_samples=101, seed=3)
    other, _ = toy_data(name, n_samples=101, seed=4)
    assert np.array_equal(X, again)
    assert not np.array_equal(X, other)


def test_toy_names_and_unknown_name():
    assert TOY_NAMES == ("blobs", "moons", "xor")
    with pytest.raises(ValueError, match="unknown toy set 'spiral'"):
        toy_data("spiral")


def test_xor_defeats_a_linear_model_and_blobs_do_not():
    # scikit-learn's multinomial logistic regression as the independent linear model.
    # XOR's classes sit in opposite quadrants: any line leaves about half of them on the
    # wrong side, so 0.7 is far above what a line can reach; the blobs are separated by
    # about 5 standard deviations, so 0.9 leaves a wide margin below their accuracy.
    X, y = toy_data("xor", n_samples=400)
    assert LogisticRegression().fit(X, y).score(X, y) < 0.7
    X, y = toy_data("blobs", n_samples=400)
    assert LogisticRegression().fit(X, y).score(X, y) > 0.9
    X, y = toy_data("xor", n_samples=400)
    assert np.all((X[:, 0] * X[:, 1] < 0) == (y == 1))


# ---------------------------------------------------------------------- read_points


def _write(tmp_path, text, name="points.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_read_points_reads_features_in_file_order_and_labels(tmp_path):
    path = _write(tmp_path, "height,kind,width\n1.5,cat,2\n-3,dog,4e-1\n\n0,cat,0\n")
    X, y, names = read_points(path, "kind")
    np.testing.assert_array_equal(X, [[1.5, 2.0], [-3.0, 0.4], [0.0, 0.0]])
    assert list(y) == ["cat", "dog", "cat"]
    assert names == ("height", "width")
    X, y, _ = read_points(_write(tmp_path, "a,b,label\n0,1,2\n1,0,7\n"), "label")
    assert y.dtype.kind == "i"
    assert list(y) == [2, 7]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a,label\n1,x\n2,y\n", r"exactly two feature columns besides 'label', got 1"),
        ("a,b,c,label\n1,2,3,x\n4,5,6,y\n", r"exactly two feature columns besides 'label', got 3"),
        (
            "a,b,label\n1,2,x\n3,oops,y\n",
            r"row 3 of .*column 'b' needs a finite number, got 'oops'",
        ),
        ("a,b,label\n1,2,x\n3,nan,y\n", r"row 3 of .*column 'b' needs a finite number, got 'nan'"),
        (
            "a,b,label\n1,,x\n3,4,y\n",
            r"row 2 of .*column 'b' needs a finite number, got '\(empty\)'",
        ),
        ("a,b,label\n1,2,x\n3,4,x\n", r"a single class \('x'\)"),
        ("a,b,label\n1,2,x\n", r"at least 2 rows of data, got 1"),
        ("a,b,kind\n1,2,x\n3,4,y\n", r"no column named 'label'"),
        ("a,b,label\n1,2,x\n3,4\n", r"row 3 of .* has 2 fields, the header 3"),
        ("a,b,label\n1,2,x\n3,4,\n", r"row 3 of .* has no label"),
        ("", r"is empty"),
    ],
)
def test_read_points_errors_are_one_clear_line(tmp_path, text, message):
    path = _write(tmp_path, text)
    with pytest.raises(ValueError, match=message) as error:
        read_points(path, "label")
    assert "\n" not in str(error.value)


def test_read_points_missing_file(tmp_path):
    with pytest.raises(ValueError, match=r"cannot read .*absent\.csv") as error:
        read_points(tmp_path / "absent.csv", "label")
    assert "\n" not in str(error.value)


# ---------------------------------------------------------------------- the frames


def _coef_intercept(model):
    return model.coef_, model.intercept_


@pytest.mark.parametrize("solver", ["gd", "sgd"])
def test_frames_are_the_library_iterates(solver):
    """Frame k equals the estimator refitted with max_iter=k and the same settings."""
    X, y = toy_data("blobs", n_samples=60, seed=1)
    lam = lipschitz_constant(X, 1e-3)
    rate = 1.0 / lam if solver == "gd" else 0.2 / lam
    capture = (0, 1, 2, 5)
    run = fit_run(X, y, solver, rate, 1e-3, 6, capture=capture, seed=7)
    assert sorted(run.frames) == list(capture)
    np.testing.assert_array_equal(run.frames[0][0], np.zeros((3, 2)))
    for k in (1, 2, 5):
        coef, intercept = run.frames[k]
        refit = estimator(solver, rate, 1e-3, k, seed=7)
        with pytest.warns(ConvergenceWarning):  # max_iter reached with tol=0
            refit.fit(X, y)
        # The same deterministic computation in the same process: identical up to the
        # last bit in practice; 1e-12 on values of order 1 allows for a BLAS kernel that
        # splits a product differently between the two calls, and no more.
        np.testing.assert_allclose(refit.coef_, coef, rtol=0, atol=1e-12)
        # intercept_ is reported centred (the model ignores a common shift).
        np.testing.assert_allclose(refit.intercept_, intercept - intercept.mean(), atol=1e-12)
        # The recorded objective is the library's value at that frame (alpha's term
        # included); same formula, different summation order: 1e-12 relative.
        assert run.objective[k] == pytest.approx(loss(coef, intercept, X, y, alpha=1e-3), rel=1e-12)
    assert not np.allclose(run.frames[1][0], run.frames[5][0])  # the iterates do move


def test_sgd_frames_depend_on_the_seed():
    X, y = toy_data("moons", n_samples=40)
    first = fit_run(X, y, "sgd", 0.1, 1e-3, 2, capture=(2,), seed=0)
    second = fit_run(X, y, "sgd", 0.1, 1e-3, 2, capture=(2,), seed=1)
    assert not np.allclose(first.frames[2][0], second.frames[2][0])


@pytest.mark.parametrize("alpha", [0.0, 0.05])
def test_lipschitz_constant_is_the_curvature_at_the_zero_start_for_two_classes(alpha):
    # At the zero start of a 2-class model p = (1/2, 1/2): the softmax Jacobian's largest
    # eigenvalue is 1/2, so without a penalty the Hessian's largest eigenvalue equals the
    # bound exactly; alpha * I on the coefficients only (not the intercepts) adds at most
    # alpha, so with a penalty the bound holds with at most alpha to spare.
    X, y = toy_data("moons", n_samples=80)
    n = 2 * 2 + 2

    def gradient(theta):
        _, g_coef, g_intercept = loss_gradient(
            theta[:4].reshape(2, 2), theta[4:], X, y, alpha=alpha
        )
        return np.concatenate([g_coef.ravel(), g_intercept])

    eps = 1e-5
    hessian = np.column_stack(
        [(gradient(eps * e) - gradient(-eps * e)) / (2 * eps) for e in np.eye(n)]
    )
    largest = np.linalg.eigvalsh((hessian + hessian.T) / 2)[-1]
    # Central differences of a smooth gradient: error O(eps^2 * third derivative) ~ 1e-10,
    # plus rounding ~ 1e-16 / 1e-5 = 1e-11; 1e-7 leaves a wide margin.
    bound = lipschitz_constant(X, alpha)
    assert bound - alpha - 1e-7 <= largest <= bound + 1e-7
    if alpha == 0.0:
        assert largest == pytest.approx(bound, abs=1e-7)


@pytest.mark.parametrize("name", TOY_NAMES)
def test_step_one_over_lambda_never_raises_the_loss(name):
    # docs/math.md section 7: with gamma <= 1/lambda every gradient step lowers L. A
    # rounding allowance of 1e-14 relative (values of order 1, ~50 ulps) for the steps
    # where the decrease itself is below the objective's rounding (XOR's flat optimum).
    X, y = toy_data(name, n_samples=120)
    run = fit_run(X, y, "gd", 1.0 / lipschitz_constant(X, 1e-3), 1e-3, 60)
    assert np.all(np.diff(run.objective) <= 1e-14 * run.objective[:-1])
    assert run.objective[-1] < run.objective[0]


@pytest.mark.parametrize("name", TOY_NAMES)
def test_the_diverging_panel_shows_a_growing_loss(name):
    X, y = toy_data(name, n_samples=120)
    lam = lipschitz_constant(X, 1e-3)
    run = diverging_run(X, y, lam)
    assert run.stop_reason == "non_finite" or run.objective[-1] > run.objective[0]
    assert run.learning_rate * lam >= DIVERGING_FACTORS[0] * (1 - 1e-12)


# ---------------------------------------------------------------------- the trace


@pytest.mark.parametrize("scale", [0.5, 40.0])
@pytest.mark.parametrize("alpha", [0.0, 0.1])
def test_trace_equals_the_library_math(scale, alpha):
    rng = np.random.default_rng(5)
    W = scale * rng.normal(size=(3, 2))
    b = scale * rng.normal(size=3)
    x = rng.normal(size=2)
    y = 2
    t = trace_example(W, b, x, y, learning_rate=0.3, alpha=alpha)
    row, label = x[None, :], np.array([y])
    # Both are float64 evaluations of the same formulas in different orders; the results
    # are of order 1 to 100 (scale 40), so 1e-12 relative is a few hundred ulps at most.
    tight = {"rtol": 1e-12, "atol": 1e-12}
    np.testing.assert_allclose(t["a"], raw_prediction(row, W, b)[0], **tight)
    np.testing.assert_allclose(t["p"], softmax(raw_prediction(row, W, b))[0], **tight)
    np.testing.assert_allclose(t["ce"], loss(W, b, row, label), **tight)
    value, g_coef, g_intercept = loss_gradient(W, b, row, label, alpha=alpha)
    np.testing.assert_allclose(t["ce"] + t["penalty"], value, **tight)
    np.testing.assert_allclose(t["grad_W"], g_coef, **tight)
    np.testing.assert_allclose(t["grad_b"], g_intercept, **tight)
    np.testing.assert_allclose(t["W_new"], W - 0.3 * g_coef, **tight)
    np.testing.assert_allclose(t["b_new"], b - 0.3 * g_intercept, **tight)
    np.testing.assert_allclose(t["ce_new"], loss(t["W_new"], t["b_new"], row, label), **tight)
    np.testing.assert_array_equal(t["onehot"], [0.0, 0.0, 1.0])


def test_the_step_raises_the_true_class_score():
    # docs/math.md section 7: the true logit rises and every other one falls (alpha = 0).
    rng = np.random.default_rng(2)
    W, b, x = rng.normal(size=(4, 2)), rng.normal(size=4), rng.normal(size=2)
    t = trace_example(W, b, x, 1, learning_rate=0.1)
    assert t["a_new"][1] > t["a"][1]
    assert np.all(np.delete(t["a_new"] - t["a"], 1) < 0)


def test_trace_markdown_shows_the_formulas_and_numbers():
    W = np.array([[1.0, -0.5], [0.25, 2.0]])
    t = trace_example(W, np.array([0.1, -0.1]), np.array([0.5, 1.5]), 0, learning_rate=0.5)
    text = trace_markdown(
        t, index=7, feature_names=("u", "v"), class_names=["no", "yes"], where="Test."
    )
    assert "Example 7" in text and "class 'no'" in text
    for heading in ("a = W x + b", "Softmax", "Cross-entropy", "p - e_y", "r\\, x^T", "W' ="):
        assert heading in text
    assert f"{t['ce']:.6g}" in text
    assert f"{t['grad_W'][1, 1]:.6g}" in text
    assert "\\alpha W" not in text  # no penalty term announced when alpha = 0


# ---------------------------------------------------------------------- write_lesson


@pytest.fixture(scope="module")
def lesson(tmp_path_factory):
    X, y = toy_data("blobs", n_samples=90, seed=2)
    folder = tmp_path_factory.mktemp("lesson") / "out"
    return X, y, folder, write_lesson(X, y, folder, feature_names=("f1", "f2"), seed=3)


def test_write_lesson_writes_every_figure(lesson):
    _, _, folder, out = lesson
    frames = [f"frame_{k:03d}" for k in FRAME_ITERATIONS]
    expected = {"gd_sgd_frames", "animation", "trace", "trace_figure", "learning_rates"}
    assert set(out) == expected | {"penalties", *frames}
    assert out["gd_sgd_frames"] == folder / "frames"
    for name in [*frames, "trace_figure", "learning_rates", "penalties"]:
        assert out[name].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert out[name].parent in (folder, folder / "frames")
    gif = out["animation"]
    assert gif.name == "learning.gif" and gif.read_bytes()[:6] == b"GIF89a"
    assert gif.stat().st_size <= 2 * 2**20
    from PIL import Image

    with Image.open(gif) as image:
        assert image.n_frames == len(FRAME_ITERATIONS)


def test_write_lesson_trace_is_of_example_zero(lesson):
    X, y, _, out = lesson
    text = out["trace"].read_text(encoding="utf-8")
    assert text.startswith("# One training example through the formulas")
    assert f"$x = ({X[0, 0]:.6g}, {X[0, 1]:.6g})$" in text
    assert f"label $y = {y[0]}$" in text
    assert "(f1, f2)" in text


def test_labels_of_any_type_become_class_indices():
    X = np.zeros((4, 2))
    _, y_index, labels = _checked(X, np.array(["b", "a", "b", "c"]))
    np.testing.assert_array_equal(y_index, [1, 0, 1, 2])
    assert list(labels) == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("X", "y", "message"),
    [
        (np.zeros((3, 3)), np.array([0, 1, 0]), r"shape \(n_samples, 2\)"),
        (np.zeros((3, 2)), np.array([1, 1, 1]), "at least two classes"),
        (np.array([[0.0, np.nan], [1.0, 1.0]]), np.array([0, 1]), "NaN"),
        (np.zeros((3, 2)), np.array([0, 1]), r"y must have shape \(3,\)"),
    ],
)
def test_write_lesson_rejects_bad_input(tmp_path, X, y, message):
    with pytest.raises(ValueError, match=message):
        write_lesson(X, y, tmp_path / "never")
    assert not (tmp_path / "never").exists()
