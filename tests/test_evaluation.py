"""Metrics against scikit-learn's, and block-by-block accumulation against all rows at once."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, confusion_matrix, log_loss
from sklearn.metrics import precision_recall_fscore_support as prfs

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
