"""Feature arrays in the dtype asked for, refusing values float32 cannot hold."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from softmax_classifier.io.errors import DataFileError

__all__ = ["FLOAT32_MAX", "as_dtype"]

#: The largest finite float32; larger finite values are refused, not made infinite.
FLOAT32_MAX = float(np.finfo(np.float32).max)


def as_dtype(X, dtype, path, first_row=0, first_index=1):
    """``X`` in ``dtype``, refusing finite values that float32 cannot hold.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_samples, n_features)
        Finite values.
    dtype : numpy.dtype
        float64 or float32.
    path : str
        The file, for the message.
    first_row : int, default=0
        Rows of the data before ``X`` (sparse ``X`` read in blocks), added to
        the row in the message.
    first_index : int, default=1
        The LIBSVM index of column 0 (1 for a one-based file), for the message.

    Returns
    -------
    ndarray or sparse matrix of shape (n_samples, n_features)
        ``X`` itself when it is already in ``dtype``.

    Raises
    ------
    DataFileError
        For a value too large for float32, with its row and column.
    """
    if X.dtype == dtype:
        return X
    if dtype == np.float32:
        values = X.data if sp.issparse(X) else X
        too_big = np.abs(values) > FLOAT32_MAX
        if too_big.any():
            if sp.issparse(X):
                k = int(np.argmax(too_big))
                row = int(np.searchsorted(X.indptr, k, side="right")) - 1
                where = f"feature {X.indices[k] + first_index} at row {first_row + row + 1}"
            else:
                row, col = np.unravel_index(int(np.argmax(too_big)), too_big.shape)
                where = f"X at row {row}, column {col} (0-based)"
            raise DataFileError(f"value too large for float32 in {where} of {path}")
    return X.astype(dtype)
