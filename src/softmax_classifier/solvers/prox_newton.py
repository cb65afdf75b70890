r"""Proximal Newton with coordinate descent, for the L1, elastic-net and group penalties.

Minimises :math:`F = f + h` (:class:`~softmax_classifier.penalized.PenalizedObjective`):
each iteration

1. builds the Newton model of the smooth part :math:`f` at the current point
   (gradient, exact multinomial Hessian) with the exact penalty :math:`h`,
2. minimises it over a direction :math:`d` by coordinate descent
   (:mod:`softmax_classifier._coordinate_descent`) to a tolerance tied to
   the current optimality (an inexact Newton step, as in glmnet and
   newGLMNET), and
3. takes the step :math:`t d` with :math:`t = 1, \tfrac12, \ldots` the first
   that satisfies :math:`F(x + t d) \le F(x) + \sigma t \Delta`,
   :math:`\Delta = \nabla f^T d + h(W + D) - h(W) < 0`, :math:`\sigma =
   10^{-4}`. The trial values come from the model's logits (exactly
   :math:`a + t z`), with no pass over ``X``. Where the values differ by no
   more than their rounding (near the optimum), the full step is taken if it
   lowers the KKT residual.

Where the classes are nearly separable the Hessian has directions of almost
no curvature and the exact Newton step along them is far too long; then no
step length passes. The model is then damped, :math:`q + \tfrac{\mu}{2}
\lVert D\rVert^2` (Levenberg-Marquardt), and solved again, with :math:`\mu`
raised tenfold (at least to the KKT residual) per failure and lowered tenfold
after each full step, down to zero: undamped, exact Newton steps near the
optimum.

Converged when the minimum-norm subgradient of :math:`F` (the KKT
residual, :meth:`~softmax_classifier.penalized.PenalizedObjective.subgradient`)
has no entry above ``tol``: for ``penalty="l2"`` that is ``max|grad|``, as
for the other solvers. The state's ``value`` is :math:`F` and its ``grad``
that subgradient.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from softmax_classifier.solvers._driver import Method, SolverState, run
from softmax_classifier.solvers._line_search import value_noise
from softmax_classifier.solvers._result import LINE_SEARCH_FAILED, NON_FINITE, is_finite, max_abs

__all__ = ["ProxNewtonState", "init", "minimize", "step"]

_ARMIJO_C1 = 1e-4
# Halvings of one direction before it is given up for a more damped one.
_MAX_HALVINGS = 20
# Levenberg-Marquardt's damping mu of the model: multiplied by _DAMPING_UP (and at
# least the KKT residual) when a direction fails, by _DAMPING_DOWN after a full
# step, and dropped below _DAMPING_FLOOR times the residual; _MAX_DAMPINGS tries.
_DAMPING_UP = 10.0
_DAMPING_DOWN = 0.1
_DAMPING_FLOOR = 1e-6
_MAX_DAMPINGS = 12


@dataclasses.dataclass(frozen=True, eq=False)
class ProxNewtonState(SolverState):
    """Proximal Newton's state: ``x``, ``value`` (``f + h``), ``grad`` (the KKT residual), and f's.

    Attributes
    ----------
    smooth_value : float
        ``f`` at ``x``.
    smooth_grad : ndarray of shape (n_params,)
        ``f``'s gradient at ``x``.
    damping : float
        The Levenberg-Marquardt damping ``mu`` the next model starts with.
    explicit_hessian : int
        1 once a model of this run went on to its explicit Hessian (the next
        ones start with it; :meth:`NewtonModel.direction`), else 0.
    """

    smooth_value: float = 0.0
    smooth_grad: np.ndarray = None
    damping: float = 0.0
    explicit_hessian: int = 0


def init(objective, x0):
    """The state at ``x0`` (one pass).

    Parameters
    ----------
    objective : PenalizedObjective
    x0 : ndarray of shape (n_params,)

    Returns
    -------
    ProxNewtonState
    """
    x = np.array(x0, dtype=np.float64)
    return _state(objective, x, *objective.value_and_grad(x))


def _state(objective, x, value, grad):
    """The state at ``x`` from f's value and gradient there (own fields at their defaults)."""
    total = value + objective.penalty_value(x)
    return ProxNewtonState(x, total, objective.subgradient(x, grad), value, grad)


def step(objective, state, *, inner_tol=0.1, max_sweeps=200, tol=0.0):
    """One proximal Newton iteration.

    Parameters
    ----------
    objective : PenalizedObjective
    state : ProxNewtonState
    inner_tol : float, default=0.1
        The coordinate descent stops when a full sweep changes no coordinate
        by more than ``min(inner_tol, r) * r`` for the current KKT residual
        ``r`` (linear forcing far from the optimum, quadratic near it).
    max_sweeps : int, default=200
        Coordinate-descent sweeps at most per iteration.
    tol : float, default=0.0
        The run's tolerance: the model is solved no tighter than ``0.1 * tol``
        (the next residual need not go below ``tol``).

    Returns
    -------
    state : ProxNewtonState
    stop : str or None
    """
    model = objective.newton_model(state.x)
    residual = max_abs(state.grad)
    # Forcing term: superlinear near the optimum, but no tighter than the run needs.
    inner = max(min(inner_tol, residual) * residual, 0.1 * tol)
    damping = state.damping
    for _ in range(_MAX_DAMPINGS):
        length, new_state = _damped_step(objective, state, model, damping, inner, max_sweeps)
        if new_state is not None:
            if length == 1.0:  # the model was trusted: trust it more
                damping = damping * _DAMPING_DOWN if damping > _DAMPING_FLOOR * residual else 0.0
            explicit = int(bool(state.explicit_hessian) or model.used_hessian)
            return dataclasses.replace(new_state, damping=damping, explicit_hessian=explicit), None
        if length is None:
            return state, NON_FINITE
        # No step along this direction decreased F enough: the model's curvature was
        # near zero somewhere (nearly separable classes) and the step far too long.
        damping = max(damping * _DAMPING_UP, residual)
    return state, LINE_SEARCH_FAILED


def _damped_step(objective, state, model, damping, tol, max_sweeps):
    """Minimise the model damped by ``damping`` and search along its direction.

    Returns
    -------
    length : float or None
        The accepted step length, or the last one tried; None where the accepted
        point's value or gradient is not finite.
    new_state : ProxNewtonState or None
        None when no step was accepted.
    """
    x = state.x
    coef, _ = objective.unpack(x)
    grad_coef, grad_intercept = objective.unpack(state.smooth_grad)
    direction, direction_intercept, _ = model.direction(
        grad_coef, grad_intercept, objective.penalty, tol=tol, max_sweeps=max_sweeps,
        damping=damping, start_with_hessian=bool(state.explicit_hessian),
    )  # fmt: skip
    d = objective.pack(direction, direction_intercept)
    penalty = objective.penalty
    start_penalty = penalty.value(coef)
    decrease = float(state.smooth_grad @ d) + penalty.value(coef + direction) - start_penalty
    start = model.smooth_value(0.0) + start_penalty
    residual = max_abs(state.grad)
    length = 1.0
    for _ in range(_MAX_HALVINGS if decrease < 0 else 1):
        trial = model.smooth_value(length) + penalty.value(coef + length * direction)
        if decrease < 0 and trial < start and trial <= start + _ARMIJO_C1 * length * decrease:
            new_state = _evaluated(objective, x + length * d)
            return (length if new_state is not None else None), new_state
        if length == 1.0 and abs(trial - start) <= value_noise(start):
            # Values are rounding noise here (near the optimum the decrease is about
            # r^2 / H for a KKT residual r, and its own sign is noise too): judge the
            # full step by the residual instead.
            new_state = _evaluated(objective, x + d)
            if new_state is not None and max_abs(new_state.grad) < residual:
                return length, new_state
        length *= 0.5
    return length, None


def _evaluated(objective, x):
    """The state at ``x`` (one pass), or None where f or its gradient is not finite."""
    value, grad = objective.value_and_grad(x)
    return _state(objective, x, value, grad) if is_finite(value, grad) else None


def minimize(
    objective, x0, *, max_iter=100, tol=1e-4, inner_tol=0.1, max_sweeps=200, callback=None,
    resume=None,
):  # fmt: skip
    """Minimise ``f + h`` by proximal Newton steps solved by coordinate descent.

    Parameters
    ----------
    objective : PenalizedObjective
        Provides ``value_and_grad`` (of ``f``), ``penalty_value``,
        ``subgradient``, ``newton_model``, ``pack`` and ``unpack``.
    x0 : ndarray of shape (n_params,)
    max_iter : int, default=100
        Newton iterations.
    tol : float, default=1e-4
        Stop when the KKT residual (minimum-norm subgradient) has no entry
        above ``tol``.
    inner_tol : float, default=0.1
        See :func:`step`.
    max_sweeps : int, default=200
        See :func:`step`.
    callback : callable, optional
        Called with an :class:`~softmax_classifier.solvers.Iteration` after each
        iteration (``objective`` is ``f + h``, ``grad_norm`` the KKT
        residual); returning True stops.
    resume : dict, optional
        ``Iteration.state()`` of an earlier run.

    Returns
    -------
    SolverResult
        ``grad_norm`` is the KKT residual.
    """
    method = Method(
        init,
        functools.partial(step, inner_tol=inner_tol, max_sweeps=max_sweeps, tol=tol),
        ProxNewtonState.restore,
    )
    return run(objective, x0, method, max_iter=max_iter, tol=tol, callback=callback, resume=resume)
