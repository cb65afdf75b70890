r"""The penalised objective: the smooth objective plus a non-smooth penalty on ``coef``.

:math:`F(W, b) = f(W, b) + h(W)` with :math:`f` the
:class:`~softmax_classifier.objective.SoftmaxObjective` (mean cross-entropy
plus the L2 part :math:`\tfrac{\alpha_2}{2}\lVert W\rVert_F^2`) and :math:`h`
an L1 or group penalty (:mod:`softmax_classifier.penalties`). The proximal
Newton solver (:mod:`softmax_classifier.solvers.prox_newton`) sees this
object: the smooth value and gradient, the penalty, the minimum-norm
subgradient (its convergence measure) and the Newton model at a point, which
it minimises by coordinate descent
(:mod:`softmax_classifier._coordinate_descent`).

The coordinate descent reads ``X`` column by column: the first model gathers
the source's (transformed) rows into a column-major float64 copy (CSC for
sparse rows), kept for the rest of the fit. A penalised fit therefore needs
the rows in memory once more, as float64.
"""

from __future__ import annotations

from softmax_classifier._coordinate_descent import ColumnData, NewtonModel

__all__ = ["PenalizedObjective"]


class PenalizedObjective:
    """``f + h``: a smooth objective and a penalty on its ``coef``.

    Parameters
    ----------
    smooth : SoftmaxObjective
        ``f``, with ``alpha`` the L2 part of the penalty.
    penalty : softmax_classifier.penalties.NoPenalty, L1 or GroupLasso
        ``h``.

    Attributes
    ----------
    data, n_params, layout, dtype : as the smooth objective's
    n_passes : int
        The smooth objective's passes plus one per Newton model (its logits).
    """

    def __init__(self, smooth, penalty):
        self.smooth = smooth
        self.penalty = penalty
        self.data = smooth.data
        self.n_params = smooth.n_params
        self.layout = smooth.layout
        self.dtype = smooth.dtype
        self.alpha = smooth.alpha
        self._columns = None
        self._model_passes = 0

    @property
    def n_passes(self):
        return self.smooth.n_passes + self._model_passes

    def unpack(self, params):
        """``(coef, intercept)`` views of ``params`` (the smooth objective's layout)."""
        return self.smooth.unpack(params)

    def pack(self, coef, intercept=None):
        """The flat vector of ``coef`` (n_classes, n_features) and ``intercept`` (n_classes,)."""
        return self.smooth.pack(coef, intercept)

    def zeros(self):
        """The all-zero start point, shape (n_params,)."""
        return self.smooth.zeros()

    def value_and_grad(self, params):
        """Value and gradient of the smooth part ``f`` at ``params`` (one pass).

        Parameters
        ----------
        params : ndarray of shape (n_params,)

        Returns
        -------
        value : float
        grad : ndarray of shape (n_params,)
        """
        return self.smooth.value_and_grad(params)

    def penalty_value(self, params):
        """``h(coef)`` at ``params`` (no pass over the data)."""
        coef, _ = self.unpack(params)
        return self.penalty.value(coef)

    def subgradient(self, params, grad):
        """The minimum-norm subgradient of ``F`` at ``params``, given ``f``'s gradient there.

        Zero exactly at the minimum (the KKT conditions); its largest absolute
        entry is the proximal solver's convergence measure, as ``max|grad|``
        is for the smooth solvers. Intercepts keep their gradient.

        Parameters
        ----------
        params, grad : ndarray of shape (n_params,)

        Returns
        -------
        ndarray of shape (n_params,)
        """
        coef, _ = self.unpack(params)
        grad_coef, grad_intercept = self.unpack(grad)
        return self.pack(self.penalty.subgradient(coef, grad_coef), grad_intercept)

    def newton_model(self, params):
        """The Newton model of ``f`` at ``params`` with the exact penalty (one pass for the logits).

        Parameters
        ----------
        params : ndarray of shape (n_params,)

        Returns
        -------
        softmax_classifier._coordinate_descent.NewtonModel
        """
        if self._columns is None:
            self._columns = ColumnData.from_blocks(self.data.blocks())
        columns, y = self._columns
        coef, intercept = self.unpack(params)
        self._model_passes += 1
        return NewtonModel(columns, y, coef, intercept, self.alpha)
