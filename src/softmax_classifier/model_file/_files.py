"""Softmax model files: the codec bound to the softmax schema.

:func:`dumps`, :func:`loads`, :func:`save` and :func:`load` move tensors and metadata;
:func:`save_model` and :func:`load_model` move a whole :class:`ModelContents`.
"""

from __future__ import annotations

from softmax_classifier.model_file import _codec, _reader
from softmax_classifier.model_file.schema import SOFTMAX_FORMAT, decode_model, encode_model

__all__ = ["dumps", "load", "load_model", "loads", "save", "save_model"]


def dumps(tensors, metadata):
    """Serialise a softmax model's tensors and metadata to the bytes of a model file.

    Parameters
    ----------
    tensors : dict of str to ndarray
        ``coef (n_classes, n_features)``, ``intercept (n_classes,)``, both float32 or both
        float64, and optionally ``feature_mean (n_features,)`` and
        ``feature_scale (n_features,)`` float64. Any byte order or memory layout; the
        values must be finite.
    metadata : dict
        JSON-serialisable (NumPy scalars and arrays are converted to Python numbers and
        lists) with the keys listed in
        :func:`~softmax_classifier.model_file.validate_softmax_model`, except
        ``"format"``, ``"format_version"`` and ``"sha256"``, which are added here
        (and replace any given; a version-1 ``"tensors_sha256"`` is dropped).

    Returns
    -------
    bytes
        The file in format version :data:`~softmax_classifier.model_file.FORMAT_VERSION`:
        header length, canonical header, tensors in sorted name order. ``"sha256"`` covers
        the metadata, the tensor layout and the tensor bytes: it detects damage and edits
        that do not recompute it; it is not a signature (anyone can recompute it).

    Raises
    ------
    ModelFileError
        If the tensors or metadata do not describe a valid softmax model, so that a file
        that is written always loads.
    """
    return _codec.dumps(tensors, metadata, SOFTMAX_FORMAT)


def save(path, tensors, metadata):
    """Write a model file atomically (the bytes of :func:`dumps`).

    The file is written by :func:`softmax_classifier._atomic.atomic_write`: to a
    temporary file beside ``path``, flushed, fsynced and renamed over it, so readers
    (and a process killed at any moment) see the old file or the new one, never a
    partial one; temporaries left by killed writers are removed by the next write in
    that directory. The tensors are written straight from their arrays, without a
    second copy of the model in memory.

    Parameters
    ----------
    path : str or os.PathLike
        Destination: a regular file (replaced) or a new name in an existing directory.
    tensors, metadata
        As for :func:`dumps`.

    Raises
    ------
    ModelFileError
        If the model is invalid (nothing is written).
    softmax_classifier._atomic.OutputPathError
        If ``path`` is a symbolic link, directory, device, FIFO or socket, or its
        directory does not exist (nothing is written).
    OSError
        If the file cannot be written (the old file, if any, is untouched).
    """
    _codec.save(path, tensors, metadata, SOFTMAX_FORMAT)


def load(path):
    """Read and validate a model file.

    The file's size is checked first, then its header is read and checked, and only then
    are the tensors read (into their arrays, without a second copy). A non-regular file
    (directory, FIFO, device) is refused without blocking.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    tensors : dict of str to ndarray
        As for :func:`loads`.
    metadata : dict

    Raises
    ------
    ModelFileError
        If the file is missing, unreadable, larger than
        :data:`~softmax_classifier.model_file.MAX_FILE_BYTES`, changed while being read,
        or invalid in any way (see :func:`loads`); the message names the path.
    """
    return _reader.load(path, SOFTMAX_FORMAT)


def loads(data):
    """Parse and validate the bytes of a model file.

    Parameters
    ----------
    data : bytes, bytearray or memoryview

    Returns
    -------
    tensors : dict of str to ndarray
        Writable, native-byte-order arrays of their own: ``coef (n_classes,
        n_features)`` and ``intercept (n_classes,)`` float32 or float64, and, if the
        model standardises its input, ``feature_mean (n_features,)`` and
        ``feature_scale (n_features,)`` float64.
    metadata : dict
        The parsed JSON metadata, checked by
        :func:`~softmax_classifier.model_file.validate_softmax_model`; unknown keys are
        kept. ``metadata["format_version"]`` tells which format the file has.

    Raises
    ------
    ModelFileError
        For anything malformed, truncated, oversized, tampered with or incompatible,
        with a one-line message saying what is wrong. No other exception escapes for any
        input bytes. For a version-2 file any change of any byte is refused (see
        :mod:`softmax_classifier.model_file` for what the hash does and does not prove).
    TypeError
        If ``data`` is not bytes-like.
    """
    return _reader.loads(data, SOFTMAX_FORMAT)


def save_model(path, contents):
    """Write a fitted model to a model file, atomically (as :func:`save` does).

    Parameters
    ----------
    path : str or os.PathLike
    contents : ModelContents
        ``coef (n_classes, n_features)``, ``intercept (n_classes,)``, ``classes
        (n_classes,)``, and ``feature_mean``/``feature_scale (n_features,)`` or ``None``.
        Hyperparameters JSON cannot hold are written as ``None``, and so are NaN and
        infinity in the fit report.

    Raises
    ------
    ValueError
        If the labels are of a kind a model file cannot hold (mixed types, objects other
        than str, int, float and bool).
    ModelFileError
        If the contents are not a valid model (nothing is written).
    softmax_classifier._atomic.OutputPathError
        If ``path`` is a symbolic link, directory, device, FIFO or socket, or its
        directory does not exist (nothing is written).
    OSError
        If the file cannot be written (the old file, if any, is untouched).

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from softmax_classifier.model_file import ModelContents, load_model, save_model
    >>> contents = ModelContents(
    ...     coef=np.array([[1.0, -2.0], [0.5, 0.0]]), intercept=np.zeros(2),
    ...     classes=np.array(["cat", "dog"]), n_features=2, feature_names=["x", "y"],
    ...     feature_mean=None, feature_scale=None, target_name="pet", alpha_used=0.1,
    ...     hyperparameters={"alpha": 0.1}, fit_report=None,
    ... )
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     save_model(os.path.join(folder, "pet.safetensors"), contents)
    ...     loaded = load_model(os.path.join(folder, "pet.safetensors"))
    >>> loaded.classes, loaded.feature_names, loaded.target_name
    (array(['cat', 'dog'], dtype='<U3'), ['x', 'y'], 'pet')
    """
    save(path, *encode_model(contents))


def load_model(path):
    """Read a model file, with every check of :func:`load`, into a :class:`ModelContents`.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    ModelContents
        ``coef (n_classes, n_features)``, ``intercept (n_classes,)``, the classes
        ``(n_classes,)`` restored to their type
        (:func:`~softmax_classifier.model_file.restore_classes`), the standardisation
        statistics ``(n_features,)`` or ``None``, and the metadata's values
        (``target_name``, ``alpha_used`` and ``temperature`` are ``None`` when a file
        lacks them, as files written before calibration existed do;
        ``hyperparameters`` are as stored, not checked against an estimator).

    Raises
    ------
    ModelFileError
        For a missing, unreadable, malformed, truncated, oversized, tampered or
        incompatible file, a ``"target_name"`` that is not a string, an
        ``"alpha_used"`` that is not a number or a ``"temperature"`` that is not a
        positive number (the only exception type it raises).
    """
    return decode_model(*load(path), path)
