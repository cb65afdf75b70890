"""The epochs of the mini-batch solvers, and learning-rate schedules.

A mini-batch method is a pair of pure functions in the style of optax:
``init(params) -> state`` and ``update(grad, state, learning_rate) -> (step,
state)``, with the state a dict of arrays and numbers. This module feeds them
mini-batch gradients and applies schedules, one epoch a driver step
(:func:`softmax_classifier.solvers._driver.run`, which checks convergence on
the full objective after each epoch, reports, and saves checkpoints), and hands
the state back so that a later call (``partial_fit``, a resume) continues
exactly where this one stopped.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import NamedTuple

import numpy as np

from softmax_classifier.solvers._driver import (
    Method,
    SolverState,
    from_entry,
    run,
    start,
    to_entry,
)
from softmax_classifier.solvers._result import NON_FINITE, is_finite

__all__ = ["SCHEDULES", "EpochPlan", "EpochState", "largest_curvature", "run_epochs"]


def largest_curvature(objective, params, n_iter=10):
    """Estimate the Hessian's largest eigenvalue at ``params`` by power iteration.

    Costs ``n_iter`` Hessian-vector products (data passes). The start vector is
    fixed, so the estimate is deterministic.

    Parameters
    ----------
    objective : object
        Provides ``hessp(params, vector)`` and ``n_params``.
    params : ndarray of shape (n_params,)
    n_iter : int, default=10

    Returns
    -------
    float
    """
    vector = np.random.default_rng(0).standard_normal(objective.n_params)
    vector /= np.linalg.norm(vector)
    estimate = 0.0
    for _ in range(n_iter):
        product = objective.hessp(params, vector)
        estimate = float(np.linalg.norm(product))
        if estimate == 0.0:
            break
        vector = product / estimate
    return estimate


def _constant(epoch, n_epochs):
    return 1.0


def _inverse_sqrt(epoch, n_epochs):
    return 1.0 / math.sqrt(1.0 + epoch)


def _inverse_time(epoch, n_epochs):
    return 1.0 / (1.0 + epoch)


def _cosine(epoch, n_epochs):
    # Decays from 1 to 0.01 over n_epochs, then stays there.
    progress = min(epoch / max(1, n_epochs - 1), 1.0)
    return 0.01 + 0.99 * 0.5 * (1.0 + math.cos(math.pi * progress))


#: Learning-rate multiplier as a function of the 0-based epoch and the planned
#: number of epochs (``max_iter``).
SCHEDULES = {
    "constant": _constant,
    "inverse_sqrt": _inverse_sqrt,
    "inverse_time": _inverse_time,
    "cosine": _cosine,
}


class EpochPlan(NamedTuple):
    """How the epochs of a mini-batch run are laid out.

    Attributes
    ----------
    learning_rate : float
        Base step size, multiplied by ``SCHEDULES[schedule](epoch, max_iter)``.
        Stored in the state; a continued run uses the stored value.
    schedule : str
        A key of :data:`SCHEDULES`.
    batch_size : int
    max_iter : int
        Epochs to run (with ``resume``: in all).
    random_state : int
        Seed; epoch ``e`` is shuffled by ``numpy.random.default_rng([seed, e])``
        so a continued run draws the same batches as an uninterrupted one.
    """

    learning_rate: float
    schedule: str
    batch_size: int
    max_iter: int
    random_state: int


_PREFIX = "optimizer."  # a checkpoint's entries of the optimizer's state start with it


@dataclasses.dataclass(frozen=True, eq=False)
class EpochState(SolverState):
    """A mini-batch run's state: the point after an epoch, and the optimizer's state.

    ``value`` and ``grad`` are the full objective's.

    Attributes
    ----------
    optimizer : dict
        The method's state (``init``/``update``) with ``"epoch"`` and
        ``"learning_rate"``; saved as entries ``"optimizer.<key>"``.
    """

    optimizer: dict

    def own_entries(self):
        """``{"optimizer.<key>": value}``, arrays copied."""
        return {f"{_PREFIX}{k}": to_entry(v, self.x.size) for k, v in self.optimizer.items()}

    @classmethod
    def own_fields(cls, saved):
        """``optimizer`` from the entries ``"optimizer.<key>"`` (0-d arrays as numbers)."""
        own = {k[len(_PREFIX) :]: from_entry(v) for k, v in saved.items() if k.startswith(_PREFIX)}
        return {"optimizer": own}


def run_epochs(objective, x0, init, update, plan, *, tol, callback=None, state=None, resume=None):
    """Run epochs of mini-batch updates.

    Parameters
    ----------
    objective : object
        Provides ``value_and_grad``, ``batches`` and ``batch_value_and_grad``.
    x0 : ndarray of shape (n_params,)
    init, update : callable
        The method's pure functions (see the module docstring).
    plan : EpochPlan
    tol : float
        Stop when ``max|grad| <= tol`` for the full objective after an epoch.
    callback : callable, optional
    state : dict, optional
        State returned by an earlier call (continue from it); ``None`` starts
        fresh with ``init(x0)``.
    resume : dict, optional
        ``Iteration.state()`` of an earlier run (a checkpoint): continue
        exactly where it was, ``max_iter`` counting all epochs.

    Returns
    -------
    SolverResult
        ``n_iter`` counts the epochs of this call; ``state["epoch"]`` the total.
    """
    if plan.schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {plan.schedule!r}; choose from {sorted(SCHEDULES)}")
    method = Method(
        functools.partial(_start, init=init, optimizer=state, learning_rate=plan.learning_rate),
        functools.partial(_epoch, update=update, plan=plan),
        EpochState.restore,
        result_state=lambda state: state.optimizer,
    )
    return run(
        objective, x0, method, max_iter=plan.max_iter, tol=tol, callback=callback, resume=resume
    )


def _start(objective, x0, *, init, optimizer, learning_rate):
    x, value, grad = start(objective, x0)
    if optimizer is None:
        # The base rate is part of the state so that a continued run keeps it.
        optimizer = {**init(x), "learning_rate": float(learning_rate)}
    return EpochState(x, value, grad, optimizer)


def _epoch(objective, state, *, update, plan):
    """One epoch of mini-batch updates, then the full objective: the driver's step."""
    optimizer = state.optimizer
    epoch = optimizer["epoch"]
    rate = optimizer["learning_rate"] * SCHEDULES[plan.schedule](epoch, plan.max_iter)
    rng = np.random.default_rng([plan.random_state, epoch])
    # update() returns new arrays and never mutates the state it is given, so
    # `state` stays intact should this epoch end in NaN.
    x_new = state.x.copy()
    new_optimizer = optimizer
    for batch in objective.batches(plan.batch_size, rng):
        _, batch_grad = objective.batch_value_and_grad(x_new, batch)
        step, new_optimizer = update(batch_grad, new_optimizer, rate)
        x_new += step
    new_optimizer = {**new_optimizer, "epoch": epoch + 1}
    value_new, grad_new = objective.value_and_grad(x_new)
    if not is_finite(value_new, grad_new):
        return state, NON_FINITE
    return EpochState(x_new, value_new, grad_new, new_optimizer), None
