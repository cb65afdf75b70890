"""What every solver returns, and the small pieces all of them share."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "CONVERGED",
    "LINE_SEARCH_FAILED",
    "MAX_ITER",
    "NON_FINITE",
    "STOPPED",
    "Iteration",
    "SolverResult",
]

#: ``max|grad| <= tol`` was reached.
CONVERGED = "converged"
#: ``max_iter`` iterations (epochs for stochastic solvers) ran out first.
MAX_ITER = "max_iter"
#: No step along the search direction decreased the objective enough.
LINE_SEARCH_FAILED = "line_search_failed"
#: The objective or gradient became NaN/inf; the last finite parameters are returned.
NON_FINITE = "non_finite"
#: The callback asked to stop.
STOPPED = "stopped"


@dataclass(frozen=True)
class Iteration:
    """What a solver reports to its callback after each iteration (or epoch).

    Attributes
    ----------
    iteration : int
        1-based count of iterations (epochs for ``sgd`` and ``adam``).
    objective : float
        Objective value at ``params``.
    grad_norm : float
        ``max|grad|`` at ``params``.
    params : ndarray of shape (n_params,)
        The current parameters (do not modify).
    state : callable or None
        ``state()`` returns the solver's whole state after this iteration, a
        dict of arrays and numbers; the solver's ``minimize(...,
        resume=state())`` continues from it exactly as the run would have
        (checkpoints are made of it). Built only when called.
    solver : str or None
        The solver's name (``"auto"`` resolved), filled in by the fit
        pipeline for its callbacks; None from a bare ``minimize``.
    max_iter : int or None
        The iteration (epoch) budget of the fit, filled in like ``solver``.
    """

    iteration: int
    objective: float
    grad_norm: float
    params: np.ndarray
    state: Callable | None = None
    solver: str | None = None
    max_iter: int | None = None


@dataclass
class SolverResult:
    """Outcome of a solver run.

    Attributes
    ----------
    params : ndarray of shape (n_params,)
        Final (for ``non_finite``: last finite) parameters, float64.
    n_iter : int
        Iterations (epochs for stochastic solvers) performed.
    stop_reason : str
        One of ``"converged"``, ``"max_iter"``, ``"line_search_failed"``,
        ``"non_finite"``, ``"stopped"``.
    grad_norm : float
        ``max|grad|`` of the full objective at ``params``.
    objective_history : list of float
        Objective at the start point and after every iteration.
    message : str
        One human-readable sentence on why the solver stopped.
    state : dict or None
        Solver state to continue from (stochastic solvers; used by
        ``partial_fit``).
    """

    params: np.ndarray
    n_iter: int
    stop_reason: str
    grad_norm: float
    objective_history: list = field(default_factory=list)
    message: str = ""
    state: dict | None = None

    @property
    def converged(self):
        """bool: whether the stop reason is ``"converged"``."""
        return self.stop_reason == CONVERGED


def quiet_float_errors(function):
    """Decorator for solver loops: silence NumPy's overflow/invalid warnings.

    Solvers detect inf and NaN explicitly (stop reason ``non_finite``), so the
    warnings would only repeat what the result says. A fresh ``errstate`` per
    call keeps this safe under nesting and threads.
    """

    @functools.wraps(function)
    def quiet(*args, **kwargs):
        with np.errstate(over="ignore", invalid="ignore"):
            return function(*args, **kwargs)

    return quiet


def max_abs(vector):
    """``max|v|`` as a float (0 for an empty vector): the convergence measure."""
    return float(np.max(np.abs(vector))) if vector.size else 0.0


def is_finite(value, grad):
    """Whether a value and its gradient are free of NaN and inf."""
    return bool(np.isfinite(value) and np.all(np.isfinite(grad)))


def report(callback, iteration, value, grad_norm, params, state=None):
    """Call ``callback`` (if any) and return True when it asks to stop.

    ``state`` is a zero-argument function returning the solver's state (built
    with :func:`run_state`), handed to the callback as ``Iteration.state``.
    """
    if callback is None:
        return False
    return bool(callback(Iteration(iteration, value, grad_norm, params, state)))


def run_state(x, value, grad, history, n_iter, **extra):
    """The state every solver saves: point, value, gradient, history, iteration count.

    ``extra`` holds the solver's own arrays and numbers (copied).

    Returns
    -------
    dict
    """
    state = {
        "x": np.array(x, dtype=np.float64),
        "value": float(value),
        "grad": np.array(grad, dtype=np.float64),
        "history": np.asarray(history, dtype=np.float64),
        "n_iter": int(n_iter),
    }
    state.update({k: np.array(v) if isinstance(v, np.ndarray) else v for k, v in extra.items()})
    return state


def resume_point(resume):
    """``(x, value, grad, history, n_iter)`` from a saved state, as the loop left them."""
    return (
        np.array(resume["x"], dtype=np.float64),
        float(resume["value"]),
        np.array(resume["grad"], dtype=np.float64),
        [float(v) for v in np.asarray(resume["history"])],
        int(resume["n_iter"]),
    )


def finish(params, n_iter, stop_reason, grad_norm, history, tol, state=None):
    """Build the :class:`SolverResult`, with a message that says why it stopped."""
    if stop_reason == CONVERGED:
        message = f"max|grad| = {grad_norm:.3g} <= tol = {tol:.3g} after {n_iter} iterations"
    elif stop_reason == MAX_ITER:
        message = f"reached max_iter = {n_iter} with max|grad| = {grad_norm:.3g} > tol = {tol:.3g}"
    elif stop_reason == LINE_SEARCH_FAILED:
        message = (
            f"no step decreased the objective at iteration {n_iter + 1} with "
            f"max|grad| = {grad_norm:.3g} > tol = {tol:.3g}; usually the objective is at the "
            "limit of floating-point precision for this tol"
        )
    elif stop_reason == NON_FINITE:
        message = (
            f"the objective or gradient became NaN or inf at iteration {n_iter + 1}; "
            "the last finite parameters were kept"
        )
    else:
        message = f"stopped by the callback after {n_iter} iterations"
    return SolverResult(
        params=params,
        n_iter=n_iter,
        stop_reason=stop_reason,
        grad_norm=grad_norm,
        objective_history=list(history),
        message=message,
        state=state,
    )
