"""Checkpoints: a fit killed with SIGKILL and resumed ends exactly where an uninterrupted one does.

The oracle is the uninterrupted fit with the same data, parameters, seed and
thread count: resumed fits must give bit-identical coefficients for every
solver (the mini-batch ones too, as their batches are drawn from the seed and
the epoch number).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn.datasets import load_digits

from softmax_classifier import SoftmaxClassifier
from softmax_classifier.checkpoint import CHECKPOINT_NAME, CheckpointError
from softmax_classifier.data import StreamingData

SOLVERS = ["lbfgs", "newton-cg", "gd", "sgd", "adam"]


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


def params(solver, checkpoint_dir=None):
    return {
        "solver": solver,
        "max_iter": 12,
        "random_state": 0,
        "checkpoint_dir": checkpoint_dir,
        "checkpoint_every": 2,
        "tol": 1e-12,  # only max_iter stops them: the resumed part is not empty
    }


# ---------------------------------------------------------------------------
# SIGKILL, then resume
# ---------------------------------------------------------------------------

KILLED_FIT = textwrap.dedent(
    """
    import os, signal, sys, warnings
    import numpy as np
    from sklearn.datasets import load_digits
    from softmax_classifier import SoftmaxClassifier

    solver, checkpoint_dir, kill_at = sys.argv[1], sys.argv[2], int(sys.argv[3])
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    warnings.simplefilter("ignore")

    def die(info):
        if info.iteration == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    SoftmaxClassifier(
        solver=solver, max_iter=12, random_state=0, checkpoint_dir=checkpoint_dir,
        checkpoint_every=2, tol=1e-12,
    ).fit(X, y, callback=die)
    """
)


@pytest.mark.parametrize("solver", SOLVERS)
def test_sigkill_then_resume_gives_the_uninterrupted_model(digits, tmp_path, solver):
    X, y = digits
    script = tmp_path / "killed.py"
    script.write_text(KILLED_FIT)
    checkpoint_dir = tmp_path / "checkpoints"
    # Killed at iteration 5: the checkpoint of iteration 4 is on disk. (Early:
    # Newton-CG with its Kronecker preconditioner converges in 7 iterations here.)
    killed = subprocess.run(
        [sys.executable, str(script), solver, str(checkpoint_dir), "5"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert (checkpoint_dir / CHECKPOINT_NAME).exists()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # max_iter (or the precision limit) ends both
        resumed = SoftmaxClassifier(**params(solver, checkpoint_dir)).fit(X, y, resume=True)
        uninterrupted = SoftmaxClassifier(**params(solver)).fit(X, y)
    assert resumed.n_iter_ == uninterrupted.n_iter_ > 5
    np.testing.assert_array_equal(resumed.coef_, uninterrupted.coef_)
    np.testing.assert_array_equal(resumed.intercept_, uninterrupted.intercept_)
    assert resumed.fit_report_.objective_history == uninterrupted.fit_report_.objective_history


def test_resume_with_random_state_none_reuses_the_saved_seed(digits, tmp_path):
    X, y = digits
    settings = {**params("sgd", tmp_path), "random_state": None}
    first = SoftmaxClassifier(**settings)
    first.fit(X, y, callback=lambda info: info.iteration >= 4)
    # Without the checkpoint the continuation would draw a new seed.
    with pytest.warns(Warning):
        resumed = SoftmaxClassifier(**settings).fit(X, y, resume=True)
    assert resumed.n_iter_ == 12
    with pytest.warns(Warning):
        again = SoftmaxClassifier(**settings).fit(X, y, resume=True)  # from iteration 12
    np.testing.assert_array_equal(again.coef_, resumed.coef_)


def test_streaming_fit_resumes_exactly(tmp_path):
    X, y = load_digits(return_X_y=True)
    table = pa.table({**{f"p{j}": X[:, j] / 16.0 for j in range(64)}, "digit": y})
    pq.write_table(table, tmp_path / "digits.parquet", row_group_size=200)
    source = StreamingData(tmp_path / "digits.parquet", "digit", block_rows=500)
    settings = params("sgd", tmp_path / "ck")
    SoftmaxClassifier(**settings).fit(source, callback=lambda info: info.iteration >= 5)
    with pytest.warns(Warning):
        resumed = SoftmaxClassifier(**settings).fit(source, resume=True)
    with pytest.warns(Warning):
        uninterrupted = SoftmaxClassifier(**params("sgd")).fit(source)
    np.testing.assert_array_equal(resumed.coef_, uninterrupted.coef_)


# ---------------------------------------------------------------------------
# Errors up front, never a silent no-op
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("solver", ["lbfgs", "newton-cg"])
def test_sparse_fit_resumes_exactly(digits, tmp_path, solver):
    """Sparse data keeps its coefficients feature by feature in the saved vectors."""
    import scipy.sparse as sp

    X, y = digits
    X = sp.csr_matrix(X)
    settings = params(solver, tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        SoftmaxClassifier(**settings).fit(X, y, callback=lambda info: info.iteration >= 4)
        resumed = SoftmaxClassifier(**settings).fit(X, y, resume=True)
        uninterrupted = SoftmaxClassifier(**params(solver)).fit(X, y)
    assert resumed.n_iter_ == uninterrupted.n_iter_ > 4
    np.testing.assert_array_equal(resumed.coef_, uninterrupted.coef_)
    assert resumed.fit_report_.objective_history == uninterrupted.fit_report_.objective_history
    # A dense fit of the same numbers is another fit: its vectors are laid out class by class.
    with pytest.raises(CheckpointError, match="different fit"):
        SoftmaxClassifier(**settings).fit(X.toarray(), y, resume=True)


def test_unwritable_checkpoint_dir_is_an_error_before_fitting(digits, tmp_path):
    X, y = digits
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    calls = []
    with pytest.raises(CheckpointError, match=r"cannot write checkpoints to .*a-file"):
        SoftmaxClassifier(checkpoint_dir=blocker / "sub").fit(X, y, callback=calls.append)
    assert calls == []  # not one iteration ran


def test_checkpoint_of_another_fit_is_refused(digits, tmp_path):
    X, y = digits
    SoftmaxClassifier(**params("lbfgs", tmp_path)).fit(
        X, y, callback=lambda info: info.iteration >= 4
    )
    with pytest.raises(CheckpointError, match=r"different fit.*alpha"):
        SoftmaxClassifier(**params("lbfgs", tmp_path), alpha=0.5).fit(X, y, resume=True)
    with pytest.raises(CheckpointError, match=r"different fit.*solver"):
        SoftmaxClassifier(**params("gd", tmp_path)).fit(X, y, resume=True)


def test_checkpoint_of_other_data_with_the_same_shape_and_classes_is_refused(digits, tmp_path):
    # Regression: --resume accepted a checkpoint made on different data of the
    # same shape and classes (exit 0, coefficients off by 0.76).
    X, y = digits
    SoftmaxClassifier(**params("lbfgs", tmp_path)).fit(
        X, y, callback=lambda info: info.iteration >= 4
    )
    other = np.random.default_rng(0).permutation(X.ravel()).reshape(X.shape)
    with pytest.raises(CheckpointError, match=r"different fit.*data_fingerprint"):
        SoftmaxClassifier(**params("lbfgs", tmp_path)).fit(other, y, resume=True)
    relabelled = np.roll(y, 1)  # same labels, other rows
    with pytest.raises(CheckpointError, match=r"different fit.*data_fingerprint"):
        SoftmaxClassifier(**params("lbfgs", tmp_path)).fit(X, relabelled, resume=True)
    weights = np.ones(len(y))
    weights[0] = 2.0
    with pytest.raises(CheckpointError, match=r"different fit.*data"):
        SoftmaxClassifier(**params("lbfgs", tmp_path)).fit(X, y, weights, resume=True)


def test_damaged_checkpoint_is_a_clear_error_and_temp_files_are_ignored(digits, tmp_path):
    X, y = digits
    SoftmaxClassifier(**params("lbfgs", tmp_path)).fit(
        X, y, callback=lambda info: info.iteration >= 4
    )
    (tmp_path / ".checkpoint-torn.npz").write_bytes(b"half a file")  # a crash mid-write
    with pytest.warns(Warning):
        SoftmaxClassifier(**params("lbfgs", tmp_path)).fit(X, y, resume=True)
    path = tmp_path / CHECKPOINT_NAME
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        SoftmaxClassifier(**params("lbfgs", tmp_path)).fit(X, y, resume=True)


def test_resume_without_a_checkpoint_starts_afresh_and_needs_a_directory(digits, tmp_path):
    X, y = digits
    with pytest.warns(Warning):
        fresh = SoftmaxClassifier(**params("lbfgs", tmp_path)).fit(X, y, resume=True)
    assert fresh.n_iter_ == 12
    with pytest.raises(ValueError, match="resume=True needs checkpoint_dir"):
        SoftmaxClassifier().fit(X, y, resume=True)


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------


def test_cli_checkpoints_and_resumes(digits, tmp_path):
    X, y = digits
    np.savez(tmp_path / "digits.npz", X=X, y=y)
    softmax = str(Path(sys.executable).with_name("softmax"))
    common = [
        softmax,
        "train",
        str(tmp_path / "digits.npz"),
        "--test-size",
        "0",
        "--checkpoint-dir",
        str(tmp_path / "ck"),
        "--checkpoint-every",
        "3",
        "--max-iter",
        "9",
        "--quiet",
    ]
    first = subprocess.run(
        [*common, "-o", str(tmp_path / "a.safetensors")], capture_output=True, text=True
    )
    assert first.returncode == 0, first.stderr
    assert (tmp_path / "ck" / CHECKPOINT_NAME).exists()
    resumed = subprocess.run(
        [*common, "--resume", "-o", str(tmp_path / "b.safetensors")],
        capture_output=True,
        text=True,
    )
    assert resumed.returncode == 0, resumed.stderr
    report = json.loads((tmp_path / "b_run" / "metrics.json").read_text())["fit_report"]
    assert report["n_iter"] == 9  # resumed at iteration 9: nothing left to do

    refused = subprocess.run(
        [softmax, "train", str(tmp_path / "digits.npz"), "--resume", "-o", str(tmp_path / "c")],
        capture_output=True,
        text=True,
    )
    assert refused.returncode == 2
    assert "--resume needs --checkpoint-dir" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert os.listdir(tmp_path / "ck") == [CHECKPOINT_NAME]  # no temporary files left
