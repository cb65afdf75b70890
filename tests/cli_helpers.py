"""Helpers shared by the command-line tests: run ``softmax`` in-process, check one-line errors."""

from __future__ import annotations

import re

from softmax_classifier import cli


def run_main(capsys, *args):
    """``softmax ARGS`` in-process: (exit status, stdout, stderr)."""
    status = cli.main([str(a) for a in args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def assert_one_line_error(status, err, *patterns):
    """Exit status 2 and exactly one line, ``softmax: error: ...``, matching every pattern."""
    assert status == 2, (status, err)
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("softmax: error:"), lines[0]
    assert "Traceback" not in err
    for pattern in patterns:
        assert re.search(pattern, lines[0]), (pattern, lines[0])
