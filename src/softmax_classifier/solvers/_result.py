"""What every solver returns: stop reasons, the callback's report, the result.

The loop that produces them is :mod:`softmax_classifier.solvers._driver`.
"""

from __future__ import annotations

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
        ``partial_fit``); None for the full-batch solvers.
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


def max_abs(vector):
    """``max|v|`` as a float (0 for an empty vector): the convergence measure."""
    return float(np.max(np.abs(vector))) if vector.size else 0.0


def is_finite(value, grad):
    """Whether a value and its gradient are free of NaN and inf."""
    return bool(np.isfinite(value) and np.all(np.isfinite(grad)))


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
