"""The training objective over a data source, on a flat parameter vector.

Solvers see only this interface (``value``, ``value_and_grad``, ``hessp``,
``hessian_diagonal``, ``batches``, ``batch_value_and_grad``); they never see arrays of data. The
formulas themselves live in :mod:`softmax_classifier.math`; this module adds
up their block sums over a data source, divides by the total weight and adds
the penalty.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.linalg.blas import daxpy as _axpy

from softmax_classifier import _fused
from softmax_classifier import math as sm

__all__ = ["SoftmaxObjective"]


class SoftmaxObjective:
    r"""Weighted mean cross-entropy plus L2 penalty, evaluated block by block.

    .. math::

        L(W, b) = \frac{\sum_k s_k \mathrm{CE}_k}{\sum_k s_k} + \frac{\alpha}{2}\lVert W\rVert_F^2

    exactly as :func:`softmax_classifier.math.loss` (one block) but summed over
    the blocks of ``data``, so no ``(n_samples, n_classes)`` array is ever held.

    Parameters
    ----------
    data : data source
        E.g. :class:`softmax_classifier.data.InMemoryData`.
    n_classes : int
    alpha : float, default=0.0
        L2 penalty on ``coef``.
    fit_intercept : bool, default=True

    Attributes
    ----------
    n_params : int
    n_passes : int
        Full passes over the data so far (value, gradient, Hessian product or
        diagonal each count one).
    prefers_diagonal_preconditioning : bool
        A hint for Newton-CG: True for sparse data, where preconditioning by
        the Hessian's diagonal was measured to save passes.
    dtype : numpy dtype
        The dtype products with ``X`` run in: it sets how precisely values
        are known (the solvers' line searches allow for it).

    layout : {"class-major", "feature-major"}
        How ``coef`` lies in the parameter vector (see Notes).

    Notes
    -----
    The parameter vector is float64 of length ``n_classes * n_features``
    followed by ``n_classes`` intercepts when ``fit_intercept``. The
    coefficients lie class by class (``coef`` row by row, ``"class-major"``)
    for dense data and feature by feature (``coef.T`` row by row,
    ``"feature-major"``) for sparse data, the order in which the kernels read
    them: for a wide sparse model (millions of parameters) a transposed copy
    per pass cost as much as the pass. :meth:`pack` and :meth:`unpack` define
    the layout (``_curvature.to_flat_layout`` maps it to the ``[W | b]`` order
    of the curvature code); solvers see a flat vector. Products with ``X`` run in
    ``X``'s dtype.
    """

    def __init__(self, data, n_classes, *, alpha=0.0, fit_intercept=True):
        self.data = data
        self.n_classes = int(n_classes)
        self.n_features = data.n_features
        self.alpha = float(alpha)
        self.fit_intercept = bool(fit_intercept)
        self.n_params = self.n_classes * self.n_features + (self.n_classes if fit_intercept else 0)
        self.n_passes = 0  # full passes over the data, for fit reports
        # Newton-CG's diagonal preconditioner paid off on sparse data only
        # (benchmarks/: tf-idf 2x fewer passes; dense pixels 1.5x more).
        self.prefers_diagonal_preconditioning = bool(getattr(data, "is_sparse", False))
        self.dtype = np.dtype(getattr(data, "dtype", np.float64))
        self._sparse = bool(getattr(data, "is_sparse", False))
        self.layout = "feature-major" if self._sparse else "class-major"
        self._lipschitz = None
        self._point_layout = None  # (params, _for_blocks(coef)) of the last Hessian point

    # -- parameter layout ---------------------------------------------------
    def unpack(self, params):
        """Split a flat vector into ``(coef, intercept)`` views.

        Parameters
        ----------
        params : ndarray of shape (n_params,)

        Returns
        -------
        coef : ndarray of shape (n_classes, n_features)
            A view of ``params``: C order for the ``"class-major"`` layout,
            Fortran order for ``"feature-major"``.
        intercept : ndarray of shape (n_classes,) or None
        """
        n_coef = self.n_classes * self.n_features
        if self.layout == "feature-major":
            coef = params[:n_coef].reshape(self.n_features, self.n_classes).T
        else:
            coef = params[:n_coef].reshape(self.n_classes, self.n_features)
        intercept = params[n_coef:] if self.fit_intercept else None
        return coef, intercept

    def pack(self, coef, intercept=None):
        """Join ``coef`` (n_classes, n_features) and ``intercept`` (n_classes,) into one vector.

        Returns
        -------
        ndarray of shape (n_params,), float64
        """
        parts = [self._flat_coef(np.asarray(coef, dtype=np.float64))]
        if self.fit_intercept:
            parts.append(np.asarray(intercept, dtype=np.float64).ravel())
        return np.concatenate(parts)

    def zeros(self):
        """Start point with all parameters zero: every class has probability ``1/n_classes``."""
        return np.zeros(self.n_params)

    # -- full-data evaluations ----------------------------------------------
    def value(self, params):
        """Objective value at ``params`` (one pass, forward products only).

        Parameters
        ----------
        params : ndarray of shape (n_params,)

        Returns
        -------
        float
        """
        coef, intercept = self.unpack(params)
        loss_sum, weight_sum = self.data.reduce(_loss_block, self._for_blocks(coef), intercept)
        self.n_passes += 1
        return loss_sum / weight_sum + sm._penalty(coef, self.alpha)

    def value_and_grad(self, params):
        """Objective value and gradient at ``params`` (one pass).

        Parameters
        ----------
        params : ndarray of shape (n_params,)

        Returns
        -------
        value : float
        grad : ndarray of shape (n_params,), float64
        """
        coef, intercept = self.unpack(params)
        loss_sum, grad_coef, grad_intercept, weight_sum = self.data.reduce(
            _loss_gradient_block, self._for_blocks(coef), intercept
        )
        self.n_passes += 1
        return self._finish(coef, loss_sum, grad_coef, grad_intercept, weight_sum)

    def hessp(self, params, vector):
        """Hessian of the objective at ``params`` times ``vector`` (one pass).

        Parameters
        ----------
        params, vector : ndarray of shape (n_params,)

        Returns
        -------
        ndarray of shape (n_params,), float64
        """
        coef, intercept = self.unpack(params)
        direction_coef, direction_intercept = self.unpack(vector)
        point = self._point_for_blocks(params, coef)
        direction = self._for_blocks(direction_coef)
        # Dense X: one product X @ [coef; direction]^T gives both the logits and
        # their change (2c columns cost little more than c); the sparse kernels
        # take the two apart.
        stacked = None if self._sparse else _fused.stacked_layout(point, direction)
        hess_coef, hess_intercept = self.data.reduce(
            _hessian_product_block, point, direction, stacked, intercept, direction_intercept
        )
        self.n_passes += 1
        return self._mean_plus_penalty(
            hess_coef, hess_intercept, self.data.total_weight, direction_coef
        )

    def hessian_diagonal(self, params):
        r"""Diagonal of the Hessian at ``params`` (one pass), a preconditioner for CG.

        The Hessian's block for classes :math:`(i, i)` is :math:`\tilde X^T
        \mathrm{diag}(s_k p_{ki}(1 - p_{ki})) \tilde X / \sum s` (the diagonal of
        the softmax Jacobian :math:`\mathrm{diag}(p) - pp^T`, ``docs/math.md``),
        so its diagonal is :math:`\sum_k s_k p_{ki}(1-p_{ki}) x_{kj}^2 / \sum s
        + \alpha` for coefficients and the same without :math:`x_{kj}^2` and
        :math:`\alpha` for intercepts.

        Parameters
        ----------
        params : ndarray of shape (n_params,)

        Returns
        -------
        ndarray of shape (n_params,), float64, positive where ``alpha > 0``
        """
        coef, intercept = self.unpack(params)
        diag_coef, diag_intercept = self.data.reduce(
            _hessian_diagonal_block, self._for_blocks(coef), intercept
        )
        self.n_passes += 1
        return self.pack(
            *sm._mean_plus_penalty(
                diag_coef,
                diag_intercept,
                self.data.total_weight,
                self.alpha,
                np.ones_like(coef),
                dtype=np.float64,
            )
        )

    def lipschitz_bound(self):
        r"""Upper bound on the largest eigenvalue of the Hessian, anywhere.

        The softmax Jacobian :math:`\mathrm{diag}(p) - pp^T` has eigenvalues at
        most 1/2, so the Hessian is at most :math:`\tfrac12 \lambda_{max}(\tilde
        X^T S \tilde X / \sum s) + \alpha \le \tfrac12 \overline{\lVert \tilde
        x\rVert^2} + \alpha`, with :math:`\tilde x = [x; 1]` when fitting an
        intercept and the weighted mean of squared row norms. ``1 / bound`` is
        a safe gradient-descent step.

        Returns
        -------
        float
        """
        if self._lipschitz is None:
            (norm_sum,) = self.data.reduce(_squared_norm_block)
            mean_norm = norm_sum / self.data.total_weight + (1.0 if self.fit_intercept else 0.0)
            self._lipschitz = 0.5 * mean_norm + self.alpha
        return self._lipschitz

    # -- mini-batches ---------------------------------------------------------
    def batches(self, batch_size, rng):
        """One epoch of shuffled mini-batches from the data source (opaque to solvers)."""
        return self.data.batches(batch_size, rng)

    def batch_value_and_grad(self, params, batch):
        r"""Unbiased estimate of value and gradient from one mini-batch.

        The batch sums are scaled by :math:`n / (|B| \sum_k s_k)`, so that over a
        uniformly drawn batch the expectation is the full objective and gradient.
        With ``batch_size=1`` and unit weights the gradient is exactly note
        ``004``'s per-example derivative (plus the penalty term).

        Parameters
        ----------
        params : ndarray of shape (n_params,)
        batch : tuple
            One item yielded by :meth:`batches`.

        Returns
        -------
        value : float
        grad : ndarray of shape (n_params,), float64
        """
        coef, intercept = self.unpack(params)
        loss_sum, grad_coef, grad_intercept, _ = _loss_gradient_block(*batch, coef, intercept)
        weight_sum = batch[0].shape[0] * self.data.total_weight / self.data.n_samples
        return self._finish(coef, loss_sum, grad_coef, grad_intercept, weight_sum)

    def _for_blocks(self, coef):
        """``coef`` laid out once per pass for the block kernels (``_fused.coef_layout``).

        In X's dtype (float32 data is not multiplied by float64 coefficients);
        C order for dense X, Fortran order for sparse X, so that ``coef.T`` is
        C-contiguous: the CSR kernel reads it feature by feature, and SciPy's
        sparse product (the reference path) copies a non-contiguous right-hand
        side on every call.
        """
        return _fused.coef_layout(coef, self.dtype, self._sparse)

    def _point_for_blocks(self, params, coef):
        """``_for_blocks(coef)``, kept while ``params`` stays the same.

        Newton-CG multiplies many directions by the Hessian at one point; the
        point's coefficients are laid out (and for float32 data, cast) once.
        """
        cached = self._point_layout
        if cached is None or not np.array_equal(cached[0], params):
            self._point_layout = cached = (params.copy(), self._for_blocks(coef))
        return cached[1]

    def _flat_coef(self, coef):
        """``coef`` (n_classes, n_features) flattened in this layout (a view when it can be)."""
        return coef.T.ravel() if self.layout == "feature-major" else coef.ravel()

    def _finish(self, coef, loss_sum, grad_coef, grad_intercept, weight_sum):
        value = loss_sum / weight_sum + sm._penalty(coef, self.alpha)
        return value, self._mean_plus_penalty(grad_coef, grad_intercept, weight_sum, coef)

    def _mean_plus_penalty(self, sum_coef, sum_intercept, weight_sum, coef):
        """``pack(sum_coef / weight_sum + alpha * coef, sum_intercept / weight_sum)``.

        :func:`softmax_classifier.math._mean_plus_penalty`, written straight into
        the flat float64 vector: for a wide model (sparse text, millions of
        parameters) the layout changes and temporaries of that formula cost more
        than the data pass. ``sum_coef`` may be in either memory order (sparse
        products give Fortran order, which is the feature-major layout: the
        division then runs in order).
        """
        out = np.empty(self.n_params)
        out_coef, out_intercept = self.unpack(out)
        np.divide(sum_coef, weight_sum, out=out_coef)
        if self.alpha != 0:  # in place: out_coef += alpha * coef
            penalty = self._flat_coef(np.asarray(coef, dtype=np.float64))
            updated = _axpy(penalty, out[: penalty.size], a=self.alpha)
            if not np.shares_memory(updated, out):  # pragma: no cover - BLAS made a copy
                out[: penalty.size] = updated
        if self.fit_intercept:
            np.divide(sum_intercept, weight_sum, out=out_intercept)
        return out


# Block functions: (X_block, y_block, weight_block, *args) -> tuple of sums.
# Each runs the fused compiled kernel where it applies and otherwise the NumPy
# formula of math.py that the kernel is tested against (softmax_classifier._fused).


# Very many classes: where NumPy's temporaries (the block's rows x all classes)
# and the kernels' scratch (a tile of rows x all classes, _class_blocks.kernels_fit)
# would both exceed the logit budget (_class_blocks.logit_budget), a block goes by
# class blocks with the online log-sum-exp of softmax_classifier._class_blocks: the
# same sums, at most the block's rows x a block of classes of logits at a time.


def _loss_block(X, y, sample_weight, coef, intercept):
    from softmax_classifier import _class_blocks

    n_classes = coef.shape[0]
    rows, block = _class_blocks.block_shape(X.shape[0], n_classes)
    whole = block == n_classes and rows == X.shape[0]
    if whole or _class_blocks.kernels_fit(X, n_classes, _fused.by_columns):
        fused = _fused.loss_sum(coef, intercept, X, y, sample_weight)
        if fused is not None:
            return fused
    if not whole:
        return _class_blocks.loss_sum(coef, intercept, X, y, sample_weight, block, rows)
    return sm._loss_sum(coef, intercept, X, y, sample_weight)


def _loss_gradient_block(X, y, sample_weight, coef, intercept):
    from softmax_classifier import _class_blocks

    n_classes = coef.shape[0]
    rows, block = _class_blocks.block_shape(X.shape[0], n_classes)
    whole = block == n_classes and rows == X.shape[0]
    if whole or _class_blocks.kernels_fit(X, n_classes, _fused.by_columns):
        fused = _fused.loss_gradient_sum(coef, intercept, X, y, sample_weight)
        if fused is not None:
            return fused
    if not whole:
        return _class_blocks.loss_gradient_sum(coef, intercept, X, y, sample_weight, block, rows)
    return sm._loss_gradient_sum(coef, intercept, X, y, sample_weight)


def _squared_norm_block(X, y, sample_weight):
    """``(sum_k s_k ||x_k||^2,)`` for one block, in float64."""
    if sp.issparse(X):
        squares = np.square(X.data, dtype=np.float64)
        if sample_weight is None:
            return (float(squares.sum()),)
        return (float(np.repeat(sample_weight, np.diff(X.indptr)) @ squares),)
    norms = np.einsum("ij,ij->i", X, X, dtype=np.float64)
    return (float(norms.sum() if sample_weight is None else norms @ sample_weight),)


def _hessian_product_block(
    X, y, sample_weight, coef, direction_coef, stacked, intercept, direction_intercept
):
    """Block sums of the Hessian product; ``stacked`` is ``[coef; direction_coef]`` or None."""
    from softmax_classifier import _class_blocks

    n_classes = coef.shape[0]
    rows, block = _class_blocks.block_shape(X.shape[0], n_classes)
    whole = block == n_classes and rows == X.shape[0]
    if whole or _class_blocks.kernels_fit(X, n_classes, _fused.by_columns):
        fused = _fused.hessian_product_sum(
            coef, direction_coef, intercept, direction_intercept, X, sample_weight, stacked
        )
        if fused is not None:
            return fused
    if not whole:
        return _class_blocks.hessian_product_sum(
            X, coef, intercept, direction_coef, direction_intercept, sample_weight, block, rows
        )
    if stacked is not None:  # one product gives the logits and their change
        n_classes = coef.shape[0]
        both = sm.raw_prediction(X, stacked)
        logits, logit_change = both[:, :n_classes], both[:, n_classes:]
    else:
        logits, logit_change = sm.raw_prediction(X, coef), sm.raw_prediction(X, direction_coef)
    if intercept is not None:
        logits += intercept.astype(logits.dtype, copy=False)
        logit_change += direction_intercept.astype(logits.dtype, copy=False)
    proba = sm.softmax(logits)
    return sm._hessian_product_sum(
        X,
        proba,
        sm._as_weights(sample_weight, X),
        logit_change,
        with_intercept=intercept is not None,
    )


def _hessian_diagonal_block(X, y, sample_weight, coef, intercept):
    """``(sum_k s_k p_ki (1 - p_ki) x_kj^2, sum_k s_k p_ki (1 - p_ki))`` for one block."""
    from softmax_classifier import _class_blocks

    rows, block = _class_blocks.block_shape(X.shape[0], coef.shape[0])
    if block < coef.shape[0] or rows < X.shape[0]:
        return _class_blocks.hessian_diagonal_sum(X, coef, intercept, sample_weight, block, rows)
    proba = sm.softmax(sm.raw_prediction(X, coef, intercept))
    curvature = proba * (1 - proba)
    if sp.issparse(X):  # squared values on X's own index arrays: no copy of the indices
        if not X.has_canonical_format:  # duplicate entries: square their sum, not each
            X = X.tocsr(copy=True)
            X.sum_duplicates()
        squares = sp.csr_matrix((np.square(X.data), X.indices, X.indptr), shape=X.shape)
    else:
        squares = np.square(X)
    return sm._backward(squares, curvature, sm._as_weights(sample_weight, X), intercept is not None)
