"""Classification metrics of a probabilistic classifier, as one JSON-ready dict.

Used by ``softmax train`` (its ``metrics.json``) and ``softmax evaluate`` alike,
so that the two report the same numbers for the same model and data.

What is reported, for rows ``i`` of weight ``w_i`` (1 without weights), true
class ``t_i`` and probabilities ``p_i`` (shape ``(n_classes,)``):

- per class ``c``: precision ``tp / predicted``, recall ``tp / support``, F1
  ``2 P R / (P + R)`` and support (the summed weight of its rows), each 0 where
  its denominator is 0 (scikit-learn's ``zero_division=0``); their unweighted
  mean over the model's classes (``macro_avg``) and their mean weighted by
  support (``weighted_avg``). The predicted class is ``argmax p_i``, the first
  one on ties, as ``predict`` picks it;
- accuracy, and top-k accuracy: the share of weight whose true class is among
  the ``k`` most probable (ties broken towards the lower class index, as
  ``softmax predict --top-k`` lists them);
- log-loss ``sum_i w_i (-log p_i[t_i]) / sum_i w_i``, from log-probabilities so
  that it stays finite and exact;
- Brier score ``sum_i w_i ||p_i - e_{t_i}||^2 / sum_i w_i`` (the squared
  distance to the one-hot vector, summed over classes: 0 to 2);
- the top-label calibration errors of :mod:`softmax_classifier.calibration`
  (ECE and MCE over ``n_bins`` equal-width bins of the confidence ``max p_i``,
  whose binning this module uses) and the bins themselves, for a reliability
  diagram.

Everything is a sum over rows, so :class:`MetricsAccumulator` scores data
block by block (a file larger than memory) keeping only counts.
"""

from __future__ import annotations

import numpy as np

from softmax_classifier import calibration

__all__ = ["MetricsAccumulator", "classification_metrics", "expected_calibration_error"]

#: The ``k`` of top-k accuracy unless told (capped at the number of classes).
DEFAULT_TOP_K = 5


def expected_calibration_error(proba, y_index, n_bins=15):
    r"""Expected calibration error of the top-class probability.

    Rows are put in ``n_bins`` equal-width bins by their confidence
    :math:`\max_i p_i`; the error is
    :math:`\sum_b \frac{|B_b|}{n} \,|\mathrm{acc}(B_b) - \mathrm{conf}(B_b)|`.
    The same number as
    :func:`softmax_classifier.calibration.expected_calibration_error`, whose
    arguments come in the other order (and which has more options).

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
    return calibration.expected_calibration_error(y_index, proba, n_bins=n_bins)


def classification_metrics(
    y_true, log_proba, classes, *, sample_weight=None, n_bins=15, top_k=DEFAULT_TOP_K
):
    """Accuracy, per-class scores, top-k accuracy, log-loss, Brier score, calibration.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels, each one of ``classes``.
    log_proba : ndarray of shape (n_samples, n_classes)
        Log-probabilities, columns in the order of ``classes`` (e.g.
        ``predict_log_proba``; using logs keeps the log-loss finite and exact).
    classes : array-like of shape (n_classes,)
        The model's labels.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative row weights: every sum (counts, supports, the confusion
        matrix, bins) adds weights instead of ones.
    n_bins : int, default=15
        Bins of the calibration errors.
    top_k : int, default=5
        The ``k`` of top-k accuracy, capped at ``n_classes``.

    Returns
    -------
    dict
        Plain Python numbers, ready for ``json.dumps``:

        - ``n_samples`` (rows), ``total_weight`` (only with ``sample_weight``);
        - ``accuracy``, ``top_k`` (the ``k`` used), ``top_k_accuracy``;
        - ``log_loss`` (mean ``-log p_true``), ``brier_score``;
        - ``expected_calibration_error``, ``max_calibration_error``,
          ``calibration_bins`` (``n_bins``, and per bin ``weight``,
          ``accuracy`` and ``confidence``; None for an empty bin);
        - ``labels``, ``per_class`` (a list of ``{"label", "precision",
          "recall", "f1", "support"}``), ``macro_avg`` and ``weighted_avg``
          (``{"precision", "recall", "f1", "support"}``);
        - ``confusion_matrix`` (rows: true label, columns: predicted; in the
          order of ``labels``).

        Supports and the confusion matrix are integers without weights,
        summed weights (floats) with them. With no rows, the means are NaN.

    Raises
    ------
    ValueError
        If ``y_true`` holds labels that are not among ``classes``, or a weight is
        negative or not finite.

    Examples
    --------
    >>> import numpy as np
    >>> log_proba = np.log([[0.7, 0.2, 0.1], [0.5, 0.4, 0.1], [0.2, 0.2, 0.6]])
    >>> scores = classification_metrics(["a", "b", "b"], log_proba, ["a", "b", "c"], top_k=2)
    >>> scores["accuracy"], scores["top_k_accuracy"], scores["macro_avg"]["recall"]
    (0.3333333333333333, 0.6666666666666666, 0.3333333333333333)
    """
    metrics = MetricsAccumulator(classes, n_bins=n_bins, top_k=top_k)
    metrics.add(y_true, log_proba, sample_weight)
    return metrics.result()


class MetricsAccumulator:
    """:func:`classification_metrics` over rows that arrive in blocks.

    Keeps only sums (confusion matrix, ranks of the true class, log-loss,
    Brier score, calibration bins), so data streamed from a file larger than
    memory can be scored block by block; the result is the same as for all
    rows at once (the integer counts exactly, the means to rounding).

    Parameters
    ----------
    classes : array-like of shape (n_classes,)
    n_bins : int, default=15
        Bins of the calibration errors.
    top_k : int, default=5
        The ``k`` of top-k accuracy, capped at ``n_classes``.

    Examples
    --------
    >>> import numpy as np
    >>> metrics = MetricsAccumulator(["a", "b"])
    >>> metrics.add(["a", "b"], np.log([[0.9, 0.1], [0.3, 0.7]]))
    >>> metrics.add(["b"], np.log([[0.6, 0.4]]))
    >>> metrics.result()["accuracy"]
    0.6666666666666666
    """

    def __init__(self, classes, *, n_bins=15, top_k=DEFAULT_TOP_K):
        self.classes = np.asarray(classes)
        n_classes = len(self.classes)
        if int(n_bins) < 1 or int(top_k) < 1:
            raise ValueError(f"n_bins and top_k must be at least 1, got {n_bins} and {top_k}")
        self.n_bins = int(n_bins)
        self.top_k = min(int(top_k), n_classes)
        self._order = np.argsort(self.classes)
        self._n_rows = 0
        self._weighted = False
        # Sums of weights (of ones without weights: exact integers up to 2**53).
        self._confusion = np.zeros((n_classes, n_classes))
        self._rank = np.zeros(n_classes)  # by the true class's rank among the probabilities
        self._log_loss_sum = 0.0
        self._brier_sum = 0.0
        self._bins = None  # calibration.CalibrationBins, summed over the blocks

    def add(self, y_true, log_proba, sample_weight=None):
        """Add a block of rows.

        Parameters
        ----------
        y_true : array-like of shape (n_rows,)
        log_proba : ndarray of shape (n_rows, n_classes)
        sample_weight : array-like of shape (n_rows,), default=None
        """
        y_index = self._class_index(np.asarray(y_true))
        log_proba = np.asarray(log_proba)
        weight = _checked_weight(sample_weight, len(y_index))
        self._weighted |= sample_weight is not None
        self._n_rows += len(y_index)
        proba = np.exp(log_proba, dtype=np.float64)
        predicted = proba.argmax(axis=1)
        rows = np.arange(len(y_index))
        np.add.at(self._confusion, (y_index, predicted), weight)
        self._rank += np.bincount(_true_rank(log_proba, y_index), weight, len(self.classes))
        true_log_proba = log_proba[rows, y_index].astype(np.float64)
        self._log_loss_sum -= float(weight @ true_log_proba)
        block_weight = weight.sum()
        if not block_weight > 0:  # nothing to add (and the calibration module refuses it)
            return
        proba = np.minimum(proba, 1.0)  # exp of a log-probability rounded above 0
        self._brier_sum += calibration.brier_score(y_index, proba, weight) * block_weight
        bins = calibration.calibration_bins(y_index, proba, self.n_bins, sample_weight=weight)
        self._bins = bins if self._bins is None else self._bins + bins

    def result(self):
        """The metrics of all rows added, as :func:`classification_metrics` returns them.

        Returns
        -------
        dict
        """
        confusion = self._confusion
        total = float(confusion.sum())
        correct = np.diag(confusion)
        support, predicted = confusion.sum(axis=1), confusion.sum(axis=0)
        precision = _ratio(correct, predicted)
        recall = _ratio(correct, support)
        f1 = _ratio(2 * precision * recall, precision + recall)
        ece, mce = self._calibration_errors()
        count = self._count
        labels = [_plain(c) for c in self.classes]
        scores = {"n_samples": self._n_rows}
        if self._weighted:
            scores["total_weight"] = total
        scores.update(
            accuracy=_mean(correct.sum(), total),
            top_k=self.top_k,
            top_k_accuracy=_mean(self._rank[: self.top_k].sum(), total),
            log_loss=_mean(self._log_loss_sum, total),
            brier_score=_mean(self._brier_sum, total),
            expected_calibration_error=ece,
            max_calibration_error=mce,
            calibration_bins=self.calibration_bins(),
            labels=labels,
            per_class=[
                {"label": label, "precision": float(p), "recall": float(r), "f1": float(f)}
                | {"support": count(s)}
                for label, p, r, f, s in zip(labels, precision, recall, f1, support, strict=True)
            ],
            macro_avg=_averages(precision, recall, f1, None) | {"support": count(total)},
            weighted_avg=_averages(precision, recall, f1, support) | {"support": count(total)},
            confusion_matrix=[[count(v) for v in row] for row in confusion],
        )
        return scores

    def calibration_bins(self):
        """The reliability diagram's numbers: weight, accuracy and confidence per bin.

        Returns
        -------
        dict
            ``n_bins``; lists of length ``n_bins``: ``weight`` (rows, or summed
            weights, per bin), ``accuracy`` and ``confidence`` (the bin's mean
            correctness and top probability; None for an empty bin). Bin ``b``
            holds confidences in ``[b / n_bins, (b + 1) / n_bins)`` (the last
            one includes 1).
        """
        if self._bins is None:
            weight = np.zeros(self.n_bins)
            accuracy = confidence = np.full(self.n_bins, np.nan)
        else:
            weight = self._bins.weight
            accuracy, confidence = self._bins.accuracy, self._bins.mean_confidence
        return {
            "n_bins": self.n_bins,
            "weight": [self._count(w) for w in weight],
            "accuracy": [_number_or_none(a) for a in accuracy],
            "confidence": [_number_or_none(c) for c in confidence],
        }

    def _calibration_errors(self):
        """``(ECE, MCE)`` of the rows added; 0 when they weigh nothing."""
        if self._bins is None or not self._bins.weight.sum() > 0:
            return 0.0, 0.0
        return self._bins.expected_error(), self._bins.maximum_error()

    def _count(self, value):
        """A sum of weights as JSON holds it: an int when every weight was 1."""
        return float(value) if self._weighted else round(float(value))

    def _class_index(self, y_true):
        """Column of each label in ``classes``; an error naming unknown labels."""
        position = np.searchsorted(self.classes, y_true, sorter=self._order)
        y_index = self._order[np.minimum(position, len(self.classes) - 1)]
        unseen = self.classes[y_index] != y_true
        if np.any(unseen):
            labels = ", ".join(map(str, np.unique(y_true[unseen])[:10]))
            raise ValueError(f"labels not seen in training: {labels}")
        return y_index


def _checked_weight(sample_weight, n_rows):
    """Row weights as float64 (ones when None); an error unless finite and >= 0.

    A block may weigh 0 in all (streamed rows), unlike the calibration module's weights.
    """
    weight = np.ones(n_rows) if sample_weight is None else np.asarray(sample_weight, float)
    if weight.shape != (n_rows,) or not (np.isfinite(weight) & (weight >= 0)).all():
        raise ValueError(f"sample_weight must be {n_rows} finite numbers >= 0 (one per row)")
    return weight


def _true_rank(log_proba, y_index):
    """Classes ranked before the true one: more probable, or as probable at a lower index."""
    true = log_proba[np.arange(len(y_index)), y_index][:, None]
    ahead = (log_proba > true) | (
        (log_proba == true) & (np.arange(log_proba.shape[1]) < y_index[:, None])
    )
    return ahead.sum(axis=1)


def _averages(precision, recall, f1, support):
    """Macro (``support`` None) or support-weighted means of the per-class scores."""
    if support is not None and support.sum() <= 0:
        return {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    return {
        name: float(np.average(values, weights=support))
        for name, values in (("precision", precision), ("recall", recall), ("f1", f1))
    }


def _number_or_none(value):
    """A float for JSON; None for NaN (an empty bin)."""
    return None if np.isnan(value) else float(value)


def _mean(value, total):
    """``value / total``; NaN for no rows."""
    return float(value / total) if total > 0 else float("nan")


def _ratio(numerator, denominator):
    """Element-wise ``numerator / denominator``, 0 where the denominator is 0."""
    numerator = np.asarray(numerator, dtype=np.float64)
    out = np.zeros_like(numerator)
    np.divide(numerator, denominator, out=out, where=np.asarray(denominator) > 0)
    return out


def _plain(value):
    """A NumPy scalar as the Python value JSON can hold."""
    return value.item() if isinstance(value, np.generic) else value
