"""Predictions of a fitted softmax model: logits, labels, probabilities, for any input.

:class:`SoftmaxPredictionMixin` gives the estimator ``decision_function``,
``predict``, ``predict_proba``, ``predict_log_proba``, ``log_proba_blocks``,
``calibrate``, ``summary`` (:mod:`softmax_classifier.inference`) and ``to_onnx``
(:mod:`softmax_classifier.onnx_export`) from its
fitted attributes (``coef_``, ``intercept_``, ``classes_`` and the
standardisation statistics). The formulas are
:func:`softmax_classifier.math.raw_prediction`, ``softmax`` and
``log_softmax``; this module adds what a fitted model needs around them:
the standardisation folded into the coefficients, logits that overflow,
Dask collections and data sources, the temperature of
:meth:`~SoftmaxPredictionMixin.calibrate` (:mod:`softmax_classifier.calibration`),
and the top ``k`` classes of very many by blocks (:mod:`softmax_classifier._top_k`).
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import check_is_fitted, validate_data

from softmax_classifier import _class_blocks
from softmax_classifier import math as sm
from softmax_classifier._top_k import top_k as blocked_top_k
from softmax_classifier.calibration import fit_temperature
from softmax_classifier.data import DataSource, is_dask_collection
from softmax_classifier.inference import summary
from softmax_classifier.onnx_export import DEFAULT_OPSET, to_onnx

__all__ = ["SoftmaxPredictionMixin", "dask_predictions", "raw_prediction"]

_DTYPES = [np.float64, np.float32]


class SoftmaxPredictionMixin:
    """Predictions of a fitted softmax classifier (``coef_``, ``intercept_``, ``classes_``)."""

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
        if is_dask_collection(X):
            return dask_predictions(self, X, "decision_function")
        raw = self._raw_prediction(X)
        return raw[:, 1] - raw[:, 0] if raw.shape[1] == 2 else raw

    def predict(self, X):
        """Most probable class of each row.

        When ``n_samples x n_classes`` logits exceed the logit budget
        (``docs/many_classes.md``), they are taken by blocks of rows and
        classes, never all at once; the label is the same (the largest logit,
        the earlier class on a tie).

        Parameters
        ----------
        X : {array-like, sparse matrix, dask collection} of shape (n_samples, n_features)
            Dask input gives a lazy Dask array, as in :meth:`decision_function`.

        Returns
        -------
        ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        if is_dask_collection(X):
            return dask_predictions(self, X, "predict")
        X = self._checked_rows(X)
        if X.shape[0] * len(self.classes_) > _class_blocks.logit_budget():
            index, _ = self._top_k(X, 1, with_proba=False)  # no n x c logits held
            return self.classes_[index[:, 0]]
        return self.classes_[np.argmax(self._logits(X), axis=1)]

    def predict_proba(self, X, top_k=None):
        """Class probabilities ``softmax(X @ coef_.T + intercept_)``, or the ``top_k`` largest.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask collection} of shape (n_samples, n_features)
            Dask input gives a lazy Dask array, as in :meth:`decision_function`
            (not with ``top_k``).
        top_k : int or None, default=None
            None: every class's probability. An int ``k`` (1 to ``n_classes``):
            the ``k`` most probable classes of each row and their
            probabilities, computed by blocks of rows and classes without an
            ``(n_samples, n_classes)`` array (``docs/many_classes.md``), the
            same numbers as the columns of the full matrix.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            With ``top_k=None``: columns in the order of ``classes_``; rows sum
            to one. After :meth:`calibrate`, ``softmax(logits / temperature_)``.
        (labels, proba) : tuple of ndarray of shape (n_samples, top_k)
            With ``top_k``: labels from ``classes_``, the most probable first
            (ties: the class earlier in ``classes_`` first), and their
            probabilities (tempered after :meth:`calibrate`, as above).

        Raises
        ------
        ValueError
            For a ``top_k`` that is not an integer from 1 to ``n_classes``, or
            with Dask input.
        """
        if top_k is not None:
            k = self._checked_top_k(top_k)
            if is_dask_collection(X):
                raise ValueError(
                    "predict_proba(top_k=...) takes arrays or sparse matrices, not a Dask "
                    "collection: call it on each block (X.map_blocks) or compute X first."
                )
            index, proba = self._top_k(self._checked_rows(X), k)
            return self.classes_[index], proba
        if is_dask_collection(X):
            return dask_predictions(self, X, "predict_proba")
        return sm.softmax(self._tempered(self._raw_prediction(X)))

    def predict_log_proba(self, X):
        """Log class probabilities, computed stably (never ``log(0)``).

        Parameters
        ----------
        X : {array-like, sparse matrix, dask collection} of shape (n_samples, n_features)
            Dask input gives a lazy Dask array, as in :meth:`decision_function`.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            After :meth:`calibrate`, ``log_softmax(logits / temperature_)``.
        """
        if is_dask_collection(X):
            return dask_predictions(self, X, "predict_log_proba")
        return sm.log_softmax(self._tempered(self._raw_prediction(X)))

    def log_proba_blocks(self, X, y=None):
        """Log probabilities with the true labels, block by block, for scoring.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features), or a data source
            A source (:func:`~softmax_classifier.data.as_source`) is scored
            one block at a time, as it was fitted; its columns are taken to be
            the model's (no feature-name check per block).
        y : array-like of shape (n_samples,) or None
            The labels of array ``X``; None for a source (it brings its own).

        Yields
        ------
        y_block : ndarray of shape (rows,)
            Labels as given.
        log_proba_block : ndarray of shape (rows, n_classes)
        """
        if not isinstance(X, DataSource):
            if y is None:
                raise ValueError("y is required with arrays: the labels of the rows of X.")
            yield np.asarray(y), self.predict_log_proba(X)
            return
        if y is not None:
            raise ValueError("A data source brings its own labels: pass y=None.")
        for X_block, labels in X.labelled_blocks():
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="X does not have valid feature names")
                yield labels, self.predict_log_proba(X_block)

    def calibrate(self, X, y=None, sample_weight=None):
        """Fit the temperature ``T`` of the probabilities on held-out rows; ``None`` resets it.

        Temperature scaling (Guo et al., 2017): ``predict_proba`` and
        ``predict_log_proba`` become ``softmax(logits / T)``, with the ``T > 0`` that
        minimises the (weighted) mean log-loss of these rows,
        :func:`softmax_classifier.calibration.fit_temperature` (a convex problem in
        ``1 / T``, solved to machine precision). ``predict`` and
        ``decision_function`` never change: dividing the logits by ``T`` keeps
        their order. Fit it on rows the model was not trained on (a validation
        split): on its own training rows an unpenalised model looks right.
        ``fit`` and ``partial_fit`` reset it (new logits); ``save`` keeps it.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features), a data source, or None
            Validation rows, checked as for :meth:`predict`; a data source
            (:func:`~softmax_classifier.data.as_source`) is read block by block with
            its labels and weights. ``None`` removes ``temperature_`` (back to
            ``T = 1``).
        y : array-like of shape (n_samples,) or None
            Labels, each one of ``classes_``; None for a data source or ``X=None``.
        sample_weight : array-like of shape (n_samples,) or None
            Weights of the rows (not with a data source, which brings its own).

        Returns
        -------
        self
            With ``temperature_`` (float): ``T``, where ``T > 1`` softens
            over-confident probabilities.

        Raises
        ------
        ValueError
            For labels not among ``classes_``, fewer than 2 rows, and when no
            temperature minimises the loss (every row right with a margin, or
            logits no better than chance; see
            :func:`~softmax_classifier.calibration.fit_temperature`).

        Examples
        --------
        >>> from sklearn.datasets import load_digits
        >>> from softmax_classifier import SoftmaxClassifier
        >>> X, y = load_digits(return_X_y=True)
        >>> model = SoftmaxClassifier(alpha=0.0, max_iter=300).fit(X[:200], y[:200])
        >>> model.calibrate(X[200:1000], y[200:1000]).temperature_ > 1  # over-confident
        True
        >>> labels = model.predict(X[1000:])
        >>> bool((model.calibrate(None).predict(X[1000:]) == labels).all())
        True
        >>> hasattr(model, "temperature_")
        False
        """
        if X is None:
            if y is not None or sample_weight is not None:
                raise ValueError("calibrate(None) resets the temperature: pass no y or weights")
            self._set_temperature(None)
            return self
        check_is_fitted(self)
        if isinstance(X, DataSource):
            if y is not None or sample_weight is not None:
                raise ValueError("A data source brings its own labels and weights: pass y=None.")
            raw, labels, sample_weight = self._source_predictions(X)
        else:
            raw, labels = self._raw_prediction(X), np.asarray(y)
            if y is None or labels.shape != (raw.shape[0],):
                raise ValueError(
                    f"y must hold one label per row of X ({raw.shape[0]}), got "
                    f"{'None' if y is None else labels.shape}"
                )
        temperature = fit_temperature(raw, self._class_index(labels), sample_weight)
        self._set_temperature(temperature)
        return self

    def summary(
        self,
        X,
        y,
        sample_weight=None,
        reference=None,
        cov_type="nonrobust",
        groups=None,
        level=0.95,
    ):
        """The inference table of the fitted model: standard errors, tests, likelihoods.

        Coefficients with standard errors, z, p-values and confidence
        intervals, and the log-likelihood, likelihood-ratio test, pseudo-R^2,
        AIC and BIC; contrasts against a reference class for ``alpha_ == 0``,
        the penalised sandwich covariance otherwise (``docs/inference.md``,
        ``docs/math.md``). See :func:`softmax_classifier.inference.summary`
        for every parameter.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            The rows the model was fitted on.
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,) or None, default=None
            Frequency weights.
        reference : object or None, default=None
        cov_type : {"nonrobust", "HC0", "cluster"}, default="nonrobust"
        groups : array-like of shape (n_samples,) or None, default=None
            Cluster labels, for ``cov_type="cluster"``.
        level : float, default=0.95
            Confidence level of the intervals.

        Returns
        -------
        softmax_classifier.inference.Summary
            Prints as a table; ``to_dict()``, ``to_frame()``.
        """
        check_is_fitted(self)
        return summary(self, X, y, sample_weight, reference, cov_type, groups, level)

    def to_onnx(self, path, *, opset=DEFAULT_OPSET):
        """Write the fitted model as an ONNX file: outputs ``label`` and ``probabilities``.

        The graph holds the standardisation, the linear map (Gemm), the
        temperature of :meth:`calibrate` when one is set, Softmax, ArgMax and
        the label lookup; input ``X`` is float32 (see
        :func:`softmax_classifier.onnx_export.to_onnx` and ``docs/onnx.md``).
        Needs the ``onnx`` extra: ``pip install 'softmax-classifier[onnx]'``.

        Parameters
        ----------
        path : str or os.PathLike
            The ONNX file, written atomically.
        opset : int, default=18
            Version of the default ONNX operator set (13 or later); the IR
            version is the smallest that carries it (8 for opset 18).

        Returns
        -------
        str
            The absolute path written.

        Raises
        ------
        ImportError
            When ``onnx`` is not installed.
        ValueError
            For an opset out of range or labels of an unsupported type.
        softmax_classifier._atomic.OutputPathError, PermissionError
            When ``path`` cannot be written (nothing is written).
        """
        check_is_fitted(self)
        return to_onnx(self, path, opset=opset)

    def _set_temperature(self, temperature):
        """Keep ``temperature_``, or remove it for ``None`` (``T = 1``)."""
        if temperature is None:
            self.__dict__.pop("temperature_", None)
        else:
            self.temperature_ = float(temperature)

    def _tempered(self, raw):
        """Logits divided by ``temperature_`` when the model was calibrated."""
        temperature = getattr(self, "temperature_", None)
        return raw if temperature is None else raw / raw.dtype.type(temperature)

    def _class_index(self, labels):
        """Columns of ``classes_`` of the labels; a ValueError naming unknown ones."""
        classes = self.classes_
        order = np.argsort(classes)
        try:
            position = np.searchsorted(classes, labels, sorter=order)
        except TypeError:  # labels of another type than the classes
            position = np.zeros(len(labels), dtype=np.intp)
        index = order[np.minimum(position, len(classes) - 1)]
        unknown = classes[index] != labels
        if np.any(unknown):
            names = ", ".join(map(str, np.unique(labels[unknown])[:10]))
            raise ValueError(f"labels not among the model's classes: {names}")
        return index

    def _source_predictions(self, source):
        """``(raw_prediction, labels, sample_weight)`` of every block of a source, joined."""
        raws, labels, weights = [], [], []
        for X_block, y_block, w_block in source.blocks():
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="X does not have valid feature names")
                raws.append(self._raw_prediction(X_block))
            labels.append(source.classes[y_block])
            weights.append(np.ones(len(y_block)) if w_block is None else w_block)
        return np.concatenate(raws), np.concatenate(labels), np.concatenate(weights)

    def _raw_prediction(self, X):
        return self._logits(self._checked_rows(X))

    def _checked_rows(self, X):
        """``X`` checked against the fitted model: float32/float64, dense or CSR."""
        check_is_fitted(self)
        return validate_data(self, X, accept_sparse="csr", dtype=_DTYPES, reset=False)

    def _logits(self, X):
        """Logits of validated rows (:func:`raw_prediction`): ``(n_samples, n_classes)``."""
        mean, scale = getattr(self, "feature_mean_", None), getattr(self, "feature_scale_", None)
        return raw_prediction(X, self.coef_, self.intercept_, mean, scale)

    def _checked_top_k(self, top_k):
        """``top_k`` as an int from 1 to ``n_classes``; a ValueError saying what it must be."""
        check_is_fitted(self)
        n_classes = len(self.classes_)
        if isinstance(top_k, (bool, np.bool_)) or not isinstance(top_k, (int, np.integer)):
            raise ValueError(
                f"top_k must be an integer from 1 to the number of classes ({n_classes}), "
                f"got {top_k!r} of type {type(top_k).__name__}"
            )
        if not 1 <= top_k <= n_classes:
            raise ValueError(
                f"top_k must be an integer from 1 to the number of classes ({n_classes}), "
                f"got {top_k}"
            )
        return int(top_k)

    def _top_k(self, X, k, with_proba=True):
        """``(index, proba)`` of the ``k`` most probable classes of validated rows.

        :func:`softmax_classifier._top_k.top_k` on the model's
        coefficients with the standardisation folded in (as :func:`raw_prediction`
        does), the temperature of :meth:`calibrate`, and :func:`raw_prediction`
        for rows whose logits overflow.
        """
        mean, scale = getattr(self, "feature_mean_", None), getattr(self, "feature_scale_", None)
        coef, intercept = _folded(self.coef_, self.intercept_, mean, scale)
        return blocked_top_k(
            X,
            coef,
            intercept,
            k,
            temperature=getattr(self, "temperature_", None),
            with_proba=with_proba,
            full_logits=lambda rows: raw_prediction(rows, coef, intercept),
        )


def raw_prediction(X, coef, intercept, feature_mean=None, feature_scale=None):
    """Logits ``W ((x - m) / s) + b`` of validated rows, finite where they can be.

    The standardisation is folded into the coefficients,
    ``W ((x - m) / s) + b = (W / s) x + (b - (W / s) m)``, so ``X`` is not
    copied. Rows whose logits overflow the dtype are recomputed shifted by
    their largest logit (:func:`_shifted_logits`).

    Parameters
    ----------
    X : ndarray or CSR matrix of shape (n_samples, n_features)
        Finite values.
    coef : ndarray of shape (n_classes, n_features)
    intercept : ndarray of shape (n_classes,)
    feature_mean, feature_scale : ndarray of shape (n_features,) or None

    Returns
    -------
    ndarray of shape (n_samples, n_classes)
    """
    coef, intercept = _folded(coef, intercept, feature_mean, feature_scale)
    with np.errstate(over="ignore", invalid="ignore"):  # handled just below
        raw = sm.raw_prediction(X, coef, intercept)
        overflow = ~np.isfinite(raw).all(axis=1)
        if overflow.any():  # finite X whose logits overflow the dtype
            shifted = _shifted_logits(X[overflow], coef, intercept)
            raw[overflow] = shifted.astype(raw.dtype)  # -inf where below the dtype's range
    return raw


def _folded(coef, intercept, feature_mean=None, feature_scale=None):
    """``(W / s, b - (W / s) m)``: the standardisation folded into the coefficients."""
    if feature_scale is not None:
        coef = coef / feature_scale
        intercept = intercept - coef @ feature_mean
    return coef, intercept


def dask_predictions(model, X, method):
    """``model.method`` of each block of a Dask array or dataframe, as one lazy Dask array.

    Parameters
    ----------
    model : SoftmaxClassifier
        Fitted.
    X : dask.array.Array or dask.dataframe.DataFrame of shape (n_samples, n_features)
    method : str
        ``"predict"``, ``"predict_proba"``, ``"predict_log_proba"`` or
        ``"decision_function"``.

    Returns
    -------
    dask.array.Array of shape (n_samples, ...)
        One block per block (partition) of ``X``, computed where it is.
    """
    import dask
    import dask.array as da

    function = getattr(model, method)
    # Shape and dtype of one row's output, from a row of zeros.
    names = getattr(model, "feature_names_in_", None)
    row = np.zeros((1, model.n_features_in_), dtype=model.coef_.dtype)
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
