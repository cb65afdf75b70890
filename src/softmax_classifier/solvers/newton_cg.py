"""Newton's method with exact Hessian-vector products and truncated conjugate gradient."""

from __future__ import annotations

import numpy as np

from softmax_classifier.solvers._result import (
    CONVERGED,
    LINE_SEARCH_FAILED,
    MAX_ITER,
    NON_FINITE,
    STOPPED,
    finish,
    is_finite,
    max_abs,
    quiet_float_errors,
    report,
)

__all__ = ["minimize"]

_ARMIJO_C1 = 1e-4
_MAX_HALVINGS = 40


@quiet_float_errors
def minimize(objective, x0, *, max_iter=100, tol=1e-5, max_cg_iter=200, callback=None):
    r"""Minimise with inexact Newton steps (Newton-CG), globalised by backtracking.

    Each iteration solves :math:`H d = -g` approximately by conjugate gradient
    using only Hessian-vector products (``objective.hessp``, the product of
    :func:`softmax_classifier.math.gradient_hessian_product`), stopping when
    :math:`\lVert H d + g\rVert \le \eta \lVert g\rVert` with the forcing term
    :math:`\eta = \min(0.5, \sqrt{\lVert g\rVert})` (superlinear convergence
    near the optimum), at non-positive curvature, or after ``max_cg_iter``
    products. The step :math:`x + t d` starts at :math:`t = 1` and is halved
    until the Armijo condition holds.

    Parameters
    ----------
    objective : object
        Provides ``value_and_grad(params)`` and ``hessp(params, vector)``.
    x0 : ndarray of shape (n_params,)
    max_iter : int, default=100
        Newton iterations (each costs 1 + CG-iterations data passes).
    tol : float, default=1e-5
        Stop when ``max|grad| <= tol``.
    max_cg_iter : int, default=200
    callback : callable, optional
        Called with an :class:`~softmax_classifier.solvers.Iteration` after each
        iteration; returning True stops.

    Returns
    -------
    SolverResult
    """
    x = np.array(x0, dtype=np.float64)
    value, grad = objective.value_and_grad(x)
    history = [value]
    if not is_finite(value, grad):
        return finish(x, 0, NON_FINITE, float("nan"), history, tol)
    n_iter = 0
    while True:
        if max_abs(grad) <= tol:
            stop = CONVERGED
            break
        if n_iter >= max_iter:
            stop = MAX_ITER
            break
        grad_norm = float(np.linalg.norm(grad))
        direction = _conjugate_gradient(
            lambda v, x=x: objective.hessp(x, v),
            -grad,
            min(0.5, np.sqrt(grad_norm)) * grad_norm,
            max_cg_iter,
        )
        slope = float(grad @ direction)
        step = 1.0
        for _ in range(_MAX_HALVINGS):
            x_new = x + step * direction
            value_new, grad_new = objective.value_and_grad(x_new)
            if is_finite(value_new, grad_new) and value_new <= value + _ARMIJO_C1 * step * slope:
                break
            step *= 0.5
        else:
            stop = NON_FINITE if not np.isfinite(value_new) else LINE_SEARCH_FAILED
            break
        x, value, grad = x_new, value_new, grad_new
        n_iter += 1
        history.append(value)
        if report(callback, n_iter, value, max_abs(grad), x):
            stop = STOPPED
            break
    return finish(x, n_iter, stop, max_abs(grad), history, tol)


def _conjugate_gradient(hessp, rhs, tol, max_iter):
    """Approximate solution of ``H d = rhs`` by conjugate gradient.

    Stops at residual norm ``<= tol``, after ``max_iter`` products, or at a
    direction of non-positive curvature (then the iterate so far, or ``rhs``
    itself on the first iteration, which is the steepest-descent direction).
    """
    solution = np.zeros_like(rhs)
    residual = rhs.copy()
    conjugate = residual.copy()
    residual_sq = float(residual @ residual)
    for i in range(max_iter):
        if np.sqrt(residual_sq) <= tol:
            break
        product = hessp(conjugate)
        curvature = float(conjugate @ product)
        if not curvature > 1e-16 * float(conjugate @ conjugate):
            return rhs if i == 0 else solution
        step = residual_sq / curvature
        solution += step * conjugate
        residual -= step * product
        residual_sq, previous = float(residual @ residual), residual_sq
        conjugate = residual + (residual_sq / previous) * conjugate
    return solution
