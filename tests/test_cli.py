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
