r"""Kronecker-factored preconditioner for Newton-CG: :math:`M = A \otimes S + \alpha I`.

On the parameters seen as the :math:`c \times \tilde d` matrix :math:`V = [W \mid b]`
the Hessian is :math:`\sum_k s_k J(p_k) \otimes \tilde x_k \tilde x_k^T / \sum_k s_k`
plus the penalty (:mod:`softmax_classifier._curvature`). Replacing the mean of the
Kronecker products by the Kronecker product of the means gives

.. math::

    M = A \otimes S + \alpha I, \qquad
    A = \frac{\sum_k s_k J(p_k)}{\sum_k s_k}, \quad
    S = \frac{\sum_k s_k \tilde x_k \tilde x_k^T}{\sum_k s_k},

exact when the probabilities do not vary with :math:`x`. With the eigendecompositions
:math:`A = Q_a \Lambda_a Q_a^T` and :math:`S = Q_s \Lambda_s Q_s^T`, :math:`M` has
eigenvectors :math:`Q_a \otimes Q_s` and eigenvalues :math:`\lambda_{a,i} \lambda_{s,j} +
\alpha`, so (in the row-major layout, :math:`(A \otimes S)\,\mathrm{vec}(V) =
\mathrm{vec}(A V S)`)

.. math::

    M^{-1} V = Q_a \left[ (Q_a^T V Q_s) \oslash (\lambda_a \lambda_s^T + \alpha) \right] Q_s^T,

about :math:`2 c \tilde d (c + \tilde d)` multiply-adds per application. :math:`\alpha` is
put on the intercept too (the Hessian has none there), and every eigenvalue is
floored at :data:`_RELATIVE_FLOOR` times the largest, so that :math:`M` is positive
definite even with :math:`\alpha = 0` (:math:`A \mathbf 1 = 0` always).
"""

from __future__ import annotations

import numpy as np

from softmax_classifier._blas import one_blas_thread
from softmax_classifier._curvature import to_flat_layout

__all__ = ["KroneckerPreconditioner"]

# Smallest eigenvalue of M relative to its largest: bounds M's condition number
# (and so what one CG step can amplify rounding noise by) when alpha is 0 or tiny.
_RELATIVE_FLOOR = 1e-8


class KroneckerPreconditioner:
    r"""Apply :math:`M^{-1}` for :math:`M = A \otimes S + \alpha I` to flat parameter vectors.

    Parameters
    ----------
    feature_moment : ndarray of shape (d~, d~)
        :math:`S`, from :func:`softmax_classifier._curvature.feature_moment`;
        decomposed once here (:math:`O(\tilde d^3)`).
    n_classes : int
    alpha : float
    fit_intercept : bool
        Whether the flat vectors end with ``n_classes`` intercepts (then
        ``d~ = n_features + 1``).
    layout : {"class-major", "feature-major"}, default="class-major"
        The objective's ``layout``: how ``coef`` lies in the flat vectors.

    Notes
    -----
    Call :meth:`update` with :math:`A` before applying; the flat layout is the
    objective's (``coef`` in ``layout``'s order, then intercepts).
    """

    def __init__(self, feature_moment, n_classes, alpha, fit_intercept, layout="class-major"):
        feature_moment = np.asarray(feature_moment, dtype=np.float64)
        self.n_classes = int(n_classes)
        self.alpha = float(alpha)
        self.fit_intercept = bool(fit_intercept)
        self.d_tilde = feature_moment.shape[0]
        self.n_features = self.d_tilde - int(self.fit_intercept)
        self._order = to_flat_layout(self.n_classes, self.n_features, self.fit_intercept, layout)
        with one_blas_thread():
            values, self._feature_vectors = np.linalg.eigh(feature_moment)
        self._feature_values = np.maximum(values, 0.0)
        self._class_vectors = None
        self._denominator = None

    def update(self, class_curvature):
        r"""Set :math:`A` (``(n_classes, n_classes)``, e.g. at the current Newton point).

        Parameters
        ----------
        class_curvature : ndarray of shape (n_classes, n_classes)
            :math:`A`, from :func:`softmax_classifier._curvature.class_curvature`.
        """
        with one_blas_thread():
            values, self._class_vectors = np.linalg.eigh(np.asarray(class_curvature, np.float64))
        denominator = np.outer(np.maximum(values, 0.0), self._feature_values) + self.alpha
        floor = _RELATIVE_FLOOR * float(denominator.max())
        self._denominator = np.maximum(denominator, floor if floor > 0 else 1.0)

    def __call__(self, vector):
        r"""Return :math:`M^{-1}` ``vector``.

        Parameters
        ----------
        vector : ndarray of shape (n_params,)

        Returns
        -------
        ndarray of shape (n_params,), float64
        """
        # The flat vector's entries in [W | b] order: one permutation for either layout.
        matrix = np.zeros(self.n_classes * self.d_tilde)
        matrix[self._order] = vector
        matrix = matrix.reshape(self.n_classes, self.d_tilde)
        qa, qs = self._class_vectors, self._feature_vectors
        with one_blas_thread():
            rotated = qa.T @ (matrix @ qs)
            rotated /= self._denominator
            matrix = (qa @ rotated) @ qs.T
        return matrix.ravel()[self._order]

    def dense(self):
        r"""The matrix :math:`M^{-1}` in the flat layout (for tests; ``n_params^2`` numbers).

        Returns
        -------
        ndarray of shape (n_params, n_params)
        """
        n_params = self.n_classes * self.d_tilde
        return np.column_stack([self(e) for e in np.eye(n_params)])
