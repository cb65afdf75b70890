"""The ``softmax`` command's argument parser.

Every value is checked here (ranges included), so that a bad one is a one-line
usage error with exit status 2 before any file is read. Only the standard
library and the package's constant modules are imported: ``softmax --help``,
``--version`` and usage errors answer before NumPy or scikit-learn would load.
The subcommands' modules are imported when their command runs.
"""

from __future__ import annotations

import argparse
import importlib
import math

from softmax_classifier.cli._common import UsageError

__all__ = ["build_parser"]

MODEL_HELP = "model file written by 'softmax train'"
#: ``learn --toy`` choices, written here so that parsing imports no NumPy (equal to
#: ``softmax_classifier.teach.TOY_NAMES``: tested).
TOY_NAMES = ("blobs", "moons", "xor")


class _Command:
    """A subcommand's function, ``module:function`` of this package, imported when it runs."""

    def __init__(self, module, function):
        self.module, self.function = module, function

    def __call__(self, args):
        module = importlib.import_module(f"softmax_classifier.cli.{self.module}")
        return getattr(module, self.function)(args)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (``softmax: error: ...``), exit status 2."""

    def error(self, message):
        raise UsageError(f"{message} (see '{self.prog} --help' for usage)")


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Show ``(default: ...)`` unless the help already says it or there is none to show."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "default" in text or action.required or action.default in (None, False):
            return text
        if action.default is argparse.SUPPRESS:
            return text
        return super()._get_help_string(action)


def _integer(low):
    """An argparse type: an integer of at least ``low``."""

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        return value

    parse.__name__ = "integer"
    return parse


def _real(low=None, high=None, *, low_open=False, high_open=False):
    """An argparse type: a finite number in the given interval."""
    left = "(" if low_open else "["
    right = ")" if high_open else "]"
    lower = "-inf" if low is None else f"{low:g}"
    upper = "inf" if high is None else f"{high:g}"
    interval = f"{left}{lower}, {upper}{right}"

    def parse(text):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        below = low is not None and (value <= low if low_open else value < low)
        above = high is not None and (value >= high if high_open else value > high)
        if not math.isfinite(value) or below or above:
            raise argparse.ArgumentTypeError(f"must be a finite number in {interval}, got {text}")
        return value

    parse.__name__ = "number"
    return parse


def _alpha(text):
    """An argparse type: ``auto`` or a finite number >= 0."""
    return text if text == "auto" else _real(0)(text)


def _learning_rate(text):
    if text == "auto":
        return text
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'auto', got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive number or 'auto', got {text}")
    return value


def _memory_size(text):
    """``64M``, ``1.5G``, ``100000`` (bytes) -> bytes, at least 1 MiB."""
    units = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
    spelled = text.strip().upper().removesuffix("B").removesuffix("I")
    number, unit = (spelled[:-1], spelled[-1]) if spelled[-1:] in units else (spelled, "")
    try:
        value = float(number) * units[unit]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a size such as 64M or 1G, got {text!r}"
        ) from None
    if not (math.isfinite(value) and value >= 2**20):
        raise argparse.ArgumentTypeError(f"must be at least 1M, got {text}")
    return int(value)


def _column_list(text):
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError("expected column names")
    return names


def build_parser():
    """The argument parser of the ``softmax`` command.

    Every value is checked here (ranges included), so that a bad one is a
    one-line usage error with exit status 2 before any file is read.

    Returns
    -------
    argparse.ArgumentParser
    """
    from softmax_classifier._parameters import PENALTY_NAMES, SOLVER_NAMES
    from softmax_classifier._version import __version__
    from softmax_classifier.io import FORMATS

    parser = _Parser(
        prog="softmax",
        description="Softmax classifier (multinomial logistic regression) from the shell: "
        "train on CSV, Parquet, LIBSVM or npz files, then predict, evaluate, calibrate, "
        "inspect and export (ONNX).",
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"softmax {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="show the full traceback when something fails"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name, help, run):
        sub = commands.add_parser(
            name,
            help=help,
            description=help[0].upper() + help[1:] + ".",
            formatter_class=_HelpFormatter,
        )
        sub.set_defaults(run=_Command(*run.split(":")))
        return sub

    def data_format(sub, flag="--format"):
        sub.add_argument(
            flag,
            choices=FORMATS,
            default=None,
            help="file format (default: from the file extension; a directory is Parquet; "
            "standard input is CSV)",
        )

    def reading(sub):
        sub.add_argument(
            "--no-header",
            action="store_true",
            help="the CSV file has no header row: columns are named 1, 2, 3, ... (as cut -f "
            "counts them), so --target 5 is the fifth column",
        )
        sub.add_argument(
            "--drop",
            action="extend",
            type=_column_list,
            metavar="COL",
            help="column(s) to ignore, e.g. an id (repeatable, or a comma-separated list)",
        )
        sub.add_argument(
            "--zero-based",
            choices=("auto", "yes", "no"),
            default=None,
            help="LIBSVM: whether feature indices start at 0 (default: auto, detected from "
            "the file as scikit-learn does)",
        )

    def model_and_data(sub, data, *, target):
        sub.add_argument("model", help=MODEL_HELP)
        sub.add_argument("data", help=f"{data}; '-' reads standard input (CSV, or --format)")
        sub.add_argument("--target", help=target)
        data_format(sub)
        reading(sub)

    def top_k(sub, default, help):
        # predict's default 0 adds no columns; evaluate reports top-K for some K >= 1.
        low = min(default, 1)
        sub.add_argument("--top-k", type=_integer(low), default=default, metavar="K", help=help)

    def solver_options(sub):
        sub.add_argument(
            "--solver",
            choices=SOLVER_NAMES,
            default="auto",
            help="solver (auto: prox-newton for a non-smooth penalty; otherwise lbfgs for "
            "dense data, newton-cg for sparse)",
        )
        sub.add_argument(
            "--alpha",
            type=_alpha,
            default="auto",
            help="penalty strength (>= 0), or auto: 1 / sum of the weights, scikit-learn's C = 1",
        )
        sub.add_argument(
            "--seed", type=_integer(0), default=0, help="seed for splits and shuffling"
        )
        sub.add_argument("--quiet", action="store_true", help="no progress display")

    train = command("train", "train a model on a data file", "train:train")
    train.add_argument("data", help="training data: .csv, .parquet (or a directory), LIBSVM, .npz")
    train.add_argument(
        "--target", help="label column (CSV/Parquet; LIBSVM and npz carry their labels)"
    )
    train.add_argument("--features", help="comma-separated feature columns (default: all others)")
    data_format(train)
    reading(train)
    test = train.add_mutually_exclusive_group()
    test.add_argument("--test", help="held-out data file to report test metrics on")
    test.add_argument(
        "--test-size",
        type=_real(0, 1, high_open=True),
        default=None,
        help="fraction of the data held out for testing when --test is not given "
        "(default 0.2; 0: none; not with --stream)",
    )
    data_format(train, "--test-format")
    train.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="MODEL",
        help="model file to write (a regular file; links and devices are refused)",
    )
    train.add_argument(
        "--run-dir", help="folder for metrics.json and figures (default: MODEL_run next to it)"
    )
    solver_options(train)
    train.add_argument(
        "--penalty",
        choices=PENALTY_NAMES,
        default="l2",
        help="penalty on the weights: l2 (squared), l1 (lasso: zeros some weights), "
        "elasticnet (a mix of both, --l1-ratio), group (zeros whole features: a feature's "
        "weights for every class together); the non-smooth ones need --solver prox-newton "
        "or auto",
    )
    train.add_argument(
        "--l1-ratio",
        type=_real(0, 1),
        default=None,
        metavar="R",
        help="share of L1 in --penalty elasticnet, in [0, 1] (0: L2 alone, 1: L1 alone); "
        "only with elasticnet, which needs it",
    )
    train.add_argument(
        "--max-iter",
        type=_integer(1),
        default=None,
        help="iterations/epochs (default: the solver's)",
    )
    train.add_argument("--tol", type=_real(0), default=1e-4, help="stop when max|gradient| <= tol")
    train.add_argument(
        "--batch-size", type=_integer(1), default=32, help="mini-batch size (sgd, adam)"
    )
    train.add_argument(
        "--learning-rate",
        type=_learning_rate,
        default="auto",
        help="step size (gd, sgd, adam) or 'auto'",
    )
    train.add_argument(
        "--momentum", type=_real(0, 1, high_open=True), default=0.0, help="momentum of sgd"
    )
    train.add_argument(
        "--class-weight",
        choices=["balanced"],
        default=None,
        help="weight classes inversely to their frequency",
    )
    train.add_argument(
        "--standardize",
        choices=("auto", "yes", "no"),
        default="auto",
        help="standardise features, with statistics stored in the model and applied by "
        "predict. auto: dense data (CSV, Parquet, dense npz: columns in any units) is "
        "centred and scaled, sparse data (LIBSVM, sparse npz: counts, tf-idf) is left as "
        "it is, since scaling rare columns up makes text fits slower and less accurate; "
        "yes: dense centred and scaled, sparse scaled only. (The Python estimator does not "
        "standardise unless asked: it fits X as given.) (default: auto)",
    )
    train.add_argument(
        "--no-standardize",
        dest="standardize",
        action="store_const",
        const="no",
        help="the same as --standardize no",
    )
    train.add_argument("--float32", action="store_true", help="read and fit in float32")
    train.add_argument(
        "--stream",
        action="store_true",
        help="read DATA (Parquet file or directory, CSV or LIBSVM) batch by batch instead of "
        "loading it: for data larger than memory; every pass of the solver reads the file",
    )
    train.add_argument(
        "--checkpoint-dir",
        help="write the solver's state here every --checkpoint-every iterations (atomically), "
        "so that --resume can continue after a crash",
    )
    train.add_argument(
        "--checkpoint-every",
        type=_integer(1),
        default=10,
        help="iterations (epochs) between checkpoints",
    )
    train.add_argument(
        "--resume",
        action="store_true",
        help="continue from the checkpoint in --checkpoint-dir (same data and options)",
    )
    train.add_argument(
        "--block-rows",
        type=_integer(1),
        default=None,
        help="rows per batch read with --stream (default: as many as --block-memory holds)",
    )
    train.add_argument(
        "--block-memory",
        type=_memory_size,
        default=None,
        metavar="SIZE",
        help="memory budget of one batch read with --stream, e.g. 64M or 1G (default: 32M); "
        "--block-rows wins when both are given",
    )
    train.add_argument("--image-shape", help="HxW: the features are image pixels; draw weights.png")
    dask = train.add_mutually_exclusive_group()
    dask.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="fit on the Dask cluster of this scheduler (e.g. tcp://host:8786): its workers "
        "read DATA (Parquet or CSV, at a path they can all see) and evaluate it where it lies",
    )
    dask.add_argument(
        "--dask-workers",
        type=_integer(1),
        metavar="N",
        help="fit on a Dask cluster of N worker processes started on this machine",
    )
    train.add_argument(
        "--dask-timeout",
        type=_real(0, low_open=True),
        default=30.0,
        help="seconds to wait for the Dask scheduler, on connecting and after losing it",
    )

    predict = command(
        "predict", "predict labels (and probabilities) for a data file", "score:predict"
    )
    model_and_data(
        predict,
        "data file with the model's features",
        target="label column to ignore if the file has one",
    )
    predict.add_argument("--proba", action="store_true", help="add a probability column per class")
    top_k(
        predict,
        0,
        "add the K most probable labels and their probabilities, most probable first, "
        "as columns top1, top1_proba, top2, top2_proba, ... (K is capped at the number of "
        "classes; ties go to the class listed first in the model)",
    )
    predict.add_argument(
        "--min-proba",
        type=_real(0, 1),
        default=None,
        metavar="P",
        help="leave the prediction column empty for rows whose top probability is below P "
        "(the top-k and probability columns stay); the summary line on stderr counts them",
    )
    predict.add_argument(
        "-o",
        "--output",
        metavar="CSV",
        help="CSV file to write, replaced atomically ('-' or none: standard output)",
    )

    evaluate = command("evaluate", "score a model on labelled data", "score:evaluate")
    model_and_data(
        evaluate,
        "labelled data file",
        target="label column (CSV/Parquet; default: the one the model was trained with)",
    )
    evaluate.add_argument("--json", action="store_true", help="print the metrics as JSON")
    top_k(
        evaluate,
        5,
        "report top-K accuracy: the share of rows whose label is among the K most "
        "probable (K is capped at the number of classes; default: 5)",
    )
    evaluate.add_argument(
        "--plots",
        metavar="DIR",
        help="write confusion_matrix.png and reliability.png (accuracy against confidence, "
        "with ECE and MCE) into this folder, made if missing (default: no figures)",
    )
    evaluate.add_argument(
        "--figure",
        metavar="PATH",
        help="draw the confusion matrix to this image file (default: no figure)",
    )

    calibrate = command(
        "calibrate",
        "fit a temperature to a model's probabilities on held-out labelled data",
        "calibrate:calibrate",
    )
    model_and_data(
        calibrate,
        "labelled validation data file (not the training rows)",
        target="label column (CSV/Parquet; default: the one the model was trained with)",
    )
    calibrate.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="NEW_MODEL",
        help="calibrated model file to write, replaced atomically (may be MODEL itself)",
    )
    calibrate.add_argument(
        "--json", action="store_true", help="print the temperature and errors as JSON"
    )

    export = command(
        "export",
        "write a model as an ONNX file (outputs label and probabilities) for serving "
        "outside Python",
        "export:export",
    )
    export.add_argument("model", help=MODEL_HELP)
    export.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="ONNX",
        help="ONNX file to write, replaced atomically (a regular file; links and devices are "
        "refused)",
    )
    export.add_argument(
        "--opset",
        type=_integer(13),
        default=18,
        metavar="N",
        help="ONNX operator set version, from 13 to the newest the installed onnx knows; "
        "the IR version is the smallest that carries it (8 for opset 18) (default: 18)",
    )

    inspect_ = command(
        "inspect",
        "describe a model file, or print its inference table on labelled rows (--summary)",
        "score:inspect",
    )
    inspect_.add_argument("model", help=MODEL_HELP)
    inspect_.add_argument(
        "--top", type=_integer(0), default=5, help="features listed per class (0: none)"
    )
    inspect_.add_argument(
        "--json",
        action="store_true",
        help="print the description (with --summary: the table's numbers) as JSON",
    )
    inspect_.add_argument(
        "--summary",
        metavar="DATA",
        help="print the model's inference table on these labelled rows instead: coefficient, "
        "standard error, z, p-value and confidence interval per class and feature, "
        "log-likelihoods, pseudo-R^2, AIC, BIC ('-' reads standard input)",
    )
    inspect_.add_argument(
        "--target",
        help="label column of --summary DATA (CSV/Parquet; default: the one the model was "
        "trained with)",
    )
    inspect_.add_argument(
        "--cov-type",
        choices=("nonrobust", "HC0"),
        default="nonrobust",
        help="covariance of --summary: model-based, or robust (HC0, White's sandwich)",
    )
    inspect_.add_argument(
        "--level",
        type=_real(0, 1, low_open=True, high_open=True),
        default=0.95,
        help="confidence level of --summary's intervals, in (0, 1)",
    )
    data_format(inspect_)
    reading(inspect_)

    gradcheck = command(
        "gradcheck",
        "check the analytic gradient and Hessian-vector product against finite differences",
        "gradcheck:gradcheck",
    )
    gradcheck.add_argument("--data", help="use rows of this data file instead of random data")
    gradcheck.add_argument("--target", help="label column of --data (CSV/Parquet)")
    data_format(gradcheck)
    reading(gradcheck)
    gradcheck.add_argument("--n-samples", type=_integer(1), default=50, help="rows used")
    gradcheck.add_argument(
        "--n-features", type=_integer(1), default=8, help="features (random data)"
    )
    gradcheck.add_argument("--n-classes", type=_integer(2), default=4, help="classes (random data)")
    gradcheck.add_argument("--sparse", action="store_true", help="random sparse data")
    gradcheck.add_argument("--float32", action="store_true", help="check in float32")
    gradcheck.add_argument("--alpha", type=_real(0), default=0.1, help="L2 penalty strength (>= 0)")
    gradcheck.add_argument("--seed", type=_integer(0), default=0, help="random seed")
    gradcheck.add_argument(
        "--max-entries",
        type=_integer(1),
        default=2000,
        help="most gradient entries to difference",
    )
    gradcheck.add_argument(
        "--threshold",
        type=_real(0, low_open=True),
        default=None,
        help="pass when both relative errors are at most this, instead of the tolerance "
        "derived per entry from the data's scale and dtype (default: derived)",
    )

    learn = command(
        "learn",
        "draw the softmax classifier learning two-dimensional data: regions during gradient "
        "descent and SGD, one example traced through the formulas, learning rates, penalties",
        "learn:learn",
    )
    rows = learn.add_mutually_exclusive_group(required=True)
    rows.add_argument(
        "data",
        nargs="?",
        metavar="DATA",
        help="CSV file: two numeric feature columns and a label column (--target); '-': stdin",
    )
    rows.add_argument(
        "--toy", choices=TOY_NAMES, help="a built-in set instead of DATA (xor: no linear fit)"
    )
    learn.add_argument("--target", help="label column of DATA")
    learn.add_argument(
        "-o", "--output", required=True, metavar="FOLDER", help="folder to write (made if missing)"
    )
    learn.add_argument("--seed", type=_integer(0), default=0, help="seed of the data and SGD")

    demo = command(
        "demo",
        "train on scikit-learn's bundled digits and report (what 'make demo' runs)",
        "train:demo",
    )
    solver_options(demo)
    demo.add_argument(
        "--output-dir", default="softmax-demo", help="folder for the model and figures"
    )
    return parser
