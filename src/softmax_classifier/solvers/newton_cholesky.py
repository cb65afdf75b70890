r"""Exact Newton for small models: the full Hessian, solved by Cholesky."""

from __future__ import annotations

import numpy as np
import scipy.linalg

from softmax_classifier.solvers._kronecker import one_blas_thread
from softmax_classifier.solvers._newton import newton_loop
from softmax_classifier.solvers._result import quiet_float_errors

__all__ = ["MAX_PARAMS", "minimize"]

#: Largest ``n_classes * (n_features + fit_intercept)`` this solver accepts: its
#: Hessian holds that many squared float64 numbers (128 MiB at 4096).
MAX_PARAMS = 4096


@quiet_float_errors
def minimize(objective, x0, *, max_iter=100, tol=1e-5, callback=None, resume=None):
    r"""Minimise with Newton steps :math:`d = -H^{-1} g` from the full Hessian.

    Each iteration builds :math:`H` in one pass
    (:func:`softmax_classifier._curvature.full_hessian`, about :math:`n \tilde d^2
    c (c + 2) / 2` multiply-adds) and solves :math:`H d = -g` by Cholesky
    (:math:`(c \tilde d)^3 / 3`); the step is then backtracked as in
    Newton-CG (:mod:`softmax_classifier.solvers._newton`). Near the optimum
    convergence is quadratic: a handful of iterations reach any tolerance.

    :math:`H` is singular along the shifts that move every class's logit
    equally (``docs/math.md``, section 9): the common intercept shift
    :math:`(0, \mathbf 1)`, and with :math:`\alpha = 0` every :math:`(\mathbf 1
    v^T, \mathbf 1 v_b)`. The gradient is orthogonal to them, so the system is
    solved with :math:`\tau P` added, :math:`P` the projector on those
    directions and :math:`\tau` the mean diagonal entry of :math:`H`: its
    solution has no component along them and solves :math:`H d = -g` exactly.
    If Cholesky still fails (features that are zero or collinear with
    :math:`\alpha = 0`), the minimum-norm solution from the eigendecomposition
    is used.

    Parameters
    ----------
    objective : SoftmaxObjective
        Needs ``value_and_grad``, ``data``, ``n_classes``, ``n_features``,
        ``alpha``, ``fit_intercept`` and ``unpack``.
    x0 : ndarray of shape (n_params,)
    max_iter : int, default=100
        Newton iterations; each costs two data passes or more (Hessian,
        gradient, and one per halving of the step).
    tol : float, default=1e-5
        Stop when ``max|grad| <= tol``.
    callback : callable, optional
        Called with an :class:`~softmax_classifier.solvers.Iteration` after each
        iteration; returning True stops.
    resume : dict, optional
        ``Iteration.state()`` of an earlier run: continue exactly where it was.

    Returns
    -------
    SolverResult

    Raises
    ------
    ValueError
        When the model has more than :data:`MAX_PARAMS` parameters.
    """
    from softmax_classifier._curvature import full_hessian, to_flat_layout

    n_classes, n_features = objective.n_classes, objective.n_features
    fit_intercept = objective.fit_intercept
    d_tilde = n_features + int(fit_intercept)
    size = n_classes * d_tilde
    if size > MAX_PARAMS:
        raise ValueError(
            f"newton-cholesky builds the full Hessian of {size} parameters, more than "
            f"{MAX_PARAMS} ({size**2 * 8 / 2**20:.0f} MiB); use newton-cg or lbfgs."
        )
    order = to_flat_layout(n_classes, n_features, fit_intercept)
    null_columns = np.arange(d_tilde) if objective.alpha == 0 else np.arange(n_features, d_tilde)

    def direction(x, grad):
        coef, intercept = objective.unpack(x)
        hessian = full_hessian(objective.data, coef, intercept, objective.alpha)
        if hasattr(objective, "n_passes"):
            objective.n_passes += 1
        rhs = np.empty(size)
        rhs[order] = -grad
        with one_blas_thread():
            return _solve(hessian, rhs, n_classes, d_tilde, null_columns)[order]

    return newton_loop(
        objective, x0, direction, max_iter=max_iter, tol=tol, callback=callback, resume=resume
    )


def _solve(hessian, rhs, n_classes, d_tilde, null_columns):
    """``H^+ rhs`` for ``rhs`` orthogonal to the shifts of ``null_columns`` (``[W | b]`` layout).

    ``hessian`` gets ``tau P`` added in place.
    """
    if null_columns.size:
        tau = float(np.trace(hessian)) / hessian.shape[0]
        # tau * (1 1^T / c) on the entries (i, j), (i', j) of every null column j.
        view = hessian.reshape(n_classes, d_tilde, n_classes, d_tilde)
        view[:, null_columns, :, null_columns] += tau / n_classes
    try:
        factor = scipy.linalg.cho_factor(hessian, lower=False, check_finite=False)
        return scipy.linalg.cho_solve(factor, rhs, check_finite=False)
    except np.linalg.LinAlgError:
        values, vectors = np.linalg.eigh(hessian)
        keep = values > 1e-12 * max(float(values[-1]), np.finfo(np.float64).tiny)
        return vectors[:, keep] @ ((vectors[:, keep].T @ rhs) / values[keep])
