"""How sparse a model is: its penalty, non-zero weights and the features it uses.

``softmax inspect`` counts them from the weights in the model file (so a file
written before the fit report carried the counts is described too); ``softmax
train`` shows the penalty and, for the sparse penalties, the fit report's
counts in its summary, and writes the same description into ``metrics.json``.
NumPy is imported by the function that counts, not with this module.
"""

from __future__ import annotations

__all__ = ["add_sparsity_rows", "describe_sparsity", "model_sparsity"]


def describe_sparsity(penalty, l1_ratio, n_nonzero_coef, n_nonzero_features, coef_shape):
    """The sparsity of a model as a JSON-ready dict, from counts already made.

    Parameters
    ----------
    penalty : str
        ``"l2"``, ``"l1"``, ``"elasticnet"`` or ``"group"``.
    l1_ratio : float or None
        The elastic net's mix (None for the other penalties).
    n_nonzero_coef : int
        Entries of ``coef`` that are not zero.
    n_nonzero_features : int
        Columns of ``coef`` with a non-zero entry: features used by some class.
    coef_shape : tuple of int
        ``(n_classes, n_features)``.

    Returns
    -------
    dict
        ``penalty``, ``l1_ratio``, ``n_coef``, ``n_nonzero_coef``,
        ``nonzero_coef_percent``, ``n_features``, ``n_nonzero_features`` and
        ``nonzero_features_percent`` (percentages in [0, 100]).
    """
    n_classes, n_features = (int(n) for n in coef_shape)
    n_coef = n_classes * n_features
    return {
        "penalty": penalty,
        "l1_ratio": l1_ratio,
        "n_coef": n_coef,
        "n_nonzero_coef": int(n_nonzero_coef),
        "nonzero_coef_percent": _percent(n_nonzero_coef, n_coef),
        "n_features": n_features,
        "n_nonzero_features": int(n_nonzero_features),
        "nonzero_features_percent": _percent(n_nonzero_features, n_features),
    }


def model_sparsity(coef, hyperparameters):
    """The sparsity of the weights ``coef``, counted (see :func:`describe_sparsity`).

    Parameters
    ----------
    coef : array-like of shape (n_classes, n_features)
        The model's weights.
    hyperparameters : dict
        The model's ``get_params()`` (or a model file's ``hyperparameters``):
        ``penalty`` and ``l1_ratio`` are read from it; a file written before
        the penalties existed has neither and was fitted with ``"l2"``.

    Returns
    -------
    dict
        As :func:`describe_sparsity` returns it.
    """
    import numpy as np

    coef = np.asarray(coef)
    nonzero = coef != 0
    return describe_sparsity(
        hyperparameters.get("penalty") or "l2",
        hyperparameters.get("l1_ratio"),
        np.count_nonzero(nonzero),
        np.count_nonzero(nonzero.any(axis=0)),
        coef.shape,
    )


def add_sparsity_rows(table, sparsity, *, counts=True):
    """Add the rows ``penalty``, ``nonzero weights`` and ``features used`` to a key-value table.

    Parameters
    ----------
    table : rich.table.Table
        Two columns, key and value (:func:`._common.key_value_table`).
    sparsity : dict
        As :func:`describe_sparsity` returns it.
    counts : bool, default=True
        Add the two counts; False adds the penalty alone.
    """
    penalty = sparsity["penalty"]
    if sparsity.get("l1_ratio") is not None:
        penalty += f" (l1_ratio={sparsity['l1_ratio']:g})"
    table.add_row("penalty", penalty)
    if not counts:
        return
    table.add_row(
        "nonzero weights",
        f"{sparsity['n_nonzero_coef']} of {sparsity['n_coef']} "
        f"({sparsity['nonzero_coef_percent']:.3g}%)",
    )
    table.add_row(
        "features used",
        f"{sparsity['n_nonzero_features']} of {sparsity['n_features']} "
        f"({sparsity['nonzero_features_percent']:.3g}%; non-zero weight for some class)",
    )


def _percent(part, whole):
    return 100.0 * int(part) / whole if whole else 0.0
