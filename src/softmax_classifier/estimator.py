"""``SoftmaxClassifier``: the scikit-learn estimator.

The estimator is thin: it validates input, encodes labels, turns class weights
into sample weights, builds a data source and the objective, runs the chosen
solver and stores the result. The mathematics is in
:mod:`softmax_classifier.math`, the optimisation in
:mod:`softmax_classifier.solvers`.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import numbers
import os
import sys
import time
import warnings
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from softmax_classifier import checkpoint, model_file
from softmax_classifier import math as sm
from softmax_classifier._blas import one_blas_thread
from softmax_classifier._parameters import SOLVER_NAMES
from softmax_classifier._version import __version__
from softmax_classifier.data import DaskData, DaskFitError, InMemoryData, StreamingData
from softmax_classifier.objective import SoftmaxObjective
from softmax_classifier.solvers import SOLVERS, STOCHASTIC_SOLVERS, choose_solver
from softmax_classifier.solvers._result import CONVERGED, MAX_ITER, STOPPED

__all__ = ["SOLVER_NAMES", "FitReport", "SoftmaxClassifier", "default_max_iter", "load"]

#: The values ``solver`` accepts.

# Below this many entries of X, BLAS threads cost more (wake-up per product)
# than they give; see PERFORMANCE_NOTES.md.
_SINGLE_THREAD_ENTRIES = 1_000_000
# Options the estimator sets itself; solver_options may not override them.
_RESERVED_OPTIONS = {"objective", "x0", "max_iter", "tol", "callback", "state", "resume"}


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

    @property
    def converged(self):
        """bool: whether the stop reason is ``"converged"``."""
        return self.stop_reason == CONVERGED

    def as_dict(self):
        """The report as a JSON-ready dict."""
        return asdict(self)


class SoftmaxClassifier(ClassifierMixin, BaseEstimator):
    r"""Softmax classifier (multinomial logistic regression).

    Models :math:`p(y = i \mid x) = \mathrm{softmax}(W x + b)_i` and minimises

    .. math::

        \frac{\sum_k s_k [\log \sum_j e^{a_j(x_k)} - a_{y_k}(x_k)]}{\sum_k s_k}
        + \frac{\alpha}{2} \lVert W \rVert_F^2

    the notes' mean cross-entropy with sample weights :math:`s_k` and an L2
    penalty on ``coef`` (the intercept is not penalised), using the analytic
    gradient of :func:`softmax_classifier.math.loss_gradient`. This is
    scikit-learn's multinomial ``LogisticRegression(C=C)`` objective divided by
    ``C * sum(s)``, i.e. ``alpha = 1 / (C * sum(s))``.

    Parameters
    ----------
    alpha : float or "auto", default="auto"
        L2 penalty strength on ``coef``; ``>= 0``. ``"auto"`` is
        ``1 / sum(s)`` (``1 / n_samples`` without weights; ``s`` includes
        ``class_weight``): scikit-learn's default ``C = 1``, a penalty that
        shrinks as the data grow. The value used is kept in ``alpha_``.
    fit_intercept : bool, default=True
        Whether to learn ``intercept_``.
    solver : {"auto", "lbfgs", "newton-cg", "gd", "sgd", "adam"}, default="auto"
        ``auto``: ``lbfgs`` or ``newton-cg`` by the data's size, sparsity and
        number of features and the memory L-BFGS would need
        (:func:`softmax_classifier.solvers.choose_solver`, rules from the
        measurements in ``docs/solvers.md``); the fit report says which and why.
        ``lbfgs``: limited-memory BFGS with a Wolfe line search.
        ``newton-cg``: Newton steps from exact Hessian-vector products, by
        conjugate gradient preconditioned by the Hessian's diagonal (sparse
        data) or a Kronecker-factored approximation of the Hessian (dense data
        with at most 1023 features).
        ``gd``: full-batch gradient descent (the notes' update).
        ``sgd``: mini-batch SGD with momentum; ``batch_size=1`` is the notes'
        per-example update. ``adam``: mini-batch Adam.
    max_iter : int or None, default=None
        Iterations (epochs for ``sgd``/``adam``). ``None`` uses the solver's
        default: lbfgs 100 (scikit-learn's), newton-cg 100, gd 2000, sgd 200, adam 200 (for
        ``auto``, that of the solver it chooses).
    tol : float, default=1e-4
        Converged when the largest absolute entry of the objective's gradient
        is ``<= tol`` (for ``sgd``/``adam``: checked after each epoch).
        scikit-learn's default; on letter, sector, Fashion-MNIST, digits and a
        Covertype-like set it gave the test accuracy of ``1e-5`` with 13-36%
        fewer data passes. Lower it for coefficients close to the optimum.
    learning_rate : float or "auto", default="auto"
        Step size for ``gd``, ``sgd`` and ``adam`` (ignored by the others).
        ``"auto"``: ``gd`` backtracks (Armijo); ``sgd`` takes
        ``(1 - momentum) * min(batch_size / L, 1 / lambda)`` with ``L`` a bound
        on one example's curvature and ``lambda`` the measured largest Hessian
        eigenvalue at the start; ``adam`` uses 0.01. Both mini-batch solvers
        decay it by a cosine schedule over ``max_iter`` epochs.
    batch_size : int, default=32
        Mini-batch size for ``sgd`` and ``adam``.
    momentum : float, default=0.0
        Momentum of ``sgd`` in ``[0, 1)``.
    class_weight : dict, "balanced" or None, default=None
        Weights per class, multiplied into ``sample_weight``. ``"balanced"``
        uses ``n_samples / (n_classes * bincount(y))``.
    warm_start : bool, default=False
        Start ``fit`` from the previous solution when classes and features
        match.
    random_state : int, RandomState instance or None, default=None
        Seeds the shuffling of ``sgd`` and ``adam``.
    verbose : int, default=0
        ``>= 1`` prints one line per iteration to stderr.
    standardize : bool, default=False
        Standardise the features inside the model: ``fit`` learns per-feature
        (sample-weighted) means and standard deviations and the solver works on
        ``(X - mean) / std``; sparse ``X`` is only scaled, not centred (so it
        stays sparse). The statistics are kept in ``feature_mean_`` and
        ``feature_scale_`` and applied at prediction, and saved with the model.
        ``coef_`` and ``intercept_`` refer to the standardised features.
        Not supported by ``partial_fit``.
    solver_options : dict or None, default=None
        Further keyword arguments of the solver's ``minimize`` function, e.g.
        ``{"memory": 20}`` for lbfgs, ``{"nesterov": True, "schedule":
        "cosine"}`` for sgd, ``{"max_cg_iter": 50}`` for newton-cg. Not with
        ``solver="auto"``, whose choice is not known in advance.
    checkpoint_dir : str, os.PathLike or None, default=None
        Directory where ``fit`` writes a checkpoint (the solver's whole state,
        :mod:`softmax_classifier.checkpoint`) every ``checkpoint_every``
        iterations, atomically. ``fit(..., resume=True)`` continues from it
        and ends with the same model as an uninterrupted fit (bit-identical
        for a fixed thread count). A directory that cannot be written is an
        error before fitting starts. Not used by ``partial_fit``.
    checkpoint_every : int, default=10
        Iterations (epochs for ``sgd``/``adam``) between checkpoints.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The labels, sorted.
    coef_ : ndarray of shape (n_classes, n_features)
        ``W``, one row per class (two rows for two classes), in the dtype of
        the training ``X`` (float32 or float64).
    intercept_ : ndarray of shape (n_classes,)
        ``b``, centred to sum to zero (the model is invariant to adding one
        constant to all of them). Zeros when ``fit_intercept=False``.
    alpha_ : float
        The penalty strength of the last fit (``alpha``, or what ``"auto"``
        gave). For ``partial_fit``, ``"auto"`` is ``1 / sum(s)`` of each call's
        rows, so that a call on all the data is an epoch of ``fit``; pass a
        number to keep one penalty across calls on chunks.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Only when ``X`` had string column names.
    n_iter_ : int
        Iterations (epochs) of the last fit; summed over ``partial_fit`` calls.
    fit_report_ : FitReport
        Stop reason, gradient norm, objective history and time of the last fit.
    target_name_ : str
        Only when set by the caller (``softmax train`` sets the label column's
        name): saved with the model, so ``softmax evaluate`` finds the labels.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from softmax_classifier import SoftmaxClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = SoftmaxClassifier().fit(X, y)
    >>> clf.predict(X[:3])
    array([0, 0, 0])
    >>> clf.predict_proba(X[:1]).shape
    (1, 3)
    >>> clf.fit_report_.stop_reason
    'converged'
    """

    def __init__(
        self,
        alpha="auto",
        *,
        fit_intercept=True,
        solver="auto",
        max_iter=None,
        tol=1e-4,
        learning_rate="auto",
        batch_size=32,
        momentum=0.0,
        class_weight=None,
        warm_start=False,
        random_state=None,
        verbose=0,
        standardize=False,
        solver_options=None,
        checkpoint_dir=None,
        checkpoint_every=10,
    ):
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.max_iter = max_iter
        self.tol = tol
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.momentum = momentum
        self.class_weight = class_weight
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose
        self.standardize = standardize
        self.solver_options = solver_options
        self.checkpoint_dir = checkpoint_dir
        self.checkpoint_every = checkpoint_every

    # -- fitting ----------------------------------------------------------------
    def fit(self, X, y=None, sample_weight=None, *, callback=None, resume=False):
        """Fit the model to ``(X, y)``: arrays, Dask collections or a data source.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask collection, data source}
            Shape (n_samples, n_features). Numeric features; float32 input is
            kept in float32.
            A ``dask.array`` or ``dask.dataframe`` (with ``y`` and
            ``sample_weight`` of the same kind and row blocks) is fitted on its
            cluster, see :class:`~softmax_classifier.data.DaskData`. A
            :class:`~softmax_classifier.data.StreamingData` or
            :class:`~softmax_classifier.data.DaskData` source brings its own
            labels and weights (then ``y`` and ``sample_weight`` must be None);
            a streaming source is read batch by batch, never all at once.
        y : array-like of shape (n_samples,)
            Labels of any type (ints, strings, ...); at least two classes.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; the objective is their weighted mean.
        callback : callable, optional
            Called after every iteration (epoch) with a
            :class:`~softmax_classifier.solvers.Iteration`; returning True stops
            the fit cleanly (stop reason ``"stopped"``) with the current
            parameters. Used for progress bars and Ctrl-C handling.
        resume : bool, default=False
            Continue from the checkpoint in ``checkpoint_dir`` if there is one
            (it must come from a fit of the same data and parameters); start
            afresh otherwise.

        Returns
        -------
        self : SoftmaxClassifier
        """
        self._validate_params()
        if resume and self.checkpoint_dir is None:
            raise ValueError("resume=True needs checkpoint_dir: where the checkpoint is.")
        self._resume = bool(resume)
        if _is_dask_collection(X):
            X = DaskData(X, y, sample_weight)
            y = sample_weight = None
        if isinstance(X, (StreamingData, DaskData)):
            return self._fit_source(X, y, sample_weight, callback)
        if y is None:
            raise ValueError(
                "SoftmaxClassifier requires y to be passed, but the target y is None "
                "(only a StreamingData source brings its own labels)."
            )
        X, y = self._validate_training_data(X, y, reset=True)
        classes, y_encoded = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(
                "SoftmaxClassifier needs samples of at least 2 classes in y; "
                f"got only one class, {classes[0]!r}."
            )
        _check_model_size(len(classes), X.shape[1])
        weights, total_weight = self._combined_weights(sample_weight, y_encoded, classes, X)
        x0_state = self._warm_start_params(classes, X.shape[1])
        self.classes_ = classes
        X_solve = self._fit_standardization(X, y_encoded, weights)
        objective = self._objective(X_solve, y_encoded, weights, total_weight)
        x0 = objective.zeros() if x0_state is None else objective.pack(*x0_state)
        self._seed = self._new_seed()
        self._solver_used, self._solver_reason = self.solver, ""
        if self.solver == "auto":
            self._solver_used, self._solver_reason = choose_solver(
                X_solve, len(classes), self.fit_intercept
            )
        result = self._run_solver(objective, x0, X, callback=callback)
        self.n_iter_ = result.n_iter
        self._optimizer_state = result.state
        return self

    def _fit_source(self, source, y, sample_weight, callback):
        """``fit`` on a source not held here: the same steps, each a pass over the source."""
        if y is not None or sample_weight is not None:
            raise ValueError(
                "A data source (StreamingData, DaskData) brings its own labels and "
                "weights: pass y=None and sample_weight=None."
            )
        classes = source.classes
        check_classification_targets(classes)
        if len(classes) < 2:
            raise ValueError(
                "SoftmaxClassifier needs samples of at least 2 classes; "
                f"the data has only {classes[0]!r}."
            )
        _check_model_size(len(classes), source.n_features)
        class_weight = self._per_class_weights(classes, source.class_counts)
        mean = scale = None
        if self.standardize:
            weighted = source.transformed(class_weight=class_weight)
            mean, scale = _mean_and_scale(weighted)
        self.feature_mean_, self.feature_scale_ = mean, scale
        centre = None if source.is_sparse else mean  # sparse rows are scaled only
        view = source.transformed(mean=centre, scale=scale, class_weight=class_weight)
        x0_state = self._warm_start_params(classes, source.n_features)
        self.classes_ = classes
        self.n_features_in_ = source.n_features
        if source.feature_names is not None:
            self.feature_names_in_ = np.asarray(source.feature_names, dtype=object)
        elif hasattr(self, "feature_names_in_"):  # from an earlier fit
            del self.feature_names_in_
        if not np.isfinite(view.total_weight):
            raise ValueError(
                "The sample weights sum to more than float64 can hold: divide them by a "
                "common factor (their weighted mean, the objective's loss term, is unchanged)."
            )
        self.alpha_ = self._alpha_for(view.total_weight)
        objective = SoftmaxObjective(
            view, len(classes), alpha=self.alpha_, fit_intercept=self.fit_intercept
        )
        x0 = objective.zeros() if x0_state is None else objective.pack(*x0_state)
        self._seed = self._new_seed()
        self._solver_used, self._solver_reason = self.solver, ""
        if self.solver == "auto":
            self._solver_used, self._solver_reason = choose_solver(
                source, len(classes), self.fit_intercept
            )
        result = self._run_solver(objective, x0, source, callback=callback)
        self.n_iter_ = result.n_iter
        self._optimizer_state = result.state
        return self

    def _per_class_weights(self, classes, class_counts):
        """``class_weight`` as one multiplier per class (None for all ones)."""
        if self.class_weight is None:
            return None
        if isinstance(self.class_weight, str):  # "balanced"
            return class_counts.sum() / (len(classes) * class_counts)
        unknown = set(self.class_weight) - set(classes.tolist())
        if unknown:
            raise ValueError(f"class_weight names labels not in y: {sorted(map(repr, unknown))}.")
        return np.array([float(self.class_weight.get(c, 1.0)) for c in classes.tolist()])

    @available_if(lambda self: self.solver in STOCHASTIC_SOLVERS)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Update the model with one epoch of mini-batch steps over ``(X, y)``.

        A true multinomial incremental update: the ``sgd``/``adam`` state
        (velocity, moments, step and epoch counters) carries over between
        calls, so successive calls continue one optimisation. Available only
        for ``solver="sgd"`` and ``solver="adam"``. ``max_iter``, ``tol`` and
        ``warm_start`` are not used. The step size is fixed at the first call
        and decays as ``1 / sqrt(1 + epoch)`` over calls unless
        ``solver_options`` names another schedule.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Labels; all must be among ``classes``.
        classes : array-like of shape (n_classes,), default=None
            All labels that will ever appear; required on the first call.
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : SoftmaxClassifier
        """
        self._validate_params()
        first_call = not hasattr(self, "classes_")
        if first_call:
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit.")
            classes = np.unique(np.asarray(classes))
            if len(classes) < 2:
                raise ValueError("partial_fit needs at least 2 classes in `classes`.")
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(
                f"classes={np.unique(classes)!r} differs from the classes of earlier calls "
                f"{self.classes_!r}."
            )
        else:
            classes = self.classes_
        if self.standardize:
            raise ValueError(
                "standardize=True needs all of X at once and is not supported by "
                "partial_fit; standardise the features beforehand."
            )
        if isinstance(self.class_weight, str):
            raise ValueError(
                "class_weight='balanced' needs all of y at once and is not supported by "
                "partial_fit; pass a dict of class weights."
            )
        X, y = self._validate_training_data(X, y, reset=first_call)
        unknown = np.setdiff1d(y, classes)
        if unknown.size:
            raise ValueError(f"y contains labels not in classes: {unknown[:5]!r}.")
        y_encoded = np.searchsorted(classes, y)
        weights, total_weight = self._combined_weights(sample_weight, y_encoded, classes, X)
        if first_call:
            self.classes_ = classes
        self._solver_used, self._solver_reason = self.solver, ""
        self._resume = False
        objective = self._objective(X, y_encoded, weights, total_weight)
        if first_call:
            x0, state = objective.zeros(), None
            self.n_iter_ = 0
            # One seed for the whole sequence of calls; the epoch counter in the
            # solver state gives each call its own shuffle.
            self._seed = self._new_seed()
        else:
            x0 = objective.pack(self.coef_, self.intercept_)
            # Continue the optimiser only if the same solver produced its state.
            same_solver = self.fit_report_.solver == self.solver
            state = self._optimizer_state if same_solver else None
        overrides = {"max_iter": 1, "state": state}
        if "schedule" not in (self.solver_options or {}):
            # The number of calls is unknown, so decay with the epoch count only.
            overrides["schedule"] = "inverse_sqrt"
        result = self._run_solver(
            objective, x0, X, warn_max_iter=False, checkpoints=False, **overrides
        )
        self.n_iter_ += result.n_iter
        self._optimizer_state = result.state
        return self

    # -- prediction ---------------------------------------------------------------
    def decision_function(self, X):
        """Logits ``X @ coef_.T + intercept_``.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask collection} of shape (n_samples, n_features)
            A Dask array or dataframe gives a lazy Dask array (one block per
            block of ``X``), computed where ``X``'s blocks are.

        Returns
        -------
        ndarray of shape (n_samples, n_classes), or (n_samples,) for two classes
            For two classes, scikit-learn's convention: the log-odds of
            ``classes_[1]`` against ``classes_[0]``.
        """
        if _is_dask_collection(X):
            return self._dask_predictions(X, "decision_function")
        raw = self._raw_prediction(X)
        if raw.shape[1] == 2:
            return raw[:, 1] - raw[:, 0]
        return raw

    def predict(self, X):
        """Most probable class of each row.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask collection} of shape (n_samples, n_features)
            Dask input gives a lazy Dask array, as in :meth:`decision_function`.

        Returns
        -------
        ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        if _is_dask_collection(X):
            return self._dask_predictions(X, "predict")
        raw = self._raw_prediction(X)
        return self.classes_[np.argmax(raw, axis=1)]

    def predict_proba(self, X):
        """Class probabilities ``softmax(X @ coef_.T + intercept_)``.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask collection} of shape (n_samples, n_features)
            Dask input gives a lazy Dask array, as in :meth:`decision_function`.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Columns in the order of ``classes_``; rows sum to one.
        """
        if _is_dask_collection(X):
            return self._dask_predictions(X, "predict_proba")
        return sm.softmax(self._raw_prediction(X))

    def predict_log_proba(self, X):
        """Log class probabilities, computed stably (never ``log(0)``).

        Parameters
        ----------
        X : {array-like, sparse matrix, dask collection} of shape (n_samples, n_features)
            Dask input gives a lazy Dask array, as in :meth:`decision_function`.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        if _is_dask_collection(X):
            return self._dask_predictions(X, "predict_log_proba")
        return sm.log_softmax(self._raw_prediction(X))

    def _dask_predictions(self, X, method):
        """``method`` of each block of a Dask array or dataframe, as one lazy Dask array."""
        import dask
        import dask.array as da

        check_is_fitted(self)
        function = getattr(self, method)
        # Shape and dtype of one row's output, from a row of zeros.
        names = getattr(self, "feature_names_in_", None)
        row = np.zeros((1, self.n_features_in_), dtype=self.coef_.dtype)
        if names is not None and hasattr(X, "columns"):
            import pandas as pd

            row = pd.DataFrame(row, columns=names)
        sample = function(row)
        if hasattr(X, "columns"):  # a dataframe: partitions of unknown length
            parts, rows = list(X.to_delayed()), None
        else:
            X = X.rechunk({1: -1}) if X.ndim == 2 and X.numblocks[1] > 1 else X
            parts, rows = list(X.to_delayed().ravel()), X.chunks[0]
        blocks = [
            da.from_delayed(
                dask.delayed(function)(part),
                shape=(np.nan if rows is None else rows[k], *sample.shape[1:]),
                dtype=sample.dtype,
            )
            for k, part in enumerate(parts)
        ]
        return da.concatenate(blocks, axis=0)

    # -- model files ------------------------------------------------------------------
    def save(self, path):
        """Write the fitted model to one file (safetensors tensors + JSON metadata).

        The file holds ``coef_``, ``intercept_`` and the standardisation
        statistics as tensors, and the classes (with their type), feature
        names, hyperparameters, fit report and library version as metadata;
        see :mod:`softmax_classifier.model_file`. The write is atomic. Read it
        back with :func:`softmax_classifier.load`.

        Parameters
        ----------
        path : str or os.PathLike

        Raises
        ------
        ValueError
            If the labels are of a type a model file cannot hold (mixed types,
            objects other than str/int/float/bool).
        softmax_classifier._atomic.OutputPathError
            (a ValueError) If ``path`` is a symbolic link, device, FIFO or
            directory, or its directory does not exist; nothing is written.
        """
        check_is_fitted(self)
        tensors = {"coef": self.coef_, "intercept": self.intercept_}
        standardized = getattr(self, "feature_scale_", None) is not None
        if standardized:
            tensors["feature_mean"] = self.feature_mean_
            tensors["feature_scale"] = self.feature_scale_
        names = getattr(self, "feature_names_in_", None)
        metadata = {
            "library_version": __version__,
            "classes": _classes_to_json(self.classes_),
            "class_type": _class_type(self.classes_),
            "n_features": int(self.n_features_in_),
            "feature_names": None if names is None else [str(n) for n in names],
            "dtype": str(self.coef_.dtype),
            "preprocessing": {
                "standardize": standardized,
                "center": bool(standardized and np.any(self.feature_mean_ != 0)),
            },
            "target_name": getattr(self, "target_name_", None),
            "alpha_used": float(self.alpha_) if hasattr(self, "alpha_") else None,
            "hyperparameters": _jsonable_params(self.get_params()),
            "fit_report": _finite_or_none(self.fit_report_.as_dict())
            if hasattr(self, "fit_report_")
            else None,
        }
        model_file.save(path, tensors, metadata)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    # -- helpers --------------------------------------------------------------------
    def _raw_prediction(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse="csr", dtype=[np.float64, np.float32], reset=False)
        coef, intercept = self.coef_, self.intercept_
        if getattr(self, "feature_scale_", None) is not None:
            # W ((x - m) / s) + b = (W / s) x + (b - (W / s) m): no copy of X.
            coef = coef / self.feature_scale_
            intercept = intercept - coef @ self.feature_mean_
        with np.errstate(over="ignore", invalid="ignore"):  # handled just below
            raw = sm.raw_prediction(X, coef, intercept)
            overflow = ~np.isfinite(raw).all(axis=1)
            if overflow.any():  # finite X (validated) whose logits overflow the dtype
                shifted = _shifted_logits(X[overflow], coef, intercept)
                raw[overflow] = shifted.astype(raw.dtype)  # -inf where below the dtype's range
        return raw

    def _fit_standardization(self, X, y_encoded, weights):
        """Learn ``feature_mean_``/``feature_scale_`` and return the standardised ``X``.

        The statistics come from the same two block passes as for streamed
        and Dask sources, in float64 one block at a time (no float64 copy of
        float32 ``X``).
        """
        if not self.standardize:
            self.feature_mean_ = self.feature_scale_ = None
            return X
        mean, scale = _mean_and_scale(InMemoryData(X, y_encoded, weights))
        if sp.issparse(X):  # scaled, never centred: the mean is zero
            X_solve = X.multiply((1.0 / scale).astype(X.dtype)).tocsr()
        else:
            X_solve = X - mean.astype(X.dtype)
            X_solve /= scale.astype(X.dtype)
        self.feature_mean_, self.feature_scale_ = mean, scale
        return X_solve

    def _validate_training_data(self, X, y, reset):
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse="csr",
            dtype=[np.float64, np.float32],
            reset=reset,
        )
        check_classification_targets(y)
        return X, y

    def _combined_weights(self, sample_weight, y_encoded, classes, X):
        """``sample_weight * class_weight[y]``, rescaled, and the sum of the weights as given.

        Returns
        -------
        weights : ndarray of shape (n_samples,) in ``X.dtype``, or None for all ones
            Divided by their largest value, so that neither 1e300 in float32
            nor 1e-300 turns into inf or 0: the objective's weighted mean does
            not depend on a common factor.
        total_weight : float
            ``sum(sample_weight * class_weight[y])`` before rescaling (for
            ``alpha="auto"``); may be inf when the sum overflows float64.
        """
        n_samples = X.shape[0]
        weights = None
        if sample_weight is not None:
            weights = _validate_sample_weight(sample_weight, n_samples)
        if self.class_weight is not None:
            if isinstance(self.class_weight, dict):
                unknown = set(self.class_weight) - set(classes.tolist())
                if unknown:
                    raise ValueError(
                        f"class_weight names labels not in y: {sorted(map(repr, unknown))}."
                    )
            per_class = compute_class_weight(
                self.class_weight, classes=classes, y=classes[y_encoded]
            )
            class_weights = per_class[y_encoded]
            weights = class_weights if weights is None else weights * class_weights
        if weights is None:
            return None, float(n_samples)
        largest = float(weights.max()) if weights.size else 0.0
        if not largest > 0:
            raise ValueError("The sample weights sum to zero: at least one row needs weight > 0.")
        weights = weights / largest
        with np.errstate(over="ignore"):
            total_weight = float(np.sum(weights)) * largest
        return weights.astype(X.dtype), total_weight

    def _warm_start_params(self, classes, n_features):
        if not (self.warm_start and hasattr(self, "coef_")):
            return None
        if not np.array_equal(classes, self.classes_) or self.coef_.shape[1] != n_features:
            return None
        return self.coef_, self.intercept_

    def _objective(self, X, y_encoded, weights, total_weight):
        """The objective on in-memory data; ``total_weight`` (before rescaling) sets "auto"."""
        data = InMemoryData(X, y_encoded, weights)
        self.alpha_ = self._alpha_for(total_weight)
        return SoftmaxObjective(
            data, len(self.classes_), alpha=self.alpha_, fit_intercept=self.fit_intercept
        )

    def _alpha_for(self, total_weight):
        """``alpha``, or ``1 / total_weight`` (scikit-learn's ``C = 1``) for ``"auto"``."""
        if isinstance(self.alpha, str):
            return 1.0 / total_weight  # 0.0 when the sum overflowed: no penalty to speak of
        return float(self.alpha)

    def _new_seed(self):
        return int(check_random_state(self.random_state).randint(2**31 - 1))

    def _solver_kwargs(self):
        kwargs = {}
        if self.max_iter is not None:
            kwargs["max_iter"] = self.max_iter
        if self._solver_used in ("gd", "sgd", "adam"):
            kwargs["learning_rate"] = self.learning_rate
        if self._solver_used in STOCHASTIC_SOLVERS:
            kwargs["batch_size"] = self.batch_size
            kwargs["random_state"] = self._seed
        if self._solver_used == "sgd":
            kwargs["momentum"] = self.momentum
        kwargs.update(self.solver_options or {})
        return kwargs

    def _run_solver(
        self, objective, x0, X, warn_max_iter=True, callback=None, checkpoints=True, **overrides
    ):
        solver = self._solver_used
        minimize = SOLVERS[solver]
        writer = None
        if checkpoints and self.checkpoint_dir is not None:
            writer, resume_state = self._checkpointing(objective, X)
            if resume_state is not None:
                overrides["resume"] = resume_state
        kwargs = self._solver_kwargs()
        kwargs.update(overrides)
        printer = _Printer() if self.verbose else None
        # The checkpoint is written before anyone else hears of the iteration, so
        # a callback that stops (or kills) the process leaves it on disk.
        callback = _chain(writer, printer, _resolved(callback, solver, kwargs))
        small = X.shape[0] * X.shape[1] < _SINGLE_THREAD_ENTRIES
        start = time.perf_counter()
        with one_blas_thread() if small else nullcontext():
            try:
                result = minimize(objective, x0, tol=self.tol, callback=callback, **kwargs)
            except DaskFitError as error:
                if writer is None:
                    raise
                raise DaskFitError(f"{error} {writer.whereabouts()}") from error
        elapsed = time.perf_counter() - start
        coef, intercept = objective.unpack(result.params)
        self.coef_ = np.ascontiguousarray(coef, dtype=X.dtype)
        if self.fit_intercept:
            self.intercept_ = (intercept - intercept.mean()).astype(X.dtype)
        else:
            self.intercept_ = np.zeros(len(self.classes_), dtype=X.dtype)
        self.fit_report_ = FitReport(
            solver=solver,
            solver_reason=self._solver_reason,
            stop_reason=result.stop_reason,
            message=result.message,
            n_iter=result.n_iter,
            grad_norm=result.grad_norm,
            objective_history=[float(v) for v in result.objective_history],
            n_passes=objective.n_passes,
            time_seconds=elapsed,
        )
        if printer is not None:
            print(f"[{solver}] {result.stop_reason}: {result.message}", file=sys.stderr)
        quiet = (CONVERGED, STOPPED) if warn_max_iter else (CONVERGED, STOPPED, MAX_ITER)
        if result.stop_reason not in quiet:
            warnings.warn(_convergence_advice(solver, result), ConvergenceWarning, stacklevel=3)
        return result

    def _checkpointing(self, objective, X):
        """The checkpoint writer of this fit, and the state to resume from (or None)."""
        checkpoint.check_writable(self.checkpoint_dir)
        params = self.get_params()
        for name in ("verbose", "checkpoint_dir", "checkpoint_every", "tol", "warm_start"):
            params.pop(name)
        description = {
            "solver": self._solver_used,
            "n_params": int(objective.n_params),
            "data": [int(X.shape[0]), int(X.shape[1]), float(objective.data.total_weight)],
            "classes": _classes_to_json(self.classes_),
            "params": _jsonable_params(params),
            "data_fingerprint": _data_fingerprint(objective),
        }
        if objective.layout != "class-major":
            # Saved vectors are in this layout; checkpoints written before it
            # existed (class-major, the only one then) still resume.
            description["parameter_layout"] = objective.layout
        state = None
        if self._resume:
            state, saved_seed = checkpoint.load(self.checkpoint_dir, description)
            if state is not None:
                self._seed = saved_seed
        return checkpoint.CheckpointWriter(
            self.checkpoint_dir, self.checkpoint_every, description, seed=self._seed
        ), state

    def _validate_params(self):
        if not (isinstance(self.alpha, str) and self.alpha == "auto"):
            _check_number("alpha", self.alpha, low=0.0)
        if self.solver not in SOLVER_NAMES:
            raise ValueError(f"solver must be one of {sorted(SOLVER_NAMES)}; got {self.solver!r}.")
        if self.max_iter is not None:
            _check_integer("max_iter", self.max_iter, low=1)
        _check_number("tol", self.tol, low=0.0)
        if not (isinstance(self.learning_rate, str) and self.learning_rate == "auto"):
            _check_number("learning_rate", self.learning_rate, low=0.0, low_inclusive=False)
        _check_integer("batch_size", self.batch_size, low=1)
        _check_number("momentum", self.momentum, low=0.0, high=1.0)
        _check_integer("verbose", self.verbose, low=0)
        _check_integer("checkpoint_every", self.checkpoint_every, low=1)
        if not isinstance(self.fit_intercept, (bool, np.bool_)):
            raise ValueError(f"fit_intercept must be True or False; got {self.fit_intercept!r}.")
        cw = self.class_weight
        if not (cw is None or cw == "balanced" or isinstance(cw, dict)):
            raise ValueError(f"class_weight must be None, 'balanced' or a dict; got {cw!r}.")
        if isinstance(cw, dict):
            for label, weight in cw.items():
                _check_number(f"class_weight[{label!r}]", weight, low=0.0)
        options = self.solver_options or {}
        if not isinstance(options, dict):
            raise ValueError(f"solver_options must be a dict or None; got {options!r}.")
        if self.solver == "auto":
            if options:
                raise ValueError(
                    f"solver_options {sorted(options)} need a named solver; with solver='auto' "
                    "the choice is made at fit time. Pass solver='lbfgs' or 'newton-cg'."
                )
            return
        allowed = set(inspect.signature(SOLVERS[self.solver]).parameters) - _RESERVED_OPTIONS
        unknown = set(options) - allowed
        if unknown:
            raise ValueError(
                f"solver_options {sorted(unknown)} are not options of solver {self.solver!r}; "
                f"it accepts {sorted(allowed)}."
            )


def _is_dask_collection(X):
    """Whether X is a Dask array or dataframe (without importing Dask)."""
    return type(X).__module__.split(".")[0] == "dask" and hasattr(X, "to_delayed")


def _shifted_logits(X, coef, intercept):
    """Logits minus their row maximum, for rows whose logits overflow: no inf - inf.

    With ``m = max|x|`` and ``d = W (x / m)`` (finite), the logits are
    ``m d + b``; minus those of the class ``k`` with the largest ``(d_k, b_k)``
    they are ``m (d_j - d_k) + (b_j - b_k) <= 0``, finite or ``-inf``. Softmax and
    argmax are the same for both, so predictions are the limits of the exact ones.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_rows, n_features)
    coef : ndarray of shape (n_classes, n_features)
    intercept : ndarray of shape (n_classes,)

    Returns
    -------
    ndarray of shape (n_rows, n_classes), float64
    """
    X = X.toarray() if sp.issparse(X) else np.asarray(X)
    X = X.astype(np.float64)
    coef, intercept = coef.astype(np.float64), intercept.astype(np.float64)
    largest = np.abs(X).max(axis=1, keepdims=True)
    largest[largest == 0] = 1.0
    direction = (X / largest) @ coef.T
    order = np.lexsort((np.broadcast_to(intercept, direction.shape), direction), axis=1)
    top = order[:, -1:]
    with np.errstate(over="ignore"):
        gap = largest * (direction - np.take_along_axis(direction, top, axis=1))
    return gap + (intercept - intercept[top])


def _check_model_size(n_classes, n_features):
    """Refuse, before allocating, a model whose solver could not fit in this machine's memory.

    Every solver keeps at least four float64 vectors of ``n_classes *
    (n_features + 1)`` entries (parameters, gradient, direction, trial
    point). One stray LIBSVM index like 2000000000 makes ``n_features`` that
    large; without this check the fit would ask for tens of GiB and die.

    Raises
    ------
    ValueError
        Saying how many parameters, how much memory, and the machine's total.
    """
    n_params = n_classes * (n_features + 1)
    needed = 4 * 8 * n_params
    try:
        available = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - no sysconf
        return
    if needed > available:
        raise ValueError(
            f"the model would have {n_params:,} parameters ({n_classes} classes x "
            f"{n_features:,} features); the solver needs at least {needed / 2**30:.1f} GiB "
            f"for them, more than this machine's {available / 2**30:.1f} GiB of memory. "
            "Check the number of features (one very large LIBSVM index sets it)."
        )


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


def _resolved(callback, solver, kwargs):
    """``callback`` hearing each iteration with the fit's solver and ``max_iter`` filled in."""
    if callback is None:
        return None
    max_iter = int(kwargs.get("max_iter", default_max_iter(solver)))
    return lambda info: callback(dataclasses.replace(info, solver=solver, max_iter=max_iter))


def _chain(*callbacks):
    """One callback calling each given one (None entries skipped); stops if any asks to."""
    callbacks = [c for c in callbacks if c is not None]
    if not callbacks:
        return None
    if len(callbacks) == 1:
        return callbacks[0]
    return lambda info: any([bool(c(info)) for c in callbacks])


def _mean_and_scale(source):
    """Per-feature weighted mean and standard deviation of any data source, in two passes.

    In memory, streamed or on Dask: the same block sums in float64. Each
    feature is first divided by its largest absolute value (found in the first
    pass), so values from 1e-300 to 1e300 neither underflow nor overflow when
    squared. Sparse sources: the mean is returned as zeros (rows are scaled,
    never centred), the scale is the standard deviation around the true mean.
    """
    total, weighted_sum, largest = source.reduce(_first_moment_block)
    unit = np.where(largest > 0, largest, 1.0)
    with np.errstate(over="ignore", invalid="ignore"):
        mean = weighted_sum / total
    if not np.isfinite(mean).all():  # the sums overflowed: add up x / max|x| instead
        (unit_sum,) = source.reduce(_unit_sum_block, unit)
        mean = unit_sum / total * unit
    (squares,) = source.reduce(_centred_square_block, mean, unit)
    scale = _scale_from_variance(squares / total, unit)
    if source.is_sparse:
        mean = np.zeros_like(mean)
    return mean, scale


def _first_moment_block(X, y, weights):
    """``sum_k w_k``, ``sum_k w_k x_k`` and ``max_k |x_k|`` per feature, in float64."""
    w = np.ones(X.shape[0]) if weights is None else weights.astype(np.float64)
    with np.errstate(over="ignore"):
        if sp.issparse(X):  # from the stored entries: no CSC copy of a (wide) block
            largest = np.zeros(X.shape[1])
            np.maximum.at(largest, X.indices, np.abs(X.data).astype(np.float64))
            return w.sum(), np.asarray(X.T @ w, dtype=np.float64).ravel(), largest
        largest = np.abs(X).max(axis=0).astype(np.float64)
        return w.sum(), w @ X.astype(np.float64, copy=False), largest


def _unit_sum_block(X, y, weights, unit):
    """``sum_k w_k x_k / unit`` per feature."""
    w = np.ones(X.shape[0]) if weights is None else weights.astype(np.float64)
    if sp.issparse(X):
        return (np.asarray(X.T @ w, dtype=np.float64).ravel() / unit,)
    return (w @ (X.astype(np.float64) / unit),)


def _centred_square_block(X, y, weights, mean, unit):
    """``sum_k w_k ((x_k - mean) / unit)^2`` per feature (sparse: expanded, X stays sparse)."""
    w = np.ones(X.shape[0]) if weights is None else weights.astype(np.float64)
    centre = mean / unit
    if sp.issparse(X):
        X = X.astype(np.float64).multiply(1.0 / unit).tocsr()
        first = np.asarray(X.T @ w).ravel()
        second = np.asarray(X.multiply(X).T @ w).ravel()
        return (second - 2 * centre * first + centre**2 * w.sum(),)
    return (w @ np.square(X.astype(np.float64) / unit - centre),)


def _scale_from_variance(unit_variance, unit):
    """Standard deviations from the variance of ``x / unit``; 1 for constant features.

    A feature is constant when its spread is at the rounding level of its own
    largest value (``std <= 16 eps max|x|``: a mean of identical values is
    exact to a few eps), whatever its units: 1e-20-sized features that vary
    are scaled, not dropped.
    """
    unit_std = np.sqrt(np.maximum(unit_variance, 0.0))
    constant = ~(unit_std > 16 * np.finfo(np.float64).eps)
    scale = unit_std * unit
    scale[constant] = 1.0
    return scale


def load(path):
    """Read a model written by :meth:`SoftmaxClassifier.save`.

    Loading reads numbers and JSON only: nothing in the file is unpickled,
    imported or evaluated. Every check of :mod:`softmax_classifier.model_file`
    runs first (sizes, layout, dtypes, SHA-256 of the whole file, format version,
    finiteness, consistency of shapes, classes and preprocessing).

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    SoftmaxClassifier
        Fitted, predicting exactly as the saved model did.

    Raises
    ------
    softmax_classifier.model_file.ModelFileError
        For a missing, unreadable, malformed, truncated, oversized, tampered or
        incompatible file (the only exception type it raises).
    """
    tensors, metadata = model_file.load(path)
    known = SoftmaxClassifier().get_params()
    params = {k: v for k, v in metadata["hyperparameters"].items() if k in known}
    model = SoftmaxClassifier()
    try:
        model.set_params(**params)
        model._validate_params()
    except (TypeError, ValueError) as error:
        raise model_file.ModelFileError(f"{path}: invalid hyperparameters: {error}") from None
    model.classes_ = model_file.restore_classes(metadata)
    model.coef_ = tensors["coef"]
    model.intercept_ = tensors["intercept"]
    model.n_features_in_ = metadata["n_features"]
    if metadata["feature_names"] is not None:
        model.feature_names_in_ = np.asarray(metadata["feature_names"], dtype=object)
    target_name = metadata.get("target_name")
    if target_name is not None:
        if not isinstance(target_name, str):
            raise model_file.ModelFileError(f"{path}: target_name must be a string or null")
        model.target_name_ = target_name
    alpha_used = metadata.get("alpha_used")
    if alpha_used is not None:
        if isinstance(alpha_used, bool) or not isinstance(alpha_used, (int, float)):
            raise model_file.ModelFileError(f"{path}: alpha_used must be a number or null")
        model.alpha_ = float(alpha_used)
    model.feature_mean_ = tensors.get("feature_mean")
    model.feature_scale_ = tensors.get("feature_scale")
    report = metadata["fit_report"]
    if report is not None:
        try:
            model.fit_report_ = FitReport(**report)
        except TypeError as error:
            raise model_file.ModelFileError(f"{path}: invalid fit report: {error}") from None
        model.n_iter_ = model.fit_report_.n_iter
    return model


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


def _class_type(classes):
    kind = classes.dtype.kind
    if kind == "b":
        return "bool"
    if kind in "iu":
        return "int"
    if kind == "f":
        return "float"
    if kind in "US" or all(isinstance(c, str) for c in classes):
        return "str"
    raise ValueError(
        "a model file can hold labels that are all ints, floats, strings or booleans; "
        f"these are {sorted({type(c).__name__ for c in classes})}."
    )


def _classes_to_json(classes):
    kind = _class_type(classes)
    convert = {"bool": bool, "int": int, "float": float, "str": str}[kind]
    return [convert(c) for c in classes]


def _finite_or_none(value):
    """``value`` with NaN and inf (which JSON cannot hold) replaced by None, recursively."""
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite_or_none(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def _jsonable_params(params):
    """Hyperparameters as JSON values; what JSON cannot hold (a RandomState) becomes None."""
    result = {}
    for key, value in params.items():
        if isinstance(value, np.generic):
            value = value.item()
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            value = None
        result[key] = value
    return result


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


def _validate_sample_weight(sample_weight, n_samples):
    weights = np.asarray(sample_weight)
    if weights.ndim == 0:
        weights = np.full(n_samples, weights)
    if weights.shape != (n_samples,):
        raise ValueError(
            f"sample_weight has shape {weights.shape}; expected ({n_samples},), one weight per row."
        )
    if weights.dtype.kind not in "biuf":
        raise ValueError(f"sample_weight must be numeric; got dtype {weights.dtype}.")
    weights = weights.astype(np.float64)
    bad = np.flatnonzero(~np.isfinite(weights))
    if bad.size:
        raise ValueError(
            f"sample_weight contains NaN or inf ({bad.size} values, first at index {bad[0]})."
        )
    negative = np.flatnonzero(weights < 0)
    if negative.size:
        raise ValueError(
            f"sample_weight must be non-negative; found {weights[negative[0]]} at index "
            f"{negative[0]}."
        )
    return weights


def _check_number(name, value, *, low=None, high=None, low_inclusive=True):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number; got {value!r}.")
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite; got {value!r}.")
    if low is not None and (value < low or (value == low and not low_inclusive)):
        bound = ">=" if low_inclusive else ">"
        raise ValueError(f"{name} must be {bound} {low}; got {value!r}.")
    if high is not None and value >= high:
        raise ValueError(f"{name} must be < {high}; got {value!r}.")


def _check_integer(name, value, *, low):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer; got {value!r}.")
    if value < low:
        raise ValueError(f"{name} must be >= {low}; got {value!r}.")
