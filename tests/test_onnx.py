"""ONNX export (issue 14, part 1): the graph run by onnxruntime against the estimator.

onnx and onnxruntime are test dependencies (the ``test`` extra), imported directly.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pandas as pd
import pytest
from sklearn.datasets import make_classification
from sklearn.exceptions import NotFittedError

import softmax_classifier
from cli_helpers import assert_one_line_error
from softmax_classifier import SoftmaxClassifier, cli
from softmax_classifier._atomic import OutputPathError
from softmax_classifier.estimator import load
from softmax_classifier.onnx_export import ONNX_MISSING, to_onnx

N_TEST = 10_000
TIMEOUT_S = 120
NAMES = np.array(["ant", "bee", "cicada", "dragonfly"])
FEATURES = ["w", "x", "y", "z"]


def frame(X):
    """Rows with the small model's feature names."""
    return pd.DataFrame(X, columns=FEATURES)


def session(path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def run_onnx(path, X):
    """``(label, probabilities)`` of the ONNX file on float32 rows."""
    label, probabilities = session(path).run(["label", "probabilities"], {"X": X})
    return label, probabilities


@pytest.fixture(scope="module")
def rows():
    """4 classes, 12 features in very different units and offsets (standardisation matters)."""
    X, y = make_classification(
        n_samples=3000 + N_TEST,
        n_features=12,
        n_informative=8,
        n_classes=4,
        n_clusters_per_class=1,
        random_state=0,
    )
    X = X * np.geomspace(0.1, 50.0, 12) + np.linspace(-80.0, 80.0, 12)
    return X, y


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # raw columns
@pytest.mark.parametrize("standardize", [True, False], ids=["standardised", "raw"])
@pytest.mark.parametrize("labels", ["int", "str"])
@pytest.mark.parametrize("temperature", [False, True], ids=["T=1", "calibrated"])
def test_onnxruntime_agrees_with_the_estimator(rows, tmp_path, standardize, labels, temperature):
    X, y = rows
    y = NAMES[y] if labels == "str" else y * 10 - 7  # integers that are not 0..c-1
    model = SoftmaxClassifier(standardize=standardize, alpha=1e-4, max_iter=500)
    model.fit(X[:2000], y[:2000])
    if temperature:
        model.calibrate(X[2000:3000], y[2000:3000])
        assert model.temperature_ != 1.0
    path = model.to_onnx(tmp_path / "model.onnx")
    X32 = X[3000:].astype(np.float32)
    assert len(X32) >= N_TEST
    label, probabilities = run_onnx(path, X32)

    assert probabilities.dtype == np.float32 and probabilities.shape == (N_TEST, 4)
    # The model's probabilities of these float32 rows, computed in the model's float64 (as
    # the graph does). predict_proba(X32) itself computes in float32: on these columns
    # (offsets up to 80, scales down to 0.1) it is off by several 1e-6 from both.
    expected = model.predict_proba(X32.astype(np.float64))
    np.testing.assert_allclose(probabilities, expected, rtol=0, atol=1e-6)
    assert label.dtype == (np.int64 if labels == "int" else object)
    assert label.tolist() == model.predict(X32).tolist()
    assert label.tolist() == model.predict(X32.astype(np.float64)).tolist()


@pytest.mark.parametrize(
    ("y", "dtype"),
    [
        (np.array([False, True]), np.bool_),
        (np.array([1.0, 2.0, 4.0]), np.float64),
        (np.array(["a", "b", "c"], dtype=object), object),
    ],
    ids=["bool", "float", "object-strings"],
)
def test_other_label_types(tmp_path, y, dtype):
    X, index = make_classification(
        n_samples=300, n_features=5, n_informative=3, n_classes=len(y), random_state=1
    )
    model = SoftmaxClassifier().fit(X, y[index])
    path = to_onnx(model, tmp_path / "model.onnx")
    label, probabilities = run_onnx(path, X.astype(np.float32))
    assert label.dtype == dtype
    assert label.tolist() == model.predict(X.astype(np.float32)).tolist()
    expected = model.predict_proba(X.astype(np.float32).astype(np.float64))
    np.testing.assert_allclose(probabilities, expected, rtol=0, atol=1e-6)


def test_mixed_object_labels_are_refused(tmp_path):
    model = SoftmaxClassifier().fit(np.eye(3), [1, 2, 3])
    model.classes_ = np.array([1, "b", 3.0], dtype=object)
    with pytest.raises(ValueError, match="integer, string, boolean or float labels"):
        to_onnx(model, tmp_path / "model.onnx")
    assert not (tmp_path / "model.onnx").exists()


@pytest.fixture(scope="module")
def small_model():
    X, y = make_classification(
        n_samples=200, n_features=4, n_informative=3, n_redundant=0, n_classes=3, random_state=2
    )
    rows = frame(X)
    return SoftmaxClassifier(standardize=True).fit(rows, NAMES[y]).calibrate(rows, NAMES[y])


def test_graph_checker_opset_ir_and_metadata(small_model, tmp_path):
    path = small_model.to_onnx(tmp_path / "model.onnx")
    proto = onnx.load(path)
    onnx.checker.check_model(proto, full_check=True)
    assert [(o.domain, o.version) for o in proto.opset_import] == [("", 18)]
    assert proto.ir_version == 8
    assert proto.producer_name == "softmax-classifier"
    assert proto.producer_version == softmax_classifier.__version__
    assert f"softmax-classifier {softmax_classifier.__version__}" in proto.doc_string
    ops = [node.op_type for node in proto.graph.node]
    assert ops == ["Cast", "Sub", "Div", "Gemm", "Div", "Softmax", "Cast", "ArgMax", "Gather"]
    assert "ZipMap" not in ops
    assert [i.name for i in proto.graph.input] == ["X"]
    assert [o.name for o in proto.graph.output] == ["label", "probabilities"]
    props = {p.key: p.value for p in proto.metadata_props}
    assert json.loads(props["classes"]) == small_model.classes_.tolist()
    assert json.loads(props["feature_names"]) == FEATURES
    assert json.loads(props["temperature"]) == pytest.approx(small_model.temperature_)
    assert props["library"] == f"softmax-classifier {softmax_classifier.__version__}"


def test_an_unstandardised_uncalibrated_graph_is_gemm_softmax_argmax(tmp_path):
    model = SoftmaxClassifier().fit(np.eye(3), [0, 1, 2])
    proto = onnx.load(to_onnx(model, tmp_path / "m.onnx"))
    ops = [n.op_type for n in proto.graph.node]
    assert ops == ["Cast", "Gemm", "Softmax", "Cast", "ArgMax", "Gather"]


@pytest.mark.parametrize(("opset", "ir_version"), [(13, 7), (17, 8), (18, 8), (21, 10)])
def test_opset_sets_the_smallest_ir_version(small_model, tmp_path, opset, ir_version):
    path = small_model.to_onnx(tmp_path / "model.onnx", opset=opset)
    proto = onnx.load(path)
    assert proto.opset_import[0].version == opset and proto.ir_version == ir_version
    X = np.zeros((2, 4), dtype=np.float32)
    np.testing.assert_allclose(run_onnx(path, X)[1], small_model.predict_proba(frame(X)), atol=1e-6)


@pytest.mark.parametrize("opset", [12, 10_000, 18.0, True])
def test_bad_opset(small_model, tmp_path, opset):
    with pytest.raises(ValueError, match="opset must be"):
        small_model.to_onnx(tmp_path / "model.onnx", opset=opset)
    assert not (tmp_path / "model.onnx").exists()


def test_missing_extra_is_a_clear_import_error(small_model, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ImportError, match=re.escape(ONNX_MISSING)):
        small_model.to_onnx(tmp_path / "model.onnx")
    assert not list(tmp_path.iterdir())


def test_a_path_that_cannot_be_written(small_model, tmp_path):
    with pytest.raises(OutputPathError, match="does not exist"):
        small_model.to_onnx(tmp_path / "missing" / "model.onnx")
    (tmp_path / "folder").mkdir()
    with pytest.raises(OutputPathError, match="not a regular file"):
        small_model.to_onnx(tmp_path / "folder")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder"]
    assert not list((tmp_path / "folder").iterdir())


def test_an_existing_file_is_replaced(small_model, tmp_path):
    target = tmp_path / "model.onnx"
    target.write_bytes(b"old")
    small_model.to_onnx(target)
    onnx.checker.check_model(onnx.load(target))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]  # no temporaries


def test_unfitted_model():
    with pytest.raises(NotFittedError):
        SoftmaxClassifier().to_onnx("never.onnx")


# --- the command ---------------------------------------------------------------


def softmax(*args):
    """``softmax ARGS`` in a subprocess: the completed process (text)."""
    command = [str(Path(sys.executable).parent / "softmax"), *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)


@pytest.fixture(scope="module")
def model_file(small_model, tmp_path_factory):
    path = tmp_path_factory.mktemp("export") / "model.safetensors"
    small_model.save(path)
    return path


def test_softmax_export(model_file, tmp_path):
    output = tmp_path / "model.onnx"
    done = softmax("export", model_file, "-o", output, "--opset", "17")
    assert done.returncode == 0, done.stderr
    assert str(output) in done.stdout
    proto = onnx.load(output)
    assert proto.opset_import[0].version == 17
    model = load(model_file)
    X = np.random.default_rng(0).normal(size=(500, 4)).astype(np.float32)
    label, probabilities = run_onnx(output, X)
    assert label.tolist() == model.predict(frame(X)).tolist()
    expected = model.predict_proba(frame(X.astype(np.float64)))
    np.testing.assert_allclose(probabilities, expected, rtol=0, atol=1e-6)


def test_softmax_export_help():
    done = softmax("export", "--help")
    assert done.returncode == 0
    for option in ("-o ONNX, --output ONNX", "--opset N", "model file"):
        assert option in done.stdout


@pytest.mark.parametrize(
    ("args", "pattern"),
    [
        (["MISSING", "-o", "OUT"], r"MISSING|No such file|not found|does not exist"),
        (["MODEL", "-o", "NODIR/model.onnx"], r"does not exist"),
        (["MODEL", "-o", "TMP"], r"not a regular file"),
        (["MODEL", "-o", "-"], r"not to standard output"),
        (["MODEL", "-o", "OUT", "--opset", "10000"], r"opset must be between"),
    ],
    ids=["missing-model", "no-directory", "a-directory", "stdout", "opset-too-new"],
)
def test_softmax_export_bad_input(model_file, tmp_path, args, pattern):
    names = {
        "MODEL": model_file,
        "MISSING": tmp_path / "missing.safetensors",
        "OUT": tmp_path / "model.onnx",
        "NODIR/model.onnx": tmp_path / "nodir" / "model.onnx",
        "TMP": tmp_path,
    }
    done = softmax("export", *(names.get(a, a) for a in args))
    assert_one_line_error(done.returncode, done.stderr, pattern)
    assert not (tmp_path / "model.onnx").exists()


def test_softmax_export_usage_errors(capsys):
    assert cli.main(["export", "m.safetensors", "-o", "x.onnx", "--opset", "12"]) == 2
    assert_one_line_error(2, capsys.readouterr().err, r"--opset", r"at least 13")
    assert cli.main(["export", "m.safetensors"]) == 2
    assert_one_line_error(2, capsys.readouterr().err, r"-o")


def test_softmax_export_without_the_extra(model_file, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "onnx", None)
    status = cli.main(["export", str(model_file), "-o", str(tmp_path / "model.onnx")])
    assert_one_line_error(status, capsys.readouterr().err, re.escape(ONNX_MISSING))
    assert not list(tmp_path.iterdir())
