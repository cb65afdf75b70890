"""``softmax learn``: the lesson's files from a toy set or a CSV, and one-line errors for bad input.

The figures themselves (what they show, that the frames are the solvers'
iterates, the trace's numbers) are tested with ``softmax_classifier.teach``;
here the command: which rows it reads, where it writes, what it refuses.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from cli_helpers import assert_one_line_error, run_main
from softmax_classifier import teach
from softmax_classifier.cli import build_parser
from softmax_classifier.cli.learn import LESSON_FILES

#: The files the contract of ``teach.write_lesson`` names at the top of the folder
#: (trace.png is optional there, so not required here).
REQUIRED = ("learning.gif", "trace.md", "learning_rates.png", "penalties.png")

PNG = b"\x89PNG\r\n\x1a\n"


def written_paths(out):
    """The paths ``softmax learn`` printed, one per ``  name: path`` line."""
    lines = [line.strip() for line in out.splitlines() if line.startswith("  ")]
    return [line.split(": ", 1)[1] for line in lines]


def write_csv(path, header, rows):
    path.write_text("\n".join([",".join(header), *(",".join(map(str, r)) for r in rows)]) + "\n")
    return path


def toy_choices():
    learn = build_parser()._subparsers._group_actions[0].choices["learn"]
    (toy,) = [action for action in learn._actions if action.dest == "toy"]
    return tuple(toy.choices)


def test_the_parsers_toy_choices_are_teachs_toy_names():
    # The parser keeps its own literal tuple (it may not import NumPy); they must agree.
    assert toy_choices() == teach.TOY_NAMES


def test_learn_help_imports_nothing_heavy():
    script = textwrap.dedent(
        """
        import contextlib, io, json, sys
        from softmax_classifier.cli import main
        with contextlib.redirect_stdout(io.StringIO()):
            status = main(["learn", "--help"])
        print(json.dumps({"status": status, "modules": sorted(sys.modules)}))
        """
    )
    completed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    result = json.loads(completed.stdout)
    loaded = {name.split(".")[0] for name in result["modules"]}
    assert result["status"] == 0
    assert not loaded & {"numpy", "scipy", "sklearn", "matplotlib", "rich"}
    assert "softmax_classifier.teach" not in result["modules"]


def test_toy_blobs_writes_the_lesson(capsys, tmp_path):
    folder = tmp_path / "lesson" / "blobs"  # two levels made
    status, out, err = run_main(capsys, "learn", "--toy", "blobs", "-o", folder)
    assert status == 0, err
    for name in REQUIRED:
        assert (folder / name).is_file(), name
    assert (folder / "learning.gif").read_bytes()[:4] == b"GIF8"
    for name in ("learning_rates.png", "penalties.png"):
        assert (folder / name).read_bytes()[:8] == PNG, name
    assert (folder / "trace.md").read_text().strip()
    # the gradient-descent / SGD frames: PNGs beyond the named figures
    frames = [p for p in folder.rglob("*.png") if p.name not in LESSON_FILES]
    assert frames, sorted(p.name for p in folder.rglob("*"))
    # every path printed exists, and every file written is printed
    printed = written_paths(out)
    assert all(Path(path).exists() for path in printed), printed
    assert {Path(path).name for path in printed} >= set(REQUIRED), printed
    assert "300 points, 3 classes" in out
    assert "took" in out.splitlines()[-1]


def test_a_csv_of_two_features_and_string_labels(capsys, tmp_path):
    X, y = teach.toy_data("xor", n_samples=60, seed=1)
    names = np.array(["even", "odd"])[y]
    data = write_csv(
        tmp_path / "points.csv",
        ["width", "label", "height"],
        [(repr(float(a)), label, repr(float(b))) for (a, b), label in zip(X, names, strict=True)],
    )
    folder = tmp_path / "out"
    status, out, err = run_main(capsys, "learn", data, "--target", "label", "-o", folder)
    assert status == 0, err
    for name in REQUIRED:
        assert (folder / name).is_file(), name
    assert "60 points, 2 classes" in out
    # the file's feature names (in file order) and labels reach the trace of row 0
    trace = (folder / "trace.md").read_text()
    assert "width" in trace and "height" in trace
    assert str(names[0]) in trace  # the label, not its index


@pytest.mark.parametrize(
    ("header", "rows", "pattern"),
    [
        (["a", "y"], [(1.0, 0), (2.0, 1), (3.0, 1)], r"two feature columns"),
        (["a", "b", "c", "y"], [(1, 2, 3, 0), (2, 3, 4, 1)], r"two feature columns"),
        (["a", "b", "y"], [(1.0, 2.0, 0), ("x", 3.0, 1)], r"row 3 .*number"),
        (["a", "b", "y"], [(1.0, 2.0, 0), ("", 3.0, 1)], r"row 3 .*number"),
        (["a", "b", "y"], [(1.0, 2.0, "cat"), (2.0, 3.0, "cat")], r"single class"),
        (["a", "b", "label"], [(1.0, 2.0, 0), (2.0, 3.0, 1)], r"no column named 'y'"),
    ],
    ids=["one-feature", "three-features", "non-numeric", "empty-value", "one-class", "no-target"],
)
def test_a_bad_csv_is_one_line_and_exit_2(capsys, tmp_path, header, rows, pattern):
    data = write_csv(tmp_path / "bad.csv", header, rows)
    folder = tmp_path / "out"
    status, _, err = run_main(capsys, "learn", data, "--target", "y", "-o", folder)
    assert_one_line_error(status, err, pattern)
    assert not folder.exists()  # nothing written


def test_a_missing_file_is_one_line(capsys, tmp_path):
    status, _, err = run_main(
        capsys, "learn", tmp_path / "none.csv", "--target", "y", "-o", tmp_path / "out"
    )
    assert_one_line_error(status, err, r"none\.csv")


@pytest.mark.parametrize(
    ("args", "pattern"),
    [
        ([], r"one of the arguments DATA --toy is required"),
        (["points.csv", "--toy", "xor", "--target", "y"], r"not allowed with"),
        (["--toy", "spirals"], r"invalid choice"),
        (["points.csv"], r"no target column given .*--target"),
        (["--toy", "xor", "--target", "y"], r"--target"),
        (["--toy", "xor", "--seed", "-1"], r"--seed"),
    ],
    ids=["neither", "both", "unknown-toy", "no-target", "target-with-toy", "negative-seed"],
)
def test_usage_errors_exit_2(capsys, tmp_path, monkeypatch, args, pattern):
    monkeypatch.chdir(tmp_path)
    write_csv(tmp_path / "points.csv", ["a", "b", "y"], [(0, 0, 0), (1, 1, 1)])
    status, _, err = run_main(capsys, "learn", *args, "-o", tmp_path / "out")
    assert_one_line_error(status, err, pattern)
    assert not (tmp_path / "out").exists()


def test_an_output_that_is_a_file_or_stdout_is_refused(capsys, tmp_path):
    taken = tmp_path / "taken"
    taken.write_text("keep me")
    status, _, err = run_main(capsys, "learn", "--toy", "xor", "-o", taken)
    assert_one_line_error(status, err, r"not a folder")
    assert taken.read_text() == "keep me"
    status, _, err = run_main(capsys, "learn", "--toy", "xor", "-o", "-")
    assert_one_line_error(status, err, r"standard output")
    (tmp_path / "lesson").mkdir()
    (tmp_path / "lesson" / "frames").write_text("keep me")
    status, _, err = run_main(capsys, "learn", "--toy", "xor", "-o", tmp_path / "lesson")
    assert_one_line_error(status, err, r"frames folder .* not a folder")
    assert (tmp_path / "lesson" / "frames").read_text() == "keep me"
