"""The softmax model's schema: what the tensors and metadata of a model file must be.

The format's name and versions; the metadata keys, written once in
:data:`_METADATA_KEYS`, a table that both the writer (:func:`encode_model`) and the
validator (:func:`validate_softmax_model`) read; how class labels are written and
restored; JSON cleaning of hyperparameters and fit reports; :class:`ModelContents`, a
model as the estimator hands it over, with :func:`encode_model` and :func:`decode_model`
between it and a file's tensors and metadata; and :data:`SOFTMAX_FORMAT`, all of it as
the codec (:mod:`softmax_classifier.model_file._codec`) takes it. Bytes are the codec's
business, not this module's.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from softmax_classifier._version import __version__
from softmax_classifier.model_file import _codec
from softmax_classifier.model_file._codec import NUMPY_NAMES, ModelFileError, check_finite
from softmax_classifier.model_file._json import short

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "READ_FORMAT_VERSIONS",
    "SOFTMAX_FORMAT",
    "ModelContents",
    "classes_to_json",
    "decode_model",
    "encode_model",
    "jsonable_params",
    "restore_classes",
    "validate_softmax_model",
]

FORMAT_NAME = "softmax-classifier"
"""The value of the metadata's ``"format"`` key."""

FORMAT_VERSION = 2
"""The format version written by this version."""

READ_FORMAT_VERSIONS = (1, 2)
"""The format versions this version reads."""

_HASH_KEYS = {1: "tensors_sha256", 2: "sha256"}  # format version -> the hash's key
_VERSIONS_TEXT = " and ".join(map(str, READ_FORMAT_VERSIONS))
_TENSOR_NAMES = {"coef", "intercept", "feature_mean", "feature_scale"}
_CLASS_TYPES = {"int": np.int64, "float": np.float64, "str": np.str_, "bool": np.bool_}
_MAX_CLASS_INT = 2**63 - 1


@dataclass(eq=False)
class ModelContents:
    """Everything a model file holds about one fitted softmax model.

    Attributes
    ----------
    coef : ndarray of shape (n_classes, n_features)
        float32 or float64.
    intercept : ndarray of shape (n_classes,)
        The dtype of ``coef``.
    classes : ndarray of shape (n_classes,)
        Labels of one kind: ints, floats, strings or booleans.
    n_features : int
    feature_names : list of str or None
    feature_mean, feature_scale : ndarray of shape (n_features,) or None
        float64 standardisation statistics, both or neither (``None`` when the model does
        not standardise its input).
    target_name : str or None
    alpha_used : float or None
        The penalty strength the fit used.
    hyperparameters : dict
        The estimator's parameters; values JSON cannot hold are written as ``None``.
    fit_report : dict or None
        NaN and infinity are written as ``None``.
    temperature : float or None, default=None
        The temperature of calibrated probabilities (``temperature_``), a positive
        number; ``None`` for an uncalibrated model (``T = 1``).
    """

    coef: np.ndarray
    intercept: np.ndarray
    classes: np.ndarray
    n_features: int
    feature_names: list[str] | None
    feature_mean: np.ndarray | None
    feature_scale: np.ndarray | None
    target_name: str | None
    alpha_used: float | None
    hyperparameters: dict
    fit_report: dict | None
    temperature: float | None = None


# -- the metadata keys, written once -----------------------------------------------------


class _Key(NamedTuple):
    name: str
    required: bool  # every file of every version read has it (else: optional, null if absent)
    value: Callable[[ModelContents], object] | None  # what save_model writes; None: the codec


def _preprocessing(contents):
    standardized = contents.feature_scale is not None
    center = bool(standardized and np.any(contents.feature_mean != 0))
    return {"standardize": standardized, "center": center}


_METADATA_KEYS = (
    _Key("format", True, None),
    _Key("format_version", True, None),
    _Key("library_version", True, lambda m: __version__),
    _Key("classes", True, lambda m: classes_to_json(m.classes)),
    _Key("class_type", True, lambda m: _class_type(m.classes)),
    _Key("n_features", True, lambda m: int(m.n_features)),
    _Key("feature_names", True, lambda m: _maybe(m.feature_names, lambda v: list(map(str, v)))),
    _Key("dtype", True, lambda m: str(m.coef.dtype)),
    _Key("preprocessing", True, _preprocessing),
    _Key("target_name", False, lambda m: m.target_name),
    _Key("alpha_used", False, lambda m: _maybe(m.alpha_used, float)),
    _Key("hyperparameters", True, lambda m: jsonable_params(m.hyperparameters)),
    _Key("fit_report", True, lambda m: _finite_or_none(m.fit_report)),
    _Key("temperature", False, lambda m: _maybe(m.temperature, _temperature)),
)
"""The metadata of a model file, in the order the validator checks that keys are present.

The format's hash (``"sha256"``, or ``"tensors_sha256"`` in version 1) is added by the
codec and checked by :func:`_check_hash_key`. Other keys are allowed and kept.
"""

_REQUIRED_METADATA = tuple(key.name for key in _METADATA_KEYS if key.required)


def _maybe(value, convert):
    return None if value is None else convert(value)


def _temperature(value):
    """A temperature as a float, or a ValueError if it is not a positive finite number."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
        raise ValueError(f"temperature must be a positive number or null, got {short(value)}")
    return float(value)


# -- a model's contents <-> a file's tensors and metadata ---------------------------------


def encode_model(contents):
    """The tensors and metadata a model file holds for a model.

    Parameters
    ----------
    contents : ModelContents

    Returns
    -------
    tensors : dict of str to ndarray
        ``coef (n_classes, n_features)``, ``intercept (n_classes,)``, and
        ``feature_mean``/``feature_scale (n_features,)`` when ``feature_scale`` is given.
    metadata : dict
        Every key of :data:`_METADATA_KEYS` but those the codec adds.

    Raises
    ------
    ValueError
        If the labels are of a kind a model file cannot hold (mixed types, objects other
        than str, int, float and bool), or the temperature is not a positive number.
    """
    tensors = {"coef": contents.coef, "intercept": contents.intercept}
    if contents.feature_scale is not None:
        tensors["feature_mean"] = contents.feature_mean
        tensors["feature_scale"] = contents.feature_scale
    metadata = {key.name: key.value(contents) for key in _METADATA_KEYS if key.value}
    return tensors, metadata


def decode_model(tensors, metadata, path):
    """The :class:`ModelContents` of a loaded model file's tensors and metadata.

    Parameters
    ----------
    tensors : dict of str to ndarray
    metadata : dict
        As returned by :func:`softmax_classifier.model_file.load` (so checked by
        :func:`validate_softmax_model`).
    path : str or os.PathLike
        Where they were read, for messages.

    Returns
    -------
    ModelContents

    Raises
    ------
    ModelFileError
        If ``"target_name"`` is not a string or null, ``"alpha_used"`` not a number or
        null, or ``"temperature"`` not a positive number or null.
    """
    classes = restore_classes(metadata)
    target_name = metadata.get("target_name")
    if target_name is not None and not isinstance(target_name, str):
        raise ModelFileError(f"{path}: target_name must be a string or null")
    alpha_used = metadata.get("alpha_used")
    if alpha_used is not None and (
        isinstance(alpha_used, bool) or not isinstance(alpha_used, int | float)
    ):
        raise ModelFileError(f"{path}: alpha_used must be a number or null")
    try:
        temperature = _maybe(metadata.get("temperature"), _temperature)
    except ValueError as error:
        raise ModelFileError(f"{path}: {error}") from None
    return ModelContents(
        coef=tensors["coef"],
        intercept=tensors["intercept"],
        classes=classes,
        n_features=metadata["n_features"],
        feature_names=metadata["feature_names"],
        feature_mean=tensors.get("feature_mean"),
        feature_scale=tensors.get("feature_scale"),
        target_name=target_name,
        alpha_used=_maybe(alpha_used, float),
        hyperparameters=metadata["hyperparameters"],
        fit_report=metadata["fit_report"],
        temperature=temperature,
    )


# -- JSON cleaning -----------------------------------------------------------------------


def _finite_or_none(value):
    """``value`` with NaN and inf (which JSON cannot hold) replaced by None, recursively."""
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite_or_none(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def jsonable_params(params):
    """Hyperparameters as JSON values.

    Parameters
    ----------
    params : dict
        ``get_params()`` of an estimator.

    Returns
    -------
    dict
        The same keys; NumPy scalars become Python numbers, and what JSON cannot hold
        (a ``RandomState``, NaN) becomes ``None``.

    Examples
    --------
    >>> jsonable_params({"alpha": np.float64(0.5), "random_state": np.random.RandomState(0)})
    {'alpha': 0.5, 'random_state': None}
    """
    result = {}
    for key, value in params.items():
        if isinstance(value, np.generic):
            value = value.item()
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            value = None
        result[key] = value
    return result


# -- class labels ------------------------------------------------------------------------


def _class_type(classes):
    """The ``"class_type"`` of labels: ``"bool"``, ``"int"``, ``"float"`` or ``"str"``."""
    kind = classes.dtype.kind
    if kind == "b":
        return "bool"
    if kind in "iu":
        return "int"
    if kind == "f":
        return "float"
    if kind in "US" or all(isinstance(c, str) for c in classes):
        return "str"
    raise ValueError(
        "a model file can hold labels that are all ints, floats, strings or booleans; "
        f"these are {sorted({type(c).__name__ for c in classes})}."
    )


def classes_to_json(classes):
    """Class labels as the JSON values a model file's ``"classes"`` holds.

    Parameters
    ----------
    classes : ndarray of shape (n_classes,)
        Booleans, integers, floats, or strings (``<U`` or objects that are all ``str``).

    Returns
    -------
    list of length n_classes
        Python bools, ints, floats or strs.

    Raises
    ------
    ValueError
        If the labels are of mixed or other types.

    Examples
    --------
    >>> classes_to_json(np.array([3, 1, 2]))
    [3, 1, 2]
    """
    convert = {"bool": bool, "int": int, "float": float, "str": str}[_class_type(classes)]
    return [convert(c) for c in classes]


def _class_value_ok(value, class_type):
    """Whether one class label is a JSON value of ``class_type`` (ints within int64)."""
    if class_type == "int":
        return type(value) is int and -_MAX_CLASS_INT - 1 <= value <= _MAX_CLASS_INT
    if class_type == "float":
        return type(value) in (int, float) and math.isfinite(value)
    if class_type == "str":
        return isinstance(value, str) and "\x00" not in value
    return type(value) is bool


def _checked_classes(metadata):
    """The metadata's classes list after checking type, class_type, length and uniqueness."""
    for key in ("classes", "class_type"):
        if key not in metadata:
            raise ModelFileError(f"metadata has no {key!r} key")
    classes, class_type = metadata["classes"], metadata["class_type"]
    if not isinstance(class_type, str) or class_type not in _CLASS_TYPES:
        raise ModelFileError(
            f"metadata 'class_type' must be one of 'int', 'float', 'str', 'bool', got "
            f"{short(class_type)}"
        )
    if not isinstance(classes, list):
        raise ModelFileError(f"metadata 'classes' must be a list, got {short(classes)}")
    if len(classes) < 2:
        raise ModelFileError(
            f"a softmax model needs at least 2 classes, metadata lists {len(classes)}"
        )
    for value in classes:
        if not _class_value_ok(value, class_type):
            raise ModelFileError(f"class {short(value)} is not of class_type {class_type!r}")
    if len(set(classes)) != len(classes):
        raise ModelFileError("metadata 'classes' are not unique")
    return classes


def restore_classes(metadata):
    """The classes of a model's metadata as a NumPy array of their type.

    Parameters
    ----------
    metadata : dict
        With ``"classes"`` and ``"class_type"`` as described in
        :func:`validate_softmax_model`.

    Returns
    -------
    ndarray of shape (n_classes,)
        int64 for ``"int"``, float64 for ``"float"``, unicode (``<U``) for ``"str"``,
        bool for ``"bool"``.

    Raises
    ------
    ModelFileError
        If the classes or class type are invalid.

    Examples
    --------
    >>> restore_classes({"classes": [3, 1, 2], "class_type": "int"})
    array([3, 1, 2])
    """
    if not isinstance(metadata, Mapping):
        raise ModelFileError(f"metadata must be a dict, got {type(metadata).__name__}")
    classes = _checked_classes(metadata)
    return np.array(classes, dtype=_CLASS_TYPES[metadata["class_type"]])


# -- validation --------------------------------------------------------------------------


def validate_softmax_model(tensors, metadata):
    """Check that tensors and metadata describe a usable softmax model.

    Parameters
    ----------
    tensors : dict of str to ndarray
        Exactly ``coef (c, d)`` with ``c >= 2`` and ``d >= 1``, ``intercept (c,)`` of
        the same dtype (float32 or float64), and optionally ``feature_mean (d,)`` and
        ``feature_scale (d,)`` float64, both or neither, with ``feature_scale > 0``. All
        values finite.
    metadata : dict
        Parsed JSON with (at least) the keys

        - ``"format"`` (``"softmax-classifier"``), ``"format_version"`` (1 or 2),
          ``"library_version"`` (str), and the hash as 64 lowercase hex digits:
          ``"sha256"`` for version 2, ``"tensors_sha256"`` for version 1;
        - ``"classes"``: list of ``c`` distinct values, all of ``"class_type"``:
          ``"int"`` (JSON integers in the int64 range, not booleans), ``"float"``
          (numbers), ``"str"`` (strings without NUL) or ``"bool"`` (booleans);
        - ``"n_features"``: ``d``; ``"feature_names"``: null or ``d`` distinct strings;
        - ``"dtype"``: ``"float32"`` or ``"float64"``, the dtype of ``coef``;
        - ``"preprocessing"``: object with booleans ``"standardize"`` (true exactly when
          the standardisation tensors are present) and ``"center"``;
        - ``"hyperparameters"``: object; ``"fit_report"``: object or null.

        Other keys are allowed. The hash itself is not recomputed here (it needs the
        file's bytes; :func:`loads` checks it).

    Raises
    ------
    ModelFileError
        Naming the first problem found.
    """
    if not isinstance(tensors, Mapping):
        raise ModelFileError(f"tensors must be a dict, got {type(tensors).__name__}")
    if not isinstance(metadata, Mapping):
        raise ModelFileError(f"metadata must be a dict, got {type(metadata).__name__}")
    for name, array in tensors.items():
        if not isinstance(array, np.ndarray) or array.dtype not in NUMPY_NAMES:
            raise ModelFileError(f"tensor {short(name)} must be a float32 or float64 array")
    _check_schema({name: (a.dtype, a.shape) for name, a in tensors.items()}, metadata, True)
    check_finite(tensors)
    _check_values(tensors)


def _check_values(tensors):
    """``feature_scale`` positive (the codec has checked that every value is finite)."""
    scale = tensors.get("feature_scale")
    if scale is not None and not (scale > 0).all():
        raise ModelFileError("'feature_scale' must be positive everywhere")


def _check_schema(specs, metadata, check_hash):
    """The schema of :func:`validate_softmax_model`, on ``{name: (dtype, shape)}``.

    Everything but the tensors' values, so that it runs before they are read.
    """
    n_classes, n_features, dtype, standardized = _check_tensor_specs(specs)
    for key in _REQUIRED_METADATA:
        if key not in metadata:
            raise ModelFileError(f"metadata has no {key!r} key")
    if metadata["format"] != FORMAT_NAME:
        raise ModelFileError(f"metadata 'format' must be {FORMAT_NAME!r}")
    version = metadata["format_version"]
    if type(version) is not int or version not in READ_FORMAT_VERSIONS:
        raise ModelFileError(f"metadata 'format_version' must be one of {_VERSIONS_TEXT}")
    library_version = metadata["library_version"]
    if not isinstance(library_version, str):
        raise ModelFileError(
            f"metadata 'library_version' must be a string, got {short(library_version)}"
        )
    if check_hash:
        _check_hash_key(metadata, version)
    classes = _checked_classes(metadata)
    if len(classes) != n_classes:
        raise ModelFileError(
            f"metadata lists {len(classes)} classes but 'coef' has {n_classes} rows"
        )
    _check_features(metadata, n_features)
    expected_dtype = NUMPY_NAMES[dtype]
    if metadata["dtype"] != expected_dtype:
        raise ModelFileError(
            f"metadata 'dtype' is {short(metadata['dtype'])} but 'coef' is {expected_dtype}"
        )
    _check_preprocessing(metadata["preprocessing"], standardized)
    hyperparameters, report = metadata["hyperparameters"], metadata["fit_report"]
    if not isinstance(hyperparameters, dict):
        raise ModelFileError(
            f"metadata 'hyperparameters' must be an object, got {short(hyperparameters)}"
        )
    if report is not None and not isinstance(report, dict):
        raise ModelFileError(
            f"metadata 'fit_report' must be an object or null, got {short(report)}"
        )


def _check_tensor_specs(specs):
    """``(n_classes, n_features, dtype, standardized)`` of checked tensor specs."""
    for name in ("coef", "intercept"):
        if name not in specs:
            raise ModelFileError(f"model has no {name!r} tensor")
    extra = sorted(set(specs) - _TENSOR_NAMES, key=str)
    if extra:
        raise ModelFileError(f"unexpected tensor {short(extra[0])} in a softmax model")
    (coef_dtype, coef_shape), (intercept_dtype, intercept_shape) = specs["coef"], specs["intercept"]
    if len(coef_shape) != 2:
        raise ModelFileError(
            f"'coef' must be 2-D (n_classes, n_features), got shape {tuple(coef_shape)}"
        )
    n_classes, n_features = coef_shape
    if n_classes < 2:
        raise ModelFileError(f"a softmax model needs at least 2 classes, 'coef' has {n_classes}")
    if n_features < 1:
        raise ModelFileError("a softmax model needs at least 1 feature, 'coef' has 0 columns")
    if tuple(intercept_shape) != (n_classes,):
        raise ModelFileError(
            f"'intercept' must have shape ({n_classes},) to match 'coef', got "
            f"{tuple(intercept_shape)}"
        )
    if intercept_dtype != coef_dtype:
        raise ModelFileError(
            f"'intercept' is {NUMPY_NAMES[intercept_dtype]} but 'coef' is "
            f"{NUMPY_NAMES[coef_dtype]}; they must match"
        )
    standardized = "feature_mean" in specs or "feature_scale" in specs
    if standardized:
        for name, other in (("feature_mean", "feature_scale"), ("feature_scale", "feature_mean")):
            if name not in specs:
                raise ModelFileError(f"model has {other} but no {name!r} tensor (both or neither)")
            dtype, shape = specs[name]
            if tuple(shape) != (n_features,) or dtype != np.float64:
                raise ModelFileError(
                    f"{name!r} must be float64 of shape ({n_features},), got "
                    f"{NUMPY_NAMES[dtype]} of shape {tuple(shape)}"
                )
    return n_classes, n_features, coef_dtype, standardized


def _check_hash_key(metadata, version):
    key = _HASH_KEYS[version]
    if key not in metadata:
        raise ModelFileError(f"metadata {key!r} is missing (format version {version})")
    digest = metadata[key]
    if not isinstance(digest, str):
        raise ModelFileError(f"metadata {key!r} must be a string, got {short(digest)}")
    if len(digest) != 64 or digest.strip("0123456789abcdef"):
        raise ModelFileError(f"metadata {key!r} is not a hex SHA-256: {short(digest)}")


def _check_features(metadata, n_features):
    n_features_meta = metadata["n_features"]
    if type(n_features_meta) is not int or n_features_meta != n_features:
        raise ModelFileError(
            f"metadata 'n_features' is {short(n_features_meta)} but 'coef' has {n_features} columns"
        )
    names = metadata["feature_names"]
    if names is None:
        return
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ModelFileError(
            f"metadata 'feature_names' must be null or a list of strings, got {short(names)}"
        )
    if len(names) != n_features:
        raise ModelFileError(
            f"metadata 'feature_names' has {len(names)} names for {n_features} features"
        )
    if len(set(names)) != len(names):
        raise ModelFileError("metadata 'feature_names' are not unique")


def _check_preprocessing(preprocessing, standardized):
    if not isinstance(preprocessing, dict):
        raise ModelFileError(
            f"metadata 'preprocessing' must be an object, got {short(preprocessing)}"
        )
    for key in ("standardize", "center"):
        if not isinstance(preprocessing.get(key), bool):
            raise ModelFileError(f"metadata 'preprocessing' needs a boolean {key!r}")
    if preprocessing["standardize"] and not standardized:
        raise ModelFileError(
            "metadata says the model standardizes its input but the file has no "
            "'feature_mean'/'feature_scale' tensors"
        )
    if standardized and not preprocessing["standardize"]:
        raise ModelFileError(
            "the file has 'feature_mean'/'feature_scale' tensors but metadata says the model "
            "does not standardize its input"
        )


SOFTMAX_FORMAT = _codec.FileFormat(
    name=FORMAT_NAME,
    entry="softmax_classifier",
    hash_keys=_HASH_KEYS,
    canonical_since=2,
    check_header=_check_schema,
    check_values=_check_values,
)
"""The model-file format, as the codec takes it."""
