"""A fitted softmax model as an ONNX graph, for serving outside Python.

:func:`to_onnx` writes the model's prediction as one ONNX graph that
onnxruntime (or any ONNX runtime) evaluates with no Python and no
softmax-classifier installed:

.. code-block:: text

    X (float32, [N, n_features])
      -> Cast(to=double)                                  for a float64 model
      -> Sub(feature_mean_) -> Div(feature_scale_)       when the model standardises
      -> Gemm(coef_, intercept_, transB=1)                the logits, [N, n_classes]
      -> Div(temperature_)                                when the model was calibrated
      -> Softmax(axis=1) -> Cast(to=float)                -> probabilities (float32, [N, n_classes])
      -> ArgMax(axis=1, keepdims=0) -> Gather(classes_)   -> label ([N])

``probabilities`` is a plain tensor (no ZipMap), its columns in the order of
``classes_``. ``label`` has the type of the labels: int64 for integer labels,
string for string labels, bool for boolean labels and float64 for float labels.

The operator set is the default domain's ``opset`` (18 unless asked; 13 or
later, where Softmax normalises one axis) and the IR version is the smallest
that carries it (:func:`onnx.helper.find_min_ir_version_for`: 8 for opset 18),
so that older runtimes load the file. The model's ``doc_string``,
``producer_name`` and ``producer_version`` name the library and its version;
``metadata_props`` hold the classes, the feature names and the temperature.

The input is float32; the graph computes in the dtype of the model's
parameters (float64 for a model fitted on float64 rows, float32 for one fitted
on float32 rows) and rounds only the probabilities to float32. Computing a
float64 model in float32 would round the stored means and scales: on a column
with a mean of 80 and a scale of 0.1 that alone moves the probabilities by
several ``1e-6``; in float64 the graph's probabilities are those of
``predict_proba`` on the same rows to the float32 rounding (``docs/onnx.md``).

``onnx`` is imported when :func:`to_onnx` runs: it is an optional extra,
``pip install 'softmax-classifier[onnx]'``.
"""

from __future__ import annotations

import json

import numpy as np

from softmax_classifier._atomic import atomic_write, check_output_path
from softmax_classifier._version import __version__

__all__ = ["DEFAULT_OPSET", "MIN_OPSET", "ONNX_MISSING", "to_onnx"]

DEFAULT_OPSET = 18
MIN_OPSET = 13  # Softmax over one axis (before 13 it flattened the trailing axes)
ONNX_MISSING = "ONNX export needs the onnx package: pip install 'softmax-classifier[onnx]'"


def to_onnx(model, path, *, opset=DEFAULT_OPSET):
    """Write a fitted softmax model as an ONNX file with outputs ``label`` and ``probabilities``.

    Parameters
    ----------
    model : object
        A fitted model with ``coef_`` (n_classes, n_features), ``intercept_``
        (n_classes,), ``classes_`` (n_classes,), ``n_features_in_``, and
        optionally ``feature_mean_`` and ``feature_scale_`` (n_features,),
        ``temperature_`` (float) and ``feature_names_in_`` (n_features,), as
        :class:`~softmax_classifier.SoftmaxClassifier` has after ``fit``.
    path : str or os.PathLike
        The ONNX file, written atomically (the old file or the new one, never
        a partial one).
    opset : int, default=18
        Version of the default ONNX operator set, from 13 to the newest the
        installed ``onnx`` knows.

    Returns
    -------
    str
        The absolute path written.

    Raises
    ------
    ImportError
        When ``onnx`` is not installed.
    ValueError
        For an opset out of range, labels that are neither integers, strings,
        booleans nor floats, or coefficients that do not match the classes and
        features.
    softmax_classifier._atomic.OutputPathError, PermissionError
        When ``path`` cannot be written (nothing is written).

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from softmax_classifier import SoftmaxClassifier
    >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
    >>> model = SoftmaxClassifier().fit(X, ["a", "b", "b", "a"])
    >>> path = to_onnx(model, os.path.join(tempfile.mkdtemp(), "model.onnx"))
    >>> os.path.basename(path)
    'model.onnx'
    """
    try:
        import onnx
    except ImportError as error:
        raise ImportError(ONNX_MISSING) from error
    if isinstance(opset, bool) or not isinstance(opset, (int, np.integer)):
        raise ValueError(f"opset must be an integer, got {opset!r}")
    newest = onnx.defs.onnx_opset_version()
    if not MIN_OPSET <= opset <= newest:
        raise ValueError(
            f"opset must be between {MIN_OPSET} and {newest} (the newest this onnx knows), "
            f"got {opset}"
        )
    path = check_output_path(path)  # before any work
    proto = _model_proto(onnx, model, int(opset))
    onnx.checker.check_model(proto, full_check=True)
    with atomic_write(path) as file:
        file.write(proto.SerializeToString())
    return path


def _model_proto(onnx, model, opset):
    """The checked-before-writing ``onnx.ModelProto`` of a fitted model."""
    from onnx import TensorProto, helper, numpy_helper

    dtype = np.float32 if np.asarray(model.coef_).dtype == np.float32 else np.float64
    coef = np.asarray(model.coef_, dtype=dtype)
    intercept = np.asarray(model.intercept_, dtype=dtype)
    classes = np.asarray(model.classes_)
    n_features = int(model.n_features_in_)
    n_classes = len(classes)
    if coef.shape != (n_classes, n_features) or intercept.shape != (n_classes,):
        raise ValueError(
            f"coef_ {coef.shape} and intercept_ {intercept.shape} do not match "
            f"{n_classes} classes and {n_features} features"
        )
    labels, label_type = _label_tensor(classes)

    def constant(name, values):
        return numpy_helper.from_array(np.ascontiguousarray(values), name=name)

    initializers = [constant("coef", coef), constant("intercept", intercept)]
    nodes, current = [], "X"
    if dtype == np.float64:
        nodes.append(helper.make_node("Cast", ["X"], ["X_double"], to=TensorProto.DOUBLE))
        current = "X_double"
    mean = getattr(model, "feature_mean_", None)
    scale = getattr(model, "feature_scale_", None)
    if mean is not None:
        initializers.append(constant("feature_mean", np.asarray(mean, dtype=dtype)))
        nodes.append(helper.make_node("Sub", [current, "feature_mean"], ["centred"]))
        current = "centred"
    if scale is not None:
        initializers.append(constant("feature_scale", np.asarray(scale, dtype=dtype)))
        nodes.append(helper.make_node("Div", [current, "feature_scale"], ["standardised"]))
        current = "standardised"
    nodes.append(helper.make_node("Gemm", [current, "coef", "intercept"], ["logits"], transB=1))
    current = "logits"
    temperature = getattr(model, "temperature_", None)
    if temperature is not None:
        initializers.append(constant("temperature", np.array(temperature, dtype=dtype)))
        nodes.append(helper.make_node("Div", [current, "temperature"], ["tempered_logits"]))
        current = "tempered_logits"
    initializers.append(constant("classes", labels))
    nodes += [
        *(
            [helper.make_node("Softmax", [current], ["probabilities"], axis=1)]
            if dtype == np.float32
            else [
                helper.make_node("Softmax", [current], ["probabilities_double"], axis=1),
                helper.make_node(
                    "Cast", ["probabilities_double"], ["probabilities"], to=TensorProto.FLOAT
                ),
            ]
        ),
        helper.make_node("ArgMax", [current], ["class_index"], axis=1, keepdims=0),
        helper.make_node("Gather", ["classes", "class_index"], ["label"], axis=0),
    ]
    graph = helper.make_graph(
        nodes,
        "softmax_classifier",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", n_features])],
        [
            helper.make_tensor_value_info("label", label_type, ["N"]),
            helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", n_classes]),
        ],
        initializer=initializers,
    )
    opsets = [helper.make_opsetid("", opset)]
    proto = helper.make_model(
        graph,
        opset_imports=opsets,
        ir_version=helper.find_min_ir_version_for(opsets),
        producer_name="softmax-classifier",
        producer_version=__version__,
        doc_string=(
            f"softmax-classifier {__version__}: multinomial logistic regression, "
            f"{n_features} features, {n_classes} classes. Input X float32 [N, {n_features}]; "
            f"outputs label [N] and probabilities float32 [N, {n_classes}] "
            "(columns in the order of the classes)."
        ),
    )
    names = getattr(model, "feature_names_in_", None)
    metadata = {
        "library": f"softmax-classifier {__version__}",
        "classes": json.dumps(classes.tolist()),
        "feature_names": json.dumps(None if names is None else [str(n) for n in names]),
        "temperature": json.dumps(None if temperature is None else float(temperature)),
        "standardised": json.dumps(scale is not None),
    }
    helper.set_model_props(proto, metadata)
    return proto


def _label_tensor(classes):
    """``(values, onnx element type)`` of the label lookup table.

    Integers -> int64, strings -> string, booleans -> bool, floats -> float64.
    """
    from onnx import TensorProto

    kind = classes.dtype.kind
    if kind == "O":  # labels given as Python objects: all strings, or refused
        if all(isinstance(label, str) for label in classes):
            kind = "U"
        else:
            raise ValueError(
                "ONNX export supports integer, string, boolean or float labels; these classes "
                f"mix Python objects: {classes[:5].tolist()}"
            )
    if kind in "iu":
        if kind == "u" and classes.size and classes.max() > np.iinfo(np.int64).max:
            raise ValueError("ONNX export stores integer labels as int64: a label is too large")
        return classes.astype(np.int64), TensorProto.INT64
    if kind in "US":
        strings = classes.astype(str) if kind == "S" else classes
        return np.array(strings.tolist(), dtype=object), TensorProto.STRING
    if kind == "b":
        return classes.astype(np.bool_), TensorProto.BOOL
    if kind == "f":
        return classes.astype(np.float64), TensorProto.DOUBLE
    raise ValueError(
        f"ONNX export supports integer, string, boolean or float labels, not {classes.dtype}"
    )
