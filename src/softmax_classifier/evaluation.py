"""Classification metrics of a probabilistic classifier, as one JSON-ready dict.

Used by ``softmax train`` (its ``metrics.json``) and ``softmax evaluate`` alike,
so that the two report the same numbers for the same model and data.
"""

from __future__ import annotations

import numpy as np

__all__ = ["MetricsAccumulator", "classification_metrics", "expected_calibration_error"]


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
    metrics = MetricsAccumulator(classes, n_bins=n_bins)
    metrics.add(y_true, log_proba)
    return metrics.result()


class MetricsAccumulator:
    """:func:`classification_metrics` over rows that arrive in blocks.

    Keeps only sums (confusion matrix, log-loss, calibration bins), so data
    streamed from a file larger than memory can be scored block by block; the
    result is the same as for all rows at once.

    Parameters
    ----------
    classes : array-like of shape (n_classes,)
    n_bins : int, default=15

    Examples
    --------
    >>> import numpy as np
    >>> metrics = MetricsAccumulator(["a", "b"])
    >>> metrics.add(["a", "b"], np.log([[0.9, 0.1], [0.3, 0.7]]))
    >>> metrics.add(["b"], np.log([[0.6, 0.4]]))
    >>> metrics.result()["accuracy"]
    0.6666666666666666
    """

    def __init__(self, classes, *, n_bins=15):
        self.classes = np.asarray(classes)
        self.n_bins = n_bins
        n_classes = len(self.classes)
        self._order = np.argsort(self.classes)
        self._confusion = np.zeros((n_classes, n_classes), dtype=np.int64)
        self._log_loss_sum = 0.0
        self._bin_count = np.zeros(n_bins, dtype=np.int64)
        self._bin_correct = np.zeros(n_bins, dtype=np.int64)
        self._bin_confidence = np.zeros(n_bins)

    def add(self, y_true, log_proba):
        """Add a block of rows.

        Parameters
        ----------
        y_true : array-like of shape (n_rows,)
        log_proba : ndarray of shape (n_rows, n_classes)
        """
        y_true = np.asarray(y_true)
        position = np.searchsorted(self.classes, y_true, sorter=self._order)
        y_index = self._order[np.minimum(position, len(self.classes) - 1)]
        unseen = self.classes[y_index] != y_true
        if np.any(unseen):
            labels = ", ".join(map(str, np.unique(y_true[unseen])[:10]))
            raise ValueError(f"labels not seen in training: {labels}")
        proba = np.exp(log_proba)
        predicted = proba.argmax(axis=1)
        np.add.at(self._confusion, (y_index, predicted), 1)
        rows = np.arange(len(y_index))
        self._log_loss_sum -= float(np.sum(log_proba[rows, y_index], dtype=np.float64))
        confidence = proba[rows, predicted]
        bins = np.minimum((confidence * self.n_bins).astype(int), self.n_bins - 1)
        self._bin_count += np.bincount(bins, minlength=self.n_bins)
        self._bin_correct += np.bincount(
            bins, weights=predicted == y_index, minlength=self.n_bins
        ).astype(np.int64)
        self._bin_confidence += np.bincount(bins, weights=confidence, minlength=self.n_bins)

    def result(self):
        """The metrics of all rows added, as :func:`classification_metrics` returns them.

        Returns
        -------
        dict
        """
        confusion = self._confusion
        n = int(confusion.sum())
        correct = np.diag(confusion)
        support, predicted = confusion.sum(axis=1), confusion.sum(axis=0)
        precision = _ratio(correct, predicted)
        recall = _ratio(correct, support)
        f1 = _ratio(2 * precision * recall, precision + recall)
        calibration = np.abs(self._bin_correct - self._bin_confidence).sum() / max(n, 1)
        labels = [_plain(c) for c in self.classes]
        return {
            "n_samples": n,
            "accuracy": float(correct.sum() / n) if n else float("nan"),
            "log_loss": self._log_loss_sum / n if n else float("nan"),
            "expected_calibration_error": float(round(calibration, 15)),
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
            "confusion_matrix": confusion.tolist(),
        }


def _ratio(numerator, denominator):
    """Element-wise ``numerator / denominator``, 0 where the denominator is 0."""
    numerator = np.asarray(numerator, dtype=np.float64)
    out = np.zeros_like(numerator)
    np.divide(numerator, denominator, out=out, where=np.asarray(denominator) > 0)
    return out


def _plain(value):
    """A NumPy scalar as the Python value JSON can hold."""
    return value.item() if isinstance(value, np.generic) else value
