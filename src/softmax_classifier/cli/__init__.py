"""The ``softmax`` command: train, predict, evaluate, calibrate, inspect, export, gradcheck, demo.

Every subcommand reads data files, uses the estimator and its model files, and
reports with ``rich``. Every problem the user can act on (a bad flag, a missing
column, a bad file, a feature mismatch, an output that cannot be written
safely) ends with exit status 2 and one line on stderr, ``softmax: error:
...``; ``--debug`` shows the traceback instead.

The package is laid out by what the user asks for:

- :mod:`._parser`: the arguments (stdlib only: ``--help``, ``--version`` and
  usage errors answer before anything heavy is imported);
- :mod:`.train`: ``train`` and ``demo`` (:mod:`._progress`: the progress
  display and Ctrl-C during the fit; :mod:`._run_folder`: the model and its
  run folder, written together);
- :mod:`.score`: ``predict``, ``evaluate``, ``inspect`` (and its ``--summary``);
- :mod:`.calibrate`: ``calibrate``, over the estimator's temperature scaling;
- :mod:`.export`: ``export``, the model as an ONNX graph (``model.to_onnx``);
- :mod:`.gradcheck`: ``gradcheck``, over :mod:`softmax_classifier.gradcheck`;
- :mod:`.learn`: ``learn``, the lesson of :mod:`softmax_classifier.teach` (``docs/learn.md``);
- :mod:`._common`: exit codes, errors, console, tables, CSV, reading data.

Each command is a function of the parsed arguments (an ``argparse.Namespace``
from :func:`build_parser`) that returns the exit status, or raises
:class:`CommandError` (or another ``ValueError`` or ``OSError``) for a problem
the user can fix, which :func:`main` reports in one line.

Only the standard library is imported with this package: :func:`main`
installs its Ctrl-C handling first, and each subcommand imports NumPy, the
estimator and ``rich`` when it runs, so that an interrupt while starting is one
line too. User strings (labels, column names, paths) are never read as
``rich`` markup.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import warnings
from contextlib import contextmanager

from softmax_classifier.cli._common import (
    EXIT_CLUSTER,
    EXIT_ERROR,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    CommandError,
    UsageError,
    one_line,
)
from softmax_classifier.cli._parser import build_parser

__all__ = [
    "EXIT_CLUSTER",
    "EXIT_ERROR",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "CommandError",
    "build_parser",
    "main",
]


def main(argv=None):
    """Run the ``softmax`` command.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name; defaults to ``sys.argv[1:]``.

    Returns
    -------
    int
        Exit status: 0 success, 1 a failed check (gradcheck) or an internal
        error, 2 a usage or data problem, 3 a Dask cluster that failed during
        the fit (lost scheduler, killed workers; checkpoints are kept), 130
        interrupted.
    """
    with _interrupts_end_quietly():
        try:
            args = build_parser().parse_args(argv)
        except UsageError as error:
            print(f"softmax: error: {one_line(error)}", file=sys.stderr)
            return EXIT_ERROR
        except SystemExit as exit:  # --help, --version
            return exit.code if isinstance(exit.code, int) else 0
    try:
        return args.run(args)
    except KeyboardInterrupt:
        if args.debug:
            raise
        print("softmax: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (e.g. `softmax predict ... | head`): not an error.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (ValueError, OSError) as error:
        # Bad data, bad model files, feature mismatches, unwritable outputs: the
        # user's to fix, said in one line.
        if args.debug:
            raise
        print(f"softmax: error: {one_line(error)}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as error:
        if args.debug:
            raise
        if _is_cluster_failure(error):
            print(f"softmax: error: the Dask cluster failed: {one_line(error)}", file=sys.stderr)
            return EXIT_CLUSTER
        print(
            f"softmax: internal error: {type(error).__name__}: {one_line(error)} "
            "(run with --debug for the traceback, and please report it)",
            file=sys.stderr,
        )
        return EXIT_FAILED


def _is_cluster_failure(error):
    """Whether ``error`` is the estimator's ``DaskFitError`` (a cluster lost during the fit).

    Looked up among the modules already loaded rather than imported: only a
    fit, which loaded the estimator, can raise it, and an error before that
    should not pay for importing scikit-learn.
    """
    estimator = sys.modules.get("softmax_classifier.estimator")
    failure = getattr(estimator, "DaskFitError", None)
    return failure is not None and isinstance(error, failure)


@contextmanager
def _interrupts_end_quietly():
    """While starting (imports, parsing), Ctrl-C ends the process with one line and 130.

    Installed before anything heavy is imported. Nothing has been written at
    that point, so the process may end at once.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def end(signum, frame):
        os.write(2, b"softmax: interrupted\n")
        os._exit(EXIT_INTERRUPTED)

    previous = signal.signal(signal.SIGINT, end)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def __getattr__(name):
    # Deprecated: the check moved next to the math it checks.
    if name == "gradient_check":
        warnings.warn(
            "softmax_classifier.cli.gradient_check moved to "
            "softmax_classifier.gradcheck.gradient_check",
            DeprecationWarning,
            stacklevel=2,
        )
        from softmax_classifier.gradcheck import gradient_check

        return gradient_check
    raise AttributeError(f"module 'softmax_classifier.cli' has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), "gradient_check"})
