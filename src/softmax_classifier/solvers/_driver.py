"""The one loop every solver runs, and the explicit state it runs on.

A solver is written in the style of optax's ``init``/``update`` pair, with its
whole state as plain data:

* a state: a frozen dataclass extending :class:`SolverState` (the point ``x``
  and the objective's ``value`` and ``grad`` there) with the solver's own
  arrays and numbers (``GdState.step``, ``LbfgsState.steps``, ...);
* ``init(objective, x0, ...) -> state``: one evaluation at the start point;
* ``step(objective, state, ...) -> (state, stop)``: one iteration, giving the
  next state and None, or the state it was given and the reason no step could
  be taken (:data:`~softmax_classifier.solvers._result.LINE_SEARCH_FAILED` or
  :data:`~softmax_classifier.solvers._result.NON_FINITE`).

:func:`run` does the rest, written once: the start point or a resumed
checkpoint, the tests for convergence and ``max_iter``, the objective history,
the report to the callback (an :class:`~softmax_classifier.solvers.Iteration`
whose ``state()`` is the checkpoint, :meth:`SolverState.saved`), and the
:class:`~softmax_classifier.solvers.SolverResult` with its stop reason and
message. The mini-batch solvers run their epochs through it as well
(:mod:`softmax_classifier.solvers._stochastic`).

A checkpoint is a dict of arrays and numbers: ``x``, ``value``, ``grad``,
``history``, ``n_iter`` and one entry per field of the solver's state
(:meth:`SolverState.own_entries`); ``restore`` reads it back, so that a run
resumed from it repeats the uninterrupted run's arithmetic exactly.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from softmax_classifier.solvers._result import (
    CONVERGED,
    MAX_ITER,
    NON_FINITE,
    STOPPED,
    Iteration,
    finish,
    is_finite,
    max_abs,
)

__all__ = ["Method", "SolverState", "from_entry", "quiet_float_errors", "run", "start", "to_entry"]

_POINT_FIELDS = 3  # x, value, grad: the fields every state begins with


@dataclasses.dataclass(frozen=True, eq=False)
class SolverState:
    """The part of every solver's state that the driver reads.

    Solvers extend it with their own fields (arrays, numbers, tuples of
    vectors); it is never modified in place: a step returns a new state.

    Attributes
    ----------
    x : ndarray of shape (n_params,)
        The current parameters, float64.
    value : float
        The objective at ``x``.
    grad : ndarray of shape (n_params,)
        The objective's gradient at ``x``.
    """

    x: np.ndarray
    value: float
    grad: np.ndarray

    def saved(self, history, n_iter):
        """The checkpoint of a run that reached this state.

        Parameters
        ----------
        history : sequence of float
            Objective at the start point and after every iteration.
        n_iter : int
            Iterations so far.

        Returns
        -------
        dict
            ``x``, ``value``, ``grad``, ``history``, ``n_iter`` and
            :meth:`own_entries`, arrays copied.
        """
        saved = {
            "x": np.array(self.x, dtype=np.float64),
            "value": float(self.value),
            "grad": np.array(self.grad, dtype=np.float64),
            "history": np.asarray(history, dtype=np.float64),
            "n_iter": int(n_iter),
        }
        saved.update(self.own_entries())
        return saved

    def own_entries(self):
        """The solver's own fields as checkpoint entries, one per field.

        Arrays are copied; a tuple of vectors (L-BFGS's step pairs) becomes a
        2-D array of shape (len, n_params), one vector a row.

        Returns
        -------
        dict
        """
        own = dataclasses.fields(self)[_POINT_FIELDS:]
        return {f.name: to_entry(getattr(self, f.name), self.x.size) for f in own}

    @classmethod
    def own_fields(cls, saved):
        """The solver's own fields read back from :meth:`own_entries`.

        Parameters
        ----------
        saved : mapping
            A checkpoint (0-d arrays, as from a ``.npz`` file, are numbers again).

        Returns
        -------
        dict
            Keyword arguments for the state's constructor.
        """
        own = dataclasses.fields(cls)[_POINT_FIELDS:]
        return {f.name: from_entry(saved[f.name], f.default) for f in own}

    @classmethod
    def initial(cls, objective, x0):
        """The state at the start point ``x0`` (one evaluation), own fields at their defaults.

        The ``init`` of solvers whose own fields start empty (L-BFGS's step
        pairs; Newton's, which has none). ``objective`` and ``x0`` (shape
        (n_params,)) are as for :func:`start`.

        Returns
        -------
        SolverState
            An instance of ``cls``.
        """
        return cls(*start(objective, x0))

    @classmethod
    def restore(cls, saved):
        """The state a checkpoint was saved from.

        Parameters
        ----------
        saved : mapping
            ``Iteration.state()`` of an earlier run, or that dict read back
            from a file.

        Returns
        -------
        SolverState
            An instance of ``cls``.
        """
        return cls(
            np.array(saved["x"], dtype=np.float64),
            float(saved["value"]),
            np.array(saved["grad"], dtype=np.float64),
            **cls.own_fields(saved),
        )


class Method(NamedTuple):
    """One solver's pieces for :func:`run`, their options already bound.

    Attributes
    ----------
    init : callable
        ``init(objective, x0) -> state``, a :class:`SolverState`.
    step : callable
        ``step(objective, state) -> (state, stop)``: the next state and None,
        or ``state`` and a stop reason.
    restore : callable
        ``restore(saved) -> state`` from a checkpoint.
    result_state : callable or None, default=None
        ``result_state(state)`` is the result's ``state``, what a later call
        continues from (the mini-batch solvers' optimizer state); None gives
        None.
    """

    init: Callable
    step: Callable
    restore: Callable
    result_state: Callable | None = None


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


def start(objective, x0):
    """The start point as float64 and the objective there (one evaluation).

    Parameters
    ----------
    objective : object
        Provides ``value_and_grad(params)``.
    x0 : array-like of shape (n_params,)

    Returns
    -------
    x : ndarray of shape (n_params,), float64
    value : float
    grad : ndarray of shape (n_params,)
    """
    x = np.array(x0, dtype=np.float64)
    value, grad = objective.value_and_grad(x)
    return x, value, grad


@quiet_float_errors
def run(objective, x0, method, *, max_iter, tol, callback=None, resume=None):
    """Iterate ``method.step`` from ``x0`` (or a checkpoint) until a stop reason.

    Stops with ``"converged"`` when ``max|grad| <= tol`` (tested first, so a
    start point that is already optimal takes no step), ``"max_iter"`` after
    ``max_iter`` iterations, the step's own reason when it could not take one,
    ``"stopped"`` when the callback returns True, and ``"non_finite"`` when the
    start point's objective is NaN or infinite.

    Parameters
    ----------
    objective : object
        Handed to ``method.init`` and ``method.step``; the driver calls none of
        its methods.
    x0 : ndarray of shape (n_params,)
        Start point (ignored when resuming).
    method : Method
    max_iter : int
        Iterations in all, those before a resume included.
    tol : float
    callback : callable, optional
        Called with an :class:`~softmax_classifier.solvers.Iteration` after
        each iteration; returning True stops.
    resume : dict, optional
        ``Iteration.state()`` of an earlier run: continue exactly where it was.

    Returns
    -------
    SolverResult
    """
    keep = method.result_state or _nothing
    if resume is None:
        state = method.init(objective, x0)
        history, n_iter = [state.value], 0
        if not is_finite(state.value, state.grad):
            return finish(state.x, 0, NON_FINITE, float("nan"), history, tol, keep(state))
    else:
        state = method.restore(resume)
        history = [float(v) for v in np.asarray(resume["history"])]
        n_iter = int(resume["n_iter"])
    while True:
        if max_abs(state.grad) <= tol:
            stop = CONVERGED
            break
        if n_iter >= max_iter:
            stop = MAX_ITER
            break
        new_state, stop = method.step(objective, state)
        if stop is not None:
            break
        state, n_iter = new_state, n_iter + 1
        history.append(state.value)
        if callback is not None:
            report = Iteration(
                n_iter, state.value, max_abs(state.grad), state.x, _snapshot(state, history, n_iter)
            )
            if callback(report):
                stop = STOPPED
                break
    return finish(state.x, n_iter, stop, max_abs(state.grad), history, tol, keep(state))


def _snapshot(state, history, n_iter):
    """``Iteration.state``: the checkpoint of this iteration, built only when called."""
    count = len(history)  # later iterations append to `history`; this one saw `count`
    return lambda: state.saved(history[:count], n_iter)


def _nothing(state):
    return None


def to_entry(value, n_params):
    """A state's field as a checkpoint entry.

    Parameters
    ----------
    value : ndarray, tuple of ndarray of shape (n_params,), or number
    n_params : int

    Returns
    -------
    ndarray or number
        A copy of an array; a tuple of vectors as an array of shape
        (len(value), n_params); a number as it is.
    """
    if isinstance(value, tuple):
        return np.array(value).reshape(len(value), n_params)
    return np.array(value) if isinstance(value, np.ndarray) else value


def from_entry(entry, default=None):
    """A checkpoint entry as a state's field (the inverse of :func:`to_entry`).

    Parameters
    ----------
    entry : array-like or number
    default : object, optional
        The field's default: a tuple means a tuple of vectors.

    Returns
    -------
    ndarray, tuple of ndarray or number
        The rows of a 2-D entry where ``default`` is a tuple; a 0-d entry as a
        Python number; otherwise a copy of the array.
    """
    entry = np.asarray(entry)
    if isinstance(default, tuple):
        return tuple(np.array(entry))
    return entry.item() if entry.ndim == 0 else np.array(entry)
