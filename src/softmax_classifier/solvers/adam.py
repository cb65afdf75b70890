"""Adam: mini-batch steps scaled by running moment estimates (Kingma & Ba, 2015)."""

from __future__ import annotations

import functools

import numpy as np

from softmax_classifier.solvers._stochastic import EpochPlan, run_epochs

__all__ = ["init", "minimize", "update"]


def init(params):
    """Fresh state for ``params`` (n_params,): zero moments, step 0, epoch 0.

    Returns
    -------
    dict
    """
    return {
        "epoch": 0,
        "step": 0,
        "mean": np.zeros_like(params),
        "second_moment": np.zeros_like(params),
    }


def update(grad, state, learning_rate, *, beta1=0.9, beta2=0.999, epsilon=1e-8):
    r"""One Adam step from a mini-batch gradient.

    :math:`m \leftarrow \beta_1 m + (1-\beta_1) g`, :math:`v \leftarrow \beta_2 v +
    (1-\beta_2) g^2`, step :math:`-\gamma \hat m / (\sqrt{\hat v} + \epsilon)` with
    the bias corrections :math:`\hat m = m / (1 - \beta_1^t)`, :math:`\hat v = v /
    (1 - \beta_2^t)`.

    Parameters
    ----------
    grad : ndarray of shape (n_params,)
    state : dict
    learning_rate : float
    beta1, beta2, epsilon : float

    Returns
    -------
    step : ndarray of shape (n_params,)
    state : dict
    """
    t = int(state["step"]) + 1
    mean = beta1 * state["mean"] + (1.0 - beta1) * grad
    second_moment = beta2 * state["second_moment"] + (1.0 - beta2) * grad * grad
    mean_hat = mean / (1.0 - beta1**t)
    second_hat = second_moment / (1.0 - beta2**t)
    step = -learning_rate * mean_hat / (np.sqrt(second_hat) + epsilon)
    return step, {**state, "step": t, "mean": mean, "second_moment": second_moment}


def minimize(
    objective,
    x0,
    *,
    max_iter=200,
    tol=1e-5,
    learning_rate="auto",
    schedule="cosine",
    batch_size=32,
    beta1=0.9,
    beta2=0.999,
    epsilon=1e-8,
    random_state=0,
    callback=None,
    state=None,
    resume=None,
):
    """Minimise by epochs of shuffled mini-batch Adam steps.

    Parameters
    ----------
    objective : object
        Provides ``value_and_grad``, ``batches`` and ``batch_value_and_grad``.
    x0 : ndarray of shape (n_params,)
    max_iter : int, default=200
        Epochs.
    tol : float, default=1e-5
    learning_rate : float or "auto", default="auto"
        ``"auto"`` is 0.01 (the usual 1e-3 is too timid for this convex,
        well-scaled problem when the features are standardised).
    schedule : str, default="cosine"
        See :data:`softmax_classifier.solvers._stochastic.SCHEDULES`.
    batch_size : int, default=32
    beta1, beta2, epsilon : float
    random_state : int, default=0
    callback : callable, optional
    state : dict, optional
        Continue from the optimizer state of an earlier result (``partial_fit``).
    resume : dict, optional
        ``Iteration.state()`` of an earlier run (a checkpoint): continue exactly
        where it was.

    Returns
    -------
    SolverResult
    """
    method = functools.partial(update, beta1=beta1, beta2=beta2, epsilon=epsilon)
    if learning_rate == "auto" and state is None and resume is None:
        learning_rate = 1e-2

    plan = EpochPlan(learning_rate, schedule, batch_size, max_iter, random_state)
    return run_epochs(
        objective, x0, init, method, plan, tol=tol, callback=callback, state=state, resume=resume
    )
