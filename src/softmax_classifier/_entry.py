"""The ``softmax`` console script: Ctrl-C handling first, then the command.

Importing :mod:`softmax_classifier.cli` (argparse and the parser's modules) takes
a moment on a busy machine; a Ctrl-C in it would print Python's
traceback. This module, which only the console script imports, installs a
handler at import that ends the process the way the command does (one line,
exit status 130) until :func:`softmax_classifier.cli.main` takes over.
"""

# The C module under ``signal``: importing ``signal`` itself loads ``enum``, a
# window in which a Ctrl-C would still print a traceback on a slow machine.
import _signal
import os
import sys

_EXIT_INTERRUPTED = 130


def _interrupted_while_starting(signum, frame):
    os.write(2, b"softmax: interrupted\n")
    os._exit(_EXIT_INTERRUPTED)  # nothing has been written yet: nothing to clean up


_signal.signal(_signal.SIGINT, _interrupted_while_starting)


def main():
    """Run the ``softmax`` command (see :func:`softmax_classifier.cli.main`).

    Returns
    -------
    int
        The command's exit status.
    """
    from softmax_classifier.cli import main as run

    _signal.signal(_signal.SIGINT, _signal.default_int_handler)
    return run(sys.argv[1:])
