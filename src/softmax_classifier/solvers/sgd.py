"""Mini-batch stochastic gradient descent with momentum (heavy-ball or Nesterov)."""

from __future__ import annotations

import functools

import numpy as np

from softmax_classifier.solvers._stochastic import EpochPlan, largest_curvature, run_epochs

__all__ = ["init", "minimize", "update"]


def init(params):
    """Fresh state for ``params`` (n_params,): zero velocity, epoch 0.

    Returns
    -------
    dict
    """
    return {"epoch": 0, "velocity": np.zeros_like(params)}


def update(grad, state, learning_rate, *, momentum=0.0, nesterov=False):
    r"""One SGD step from a mini-batch gradient.

    With ``momentum=0`` the step is note ``004``'s :math:`-\gamma \nabla L_t`;
    otherwise :math:`v \leftarrow \mu v + g` and the step is :math:`-\gamma v`
    (or :math:`-\gamma (g + \mu v)` with Nesterov's correction).

    Parameters
    ----------
    grad : ndarray of shape (n_params,)
    state : dict
        From :func:`init` or a previous :func:`update`.
    learning_rate : float
    momentum : float, default=0.0
    nesterov : bool, default=False

    Returns
    -------
    step : ndarray of shape (n_params,)
        To be added to the parameters.
    state : dict
    """
    if momentum == 0.0:
        return -learning_rate * grad, state
    velocity = momentum * state["velocity"] + grad
    direction = grad + momentum * velocity if nesterov else velocity
    return -learning_rate * direction, {**state, "velocity": velocity}


def minimize(
    objective,
    x0,
    *,
    max_iter=200,
    tol=1e-5,
    learning_rate="auto",
    schedule="cosine",
    batch_size=32,
    momentum=0.0,
    nesterov=False,
    random_state=0,
    callback=None,
    state=None,
    resume=None,
):
    """Minimise by epochs of shuffled mini-batch SGD.

    Parameters
    ----------
    objective : object
        Provides ``value_and_grad``, ``batches``, ``batch_value_and_grad`` and
        ``lipschitz_bound``.
    x0 : ndarray of shape (n_params,)
    max_iter : int, default=200
        Epochs.
    tol : float, default=1e-5
        Stop when the full objective's ``max|grad| <= tol`` after an epoch.
    learning_rate : float or "auto", default="auto"
        ``"auto"`` is ``(1 - momentum) * min(batch_size / L, 1 / lambda)``:
        ``L = objective.lipschitz_bound()`` bounds one example's curvature, so
        ``1 / L`` is the safe per-example step, grown with the batch size as the
        gradient noise shrinks; ``lambda`` is the largest Hessian eigenvalue at
        ``x0`` (10 steps of power iteration), the limit of a full-batch step.
    schedule : str, default="cosine"
        ``"constant"``, ``"inverse_sqrt"``, ``"inverse_time"`` or ``"cosine"``
        (multiplier per epoch, see :data:`SCHEDULES`).
    batch_size : int, default=32
        ``1`` gives note ``004``'s per-example updates.
    momentum : float, default=0.0
    nesterov : bool, default=False
    random_state : int, default=0
    callback : callable, optional
    state : dict, optional
        Continue from the state of an earlier result.
    resume : dict, optional
        ``Iteration.state()`` of an earlier run (a checkpoint): continue exactly
        where it was.

    Returns
    -------
    SolverResult
    """
    method = functools.partial(update, momentum=momentum, nesterov=nesterov)
    if learning_rate == "auto" and state is None and resume is None:
        per_example = batch_size / objective.lipschitz_bound()
        full_batch = 1.0 / max(largest_curvature(objective, x0), 1e-12)
        learning_rate = (1.0 - momentum) * min(per_example, full_batch)

    plan = EpochPlan(learning_rate, schedule, batch_size, max_iter, random_state)
    return run_epochs(
        objective, x0, init, method, plan, tol=tol, callback=callback, state=state, resume=resume
    )
