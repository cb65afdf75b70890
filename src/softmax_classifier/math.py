r"""The softmax classifier's mathematics on one block of rows.

Every formula of the derivation (``docs/math.md``, following the notes in
``shared/spec/``) is a function of the same name here. Nothing in this module
knows about solvers, data sources or estimators: it maps arrays to arrays.

Conventions
-----------
Shapes
    ``X (n_samples, n_features)`` dense ``ndarray`` or ``scipy.sparse`` matrix,
    ``y (n_samples,)`` integer class indices in ``0 .. n_classes - 1``,
    ``sample_weight (n_samples,)`` non-negative, or ``None`` for all ones,
    ``coef (n_classes, n_features)`` (row ``i`` is the notes' :math:`w_i`),
    ``intercept (n_classes,)`` (the notes' :math:`b_i`) or ``None`` for no intercept,
    ``raw_prediction (n_samples, n_classes)`` the logits :math:`a_i(x) = w_i^T x + b_i`.
    A gradient has the shape of what it differentiates.

Objective
    .. math::

        L(W, b) = \frac{\sum_k s_k \, \mathrm{CE}_k}{\sum_k s_k}
                  + \frac{\alpha}{2} \lVert W \rVert_F^2,
        \qquad
        \mathrm{CE}_k = \log \sum_j e^{a_j(x_k)} - a_{y_k}(x_k),

    with sample weights :math:`s_k`. With unit weights the first term is exactly
    the notes' mean cross-entropy :math:`\frac1n \sum_k [\log\sum_j e^{a_j(x_k)}
    - a_{y_k}(x_k)]` (note ``000``). The intercept is not penalised. This is
    scikit-learn's multinomial ``LogisticRegression(C=C)`` objective divided by
    ``C * sum(s)``: ``alpha = 1 / (C * sum(s))``.

Stability
    The cross-entropy is computed as :math:`\log\sum_j e^{a_j - m} - (a_{y} - m)`
    with :math:`m = \max_j a_j` subtracted from each row. An unshifted ``exp`` is
    never taken and ``log(softmax(.))`` is never formed, so logits of any finite
    size give a finite loss.

dtype
    float32 input is computed in float32 and float64 in float64 (any other
    ``X`` dtype as float64); the loss is accumulated in float64. ``coef`` and
    ``intercept`` are cast to ``X.dtype``
    (a copy of ``n_classes * n_features`` numbers, never of ``X``).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = [
    "gradient_hessian_product",
    "log_softmax",
    "loss",
    "loss_gradient",
    "raw_prediction",
    "softmax",
]


def raw_prediction(X, coef, intercept=None):
    r"""Logits :math:`a_i(x_k) = w_i^T x_k + b_i` of every row and class.

    This is the notes' bias trick (note ``000``): with :math:`\tilde x = [x; 1]`
    and :math:`\tilde w_i = [w_i; b_i]`, :math:`a_i(x) = \tilde w_i^T \tilde x`;
    we keep ``W`` and ``b`` apart so that only ``W`` is penalised.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_samples, n_features)
    coef : ndarray of shape (n_classes, n_features)
    intercept : ndarray of shape (n_classes,) or None

    Returns
    -------
    raw_prediction : ndarray of shape (n_samples, n_classes)
        In ``X.dtype``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0, 2.0]])
    >>> raw_prediction(X, np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([0.5, 0.0]))
    array([[1.5, 2. ]])
    """
    X = _as_float_data(X)
    coef = np.asarray(coef, dtype=X.dtype)
    out = X @ coef.T
    if sp.issparse(out):  # pragma: no cover - scipy returns dense for sparse @ dense
        out = out.toarray()
    out = np.asarray(out)
    if intercept is not None:
        out += np.asarray(intercept, dtype=X.dtype)
    return out


def softmax(raw_prediction):
    r"""Row-wise softmax :math:`p_i = e^{a_i} / \sum_j e^{a_j}`.

    The probability model of notes ``000`` and ``003``. The row maximum is
    subtracted first, which leaves the result unchanged (softmax is invariant to
    adding a constant to all logits) and keeps every ``exp`` at most 1.

    Parameters
    ----------
    raw_prediction : array-like of shape (n_samples, n_classes)
        Logits.

    Returns
    -------
    proba : ndarray of shape (n_samples, n_classes)
        Non-negative rows summing to one, in the input's float dtype.

    Examples
    --------
    >>> import numpy as np
    >>> softmax(np.array([[0.0, np.log(3.0)]]))
    array([[0.25, 0.75]])
    """
    z = _as_float_array(raw_prediction)
    with np.errstate(over="ignore"):  # a gap beyond the dtype's range is -inf: exp gives 0
        z = z - z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


def log_softmax(raw_prediction):
    r"""Row-wise log-probabilities :math:`\log p_i = a_i - \log\sum_j e^{a_j}`.

    Computed as :math:`(a_i - m) - \log \sum_j e^{a_j - m}` with the row
    maximum :math:`m`, so it stays finite where ``log(softmax(a))`` would give
    ``-inf``.

    Parameters
    ----------
    raw_prediction : array-like of shape (n_samples, n_classes)
        Logits.

    Returns
    -------
    log_proba : ndarray of shape (n_samples, n_classes)

    Examples
    --------
    >>> import numpy as np
    >>> log_softmax(np.array([[0.0, 2000.0]]))
    array([[-2000.,     0.]])
    """
    z = _as_float_array(raw_prediction)
    with np.errstate(over="ignore"):  # a gap beyond the dtype's range is -inf, its limit
        z = z - z.max(axis=1, keepdims=True)
    z -= np.log(np.exp(z).sum(axis=1, keepdims=True))
    return z


def loss(coef, intercept, X, y, sample_weight=None, alpha=0.0):
    r"""Objective value: weighted mean cross-entropy plus the L2 penalty.

    .. math::

        L = \frac{\sum_k s_k [\log\sum_j e^{a_j(x_k)} - a_{y_k}(x_k)]}{\sum_k s_k}
            + \frac{\alpha}{2}\lVert W\rVert_F^2

    The bracket is note ``000``'s :math:`\mathcal{L}(\theta)` summand (equal to
    notes ``001``/``003``'s :math:`L_i = -\log p_{y_i}`), computed with the row
    maximum subtracted.

    Parameters
    ----------
    coef : ndarray of shape (n_classes, n_features)
    intercept : ndarray of shape (n_classes,) or None
    X : ndarray or sparse matrix of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
        Integer class indices.
    sample_weight : ndarray of shape (n_samples,), default=None
    alpha : float, default=0.0
        L2 penalty strength on ``coef``.

    Returns
    -------
    loss : float

    Examples
    --------
    With all weights zero every class has probability 1/3, so the loss is
    :math:`\log 3`:

    >>> import numpy as np
    >>> X = np.array([[1.0, 2.0], [3.0, 4.0]])
    >>> round(loss(np.zeros((3, 2)), np.zeros(3), X, np.array([0, 2])), 6)
    1.098612
    """
    loss_sum, weight_sum = _loss_sum(coef, intercept, X, y, sample_weight)
    return loss_sum / weight_sum + _penalty(coef, alpha)


def loss_gradient(coef, intercept, X, y, sample_weight=None, alpha=0.0):
    r"""Objective value and its gradient with respect to ``coef`` and ``intercept``.

    Note ``001`` gives :math:`\partial \mathrm{CE}_k / \partial a_i = p_i(x_k) -
    \delta_{y_k i}` through the softmax Jacobian; the chain rule through
    :math:`a_i = w_i^T x + b_i` (notes ``000``, ``003``, ``004``) then gives

    .. math::

        \nabla_{w_i} L = \frac{\sum_k s_k (p_i(x_k) - \delta_{y_k i})\, x_k}{\sum_k s_k}
                         + \alpha w_i,
        \qquad
        \nabla_{b_i} L = \frac{\sum_k s_k (p_i(x_k) - \delta_{y_k i})}{\sum_k s_k},

    i.e. ``grad_coef = (P - Y)^T diag(s) X / sum(s) + alpha * coef`` with the
    one-hot matrix ``Y``. Unweighted and with ``alpha=0`` this is exactly note
    ``000``'s :math:`\frac1n \sum_k [\mathrm{softmax}_i(x_k) - \delta(y_k, i)] x_k`.

    Parameters
    ----------
    coef : ndarray of shape (n_classes, n_features)
    intercept : ndarray of shape (n_classes,) or None
    X : ndarray or sparse matrix of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
        Integer class indices.
    sample_weight : ndarray of shape (n_samples,), default=None
    alpha : float, default=0.0

    Returns
    -------
    loss : float
    grad_coef : ndarray of shape (n_classes, n_features)
        In ``X.dtype``.
    grad_intercept : ndarray of shape (n_classes,) or None
        ``None`` when ``intercept`` is ``None``.

    Examples
    --------
    At zero weights every :math:`p_i = 1/c`, so the intercept gradient is
    :math:`1/c` minus the class frequencies:

    >>> import numpy as np
    >>> X = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> _, g_coef, g_int = loss_gradient(np.zeros((2, 2)), np.zeros(2), X, np.array([0, 0]))
    >>> g_int
    array([-0.5,  0.5])
    """
    loss_sum, grad_coef, grad_intercept, weight_sum = _loss_gradient_sum(
        coef, intercept, X, y, sample_weight
    )
    grad_coef, grad_intercept = _mean_plus_penalty(
        grad_coef, grad_intercept, weight_sum, alpha, coef
    )
    return loss_sum / weight_sum + _penalty(coef, alpha), grad_coef, grad_intercept


def gradient_hessian_product(coef, intercept, X, y, sample_weight=None, alpha=0.0):
    r"""Gradient, and a function that multiplies the Hessian with a direction.

    Differentiating :math:`\partial \mathrm{CE}_k/\partial a = p_k - e_{y_k}`
    once more gives the softmax Jacobian :math:`\partial p/\partial a =
    \mathrm{diag}(p) - p p^T` (the two cases :math:`m = y_i` and :math:`m \ne y_i`
    of notes ``001`` and ``003`` are its diagonal and off-diagonal entries). For a
    direction :math:`(V, v)` the logits move by :math:`r_k = V x_k + v`, and

    .. math::

        H[V, v]_{W} = \frac{\sum_k s_k\, q_k x_k^T}{\sum_k s_k} + \alpha V,\quad
        H[V, v]_{b} = \frac{\sum_k s_k\, q_k}{\sum_k s_k},\quad
        q_k = p_k \odot r_k - p_k (p_k^T r_k).

    The Hessian itself (``(n_classes * n_features)^2`` numbers) is never formed.

    Parameters
    ----------
    coef : ndarray of shape (n_classes, n_features)
    intercept : ndarray of shape (n_classes,) or None
    X : ndarray or sparse matrix of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
        Integer class indices.
    sample_weight : ndarray of shape (n_samples,), default=None
    alpha : float, default=0.0

    Returns
    -------
    grad_coef : ndarray of shape (n_classes, n_features)
    grad_intercept : ndarray of shape (n_classes,) or None
    hessp : callable
        ``hessp(direction_coef, direction_intercept=None)`` returns
        ``(hess_coef, hess_intercept)`` with the shapes of its arguments. The
        probabilities at ``coef`` are kept, so each call costs two products with
        ``X``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0, 2.0], [3.0, -1.0]])
    >>> y = np.array([0, 1])
    >>> g_coef, g_int, hessp = gradient_hessian_product(np.zeros((2, 2)), np.zeros(2), X, y)
    >>> h_coef, h_int = hessp(np.ones((2, 2)), np.ones(2))  # a common shift of all logits
    >>> float(np.abs(h_coef).max()), float(np.abs(h_int).max())
    (0.0, 0.0)
    """
    X = _as_float_data(X)
    sample_weight = _as_weights(sample_weight, X)
    weight_sum = _weight_sum(sample_weight, X)
    proba = softmax(raw_prediction(X, coef, intercept))
    residual = proba.copy()
    residual[np.arange(len(y)), y] -= 1
    grad_coef, grad_intercept = _mean_plus_penalty(
        *_backward(X, residual, sample_weight, intercept is not None), weight_sum, alpha, coef
    )

    def hessp(direction_coef, direction_intercept=None):
        logit_change = raw_prediction(X, direction_coef, direction_intercept)
        hess_coef, hess_intercept = _hessian_product_sum(
            X, proba, sample_weight, logit_change, direction_intercept is not None
        )
        return _mean_plus_penalty(hess_coef, hess_intercept, weight_sum, alpha, direction_coef)

    return grad_coef, grad_intercept, hessp


# ---------------------------------------------------------------------------
# Block kernels. They return *sums* over the rows of one block (not means, no
# penalty) so that a data source can add them up over any number of blocks; the
# public functions above are these sums divided by the weight sum, plus the
# penalty.
# ---------------------------------------------------------------------------


def _loss_sum(coef, intercept, X, y, sample_weight):
    """Return ``(sum_k s_k CE_k, sum_k s_k)``, both float64, for one block."""
    X = _as_float_data(X)
    sample_weight = _as_weights(sample_weight, X)
    shifted = raw_prediction(X, coef, intercept)
    shifted -= shifted.max(axis=1, keepdims=True)
    cross_entropy = np.log(np.exp(shifted).sum(axis=1)) - shifted[np.arange(len(y)), y]
    return _weighted_total(cross_entropy, sample_weight), _weight_sum(sample_weight, X)


def _loss_gradient_sum(coef, intercept, X, y, sample_weight):
    """Block sums for the objective and its gradient.

    Returns
    -------
    loss_sum : float
        ``sum_k s_k CE_k`` accumulated in float64.
    grad_coef_sum : ndarray of shape (n_classes, n_features)
        ``(P - Y)^T diag(s) X``.
    grad_intercept_sum : ndarray of shape (n_classes,) or None
        ``(P - Y)^T s``.
    weight_sum : float
    """
    X = _as_float_data(X)
    sample_weight = _as_weights(sample_weight, X)
    shifted = raw_prediction(X, coef, intercept)
    shifted -= shifted.max(axis=1, keepdims=True)
    rows = np.arange(len(y))
    exp_shifted = np.exp(shifted)
    normaliser = exp_shifted.sum(axis=1)
    cross_entropy = np.log(normaliser) - shifted[rows, y]
    loss_sum = _weighted_total(cross_entropy, sample_weight)
    # Reuse the exp buffer: P = exp / normaliser, then P - Y (note 001).
    residual = exp_shifted
    residual /= normaliser[:, None]
    residual[rows, y] -= 1
    grad_coef, grad_intercept = _backward(X, residual, sample_weight, intercept is not None)
    return loss_sum, grad_coef, grad_intercept, _weight_sum(sample_weight, X)


def _hessian_product_sum(X, proba, sample_weight, logit_change, with_intercept):
    """Block sums of the Hessian-vector product at the probabilities ``proba``.

    ``logit_change`` is the direction's logits ``V x + v`` (``docs/math.md``, section 9;
    ``q = p * (r - p . r)`` with ``r`` the logit change).
    """
    q = proba * (logit_change - (proba * logit_change).sum(axis=1, keepdims=True))
    return _backward(X, q, sample_weight, with_intercept)


def _backward(X, residual, sample_weight, with_intercept):
    """``(residual^T diag(s) X, residual^T s)``: the chain rule through ``W x + b``.

    ``residual`` (n_samples, n_classes) is overwritten when weighted.
    """
    if sample_weight is not None:
        residual *= sample_weight[:, None]
    if sp.issparse(X):
        grad_coef = np.asarray((X.T @ residual).T)
    else:
        grad_coef = residual.T @ X
    grad_intercept = residual.sum(axis=0) if with_intercept else None
    return grad_coef, grad_intercept


def _mean_plus_penalty(sum_coef, sum_intercept, weight_sum, alpha, coef, dtype=None):
    """Block sums to the objective's derivative: divide by the weight sum, add ``alpha * coef``.

    ``coef`` is the point (gradient) or the direction (Hessian product) that the
    penalty's derivative ``alpha * coef`` is taken at. The result is in ``dtype``
    (default: that of ``sum_coef``); ``sum_intercept`` may be None.
    """
    dtype = sum_coef.dtype if dtype is None else dtype
    mean_coef = sum_coef.astype(dtype, copy=False) / weight_sum
    mean_coef += alpha * np.asarray(coef, dtype=dtype)
    if sum_intercept is None:
        return mean_coef, None
    return mean_coef, sum_intercept.astype(dtype, copy=False) / weight_sum


def _penalty(coef, alpha):
    if alpha == 0:
        return 0.0
    # Flattened in memory order: no copy for a C- or Fortran-ordered coef.
    flat = np.asarray(coef, dtype=np.float64).ravel(order="K")
    return 0.5 * alpha * float(np.dot(flat, flat))


def _weighted_total(values, sample_weight):
    values = values.astype(np.float64, copy=False)
    if sample_weight is None:
        return float(values.sum())
    return float(np.dot(sample_weight.astype(np.float64, copy=False), values))


def _weight_sum(sample_weight, X):
    if sample_weight is None:
        return float(X.shape[0])
    return float(np.sum(sample_weight, dtype=np.float64))


def _as_weights(sample_weight, X):
    if sample_weight is None:
        return None
    return np.asarray(sample_weight, dtype=X.dtype)


def _as_float_data(X):
    """``X`` itself when float32/float64; other dtypes (ints, bools) as float64."""
    if X.dtype in (np.float32, np.float64):
        return X
    return X.astype(np.float64)


def _as_float_array(a):
    a = np.asarray(a)
    if a.dtype not in (np.float32, np.float64):
        a = a.astype(np.float64)
    return a
