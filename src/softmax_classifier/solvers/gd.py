"""Full-batch gradient descent, the notes' update ``w <- w - gamma * grad L``.

Written as ``init``/``step`` on an explicit :class:`GdState`, run by
:func:`softmax_classifier.solvers._driver.run`.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from softmax_classifier.solvers._driver import Method, SolverState, run, start
from softmax_classifier.solvers._result import LINE_SEARCH_FAILED, NON_FINITE, is_finite

__all__ = ["GdState", "init", "minimize", "step"]

_ARMIJO_C1 = 1e-4
# Give up after this many halvings in one iteration (a factor of 1e-18): the
# limit is relative to the step size, so it holds at any feature scale.
_MAX_HALVINGS = 60


@dataclasses.dataclass(frozen=True, eq=False)
class GdState(SolverState):
    """Gradient descent's state: the point (``x``, ``value``, ``grad``), and the step size.

    Attributes
    ----------
    step : float
        The fixed step, or with backtracking the last accepted one (the next
        iteration tries twice it).
    """

    step: float


def init(objective, x0, *, learning_rate="auto"):
    """Gradient descent's state at the start point ``x0`` (one evaluation).

    Parameters
    ----------
    objective : object
        Provides ``value_and_grad(params)``; ``lipschitz_bound()`` for
        ``learning_rate="auto"``.
    x0 : ndarray of shape (n_params,)
    learning_rate : float or "auto", default="auto"
        See :func:`minimize`. ``"auto"`` starts from ``1 / lipschitz_bound()``.

    Returns
    -------
    GdState
    """
    x, value, grad = start(objective, x0)
    if learning_rate != "auto":
        length = float(learning_rate)
    elif is_finite(value, grad):
        length = 1.0 / objective.lipschitz_bound()
    else:
        length = float("nan")  # the run stops before any step
    return GdState(x, value, grad, length)


def step(objective, state, *, learning_rate="auto"):
    """One gradient-descent iteration.

    Parameters
    ----------
    objective : object
        Provides ``value_and_grad(params)``.
    state : GdState
    learning_rate : float or "auto", default="auto"
        A float takes the fixed step ``state.step``; ``"auto"`` backtracks
        from ``2 * state.step`` (see :func:`minimize`).

    Returns
    -------
    state : GdState
        The next state (``state`` itself when no step was taken).
    stop : str or None
        None, or ``"non_finite"`` or ``"line_search_failed"``.
    """
    x, value, grad = state.x, state.value, state.grad
    length = state.step
    if learning_rate != "auto":
        x_new = x - length * grad
        value_new, grad_new = objective.value_and_grad(x_new)
        if not is_finite(value_new, grad_new):
            return state, NON_FINITE
        if np.array_equal(x_new, x):
            return state, LINE_SEARCH_FAILED  # the step is below the parameters' rounding
    else:
        length *= 2.0
        decrease = _ARMIJO_C1 * float(grad @ grad)
        for _ in range(_MAX_HALVINGS):
            x_new = x - length * grad
            value_new, grad_new = objective.value_and_grad(x_new)
            # A strict decrease is required too: once length * decrease is below
            # the objective's rounding, Armijo alone would accept standing still.
            if (
                is_finite(value_new, grad_new)
                and value_new < value
                and value_new <= value - length * decrease
            ):
                break
            length *= 0.5
        else:
            return state, LINE_SEARCH_FAILED
    return GdState(x_new, value_new, grad_new, length), None


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
    method = Method(
        functools.partial(init, learning_rate=learning_rate),
        functools.partial(step, learning_rate=learning_rate),
        GdState.restore,
    )
    return run(objective, x0, method, max_iter=max_iter, tol=tol, callback=callback, resume=resume)
