"""Issue 13 in the shell: evaluate, predict, calibrate and inspect --summary.

The commands run for real in a subprocess (as the user runs them); usage errors, which
must be answered before any file is read, run in-process through ``cli.main``.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris
from sklearn.metrics import classification_report, top_k_accuracy_score

import softmax_classifier
from cli_helpers import assert_one_line_error, run_main
from softmax_classifier import cli
from softmax_classifier.evaluation import classification_metrics

TIMEOUT_S = 120
SPECIES = np.array(["setosa", "versicolor", "virginica"])
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def softmax(*args, stdin=None):
    """``softmax ARGS`` in a subprocess: the completed process (text)."""
    command = [str(Path(sys.executable).parent / "softmax"), *map(str, args)]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=TIMEOUT_S, check=False, input=stdin
    )


@pytest.fixture(scope="module")
def iris(tmp_path_factory):
    """Iris in three shuffled CSV files (train 30 rows, validation 60, test 60) and a model.

    The model is unpenalised on 30 rows: over-confident, so that calibration has work.
    """
    folder = tmp_path_factory.mktemp("reports")
    X, y = load_iris(return_X_y=True)
    frame = pd.DataFrame(X, columns=FEATURES).assign(species=SPECIES[y])
    frame = frame.sample(frac=1.0, random_state=0).reset_index(drop=True)
    paths = {}
    for name, rows in (("train", slice(0, 30)), ("valid", slice(30, 90)), ("test", slice(90, 150))):
        paths[name] = folder / f"{name}.csv"
        frame.iloc[rows].to_csv(paths[name], index=False)
    model = folder / "model.safetensors"
    options = ["--alpha", "0", "--test-size", "0", "--max-iter", "200", "--quiet"]
    status = cli.main(
        ["train", str(paths["train"]), "--target", "species", *options, "-o", str(model)]
    )
    assert status == 0
    return folder, paths, model


def rows_of(path):
    frame = pd.read_csv(path)
    return frame[FEATURES].to_numpy(), frame["species"].to_numpy()


# ---------------------------------------------------------------------------
# evaluate
# ---------------------------------------------------------------------------


def test_evaluate_reports_per_class_top_k_brier_and_calibration(iris, tmp_path):
    _, paths, model = iris
    plots = tmp_path / "figures"
    completed = softmax("evaluate", model, paths["test"], "--top-k", "2", "--plots", plots)
    assert completed.returncode == 0, completed.stderr
    out = completed.stdout
    for text in ("top-2 accuracy", "Brier score", "(ECE)", "(MCE)", "macro avg", "weighted avg"):
        assert text in out, text
    for name in ("confusion_matrix.png", "reliability.png"):
        data = (plots / name).read_bytes()
        assert data.startswith(PNG_SIGNATURE) and len(data) > 5000, name
        assert f"figure: {plots / name}" in out

    scores = json.loads(softmax("evaluate", model, paths["test"], "--top-k", "2", "--json").stdout)
    loaded = softmax_classifier.load(model)
    X, y = rows_of(paths["test"])
    frame = pd.DataFrame(X, columns=FEATURES)
    proba, predicted = loaded.predict_proba(frame), loaded.predict(frame)
    report = classification_report(y, predicted, output_dict=True, zero_division=0)
    rows = [*scores["per_class"], scores["macro_avg"], scores["weighted_avg"]]
    for row, key in zip(rows, [*SPECIES, "macro avg", "weighted avg"], strict=True):
        assert row["precision"] == pytest.approx(report[key]["precision"], rel=1e-12)
        assert row["recall"] == pytest.approx(report[key]["recall"], rel=1e-12)
        assert row["f1"] == pytest.approx(report[key]["f1-score"], rel=1e-12)
        assert row["support"] == report[key]["support"]
    assert scores["top_k"] == 2
    assert scores["top_k_accuracy"] == pytest.approx(top_k_accuracy_score(y, proba, k=2))
    # The JSON is the library's metrics of the model's own log-probabilities.
    expected = classification_metrics(y, loaded.predict_log_proba(frame), loaded.classes_, top_k=2)
    assert scores.keys() == expected.keys()
    assert scores["brier_score"] == pytest.approx(expected["brier_score"], rel=1e-12)
    assert scores["expected_calibration_error"] == pytest.approx(
        expected["expected_calibration_error"], rel=1e-12
    )
    assert scores["calibration_bins"] == expected["calibration_bins"]


def test_train_run_folder_has_a_reliability_diagram(iris):
    _, _, model = iris
    run_dir = model.with_name("model_run")
    assert (run_dir / "reliability.png").read_bytes().startswith(PNG_SIGNATURE)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["train"]["top_k"] == 3  # the default 5, capped at the classes
    assert {"brier_score", "max_calibration_error", "macro_avg"} <= metrics["train"].keys()


def test_evaluate_plots_folder_is_checked_before_reading(iris, tmp_path, capsys):
    _, paths, model = iris
    blocker = tmp_path / "blocker"
    blocker.write_text("a file")
    status, _, err = run_main(capsys, "evaluate", model, paths["test"], "--plots", blocker)
    assert_one_line_error(status, err, r"--plots folder .*blocker.* not a folder")
    # Before the model or the data is read: a missing model is not what it complains of.
    status, _, err = run_main(capsys, "evaluate", tmp_path / "none", "d.csv", "--plots", blocker)
    assert_one_line_error(status, err, r"blocker")
    link = tmp_path / "plots"
    link.mkdir()
    (link / "reliability.png").symlink_to(blocker)
    status, _, err = run_main(capsys, "evaluate", model, paths["test"], "--plots", link)
    assert_one_line_error(status, err, r"symbolic link")
    assert blocker.read_text() == "a file"


# ---------------------------------------------------------------------------
# predict
# ---------------------------------------------------------------------------


def test_predict_top_k_and_min_proba(iris, tmp_path):
    _, paths, model = iris
    out = tmp_path / "pred.csv"
    completed = softmax(
        "predict", model, paths["test"], "--top-k", "2", "--min-proba", "0.99", "-o", out
    )
    assert completed.returncode == 0, completed.stderr
    table = pd.read_csv(out, keep_default_na=False)
    assert list(table.columns) == ["prediction", "top1", "top1_proba", "top2", "top2_proba"]
    unsure = table["top1_proba"] < 0.99
    assert 0 < unsure.sum() < len(table)  # both kinds of rows, for the test to mean something
    assert (table["prediction"][unsure] == "").all()
    assert (table["prediction"][~unsure] == table["top1"][~unsure]).all()
    assert (table["top1_proba"] >= table["top2_proba"]).all()
    line = completed.stderr.strip().splitlines()[-1]
    assert line == (
        f"wrote 60 predictions to {out} ({unsure.sum()} with no label: top probability "
        "below --min-proba 0.99)"
    )
    # To standard output the CSV stays clean and the count goes to stderr. (An empty field
    # alone on its line is written "", as CSV writes an empty one-column row.)
    completed = softmax("predict", model, paths["test"], "--min-proba", "0.99")
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.splitlines()[0] == "prediction"
    assert sum(line == '""' for line in completed.stdout.splitlines()[1:]) == unsure.sum()
    assert f"{unsure.sum()} with no label" in completed.stderr
    # Without --min-proba nothing is said on stdout's behalf, and every row has its label.
    completed = softmax("predict", model, paths["test"], "--top-k", "9")
    assert completed.stderr == "" and "" not in completed.stdout.splitlines()
    assert completed.stdout.splitlines()[0] == "prediction,top1,top1_proba,top2,top2_proba," + (
        "top3,top3_proba"
    )  # K capped at the 3 classes


# ---------------------------------------------------------------------------
# calibrate
# ---------------------------------------------------------------------------


def test_calibrate_writes_a_calibrated_model(iris, tmp_path):
    _, paths, model = iris
    before = model.read_bytes()
    calibrated = tmp_path / "calibrated.safetensors"
    completed = softmax("calibrate", model, paths["valid"], "-o", calibrated, "--json")
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout)
    assert model.read_bytes() == before  # the input model is left as it was
    # The temperature is the library's, on the same rows.
    expected = softmax_classifier.load(model)
    X, y = rows_of(paths["valid"])
    frame = pd.DataFrame(X, columns=FEATURES)
    expected.calibrate(frame, y)
    loaded = softmax_classifier.load(calibrated)
    assert loaded.temperature_ == pytest.approx(expected.temperature_, rel=1e-12)
    assert report["temperature"] == pytest.approx(expected.temperature_, rel=1e-12)
    assert loaded.temperature_ > 1  # unpenalised on 30 rows: over-confident
    assert report["n_samples"] == 60 and report["model"] == str(calibrated)
    for key in ("expected_calibration_error", "max_calibration_error", "log_loss"):
        assert report[key].keys() == {"before", "after"}
    assert report["log_loss"]["after"] < report["log_loss"]["before"]
    # Labels never change; probabilities are the calibrated ones.
    X_test, _ = rows_of(paths["test"])
    test = pd.DataFrame(X_test, columns=FEATURES)
    original = softmax_classifier.load(model)
    np.testing.assert_array_equal(loaded.predict(test), original.predict(test))
    np.testing.assert_allclose(loaded.predict_proba(test), expected.predict_proba(test), rtol=1e-12)
    # The tables say the same numbers, and inspect shows the temperature.
    completed = softmax("calibrate", model, paths["valid"], "-o", calibrated)
    assert completed.returncode == 0, completed.stderr
    assert re.search(rf"temperature\s+{report['temperature']:.6g}\b", completed.stdout)
    ece = report["expected_calibration_error"]
    assert f"{ece['before']:.4f} -> {ece['after']:.4f}" in completed.stdout
    completed = softmax("inspect", calibrated)
    assert re.search(r"temperature\s+[0-9.]+ \(softmax calibrate\)", completed.stdout)
    assert json.loads(softmax("inspect", calibrated, "--json").stdout)["temperature"] == (
        pytest.approx(report["temperature"], rel=1e-12)
    )


def test_calibrate_in_place_and_from_standard_input(iris, tmp_path, capsys):
    _, paths, model = iris
    copy = tmp_path / "m.safetensors"
    copy.write_bytes(model.read_bytes())
    completed = softmax("calibrate", copy, "-", "-o", copy, stdin=paths["valid"].read_text())
    assert completed.returncode == 0, completed.stderr
    assert softmax_classifier.load(copy).temperature_ > 1


def test_calibrate_refusals_are_one_line(iris, tmp_path, capsys):
    _, paths, model = iris
    # Every validation row right with a margin: no temperature minimises the loss.
    easy = tmp_path / "easy.csv"
    pd.read_csv(paths["valid"]).query("species == 'setosa'").to_csv(easy, index=False)
    before = sorted(tmp_path.iterdir())
    status, _, err = run_main(capsys, "calibrate", model, easy, "-o", tmp_path / "new")
    assert_one_line_error(status, err, r"no temperature")
    assert sorted(tmp_path.iterdir()) == before  # nothing written
    # Outputs that cannot be written are refused before the data is read.
    link = tmp_path / "link.safetensors"
    link.symlink_to(model)
    status, _, err = run_main(capsys, "calibrate", model, "missing.csv", "-o", link)
    assert_one_line_error(status, err, r"symbolic link")
    status, _, err = run_main(capsys, "calibrate", model, paths["valid"], "-o", "-")
    assert_one_line_error(status, err, r"not to standard output")
    # Bad files.
    status, _, err = run_main(capsys, "calibrate", model, tmp_path / "no.csv", "-o", tmp_path / "n")
    assert_one_line_error(status, err, r"no\.csv")
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(model.read_bytes()[:-10])
    status, _, err = run_main(capsys, "calibrate", broken, paths["valid"], "-o", tmp_path / "n")
    assert_one_line_error(status, err, r"broken")
    status, _, err = run_main(
        capsys, "calibrate", model, paths["valid"], "--target", "nope", "-o", tmp_path / "n"
    )
    assert_one_line_error(status, err, r"nope")


# ---------------------------------------------------------------------------
# inspect --summary
# ---------------------------------------------------------------------------


def test_inspect_summary_prints_the_models_table(iris, tmp_path):
    _, paths, _ = iris
    model = tmp_path / "penalised.safetensors"
    options = ["--test-size", "0", "--solver", "newton-cg", "--tol", "1e-10", "--quiet"]
    status = cli.main(
        ["train", str(paths["valid"]), "--target", "species", *options, "-o", str(model)]
    )
    assert status == 0
    completed = softmax("inspect", model, "--summary", paths["valid"])
    assert completed.returncode == 0, completed.stderr
    loaded = softmax_classifier.load(model)
    X, y = rows_of(paths["valid"])
    table = loaded.summary(pd.DataFrame(X, columns=FEATURES), y)
    assert completed.stdout.rstrip("\n") == str(table).rstrip("\n")
    completed = softmax("inspect", model, "--summary", paths["valid"], "--target", "species")
    numbers = json.loads(softmax(*completed.args[1:], "--json").stdout)
    expected = table.to_dict()
    assert numbers["classes"] == expected["classes"] and numbers["terms"] == expected["terms"]
    for key in ("coef", "std_err", "p_value", "ci_low", "ci_high"):
        np.testing.assert_allclose(numbers[key], expected[key], rtol=1e-12, err_msg=key)
    for key in ("llf", "llnull", "llr", "pseudo_r2", "aic", "bic", "nobs"):
        assert numbers[key] == pytest.approx(expected[key], rel=1e-12), key
    # Robust standard errors and another level, as the library computes them.
    options = ["--cov-type", "HC0", "--level", "0.9", "--json"]
    numbers = json.loads(softmax("inspect", model, "--summary", paths["valid"], *options).stdout)
    robust = loaded.summary(pd.DataFrame(X, columns=FEATURES), y, cov_type="HC0", level=0.9)
    assert numbers["cov_type"] == "HC0"
    for key in ("std_err", "ci_low", "ci_high"):
        np.testing.assert_allclose(numbers[key], robust.to_dict()[key], rtol=1e-12, err_msg=key)
    assert not np.allclose(numbers["std_err"], expected["std_err"])


def test_the_commands_covariance_types_are_the_librarys():
    from softmax_classifier.cli._parser import build_parser
    from softmax_classifier.inference import COV_TYPES

    inspect = build_parser()._subparsers._group_actions[0].choices["inspect"]
    (action,) = [a for a in inspect._actions if a.dest == "cov_type"]
    assert set(action.choices) <= set(COV_TYPES)


def test_inspect_reading_options_need_summary(iris, capsys):
    _, _, model = iris
    status, _, err = run_main(capsys, "inspect", model, "--target", "species")
    assert_one_line_error(status, err, r"--target applies only with --summary DATA")
    status, _, err = run_main(capsys, "inspect", model, "--cov-type", "HC0", "--drop", "x")
    assert_one_line_error(status, err, r"--cov-type, --drop apply only with --summary DATA")
    status, _, err = run_main(capsys, "inspect", model, "--summary", "missing.csv")
    assert_one_line_error(status, err, r"missing\.csv")


# ---------------------------------------------------------------------------
# every new option: checked when parsed, documented in --help
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["evaluate", "m", "d.csv", "--top-k", "0"],
        ["evaluate", "m", "d.csv", "--top-k", "two"],
        ["evaluate", "m", "d.csv", "--plots"],
        ["predict", "m", "d.csv", "--min-proba", "1.5"],
        ["predict", "m", "d.csv", "--min-proba", "-0.1"],
        ["predict", "m", "d.csv", "--min-proba", "nan"],
        ["predict", "m", "d.csv", "--top-k", "1.5"],
        ["calibrate", "m", "d.csv"],  # -o is required
        ["calibrate", "m", "-o", "n"],  # DATA is required
        ["calibrate", "m", "d.csv", "-o", "n", "--bogus"],
        ["inspect", "m", "--summary"],
        ["inspect", "m", "--summary", "d.csv", "--level", "1"],
        ["inspect", "m", "--summary", "d.csv", "--level", "0"],
        ["inspect", "m", "--summary", "d.csv", "--cov-type", "HC3"],
    ],
)
def test_new_options_are_checked_before_any_file_is_read(capsys, args):
    # "m" and "d.csv" do not exist: the answer comes from the parser.
    status, _, err = run_main(capsys, *args)
    assert_one_line_error(status, err, r"softmax( \w+)? --help")


@pytest.mark.parametrize(
    ("command", "options"),
    [
        ("evaluate", ["--top-k", "--plots", "reliability.png", "ECE"]),
        ("predict", ["--top-k", "--min-proba", "top1_proba"]),
        ("calibrate", ["--target", "--output", "--json", "--format", "NEW_MODEL"]),
        ("inspect", ["--summary", "--target", "--cov-type", "HC0", "--level", "p-value"]),
    ],
)
def test_help_documents_the_new_options(command, options, capsys):
    status, stdout, _ = run_main(capsys, command, "--help")
    assert status == 0
    text = " ".join(stdout.split())
    for option in options:
        assert option in text, option
    status, stdout, _ = run_main(capsys, "--help")
    assert "calibrate" in stdout
