"""Newton's method with exact Hessian-vector products and truncated conjugate gradient."""

from __future__ import annotations

import numpy as np
from scipy.linalg.blas import daxpy as _axpy

from softmax_classifier.solvers._line_search import approximately_armijo
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
    resume_point,
    run_state,
)

__all__ = ["minimize"]

_ARMIJO_C1 = 1e-4
_MAX_HALVINGS = 40


@quiet_float_errors
def minimize(
    objective,
    x0,
    *,
    max_iter=100,
    tol=1e-5,
    max_cg_iter=200,
    precondition="auto",
    callback=None,
    resume=None,
):
    r"""Minimise with inexact Newton steps (Newton-CG), globalised by backtracking.

    Each iteration solves :math:`H d = -g` approximately by conjugate gradient
    using only Hessian-vector products (``objective.hessp``, the product of
    :func:`softmax_classifier.math.gradient_hessian_product`), stopping when
    :math:`\lVert H d + g\rVert \le \eta \lVert g\rVert` with the forcing term
    :math:`\eta = \min(0.5, \sqrt{\lVert g\rVert})` (superlinear convergence
    near the optimum), at non-positive curvature, or after ``max_cg_iter``
    products. CG may be preconditioned by the Hessian's diagonal
    (``objective.hessian_diagonal``, one more pass per iteration). The step
    :math:`x + t d` starts at :math:`t = 1` and is halved until the Armijo
    condition holds, or, where objective values differ only by rounding, its
    derivative form (:mod:`softmax_classifier.solvers._line_search`), so that
    tight tolerances are reached on any BLAS kernel.

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
    precondition : bool or "auto", default="auto"
        Precondition CG by the Hessian's diagonal. ``"auto"`` follows the
        objective's ``prefers_diagonal_preconditioning`` (True for sparse data:
        tf-idf features of very different scales needed half the passes; on
        dense standardised or pixel data it cost passes instead).
    callback : callable, optional
        Called with an :class:`~softmax_classifier.solvers.Iteration` after each
        iteration; returning True stops.
    resume : dict, optional
        ``Iteration.state()`` of an earlier run: continue exactly where it was.

    Returns
    -------
    SolverResult
    """
    dtype = getattr(objective, "dtype", np.float64)
    if precondition == "auto":
        precondition = bool(getattr(objective, "prefers_diagonal_preconditioning", False))
    if resume is None:
        x = np.array(x0, dtype=np.float64)
        value, grad = objective.value_and_grad(x)
        history, n_iter = [value], 0
        if not is_finite(value, grad):
            return finish(x, 0, NON_FINITE, float("nan"), history, tol)
    else:
        x, value, grad, history, n_iter = resume_point(resume)

    def state():
        return run_state(x, value, grad, history, n_iter)

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
            _preconditioner(objective, x) if precondition else None,
        )
        slope = float(grad @ direction)
        step = 1.0
        for _ in range(_MAX_HALVINGS):
            x_new = x + step * direction
            value_new, grad_new = objective.value_and_grad(x_new)
            if is_finite(value_new, grad_new) and (
                value_new <= value + _ARMIJO_C1 * step * slope
                or approximately_armijo(value, slope, value_new, float(grad_new @ direction), dtype)
            ):
                break
            step *= 0.5
        else:
            stop = NON_FINITE if not np.isfinite(value_new) else LINE_SEARCH_FAILED
            break
        x, value, grad = x_new, value_new, grad_new
        n_iter += 1
        history.append(value)
        if report(callback, n_iter, value, max_abs(grad), x, state):
            stop = STOPPED
            break
    return finish(x, n_iter, stop, max_abs(grad), history, tol)


def _preconditioner(objective, x):
    """Inverse of the Hessian's diagonal at ``x`` (Jacobi preconditioner).

    Entries whose curvature is zero (a feature that is zero in every row, with
    ``alpha = 0``) are left unscaled.
    """
    diagonal = objective.hessian_diagonal(x)
    scale = np.ones_like(diagonal)
    positive = diagonal > 0
    scale[positive] = 1.0 / diagonal[positive]
    return scale


def _conjugate_gradient(hessp, rhs, tol, max_iter, inverse_diagonal=None):
    """Approximate solution of ``H d = rhs`` by (preconditioned) conjugate gradient.

    With ``inverse_diagonal`` (the preconditioner ``M^{-1}`` as a vector) this
    is CG on ``M^{-1/2} H M^{-1/2}``, written in the original variables. Stops
    at residual norm ``||H d - rhs|| <= tol``, after ``max_iter`` products, or
    at a direction of non-positive curvature (then the iterate so far, or the
    preconditioned ``rhs`` on the first iteration, a descent direction).
    """
    if inverse_diagonal is None:
        inverse_diagonal = np.ones_like(rhs)
    # Updates in place (BLAS axpy, out=): for millions of parameters a temporary
    # vector per update costs as much as the products themselves.
    solution = np.zeros_like(rhs)
    residual = rhs.copy()
    preconditioned = inverse_diagonal * residual
    conjugate = preconditioned.copy()
    residual_dot = float(residual @ preconditioned)
    for i in range(max_iter):
        if np.linalg.norm(residual) <= tol:
            break
        product = hessp(conjugate)
        curvature = float(conjugate @ product)
        if not curvature > 1e-16 * float(conjugate @ conjugate):
            return inverse_diagonal * rhs if i == 0 else solution
        step = residual_dot / curvature
        solution = _axpy(conjugate, solution, a=step)  # solution += step * conjugate
        residual = _axpy(product, residual, a=-step)  # residual -= step * product
        np.multiply(inverse_diagonal, residual, out=preconditioned)
        residual_dot, previous = float(residual @ preconditioned), residual_dot
        conjugate *= residual_dot / previous
        conjugate += preconditioned
    return solution
