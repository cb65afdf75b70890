"""Issue 14 in the shell: ``softmax train --penalty/--l1-ratio`` and sparsity in ``inspect``.

Every command runs in-process through ``cli.main`` (:func:`cli_helpers.run_main`) on a
small CSV file: 150 rows, 12 features of which 3 carry the labels. The sparsity numbers
that ``train`` and ``inspect`` print are compared with counts made here with NumPy on the
``coef_`` of the model loaded from the file.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

import softmax_classifier
from cli_helpers import assert_one_line_error, run_main
from softmax_classifier._parameters import PENALTY_NAMES
from softmax_classifier.cli._sparsity import model_sparsity

N_FEATURES = 12
N_CLASSES = 3
LABELS = np.array(["ant", "bee", "cat"])
# Strong enough that the L1 and group fits drop most of the 9 noise features on these
# 150 rows (alpha = 1 / n would keep nearly all of them), weak enough to keep the 3
# informative ones: the tests below check 0 < features used < 12 with room both sides.
ALPHA = "0.05"


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A CSV of 150 rows: features f0..f11, label column ``label`` from f0, f1, f2 alone."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(150, N_FEATURES))
    logits = 3.0 * X[:, :N_CLASSES] + rng.normal(scale=0.3, size=(150, N_CLASSES))
    frame = pd.DataFrame(X, columns=[f"f{j}" for j in range(N_FEATURES)])
    frame["label"] = LABELS[np.argmax(logits, axis=1)]
    path = tmp_path_factory.mktemp("penalties") / "data.csv"
    frame.to_csv(path, index=False)
    return path


def train(capsys, data, output, *options):
    """``softmax train DATA`` with ``options``: (stdout, the loaded model)."""
    status, out, err = run_main(
        capsys,
        "train",
        data,
        "--target",
        "label",
        "--test-size",
        "0",
        "--alpha",
        ALPHA,
        "--quiet",
        "-o",
        output,
        *options,
    )
    assert status == 0, err
    return out, softmax_classifier.load(output)


def counted(model):
    """Non-zero weights and features used, counted from ``coef_`` here: the oracle."""
    coef = np.asarray(model.coef_)
    return int(np.sum(coef != 0)), int(np.sum(np.any(coef != 0, axis=0)))


def shown(text, key):
    """``(count, total)`` of the row ``key  COUNT of TOTAL ...`` of a summary table."""
    match = re.search(rf"^{key}\s+(\d+) of (\d+)", text, re.MULTILINE)
    assert match, text
    return int(match.group(1)), int(match.group(2))


def inspected(capsys, path):
    """``softmax inspect MODEL`` as text and as ``--json``."""
    status, text, err = run_main(capsys, "inspect", path, "--top", "0")
    assert status == 0, err
    status, out, err = run_main(capsys, "inspect", path, "--top", "0", "--json")
    assert status == 0, err
    return text, json.loads(out)


def check_sparsity_reports(capsys, path, summary, model, penalty, l1_ratio=None):
    """Train's summary, ``metrics.json`` and ``inspect`` (text, JSON) all give the counts."""
    nonzero_coef, used = counted(model)
    n_coef = N_CLASSES * N_FEATURES
    assert model.coef_.shape == (N_CLASSES, N_FEATURES)
    # The summary's counts come from the fit report.
    assert shown(summary, "nonzero weights") == (nonzero_coef, n_coef)
    assert shown(summary, "features used") == (used, N_FEATURES)
    text, info = inspected(capsys, path)
    assert shown(text, "nonzero weights") == (nonzero_coef, n_coef)
    assert shown(text, "features used") == (used, N_FEATURES)
    expected_penalty = penalty if l1_ratio is None else f"{penalty} (l1_ratio={l1_ratio:g})"
    assert re.search(rf"^penalty\s+{re.escape(expected_penalty)}$", text, re.MULTILINE), text
    expected = {
        "penalty": penalty,
        "l1_ratio": l1_ratio,
        "n_coef": n_coef,
        "n_nonzero_coef": nonzero_coef,
        # Each percentage is one division of two small integers and a product by 100:
        # 1e-12 relative is far above the rounding of either way of writing it.
        "nonzero_coef_percent": pytest.approx(100 * nonzero_coef / n_coef, rel=1e-12),
        "n_features": N_FEATURES,
        "n_nonzero_features": used,
        "nonzero_features_percent": pytest.approx(100 * used / N_FEATURES, rel=1e-12),
    }
    assert info["sparsity"] == expected
    metrics = json.loads((path.with_name(path.stem + "_run") / "metrics.json").read_text())
    assert metrics["sparsity"] == expected
    assert metrics["fit_report"]["penalty"] == penalty
    return nonzero_coef, used


def test_l1_model_is_sparse_and_inspect_counts_its_zeros(capsys, data, tmp_path):
    path = tmp_path / "l1.safetensors"
    summary, model = train(capsys, data, path, "--penalty", "l1")
    assert model.get_params()["penalty"] == "l1"
    assert model.fit_report_.solver == "prox-newton"  # what --solver auto picks for l1
    nonzero_coef, used = check_sparsity_reports(capsys, path, summary, model, "l1")
    # A real sparse model: the informative features kept, some noise ones dropped.
    assert np.all(np.any(model.coef_[:, :N_CLASSES] != 0, axis=0))
    assert N_CLASSES <= used < N_FEATURES
    assert nonzero_coef < N_CLASSES * N_FEATURES


def test_elasticnet_with_l1_ratio(capsys, data, tmp_path):
    path = tmp_path / "en.safetensors"
    summary, model = train(
        capsys,
        data,
        path,
        "--penalty",
        "elasticnet",
        "--l1-ratio",
        "0.5",
        "--solver",
        "prox-newton",
    )
    params = model.get_params()
    assert (params["penalty"], params["l1_ratio"]) == ("elasticnet", 0.5)
    check_sparsity_reports(capsys, path, summary, model, "elasticnet", 0.5)


def test_group_penalty_drops_whole_features(capsys, data, tmp_path):
    path = tmp_path / "group.safetensors"
    summary, model = train(capsys, data, path, "--penalty", "group")
    nonzero_coef, used = check_sparsity_reports(capsys, path, summary, model, "group")
    assert N_CLASSES <= used < N_FEATURES
    # The group lasso keeps or drops a feature's weights for every class together (an
    # exact zero inside a kept column has probability zero), unlike L1.
    assert nonzero_coef == N_CLASSES * used


def test_l2_summary_names_the_penalty_and_inspect_still_counts(capsys, data, tmp_path):
    path = tmp_path / "l2.safetensors"
    summary, model = train(capsys, data, path)
    assert re.search(r"^penalty\s+l2$", summary, re.MULTILINE), summary
    assert "features used" not in summary  # the counts are for the sparse penalties
    nonzero_coef, used = counted(model)
    text, info = inspected(capsys, path)
    assert shown(text, "features used") == (used, N_FEATURES)
    assert info["sparsity"]["penalty"] == "l2"
    assert info["sparsity"]["n_nonzero_coef"] == nonzero_coef


def test_sparsity_of_a_model_file_without_a_penalty_is_l2():
    # Model files written before the penalties existed have no "penalty" hyperparameter.
    coef = np.array([[0.0, 1.0, 0.0], [0.0, -2.0, 3.0]])
    info = model_sparsity(coef, {"alpha": 0.1})
    assert (info["penalty"], info["l1_ratio"]) == ("l2", None)
    assert (info["n_nonzero_coef"], info["n_coef"]) == (3, 6)
    assert (info["n_nonzero_features"], info["n_features"]) == (2, 3)


def test_train_help_offers_every_penalty_and_prox_newton(capsys):
    status, out, _ = run_main(capsys, "train", "--help")
    assert status == 0
    text = " ".join(out.split())
    assert "{" + ",".join(PENALTY_NAMES) + "}" in text
    assert "prox-newton" in re.search(r"--solver \{([^}]*)\}", text).group(1).split(",")
    assert "--l1-ratio R" in text


@pytest.mark.parametrize(
    ("options", "patterns"),
    [
        (["--l1-ratio", "1.5"], [r"--l1-ratio", r"\[0, 1\]", r"1\.5"]),
        (["--l1-ratio", "-0.1"], [r"--l1-ratio", r"\[0, 1\]"]),
        (["--l1-ratio", "nan"], [r"--l1-ratio", r"finite"]),
        (["--penalty", "lasso"], [r"--penalty", r"invalid choice", r"elasticnet"]),
        (["--penalty", "elasticnet"], [r"elasticnet", r"needs l1_ratio"]),
        (["--l1-ratio", "0.5"], [r"l1_ratio", r"only with penalty='elasticnet'"]),
        (["--penalty", "l1", "--l1-ratio", "0.5"], [r"l1_ratio", r"penalty='l1'"]),
        (["--penalty", "l1", "--solver", "lbfgs"], [r"penalty='l1'", r"solver='lbfgs'"]),
        (["--penalty", "group", "--solver", "sgd"], [r"penalty='group'", r"solver='sgd'"]),
    ],
)
def test_bad_penalty_options_are_one_line_errors_before_reading(
    capsys, tmp_path, options, patterns
):
    # DATA does not exist: an error naming it would mean the file was read first.
    missing = tmp_path / "missing.csv"
    model = tmp_path / "m.safetensors"
    status, _, err = run_main(capsys, "train", missing, "--target", "label", "-o", model, *options)
    assert_one_line_error(status, err, *patterns)
    assert "missing.csv" not in err
    assert not model.exists()
