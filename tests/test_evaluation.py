"""Metrics against scikit-learn's, and block-by-block accumulation against all rows at once."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    brier_score_loss,
    classification_report,
    confusion_matrix,
    log_loss,
    top_k_accuracy_score,
)
from sklearn.metrics import precision_recall_fscore_support as prfs

from softmax_classifier import calibration
from softmax_classifier.evaluation import (
    MetricsAccumulator,
    classification_metrics,
    expected_calibration_error,
)


def random_predictions(seed, n=500, classes=("cat", "dog", "emu", "yak")):
    rng = np.random.default_rng(seed)
    logits = 2.0 * rng.standard_normal((n, len(classes)))
    log_proba = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    # "yak" is never the true label: a class with no support.
    y = np.asarray(classes)[rng.integers(0, len(classes) - 1, n)]
    return y, log_proba, np.asarray(classes)


def test_metrics_equal_scikit_learns():
    y, log_proba, classes = random_predictions(0)
    metrics = classification_metrics(y, log_proba, classes)
    predicted = classes[log_proba.argmax(axis=1)]
    assert metrics["n_samples"] == len(y)
    assert metrics["accuracy"] == pytest.approx(accuracy_score(y, predicted), abs=1e-15)
    assert metrics["log_loss"] == pytest.approx(
        log_loss(y, np.exp(log_proba), labels=classes), rel=1e-12
    )
    precision, recall, f1, support = prfs(y, predicted, labels=classes, zero_division=0)
    per_class = metrics["per_class"]
    np.testing.assert_allclose([c["precision"] for c in per_class], precision, rtol=1e-12)
    np.testing.assert_allclose([c["recall"] for c in per_class], recall, rtol=1e-12)
    np.testing.assert_allclose([c["f1"] for c in per_class], f1, rtol=1e-12)
    assert [c["support"] for c in per_class] == support.tolist()
    assert metrics["confusion_matrix"] == confusion_matrix(y, predicted, labels=classes).tolist()
    y_index = np.searchsorted(classes, y)
    assert metrics["expected_calibration_error"] == pytest.approx(
        expected_calibration_error(np.exp(log_proba), y_index), abs=1e-12
    )


@pytest.mark.parametrize("block", [1, 7, 128])
def test_accumulated_blocks_equal_all_rows_at_once(block):
    y, log_proba, classes = random_predictions(1)
    whole = classification_metrics(y, log_proba, classes)
    metrics = MetricsAccumulator(classes)
    for start in range(0, len(y), block):
        metrics.add(y[start : start + block], log_proba[start : start + block])
    blocks = metrics.result()
    for key in ("n_samples", "labels", "per_class", "confusion_matrix", "accuracy"):
        assert blocks[key] == whole[key], key
    assert blocks["log_loss"] == pytest.approx(whole["log_loss"], rel=1e-12)
    assert blocks["expected_calibration_error"] == pytest.approx(
        whole["expected_calibration_error"], abs=1e-12
    )


def test_unknown_labels_are_named():
    y, log_proba, classes = random_predictions(2, n=5)
    y[3] = "gnu"
    with pytest.raises(ValueError, match="labels not seen in training: gnu"):
        classification_metrics(y, log_proba, classes)


# --------------------------------------------------------------------------- issue 13 reports


def assert_report_equals_scikit_learns(metrics, y, predicted, classes, sample_weight=None):
    """Per-class rows and both averages against ``classification_report(output_dict=True)``."""
    report = classification_report(
        y,
        predicted,
        labels=classes,
        sample_weight=sample_weight,
        output_dict=True,
        zero_division=0,
    )
    rows = [*metrics["per_class"], metrics["macro_avg"], metrics["weighted_avg"]]
    keys = [*map(str, classes), "macro avg", "weighted avg"]
    for row, key in zip(rows, keys, strict=True):
        expected = report[key]
        for name, theirs in (("precision", "precision"), ("recall", "recall"), ("f1", "f1-score")):
            assert row[name] == pytest.approx(expected[theirs], rel=1e-12, abs=1e-15), (key, name)
        assert row["support"] == pytest.approx(expected["support"], rel=1e-12), key


@pytest.mark.parametrize("weighted", [False, True])
def test_classification_report_and_top_k_equal_scikit_learns(weighted):
    # "yak" is never a true label; "emu" is made never predicted below: both zero-division
    # cases (precision of a class never predicted, recall of a class never present) are 0.
    y, log_proba, classes = random_predictions(3, n=400)
    log_proba[:, 2] = log_proba.min(axis=1) - 1.0  # emu is never the most probable
    log_proba -= np.log(np.exp(log_proba).sum(axis=1, keepdims=True))
    weight = np.random.default_rng(4).uniform(0, 3, len(y)) if weighted else None
    metrics = classification_metrics(y, log_proba, classes, sample_weight=weight, top_k=2)
    predicted = classes[log_proba.argmax(axis=1)]
    assert "emu" not in set(predicted)
    assert_report_equals_scikit_learns(metrics, y, predicted, classes, weight)
    emu, yak = metrics["per_class"][2], metrics["per_class"][3]
    assert emu["precision"] == 0.0 and emu["recall"] == 0.0 and emu["support"] > 0
    assert yak == {"label": "yak", "precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert metrics["accuracy"] == pytest.approx(
        accuracy_score(y, predicted, sample_weight=weight), rel=1e-12
    )
    proba = np.exp(log_proba)
    for k in (1, 2, 3):
        expected = top_k_accuracy_score(y, proba, k=k, labels=classes, sample_weight=weight)
        got = classification_metrics(y, log_proba, classes, sample_weight=weight, top_k=k)
        assert got["top_k"] == k
        assert got["top_k_accuracy"] == pytest.approx(expected, rel=1e-12)
    assert metrics["log_loss"] == pytest.approx(
        log_loss(y, proba, labels=classes, sample_weight=weight), rel=1e-12
    )
    assert metrics["brier_score"] == pytest.approx(
        brier_score_loss(y, proba, labels=classes, sample_weight=weight), rel=1e-12
    )
    if weighted:
        assert metrics["total_weight"] == pytest.approx(weight.sum(), rel=1e-14)
        assert isinstance(metrics["per_class"][0]["support"], float)
    else:
        assert "total_weight" not in metrics
        assert all(isinstance(v, int) for row in metrics["confusion_matrix"] for v in row)


def test_top_k_is_capped_at_the_number_of_classes_and_agrees_with_accuracy_at_one():
    y, log_proba, classes = random_predictions(5, n=50)
    metrics = classification_metrics(y, log_proba, classes, top_k=10)
    assert metrics["top_k"] == 4 and metrics["top_k_accuracy"] == 1.0
    metrics = classification_metrics(y, log_proba, classes, top_k=1)
    assert metrics["top_k_accuracy"] == metrics["accuracy"]
    # An exact tie goes to the lower class index, as predict's argmax and top-k columns do.
    tie = np.log([[0.4, 0.4, 0.2]])
    assert classification_metrics(["a"], tie, ["a", "b", "c"], top_k=1)["top_k_accuracy"] == 1.0
    assert classification_metrics(["b"], tie, ["a", "b", "c"], top_k=1)["top_k_accuracy"] == 0.0
    assert classification_metrics(["b"], tie, ["a", "b", "c"], top_k=2)["top_k_accuracy"] == 1.0


def test_weights_are_duplicated_rows():
    y, log_proba, classes = random_predictions(6, n=200)
    copies = np.random.default_rng(7).integers(0, 4, len(y))
    weighted = classification_metrics(y, log_proba, classes, sample_weight=copies)
    repeated = classification_metrics(
        np.repeat(y, copies), np.repeat(log_proba, copies, axis=0), classes
    )
    for key in ("accuracy", "top_k_accuracy", "log_loss", "brier_score"):
        assert weighted[key] == pytest.approx(repeated[key], rel=1e-12), key
    for key in ("expected_calibration_error", "max_calibration_error"):
        assert weighted[key] == pytest.approx(repeated[key], abs=1e-12), key
    assert np.array_equal(weighted["confusion_matrix"], repeated["confusion_matrix"])
    assert weighted["calibration_bins"]["weight"] == repeated["calibration_bins"]["weight"]
    assert weighted["weighted_avg"] == pytest.approx(repeated["weighted_avg"], rel=1e-12)


def test_calibration_bins_ece_and_mce_by_hand():
    # Confidences 0.9, 0.9 (one right), 0.6 (right), 0.55 (wrong), in 10 bins.
    log_proba = np.log([[0.9, 0.1], [0.9, 0.1], [0.4, 0.6], [0.55, 0.45]])
    metrics = classification_metrics(["a", "b", "b", "b"], log_proba, ["a", "b"], n_bins=10)
    bins = metrics["calibration_bins"]
    assert bins["n_bins"] == 10 and bins["weight"] == [0] * 5 + [1, 1, 0, 0, 2]
    assert bins["accuracy"][9] == 0.5 and bins["accuracy"][0] is None
    assert bins["confidence"][5] == pytest.approx(0.55) and bins["confidence"][6] == 0.6
    # |0.5 - 0.9| * 2 + |0 - 0.55| + |1 - 0.6|, over 4 rows; the largest gap is 0.55.
    assert metrics["expected_calibration_error"] == pytest.approx((0.8 + 0.55 + 0.4) / 4)
    assert metrics["max_calibration_error"] == pytest.approx(0.55)


@pytest.mark.parametrize("block", [1, 13])
def test_weighted_blocks_equal_all_rows_at_once(block):
    y, log_proba, classes = random_predictions(8, n=300)
    weight = np.random.default_rng(9).uniform(0, 2, len(y))
    whole = classification_metrics(y, log_proba, classes, sample_weight=weight)
    metrics = MetricsAccumulator(classes)
    for start in range(0, len(y), block):
        part = slice(start, start + block)
        metrics.add(y[part], log_proba[part], weight[part])
    blocks = metrics.result()
    assert blocks["labels"] == whole["labels"] and blocks["n_samples"] == whole["n_samples"]
    for key in ("accuracy", "top_k_accuracy", "log_loss", "brier_score", "total_weight"):
        assert blocks[key] == pytest.approx(whole[key], rel=1e-12), key
    np.testing.assert_allclose(blocks["confusion_matrix"], whole["confusion_matrix"], rtol=1e-12)
    assert blocks["expected_calibration_error"] == pytest.approx(
        whole["expected_calibration_error"], abs=1e-12
    )


def test_no_rows_and_bad_weights():
    metrics = MetricsAccumulator(["a", "b"]).result()
    assert metrics["n_samples"] == 0 and np.isnan(metrics["accuracy"])
    assert metrics["expected_calibration_error"] == 0.0
    assert metrics["per_class"][0]["support"] == 0
    log_proba = np.log([[0.5, 0.5]])
    for bad in ([-1.0], [np.nan], [1.0, 2.0]):
        with pytest.raises(ValueError, match="1 finite numbers >= 0"):
            classification_metrics(["a"], log_proba, ["a", "b"], sample_weight=bad)


def test_empty_and_weightless_blocks_add_nothing():
    y, log_proba, classes = random_predictions(13, n=40)
    whole = classification_metrics(y, log_proba, classes, sample_weight=np.ones(40))
    metrics = MetricsAccumulator(classes)
    metrics.add(y[:0], log_proba[:0], np.ones(0))
    metrics.add(y[:20], log_proba[:20], np.ones(20))
    metrics.add(y[:5], log_proba[:5], np.zeros(5))  # streamed rows of weight 0
    metrics.add(y[20:], log_proba[20:], np.ones(20))
    blocks = metrics.result()
    assert blocks["n_samples"] == 45  # rows read; their weight is what counts
    for key in ("accuracy", "log_loss", "brier_score", "expected_calibration_error"):
        assert blocks[key] == pytest.approx(whole[key], rel=1e-12, abs=1e-15), key
    assert blocks["confusion_matrix"] == whole["confusion_matrix"]


def test_metrics_are_json_and_survive_a_round_trip():
    y, log_proba, classes = random_predictions(10, n=30)
    metrics = classification_metrics(y, log_proba, classes)
    assert json.loads(json.dumps(metrics)) == metrics  # no NaN in the bins: None instead


def test_calibration_errors_are_the_calibration_modules():
    y, log_proba, classes = random_predictions(11, n=300)
    weight = np.random.default_rng(12).uniform(0, 2, len(y))
    metrics = classification_metrics(y, log_proba, classes, sample_weight=weight, n_bins=10)
    y_index, proba = np.searchsorted(classes, y), np.exp(log_proba)
    options = {"n_bins": 10, "sample_weight": weight}
    assert metrics["expected_calibration_error"] == pytest.approx(
        calibration.expected_calibration_error(y_index, proba, **options), rel=1e-12
    )
    assert metrics["max_calibration_error"] == pytest.approx(
        calibration.maximum_calibration_error(y_index, proba, **options), rel=1e-12
    )
    bins = calibration.calibration_bins(y_index, proba, **options)
    np.testing.assert_allclose(metrics["calibration_bins"]["weight"], bins.weight, rtol=1e-12)
    # The old name, arguments in its own order, is the same number.
    assert expected_calibration_error(proba, y_index) == calibration.expected_calibration_error(
        y_index, proba
    )
