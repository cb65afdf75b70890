"""NumPy ``.npz`` archives -> dense feature matrices, labels and feature names.

The archive holds an array ``X`` of shape ``(n_samples, n_features)``, maybe
``y`` of shape ``(n_samples,)`` and ``feature_names`` of shape
``(n_features,)``. Nothing is unpickled (``allow_pickle=False``), and every
array must fit in the bytes its zip member holds, checked before anything is
allocated. Rows and columns in messages are 0-based, as the messages say.
"""

from __future__ import annotations

import os
import zipfile

import numpy as np

from softmax_classifier.io.errors import DataFileError, describe_bytes, listing, reading

__all__ = ["read_npz"]

# Deflate cannot expand data more than about 1032 times (258-byte matches coded
# in 2 bits); a zip member claiming more than this is corrupt or hostile.
_MAX_DEFLATE_RATIO = 1032


def _npz_array(archive, key, path):
    """One array of an open ``.npz`` archive, with its errors made DataFileErrors."""
    try:
        with reading(path):
            return archive[key]
    except DataFileError as exc:
        if "allow_pickle" in str(exc):
            raise DataFileError(
                f"array {key!r} in {path} holds Python objects, which are not loaded "
                "(allow_pickle=False); store numbers or strings"
            ) from exc.__cause__
        raise


def _check_npz_sizes(path):
    """Refuse ``.npz`` arrays larger than their zip members can hold, before loading them.

    NumPy allocates an array from its header's shape before reading its data,
    so a few hundred bytes could ask for terabytes. Each array's
    ``shape x itemsize`` must fit in the uncompressed size of its member, and
    that size in what deflate can make of the stored bytes
    (:data:`_MAX_DEFLATE_RATIO`) and in the archive itself.
    """
    from numpy.lib import format as npy_format

    archive_bytes = os.path.getsize(path)
    with reading(path):
        if not zipfile.is_zipfile(path):
            return  # np.load says what it is
        with zipfile.ZipFile(path) as archive:
            for member in archive.infolist():
                if not member.filename.endswith(".npy"):
                    continue
                key = member.filename[: -len(".npy")]
                stored_limit = member.compress_size
                if member.compress_type != zipfile.ZIP_STORED:
                    stored_limit *= _MAX_DEFLATE_RATIO
                if member.compress_size > archive_bytes or member.file_size > stored_limit + 2**16:
                    raise DataFileError(
                        f"array {key!r} in {path} claims {describe_bytes(member.file_size)} "
                        f"from {describe_bytes(member.compress_size)} stored in a "
                        f"{describe_bytes(archive_bytes)} file: the archive is damaged"
                    )
                with archive.open(member) as stream:
                    try:
                        version = npy_format.read_magic(stream)
                        if version == (1, 0):
                            shape, _, dtype = npy_format.read_array_header_1_0(stream)
                        else:
                            shape, _, dtype = npy_format.read_array_header_2_0(stream)
                    except ValueError:
                        continue  # not a readable .npy header: np.load reports it
                    header_bytes = stream.tell()
                if dtype.hasobject:
                    continue  # refused when loaded (allow_pickle=False)
                claimed = int(np.prod([int(n) for n in shape], dtype=object)) * dtype.itemsize
                held = member.file_size - header_bytes
                if claimed > held:
                    raise DataFileError(
                        f"array {key!r} in {path} claims shape {tuple(shape)} of {dtype} "
                        f"({describe_bytes(claimed)}) but its zip member holds "
                        f"{describe_bytes(max(held, 0))}: "
                        "the archive is damaged; nothing was allocated"
                    )


def read_npz(path, features, require_target):
    """Dense X, labels y (or None) and names (or None) from a NumPy ``.npz`` archive.

    Parameters
    ----------
    path : str
    features : list of str or None
        Columns of ``X`` by their ``feature_names``, in this order; None for all.
    require_target : bool
        Whether the archive must hold ``y``.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        float64, or float32 when stored so.
    y : ndarray of shape (n_samples,) or None
        str, int64, float64 or bool.
    names : list of str of length n_features or None

    Raises
    ------
    DataFileError
        For anything but a zip of ``.npy`` arrays with a numeric 2-D ``X``,
        arrays larger than their members hold, objects, NaN or infinite values.
    """
    _check_npz_sizes(path)
    with reading(path), open(path, "rb") as handle:
        try:
            archive = np.load(handle, allow_pickle=False)
        except ValueError as exc:  # neither zip nor .npy: NumPy tried to unpickle it
            raise DataFileError(f"cannot read {path}: not an .npz (zip) archive") from exc
        if isinstance(archive, np.ndarray):
            raise DataFileError(f"{path} holds a single .npy array, not an .npz archive with 'X'")
        with archive:
            keys = list(archive.files)
            if "X" not in keys:
                message = f"no array 'X' in {path}; arrays are: {listing(keys)}"
                if {"data", "indices", "indptr", "shape"} <= set(keys):
                    message += " (a scipy.sparse.save_npz file? store sparse data as LIBSVM)"
                raise DataFileError(message)
            X = _npz_array(archive, "X", path)
            y = _npz_array(archive, "y", path) if "y" in keys else None
            names = _npz_array(archive, "feature_names", path) if "feature_names" in keys else None

    if X.ndim != 2:
        raise DataFileError(f"'X' in {path} must be 2-D, got shape {X.shape}")
    if X.dtype.kind not in "biuf":
        raise DataFileError(f"'X' in {path} must be numeric, got dtype {X.dtype}")
    n_samples, n_columns = X.shape
    if n_samples == 0:
        raise DataFileError(f"no data rows in {path}")
    X = np.asarray(X, dtype=np.float64) if X.dtype.kind != "f" else X
    finite = np.isfinite(X)
    if not finite.all():
        row, col = np.unravel_index(int(np.argmin(finite)), X.shape)
        problem = "NaN value" if np.isnan(X[row, col]) else "infinite value"
        raise DataFileError(f"{problem} in X at row {row}, column {col} (0-based) of {path}")
    if X.dtype != np.float32:
        X = X.astype(np.float64, copy=False)

    if names is not None:
        if names.ndim != 1 or names.dtype.kind not in "US" or len(names) != n_columns:
            raise DataFileError(
                f"'feature_names' in {path} must be {n_columns} strings (one per column of X), "
                f"got shape {names.shape} and dtype {names.dtype}"
            )
        with reading(path):
            names = [str(name) for name in names.astype(str)]
    if features is not None:
        if names is None:
            raise DataFileError(
                f"features=... needs a 'feature_names' array in {path}; arrays are: {listing(keys)}"
            )
        missing = [name for name in features if name not in names]
        if missing:
            raise DataFileError(
                f"feature columns not found in {path}: {listing(missing)}; "
                f"columns are: {listing(names)}"
            )
        X = X[:, [names.index(name) for name in features]]
        names = list(features)

    if y is None:
        if require_target:
            raise DataFileError(f"no labels (array 'y') in {path}; arrays are: {listing(keys)}")
        return X, None, names
    return X, _npz_labels(y, n_samples, path), names


def _npz_labels(y, n_samples, path):
    """The ``y`` array of an ``.npz`` file checked and as str, int64, float64 or bool."""
    if y.shape != (n_samples,):
        raise DataFileError(
            f"'y' in {path} must have shape ({n_samples},) to match X, got {y.shape}"
        )
    kind = y.dtype.kind
    if kind == "U" or kind == "b":
        return y
    if kind == "S":
        with reading(path):
            return y.astype(str)
    if kind == "i":
        return y.astype(np.int64)
    if kind == "u":
        if y.max() > np.iinfo(np.int64).max:
            raise DataFileError(f"labels in 'y' of {path} are too large for int64")
        return y.astype(np.int64)
    if kind == "f":
        finite = np.isfinite(y)
        if not finite.all():
            i = int(np.argmin(finite))
            problem = "NaN label" if np.isnan(y[i]) else "infinite label"
            raise DataFileError(f"{problem} in 'y' at row {i} (0-based) of {path}")
        return y.astype(np.float64)
    raise DataFileError(f"'y' in {path} must hold numbers or strings, got dtype {y.dtype}")
