"""Calibration metrics and temperature scaling, against independent computations.

The temperature is checked against a dense grid plus bisection written here with
SciPy's ``logsumexp``, and against scikit-learn's ``CalibratedClassifierCV(method=
"temperature")`` on a frozen copy of the model; the metrics against plain loops over
rows and bins (and scikit-learn's Brier score).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.special import softmax as scipy_softmax
from sklearn.datasets import load_digits, make_classification

import softmax_classifier
from softmax_classifier import SoftmaxClassifier, evaluation, model_file
from softmax_classifier.calibration import (
    CalibrationBins,
    brier_score,
    calibration_bins,
    classwise_calibration_error,
    expected_calibration_error,
    fit_temperature,
    maximum_calibration_error,
)
from softmax_classifier.data import as_source

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def digits_splits():
    """An over-confident model (alpha = 0 on 200 rows, 64 features) and held-out splits."""
    X, y = load_digits(return_X_y=True)
    model = SoftmaxClassifier(alpha=0.0, max_iter=300).fit(X[:200], y[:200])
    return model, (X[200:1000], y[200:1000]), (X[1000:], y[1000:])


def random_predictions(n=400, n_classes=4, seed=0):
    rng = np.random.default_rng(seed)
    raw = rng.normal(scale=3.0, size=(n, n_classes))
    proba = scipy_softmax(raw, axis=1)
    # Labels drawn from sharper probabilities than the predicted ones: miscalibrated.
    sharp = scipy_softmax(raw * 1.7, axis=1)
    y = np.array([rng.choice(n_classes, p=row) for row in sharp])
    return raw, proba, y


# -- temperature ---------------------------------------------------------------------------


def temperature_loss(T, raw, y, weight):
    """The weighted mean log-loss of softmax(raw / T), written independently."""
    z = raw / T
    losses = logsumexp(z, axis=1) - z[np.arange(len(y)), y]
    return weight @ losses / weight.sum()


def loss_slope_in_beta(beta, raw, y, weight):
    """d/d(1/T) of the loss: weighted mean of E_p[z] - z_y with p = softmax(beta z)."""
    p = scipy_softmax(beta * raw, axis=1)
    return weight @ ((p * raw).sum(axis=1) - raw[np.arange(len(y)), y]) / weight.sum()


def grid_and_bisection(raw, y, weight):
    grid = np.logspace(-2, 2, 2001)
    losses = np.array([temperature_loss(T, raw, y, weight) for T in grid])
    k = int(np.argmin(losses))
    assert 0 < k < len(grid) - 1, "the optimum must be inside the grid"
    low, high = 1 / grid[k + 1], 1 / grid[k - 1]  # in beta = 1/T, the slope changes sign
    assert loss_slope_in_beta(low, raw, y, weight) < 0 < loss_slope_in_beta(high, raw, y, weight)
    for _ in range(200):
        middle = 0.5 * (low + high)
        if middle in (low, high):
            break
        if loss_slope_in_beta(middle, raw, y, weight) < 0:
            low = middle
        else:
            high = middle
    return 1 / (0.5 * (low + high))


@pytest.mark.parametrize("weighted", [False, True])
def test_temperature_equals_a_dense_grid_and_bisection(digits_splits, weighted):
    model, (X_val, y_val), _ = digits_splits
    raw = model.decision_function(X_val)
    y = np.searchsorted(model.classes_, y_val)
    weight = np.random.default_rng(1).uniform(0.2, 3, len(y)) if weighted else np.ones(len(y))
    T = fit_temperature(raw, y, weight if weighted else None)
    expected = grid_and_bisection(raw, y, weight)
    assert T == pytest.approx(expected, rel=1e-6)
    assert T == pytest.approx(expected, rel=1e-10)  # in fact, to the bisection's own precision
    assert T > 1  # over-confident on held-out rows
    try:  # the estimator's calibrate finds the same T
        assert model.calibrate(X_val, y_val, weight).temperature_ == T
    finally:
        model.calibrate(None)


def test_temperature_of_a_synthetic_problem_and_its_optimality():
    raw, _, y = random_predictions()
    T = fit_temperature(raw, y)
    assert T == pytest.approx(grid_and_bisection(raw, y, np.ones(len(y))), rel=1e-10)
    assert T < 1  # the labels came from sharper probabilities
    best = temperature_loss(T, raw, y, np.ones(len(y)))
    for factor in (1 - 1e-6, 1 + 1e-6):
        assert temperature_loss(T * factor, raw, y, np.ones(len(y))) >= best
    # Invariant to a constant per row, and to float32 input (computed in float64).
    shifted = raw + np.arange(len(y))[:, None]
    assert fit_temperature(shifted, y) == pytest.approx(T, rel=1e-12)
    assert fit_temperature(raw.astype(np.float32), y) == pytest.approx(T, rel=1e-6)


def test_integer_weights_are_repeated_rows():
    raw, _, y = random_predictions(n=120)
    weight = np.random.default_rng(3).integers(0, 4, len(y))
    repeated = np.repeat(np.arange(len(y)), weight)
    assert fit_temperature(raw, y, weight) == pytest.approx(
        fit_temperature(raw[repeated], y[repeated]), rel=1e-12
    )


def test_scikit_learn_temperature_scaling_gives_the_same_probabilities(digits_splits):
    """scikit-learn fits beta = 1/T on ``decision_function`` (multiclass: our logits) by
    bounded Brent on log(beta) in [-10, 10] with xatol 64 eps; same minimiser."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator

    model, (X_val, y_val), (X_test, _) = digits_splits
    theirs = CalibratedClassifierCV(FrozenEstimator(model), method="temperature")
    theirs.fit(X_val, y_val)
    beta = theirs.calibrated_classifiers_[0].calibrators[0].beta_
    model.calibrate(X_val, y_val)
    try:
        assert 1 / beta == pytest.approx(model.temperature_, rel=1e-6)
        np.testing.assert_allclose(
            model.predict_proba(X_test), theirs.predict_proba(X_test), rtol=0, atol=1e-5
        )
    finally:
        model.calibrate(None)


def test_scikit_learn_temperature_scaling_two_classes():
    """Two classes: our ``decision_function`` is the log-odds x; scikit-learn turns it
    into the logits (-x, x), so its beta is 1 / (2 T), and the probabilities agree."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator

    X, y = make_classification(
        n_samples=900, n_features=40, n_informative=10, flip_y=0.1, random_state=0
    )
    model = SoftmaxClassifier(alpha=0.0).fit(X[:100], y[:100])
    theirs = CalibratedClassifierCV(FrozenEstimator(model), method="temperature")
    theirs.fit(X[100:500], y[100:500])
    beta = theirs.calibrated_classifiers_[0].calibrators[0].beta_
    model.calibrate(X[100:500], y[100:500])
    assert 1 / (2 * beta) == pytest.approx(model.temperature_, rel=1e-6)
    np.testing.assert_allclose(
        model.predict_proba(X[500:]), theirs.predict_proba(X[500:]), rtol=0, atol=1e-5
    )


def test_calibration_halves_the_error_of_an_over_confident_model(digits_splits):
    model, (X_val, y_val), (X_test, y_test) = digits_splits
    y_index = np.searchsorted(model.classes_, y_test)
    before = expected_calibration_error(y_index, model.predict_proba(X_test))
    model.calibrate(X_val, y_val)
    try:
        after = expected_calibration_error(y_index, model.predict_proba(X_test))
    finally:
        model.calibrate(None)
    assert after <= before / 2, (before, after)


# -- the estimator -------------------------------------------------------------------------


def test_calibrate_changes_probabilities_but_never_labels(digits_splits):
    model, (X_val, y_val), (X_test, _) = digits_splits
    labels, logits = model.predict(X_test), model.decision_function(X_test)
    assert not hasattr(model, "temperature_")
    model.calibrate(X_val, y_val)
    try:
        T = model.temperature_
        assert type(T) is float and T > 1
        np.testing.assert_array_equal(model.predict(X_test), labels)
        np.testing.assert_array_equal(model.decision_function(X_test), logits)
        proba = model.predict_proba(X_test)
        np.testing.assert_allclose(proba, scipy_softmax(logits / T, axis=1), rtol=1e-12)
        np.testing.assert_allclose(model.predict_log_proba(X_test), np.log(proba), rtol=1e-10)
        np.testing.assert_array_equal(model.classes_[proba.argmax(axis=1)], labels)
    finally:
        model.calibrate(None)
    assert not hasattr(model, "temperature_")
    np.testing.assert_allclose(model.predict_proba(X_test), scipy_softmax(logits, axis=1))


def test_calibrate_with_labels_weights_and_a_data_source():
    X, y = make_classification(
        n_samples=600, n_features=30, n_informative=8, n_classes=3, random_state=2
    )
    labels = np.array(["ant", "bee", "cow"])[y]
    model = SoftmaxClassifier(alpha=1e-3, max_iter=500).fit(X[:90], labels[:90])
    weight = np.random.default_rng(0).uniform(0.5, 2, 510)
    raw = model.decision_function(X[90:])
    expected = fit_temperature(raw, y[90:], weight)
    assert model.calibrate(X[90:], labels[90:], weight).temperature_ == expected
    source = as_source(X[90:], labels[90:], weight)
    assert model.calibrate(source).temperature_ == pytest.approx(expected, rel=1e-12)


def test_fit_resets_the_temperature():
    X, y = make_classification(n_samples=300, n_features=20, n_informative=5, random_state=4)
    model = SoftmaxClassifier(alpha=0.0).fit(X[:50], y[:50]).calibrate(X[50:], y[50:])
    assert hasattr(model, "temperature_")
    model.fit(X[:50], y[:50])
    assert not hasattr(model, "temperature_")
    model.set_params(solver="sgd").calibrate(X[50:], y[50:]).partial_fit(X[:50], y[:50])
    assert not hasattr(model, "temperature_")


def test_float32_model_stays_float32():
    X, y = make_classification(n_samples=300, n_features=20, n_informative=5, random_state=5)
    X = X.astype(np.float32)
    model = SoftmaxClassifier(alpha=0.0).fit(X[:50], y[:50]).calibrate(X[50:], y[50:])
    assert model.predict_proba(X[:5]).dtype == np.float32
    assert model.predict_log_proba(X[:5]).dtype == np.float32


def test_save_and_load_keep_the_temperature(tmp_path, digits_splits):
    model, (X_val, y_val), (X_test, _) = digits_splits
    model.calibrate(X_val, y_val)
    try:
        model.save(tmp_path / "calibrated.safetensors")
        loaded = softmax_classifier.load(tmp_path / "calibrated.safetensors")
        assert loaded.temperature_ == model.temperature_
        np.testing.assert_array_equal(loaded.predict_proba(X_test), model.predict_proba(X_test))
        assert model_file.load(tmp_path / "calibrated.safetensors")[1]["temperature"] == (
            model.temperature_
        )
    finally:
        model.calibrate(None)
    model.save(tmp_path / "plain.safetensors")
    assert model_file.load(tmp_path / "plain.safetensors")[1]["temperature"] is None
    assert not hasattr(softmax_classifier.load(tmp_path / "plain.safetensors"), "temperature_")


def test_old_model_files_load_with_temperature_one():
    golden = DATA / "golden"
    _, metadata = model_file.load(golden / "iris_v1.safetensors")
    assert "temperature" not in metadata  # written by 0.1.0, before calibration
    model = softmax_classifier.load(golden / "iris_v1.safetensors")
    assert not hasattr(model, "temperature_")
    record = json.loads((golden / "iris_v1_predictions.json").read_text())
    X = np.array(record["X"])
    np.testing.assert_allclose(model.predict_proba(X), record["predict_proba"], rtol=1e-12)
    np.testing.assert_allclose(
        model.predict_proba(X), scipy_softmax(model._raw_prediction(X), axis=1), rtol=1e-12
    )
    for path in sorted((DATA / "model_file").glob("*.safetensors")):
        assert model_file.load_model(path).temperature is None, path.name


@pytest.mark.parametrize("value", [0, -1.5, True, "2", [1.0]])
def test_a_bad_temperature_in_a_file_is_refused(tmp_path, value):
    contents = model_file.ModelContents(
        coef=np.eye(2), intercept=np.zeros(2), classes=np.array([0, 1]), n_features=2,
        feature_names=None, feature_mean=None, feature_scale=None, target_name=None,
        alpha_used=None, hyperparameters={}, fit_report=None,
    )  # fmt: skip
    from softmax_classifier.model_file.schema import encode_model

    tensors, metadata = encode_model(contents)
    metadata["temperature"] = value
    path = tmp_path / "m.safetensors"
    model_file.save(path, tensors, metadata)
    with pytest.raises(model_file.ModelFileError) as caught:
        model_file.load_model(path)
    assert str(caught.value).startswith(f"{path}: temperature must be a positive number")
    contents.temperature = value
    with pytest.raises(ValueError, match="temperature must be a positive number"):
        model_file.save_model(tmp_path / "n.safetensors", contents)


def test_calibrate_bad_input(digits_splits):
    model, (X_val, y_val), _ = digits_splits
    with pytest.raises(ValueError, match="labels not among the model's classes: 11, 12"):
        model.calibrate(X_val[:3], np.array([0, 11, 12]))
    with pytest.raises(ValueError, match="labels not among the model's classes: a"):
        model.calibrate(X_val[:2], np.array(["a", "a"]))
    with pytest.raises(ValueError, match="one label per row of X"):
        model.calibrate(X_val)
    with pytest.raises(ValueError, match="one label per row of X"):
        model.calibrate(X_val, y_val[:-1])
    with pytest.raises(ValueError, match="at least 2 rows"):
        model.calibrate(X_val[:1], y_val[:1])
    with pytest.raises(ValueError, match="resets"):
        model.calibrate(None, y_val)
    with pytest.raises(ValueError, match="brings its own"):
        model.calibrate(as_source(X_val, y_val), y_val)
    with pytest.raises(ValueError, match="features"):
        model.calibrate(X_val[:, :5], y_val)
    assert not hasattr(model, "temperature_")


# -- fit_temperature's refusals ------------------------------------------------------------


def test_fit_temperature_bad_input():
    raw, _, y = random_predictions(n=10)
    with pytest.raises(ValueError, match="at least 2 rows, got 1"):
        fit_temperature(raw[:1], y[:1])
    with pytest.raises(ValueError, match=r"one per row of raw_prediction \(10\)"):
        fit_temperature(raw, y[:9])
    with pytest.raises(ValueError, match="2-D"):
        fit_temperature(raw[:, 0], y)
    with pytest.raises(ValueError, match="2 columns"):
        fit_temperature(raw[:, :1], np.zeros(10, dtype=int))
    with pytest.raises(ValueError, match="integer indices"):
        fit_temperature(raw, y.astype(float))
    with pytest.raises(ValueError, match=r"in 0 \.\. 3"):
        fit_temperature(raw, np.full(10, 4))
    with pytest.raises(ValueError, match="finite"):
        fit_temperature(np.where(np.eye(10, 4) > 0, np.inf, raw), y)
    with pytest.raises(ValueError, match=r"sample_weight must have shape \(10,\)"):
        fit_temperature(raw, y, np.ones(9))
    with pytest.raises(ValueError, match="sample_weight must be finite"):
        fit_temperature(raw, y, -np.ones(10))


def test_fit_temperature_refuses_when_no_temperature_is_best():
    raw = np.array([[3.0, 0.0, 1.0], [0.0, 2.0, 1.0], [1.0, 0.0, 5.0]])
    with pytest.raises(ValueError, match="every row's true class has the largest logit"):
        fit_temperature(raw, [0, 1, 2])  # all right: the loss falls on as T -> 0
    # A wrong row of weight zero changes nothing.
    with pytest.raises(ValueError, match="largest logit"):
        fit_temperature(raw, [0, 1, 0], [1.0, 1.0, 0.0])
    with pytest.raises(ValueError, match="no better than chance"):
        fit_temperature(raw, [1, 0, 1])  # the true logits are the smallest
    with pytest.raises(ValueError, match="no better than chance"):
        fit_temperature(np.ones((4, 3)), [0, 1, 2, 0])  # logits that say nothing


def test_fit_temperature_with_a_tiny_optimum():
    """99 rows right by 1 and one wrong by 1e-3: beta = 1/T near log(198000) (where
    99 e^-beta meets the wrong row's slope 1e-3 / 2), T far below 1."""
    raw = np.array([[1.0, 0.0]] * 99 + [[1e-3, 0.0]])
    y = np.array([0] * 99 + [1])
    T = fit_temperature(raw, y)
    beta = 1 / T
    slope = loss_slope_in_beta(beta, raw, y, np.ones(100))
    assert abs(slope) < 1e-12 and 1 / T == pytest.approx(np.log(198000), rel=1e-3)
    assert T == pytest.approx(grid_and_bisection(raw, y, np.ones(100)), rel=1e-10)


# -- metrics -------------------------------------------------------------------------------


def loop_bins(values, n_bins, strategy, weight):
    """Bin index of each value, by the documented rule, one row at a time."""
    if strategy == "uniform":
        return [min(int(v * n_bins), n_bins - 1) for v in values]
    if np.all(weight == 1):
        inner = np.quantile(values, np.arange(1, n_bins) / n_bins, method="inverted_cdf")
    else:  # the weighted inverted CDF, by its definition
        order = sorted(range(len(values)), key=lambda k: values[k])
        inner, total = [], sum(weight)
        for b in range(1, n_bins):
            running = 0.0
            for k in order:
                running += weight[k]
                if running >= b * total / n_bins:
                    inner.append(values[k])
                    break
    return [sum(v > q for q in inner) for v in values]


def loop_errors(y, proba, n_bins, strategy, weight):
    """(ECE, MCE, class-wise ECE) by loops over rows and bins."""

    def binned(values, hits):
        index = loop_bins(values, n_bins, strategy, weight)
        total, gaps = sum(weight), []
        ece = 0.0
        for b in range(n_bins):
            members = [k for k in range(len(values)) if index[k] == b and weight[k] > 0]
            if not members:
                continue
            size = sum(weight[k] for k in members)
            accuracy = sum(weight[k] * hits[k] for k in members) / size
            confidence = sum(weight[k] * values[k] for k in members) / size
            ece += size / total * abs(accuracy - confidence)
            gaps.append(abs(accuracy - confidence))
        return ece, max(gaps)

    top = [int(np.argmax(row)) for row in proba]
    confidence = [row[i] for row, i in zip(proba, top, strict=True)]
    ece, mce = binned(confidence, [t == label for t, label in zip(top, y, strict=True)])
    classwise = np.mean(
        [binned(list(proba[:, i]), [label == i for label in y])[0] for i in range(proba.shape[1])]
    )
    return ece, mce, classwise


@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("n_bins", [1, 7, 15])
def test_metrics_equal_loops(strategy, weighted, n_bins):
    _, proba, y = random_predictions(n=300, seed=n_bins)
    rng = np.random.default_rng(7)
    weight = rng.uniform(0, 2, len(y)) if weighted else np.ones(len(y))
    if weighted:
        weight[::10] = 0
    sample_weight = weight if weighted else None
    ece, mce, classwise = loop_errors(y, proba, n_bins, strategy, weight)
    options = {"n_bins": n_bins, "strategy": strategy, "sample_weight": sample_weight}
    assert expected_calibration_error(y, proba, **options) == pytest.approx(ece, rel=1e-12)
    assert maximum_calibration_error(y, proba, **options) == pytest.approx(mce, rel=1e-12)
    assert classwise_calibration_error(y, proba, **options) == pytest.approx(classwise, rel=1e-12)


def test_quantile_bins_hold_equal_counts_and_ties_together():
    _, proba, y = random_predictions(n=300)
    bins = calibration_bins(y, proba, n_bins=10, strategy="quantile")
    np.testing.assert_array_equal(bins.weight, np.full(10, 30.0))
    confidence = proba.max(axis=1)
    assert (bins.edges[0], bins.edges[-1]) == (confidence.min(), confidence.max())
    tied = np.tile([[0.7, 0.3], [0.6, 0.4]], (5, 1))
    bins = calibration_bins(np.zeros(10, dtype=int), tied, n_bins=4, strategy="quantile")
    assert sorted(bins.weight[bins.weight > 0]) == [5.0, 5.0]


def test_uniform_bins_add_up_over_blocks():
    _, proba, y = random_predictions(n=300)
    whole = calibration_bins(y, proba)
    blocks = calibration_bins(y[:100], proba[:100]) + calibration_bins(y[100:], proba[100:])
    assert isinstance(blocks, CalibrationBins)
    np.testing.assert_allclose(blocks.weight, whole.weight)
    assert blocks.expected_error() == pytest.approx(whole.expected_error(), rel=1e-12)
    assert blocks.maximum_error() == pytest.approx(whole.maximum_error(), rel=1e-12)
    with pytest.raises(ValueError, match="same edges"):
        calibration_bins(y, proba, strategy="quantile") + whole


def test_expected_calibration_error_agrees_with_evaluation():
    for seed in range(5):
        _, proba, y = random_predictions(n=500, seed=seed)
        for n_bins in (5, 15, 30):
            assert expected_calibration_error(y, proba, n_bins=n_bins) == pytest.approx(
                evaluation.expected_calibration_error(proba, y, n_bins=n_bins), abs=1e-14
            )


def test_brier_score_against_a_loop_and_scikit_learn():
    from sklearn.metrics import brier_score_loss

    _, proba, y = random_predictions(n=200)
    weight = np.random.default_rng(2).uniform(0, 3, len(y))
    loop = sum(
        w * sum((p - (i == label)) ** 2 for i, p in enumerate(row))
        for w, row, label in zip(weight, proba, y, strict=True)
    ) / sum(weight)
    assert brier_score(y, proba, sample_weight=weight) == pytest.approx(loop, rel=1e-12)
    assert brier_score(y, proba) == pytest.approx(
        brier_score_loss(y, proba, labels=range(4)), rel=1e-12
    )
    two = np.column_stack([1 - proba[:, 0], proba[:, 0]])
    labels = (y == 0).astype(int)
    assert brier_score(labels, two) == pytest.approx(
        brier_score_loss(labels, two[:, 1], scale_by_half=False), rel=1e-12
    )
    assert brier_score([0, 1], np.array([[1.0, 0.0], [0.0, 1.0]])) == 0.0


def test_perfectly_calibrated_and_certain_predictions():
    proba = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5], [0.5, 0.5]])
    y = np.array([0, 1, 0, 1])
    assert expected_calibration_error(y, proba) == 0.0
    assert maximum_calibration_error(y, proba) == 0.0
    assert classwise_calibration_error(y, proba) == 0.0


def test_bootstrap_interval():
    _, proba, y = random_predictions(n=300)
    ece = expected_calibration_error(y, proba)
    result = expected_calibration_error(y, proba, bootstrap=300, random_state=0)
    assert result[0] == ece
    low, high = result[1]
    assert 0 <= low < high <= 1 and low <= ece + 0.02
    assert expected_calibration_error(y, proba, bootstrap=300, random_state=0) == result
    narrow = expected_calibration_error(y, proba, bootstrap=300, random_state=0, level=0.5)[1]
    assert low <= narrow[0] <= narrow[1] <= high
    weight = np.ones(len(y))
    weight[:50] = 0
    weighted = expected_calibration_error(
        y, proba, sample_weight=weight, bootstrap=50, random_state=1, strategy="quantile"
    )
    assert weighted[0] == expected_calibration_error(y[50:], proba[50:], strategy="quantile")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"n_bins": 0}, "n_bins must be a positive integer"),
        ({"n_bins": 2.5}, "n_bins must be a positive integer"),
        ({"strategy": "equal"}, "strategy must be"),
        ({"bootstrap": 0}, "bootstrap must be a positive number"),
        ({"bootstrap": 10, "level": 1.0}, r"level must be in \(0, 1\)"),
        ({"sample_weight": np.zeros(3)}, "positive sum"),
    ],
)
def test_metric_options_are_checked(changes, message):
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]])
    with pytest.raises(ValueError, match=message):
        expected_calibration_error([0, 1, 1], proba, **changes)


def test_metric_inputs_are_checked():
    proba = np.array([[0.9, 0.1], [0.2, 0.8]])
    for metric in (
        expected_calibration_error,
        maximum_calibration_error,
        classwise_calibration_error,
        brier_score,
    ):
        with pytest.raises(ValueError, match="one per row of proba"):
            metric([0, 1, 1], proba)
        with pytest.raises(ValueError, match="integer indices"):
            metric(["a", "b"], proba)
        with pytest.raises(ValueError, match=r"in 0 \.\. 1"):
            metric([0, 2], proba)
        with pytest.raises(ValueError, match=r"finite values in \[0, 1\]"):
            metric([0, 1], proba * 2)
        with pytest.raises(ValueError, match="2-D"):
            metric([0, 1], proba[0])
