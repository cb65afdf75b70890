"""Finite-difference check of the analytic gradient and Hessian-vector product.

:func:`gradient_check` differences the objective of :mod:`softmax_classifier.math`
(or any functions with the same signatures) at a random point and compares the
result with the analytic formulas, each entry against a bound on the error of its
own central difference. It is what ``softmax gradcheck`` runs, and it lives next
to the math it checks: it knows arrays of one block, not files or estimators.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

from softmax_classifier import math as sm

__all__ = ["gradient_check"]

#: The largest third derivative of ``logsumexp(z) - z_y`` along one logit,
#: ``max_p |p (1 - p) (1 - 2 p)| = sqrt(3) / 18``, at ``p = (3 +- sqrt(3)) / 6``.
_THIRD_DERIVATIVE = math.sqrt(3) / 18
#: Error bounds are multiplied by this before comparing: they are first-order
#: estimates of worst cases, and a factor 2 covers their second-order terms.
_SAFETY = 2.0
#: lambda of the probabilistic rounding bound, see :func:`_grow`.
_ROUNDING_LAMBDA = 6.0


def gradient_check(
    X,
    y,
    *,
    sample_weight=None,
    alpha=0.1,
    n_classes=None,
    seed=0,
    max_entries=2000,
    threshold=None,
    loss_gradient=None,
    gradient_hessian_product=None,
):
    """Compare the analytic gradient and Hessian-vector product with finite differences.

    At a random point ``(coef, intercept)`` each checked entry ``j`` of the
    gradient is compared with the central difference
    ``(f(p + h_j e_j) - f(p - h_j e_j)) / (2 h_j)`` in the dtype of ``X``, and
    the Hessian-vector product along a random direction ``v`` with
    ``(g(p + h v) - g(p - h v)) / (2 h)``. The tolerance of each entry is a
    bound on the error of the difference itself, computed from the data:

    - truncation, ``h^2 / 6 * M3``, with ``M3`` a bound on the third
      derivative along the entry: ``sqrt(3)/18 * sum_i w_i |x_ij|^3 / sum_i w_i``
      for the gradient (the third derivative of the cross-entropy along one
      logit is ``p (1 - p) (1 - 2 p)``), ``3 * sum_i w_i |x_ij| r_i^3 / sum_i w_i``
      for the Hessian product (``r_i`` the range of the logit change of row i);
    - rounding, ``eps_f / h``, with ``eps_f`` a bound on the rounding error of
      one evaluation of the objective (or the gradient) in the data's dtype:
      the unit roundoff times the magnitudes summed (dot products of length
      ``nnz_i``, ``logsumexp`` of ``n_classes`` terms, the mean over ``n`` rows);
    - the rounding of the analytic value itself, bounded in the same way.

    Each step ``h_j`` minimises its truncation plus rounding. An entry fails
    when its error exceeds twice its bound, so the check fails for a wrong
    formula (a missing ``1/n``, a sign, a dropped penalty term) and not for the
    arithmetic of the check, in float64 or float32, dense or sparse.

    The parameters are perturbed in the dtype of ``X`` (a float32 check moves
    float32 numbers), laid out as ``coef`` row by row, then ``intercept``.

    Parameters
    ----------
    X : ndarray or scipy.sparse matrix of shape (n_samples, n_features)
        float64 or float32 (other dtypes are checked as float64); the check
        runs in this dtype.
    y : array-like of shape (n_samples,)
        Labels; encoded as ``0 .. n_classes - 1`` in sorted order.
    sample_weight : array-like of shape (n_samples,), optional
        Default: random weights in ``[0.5, 2]`` (so that weighting is checked).
    alpha : float, default=0.1
        L2 penalty strength.
    n_classes : int, optional
        Default: the number of distinct labels (at least 2).
    seed : int, default=0
        Seed of the point, the weights, the direction and the sampled entries.
    max_entries : int, default=2000
        Most gradient entries differenced (a random sample beyond that).
    threshold : float, optional
        If given, pass when both relative errors ``||numeric - analytic|| /
        ||numeric||`` are at most this, instead of the derived bounds.
    loss_gradient, gradient_hessian_product : callable, optional
        The functions checked, with the signatures of
        :func:`softmax_classifier.math.loss_gradient` and
        :func:`softmax_classifier.math.gradient_hessian_product` (the default).

    Returns
    -------
    dict
        ``passed``, ``n_classes``, ``dtype``, ``entries_checked``,
        ``n_parameters`` (``n_classes * (n_features + 1)``),
        ``gradient_relative_error``, ``gradient_worst_ratio`` (largest error /
        tolerance over the entries; at most 1 passes),
        ``hessian_relative_error``, ``hessian_worst_ratio``, ``threshold``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.standard_normal((40, 3)), rng.integers(0, 3, 40)
    >>> result = gradient_check(X, y)
    >>> result["passed"], result["n_parameters"]
    (True, 12)
    """
    loss_gradient = loss_gradient or sm.loss_gradient
    gradient_hessian_product = gradient_hessian_product or sm.gradient_hessian_product
    dtype = np.dtype(X.dtype)
    if dtype not in (np.float64, np.float32):
        X, dtype = X.astype(np.float64), np.dtype(np.float64)
    X = sp.csr_matrix(X) if sp.issparse(X) else np.asarray(X)
    n_samples, n_features = X.shape
    rng = np.random.default_rng(seed)
    _, y = np.unique(np.asarray(y), return_inverse=True)
    n_classes = max(int(y.max()) + 1, 2) if n_classes is None else int(n_classes)
    if sample_weight is None:
        sample_weight = rng.uniform(0.5, 2.0, size=n_samples)
    weights = np.asarray(sample_weight, dtype=dtype)
    coef = (0.5 * rng.standard_normal((n_classes, n_features))).astype(dtype)
    intercept = (0.5 * rng.standard_normal(n_classes)).astype(dtype)
    params = _flat(coef, intercept)

    def objective(vector):
        return float(sm.loss(*_split(vector, coef.shape), X, y, weights, alpha))

    def gradient(vector):
        _, g_coef, g_intercept = loss_gradient(*_split(vector, coef.shape), X, y, weights, alpha)
        return _flat(g_coef, g_intercept).astype(np.float64)

    # Magnitudes of the data and the point, in float64, for the error bounds.
    u = float(np.finfo(dtype).eps) / 2
    w = weights.astype(np.float64) / float(np.sum(weights, dtype=np.float64))
    X64 = X.astype(np.float64)
    X_abs = abs(X64)
    nnz = np.diff(X.indptr) if sp.issparse(X) else np.full(n_samples, n_features)
    coef64, intercept64 = coef.astype(np.float64), intercept.astype(np.float64)
    magnitude = np.asarray(X_abs @ np.abs(coef64).T) + np.abs(intercept64)
    logit_size = magnitude.max(axis=1)  # a_i: sum_f |x_if c_kf| + |b_k|, largest over k
    z = sm.raw_prediction(X64, coef64, intercept64)
    cross_entropy = np.abs(_logsumexp_rows(z) - z[np.arange(n_samples), y])
    dot_error = 2 * _grow(nnz + 2) * logit_size  # |d CE / d z|_1 <= 2, times the logits' error
    lse_error = _grow(n_classes + 4) * (np.abs(z).max(axis=1) + math.log(n_classes) + 1)
    eps_f = u * (
        w @ (dot_error + lse_error + _grow(n_samples + 2) * cross_entropy)
        + _grow(params.size + 2) * alpha / 2 * float(np.sum(coef64**2))
    )
    col_abs3 = np.concatenate(
        [np.asarray(w @ X_abs.power(3) if sp.issparse(X) else w @ X_abs**3).ravel(), [1.0]]
    )
    per_row = _grow(n_samples + 2) + _grow(n_classes + 4) + 4 * _grow(nnz + 2) * logit_size
    col_round = np.concatenate([np.asarray((w * per_row) @ X_abs).ravel(), [float(w @ per_row)]])

    def expand(per_column):  # per-feature values -> per-parameter (coef rows, then intercept)
        return np.concatenate(
            [np.tile(per_column[:-1], n_classes), np.repeat(per_column[-1], n_classes)]
        )

    eps_grad = u * expand(col_round) + 2 * u * alpha * np.abs(_flat(coef64, np.zeros(n_classes)))

    # Gradient entries by central differences, each with its own step.
    analytic = gradient(params)
    entries = np.arange(params.size)
    if params.size > max_entries:
        entries = np.sort(rng.choice(params.size, max_entries, replace=False))
    third = _THIRD_DERIVATIVE * expand(col_abs3)[entries]
    scale = np.maximum(1.0, np.abs(params[entries].astype(np.float64)))
    step = np.cbrt(3 * eps_f / np.maximum(third, 1e-300))
    step = np.clip(step, 64 * u * scale, scale)
    numeric = np.empty(len(entries))
    actual = np.empty(len(entries))
    for i, j in enumerate(entries):
        plus, minus = params.copy(), params.copy()
        plus[j] = params[j] + dtype.type(step[i])
        minus[j] = params[j] - dtype.type(step[i])
        actual[i] = (float(plus[j]) - float(minus[j])) / 2  # the step taken, exactly
        numeric[i] = (objective(plus) - objective(minus)) / (2 * actual[i])
    grad_bound = third * actual**2 / 6 + eps_f / actual + eps_grad[entries]
    grad_diff = np.abs(numeric - analytic[entries])
    grad_ratio = float(np.max(grad_diff / (_SAFETY * grad_bound)))
    grad_error = _relative(numeric - analytic[entries], numeric)

    # Hessian-vector product along a random direction, by central differences of the gradient.
    direction = rng.standard_normal(params.size)
    d_coef, d_intercept = _split(direction, coef.shape)
    change = sm.raw_prediction(X64, d_coef, d_intercept)
    spread = change.max(axis=1) - change.min(axis=1)  # r_i
    change_size = (np.asarray(X_abs @ np.abs(d_coef).T) + np.abs(d_intercept)).max(axis=1)
    third_h = 3 * expand(
        np.concatenate([np.asarray((w * spread**3) @ X_abs).ravel(), [float(w @ spread**3)]])
    )
    largest_change = np.abs(change).max(axis=1)
    hv_row = (_grow(n_samples + 2) + _grow(n_classes + 4)) * 2 * largest_change + 4 * _grow(
        nnz + 2
    ) * (2 * logit_size * largest_change + change_size)
    eps_hv = u * expand(
        np.concatenate([np.asarray((w * hv_row) @ X_abs).ravel(), [float(w @ hv_row)]])
    )
    eps_hv += 2 * u * alpha * np.abs(_flat(d_coef, np.zeros(n_classes)))
    h = float(np.cbrt(3 * eps_grad.sum() / max(third_h.sum(), 1e-300)))
    h = min(max(h, 64 * u), 1.0 / max(1.0, float(spread.max())))
    plus = (params + h * direction).astype(dtype)
    minus = (params - h * direction).astype(dtype)
    taken = (plus.astype(np.float64) - minus.astype(np.float64)) / (2 * h)  # the direction taken
    hess_numeric = (gradient(plus) - gradient(minus)) / (2 * h)
    _, _, hessp = gradient_hessian_product(coef, intercept, X, y, weights, alpha)
    h_coef, h_intercept = hessp(*(a.astype(dtype) for a in _split(taken, coef.shape)))
    hess_analytic = _flat(h_coef, h_intercept).astype(np.float64)
    hess_bound = third_h * h**2 / 6 + eps_grad / h + eps_hv + u * np.abs(hess_analytic)
    hess_ratio = float(np.max(np.abs(hess_numeric - hess_analytic) / (_SAFETY * hess_bound)))
    hess_error = _relative(hess_numeric - hess_analytic, hess_numeric)

    if threshold is None:
        passed = grad_ratio <= 1 and hess_ratio <= 1
    else:
        passed = grad_error <= threshold and hess_error <= threshold
    return {
        "passed": bool(passed),
        "n_classes": n_classes,
        "dtype": str(dtype),
        "entries_checked": len(entries),
        "n_parameters": int(params.size),
        "gradient_relative_error": grad_error,
        "gradient_worst_ratio": grad_ratio,
        "hessian_relative_error": hess_error,
        "hessian_worst_ratio": hess_ratio,
        "threshold": threshold,
    }


def _flat(coef, intercept):
    """``coef`` (n_classes, n_features) row by row, then ``intercept`` (n_classes,).

    In the arrays' own dtype: unlike ``SoftmaxObjective.pack`` (float64, and
    feature-major for sparse data), the check perturbs float32 parameters in
    float32, and its sampled entries must name the same parameters for dense
    and sparse data.
    """
    return np.concatenate([np.ravel(coef), np.ravel(intercept)])


def _split(vector, coef_shape):
    """Inverse of :func:`_flat`: ``(coef, intercept)`` views of ``vector``."""
    n_coef = coef_shape[0] * coef_shape[1]
    return vector[:n_coef].reshape(coef_shape), vector[n_coef:]


def _grow(m):
    """Rounding growth of ``m`` operations: ``lambda * sqrt(m)`` unit roundoffs.

    The probabilistic bound of Higham and Mary (SIAM J. Sci. Comput., 2019):
    the worst case grows like ``m``, but errors of independent roundings add
    like a random walk, and ``lambda sqrt(m) u`` bounds them except with
    probability about ``2 exp(-lambda^2 / 2)`` (below 1e-7 for lambda = 6).
    The worst case ``m u`` would hide real errors in float32 sums of many terms.
    """
    return _ROUNDING_LAMBDA * np.sqrt(m)


def _logsumexp_rows(z):
    """``log sum_k exp(z_ik)`` of each row of ``z`` (n_samples, n_classes), max shifted."""
    top = z.max(axis=1)
    return top + np.log(np.exp(z - top[:, None]).sum(axis=1))


def _relative(difference, reference):
    """``||difference|| / ||reference||`` (the plain norm when ``reference`` is zero)."""
    norm = float(np.linalg.norm(reference))
    return (
        float(np.linalg.norm(difference)) / norm if norm > 0 else float(np.linalg.norm(difference))
    )
