"""Runs of the library's own solvers, recorded for the lesson, and ``write_lesson``.

Every frame is an iterate of :class:`~softmax_classifier.SoftmaxClassifier` itself,
captured by its ``callback`` (``Iteration.params``, the flat vector whose dense layout is
class-major: ``coef = params[:c*d].reshape(c, d)``, ``intercept = params[c*d:]``).

Shapes: ``X (n_samples, 2)``, ``y (n_samples,)`` class indices, ``coef (n_classes, 2)``,
``intercept (n_classes,)``.
"""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from softmax_classifier.estimator import SoftmaxClassifier
from softmax_classifier.math import loss_gradient

__all__ = [
    "DIVERGING_FACTORS",
    "FRAME_ITERATIONS",
    "LEARNING_RATE_FACTORS",
    "PENALTY_ALPHAS",
    "Run",
    "diverging_run",
    "fit_run",
    "lipschitz_constant",
    "write_lesson",
]

#: Iterations (GD) and epochs (SGD) drawn as frames; 0 is the zero start.
FRAME_ITERATIONS = (0, 1, 2, 5, 10, 20, 50, 100, 200)
#: Learning rates of the learning-rate grid, in units of 1 / lambda (lambda: Lipschitz
#: constant of the gradient), with what each is meant to show.
LEARNING_RATE_FACTORS = (
    (1.0 / 50.0, "too small"),
    (1.0, "right"),
    (2.5, "too large"),
)
#: Candidates for the diverging step, in units of 1 / lambda: the first whose loss ends
#: above the start's is drawn (the cross-entropy saturates, so on nearly separable data
#: only a very large step makes the loss grow); the last one when none does.
DIVERGING_FACTORS = (20.0, 100.0, 1000.0)
#: Iterations of each run of the learning-rate grid.
RATE_ITERATIONS = 100
#: Penalty strengths of the penalty grid.
PENALTY_ALPHAS = (0.0, 0.01, 0.1, 1.0)
#: The small L2 penalty of the frames: keeps separable data's weights finite.
FRAME_ALPHA = 1e-3
#: SGD's constant per-example step, in units of 1 / lambda_max (one example's bound).
SGD_STEP_FACTOR = 0.2
#: Per-example SGD updates the frames may take in all: epochs are capped by it on big data.
MAX_SGD_UPDATES = 120_000


@dataclasses.dataclass
class Run:
    """One fit recorded iteration by iteration.

    Attributes
    ----------
    solver : str
        ``"gd"`` or ``"sgd"``.
    learning_rate : float
    alpha : float
    objective : ndarray of shape (n_iter + 1,)
        The objective at the start (iteration 0) and after each iteration (epoch).
    grad_norm : ndarray of shape (n_iter + 1,)
        ``max|grad|`` at the same points.
    frames : dict of int to (ndarray, ndarray)
        ``{iteration: (coef (c, d), intercept (c,))}`` at the captured iterations that
        the run reached.
    stop_reason : str
        The fit report's.
    final : tuple of (ndarray, ndarray)
        ``(coef, intercept)`` after the last iteration performed (the last finite one).
    """

    solver: str
    learning_rate: float
    alpha: float
    objective: np.ndarray
    grad_norm: np.ndarray
    frames: dict
    stop_reason: str
    final: tuple

    @property
    def n_iter(self):
        """int: iterations (epochs) performed."""
        return len(self.objective) - 1


def lipschitz_constant(X, alpha=0.0):
    r"""Lipschitz constant of the gradient, :math:`\lambda = \frac12 \lambda_{\max}(\tilde X^T
    \tilde X / n) + \alpha` (``docs/math.md``, section 7; :math:`\tilde X = [X, 1]`).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    alpha : float, default=0.0

    Returns
    -------
    float
        ``1 / lambda`` is a step that lowers the objective at every iteration.
    """
    X1 = np.column_stack([X, np.ones(len(X))])
    return 0.5 * float(np.linalg.eigvalsh(X1.T @ X1 / len(X))[-1]) + float(alpha)


def estimator(solver, learning_rate, alpha, max_iter, seed=0):
    """The estimator of a recorded run: a fixed step, no tolerance, raw features.

    ``sgd`` takes note ``004``'s per-example updates (``batch_size=1``) with a constant
    step (``schedule="constant"``, so epoch ``k`` of a longer run is the end of a run of
    ``k`` epochs).

    Returns
    -------
    SoftmaxClassifier
    """
    options = {}
    if solver == "sgd":
        options = {"batch_size": 1, "solver_options": {"schedule": "constant"}}
    return SoftmaxClassifier(
        alpha=alpha,
        solver=solver,
        learning_rate=learning_rate,
        max_iter=max_iter,
        tol=0.0,
        random_state=seed,
        standardize=False,
        **options,
    )


def fit_run(X, y, solver, learning_rate, alpha, max_iter, *, capture=(), seed=0):
    """Fit with the library's solver and record the objective, gradient norm and frames.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
        Class indices ``0 .. n_classes - 1``, every class present.
    solver : {"gd", "sgd"}
    learning_rate : float
    alpha : float
    max_iter : int
        Iterations (GD) or epochs (SGD).
    capture : sequence of int, default=()
        Iterations whose parameters are kept (0: the zero start).
    seed : int, default=0
        ``random_state`` (SGD's shuffling).

    Returns
    -------
    Run
    """
    n_classes, n_features = int(y.max()) + 1, X.shape[1]
    n_coef = n_classes * n_features
    wanted = set(capture)
    objective, grad_norm, frames = [], [], {}
    zero_coef, zero_intercept = np.zeros((n_classes, n_features)), np.zeros(n_classes)
    value, g_coef, g_intercept = loss_gradient(zero_coef, zero_intercept, X, y, alpha=alpha)
    objective.append(value)
    grad_norm.append(max(np.abs(g_coef).max(), np.abs(g_intercept).max()))
    if 0 in wanted:
        frames[0] = (zero_coef, zero_intercept)
    final = [(zero_coef, zero_intercept)]

    def record(iteration):
        objective.append(iteration.objective)
        grad_norm.append(iteration.grad_norm)
        params = np.array(iteration.params, dtype=np.float64)
        final[0] = (params[:n_coef].reshape(n_classes, n_features), params[n_coef:])
        if iteration.iteration in wanted:
            frames[iteration.iteration] = final[0]

    model = estimator(solver, learning_rate, alpha, max_iter, seed)
    with warnings.catch_warnings():
        # A fixed number of steps with tol=0 never "converges": expected here.
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y, callback=record)
    return Run(
        solver,
        float(learning_rate),
        float(alpha),
        np.array(objective),
        np.array(grad_norm),
        frames,
        model.fit_report_.stop_reason,
        final[0],
    )


def diverging_run(X, y, lam):
    """GD with the first step of :data:`DIVERGING_FACTORS` ``/ lam`` whose loss grows.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
        Class indices.
    lam : float
        The Lipschitz constant the steps are measured in.

    Returns
    -------
    Run
        :data:`RATE_ITERATIONS` iterations (fewer if the loss became non-finite) whose
        final loss is above the start's, or the run of the last candidate if none is.
    """
    for factor in DIVERGING_FACTORS:
        run = fit_run(X, y, "gd", factor / lam, FRAME_ALPHA, RATE_ITERATIONS)
        if run.stop_reason == "non_finite" or run.objective[-1] > run.objective[0]:
            break
    return run


def write_lesson(X, y, folder, *, feature_names=("x1", "x2"), class_names=None, seed=0):
    """Write the whole lesson on two-dimensional data into ``folder``.

    Full-batch gradient descent (note ``003``, fixed step ``1 / lambda``) and per-example
    SGD (note ``004``, ``batch_size=1``, constant step) of :class:`SoftmaxClassifier` on
    the raw features with ``alpha = 1e-3``, drawn at iterations (epochs)
    :data:`FRAME_ITERATIONS`; one example traced through the formulas; the learning-rate
    and penalty grids. On big data SGD runs fewer epochs (:data:`MAX_SGD_UPDATES`
    per-example steps in all; its last epoch is drawn for the later frames) and at most
    2,000 points are drawn per panel.

    Parameters
    ----------
    X : array-like of shape (n_samples, 2)
    y : array-like of shape (n_samples,)
        Labels of any type, at least two classes.
    folder : str or path-like
        Created if missing; files of the same names are replaced.
    feature_names : sequence of str of shape (2,), default=("x1", "x2")
    class_names : sequence of str of shape (n_classes,) or None
        Names of the sorted distinct labels; None: the labels themselves.
    seed : int, default=0
        SGD's ``random_state``.

    Returns
    -------
    dict of str to pathlib.Path
        ``"gd_sgd_frames"`` (the ``frames/`` folder), ``"frame_NNN"`` (one PNG per
        iteration ``NNN``), ``"animation"`` (``learning.gif``), ``"trace"``
        (``trace.md``), ``"trace_figure"`` (``trace.png``), ``"learning_rates"``
        (``learning_rates.png``), ``"penalties"`` (``penalties.png``).

    Raises
    ------
    ValueError
        If ``X`` is not of shape (n, 2) with finite values, or ``y`` has fewer than two
        classes or another length.
    """
    from softmax_classifier.teach import _figures
    from softmax_classifier.teach._trace import trace_example, trace_markdown

    X, y_index, labels = _checked(X, y)
    names = [str(label) for label in labels] if class_names is None else list(class_names)
    if len(names) != len(labels):
        raise ValueError(f"class_names must name the {len(labels)} classes, got {len(names)}")
    feature_names = tuple(str(name) for name in feature_names)
    folder = Path(folder)
    (folder / "frames").mkdir(parents=True, exist_ok=True)
    view = _figures.View(X, y_index, feature_names, names)

    lam = lipschitz_constant(X, FRAME_ALPHA)
    gd = fit_run(
        X, y_index, "gd", 1.0 / lam, FRAME_ALPHA, FRAME_ITERATIONS[-1], capture=FRAME_ITERATIONS
    )
    lam_one = 0.5 * float(np.max(np.sum(X * X, axis=1)) + 1.0) + FRAME_ALPHA
    epochs = int(min(FRAME_ITERATIONS[-1], max(1, MAX_SGD_UPDATES // len(X))))
    sgd = fit_run(
        X,
        y_index,
        "sgd",
        SGD_STEP_FACTOR / lam_one,
        FRAME_ALPHA,
        epochs,
        capture=(*FRAME_ITERATIONS, epochs),
        seed=seed,
    )
    out = {"gd_sgd_frames": folder / "frames"}
    frame_paths = []
    for k in FRAME_ITERATIONS:
        path = folder / "frames" / f"frame_{k:03d}.png"
        _figures.frame_figure(view, gd, sgd, k, path)
        out[f"frame_{k:03d}"] = path
        frame_paths.append(path)
    out["animation"] = _figures.write_gif(frame_paths, folder / "learning.gif")

    # The trace: example 0 at GD's iterate after one step (still unsure), stepped as SGD steps.
    index, at = 0, 1
    coef, intercept = gd.frames.get(at, gd.frames[max(gd.frames)])
    trace = trace_example(
        coef,
        intercept,
        X[index],
        y_index[index],
        learning_rate=sgd.learning_rate,
        alpha=FRAME_ALPHA,
    )
    where = (
        f"The parameters are gradient descent's after {_count(min(at, gd.n_iter), 'iteration')}; "
        f"the step is SGD's per-example $\\gamma = {sgd.learning_rate:.6g}$ "
        f"with the frames' L2 penalty $\\alpha = {FRAME_ALPHA:g}$."
    )
    text = trace_markdown(
        trace, index=index, feature_names=feature_names, class_names=names, where=where
    )
    out["trace"] = folder / "trace.md"
    out["trace"].write_text(text, encoding="utf-8")
    out["trace_figure"] = _figures.trace_figure(trace, names, index, folder / "trace.png")

    rate_runs = [
        (label, fit_run(X, y_index, "gd", factor / lam, FRAME_ALPHA, RATE_ITERATIONS))
        for factor, label in LEARNING_RATE_FACTORS
    ]
    rate_runs.append(("diverging", diverging_run(X, y_index, lam)))
    out["learning_rates"] = _figures.learning_rate_figure(
        view, rate_runs, lam, folder / "learning_rates.png"
    )
    penalty_fits = []
    for alpha in PENALTY_ALPHAS:
        run = fit_run(X, y_index, "gd", 1.0 / lipschitz_constant(X, alpha), alpha, 300)
        penalty_fits.append(run)
    out["penalties"] = _figures.penalty_figure(view, penalty_fits, folder / "penalties.png")
    return out


def _checked(X, y):
    """``X`` (n, 2) finite float64, ``y`` as class indices, and the sorted labels."""
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"X must have shape (n_samples, 2), got {X.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError("X has NaN or infinite values")
    if y.shape != (len(X),):
        raise ValueError(f"y must have shape ({len(X)},), got {y.shape}")
    labels, y_index = np.unique(y, return_inverse=True)
    if len(labels) < 2:
        raise ValueError("y needs at least two classes")
    return X, y_index.astype(int), labels


def _count(number, noun):
    """``"1 iteration"``, ``"3 iterations"``."""
    return f"{number} {noun}" + ("" if number == 1 else "s")
