"""The fit's progress display, and Ctrl-C during the fit (stop after the current iteration).

What the display shows comes from the estimator: each callback's
:class:`~softmax_classifier.solvers.Iteration` carries the solver that runs
(``"auto"`` resolved) and the iteration budget, so nothing here guesses them.
"""

from __future__ import annotations

import math
import signal
import threading
import warnings

from softmax_classifier.cli._common import unit

__all__ = ["StopOnInterrupt", "fit_with_progress", "progress_to_tol"]


def fit_with_progress(model, X, y, console, *, quiet, resume=False):
    """Fit ``model`` with a progress display; Ctrl-C stops after the current iteration.

    The display shows what is known: the solver and its iteration (or epoch),
    the objective, ``max|gradient|`` against ``tol``, the elapsed time, and a
    bar of the progress of the gradient norm towards ``tol`` on a log scale
    (with ``tol=0``, where only the budget ends the fit, of the iterations
    towards it). No time left is estimated: most fits stop long before
    ``max_iter``.

    Parameters
    ----------
    model : SoftmaxClassifier
        Not fitted yet; ``model.fit(X, y, callback=..., resume=resume)`` is called.
    X : array-like of shape (n_samples, n_features), or a data source
    y : array-like of shape (n_samples,) or None
        None for a data source (it brings its labels).
    console : rich.console.Console
        Where the display and the fit's warnings (``softmax: warning: ...``) go.
    quiet : bool
        No display (warnings are still printed).
    resume : bool, default=False
        Passed to ``fit``.

    Returns
    -------
    bool
        True when the fit was interrupted (the model then holds the last
        parameters the solver reported). A second Ctrl-C aborts at once.
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    tol = float(model.tol or 0.0)
    columns = [
        TextColumn("{task.description} {task.fields[iteration]}", markup=False),
        TextColumn("objective {task.fields[objective]}", markup=False),
        TextColumn("max|grad| {task.fields[grad]} (tol " + f"{tol:.0e})", markup=False),
        BarColumn(),
        TimeElapsedColumn(),
    ]
    stop = threading.Event()
    first_grad = []
    with (
        StopOnInterrupt(stop),
        Progress(*columns, console=console, disable=quiet) as progress,
        warnings.catch_warnings(record=True) as caught,
    ):
        warnings.simplefilter("always")
        task = progress.add_task("starting", total=1.0, iteration="", objective="-", grad="-")

        def callback(info):
            grad = float(info.grad_norm)
            if not first_grad and math.isfinite(grad) and grad > 0:
                first_grad.append(grad)
            if tol > 0:
                completed = progress_to_tol(first_grad[0] if first_grad else grad, grad, tol)
            else:
                completed = min(1.0, info.iteration / max(1, info.max_iter or 0))
            progress.update(
                task,
                description=f"{info.solver} {unit(info.solver)}",
                completed=completed,
                iteration=info.iteration,
                objective=f"{info.objective:.6g}",
                grad=f"{grad:.2e}",
            )
            return stop.is_set()

        model.fit(X, y, callback=callback, resume=resume)
        if model.fit_report_.stop_reason == "converged":
            progress.update(task, completed=1.0)
    for warning in caught:
        console.print(f"softmax: warning: {warning.message}")
    return stop.is_set()


def progress_to_tol(first, current, tol):
    """How far ``max|gradient|`` went from ``first`` towards ``tol``, in [0, 1], log scale.

    Parameters
    ----------
    first, current : float
        The first finite positive gradient norm of the fit, and the current one.
    tol : float

    Returns
    -------
    float
    """
    if not (tol > 0 and math.isfinite(current) and current > 0 and first > tol):
        return 0.0 if not (0 < current <= tol) else 1.0
    return min(1.0, max(0.0, math.log(first / current) / math.log(first / tol)))


class StopOnInterrupt:
    """While active, the first SIGINT sets ``event`` instead of raising.

    Parameters
    ----------
    event : threading.Event
        Set by the first Ctrl-C; the fit's callback reads it and stops.
    """

    def __init__(self, event):
        self.event = event
        self.previous = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        self.event.set()
        signal.signal(signal.SIGINT, self.previous)  # a second Ctrl-C interrupts

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
        return False
