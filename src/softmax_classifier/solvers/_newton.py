"""Newton-type iterations: a direction from the solver, Armijo backtracking along it.

:func:`step` takes one iteration on an explicit :class:`NewtonState`;
:func:`newton_loop` runs it (:func:`softmax_classifier.solvers._driver.run`)
for any direction, Newton-CG's (:mod:`softmax_classifier.solvers.newton_cg`)
among them.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from softmax_classifier.solvers._driver import Method, SolverState, run
from softmax_classifier.solvers._line_search import approximately_armijo
from softmax_classifier.solvers._result import LINE_SEARCH_FAILED, NON_FINITE, is_finite

__all__ = ["NewtonState", "init", "newton_loop", "step"]

_ARMIJO_C1 = 1e-4
_MAX_HALVINGS = 40


@dataclasses.dataclass(frozen=True, eq=False)
class NewtonState(SolverState):
    """A Newton method's state: the point alone.

    Whatever the direction needs beyond the point (a preconditioner's factors)
    is recomputed from the objective, so a checkpoint holds no more than
    :class:`~softmax_classifier.solvers._driver.SolverState`'s fields.
    """


#: ``init(objective, x0) -> NewtonState``: the state at the start point (one evaluation).
init = NewtonState.initial


def step(objective, state, direction):
    """One iteration ``x <- x + t d`` with ``d = direction(x, grad)``, backtracking on ``t``.

    The step starts at ``t = 1`` and is halved (at most 40 times) until the
    Armijo condition ``f(x + t d) <= f(x) + 1e-4 t g^T d`` holds or, where
    objective values differ only by rounding, its derivative form
    (:mod:`softmax_classifier.solvers._line_search`), so that tight tolerances
    are reached on any BLAS kernel.

    Parameters
    ----------
    objective : object
        Provides ``value_and_grad(params)``; ``dtype`` (optional) is the
        precision of its products.
    state : NewtonState
    direction : callable
        ``direction(x, grad) -> d`` of shape (n_params,), a descent direction
        (``g^T d < 0``).

    Returns
    -------
    state : NewtonState
        The next state (``state`` itself when no step was taken).
    stop : str or None
        None, or ``"non_finite"`` (the last trial's value was NaN or inf) or
        ``"line_search_failed"``.
    """
    dtype = getattr(objective, "dtype", np.float64)
    x, value, grad = state.x, state.value, state.grad
    step_direction = direction(x, grad)
    slope = float(grad @ step_direction)
    length = 1.0
    for _ in range(_MAX_HALVINGS):
        x_new = x + length * step_direction
        value_new, grad_new = objective.value_and_grad(x_new)
        if is_finite(value_new, grad_new) and (
            value_new <= value + _ARMIJO_C1 * length * slope
            or approximately_armijo(
                value, slope, value_new, float(grad_new @ step_direction), dtype
            )
        ):
            break
        length *= 0.5
    else:
        return state, NON_FINITE if not np.isfinite(value_new) else LINE_SEARCH_FAILED
    return NewtonState(x_new, value_new, grad_new), None


def newton_loop(objective, x0, direction, *, max_iter, tol, callback=None, resume=None):
    """Minimise by :func:`step` along ``direction`` until a stop reason.

    Parameters
    ----------
    objective : object
        Provides ``value_and_grad(params)``; ``dtype`` (optional).
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
    method = Method(init, functools.partial(step, direction=direction), NewtonState.restore)
    return run(objective, x0, method, max_iter=max_iter, tol=tol, callback=callback, resume=resume)
