"""The gradient check moved next to the math (softmax_classifier.gradcheck): same numbers.

The expected values were produced by the check as it was in ``cli.py`` before
the move, on the problems below (sparse, so that the products run in SciPy's
own loops rather than a BLAS whose summation order varies by machine).
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
import scipy.sparse as sp

from softmax_classifier import cli
from softmax_classifier.gradcheck import gradient_check

OTHER = (("alpha", 0.0), ("max_entries", 9), ("seed", 3))
# (dtype, keyword arguments) -> what gradient_check returned in cli.py: entries checked,
# gradient relative error and worst ratio, Hessian-vector relative error and worst ratio.
BEFORE_THE_MOVE = {
    ("float64", ()): (
        39, 4.687410977404857e-10, 0.08195247729863582, 1.23624163831534e-10, 0.0033879845058136125
    ),
    ("float64", OTHER): (
        9, 4.833346454146575e-10, 0.06581162544483324, 5.441338711894925e-11, 0.0011359287821452652
    ),
    ("float32", ()): (
        39, 0.0003092610158967692, 0.0812424061818937, 7.849369845785508e-05, 0.003156932998958132
    ),
    ("float32", OTHER): (
        9, 0.0003164962335127686, 0.062116194759969184, 3.9219011785648905e-05, 0.001191016395536564
    ),
}  # fmt: skip
FIELDS = (
    "entries_checked",
    "gradient_relative_error",
    "gradient_worst_ratio",
    "hessian_relative_error",
    "hessian_worst_ratio",
)


def sparse_problem(dtype):
    rng = np.random.default_rng(7)
    X = sp.random(60, 12, density=0.4, format="csr", random_state=7) * 5
    return X.astype(dtype), rng.integers(0, 3, 60)


@pytest.mark.parametrize(("dtype", "options"), list(BEFORE_THE_MOVE))
def test_gradient_check_gives_the_numbers_it_gave_in_the_cli(dtype, options):
    X, y = sparse_problem(np.dtype(dtype))
    result = gradient_check(X, y, **dict(options))
    assert result["passed"] and result["dtype"] == dtype
    assert result["n_classes"] == 3 and result["n_parameters"] == 39
    expected = BEFORE_THE_MOVE[dtype, options]
    assert result["entries_checked"] == expected[0]
    for field, value in zip(FIELDS[1:], expected[1:], strict=True):
        assert result[field] == pytest.approx(value, rel=1e-6), field


def test_the_cli_name_is_a_deprecated_alias():
    with pytest.warns(DeprecationWarning, match="softmax_classifier.gradcheck"):
        alias = cli.gradient_check
    assert alias is gradient_check
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert "gradient_check" in dir(cli)  # listed, without a warning


def test_the_command_reports_the_same_check(capsys):
    # The random problem of `softmax gradcheck --sparse` (its defaults: 50 x 8, 4 classes, seed 0).
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 8))
    X = sp.csr_matrix(X * (rng.random(X.shape) < 0.3))
    y = rng.integers(0, 4, size=50)
    result = gradient_check(X, y, alpha=0.1, seed=0, max_entries=2000)
    assert cli.main(["gradcheck", "--sparse"]) == 0
    stdout = capsys.readouterr().out
    error = re.escape(f"{result['gradient_relative_error']:.3e}")
    assert re.search(rf"gradient relative error\s+{error}\n", stdout), stdout
    assert f"gradient {result['gradient_worst_ratio']:.3g}, " in stdout
    assert "PASS" in stdout
