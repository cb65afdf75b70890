"""The epoch loop shared by the mini-batch solvers, and learning-rate schedules.

A mini-batch method is a pair of pure functions in the style of optax:
``init(params) -> state`` and ``update(grad, state, learning_rate) -> (step,
state)``, with the state a dict of arrays and numbers. This module feeds them
mini-batch gradients, applies schedules, checks convergence on the full
objective after each epoch, and hands the state back so that a later call
(``partial_fit``, a resume) continues exactly where this one stopped.
"""

from __future__ import annotations

import math

import numpy as np

from softmax_classifier.solvers._result import (
    CONVERGED,
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

__all__ = ["SCHEDULES", "largest_curvature", "run_epochs"]


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


@quiet_float_errors
def run_epochs(
    objective,
    x0,
    init,
    update,
    *,
    learning_rate,
    schedule,
    batch_size,
    max_iter,
    tol,
    random_state,
    callback=None,
    state=None,
    resume=None,
):
    """Run epochs of mini-batch updates.

    Parameters
    ----------
    objective : object
        Provides ``value_and_grad``, ``batches`` and ``batch_value_and_grad``.
    x0 : ndarray of shape (n_params,)
    init, update : callable
        The method's pure functions (see the module docstring).
    learning_rate : float
        Base step size, multiplied by ``SCHEDULES[schedule](epoch, max_iter)``.
        Stored in the state; a continued run uses the stored value.
    schedule : str
        A key of :data:`SCHEDULES`.
    batch_size : int
    max_iter : int
        Epochs to run in this call.
    tol : float
        Stop when ``max|grad| <= tol`` for the full objective after an epoch.
    random_state : int
        Seed; epoch ``e`` is shuffled by ``numpy.random.default_rng([seed, e])``
        so a continued run draws the same batches as an uninterrupted one.
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
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}; choose from {sorted(SCHEDULES)}")
    if resume is None:
        x = np.array(x0, dtype=np.float64)
        if state is None:
            # The base rate is part of the state so that a continued run keeps it.
            state = {**init(x), "learning_rate": float(learning_rate)}
        value, grad = objective.value_and_grad(x)
        history, n_iter = [value], 0
        if not is_finite(value, grad):
            return finish(x, 0, NON_FINITE, float("nan"), history, tol, state)
    else:
        x, value, grad, history, n_iter = resume_point(resume)
        prefix = "optimizer."
        state = {
            k[len(prefix) :]: _scalar_or_array(v) for k, v in resume.items() if k.startswith(prefix)
        }

    def whole_state():
        return run_state(
            x, value, grad, history, n_iter, **{f"optimizer.{k}": v for k, v in state.items()}
        )

    while True:
        if max_abs(grad) <= tol:
            stop = CONVERGED
            break
        if n_iter >= max_iter:
            stop = MAX_ITER
            break
        epoch = state["epoch"]
        rate = state["learning_rate"] * SCHEDULES[schedule](epoch, max_iter)
        rng = np.random.default_rng([random_state, epoch])
        # update() returns new arrays and never mutates the state it is given, so
        # `state` stays intact should this epoch end in NaN.
        x_new = x.copy()
        new_state = state
        for batch in objective.batches(batch_size, rng):
            _, batch_grad = objective.batch_value_and_grad(x_new, batch)
            step, new_state = update(batch_grad, new_state, rate)
            x_new += step
        new_state = {**new_state, "epoch": epoch + 1}
        value_new, grad_new = objective.value_and_grad(x_new)
        if not is_finite(value_new, grad_new):
            stop = NON_FINITE
            break
        x, value, grad, state = x_new, value_new, grad_new, new_state
        n_iter += 1
        history.append(value)
        if report(callback, n_iter, value, max_abs(grad), x, whole_state):
            stop = STOPPED
            break
    return finish(x, n_iter, stop, max_abs(grad), history, tol, state)


def _scalar_or_array(value):
    """A saved state entry as the optimizer keeps it: 0-d arrays become Python numbers."""
    value = np.asarray(value)
    return value.item() if value.ndim == 0 else np.array(value)
