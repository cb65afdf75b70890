"""``softmax learn``: watch the softmax classifier learn two-dimensional data.

Over :mod:`softmax_classifier.teach`: the rows are a built-in toy set
(``--toy blobs|moons|xor``) or a CSV file with two numeric feature columns and
the label column named by ``--target`` (as in ``softmax train``); the lesson
(decision regions during gradient descent and SGD, their animation, one example
traced through the formulas, learning rates and penalties) is written into the
folder ``-o``. The folder is checked before anything is read; a CSV that is not
two numeric columns and at least two classes is one line and exit status 2.
The tutorial that uses these figures is ``docs/learn.md``.
"""

from __future__ import annotations

import time
from pathlib import Path

from softmax_classifier.cli._common import STDIO, CommandError, data_path

__all__ = ["LESSON_FILES", "learn"]

#: Files ``teach.write_lesson`` writes at the top of the folder (checked before the run:
#: each must be a regular file or new).
LESSON_FILES = ("learning.gif", "trace.md", "trace.png", "learning_rates.png", "penalties.png")


def learn(args):
    """``softmax learn [DATA] -o FOLDER [--toy NAME] [--target NAME] [--seed N]`` -> 0.

    Parameters
    ----------
    args : argparse.Namespace
        ``data`` or ``toy`` (exactly one: the parser's mutually exclusive
        group), ``target``, ``output``, ``seed``.

    Returns
    -------
    int
        0 once the lesson is written; its files and the time taken are printed.

    Raises
    ------
    CommandError
        ``--target`` missing with DATA or given with ``--toy``, ``-o -``, or a
        folder that cannot be written. ``teach.read_points``'s ``ValueError``
        (a bad CSV) passes through: ``main`` reports it in one line.
    """
    from softmax_classifier.cli._run_folder import check_folder

    if args.output == STDIO:
        raise CommandError("learn writes a folder of figures (-o FOLDER), not standard output")
    if args.data is not None and args.target is None:
        raise CommandError(
            f"no target column given for {args.data}: pass --target NAME, the label column "
            "(as in 'softmax train')"
        )
    if args.toy is not None and args.target is not None:
        raise CommandError(f"--target names a column of DATA; the toy set {args.toy} has none")
    folder = Path(args.output)
    check_folder(folder, LESSON_FILES, "output folder")  # before anything is read
    check_folder(folder / "frames", (), "frames folder")

    import numpy as np

    from softmax_classifier import teach

    start = time.perf_counter()
    if args.toy is not None:
        X, y = teach.toy_data(args.toy, seed=args.seed)
        feature_names, class_names, what = ("x1", "x2"), None, f"toy set {args.toy}"
    else:
        with data_path(args.data, "csv") as (path, _):
            X, labels, feature_names = teach.read_points(path, args.target)
        classes, y = np.unique(np.asarray(labels), return_inverse=True)
        class_names = [str(label) for label in classes]
        what = "standard input" if args.data == STDIO else str(args.data)
    n_classes = len(np.unique(y))
    written = teach.write_lesson(
        X,
        y,
        folder,
        feature_names=tuple(feature_names),
        class_names=class_names,
        seed=args.seed,
    )
    elapsed = time.perf_counter() - start
    paths = list(_paths(written))
    n_files = sum(Path(path).is_file() for _, path in paths)
    print(f"{what}: {X.shape[0]} points, {n_classes} classes; wrote {n_files} files in {folder}")
    for name, path in paths:
        print(f"  {name}: {path}")
    print(f"took {elapsed:.1f} s")
    return 0


def _paths(written):
    """``(name, path)`` pairs of ``write_lesson``'s result; a list value gives one per file."""
    for name, value in written.items():
        if isinstance(value, (list, tuple)):
            for index, path in enumerate(value):
                yield f"{name}[{index}]", path
        else:
            yield name, value
