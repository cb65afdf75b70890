r"""Penalties on ``coef``: the smooth L2 term and the sparsity-inducing ones.

The objective of a penalised fit is

.. math::

    F(W, b) = \underbrace{\frac{\sum_k s_k \mathrm{CE}_k}{\sum_k s_k}
        + \frac{\alpha_2}{2}\lVert W\rVert_F^2}_{f\text{: smooth}}
        + \underbrace{h(W)}_{\text{not smooth}}

with the intercept never penalised. ``f`` is
:class:`~softmax_classifier.objective.SoftmaxObjective` with ``alpha =
alpha_2``; ``h`` is one of the classes below. :func:`split_penalty` maps the
estimator's ``penalty``, ``alpha`` and ``l1_ratio`` to the pair, as in
scikit-learn and glmnet:

============== ==================== ==================================================
penalty        ``alpha_2`` (in f)   ``h(W)``
============== ==================== ==================================================
``"l2"``       ``alpha``            0
``"l1"``       0                    ``alpha * sum_ij |W_ij|``
``"elasticnet"`` ``alpha (1 - r)``  ``alpha * r * sum_ij |W_ij|`` (``r = l1_ratio``)
``"group"``    0                    ``alpha * sum_j ||W[:, j]||_2``
============== ==================== ==================================================

so that ``"elasticnet"`` is ``alpha * (r ||W||_1 + (1 - r)/2 ||W||_F^2)``.
The group penalty takes the Euclidean norm of each feature's coefficients
across classes: a feature is kept or dropped for all classes at once
(glmnet's grouped multinomial).

Each penalty gives its value, its proximal map (the step of proximal
methods) and the minimum-norm subgradient of ``f + h``, whose largest
absolute entry is zero exactly at the optimum (the KKT conditions): the
solvers' convergence measure, in place of ``max|grad|``.

Shapes: ``coef`` and ``grad`` are (n_classes, n_features), as in
:mod:`softmax_classifier.math`.
"""

from __future__ import annotations

import numpy as np

from softmax_classifier._parameters import PENALTY_NAMES

__all__ = [
    "L1",
    "PENALTY_NAMES",
    "GroupLasso",
    "NoPenalty",
    "nonzero_features",
    "soft_threshold",
    "split_penalty",
]


def soft_threshold(values, threshold):
    r"""The proximal map of ``threshold * |.|``, entry by entry.

    .. math:: \mathrm{prox}(v) = \mathrm{sign}(v)\,\max(|v| - t, 0)

    Parameters
    ----------
    values : ndarray of any shape
    threshold : float or ndarray broadcasting against ``values``, ``>= 0``

    Returns
    -------
    ndarray of the shape of ``values``
    """
    return np.sign(values) * np.maximum(np.abs(values) - threshold, 0.0)


class NoPenalty:
    """``h = 0``: the penalty of ``penalty="l2"`` (whose L2 term is in the smooth part)."""

    name = "none"
    strength = 0.0

    def value(self, coef):
        """0.0 for any ``coef`` of shape (n_classes, n_features)."""
        return 0.0

    def prox(self, coef, step):
        """``coef`` itself: the proximal map of zero."""
        return np.array(coef, dtype=np.float64)

    def subgradient(self, coef, grad):
        """``grad``: where ``h = 0`` the minimum-norm subgradient is the gradient."""
        return np.array(grad, dtype=np.float64)


class L1:
    r"""``h(W) = strength * sum_ij |W_ij|`` (lasso).

    Parameters
    ----------
    strength : float, ``>= 0``
        ``alpha`` for ``penalty="l1"``, ``alpha * l1_ratio`` for ``"elasticnet"``.
    """

    name = "l1"

    def __init__(self, strength):
        self.strength = float(strength)

    def value(self, coef):
        """``strength * sum |coef|``; ``coef`` of shape (n_classes, n_features)."""
        return self.strength * float(np.abs(coef).sum())

    def prox(self, coef, step):
        r"""``argmin_U ||U - coef||^2 / (2 step) + h(U)``: :func:`soft_threshold`.

        The threshold is ``step * strength``.

        Parameters
        ----------
        coef : ndarray of shape (n_classes, n_features)
        step : float, ``> 0``

        Returns
        -------
        ndarray of shape (n_classes, n_features)
        """
        return soft_threshold(coef, step * self.strength)

    def subgradient(self, coef, grad):
        r"""The minimum-norm element of :math:`\nabla f + \partial h` at ``coef``.

        Entry by entry: :math:`g + \lambda\,\mathrm{sign}(w)` where
        :math:`w \ne 0`, and :math:`\mathrm{sign}(g)\max(|g| - \lambda, 0)`
        where :math:`w = 0` (the subdifferential of :math:`\lambda|w|` at 0 is
        :math:`[-\lambda, \lambda]`). All zero exactly when ``coef`` minimises
        ``f + h`` over ``coef``.

        Parameters
        ----------
        coef, grad : ndarray of shape (n_classes, n_features)
            The point and the smooth part's gradient there.

        Returns
        -------
        ndarray of shape (n_classes, n_features)
        """
        at_zero = soft_threshold(grad, self.strength)
        return np.where(coef != 0, grad + self.strength * np.sign(coef), at_zero)


class GroupLasso:
    r"""``h(W) = strength * sum_j ||W[:, j]||_2``: whole features in or out.

    Parameters
    ----------
    strength : float, ``>= 0``
        ``alpha`` for ``penalty="group"``.
    """

    name = "group"

    def __init__(self, strength):
        self.strength = float(strength)

    def value(self, coef):
        """``strength * sum_j ||coef[:, j]||``; ``coef`` of shape (n_classes, n_features)."""
        return self.strength * float(np.linalg.norm(coef, axis=0).sum())

    def prox(self, coef, step):
        r"""Block soft-thresholding: each column shrunk towards 0 by ``step * strength`` in norm.

        .. math:: U_{:j} = W_{:j} \max(0, 1 - t / \lVert W_{:j}\rVert),
            \quad t = \text{step} \cdot \text{strength}

        Parameters
        ----------
        coef : ndarray of shape (n_classes, n_features)
        step : float, ``> 0``

        Returns
        -------
        ndarray of shape (n_classes, n_features)
        """
        norms = np.linalg.norm(coef, axis=0)
        shrink = np.maximum(0.0, 1.0 - step * self.strength / np.where(norms > 0, norms, 1.0))
        return coef * np.where(norms > 0, shrink, 0.0)

    def subgradient(self, coef, grad):
        r"""The minimum-norm element of :math:`\nabla f + \partial h` at ``coef``.

        Column by column: :math:`g_j + \lambda w_j / \lVert w_j\rVert` where
        :math:`w_j \ne 0`; where :math:`w_j = 0` the subdifferential is the
        ball of radius :math:`\lambda`, and the result is :math:`g_j` shrunk
        by :math:`\lambda` in norm. All zero exactly at the optimum.

        Parameters
        ----------
        coef, grad : ndarray of shape (n_classes, n_features)

        Returns
        -------
        ndarray of shape (n_classes, n_features)
        """
        norms = np.linalg.norm(coef, axis=0)
        safe = np.where(norms > 0, norms, 1.0)
        active = grad + self.strength * coef / safe
        grad_norms = np.linalg.norm(grad, axis=0)
        shrink = np.maximum(0.0, 1.0 - self.strength / np.where(grad_norms > 0, grad_norms, 1.0))
        return np.where(norms > 0, active, grad * shrink)


def split_penalty(penalty, alpha, l1_ratio=None):
    """The smooth L2 strength and the non-smooth penalty of an estimator's settings.

    Parameters
    ----------
    penalty : {"l2", "l1", "elasticnet", "group"}
    alpha : float, ``>= 0``
    l1_ratio : float in [0, 1] or None
        Used by ``"elasticnet"`` only, where it is required.

    Returns
    -------
    alpha_l2 : float
        The L2 strength for :class:`~softmax_classifier.objective.SoftmaxObjective`.
    nonsmooth : NoPenalty, L1 or GroupLasso

    Raises
    ------
    ValueError
        An unknown penalty, or ``"elasticnet"`` without an ``l1_ratio`` in [0, 1].

    Examples
    --------
    >>> alpha_l2, h = split_penalty("elasticnet", 0.1, l1_ratio=0.25)
    >>> round(alpha_l2, 10), h.name, round(h.strength, 10)
    (0.075, 'l1', 0.025)
    """
    alpha = float(alpha)
    if penalty == "l2":
        return alpha, NoPenalty()
    if penalty == "l1":
        return 0.0, L1(alpha)
    if penalty == "group":
        return 0.0, GroupLasso(alpha)
    if penalty == "elasticnet":
        if l1_ratio is None or not 0.0 <= float(l1_ratio) <= 1.0:
            raise ValueError(
                f"penalty='elasticnet' needs l1_ratio, a number in [0, 1]; got {l1_ratio!r}."
            )
        ratio = float(l1_ratio)
        return alpha * (1.0 - ratio), L1(alpha * ratio)
    raise ValueError(f"penalty must be one of {list(PENALTY_NAMES)}; got {penalty!r}.")


def nonzero_features(coef):
    """Number of features with a non-zero coefficient for at least one class.

    Parameters
    ----------
    coef : ndarray of shape (n_classes, n_features)

    Returns
    -------
    int
    """
    return int(np.count_nonzero(np.any(np.asarray(coef) != 0, axis=0)))
