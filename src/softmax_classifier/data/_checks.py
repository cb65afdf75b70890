"""Checks of rows shared by the data sources: features, labels and weights, one message each.

A source runs them on each block as it is first read (arrays: once, Dask: on
the workers, files: in the first pass) and adds where the row is (an index,
a block, a file and column) to the same sentence.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = [
    "BAD_LABEL",
    "BAD_VALUE",
    "BAD_WEIGHT",
    "check_rows",
    "check_sample_weight",
    "first_bad_label",
    "first_bad_value",
    "first_bad_weight",
    "first_problem",
    "problem_message",
]

#: The problems a row can have, as they start every message about them.
BAD_VALUE = "X has a missing, NaN or infinite feature value"
BAD_LABEL = "y has a missing (None or NaN) label"
BAD_WEIGHT = "sample_weight has a negative or non-finite weight"


def first_bad_value(X):
    """Row of the first NaN or infinite entry of ``X``, or None.

    Parameters
    ----------
    X : ndarray or CSR matrix of shape (n_rows, n_features)

    Returns
    -------
    int or None
    """
    values = X.data if sp.issparse(X) else X
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(np.sum(values, dtype=np.float64)):  # one pass, no n x d temporary
            return None
    bad = ~np.isfinite(values)  # the sum overflowed, or a value is bad: look
    if not bad.any():
        return None
    if sp.issparse(X):
        return int(np.searchsorted(X.indptr, int(np.argmax(bad)), side="right")) - 1
    return int(np.argmax(bad.any(axis=1)))


def first_bad_label(y):
    """Index of the first missing label (None, or NaN in float labels), or None.

    Parameters
    ----------
    y : ndarray of shape (n_rows,)

    Returns
    -------
    int or None
    """
    if y.dtype.kind == "f":
        bad = ~np.isfinite(y)
        return int(np.argmax(bad)) if bad.any() else None
    if y.dtype == object:
        for k, value in enumerate(y):
            if value is None or (isinstance(value, float) and not np.isfinite(value)):
                return k
    return None


def first_bad_weight(weights):
    """Index of the first negative, NaN or infinite weight, or None.

    Parameters
    ----------
    weights : ndarray of shape (n_rows,) or None

    Returns
    -------
    int or None
    """
    if weights is None:
        return None
    good = np.isfinite(weights) & (weights >= 0)
    return None if good.all() else int(np.argmax(~good))


def first_problem(X, y, weights):
    """The first bad feature value, label or weight of a block, in that order of checks.

    Parameters
    ----------
    X : ndarray or CSR matrix of shape (n_rows, n_features)
    y : ndarray of shape (n_rows,)
        Labels as given.
    weights : ndarray of shape (n_rows,) or None

    Returns
    -------
    tuple of (int, str, str or None), or None
        The row in the block, the problem (:data:`BAD_VALUE`,
        :data:`BAD_LABEL` or :data:`BAD_WEIGHT`) and a detail (the bad
        weight), or None when every row is good.
    """
    row = first_bad_value(X)
    if row is not None:
        return row, BAD_VALUE, None
    row = first_bad_label(y)
    if row is not None:
        return row, BAD_LABEL, None
    row = first_bad_weight(weights)
    if row is not None:
        return row, BAD_WEIGHT, _number(weights[row])
    return None


def problem_message(problem, row, details=()):
    """``"<problem> in row <row> (<details>)."``: the one sentence for a bad row.

    Parameters
    ----------
    problem : str
        One of :data:`BAD_VALUE`, :data:`BAD_LABEL`, :data:`BAD_WEIGHT`.
    row : int
        The row, counted from 0 over all the rows.
    details : sequence of str or None
        Said in parentheses, in order (None entries skipped).

    Returns
    -------
    str
    """
    said = "; ".join(d for d in details if d)
    return f"{problem} in row {row}" + (f" ({said})" if said else "") + "."


def check_rows(X, y, weights):
    """Raise for the first bad feature value, label or weight of in-memory rows.

    Parameters
    ----------
    X : ndarray or CSR matrix of shape (n_rows, n_features)
    y : ndarray of shape (n_rows,)
        Labels as given.
    weights : ndarray of shape (n_rows,) or None

    Raises
    ------
    ValueError
        With :func:`problem_message`'s sentence.
    """
    found = first_problem(X, y, weights)
    if found is not None:
        row, problem, detail = found
        raise ValueError(problem_message(problem, row, [detail]))


def check_sample_weight(sample_weight, n_samples):
    """``sample_weight`` as a float64 vector of one weight per row, checked.

    Parameters
    ----------
    sample_weight : array-like of shape (n_samples,) or scalar
    n_samples : int

    Returns
    -------
    ndarray of shape (n_samples,), float64

    Raises
    ------
    ValueError
        For a wrong shape, a non-numeric dtype, or a negative or non-finite
        weight (:func:`problem_message`'s sentence).
    """
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
    row = first_bad_weight(weights)
    if row is not None:
        raise ValueError(problem_message(BAD_WEIGHT, row, [_number(weights[row])]))
    return weights


def _number(value):
    """``NaN``, ``inf``, ``-inf`` or the number as Python prints it."""
    value = float(value)
    if np.isnan(value):
        return "NaN"
    return repr(value) if np.isfinite(value) else ("inf" if value > 0 else "-inf")
