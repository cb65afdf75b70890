"""``SoftmaxClassifier``: the scikit-learn estimator.

A thin facade: it checks the hyperparameters (``_parameter_constraints``),
turns the input into a data source (:func:`softmax_classifier.data.as_source`),
hands it to the one fit pipeline (:func:`softmax_classifier.training.fit`) and
keeps what comes back. Predictions apply :mod:`softmax_classifier.math`'s
formulas; model files are :mod:`softmax_classifier.model_file`'s.
"""

from __future__ import annotations

import os
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from softmax_classifier import model_file, training
from softmax_classifier._parameters import PENALTY_NAMES, SOLVER_NAMES, STOCHASTIC_SOLVER_NAMES
from softmax_classifier._prediction import SoftmaxPredictionMixin
from softmax_classifier.data import DaskFitError, DataSource, as_source, is_dask_collection
from softmax_classifier.training import FitReport, default_max_iter

__all__ = [
    "SOLVER_NAMES",
    "DaskFitError",
    "FitReport",
    "SoftmaxClassifier",
    "default_max_iter",
    "load",
]

_DTYPES = [np.float64, np.float32]


class SoftmaxClassifier(SoftmaxPredictionMixin, ClassifierMixin, BaseEstimator):
    r"""Softmax classifier (multinomial logistic regression).

    Models :math:`p(y = i \mid x) = \mathrm{softmax}(W x + b)_i` and minimises

    .. math::

        \frac{\sum_k s_k [\log \sum_j e^{a_j(x_k)} - a_{y_k}(x_k)]}{\sum_k s_k}
        + \frac{\alpha}{2} \lVert W \rVert_F^2

    the notes' mean cross-entropy with sample weights :math:`s_k` and an L2
    penalty on ``coef`` (the intercept is not penalised), using the analytic
    gradient of :func:`softmax_classifier.math.loss_gradient`. This is
    scikit-learn's multinomial ``LogisticRegression(C=C)`` objective divided by
    ``C * sum(s)``, i.e. ``alpha = 1 / (C * sum(s))``. ``penalty`` replaces the
    L2 term by ``alpha * ||W||_1``, the elastic net or the group lasso
    (:mod:`softmax_classifier.penalties`, ``docs/penalties.md``).

    Parameters
    ----------
    alpha : float or "auto", default="auto"
        Penalty strength on ``coef``; ``>= 0``. ``"auto"`` is
        ``1 / sum(s)`` (``1 / n_samples`` without weights; ``s`` includes
        ``class_weight``): scikit-learn's default ``C = 1``, a penalty that
        shrinks as the data grow. The value used is kept in ``alpha_``.
    penalty : {"l2", "l1", "elasticnet", "group"}, default="l2"
        ``alpha/2 ||W||_F^2``; ``alpha ||W||_1``; ``alpha (r ||W||_1 + (1 - r)/2
        ||W||_F^2)`` with ``r = l1_ratio``; ``alpha sum_j ||W[:, j]||_2`` (each
        feature kept or dropped for all classes). All but ``"l2"`` need
        ``solver="prox-newton"`` (what ``"auto"`` picks for them).
    l1_ratio : float in [0, 1] or None, default=None
        The elastic net's mix; required by ``"elasticnet"`` and only there.
    fit_intercept : bool, default=True
        Whether to learn ``intercept_``.
    solver : {"auto", "lbfgs", "newton-cg", "gd", "sgd", "adam", "prox-newton"}, default="auto"
        ``auto``: ``prox-newton`` for a non-smooth ``penalty``, otherwise
        ``lbfgs`` or ``newton-cg`` by the data's size, sparsity and
        number of features and the memory L-BFGS would need
        (:func:`softmax_classifier.solvers.choose_solver`, rules from the
        measurements in ``docs/solvers.md``); the fit report says which and why.
        ``prox-newton``: proximal Newton, coordinate descent on each Newton model.
        ``lbfgs``: limited-memory BFGS with a Wolfe line search.
        ``newton-cg``: Newton steps by preconditioned conjugate gradient on
        exact Hessian-vector products (``docs/solvers.md``).
        ``gd``: full-batch gradient descent (the notes' update).
        ``sgd``: mini-batch SGD with momentum; ``batch_size=1`` is the notes'
        per-example update. ``adam``: mini-batch Adam.
    max_iter : int or None, default=None
        Iterations (epochs for ``sgd``/``adam``). ``None`` uses the solver's
        default: lbfgs 100 (scikit-learn's), newton-cg 100, prox-newton 100, gd 2000,
        sgd 200, adam 200 (for ``auto``, that of the solver it chooses).
    tol : float, default=1e-4
        Converged when the largest absolute entry of the objective's gradient
        (the minimum-norm subgradient for a non-smooth penalty) is ``<= tol``
        (for ``sgd``/``adam``: checked after each epoch).
        scikit-learn's default (measurements: ``docs/solvers.md``). Lower it
        for coefficients close to the optimum.
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
    temperature_ : float
        Only after :meth:`calibrate`: ``predict_proba`` is ``softmax(z / T)``.
    target_name_ : str
        Only when the data source named its label column (a file's target):
        saved with the model, so ``softmax evaluate`` finds the labels.

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

    _parameter_constraints: ClassVar[dict] = {
        "alpha": [Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
        "penalty": [StrOptions(set(PENALTY_NAMES))],
        "l1_ratio": [Interval(Real, 0, 1, closed="both"), None],
        "fit_intercept": ["boolean"],
        "solver": [StrOptions(set(SOLVER_NAMES))],
        "max_iter": [Interval(Integral, 1, None, closed="left"), None],
        "tol": [Interval(Real, 0, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "momentum": [Interval(Real, 0, 1, closed="left")],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "warm_start": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "standardize": ["boolean"],
        "solver_options": [dict, None],
        "checkpoint_dir": [str, os.PathLike, None],
        "checkpoint_every": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        alpha="auto",
        *,
        penalty="l2",
        l1_ratio=None,
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
        self.penalty = penalty
        self.l1_ratio = l1_ratio
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
            kept in float32. A ``dask.array`` or ``dask.dataframe`` (with ``y``
            and ``sample_weight`` of the same kind and row blocks) is fitted on
            its cluster. A data source (:func:`~softmax_classifier.data.as_source`:
            a file read batch by batch, a Dask cluster's rows, ...) brings its
            own labels, weights, feature and target names (then ``y`` and
            ``sample_weight`` must be None).
        y : array-like of shape (n_samples,)
            Labels of any type (ints, strings, ...); at least two classes.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; the objective is their weighted mean.
        callback : callable, optional
            Called after every iteration (epoch) with a
            :class:`~softmax_classifier.solvers.Iteration` (``solver`` and
            ``max_iter`` say what runs); returning True stops the fit cleanly
            (stop reason ``"stopped"``): progress bars, Ctrl-C handling.
        resume : bool, default=False
            Continue from the checkpoint in ``checkpoint_dir`` if there is one (of a
            fit of the same data and parameters); start afresh otherwise.

        Returns
        -------
        self : SoftmaxClassifier
        """
        self._check_params()
        if resume and self.checkpoint_dir is None:
            raise ValueError("resume=True needs checkpoint_dir: where the checkpoint is.")
        if isinstance(X, DataSource) or is_dask_collection(X):
            source = as_source(X, y, sample_weight)
        else:
            if y is None:
                raise ValueError(
                    "SoftmaxClassifier requires y to be passed, but the target y is None "
                    "(only a data source or a Dask collection brings its own labels)."
                )
            X, y = self._validated(X, y, reset=True)
            names = getattr(self, "feature_names_in_", None)
            source = as_source(X, y, sample_weight, feature_names=names)
        training.check_label_type(source.classes)
        start = self._warm_start_params(source.classes, source.n_features)
        result = training.fit(
            source,
            self.get_params(),
            seed=self._new_seed(),
            start=start,
            callback=callback,
            resume=resume,
        )
        self._keep(result, source)
        self.n_iter_ = result.n_iter
        return self

    @available_if(lambda self: self.solver in STOCHASTIC_SOLVER_NAMES)
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
        self._check_params()
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
        X, y = self._validated(X, y, reset=first_call)
        source = as_source(X, y, sample_weight, classes=classes)
        check_classification_targets(y)
        if first_call:
            self.n_iter_, self._seed, start, state = 0, self._new_seed(), None, None
        else:
            # Continue the optimiser only if the same solver produced its state.
            same_solver = self.fit_report_.solver == self.solver
            start = (self.coef_, self.intercept_)
            state = self._optimizer_state if same_solver else None
        result = training.fit(
            source, self.get_params(), seed=self._seed, start=start, state=state, epoch=True
        )
        self._keep(result, source)
        self.n_iter_ += result.n_iter
        return self

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
            Labels a model file cannot hold (mixed types, objects other than
            str/int/float/bool); or (``OutputPathError``) a ``path`` that is a
            link, device, FIFO or directory, or in no directory: nothing written.
        """
        check_is_fitted(self)
        names = getattr(self, "feature_names_in_", None)
        report = getattr(self, "fit_report_", None)
        contents = model_file.ModelContents(
            coef=self.coef_,
            intercept=self.intercept_,
            classes=self.classes_,
            n_features=int(self.n_features_in_),
            feature_names=None if names is None else [str(n) for n in names],
            feature_mean=getattr(self, "feature_mean_", None),
            feature_scale=getattr(self, "feature_scale_", None),
            target_name=getattr(self, "target_name_", None),
            alpha_used=float(self.alpha_) if hasattr(self, "alpha_") else None,
            hyperparameters=self.get_params(),
            fit_report=None if report is None else report.as_dict(),
            temperature=getattr(self, "temperature_", None),
        )
        model_file.save_model(path, contents)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    # -- helpers --------------------------------------------------------------------
    def _check_params(self):
        """``_parameter_constraints``, then what they cannot say (values, options, penalty)."""
        self._validate_params()
        training.check_hyperparameters(self.get_params())

    def _validated(self, X, y, reset):
        """X and y checked (shapes, dtypes, feature names); values and labels by the source."""
        return validate_data(
            self, X, y, accept_sparse="csr", dtype=_DTYPES, reset=reset, ensure_all_finite=False
        )

    def _keep(self, result, source):
        """Store what the pipeline learned, and the source's names."""
        self.classes_ = result.classes
        self.coef_, self.intercept_ = result.coef, result.intercept
        self.feature_mean_, self.feature_scale_ = result.feature_mean, result.feature_scale
        self.alpha_, self.fit_report_ = result.alpha, result.report
        self._set_temperature(None)  # new logits: calibrate again
        self._optimizer_state, self._seed = result.state, result.seed
        self.n_features_in_ = source.n_features
        for attribute, value in (
            ("feature_names_in_", source.feature_names),
            ("target_name_", source.target_name),
        ):
            if value is not None:
                value = np.asarray(value, dtype=object) if attribute[0] == "f" else str(value)
                setattr(self, attribute, value)
            elif hasattr(self, attribute):  # from an earlier fit
                delattr(self, attribute)

    def _warm_start_params(self, classes, n_features):
        if not (self.warm_start and hasattr(self, "coef_")):
            return None
        if not np.array_equal(classes, self.classes_) or self.coef_.shape[1] != n_features:
            return None
        return self.coef_, self.intercept_

    def _new_seed(self):
        return int(check_random_state(self.random_state).randint(2**31 - 1))


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
    contents = model_file.load_model(path)
    model = SoftmaxClassifier()
    known = model.get_params()
    try:
        model.set_params(**{k: v for k, v in contents.hyperparameters.items() if k in known})
        model._check_params()
    except (TypeError, ValueError) as error:
        raise model_file.ModelFileError(f"{path}: invalid hyperparameters: {error}") from None
    model.classes_ = contents.classes
    model.coef_, model.intercept_ = contents.coef, contents.intercept
    model.n_features_in_ = contents.n_features
    if contents.feature_names is not None:
        model.feature_names_in_ = np.asarray(contents.feature_names, dtype=object)
    if contents.target_name is not None:
        model.target_name_ = contents.target_name
    if contents.alpha_used is not None:
        model.alpha_ = contents.alpha_used
    model.feature_mean_, model.feature_scale_ = contents.feature_mean, contents.feature_scale
    model._set_temperature(contents.temperature)
    if contents.fit_report is not None:
        try:
            model.fit_report_ = FitReport(**contents.fit_report)
        except TypeError as error:
            raise model_file.ModelFileError(f"{path}: invalid fit report: {error}") from None
        model.n_iter_ = model.fit_report_.n_iter
    return model
