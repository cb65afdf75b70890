"""Saving and loading fitted models: exact round trips and a golden file.

The golden model in ``tests/data/golden/`` was written by version 0.1.0 (model
file format 1) with :func:`write_golden` below; later versions must keep loading it
and predicting what it predicted then.
"""

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_iris

import softmax_classifier
from softmax_classifier import SoftmaxClassifier
from softmax_classifier.model_file import ModelFileError

GOLDEN = Path(__file__).parent / "data" / "golden"


def iris_problem(dtype=np.float64, sparse=False):
    X, y = load_iris(return_X_y=True)
    labels = np.array(["setosa", "versicolor", "virginica"])[y]
    X = X.astype(dtype)
    return (sp.csr_matrix(X) if sparse else X), labels


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("standardize", [False, True])
def test_round_trip_predicts_bit_identically(tmp_path, dtype, sparse, standardize):
    X, y = iris_problem(dtype, sparse)
    model = SoftmaxClassifier(standardize=standardize).fit(X, y)
    path = tmp_path / "model.safetensors"
    model.save(path)
    loaded = softmax_classifier.load(path)
    assert loaded.coef_.dtype == dtype
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    np.testing.assert_array_equal(loaded.classes_, model.classes_)
    assert loaded.get_params() == model.get_params()
    assert loaded.fit_report_ == model.fit_report_
    assert loaded.n_features_in_ == model.n_features_in_


@pytest.mark.parametrize(
    "labels",
    [np.array([3, 7, 11]), np.array([1.0, 2.0, 4.0]), np.array(["a", "b", "c"])],
    ids=["int", "float", "str"],
)
def test_round_trip_keeps_label_values_and_types(tmp_path, labels):
    X, y = load_iris(return_X_y=True)
    model = SoftmaxClassifier().fit(X, labels[y])
    model.save(tmp_path / "m.safetensors")
    loaded = softmax_classifier.load(tmp_path / "m.safetensors")
    np.testing.assert_array_equal(loaded.classes_, labels)
    assert loaded.classes_.dtype.kind == labels.dtype.kind
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_feature_names_survive(tmp_path):
    pd = pytest.importorskip("pandas")
    X, y = load_iris(return_X_y=True, as_frame=True)
    model = SoftmaxClassifier().fit(X, y)
    model.save(tmp_path / "m.safetensors")
    loaded = softmax_classifier.load(tmp_path / "m.safetensors")
    assert list(loaded.feature_names_in_) == list(X.columns)
    with pytest.raises(ValueError, match="feature names"):
        loaded.predict(pd.DataFrame(X.to_numpy(), columns=[f"c{i}" for i in range(4)]))


def test_a_diverged_fit_can_still_be_saved(tmp_path):
    # NaN/inf cannot be written as JSON: the report keeps None in their place.
    X, y = iris_problem()
    model = SoftmaxClassifier(solver="gd", learning_rate=1e30, alpha=0.0)
    with pytest.warns(Warning):
        model.fit(X * 1e150, y)
    assert model.fit_report_.stop_reason == "non_finite"
    model.save(tmp_path / "m.safetensors")
    assert softmax_classifier.load(tmp_path / "m.safetensors").fit_report_ is not None


def test_unfitted_model_cannot_be_saved(tmp_path):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        SoftmaxClassifier().save(tmp_path / "m.safetensors")


def test_tampered_metadata_is_refused(tmp_path):
    X, y = iris_problem()
    path = tmp_path / "m.safetensors"
    SoftmaxClassifier().fit(X, y).save(path)
    data = bytearray(path.read_bytes())
    start = data.index(b'\\"n_features\\":') + len(b'\\"n_features\\":')
    data[start] = ord("7")  # 4 -> 7 features: inconsistent with coef
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="n_features"):
        softmax_classifier.load(path)


def test_missing_file_raises_the_documented_error(tmp_path):
    with pytest.raises(ModelFileError, match=r"nope\.safetensors"):
        softmax_classifier.load(tmp_path / "nope.safetensors")


def write_golden(directory=GOLDEN):
    """How the golden files were made (kept for the record; not run by the tests)."""
    X, y = iris_problem()
    model = SoftmaxClassifier(standardize=True).fit(X, y)
    model.save(directory / "iris_v1.safetensors")
    record = {
        "X": X[::10].tolist(),
        "predict": model.predict(X[::10]).tolist(),
        "predict_proba": model.predict_proba(X[::10]).tolist(),
    }
    (directory / "iris_v1_predictions.json").write_text(json.dumps(record, indent=1))


def test_golden_model_loads_and_predicts_as_recorded():
    record = json.loads((GOLDEN / "iris_v1_predictions.json").read_text())
    model = softmax_classifier.load(GOLDEN / "iris_v1.safetensors")
    X = np.array(record["X"])
    assert model.predict(X).tolist() == record["predict"]
    np.testing.assert_allclose(model.predict_proba(X), record["predict_proba"], rtol=1e-12, atol=0)
    assert model.fit_report_.stop_reason == "converged"
    assert model.get_params()["standardize"] is True
