"""Tests of the installed ``softmax`` command, run for real in a subprocess."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

TIMEOUT_S = 120
DEMO_BUDGET_S = 60
STOP_REASONS = ("converged", "max_iter", "line_search_failed", "non_finite", "stopped")


def softmax_command():
    found = shutil.which("softmax")
    path = Path(found) if found else Path(sys.executable).parent / "softmax"
    if not path.exists():
        pytest.fail(f"the softmax console script is not installed (looked for {path})")
    return str(path)


def run(*args):
    start = time.perf_counter()
    completed = subprocess.run(
        [softmax_command(), *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    return completed, time.perf_counter() - start


@pytest.fixture(scope="module")
def demo():
    return run("demo")


def test_demo_succeeds_quickly(demo):
    completed, elapsed = demo
    assert completed.returncode == 0, completed.stderr
    assert elapsed < DEMO_BUDGET_S


def test_demo_reports_test_accuracy(demo):
    completed, _ = demo
    match = re.search(r"test accuracy:?\s*([0-9]*\.?[0-9]+)", completed.stdout, re.IGNORECASE)
    assert match, completed.stdout
    accuracy = float(match.group(1))
    assert 0.95 <= accuracy <= 1.0


def test_demo_reports_final_loss_and_stop_reason(demo):
    completed, _ = demo
    loss = re.search(r"final loss:?\s*([0-9]*\.?[0-9]+(?:e[-+]?\d+)?)", completed.stdout, re.I)
    assert loss, completed.stdout
    # The mean cross-entropy on digits starts at log(10) ~ 2.30 and must have dropped.
    assert 0 < float(loss.group(1)) < 1.0
    reason = re.search(r"stop reason:?\s*(\w+)", completed.stdout, re.IGNORECASE)
    assert reason, completed.stdout
    assert reason.group(1) in STOP_REASONS


def test_help_mentions_demo():
    completed, _ = run("--help")
    assert completed.returncode == 0, completed.stderr
    assert "demo" in completed.stdout


def test_no_arguments_is_a_usage_error():
    completed, _ = run()
    assert completed.returncode == 2
    assert "usage" in completed.stderr.lower()


def test_unknown_command_is_a_usage_error():
    completed, _ = run("no-such-command")
    assert completed.returncode == 2
    assert "usage" in completed.stderr.lower()


def test_unknown_solver_is_a_clean_usage_error():
    # A bad option value is the user's mistake: a usage message naming the valid
    # choices and exit status 2 (argparse's convention), not a Python traceback.
    completed, _ = run("demo", "--solver", "nope")
    assert completed.returncode == 2, completed.stderr
    assert "Traceback" not in completed.stderr
    assert "nope" in completed.stderr and "lbfgs" in completed.stderr


# ---------------------------------------------------------------------------
# Every subcommand on small files of every format
# ---------------------------------------------------------------------------

import json  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.csv as pa_csv  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from sklearn.datasets import dump_svmlight_file, load_iris  # noqa: E402

import softmax_classifier  # noqa: E402

SPECIES = np.array(["setosa", "versicolor", "virginica"])
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def iris_table():
    X, y = load_iris(return_X_y=True)
    columns = {name: X[:, j] for j, name in enumerate(FEATURES)}
    columns["species"] = SPECIES[y]
    return pa.table(columns), X, SPECIES[y]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    table, X, y = iris_table()
    pa_csv.write_csv(table, folder / "iris.csv")
    pq.write_table(table, folder / "iris.parquet")
    # LIBSVM: integer labels 1..3, indices from 1.
    dump_svmlight_file(
        X, np.searchsorted(SPECIES, y) + 1, str(folder / "iris.svm"), zero_based=False
    )
    np.savez(folder / "iris.npz", X=X, y=y)
    return folder, X, y


@pytest.fixture(scope="module")
def trained(files):
    folder, _, _ = files
    model = folder / "model.safetensors"
    completed, _ = run(
        "train", str(folder / "iris.csv"), "--target", "species", "-o", str(model), "--quiet"
    )
    assert completed.returncode == 0, completed.stderr
    return model, completed


def test_train_csv_writes_model_run_folder_and_summary(trained):
    model, completed = trained
    run_dir = model.with_name("model_run")
    for name in ("metrics.json", "loss_curve.png", "confusion_matrix.png"):
        path = run_dir / name
        assert path.stat().st_size > 1000 or name == "metrics.json", name
    for name in ("loss_curve.png", "confusion_matrix.png"):
        assert (run_dir / name).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    for key in ("train accuracy", "test accuracy", "train log-loss", "stop reason", "fit time"):
        assert key in completed.stdout
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["test"]["accuracy"] > 0.85
    assert metrics["test"]["n_samples"] == 30  # the default 20% held out of 150
    assert metrics["fit_report"]["stop_reason"] == "converged"
    loaded = softmax_classifier.load(model)
    assert list(loaded.classes_) == list(SPECIES)
    assert list(loaded.feature_names_in_) == FEATURES
    assert loaded.get_params()["standardize"] is True


@pytest.mark.parametrize("fmt", ["parquet", "svm", "npz"])
def test_train_other_formats(files, tmp_path, fmt):
    folder, _, _ = files
    args = ["train", str(folder / f"iris.{fmt}"), "-o", str(tmp_path / "m.safetensors")]
    if fmt == "parquet":
        args += ["--target", "species"]
    completed, _ = run(*args, "--quiet", "--solver", "newton-cg", "--test-size", "0.3")
    assert completed.returncode == 0, completed.stderr
    loaded = softmax_classifier.load(tmp_path / "m.safetensors")
    expected = [1, 2, 3] if fmt == "svm" else list(SPECIES)
    assert list(loaded.classes_) == expected
    metrics = json.loads((tmp_path / "m_run" / "metrics.json").read_text())
    assert metrics["test"]["accuracy"] > 0.85 and metrics["test"]["n_samples"] == 45


def test_train_sparse_libsvm_is_scaled_without_centring(files, tmp_path):
    folder, _, _ = files
    model = str(tmp_path / "m.safetensors")
    completed, _ = run(
        "train",
        str(folder / "iris.svm"),
        "-o",
        model,
        "--quiet",
        "--solver",
        "auto",
        "--standardize",
        "yes",  # the default, auto, leaves sparse data as it is
    )
    assert completed.returncode == 0, completed.stderr
    info, _ = run("inspect", model, "--json")
    info = json.loads(info.stdout)
    assert info["preprocessing"] == {"standardize": True, "center": False}
    # solver="auto" picked Newton-CG for sparse data and says why.
    assert info["fit_report"]["solver"] == "newton-cg"
    assert "sparse" in info["fit_report"]["solver_reason"]


def test_train_with_test_file_image_shape_and_options(files, tmp_path):
    folder, _, _ = files
    completed, _ = run(
        "train",
        str(folder / "iris.csv"),
        "--target",
        "species",
        "--test",
        str(folder / "iris.parquet"),
        "--image-shape",
        "2x2",
        "--solver",
        "sgd",
        "--max-iter",
        "5",
        "--no-standardize",
        "--float32",
        "--run-dir",
        str(tmp_path / "figures"),
        "-o",
        str(tmp_path / "m.safetensors"),
        "--quiet",
    )
    assert completed.returncode == 0, completed.stderr
    assert (tmp_path / "figures" / "weights.png").stat().st_size > 1000
    loaded = softmax_classifier.load(tmp_path / "m.safetensors")
    assert loaded.coef_.dtype == np.float32 and loaded.n_iter_ == 5
    assert loaded.get_params()["standardize"] is False
    # A short sgd run does not converge: a one-line warning, not a Python warning.
    assert "softmax: warning:" in completed.stderr and "Traceback" not in completed.stderr


def test_predict_writes_labels_probabilities_and_top_k(files, trained, tmp_path):
    folder, _, y = files
    model, _ = trained
    out = tmp_path / "pred.csv"
    completed, _ = run(
        "predict", str(model), str(folder / "iris.csv"), "--proba", "--top-k", "2", "-o", str(out)
    )
    assert completed.returncode == 0, completed.stderr
    table = pa_csv.read_csv(out)
    expected = ["prediction", *[f"proba_{c}" for c in SPECIES]]
    expected += ["top1", "top1_proba", "top2", "top2_proba"]
    assert table.column_names == expected
    prediction = np.asarray(table["prediction"].to_pylist())
    assert np.mean(prediction == y) > 0.9
    proba = np.column_stack([table[f"proba_{c}"].to_numpy() for c in SPECIES])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)
    assert table["top1"].to_pylist() == table["prediction"].to_pylist()
    assert np.all(table["top1_proba"].to_numpy() >= table["top2_proba"].to_numpy())
    # The probabilities are the model's own, to the last digit printed.
    loaded = softmax_classifier.load(model)
    X = np.column_stack([pa_csv.read_csv(folder / "iris.csv")[n].to_numpy() for n in FEATURES])
    np.testing.assert_array_equal(proba, loaded.predict_proba(X))


def test_predict_to_stdout_with_columns_in_another_order(files, trained, tmp_path):
    _, _, y = files
    model, _ = trained
    table, _, _ = iris_table()
    shuffled = tmp_path / "shuffled.csv"
    pa_csv.write_csv(table.select(["petal_width", "species", *FEATURES[:3]]), shuffled)
    completed, _ = run("predict", str(model), str(shuffled), "--target", "species")
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    assert lines[0] == "prediction" and len(lines) == 151
    assert np.mean(np.array(lines[1:]) == y) > 0.9


def test_evaluate_json_matches_metrics_json(files, tmp_path):
    folder, _, _ = files
    model = tmp_path / "m.safetensors"
    completed, _ = run(
        "train",
        str(folder / "iris.csv"),
        "--target",
        "species",
        "--test",
        str(folder / "iris.parquet"),
        "-o",
        str(model),
        "--quiet",
    )
    assert completed.returncode == 0, completed.stderr
    figure = tmp_path / "cm.png"
    evaluated, _ = run(
        "evaluate",
        str(model),
        str(folder / "iris.parquet"),
        "--target",
        "species",
        "--json",
        "--figure",
        str(figure),
    )
    assert evaluated.returncode == 0, evaluated.stderr
    recorded = json.loads((tmp_path / "m_run" / "metrics.json").read_text())["test"]
    assert json.loads(evaluated.stdout) == recorded
    assert figure.read_bytes().startswith(b"\x89PNG") and figure.stat().st_size > 1000


def test_evaluate_tables(files, trained, tmp_path):
    folder, _, _ = files
    model, _ = trained
    completed, _ = run(
        "evaluate",
        str(model),
        str(folder / "iris.csv"),
        "--target",
        "species",
        "--figure",
        str(tmp_path / "cm.png"),
    )
    assert completed.returncode == 0, completed.stderr
    for text in ("accuracy", "log-loss", "ECE", "precision", "recall", "f1", "confusion", *SPECIES):
        assert text in completed.stdout, text
    assert (tmp_path / "cm.png").stat().st_size > 1000


def test_inspect(trained):
    model, _ = trained
    completed, _ = run("inspect", str(model))
    assert completed.returncode == 0, completed.stderr
    for text in ("setosa", "petal_width", "standardised", "alpha='auto'", "converged", "0.1.0"):
        assert text in completed.stdout, text
    # alpha="auto" on the 120 training rows (the default 20% held out of 150): 1 / 120.
    assert re.search(r"alpha used\s+0\.00833333", completed.stdout), completed.stdout
    info = json.loads(run("inspect", str(model), "--json", "--top", "2")[0].stdout)
    assert info["alpha_used"] == pytest.approx(1 / 120, rel=1e-15)
    assert info["classes"] == list(SPECIES) and info["n_features"] == 4
    assert info["coef_shape"] == [3, 4] and info["fit_report"]["stop_reason"] == "converged"
    loaded = softmax_classifier.load(model)
    setosa = info["top_features"][0]
    assert setosa["class"] == "setosa" and len(setosa["most_positive"]) == 2
    best = FEATURES[int(np.argmax(loaded.coef_[0]))]
    assert setosa["most_positive"][0][0] == best


@pytest.mark.parametrize("extra", [[], ["--sparse"], ["--n-classes", "2"]])
def test_gradcheck_passes(extra):
    completed, _ = run("gradcheck", *extra)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    error = re.search(r"gradient relative error\s+([0-9.e+-]+)", completed.stdout)
    assert error and float(error.group(1)) < 1e-6
    assert "PASS" in completed.stdout


def test_gradcheck_on_a_data_file(files):
    folder, _, _ = files
    completed, _ = run("gradcheck", "--data", str(folder / "iris.csv"), "--target", "species")
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "iris.csv" in completed.stdout and "PASS" in completed.stdout


def test_gradcheck_fails_loudly_when_the_threshold_cannot_be_met():
    completed, _ = run("gradcheck", "--threshold", "1e-30")
    assert completed.returncode == 1 and "FAIL" in completed.stdout


def test_demo_writes_model_and_figures(tmp_path):
    completed, _ = run("demo", "--output-dir", str(tmp_path / "demo"))
    assert completed.returncode == 0, completed.stderr
    for name in ("metrics.json", "loss_curve.png", "confusion_matrix.png", "weights.png"):
        assert (tmp_path / "demo" / "run" / name).stat().st_size > 0
    assert str(tmp_path / "demo" / "model.safetensors") in completed.stdout.replace("\n", "")
    assert softmax_classifier.load(tmp_path / "demo" / "model.safetensors").n_features_in_ == 64


# ---------------------------------------------------------------------------
# Errors a person can act on: exit 2, one line naming the problem, no traceback
# ---------------------------------------------------------------------------


def assert_clean_error(completed, *patterns):
    assert completed.returncode == 2, (completed.returncode, completed.stderr)
    assert "Traceback" not in completed.stderr
    lines = [line for line in completed.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, completed.stderr
    for pattern in patterns:
        assert re.search(pattern, lines[0]), (pattern, lines[0])


def write_csv(path, text):
    path.write_text(text)
    return str(path)


def test_error_missing_target_column(files, tmp_path):
    folder, _, _ = files
    completed, _ = run(
        "train", str(folder / "iris.csv"), "--target", "label", "-o", str(tmp_path / "m")
    )
    assert_clean_error(completed, r"'label'", r"species")


def test_error_non_numeric_feature_columns(tmp_path):
    data = write_csv(tmp_path / "d.csv", "a,colour,city,y\n1,red,Oslo,0\n2,blue,Rome,1\n")
    completed, _ = run("train", data, "--target", "y", "-o", str(tmp_path / "m"))
    assert_clean_error(completed, r"non-numeric", r"colour", r"city")


@pytest.mark.parametrize("value", ["nan", "inf"])
def test_error_non_finite_value_names_row_and_column(tmp_path, value):
    data = write_csv(tmp_path / "d.csv", f"a,b,y\n1,2,0\n3,4,1\n5,{value},0\n")
    completed, _ = run("train", data, "--target", "y", "-o", str(tmp_path / "m"))
    assert_clean_error(completed, r"'b'", r"row 3")


def test_error_feature_names_mismatch_at_predict(trained, tmp_path):
    model, _ = trained
    data = write_csv(tmp_path / "d.csv", "sepal_length,sepal_width,petal_length\n1,2,3\n")
    completed, _ = run("predict", str(model), data)
    assert_clean_error(completed, r"petal_width")


def test_error_feature_count_mismatch_at_predict(tmp_path, files):
    folder, _, _ = files
    model = tmp_path / "m.safetensors"
    assert run("train", str(folder / "iris.npz"), "-o", str(model), "--quiet")[0].returncode == 0
    np.savez(tmp_path / "three.npz", X=np.ones((2, 3)))
    completed, _ = run("predict", str(model), str(tmp_path / "three.npz"))
    assert_clean_error(completed, r"4 features", r"3")


@pytest.mark.parametrize("command", ["train", "predict-data", "predict-model", "evaluate"])
def test_error_unreadable_file(trained, tmp_path, command):
    model, _ = trained
    missing = str(tmp_path / "missing.csv")
    args = {
        "train": ["train", missing, "--target", "y", "-o", str(tmp_path / "m")],
        "predict-data": ["predict", str(model), missing],
        "predict-model": ["predict", str(tmp_path / "missing.safetensors"), missing],
        "evaluate": ["evaluate", str(model), missing, "--target", "species"],
    }[command]
    completed, _ = run(*args)
    assert_clean_error(completed, r"missing")


def test_error_corrupt_model_file(files, tmp_path):
    folder, _, _ = files
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00" * 5)
    completed, _ = run("predict", str(bad), str(folder / "iris.csv"))
    assert_clean_error(completed, r"bad.safetensors")


def test_debug_shows_the_traceback(files, tmp_path):
    folder, _, _ = files
    completed, _ = run(
        "--debug", "train", str(folder / "iris.csv"), "--target", "label", "-o", str(tmp_path / "m")
    )
    assert completed.returncode != 0 and "Traceback" in completed.stderr


@pytest.mark.parametrize("command", ["train", "predict", "evaluate", "inspect", "gradcheck"])
def test_every_subcommand_documents_its_options(command):
    completed, _ = run(command, "--help")
    assert completed.returncode == 0
    assert "usage:" in completed.stdout and "default" in completed.stdout


# ---------------------------------------------------------------------------
# Ctrl-C during training: stop cleanly, keep the last good model, say so
# ---------------------------------------------------------------------------


def test_ctrl_c_writes_the_last_good_model(files, tmp_path):
    folder, _, _ = files
    model = tmp_path / "m.safetensors"
    process = subprocess.Popen(
        [
            softmax_command(),
            "train",
            str(folder / "iris.csv"),
            "--target",
            "species",
            "--solver",
            "sgd",
            "--batch-size",
            "1",
            "--max-iter",
            "100000",
            "--tol",
            "0",
            "-o",
            str(model),
            "--quiet",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # The first stderr line is printed just before fitting starts.
        assert "training on" in process.stderr.readline()
        time.sleep(1.0)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130, stderr
    assert "interrupted" in stderr and str(model) in stderr.replace("\n", "")
    assert "Traceback" not in stderr
    loaded = softmax_classifier.load(model)
    assert loaded.fit_report_.stop_reason == "stopped"
    assert 1 <= loaded.n_iter_ < 100000
    assert "test accuracy" in stdout
    assert os.path.exists(model.with_name("m_run") / "metrics.json")
