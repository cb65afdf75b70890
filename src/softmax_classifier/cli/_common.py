"""What every subcommand shares: exit codes, errors, the console, tables, CSV, reading data.

Only light standard modules are imported with this module (it is loaded to parse
the command line); NumPy, ``rich``, the package's readers, and even ``csv`` and
``tempfile`` are imported by the functions that need them.
"""

from __future__ import annotations

import os
import sys
import warnings
from contextlib import contextmanager

__all__ = [
    "EXIT_CLUSTER",
    "EXIT_ERROR",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "STDIO",
    "CommandError",
    "UsageError",
    "align",
    "call",
    "console",
    "data_name",
    "data_path",
    "feature_names",
    "key_value_table",
    "metrics",
    "one_line",
    "print_table",
    "read_for_model",
    "reading_options",
    "shorten",
    "split_names",
    "unit",
    "write_csv",
]

#: A failed check (``gradcheck``) or an internal error.
EXIT_FAILED = 1
#: A usage or data problem the user can fix.
EXIT_ERROR = 2
#: A Dask cluster that failed during the fit.
EXIT_CLUSTER = 3
#: Ctrl-C.
EXIT_INTERRUPTED = 130
#: Spelling of standard input and output for DATA and ``-o``.
STDIO = "-"


class CommandError(ValueError):
    """A problem with the command's input that the user can fix; exit status 2."""


class UsageError(Exception):
    """A bad command line, reported by ``main`` in one line with exit status 2."""


# -- messages and tables ------------------------------------------------------------------


def one_line(error):
    """The text of ``error`` (its type's name when empty) on one line."""
    text = str(error) or type(error).__name__
    return " ".join(text.split())


def shorten(values, limit=12):
    """``values`` as one comma-separated string, the first ``limit`` of them."""
    values = [str(v) for v in values]
    more = f", ... ({len(values)} in all)" if len(values) > limit else ""
    return ", ".join(values[:limit]) + more


def unit(solver):
    """What one step of ``solver`` is called: ``"epoch"`` (sgd, adam) or ``"iteration"``."""
    return "epoch" if solver in ("sgd", "adam") else "iteration"


def console(stderr=False):
    """A rich console that never reads markup (labels and paths are shown as they are).

    When not a terminal it is wide enough never to cut a path or number, and
    :func:`print_table` strips the padding of table rows.
    """
    from rich.console import Console

    shown = Console(stderr=stderr, markup=False, highlight=False)
    if shown.is_terminal:
        return shown
    return Console(stderr=stderr, markup=False, highlight=False, width=10_000)


def print_table(out, renderable):
    """Print a table; off a terminal without the spaces that pad rows to the table's width."""
    if out.is_terminal:
        out.print(renderable)
        return
    with out.capture() as capture:
        out.print(renderable)
    text = "\n".join(line.rstrip() for line in capture.get().splitlines())
    out.file.write(text + "\n")


def key_value_table():
    """A borderless two-column table: a bold key, then its value."""
    from rich.table import Table

    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    return table


def write_csv(stream, header, rows):
    """CSV with LF line ends (``csv``'s default is CRLF), as shell tools expect."""
    import csv

    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_csv_value(v) for v in row])


def _csv_value(value):
    import numpy as np

    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    return value.item() if isinstance(value, np.generic) else value


# -- reading data -------------------------------------------------------------------------


def split_names(text):
    """``"a, b,c"`` -> ``["a", "b", "c"]``; None stays None."""
    return None if text is None else [name.strip() for name in text.split(",") if name.strip()]


def reading_options(args, *, stream=False):
    """Keyword arguments of the file readers for the flags the user gave.

    Only flags given are passed, so readers without an option keep working
    with commands that do not use it.
    """
    options = {}
    if getattr(args, "no_header", False):
        options["header"] = False
    if getattr(args, "drop", None):
        options["drop"] = tuple(args.drop)
    if getattr(args, "zero_based", None) is not None:
        options["zero_based"] = {"yes": True, "no": False}.get(args.zero_based, "auto")
    if stream and getattr(args, "block_memory", None) is not None:
        options["block_bytes"] = args.block_memory
    return options


@contextmanager
def data_path(data, format):
    """``(path, format)`` of DATA; ``-`` is standard input, copied to a temporary file.

    Standard input is CSV unless ``--format`` says otherwise. Errors that name
    the temporary file name standard input instead.
    """
    if data != STDIO:
        yield data, format
        return
    import shutil
    import tempfile

    format = format or "csv"
    suffix = {"csv": ".csv", "parquet": ".parquet", "libsvm": ".svm", "npz": ".npz"}[format]
    with tempfile.TemporaryDirectory(prefix="softmax-stdin-") as folder:
        path = os.path.join(folder, "stdin" + suffix)
        with open(path, "wb") as copy:
            shutil.copyfileobj(sys.stdin.buffer, copy)
        try:
            yield path, format
        except ValueError as error:
            text = str(error).replace(path, "standard input")
            raise CommandError(text) from error


def data_name(data, path):
    """How messages name DATA: its path, or "standard input" for ``-``."""
    return "standard input" if data == STDIO else path


def feature_names(model):
    """The model's feature names as strings, or None when it was fitted without names."""
    names = getattr(model, "feature_names_in_", None)
    return None if names is None else [str(n) for n in names]


def read_for_model(model, path, *, target, format, require_target=False, args=None):
    """Read data to score with ``model``: its feature columns, padded LIBSVM width."""
    from softmax_classifier.io import detect_format, read_data

    names = feature_names(model)
    kind = format or detect_format(path)
    options = reading_options(args) if args is not None else {}
    if kind == "libsvm" and "zero_based" not in options and names:
        # A model from a LIBSVM file is named by the file's indices ("0" first when it
        # was zero-based): read new files the same way, even if they lack index 0.
        if str(names[0]) in ("0", "1"):
            options["zero_based"] = str(names[0]) == "0"
    if kind not in ("csv", "parquet"):
        names = None  # columns without names: matched by count in align
    return read_data(
        path,
        target=target,
        features=names,
        format=format,
        # LIBSVM files omit trailing empty columns: pad them to the model's width.
        n_features=model.n_features_in_ if kind == "libsvm" else None,
        require_target=require_target,
        dtype=model.coef_.dtype,
        **options,
    )


def align(names, n_features, data):
    """The data's X with columns in the model's order; a clear error on mismatch."""
    if names is not None and data.feature_names is not None:
        missing = [n for n in names if n not in data.feature_names]
        if missing:
            raise CommandError(
                f"feature mismatch: {data.path} lacks the model's columns {', '.join(missing)}"
            )
        if list(data.feature_names) == list(names):
            return data.X
        index = [list(data.feature_names).index(n) for n in names]
        return data.X[:, index]
    if data.X.shape[1] != n_features:
        raise CommandError(
            f"feature mismatch: the model expects {n_features} features, "
            f"{data.path} has {data.X.shape[1]}"
        )
    return data.X


# -- scoring ------------------------------------------------------------------------------


def call(method, X):
    """``method(X)`` for a model method, X already aligned to the model's columns."""
    with _columns_aligned():
        return method(X)


def metrics(model, X, y=None, *, top_k=None):
    """Accuracy, top-k accuracy, log-loss, Brier score, calibration, per-class scores.

    Parameters
    ----------
    model : SoftmaxClassifier
        Fitted.
    X : array-like of shape (n_samples, n_features), or a data source
        Rows in the model's columns; a source is scored block by block, as it
        was fitted (:meth:`SoftmaxClassifier.log_proba_blocks`).
    y : array-like of shape (n_samples,) or None
        The labels of array ``X``; None for a source (it brings its own).
    top_k : int, optional
        The ``k`` of top-k accuracy (default: the evaluation module's, 5).

    Returns
    -------
    dict
        As :func:`softmax_classifier.evaluation.classification_metrics`.
    """
    from softmax_classifier.evaluation import MetricsAccumulator

    options = {} if top_k is None else {"top_k": top_k}
    accumulator = MetricsAccumulator(model.classes_, **options)
    with _columns_aligned():
        for labels, log_proba in model.log_proba_blocks(X, y):
            accumulator.add(_match_label_type(labels, model.classes_), log_proba)
    return accumulator.result()


@contextmanager
def _columns_aligned():
    # align() matched the columns to the model's feature names already: scikit-learn's
    # warning about arrays without names says nothing here.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        yield


def _match_label_type(y, classes):
    """Labels read from a file, converted to the type of the model's classes when lossless."""
    import numpy as np

    y = np.asarray(y)
    if classes.dtype.kind in "US" and y.dtype.kind not in "US":
        return y.astype(str)
    if classes.dtype.kind in "iu" and y.dtype.kind == "f" and np.all(y == np.round(y)):
        return y.astype(np.int64)
    return y
