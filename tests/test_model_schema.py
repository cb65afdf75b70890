"""Tests of the softmax schema of model files: ModelContents, save_model and load_model.

The central one compares :func:`save_model` with :meth:`SoftmaxClassifier.save` byte for
byte, so that the estimator can write through :func:`save_model` without changing a
single byte of its files.
"""

import json

import numpy as np
import pytest
from sklearn.datasets import load_iris

from softmax_classifier import SoftmaxClassifier, model_file
from softmax_classifier.model_file import (
    ModelContents,
    ModelFileError,
    _codec,
    _reader,
    classes_to_json,
    jsonable_params,
    load_model,
    save,
    save_model,
    schema,
)


def iris_frame():
    data = load_iris(as_frame=True)
    labels = np.array(["setosa", "versicolor", "virginica"])[data.target.to_numpy()]
    return data.data, labels


def contents_of(model):
    """A fitted estimator's ModelContents, every field taken from the model."""
    names = getattr(model, "feature_names_in_", None)
    report = getattr(model, "fit_report_", None)
    return ModelContents(
        coef=model.coef_,
        intercept=model.intercept_,
        classes=model.classes_,
        n_features=model.n_features_in_,
        feature_names=None if names is None else list(names),
        feature_mean=getattr(model, "feature_mean_", None),
        feature_scale=getattr(model, "feature_scale_", None),
        target_name=getattr(model, "target_name_", None),
        alpha_used=getattr(model, "alpha_", None),
        hyperparameters=model.get_params(),
        fit_report=None if report is None else report.as_dict(),
    )


def as_json(value):
    """``value`` after a JSON round trip (tuples become lists, NaN stays NaN)."""
    return json.loads(json.dumps(value))


@pytest.mark.parametrize(
    ("labels", "frame", "standardize", "dtype"),
    [
        pytest.param("str", True, True, np.float64, id="str-frame-standardized"),
        pytest.param("int", False, False, np.float32, id="int-array-float32"),
        pytest.param("bool", True, True, np.float32, id="bool-frame-standardized-float32"),
    ],
)
def test_save_model_writes_the_bytes_of_the_estimators_save(
    tmp_path, labels, frame, standardize, dtype
):
    X, y = iris_frame()
    if labels == "int":
        y = np.unique(y, return_inverse=True)[1] * 7 - 3
    elif labels == "bool":
        X, y = X[y != "virginica"], y[y != "virginica"] == "setosa"
    X = X.astype(dtype) if frame else X.to_numpy(dtype=dtype)
    model = SoftmaxClassifier(standardize=standardize, max_iter=200, random_state=0).fit(X, y)
    model.target_name_ = "species"  # as the CLI sets it
    by_estimator, by_schema = tmp_path / "estimator.safetensors", tmp_path / "schema.safetensors"
    model.save(by_estimator)
    save_model(by_schema, contents_of(model))
    assert by_schema.read_bytes() == by_estimator.read_bytes()

    expected, loaded = contents_of(model), load_model(by_schema)
    for name in ("coef", "intercept", "classes", "feature_mean", "feature_scale"):
        want, got = getattr(expected, name), getattr(loaded, name)
        if want is None:
            assert got is None, name
            continue
        np.testing.assert_array_equal(got, want, err_msg=name)
        assert got.dtype == want.dtype, name
    assert loaded.n_features == expected.n_features == X.shape[1]
    assert loaded.feature_names == (list(X.columns) if frame else None)
    assert loaded.target_name == "species"
    assert loaded.alpha_used == expected.alpha_used
    assert loaded.hyperparameters == as_json(jsonable_params(expected.hyperparameters))
    assert loaded.fit_report == as_json(expected.fit_report)
    # And what the estimator's own load makes of the file save_model wrote.
    np.testing.assert_array_equal(
        model_file.restore_classes(model_file.load(by_schema)[1]), model.classes_
    )


def fixed_contents(**changes):
    """Small hand-made contents (no fit), with ``changes`` applied."""
    fields = {
        "coef": np.array([[1.0, -2.0], [0.5, 0.0], [0.0, 3.0]]),
        "intercept": np.array([0.1, 0.2, 0.3]),
        "classes": np.array(["a", "b", "c"]),
        "n_features": 2,
        "feature_names": ["x", "y"],
        "feature_mean": None,
        "feature_scale": None,
        "target_name": None,
        "alpha_used": None,
        "hyperparameters": {"alpha": 0.5},
        "fit_report": None,
    }
    fields.update(changes)
    return ModelContents(**fields)


def test_the_metadata_table_is_what_the_writer_writes_and_the_validator_requires():
    tensors, metadata = schema.encode_model(fixed_contents())
    table = [key.name for key in schema._METADATA_KEYS]
    codec_keys = ["format", "format_version"]
    assert sorted(metadata) == sorted(set(table) - set(codec_keys))
    assert list(schema._REQUIRED_METADATA) == [
        *codec_keys,
        "library_version",
        "classes",
        "class_type",
        "n_features",
        "feature_names",
        "dtype",
        "preprocessing",
        "hyperparameters",
        "fit_report",
    ]
    loaded = model_file.loads(model_file.dumps(tensors, metadata))[1]
    assert set(loaded) == set(table) | {"sha256"}
    for key in schema._REQUIRED_METADATA:
        if key in codec_keys:
            continue  # dumps sets them
        incomplete = {k: v for k, v in metadata.items() if k != key}
        with pytest.raises(ModelFileError, match=f"metadata has no '{key}' key"):
            model_file.dumps(tensors, incomplete)


def test_optional_keys_are_none_when_a_file_lacks_them(tmp_path):
    tensors, metadata = schema.encode_model(fixed_contents(target_name="t", alpha_used=2))
    assert metadata["alpha_used"] == 2.0 and type(metadata["alpha_used"]) is float
    del metadata["target_name"], metadata["alpha_used"]
    save(tmp_path / "m.safetensors", tensors, metadata)
    loaded = load_model(tmp_path / "m.safetensors")
    assert loaded.target_name is None and loaded.alpha_used is None


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("target_name", 3, "target_name must be a string or null"),
        ("target_name", ["y"], "target_name must be a string or null"),
        ("alpha_used", True, "alpha_used must be a number or null"),
        ("alpha_used", "0.1", "alpha_used must be a number or null"),
    ],
)
def test_load_model_checks_target_name_and_alpha_used(tmp_path, key, value, message):
    tensors, metadata = schema.encode_model(fixed_contents())
    metadata[key] = value
    path = tmp_path / "m.safetensors"
    save(path, tensors, metadata)  # valid for the codec and the validator
    with pytest.raises(ModelFileError) as caught:
        load_model(path)
    assert str(caught.value) == f"{path}: {message}"


def test_save_model_cleans_hyperparameters_and_the_fit_report(tmp_path):
    contents = fixed_contents(
        hyperparameters={"alpha": np.float64(0.5), "random_state": np.random.RandomState(0)},
        fit_report={"grad_norm": float("nan"), "objective_history": [1.0, float("inf"), 0.5]},
        feature_mean=np.array([0.0, 2.0]),
        feature_scale=np.array([1.0, 4.0]),
    )
    save_model(tmp_path / "m.safetensors", contents)
    loaded = load_model(tmp_path / "m.safetensors")
    assert loaded.hyperparameters == {"alpha": 0.5, "random_state": None}
    assert loaded.fit_report == {"grad_norm": None, "objective_history": [1.0, None, 0.5]}
    np.testing.assert_array_equal(loaded.feature_scale, [1.0, 4.0])
    metadata = model_file.load(tmp_path / "m.safetensors")[1]
    assert metadata["preprocessing"] == {"standardize": True, "center": True}


@pytest.mark.parametrize(
    ("classes", "expected"),
    [
        (np.array([3, 1, 2], dtype=np.uint8), [3, 1, 2]),
        (np.array([True, False]), [True, False]),
        (np.array([0.5, 2.0]), [0.5, 2.0]),
        (np.array(["a", "b"], dtype=object), ["a", "b"]),
    ],
)
def test_classes_to_json_keeps_values_and_kinds(classes, expected):
    result = classes_to_json(classes)
    assert result == expected
    assert [type(c) for c in result] == [type(c) for c in expected]


def test_classes_of_mixed_types_cannot_be_written(tmp_path):
    with pytest.raises(ValueError, match="all ints, floats, strings or booleans"):
        classes_to_json(np.array(["a", 1], dtype=object))
    with pytest.raises(ValueError, match="all ints, floats, strings or booleans"):
        save_model(
            tmp_path / "m.safetensors",
            fixed_contents(classes=np.array([1, "b", 2.0], dtype=object)),
        )
    assert not (tmp_path / "m.safetensors").exists()


def test_the_codec_knows_nothing_of_softmax_models():
    """Another format through the same codec: its own name, entry and checks."""
    seen = []
    toy = _codec.FileFormat(
        name="toy-format",
        entry="toy",
        hash_keys={1: "sha256"},
        canonical_since=1,
        check_header=lambda specs, metadata, check_hash: seen.append(sorted(specs)),
        check_values=lambda tensors: None,
    )
    data = _codec.dumps({"w": np.arange(3.0)}, {"note": "hello"}, toy)
    tensors, metadata = _reader.loads(data, toy)
    np.testing.assert_array_equal(tensors["w"], np.arange(3.0))
    assert metadata["note"] == "hello" and metadata["format"] == "toy-format"
    assert seen == [["w"], ["w"]]  # checked when written and when read
    with pytest.raises(ModelFileError, match="not a softmax-classifier model file"):
        model_file.loads(data)
    softmax_bytes = model_file.dumps(*schema.encode_model(fixed_contents()))
    with pytest.raises(ModelFileError, match="not a toy-format model file"):
        _reader.loads(softmax_bytes, toy)


def test_the_format_the_codec_takes_matches_the_public_constants():
    assert schema.SOFTMAX_FORMAT.name == model_file.FORMAT_NAME
    assert schema.SOFTMAX_FORMAT.version == model_file.FORMAT_VERSION
    assert schema.SOFTMAX_FORMAT.read_versions == model_file.READ_FORMAT_VERSIONS
    assert model_file.ModelFileError.__module__ == "softmax_classifier.model_file"
