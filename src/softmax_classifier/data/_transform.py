"""What the estimator asks of the rows of an external source: standardisation, class weights.

Sources that are not held in memory (files, a Dask cluster) cannot be
rewritten before a fit, so they apply the transform to each block as it is
read. :class:`Transformable` gives them the ``transformed(...)`` view used by
the estimator; :class:`Transform` is applied to one block.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True)
class Transform:
    """Rows become ``(x - mean) / scale``; row weights are multiplied by ``class_weight[y]``.

    Attributes
    ----------
    mean, scale : ndarray of shape (n_features,) or None
        float64. ``mean`` must be None for sparse blocks (centring would make
        them dense).
    class_weight : ndarray of shape (n_classes,) or None
        float64.
    """

    mean: np.ndarray | None = None
    scale: np.ndarray | None = None
    class_weight: np.ndarray | None = None

    def apply(self, X, y, weights):
        """Transform one block.

        Parameters
        ----------
        X : ndarray or CSR matrix of shape (n_rows, n_features)
            Modified in place when possible (blocks are fresh copies of the data).
        y : ndarray of shape (n_rows,)
            Class indices.
        weights : ndarray of shape (n_rows,) or None

        Returns
        -------
        X, y, weights
            ``weights`` in ``X.dtype``, or None when every row has weight 1.
        """
        dtype = X.dtype
        if self.mean is not None:
            if sp.issparse(X):
                raise ValueError("sparse rows cannot be centred")
            X -= self.mean.astype(dtype)
        if self.scale is not None:
            if sp.issparse(X):
                X.data /= self.scale.astype(dtype)[X.indices]
            else:
                X /= self.scale.astype(dtype)
        if self.class_weight is not None:
            class_weights = self.class_weight[y]
            weights = class_weights if weights is None else weights * class_weights
        return X, y, None if weights is None else weights.astype(dtype)


class Transformable:
    """Mixin: ``transformed(...)`` views of a source with ``class_totals`` and ``_transform``."""

    #: Blocks carry the weights as given (times class weights): no common factor.
    weight_scale = 1.0

    def transformed(self, *, mean=None, scale=None, class_weight=None):
        """The source's rows, standardised and/or weighted by class (a cheap copy).

        Each call replaces any earlier transform: it applies to the rows as
        they are in the source.

        Parameters
        ----------
        mean, scale : ndarray of shape (n_features,) or None
            Rows become ``(x - mean) / scale`` (sparse sources: no ``mean``).
        class_weight : ndarray of shape (n_classes,) or None
            Multiplies each row's weight by its class's entry.

        Returns
        -------
        A source of the same type.
        """
        view = object.__new__(type(self))
        view.__dict__.update(self.__dict__)
        view._transform = Transform(
            mean=_float64_or_none(mean),
            scale=_float64_or_none(scale),
            class_weight=_float64_or_none(class_weight),
        )
        if view._transform.mean is not None and self.is_sparse:
            raise ValueError("sparse rows cannot be centred: pass mean=None")
        totals = self.class_totals
        if class_weight is not None:
            totals = totals * view._transform.class_weight
        view.total_weight = float(totals.sum())
        return view


def _float64_or_none(values):
    return None if values is None else np.asarray(values, dtype=np.float64)
