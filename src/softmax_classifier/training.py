"""The one fit pipeline: data source -> weights, standardisation, objective, solver, report.

Every kind of input (arrays, sparse matrices, files, Dask collections) reaches
:func:`fit` as a :class:`~softmax_classifier.data.DataSource`; the steps are
written once:

1. the classes (at least two) and the model's size (refused early if it
   cannot fit in memory);
2. per-class weights (``class_weight``) from the source's class counts;
3. standardisation statistics (:func:`~softmax_classifier.data.mean_and_scale`,
   two passes) and the transformed view of the rows;
4. ``alpha`` (``"auto"``: ``1 / sum of the weights``), split by the
   ``penalty`` into the smooth L2 part and the non-smooth one
   (:func:`~softmax_classifier.penalties.split_penalty`);
5. the objective (:class:`~softmax_classifier.objective.SoftmaxObjective`,
   wrapped in :class:`~softmax_classifier.penalized.PenalizedObjective` for
   the proximal solver) and the start point (zeros, a warm start or the last
   ``partial_fit``);
6. the solver (``"auto"`` resolved by
   :func:`~softmax_classifier.solvers.choose_solver`, or ``"prox-newton"``
   for the L1, elastic-net and group penalties), with checkpoints,
   callbacks and verbose printing chained;
7. the model (``coef``, centred ``intercept``) and its :class:`FitReport`.

The estimator (:class:`~softmax_classifier.SoftmaxClassifier`) is a thin
scikit-learn facade over this module; nothing here knows scikit-learn's
estimator API.
"""

from __future__ import annotations

import dataclasses
import inspect
import sys
import time
import warnings
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from softmax_classifier import checkpoint
from softmax_classifier._blas import one_blas_thread
from softmax_classifier._fit_checks import (
    check_epoch,
    check_hyperparameters,
    check_label_type,
    check_model_size,
    check_solver_options,
)
from softmax_classifier._parameters import PROXIMAL_SOLVER_NAMES
from softmax_classifier.data import DaskFitError, mean_and_scale, per_class_weights
from softmax_classifier.model_file import classes_to_json, jsonable_params
from softmax_classifier.objective import SoftmaxObjective
from softmax_classifier.penalized import PenalizedObjective
from softmax_classifier.penalties import nonzero_features, split_penalty
from softmax_classifier.solvers import SOLVERS, STOCHASTIC_SOLVERS, choose_solver
from softmax_classifier.solvers._result import CONVERGED, MAX_ITER, STOPPED

__all__ = [
    "FitReport",
    "FitResult",
    "check_hyperparameters",
    "check_label_type",
    "check_model_size",
    "check_solver_options",
    "default_max_iter",
    "fit",
    "penalty_threshold",
    "solver_options",
]

# Fits of fewer entries than this run with one BLAS thread (waking threads for
# small products costs more than it gives).
_SINGLE_THREAD_ENTRIES = 1_000_000

# Hyperparameters that do not change the optimisation: left out of a checkpoint's
# description, so that a fit resumes with another tol, verbosity or directory.
_NOT_DESCRIBED = ("verbose", "checkpoint_dir", "checkpoint_every", "tol", "warm_start")


@dataclass
class FitReport:
    """How the last call to ``fit`` (or ``partial_fit``) went.

    Attributes
    ----------
    solver : str
        The solver that ran (what ``"auto"`` chose).
    stop_reason : str
        ``"converged"``, ``"max_iter"``, ``"line_search_failed"``,
        ``"non_finite"`` or ``"stopped"``.
    message : str
        Why the solver stopped, in one sentence.
    n_iter : int
        Iterations (epochs for ``sgd``/``adam``).
    grad_norm : float
        ``max|grad|`` of the objective at the returned parameters.
    objective_history : list of float
        Objective at the start and after each iteration.
    n_passes : int
        Full passes over the data (value, gradient or Hessian products).
    time_seconds : float
        Wall-clock time of the solver run.
    solver_reason : str
        Why ``solver="auto"`` chose this solver; empty when it was given.
    penalty : str
        The ``penalty`` of the fit (``"l2"``, ``"l1"``, ``"elasticnet"`` or
        ``"group"``). With a non-smooth one, ``objective_history`` includes it
        and ``grad_norm`` is the largest entry of the minimum-norm subgradient
        (zero exactly at the optimum).
    n_nonzero_coef : int or None
        Entries of ``coef`` that are not zero.
    n_nonzero_features : int or None
        Features with a non-zero coefficient for at least one class (the
        features the model uses).
    """

    solver: str
    stop_reason: str
    message: str
    n_iter: int
    grad_norm: float
    objective_history: list = field(default_factory=list)
    n_passes: int = 0
    time_seconds: float = 0.0
    solver_reason: str = ""
    penalty: str = "l2"
    n_nonzero_coef: int | None = None
    n_nonzero_features: int | None = None

    @property
    def converged(self):
        """bool: whether the stop reason is ``"converged"``."""
        return self.stop_reason == CONVERGED

    def as_dict(self):
        """The report as a JSON-ready dict."""
        return asdict(self)


@dataclass
class FitResult:
    """What :func:`fit` learned, for the estimator to keep.

    Attributes
    ----------
    coef : ndarray of shape (n_classes, n_features)
        In the dtype of the data, C-contiguous.
    intercept : ndarray of shape (n_classes,)
        Centred to sum to zero (zeros without an intercept).
    classes : ndarray of shape (n_classes,)
    feature_mean, feature_scale : ndarray of shape (n_features,) or None
        The standardisation statistics (None without standardisation).
    alpha : float
        The penalty strength used.
    n_iter : int
    report : FitReport
    state : dict or None
        The solver's final state (``partial_fit`` continues from it).
    seed : int
        The seed the solver ran with (a resumed fit's is the checkpoint's).
    """

    coef: np.ndarray
    intercept: np.ndarray
    classes: np.ndarray
    feature_mean: np.ndarray | None
    feature_scale: np.ndarray | None
    alpha: float
    n_iter: int
    report: FitReport
    state: dict | None
    seed: int


def fit(source, params, *, seed, start=None, state=None, callback=None, resume=False, epoch=False):
    """Fit the softmax classifier's objective on a data source: the only fit path.

    Parameters
    ----------
    source : DataSource
        The rows (labels as class indices into ``source.classes``).
    params : dict
        The estimator's hyperparameters (``SoftmaxClassifier.get_params()``).
    seed : int
        Seeds the mini-batch solvers' shuffling.
    start : tuple of (ndarray, ndarray) or None
        ``(coef, intercept)`` to start from (warm start, ``partial_fit``);
        zeros when None.
    state : dict or None
        A solver state to continue (``partial_fit``).
    callback : callable or None
        Hears every iteration (a :class:`~softmax_classifier.solvers.Iteration`
        with ``solver`` and ``max_iter`` filled in); returning True stops.
    resume : bool
        Continue from the checkpoint in ``params["checkpoint_dir"]``.
    epoch : bool
        ``partial_fit``: one epoch of the mini-batch solver, no checkpoint, no
        convergence warning for ``max_iter``; standardisation and
        ``class_weight="balanced"`` are refused (they need all the rows).

    Returns
    -------
    FitResult

    Raises
    ------
    ValueError
        Fewer than two classes, a model too large for memory, class weights
        naming unknown labels, weights whose sum float64 cannot hold.
    """
    if epoch:
        check_epoch(params)
    classes = source.classes
    view, mean, scale, _ = _prepared(source, params)
    alpha = _alpha(params["alpha"], view.total_weight * view.weight_scale)
    penalty = params.get("penalty", "l2")
    alpha_l2, nonsmooth = split_penalty(penalty, alpha, params.get("l1_ratio"))
    objective = SoftmaxObjective(
        view, len(classes), alpha=alpha_l2, fit_intercept=params["fit_intercept"]
    )
    solver, reason = params["solver"], ""
    if solver == "auto" and penalty != "l2":
        solver = "prox-newton"
        reason = f"penalty={penalty!r} is not smooth: proximal Newton with coordinate descent"
    elif solver == "auto":
        solver, reason = choose_solver(view, len(classes), params["fit_intercept"])
    if solver in PROXIMAL_SOLVER_NAMES:
        objective = PenalizedObjective(objective, nonsmooth)
    x0 = objective.zeros() if start is None else objective.pack(*start)
    writer = resumed = None
    if params["checkpoint_dir"] is not None and not epoch:
        writer, resumed, seed = _checkpointing(objective, solver, params, seed, resume)
    options = solver_options(solver, params, seed)
    if resumed is not None:
        options["resume"] = resumed
    if epoch:
        options.update(max_iter=1, state=state)
        if "schedule" not in (params["solver_options"] or {}):
            # The number of calls is unknown, so decay with the epoch count only.
            options["schedule"] = "inverse_sqrt"
    result, elapsed = _run(objective, x0, solver, options, params, writer, callback)
    coef, intercept = objective.unpack(result.params)
    dtype = source.dtype
    if params["fit_intercept"]:
        intercept = (intercept - intercept.mean()).astype(dtype)
    else:
        intercept = np.zeros(len(classes), dtype=dtype)
    report = FitReport(
        solver=solver,
        solver_reason=reason,
        stop_reason=result.stop_reason,
        message=result.message,
        n_iter=result.n_iter,
        grad_norm=result.grad_norm,
        objective_history=[float(v) for v in result.objective_history],
        n_passes=objective.n_passes,
        time_seconds=elapsed,
        penalty=penalty,
        n_nonzero_coef=int(np.count_nonzero(coef)),
        n_nonzero_features=nonzero_features(coef),
    )
    quiet = (CONVERGED, STOPPED, MAX_ITER) if epoch else (CONVERGED, STOPPED)
    if result.stop_reason not in quiet:
        warnings.warn(_convergence_advice(solver, result), ConvergenceWarning, stacklevel=3)
    return FitResult(
        coef=np.ascontiguousarray(coef, dtype=dtype),
        intercept=intercept,
        classes=classes,
        feature_mean=mean,
        feature_scale=scale,
        alpha=alpha,
        n_iter=result.n_iter,
        report=report,
        state=result.state,
        seed=seed,
    )


def penalty_threshold(source, params):
    r"""The smallest ``alpha`` at which the L1, elastic-net or group fit has ``coef = 0``.

    At :math:`W = 0` with the intercepts at their optimum (the weighted class
    proportions, :math:`b_i = \log \sum_{k: y_k = i} s_k`), zero is the
    minimiser exactly when the smooth gradient :math:`G` lies in the
    penalty's subdifferential at 0: :math:`\max_{ij} |G_{ij}| \le \alpha r`
    (L1, elastic net with ``r = l1_ratio``; ``r = 1`` for L1) or
    :math:`\max_j \lVert G_{:j}\rVert_2 \le \alpha` (group). One pass.
    The regularisation path (:func:`softmax_classifier.path`) starts its grid
    there.

    Parameters
    ----------
    source : DataSource
    params : dict
        The estimator's hyperparameters (``penalty`` one of ``"l1"``,
        ``"elasticnet"`` with ``l1_ratio > 0``, ``"group"``).

    Returns
    -------
    float
    """
    penalty = params["penalty"]
    if penalty not in ("l1", "elasticnet", "group") or (
        penalty == "elasticnet" and not params["l1_ratio"]
    ):
        raise ValueError(
            "the threshold of a sparse path needs penalty 'l1', 'group' or 'elasticnet' with "
            f"l1_ratio > 0; got penalty={penalty!r}, l1_ratio={params.get('l1_ratio')!r}."
        )
    view, _, _, class_weight = _prepared(source, params)
    objective = SoftmaxObjective(view, len(source.classes), fit_intercept=params["fit_intercept"])
    intercept = None
    if params["fit_intercept"]:
        totals = source.class_totals * (1.0 if class_weight is None else class_weight)
        intercept = np.log(np.maximum(totals, np.finfo(np.float64).tiny))
    coef = np.zeros((len(source.classes), source.n_features))
    _, grad = objective.value_and_grad(objective.pack(coef, intercept))
    grad_coef, _ = objective.unpack(grad)
    if penalty == "group":
        return float(np.linalg.norm(grad_coef, axis=0).max(initial=0.0))
    ratio = 1.0 if penalty == "l1" else float(params["l1_ratio"])
    return float(np.abs(grad_coef).max(initial=0.0)) / ratio


def _prepared(source, params):
    """The rows as the solver sees them (class weights, standardisation), and the statistics.

    Returns
    -------
    view : DataSource
    mean, scale : ndarray of shape (n_features,) or None
    class_weight : ndarray of shape (n_classes,) or None
    """
    classes = source.classes
    if len(classes) < 2:
        raise ValueError(
            "SoftmaxClassifier needs samples of at least 2 classes in y; "
            f"got only one class, {classes[0]!r}."
        )
    check_model_size(len(classes), source.n_features)
    class_weight = per_class_weights(params["class_weight"], classes, source.class_counts)
    mean = scale = None
    if params["standardize"]:
        mean, scale = mean_and_scale(source.transformed(class_weight=class_weight))
    centre = None if source.is_sparse else mean  # sparse rows are scaled, never centred
    view = source.transformed(mean=centre, scale=scale, class_weight=class_weight)
    if not np.isfinite(view.total_weight):
        raise ValueError(
            "The sample weights sum to more than float64 can hold: divide them by a "
            "common factor (their weighted mean, the objective's loss term, is unchanged)."
        )
    return view, mean, scale, class_weight


def solver_options(solver, params, seed):
    """The keyword arguments of ``solver``'s ``minimize`` from the hyperparameters.

    Parameters
    ----------
    solver : str
        A name of :data:`~softmax_classifier.solvers.SOLVERS`.
    params : dict
        The estimator's hyperparameters.
    seed : int

    Returns
    -------
    dict
    """
    options = {}
    if params["max_iter"] is not None:
        options["max_iter"] = params["max_iter"]
    if solver in ("gd", "sgd", "adam"):
        options["learning_rate"] = params["learning_rate"]
    if solver in STOCHASTIC_SOLVERS:
        options["batch_size"] = params["batch_size"]
        options["random_state"] = seed
    if solver == "sgd":
        options["momentum"] = params["momentum"]
    options.update(params["solver_options"] or {})
    return options


def _alpha(alpha, total_weight):
    """``alpha``, or ``1 / total_weight`` (scikit-learn's ``C = 1``) for ``"auto"``."""
    if isinstance(alpha, str):
        return 1.0 / total_weight  # 0.0 when the sum overflowed: no penalty to speak of
    return float(alpha)


def _run(objective, x0, solver, options, params, writer, callback):
    """Run the solver with the callbacks chained; the result and the seconds it took."""
    printer = _Printer() if params["verbose"] else None
    # The checkpoint is written before anyone else hears of the iteration, so
    # a callback that stops (or kills) the process leaves it on disk.
    callback = _chain(writer, printer, _resolved(callback, solver, options))
    n_samples, n_features = objective.data.shape
    small = n_samples * n_features < _SINGLE_THREAD_ENTRIES
    start = time.perf_counter()
    with one_blas_thread() if small else nullcontext():
        try:
            result = SOLVERS[solver](objective, x0, tol=params["tol"], callback=callback, **options)
        except DaskFitError as error:
            if writer is None:
                raise
            raise DaskFitError(f"{error} {writer.whereabouts()}") from error
    elapsed = time.perf_counter() - start
    if printer is not None:
        print(f"[{solver}] {result.stop_reason}: {result.message}", file=sys.stderr)
    return result, elapsed


def _checkpointing(objective, solver, params, seed, resume):
    """The checkpoint writer of this fit, the state to resume from (or None), and the seed."""
    directory = params["checkpoint_dir"]
    checkpoint.check_writable(directory)
    described = {k: v for k, v in params.items() if k not in _NOT_DESCRIBED}
    data = objective.data
    description = {
        "solver": solver,
        "n_params": int(objective.n_params),
        "data": [int(data.n_samples), int(data.n_features), float(data.total_weight)],
        "classes": classes_to_json(data.classes),
        "params": jsonable_params(described),
        "data_fingerprint": _data_fingerprint(objective),
    }
    if objective.layout != "class-major":
        # Saved vectors are in this layout; checkpoints written before it
        # existed (class-major, the only one then) still resume.
        description["parameter_layout"] = objective.layout
    state = None
    if resume:
        state, saved_seed = checkpoint.load(directory, description)
        if state is not None:
            seed = saved_seed
    writer = checkpoint.CheckpointWriter(
        directory, params["checkpoint_every"], description, seed=seed
    )
    return writer, state, seed


def _resolved(callback, solver, options):
    """``callback`` hearing each iteration with the fit's solver and ``max_iter`` filled in."""
    if callback is None:
        return None
    max_iter = int(options.get("max_iter", default_max_iter(solver)))
    return lambda info: callback(dataclasses.replace(info, solver=solver, max_iter=max_iter))


def _data_fingerprint(objective):
    """Numbers that tell one data set from another of the same shape: one pass.

    The objective and three sums of its gradient at a fixed point, to 7
    significant digits: they depend on every row's features, label and weight
    (standardised and class-weighted as the fit sees them), unlike the shape
    and total weight. Rounding makes them equal across thread counts and
    block sizes (those change the sums by ~1e-15 relative).

    Parameters
    ----------
    objective : SoftmaxObjective

    Returns
    -------
    list of float
        Five numbers (None where not finite).
    """
    n_params = int(objective.n_params)
    point = 1e-2 * np.sin(np.arange(1, n_params + 1, dtype=np.float64))
    value, grad = objective.value_and_grad(point)
    numbers = [value, float(grad @ grad), *(float(grad[k::3].sum()) for k in range(3))]
    return [float(f"{v:.7g}") if np.isfinite(v) else None for v in numbers]


def _chain(*callbacks):
    """One callback calling each given one (None entries skipped); stops if any asks to."""
    callbacks = [c for c in callbacks if c is not None]
    if not callbacks:
        return None
    if len(callbacks) == 1:
        return callbacks[0]
    return lambda info: any([bool(c(info)) for c in callbacks])


def default_max_iter(solver):
    """The ``max_iter`` a solver uses when the estimator's is None.

    Parameters
    ----------
    solver : str
        One of :data:`SOLVER_NAMES` other than ``"auto"`` (resolve that with
        :func:`softmax_classifier.solvers.choose_solver` first).

    Returns
    -------
    int
        Iterations, or epochs for ``sgd`` and ``adam``.
    """
    if solver not in SOLVERS:
        raise ValueError(f"default_max_iter needs one of {sorted(SOLVERS)}; got {solver!r}.")
    return inspect.signature(SOLVERS[solver]).parameters["max_iter"].default


class _Printer:
    """Verbose progress: one line per iteration on stderr."""

    def __init__(self):
        self.start = time.perf_counter()

    def __call__(self, info):
        elapsed = time.perf_counter() - self.start
        print(
            f"iter {info.iteration:5d}  objective {info.objective:.10g}  "
            f"max|grad| {info.grad_norm:.3e}  {elapsed:8.2f}s",
            file=sys.stderr,
        )


def _convergence_advice(solver, result):
    """The ConvergenceWarning's text: what happened, and what would change it."""
    if solver in STOCHASTIC_SOLVERS and result.stop_reason == "max_iter":
        advice = (
            "Mini-batch steps shrink over the max_iter epochs and end near the optimum, "
            "not at a gradient below tol"
            + _last_change(result.objective_history)
            + ". For the exact optimum use solver='lbfgs' or 'newton-cg'; otherwise "
            "increase max_iter, or raise tol to the precision you need."
        )
    else:
        advice = {
            "max_iter": "Increase max_iter, standardise the features, or increase alpha.",
            "line_search_failed": (
                "The result is usually as good as the data's precision allows: "
                "increase tol, or fit float64 data."
            ),
            "non_finite": "Lower learning_rate, standardise the features, or increase alpha.",
        }[result.stop_reason]
    return (
        f"SoftmaxClassifier(solver={solver!r}) did not converge ({result.stop_reason}): "
        f"{result.message}. {advice}"
    )


def _last_change(history):
    """'' or ``"; the objective changed by 1.2e-05 relative over the last 10% of epochs"``."""
    if len(history) < 3:
        return ""
    last = max(1, (len(history) - 1) // 10)
    before, after = float(history[-1 - last]), float(history[-1])
    if not (np.isfinite(before) and np.isfinite(after)):
        return ""
    change = abs(before - after) / max(abs(after), np.finfo(np.float64).tiny)
    return f" (the objective changed by {change:.1e} relative over the last {last} epochs)"
