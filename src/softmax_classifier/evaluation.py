"""Classification metrics of a probabilistic classifier, as one JSON-ready dict.

Used by ``softmax train`` (its ``metrics.json``) and ``softmax evaluate`` alike,
so that the two report the same numbers for the same model and data.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

__all__ = ["classification_metrics", "expected_calibration_error"]


def expected_calibration_error(proba, y_index, n_bins=15):
    r"""Expected calibration error of the top-class probability.

    Rows are put in ``n_bins`` equal-width bins by their confidence
    :math:`\max_i p_i`; the error is
    :math:`\sum_b \frac{|B_b|}{n} \,|\mathrm{acc}(B_b) - \mathrm{conf}(B_b)|`.

    Parameters
    ----------
    proba : ndarray of shape (n_samples, n_classes)
    y_index : ndarray of shape (n_samples,)
        True class indices (columns of ``proba``).
    n_bins : int, default=15

    Returns
    -------
    float
        In ``[0, 1]``; 0 for a perfectly calibrated model.

    Examples
    --------
    >>> import numpy as np
    >>> expected_calibration_error(np.array([[0.9, 0.1], [0.9, 0.1]]), np.array([0, 1]))
    0.4
    """
    confidence = proba.max(axis=1)
    correct = proba.argmax(axis=1) == y_index
    bins = np.minimum((confidence * n_bins).astype(int), n_bins - 1)
    error = 0.0
    for b in np.unique(bins):
        members = bins == b
        error += members.mean() * abs(correct[members].mean() - confidence[members].mean())
    return float(round(error, 15))


def classification_metrics(y_true, log_proba, classes, *, n_bins=15):
    """Accuracy, log-loss, calibration, per-class scores and confusion matrix.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels, each one of ``classes``.
    log_proba : ndarray of shape (n_samples, n_classes)
        Log-probabilities, columns in the order of ``classes`` (e.g.
        ``predict_log_proba``; using logs keeps the log-loss finite and exact).
    classes : array-like of shape (n_classes,)
        The model's labels.
    n_bins : int, default=15
        Bins of the expected calibration error.

    Returns
    -------
    dict
        ``n_samples``, ``accuracy``, ``log_loss`` (mean ``-log p_true``),
        ``expected_calibration_error``, ``labels``, ``per_class`` (a list of
        ``{"label", "precision", "recall", "f1", "support"}``) and
        ``confusion_matrix`` (rows: true label, columns: predicted; in the order
        of ``labels``). Plain Python numbers, ready for ``json.dumps``.

    Raises
    ------
    ValueError
        If ``y_true`` holds labels that are not among ``classes``.
    """
    classes = np.asarray(classes)
    y_true = np.asarray(y_true)
    order = np.argsort(classes)
    position = np.searchsorted(classes, y_true, sorter=order)
    position = np.minimum(position, len(classes) - 1)
    y_index = order[position]
    unseen = classes[y_index] != y_true
    if np.any(unseen):
        labels = ", ".join(map(str, np.unique(y_true[unseen])[:10]))
        raise ValueError(f"labels not seen in training: {labels}")
    proba = np.exp(log_proba)
    predicted = proba.argmax(axis=1)
    precision, recall, f1, support = precision_recall_fscore_support(
        y_index, predicted, labels=np.arange(len(classes)), zero_division=0
    )
    labels = [_plain(c) for c in classes]
    return {
        "n_samples": len(y_true),
        "accuracy": float(np.mean(predicted == y_index)),
        "log_loss": float(-np.mean(log_proba[np.arange(len(y_index)), y_index], dtype=np.float64)),
        "expected_calibration_error": expected_calibration_error(proba, y_index, n_bins),
        "labels": labels,
        "per_class": [
            {
                "label": label,
                "precision": float(p),
                "recall": float(r),
                "f1": float(f),
                "support": int(s),
            }
            for label, p, r, f, s in zip(labels, precision, recall, f1, support, strict=True)
        ],
        "confusion_matrix": confusion_matrix(
            y_index, predicted, labels=np.arange(len(classes))
        ).tolist(),
    }


def _plain(value):
    """A NumPy scalar as the Python value JSON can hold."""
    return value.item() if isinstance(value, np.generic) else value
