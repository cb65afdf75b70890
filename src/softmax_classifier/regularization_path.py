r"""The regularisation path: fits along a decreasing grid of ``alpha``, each warm-started.

For the sparse penalties (``"l1"``, ``"elasticnet"``, ``"group"``) the path
starts at :math:`\alpha_{max}`, the smallest ``alpha`` whose solution has
``coef = 0`` (:func:`softmax_classifier.training.penalty_threshold`), and
goes down a geometric grid; each fit starts from the previous solution, so
that the whole path costs a few fits (glmnet's scheme). Features enter the
model as ``alpha`` decreases.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from softmax_classifier import training
from softmax_classifier.data import as_source
from softmax_classifier.estimator import SoftmaxClassifier

__all__ = ["RegularizationPath", "path"]


@dataclass
class RegularizationPath:
    """The fits of :func:`path`, one per ``alpha``, in the order fitted (decreasing ``alpha``).

    Attributes
    ----------
    alphas : ndarray of shape (n_alphas,)
    coef : ndarray of shape (n_alphas, n_classes, n_features)
    intercept : ndarray of shape (n_alphas, n_classes)
    objective : ndarray of shape (n_alphas,)
        The penalised objective at each solution.
    kkt_residual : ndarray of shape (n_alphas,)
        Largest entry of the minimum-norm subgradient at each solution.
    n_nonzero_features : ndarray of shape (n_alphas,)
        Features with a non-zero coefficient for some class.
    n_nonzero_coef : ndarray of shape (n_alphas,)
    n_iter : ndarray of shape (n_alphas,)
        Proximal Newton iterations of each fit.
    classes : ndarray of shape (n_classes,)
    """

    alphas: np.ndarray
    coef: np.ndarray
    intercept: np.ndarray
    objective: np.ndarray
    kkt_residual: np.ndarray
    n_nonzero_features: np.ndarray
    n_nonzero_coef: np.ndarray
    n_iter: np.ndarray
    classes: np.ndarray


def path(
    X, y, *, alphas=None, n_alphas=20, alpha_min_ratio=1e-3, penalty="l1", l1_ratio=None,
    sample_weight=None, **params,
):  # fmt: skip
    """Fit the penalised softmax classifier for each ``alpha`` of a decreasing grid, warm-started.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
    alphas : array-like of shape (n_alphas,), optional
        The penalty strengths (fitted from the largest down). By default
        ``n_alphas`` values spaced geometrically from the threshold
        :math:`\\alpha_{max}` (where ``coef`` becomes all zero) down to
        ``alpha_min_ratio * alpha_max``.
    n_alphas : int, default=20
    alpha_min_ratio : float, default=1e-3
    penalty : {"l1", "elasticnet", "group", "l2"}, default="l1"
        ``"l2"`` needs ``alphas``.
    l1_ratio : float in [0, 1] or None
        For ``"elasticnet"``.
    sample_weight : array-like of shape (n_samples,), optional
    **params
        Other :class:`~softmax_classifier.SoftmaxClassifier` parameters
        (``tol``, ``standardize``, ``class_weight``, ``fit_intercept``,
        ``solver``, ...).

    Returns
    -------
    RegularizationPath

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from softmax_classifier import path
    >>> X, y = load_iris(return_X_y=True)
    >>> fits = path(X, y, n_alphas=5, standardize=True)
    >>> fits.coef.shape
    (5, 3, 4)
    >>> int(fits.n_nonzero_features[0]), int(fits.n_nonzero_features[-1])  # none at alpha_max
    (0, 4)
    """
    model = SoftmaxClassifier(penalty=penalty, l1_ratio=l1_ratio, warm_start=True, **params)
    if alphas is None:
        if not (isinstance(n_alphas, int) and n_alphas >= 1 and 0 < alpha_min_ratio < 1):
            raise ValueError(
                "n_alphas must be an int >= 1 and alpha_min_ratio in (0, 1); got "
                f"{n_alphas!r} and {alpha_min_ratio!r}."
            )
        model._check_params()
        X_checked, y_checked = model._validated(X, y, reset=True)
        source = as_source(X_checked, y_checked, sample_weight)
        top = training.penalty_threshold(source, model.get_params())
        if not top > 0:
            raise ValueError("coef is zero at every alpha > 0 (no feature varies): no path.")
        alphas = np.geomspace(top, top * alpha_min_ratio, n_alphas)
    alphas = np.asarray(alphas, dtype=np.float64).ravel()
    if alphas.size == 0 or not np.all(np.isfinite(alphas)) or np.any(alphas < 0):
        raise ValueError(f"alphas must be finite numbers >= 0, at least one; got {alphas!r}.")
    alphas = np.sort(alphas)[::-1]
    fits = []
    for alpha in alphas:
        model.set_params(alpha=float(alpha)).fit(X, y, sample_weight=sample_weight)
        report = model.fit_report_
        fits.append((model.coef_.copy(), model.intercept_.copy(), report))
    reports = [report for _, _, report in fits]
    return RegularizationPath(
        alphas=alphas,
        coef=np.stack([coef for coef, _, _ in fits]),
        intercept=np.stack([intercept for _, intercept, _ in fits]),
        objective=np.array([r.objective_history[-1] for r in reports]),
        kkt_residual=np.array([r.grad_norm for r in reports]),
        n_nonzero_features=np.array([r.n_nonzero_features for r in reports]),
        n_nonzero_coef=np.array([r.n_nonzero_coef for r in reports]),
        n_iter=np.array([r.n_iter for r in reports]),
        classes=model.classes_,
    )
