"""``softmax --help``, ``--version`` and usage errors answer before anything heavy is imported.

Each case runs the command's ``main`` in a fresh interpreter and lists the
modules loaded by then: NumPy, scikit-learn, pandas, pyarrow, rich (and the
rest of the scientific stack) must not be among them.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

HEAVY = ("numpy", "scipy", "sklearn", "pandas", "pyarrow", "rich", "matplotlib", "dask")

SCRIPT = textwrap.dedent(
    """
    import contextlib, io, json, sys
    from softmax_classifier.cli import main
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        status = main(sys.argv[1:])
    print(json.dumps({"status": status, "modules": sorted(sys.modules)}))
    """
)


def modules_after(*args):
    completed = subprocess.run(
        [sys.executable, "-c", SCRIPT, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result = json.loads(completed.stdout)
    return result["status"], {name.split(".")[0] for name in result["modules"]}


@pytest.mark.parametrize(
    ("args", "status"),
    [
        (["--help"], 0),
        (["--version"], 0),
        (["train", "--help"], 0),
        (["gradcheck", "--help"], 0),
        (["train", "--alpha", "-1", "x.csv"], 2),
        (["predict", "m.safetensors"], 2),
        (["no-such-command"], 2),
    ],
)
def test_parsing_imports_nothing_heavy(args, status):
    got, modules = modules_after(*args)
    assert got == status
    assert sorted(modules.intersection(HEAVY)) == []
