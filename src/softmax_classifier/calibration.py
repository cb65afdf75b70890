r"""How far to trust predicted probabilities, and temperature scaling to make them trustworthy.

Like :mod:`softmax_classifier.math`, this module maps arrays to arrays: it knows
nothing of estimators or data sources. ``docs/calibration.md`` is the guide.

Conventions
-----------
Shapes
    ``proba (n_samples, n_classes)`` predicted probabilities (rows summing to one),
    ``raw_prediction (n_samples, n_classes)`` logits,
    ``y_true (n_samples,)`` and ``y (n_samples,)`` the true classes as **integer
    indices into the columns** (``0 .. n_classes - 1``; for a fitted model,
    ``np.searchsorted(model.classes_, labels)``, whose ``classes_`` are sorted),
    ``sample_weight (n_samples,)`` non-negative, or ``None`` for all ones.

Top-label calibration (Guo et al., 2017)
    Row :math:`k` predicts class :math:`\hat y_k = \arg\max_i p_{ki}` (the first
    on ties) with confidence :math:`c_k = \max_i p_{ki}`. The rows are put in bins
    :math:`B_1, \dots, B_M` by their confidence, and with weights :math:`s_k`,
    :math:`S_b = \sum_{k \in B_b} s_k` and :math:`S = \sum_b S_b`,

    .. math::

        \mathrm{acc}_b = \frac{1}{S_b} \sum_{k \in B_b} s_k [\hat y_k = y_k], \qquad
        \mathrm{conf}_b = \frac{1}{S_b} \sum_{k \in B_b} s_k c_k,

        \mathrm{ECE} = \sum_b \frac{S_b}{S} \lvert \mathrm{acc}_b - \mathrm{conf}_b \rvert
                     = \frac{1}{S} \sum_b \Bigl\lvert \sum_{k \in B_b} s_k
                       ([\hat y_k = y_k] - c_k) \Bigr\rvert, \qquad
        \mathrm{MCE} = \max_{b : S_b > 0} \lvert \mathrm{acc}_b - \mathrm{conf}_b \rvert.

Bins
    ``"uniform"``: bin :math:`b = \min(\lfloor c M \rfloor, M - 1)` (``0``-based),
    i.e. :math:`[b/M, (b+1)/M)`, the last one closed at 1: the definition of
    :func:`softmax_classifier.evaluation.expected_calibration_error`.
    ``"quantile"``: equal-weight bins :math:`(q_{b-1}, q_b]` (the first also holds
    the smallest value) between the weighted quantiles
    :math:`q_b = \min\{c_k : F(c_k) \ge b/M\}` of the confidences (``F`` the
    weighted empirical distribution function; ``np.quantile(...,
    method="inverted_cdf")`` without weights). Equal confidences share a bin, so a
    bin may be empty; empty bins are left out of every sum and maximum.

Class-wise calibration
    For each class :math:`i` the same binned error of the probability
    :math:`p_{ki}` against the frequency of :math:`y_k = i`, over all rows; the
    class-wise error is the mean over classes.

Temperature scaling (Guo et al., 2017)
    Probabilities :math:`\mathrm{softmax}(z / T)` of the logits :math:`z`, with the
    one number :math:`T > 0` that minimises the weighted mean log-loss on held-out
    rows. With :math:`\beta = 1 / T` the loss

    .. math::

        f(\beta) = \frac{1}{S} \sum_k s_k \Bigl[\log \sum_i e^{\beta z_{ki}}
                   - \beta z_{k y_k}\Bigr],
        \qquad f'(\beta) = \frac{1}{S} \sum_k s_k (\mathrm{E}_{p_k}[z_k] - z_{k y_k}),
        \qquad f''(\beta) = \frac{1}{S} \sum_k s_k \mathrm{Var}_{p_k}[z_k] \ge 0

    (:math:`p_k = \mathrm{softmax}(\beta z_k)`) is convex in :math:`\beta`, so the
    best temperature is the root of :math:`f'`, found by safeguarded Newton steps
    (:func:`fit_temperature`). A positive root exists exactly when
    :math:`f'(0) < 0` (the true class's logit is above the row's mean logit on
    average: the model is better than chance) and some row's true class does not
    have the largest logit (else :math:`f' < 0` for every :math:`\beta`: the loss
    keeps falling as :math:`T \to 0`). Arg-max, hence every predicted label, is
    the same for every :math:`T > 0`.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np

__all__ = [
    "CalibrationBins",
    "brier_score",
    "calibration_bins",
    "classwise_calibration_error",
    "expected_calibration_error",
    "fit_temperature",
    "maximum_calibration_error",
]

_STRATEGIES = ("uniform", "quantile")


@dataclass(frozen=True, eq=False)
class CalibrationBins:
    """Sums per bin of a reliability diagram: what every binned calibration error is made of.

    Blocks of rows binned with the same ``edges`` (``"uniform"`` bins) add up with
    ``+``, so the errors of data seen block by block equal those of all rows at once.

    Attributes
    ----------
    edges : ndarray of shape (n_bins + 1,)
        Bin ``b`` holds the values in ``[edges[b], edges[b + 1])`` (uniform; the last
        closed) or ``(edges[b], edges[b + 1]]`` (quantile; the first closed).
    weight : ndarray of shape (n_bins,)
        Summed sample weights of the rows in each bin (counts without weights).
    correct : ndarray of shape (n_bins,)
        Summed weights of the rows whose predicted class is right (top label), or
        whose true class is the binned class (class-wise).
    confidence : ndarray of shape (n_bins,)
        Summed weighted probabilities (confidences) of the rows in each bin.
    """

    edges: np.ndarray
    weight: np.ndarray
    correct: np.ndarray
    confidence: np.ndarray

    @property
    def accuracy(self):
        """ndarray of shape (n_bins,): ``correct / weight``, NaN in empty bins."""
        return _per_bin(self.correct, self.weight)

    @property
    def mean_confidence(self):
        """ndarray of shape (n_bins,): ``confidence / weight``, NaN in empty bins."""
        return _per_bin(self.confidence, self.weight)

    def expected_error(self):
        """The weighted mean over bins of ``|accuracy - mean_confidence|`` (the ECE).

        Returns
        -------
        float
        """
        return float(np.abs(self.correct - self.confidence).sum() / self.weight.sum())

    def maximum_error(self):
        """The largest ``|accuracy - mean_confidence|`` over non-empty bins (the MCE).

        Returns
        -------
        float
        """
        full = self.weight > 0
        return float(np.max(np.abs(self.accuracy[full] - self.mean_confidence[full])))

    def __add__(self, other):
        if not isinstance(other, CalibrationBins):
            return NotImplemented
        if not np.array_equal(self.edges, other.edges):
            raise ValueError("only bins with the same edges add up (uniform bins do)")
        return CalibrationBins(
            self.edges,
            self.weight + other.weight,
            self.correct + other.correct,
            self.confidence + other.confidence,
        )


def calibration_bins(y_true, proba, n_bins=15, strategy="uniform", sample_weight=None):
    """The top-label reliability diagram: rows binned by confidence, sums per bin.

    Parameters
    ----------
    y_true : array-like of int, shape (n_samples,)
        True class indices: columns of ``proba``.
    proba : array-like of shape (n_samples, n_classes)
        Predicted probabilities, in ``[0, 1]``.
    n_bins : int, default=15
    strategy : {"uniform", "quantile"}, default="uniform"
        Equal-width bins of ``[0, 1]``, or equal-weight bins between quantiles of
        the confidences (module docstring).
    sample_weight : array-like of shape (n_samples,) or None

    Returns
    -------
    CalibrationBins
        ``expected_error()`` and ``maximum_error()`` are the ECE and MCE.

    Examples
    --------
    >>> import numpy as np
    >>> bins = calibration_bins([0, 1], np.array([[0.9, 0.1], [0.9, 0.1]]), n_bins=5)
    >>> bins.weight, float(bins.accuracy[4]), float(bins.mean_confidence[4])
    (array([0., 0., 0., 0., 2.]), 0.5, 0.9)
    """
    y, proba, weight = _checked(y_true, proba, sample_weight)
    _check_bins(n_bins, strategy)
    return _top_label_bins(y, proba, weight, n_bins, strategy)


def expected_calibration_error(
    y_true,
    proba,
    n_bins=15,
    strategy="uniform",
    sample_weight=None,
    bootstrap=None,
    random_state=None,
    level=0.95,
):
    r"""Top-label expected calibration error (Guo et al., 2017).

    :math:`\sum_b \frac{S_b}{S} |\mathrm{acc}_b - \mathrm{conf}_b|` over bins of the
    confidence :math:`\max_i p_i` (module docstring). The binned estimate is biased
    upwards on few rows (a perfectly calibrated model scores above 0), hence the
    optional bootstrap interval.

    Parameters
    ----------
    y_true : array-like of int, shape (n_samples,)
        True class indices: columns of ``proba``.
    proba : array-like of shape (n_samples, n_classes)
        Predicted probabilities, in ``[0, 1]``.
    n_bins : int, default=15
    strategy : {"uniform", "quantile"}, default="uniform"
    sample_weight : array-like of shape (n_samples,) or None
    bootstrap : int or None, default=None
        The number of bootstrap resamples (rows drawn with replacement, with their
        weights; quantile bins re-fitted on each) for a percentile interval.
    random_state : int, numpy.random.Generator or None, default=None
        Seeds the resampling (``numpy.random.default_rng``).
    level : float, default=0.95
        The interval's coverage, in ``(0, 1)``.

    Returns
    -------
    ece : float
        In ``[0, 1]``; 0 for a perfectly calibrated model.
    interval : tuple of float (low, high)
        Only with ``bootstrap``: the result is then the pair ``(ece, (low, high))``,
        the ``(1 - level) / 2`` and ``(1 + level) / 2`` percentiles of the
        resampled errors.

    Raises
    ------
    ValueError
        For shapes that do not match, class indices outside the columns,
        probabilities outside ``[0, 1]``, bad weights or options.

    Examples
    --------
    >>> import numpy as np
    >>> expected_calibration_error([0, 1], np.array([[0.9, 0.1], [0.9, 0.1]]))
    0.4
    >>> rng = np.random.default_rng(0)
    >>> proba = rng.dirichlet([1, 1, 1], size=200)
    >>> ece, (low, high) = expected_calibration_error(
    ...     rng.integers(0, 3, 200), proba, bootstrap=200, random_state=0)
    >>> bool(low <= ece <= high)
    True
    """
    y, proba, weight = _checked(y_true, proba, sample_weight)
    _check_bins(n_bins, strategy)
    ece = _top_label_bins(y, proba, weight, n_bins, strategy).expected_error()
    if bootstrap is None:
        return ece
    if isinstance(bootstrap, bool) or not isinstance(bootstrap, Integral) or bootstrap < 1:
        raise ValueError(f"bootstrap must be a positive number of resamples, got {bootstrap!r}")
    if isinstance(level, bool) or not isinstance(level, Real) or not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    keep = weight > 0  # rows of weight 0 change nothing; without them no resample weighs 0
    y, proba, weight = y[keep], proba[keep], weight[keep]
    rng = np.random.default_rng(random_state)
    n = len(y)
    resampled = np.empty(int(bootstrap))
    for r in range(len(resampled)):
        times = np.bincount(rng.integers(0, n, size=n), minlength=n)
        bins = _top_label_bins(y, proba, weight * times, n_bins, strategy)
        resampled[r] = bins.expected_error()
    low, high = np.percentile(resampled, [50 * (1 - level), 50 * (1 + level)])
    return ece, (float(low), float(high))


def maximum_calibration_error(y_true, proba, n_bins=15, strategy="uniform", sample_weight=None):
    r"""Top-label maximum calibration error: the largest :math:`|\mathrm{acc}_b - \mathrm{conf}_b|`.

    Over the non-empty bins of the confidence :math:`\max_i p_i`, as for
    :func:`expected_calibration_error`. A bin of a single row counts as much as a
    full one: prefer ``"quantile"`` bins, or read it with the bin weights of
    :func:`calibration_bins`.

    Parameters
    ----------
    y_true : array-like of int, shape (n_samples,)
        True class indices: columns of ``proba``.
    proba : array-like of shape (n_samples, n_classes)
    n_bins : int, default=15
    strategy : {"uniform", "quantile"}, default="uniform"
    sample_weight : array-like of shape (n_samples,) or None

    Returns
    -------
    float
        In ``[0, 1]``.

    Examples
    --------
    >>> import numpy as np
    >>> maximum_calibration_error([0, 0, 1], np.array([[0.9, 0.1], [0.9, 0.1], [0.3, 0.7]]))
    0.3
    """
    y, proba, weight = _checked(y_true, proba, sample_weight)
    _check_bins(n_bins, strategy)
    return _top_label_bins(y, proba, weight, n_bins, strategy).maximum_error()


def classwise_calibration_error(y_true, proba, n_bins=15, strategy="uniform", sample_weight=None):
    r"""Class-wise expected calibration error: the mean over classes of each one's binned error.

    For class :math:`i`, every row is binned by :math:`p_{ki}` and each bin's mean
    probability is compared with the weighted frequency of :math:`y_k = i` in it:
    :math:`\frac{1}{S} \sum_b |\sum_{k \in B_b} s_k ([y_k = i] - p_{ki})|`.

    Parameters
    ----------
    y_true : array-like of int, shape (n_samples,)
        True class indices: columns of ``proba``.
    proba : array-like of shape (n_samples, n_classes)
    n_bins : int, default=15
    strategy : {"uniform", "quantile"}, default="uniform"
        Bins of each class's probabilities (quantiles of that column).
    sample_weight : array-like of shape (n_samples,) or None

    Returns
    -------
    float
        In ``[0, 1]``.

    Examples
    --------
    >>> import numpy as np
    >>> classwise_calibration_error([0, 1], np.array([[0.9, 0.1], [0.9, 0.1]]))
    0.4
    """
    y, proba, weight = _checked(y_true, proba, sample_weight)
    _check_bins(n_bins, strategy)
    errors = [
        _binned(proba[:, i], weight * (y == i), weight, n_bins, strategy).expected_error()
        for i in range(proba.shape[1])
    ]
    return float(np.mean(errors))


def brier_score(y_true, proba, sample_weight=None):
    r"""Multiclass Brier score: the weighted mean over rows of :math:`\sum_i (p_i - [y = i])^2`.

    Parameters
    ----------
    y_true : array-like of int, shape (n_samples,)
        True class indices: columns of ``proba``.
    proba : array-like of shape (n_samples, n_classes)
    sample_weight : array-like of shape (n_samples,) or None

    Returns
    -------
    float
        In ``[0, 2]``; 0 for certain, right predictions. (For two classes, twice
        scikit-learn's binary ``brier_score_loss``, which counts one column.)

    Examples
    --------
    >>> import numpy as np
    >>> brier_score([0, 1], np.array([[0.75, 0.25], [0.5, 0.5]]))
    0.3125
    """
    y, proba, weight = _checked(y_true, proba, sample_weight)
    squared = np.square(proba).sum(axis=1)
    squared += 1.0 - 2.0 * proba[np.arange(len(y)), y]
    return float(weight @ squared / weight.sum())


def fit_temperature(raw_prediction, y, sample_weight=None):
    r"""The temperature :math:`T > 0` whose ``softmax(raw_prediction / T)`` has the least log-loss.

    Minimises the weighted mean log-loss :math:`f(\beta)` over the inverse
    temperature :math:`\beta = 1/T`, a convex function of one variable (module
    docstring): Newton steps :math:`\beta \leftarrow \beta - f'(\beta)/f''(\beta)`
    kept inside a bracket :math:`[\beta_-, \beta_+]` with
    :math:`f'(\beta_-) < 0 \le f'(\beta_+)` (a step leaving it is replaced by
    bisection), until a step is below four units in the last place of
    :math:`\beta` or the bracket closes: machine precision, up to the rounding of
    :math:`f'` itself. Computed in float64 whatever the input's dtype.

    Parameters
    ----------
    raw_prediction : array-like of shape (n_samples, n_classes)
        Finite logits (e.g. a model's ``decision_function`` for more than two
        classes); any constant may be added to a row.
    y : array-like of int, shape (n_samples,)
        True class indices: columns of ``raw_prediction``.
    sample_weight : array-like of shape (n_samples,) or None

    Returns
    -------
    float
        ``T``; ``T < 1`` sharpens the probabilities, ``T > 1`` softens them.

    Raises
    ------
    ValueError
        For fewer than 2 rows, shapes that do not match, non-finite logits, class
        indices outside the columns or bad weights; and when no positive ``T``
        minimises the loss: if every row's true class has the largest logit (the
        loss falls on as ``T -> 0``: nothing to calibrate against), or if the
        logits are no better than chance (:math:`f'(0) \ge 0`: the best
        :math:`\beta` is not positive).

    Examples
    --------
    >>> import numpy as np
    >>> raw = np.array([[4.0, 0.0], [4.0, 0.0], [4.0, 0.0], [0.0, 4.0]])
    >>> T = fit_temperature(raw, [0, 1, 0, 1])  # 3 of 4 right: p = 0.75 is best
    >>> round(T, 12), round(4 / float(np.log(3)), 12)  # the odds 3 = exp(4 / T)
    (3.640956906507, 3.640956906507)
    >>> float(1 / (1 + np.exp(-4 / T)))
    0.75
    """
    raw = _as_2d_float(raw_prediction, "raw_prediction")
    if raw.shape[0] < 2:
        raise ValueError(f"fitting a temperature needs at least 2 rows, got {raw.shape[0]}")
    if not np.isfinite(raw).all():
        raise ValueError("raw_prediction must be finite to fit a temperature")
    y = _class_indices(y, raw.shape, "raw_prediction")
    weight = _weights(sample_weight, len(y))
    rows = np.arange(len(y))
    z = raw - raw.max(axis=1, keepdims=True)  # <= 0, each row's largest logit is 0
    z_true = z[rows, y]
    derivatives = _loss_derivatives(z, z_true, weight)
    if derivatives(0.0)[0] >= 0:
        raise ValueError(
            "the logits are no better than chance on these rows (the log-loss does not "
            "fall as 1/T grows from 0): no temperature T > 0 minimises it"
        )
    if np.all(z_true[weight > 0] == 0):
        raise ValueError(
            "every row's true class has the largest logit: the log-loss keeps falling as "
            "T -> 0, so no temperature minimises it; calibrate on more (held-out) rows, "
            "some of them misclassified"
        )
    return float(1.0 / _root_of_derivative(derivatives, np.abs(z).max()))


def _loss_derivatives(z, z_true, weight):
    """``beta -> (f'(beta), f''(beta))`` of the temperature loss on shifted logits ``z``."""
    total = weight.sum()

    def derivatives(beta):
        p = np.exp(beta * z)  # beta * z <= 0: no overflow
        p /= p.sum(axis=1, keepdims=True)
        mean = (p * z).sum(axis=1)
        variance = (p * np.square(z - mean[:, None])).sum(axis=1)
        return weight @ (mean - z_true) / total, weight @ variance / total

    return derivatives


def _root_of_derivative(derivatives, largest):
    """The root of an increasing ``f'`` with ``f'(0) < 0``: bracket by doubling, then Newton."""
    low, high = 0.0, 1.0
    limit = 1e300 / max(largest, 1.0)  # beyond it beta * z could overflow
    while derivatives(high)[0] < 0:
        low, high = high, 2.0 * high
        if high > limit:
            raise ValueError(
                "the log-loss keeps falling as T -> 0 within the range of float64: no "
                "temperature minimises it"
            )
    beta = 0.5 * (low + high)
    eps = np.finfo(np.float64).eps
    for _ in range(200):
        slope, curvature = derivatives(beta)
        if slope == 0:
            break
        if slope < 0:
            low = beta
        else:
            high = beta
        step = slope / curvature if curvature > 0 else np.inf
        new = beta - step
        if not low < new < high:
            new = 0.5 * (low + high)
        done = abs(new - beta) <= 4 * eps * new or high - low <= 4 * eps * high
        beta = new
        if done:
            break
    return beta


# -- binning -------------------------------------------------------------------------------


def _top_label_bins(y, proba, weight, n_bins, strategy):
    predicted = proba.argmax(axis=1)
    confidence = proba[np.arange(len(y)), predicted]
    return _binned(confidence, weight * (predicted == y), weight, n_bins, strategy)


def _binned(values, hits, weight, n_bins, strategy):
    """:class:`CalibrationBins` of ``values`` in [0, 1] with weights and weighted hits."""
    if strategy == "uniform":
        edges = np.linspace(0.0, 1.0, n_bins + 1)
        index = np.minimum((values * n_bins).astype(np.intp), n_bins - 1)
    else:
        inner = _weighted_quantiles(values, weight, n_bins)
        order = np.argsort(values, kind="stable")
        positive = order[weight[order] > 0]
        edges = np.concatenate([values[positive[:1]], inner, values[positive[-1:]]])
        index = np.searchsorted(inner, values, side="left")
    return CalibrationBins(
        edges=edges,
        weight=np.bincount(index, weights=weight, minlength=n_bins),
        correct=np.bincount(index, weights=hits, minlength=n_bins),
        confidence=np.bincount(index, weights=weight * values, minlength=n_bins),
    )


def _weighted_quantiles(values, weight, n_bins):
    """``q_b = min{v : F(v) >= b / n_bins}`` for ``b = 1 .. n_bins - 1`` (weighted ``F``)."""
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(weight[order])
    targets = np.arange(1, n_bins) * cumulative[-1] / n_bins
    first = np.searchsorted(cumulative, targets, side="left")
    return values[order][np.minimum(first, len(values) - 1)]


def _per_bin(sums, weight):
    out = np.full(len(weight), np.nan)
    np.divide(sums, weight, out=out, where=weight > 0)
    return out


# -- input checks --------------------------------------------------------------------------


def _checked(y_true, proba, sample_weight):
    """``(y, proba, weight)`` as int, float64 and float64 arrays, checked."""
    proba = _as_2d_float(proba, "proba")
    if not np.isfinite(proba).all() or proba.min() < 0 or proba.max() > 1:
        raise ValueError("proba must hold probabilities: finite values in [0, 1]")
    y = _class_indices(y_true, proba.shape, "proba")
    return y, proba, _weights(sample_weight, len(y))


def _as_2d_float(values, name):
    values = np.asarray(values)
    if values.ndim != 2 or values.shape[0] < 1 or values.shape[1] < 2:
        raise ValueError(
            f"{name} must be 2-D with at least 1 row and 2 columns (classes), got shape "
            f"{values.shape}"
        )
    if values.dtype.kind not in "iuf":
        raise ValueError(f"{name} must be numbers, got dtype {values.dtype}")
    return values.astype(np.float64)


def _class_indices(y, shape, name):
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != shape[0]:
        raise ValueError(
            f"the class indices must be 1-D with one per row of {name} ({shape[0]}), got "
            f"shape {y.shape}"
        )
    if y.dtype.kind not in "iu":
        raise ValueError(
            f"the true classes must be integer indices of {name}'s columns, got dtype "
            f"{y.dtype} (labels of a model: np.searchsorted(model.classes_, labels))"
        )
    if len(y) and (y.min() < 0 or y.max() >= shape[1]):
        raise ValueError(f"class indices must be in 0 .. {shape[1] - 1} (columns of {name})")
    return y.astype(np.intp)


def _weights(sample_weight, n):
    if sample_weight is None:
        return np.ones(n)
    weight = np.asarray(sample_weight, dtype=np.float64)
    if weight.shape != (n,):
        raise ValueError(f"sample_weight must have shape ({n},), got {weight.shape}")
    if not np.isfinite(weight).all() or weight.min() < 0 or not weight.sum() > 0:
        raise ValueError("sample_weight must be finite, >= 0, with a positive sum")
    return weight


def _check_bins(n_bins, strategy):
    if isinstance(n_bins, bool) or not isinstance(n_bins, Integral) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive integer, got {n_bins!r}")
    if strategy not in _STRATEGIES:
        raise ValueError(f"strategy must be 'uniform' or 'quantile', got {strategy!r}")
