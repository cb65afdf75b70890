"""Full-batch gradient descent, the notes' update ``w <- w - gamma * grad L``."""

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
    resume_point,
    run_state,
)

__all__ = ["minimize"]

_ARMIJO_C1 = 1e-4
# Give up after this many halvings in one iteration (a factor of 1e-18): the
# limit is relative to the step size, so it holds at any feature scale.
_MAX_HALVINGS = 60


@quiet_float_errors
def minimize(
    objective, x0, *, max_iter=2000, tol=1e-5, learning_rate="auto", callback=None, resume=None
):
    r"""Minimise by gradient descent with a fixed step or Armijo backtracking.

    Each iteration takes the step of note ``003``, :math:`w \leftarrow w -
    \gamma \nabla L(w)`, on all parameters (``coef`` and ``intercept``) at once.

    Parameters
    ----------
    objective : object
        Provides ``value_and_grad(params)`` and ``lipschitz_bound()``.
    x0 : ndarray of shape (n_params,)
        Start point.
    max_iter : int, default=2000
    tol : float, default=1e-5
        Stop when ``max|grad| <= tol``.
    learning_rate : float or "auto", default="auto"
        A float is a fixed step :math:`\gamma`. ``"auto"`` searches the step
        by backtracking: start from twice the last accepted step (first from
        ``1 / objective.lipschitz_bound()``) and halve it until the Armijo
        condition :math:`L(w - \gamma g) \le L(w) - c_1 \gamma \lVert g\rVert^2`
        holds with :math:`c_1 = 10^{-4}` and the objective strictly decreases;
        60 halvings without success stop with ``"line_search_failed"``.
    callback : callable, optional
        Called with an :class:`~softmax_classifier.solvers.Iteration` after each
        iteration; returning True stops.
    resume : dict, optional
        ``Iteration.state()`` of an earlier run: continue exactly where it was.

    Returns
    -------
    SolverResult
    """
    fixed = learning_rate != "auto"
    if resume is None:
        x = np.array(x0, dtype=np.float64)
        value, grad = objective.value_and_grad(x)
        history, n_iter = [value], 0
        if not is_finite(value, grad):
            return finish(x, 0, NON_FINITE, float("nan"), history, tol)
        step = float(learning_rate) if fixed else 1.0 / objective.lipschitz_bound()
    else:
        x, value, grad, history, n_iter = resume_point(resume)
        step = float(resume["step"])

    def state():
        return run_state(x, value, grad, history, n_iter, step=step)

    while True:
        grad_norm = max_abs(grad)
        if grad_norm <= tol:
            stop = CONVERGED
            break
        if n_iter >= max_iter:
            stop = MAX_ITER
            break
        if fixed:
            x_new = x - step * grad
            value_new, grad_new = objective.value_and_grad(x_new)
            if not is_finite(value_new, grad_new):
                stop = NON_FINITE
                break
            if np.array_equal(x_new, x):
                stop = LINE_SEARCH_FAILED  # the step is below the parameters' rounding
                break
        else:
            step *= 2.0
            decrease = _ARMIJO_C1 * float(grad @ grad)
            for _ in range(_MAX_HALVINGS):
                x_new = x - step * grad
                value_new, grad_new = objective.value_and_grad(x_new)
                # A strict decrease is required too: once step * decrease is below
                # the objective's rounding, Armijo alone would accept standing still.
                if (
                    is_finite(value_new, grad_new)
                    and value_new < value
                    and value_new <= value - step * decrease
                ):
                    break
                step *= 0.5
            else:
                stop = LINE_SEARCH_FAILED
                break
        x, value, grad = x_new, value_new, grad_new
        n_iter += 1
        history.append(value)
        if report(callback, n_iter, value, max_abs(grad), x, state):
            stop = STOPPED
            break
    return finish(x, n_iter, stop, max_abs(grad), history, tol)
