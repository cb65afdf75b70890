"""The loop the Newton solvers share: a direction from the solver, Armijo backtracking."""

from __future__ import annotations

import numpy as np

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
    report,
    resume_point,
    run_state,
)

__all__ = ["newton_loop"]

_ARMIJO_C1 = 1e-4
_MAX_HALVINGS = 40


def newton_loop(objective, x0, direction, *, max_iter, tol, callback=None, resume=None):
    """Iterate ``x <- x + t d`` with ``d = direction(x, grad)`` and backtracking on ``t``.

    The step starts at ``t = 1`` and is halved until the Armijo condition
    ``f(x + t d) <= f(x) + 1e-4 t g^T d`` holds or, where objective values
    differ only by rounding, its derivative form
    (:mod:`softmax_classifier.solvers._line_search`), so that tight tolerances
    are reached on any BLAS kernel.

    Parameters
    ----------
    objective : object
        Provides ``value_and_grad(params)``; ``dtype`` (optional) is the
        precision of its products.
    x0 : ndarray of shape (n_params,)
    direction : callable
        ``direction(x, grad) -> d``, a descent direction (``g^T d < 0``).
    max_iter : int
    tol : float
        Stop when ``max|grad| <= tol``.
    callback : callable, optional
    resume : dict, optional
        ``Iteration.state()`` of an earlier run.

    Returns
    -------
    SolverResult
    """
    dtype = getattr(objective, "dtype", np.float64)
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
        step_direction = direction(x, grad)
        slope = float(grad @ step_direction)
        step = 1.0
        for _ in range(_MAX_HALVINGS):
            x_new = x + step * step_direction
            value_new, grad_new = objective.value_and_grad(x_new)
            if is_finite(value_new, grad_new) and (
                value_new <= value + _ARMIJO_C1 * step * slope
                or approximately_armijo(
                    value, slope, value_new, float(grad_new @ step_direction), dtype
                )
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
