"""The ``softmax`` command: train, predict, evaluate, inspect, gradcheck and demo.

Every subcommand reads data files (:mod:`softmax_classifier.files`), uses the
estimator and its model files, and reports with ``rich``. Every problem the user
can act on (a bad flag, a missing column, a bad file, a feature mismatch, an
output that cannot be written safely) ends with exit status 2 and one line on
stderr, ``softmax: error: ...``; ``--debug`` shows the traceback instead.

Only the standard library is imported with this module: :func:`main` installs
its Ctrl-C handling first and imports NumPy, the estimator and ``rich`` after,
so that an interrupt while starting is one line too. User strings (labels,
column names, paths) are never read as ``rich`` markup.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import math
import os
import shutil
import signal
import sys
import tempfile
import threading
import warnings
from contextlib import contextmanager, nullcontext
from pathlib import Path

__all__ = ["build_parser", "gradient_check", "main"]

EXIT_ERROR = 2
EXIT_CLUSTER = 3
EXIT_INTERRUPTED = 130
#: Spelling of standard input and output for DATA and ``-o``.
STDIO = "-"


class CommandError(ValueError):
    """A problem with the command's input that the user can fix; exit status 2."""


class _UsageError(Exception):
    """A bad command line, reported by :func:`main` in one line with exit status 2."""


# ---------------------------------------------------------------------------
# train / demo
# ---------------------------------------------------------------------------


def _train(args):
    import numpy as np
    import scipy.sparse as sp

    from softmax_classifier import plots
    from softmax_classifier.files import read_data

    dtype = np.float32 if args.float32 else np.float64
    if args.resume and not args.checkpoint_dir:
        raise CommandError("--resume needs --checkpoint-dir: where the checkpoint is")
    output, run_dir = _train_outputs(args)
    image_shape = plots.parse_image_shape(args.image_shape) if args.image_shape else None
    if args.stream or args.scheduler is not None or args.dask_workers is not None:
        return _train_source(args, dtype, output, run_dir, image_shape)
    if args.test_size is None:
        args.test_size = 0.2
    train = read_data(
        args.data,
        target=args.target,
        features=_split_names(args.features),
        format=args.format,
        dtype=dtype,
        require_target=True,
        **_reading_options(args),
    )
    test = None
    if args.test is not None:
        test = read_data(
            args.test,
            target=args.target,
            features=train.feature_names,
            format=args.test_format,
            dtype=dtype,
            n_features=train.X.shape[1],
            require_target=True,
            **_reading_options(args),
        )
        _check_test_labels(np.unique(train.y), np.unique(test.y), args.test)
        test_xy = (_align(train.feature_names, train.X.shape[1], test), test.y)
        train_xy = (train.X, train.y)
    elif args.test_size > 0:
        train_xy, test_xy = _split(train.X, train.y, args.test_size, args.seed)
    else:
        train_xy, test_xy = (train.X, train.y), None
    model = _model_from_args(args, sparse=sp.issparse(train.X))
    return _fit_and_report(
        model,
        train_xy,
        test_xy,
        feature_names=train.feature_names,
        output=output,
        run_dir=run_dir,
        image_shape=image_shape,
        quiet=args.quiet,
        source=args.data,
        resume=args.resume,
        target=None if train.format in ("libsvm", "npz") else args.target,
    )


def _train_outputs(args):
    """``(model path, run folder)`` of ``softmax train``, checked before any work is done."""
    if args.output == STDIO:
        raise CommandError("-o must name a model file: a model cannot be written to stdout")
    output = Path(args.output)
    run_dir = Path(args.run_dir) if args.run_dir else output.with_name(output.stem + "_run")
    _check_outputs(output, run_dir)
    return output, run_dir


def _reading_options(args, *, stream=False):
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


def _check_test_labels(train_classes, test_classes, path):
    """Labels of the ``--test`` file that training never saw are an error, before the fit."""
    import numpy as np

    unseen = np.setdiff1d(np.asarray(test_classes), np.asarray(train_classes))
    if unseen.size:
        raise CommandError(
            f"{path} has labels the training data does not have: {_shorten(unseen, 5)}; "
            "the model could never predict them (hold out rows of the same classes)"
        )


def _train_source(args, dtype, output, run_dir, image_shape):
    """``softmax train --stream`` or ``--scheduler``/``--dask-workers``: rows not held here.

    The training (and ``--test``) rows are read batch by batch from the file
    (``--stream``) or by the workers of a Dask cluster, fitted that way, and
    scored block by block.
    """
    on_dask = args.scheduler is not None or args.dask_workers is not None
    how = "--scheduler/--dask-workers" if on_dask else "--stream"
    if args.stream and on_dask:
        raise CommandError(
            "--stream reads the file here, --scheduler/--dask-workers on a Dask cluster: choose one"
        )
    if args.test_size:
        raise CommandError(
            f"--test-size needs all rows in memory; with {how} hold out a separate file with --test"
        )
    with _dask_client(args) if on_dask else nullcontext() as client:
        if on_dask:
            source = _dask_reader(args, dtype, client)
            where = f"{args.data} (on Dask, scheduler {client.scheduler.address})"
        else:
            source = _stream_reader(args, dtype)
            where = f"{args.data} (streamed)"
        train = source(args.data, args.format, _split_names(args.features))
        test = None
        if args.test is not None:
            # A LIBSVM test file is read as wide as the training data.
            test = source(args.test, args.test_format, train.feature_names, train.n_features)
            if hasattr(train, "classes") and hasattr(test, "classes"):
                _check_test_labels(train.classes, test.classes, args.test)
        model = _model_from_args(args, sparse=bool(getattr(train, "is_sparse", False)))
        return _fit_and_report(
            model,
            (train, None),
            None if test is None else (test, None),
            feature_names=train.feature_names,
            output=output,
            run_dir=run_dir,
            image_shape=image_shape,
            quiet=args.quiet,
            source=where,
            resume=args.resume,
            target=None if getattr(train, "is_sparse", False) else args.target,
        )


def _stream_reader(args, dtype):
    """``read(path, format, features, n_features=None)`` -> StreamingData."""
    from softmax_classifier.data import StreamingData
    from softmax_classifier.files import detect_format

    options = {"dtype": dtype, **_reading_options(args, stream=True)}
    if args.block_rows is not None:
        options["block_rows"] = args.block_rows

    def read(path, format, features, n_features=None):
        # LIBSVM lines carry their labels (and --target is ignored, as without --stream).
        libsvm = (format or detect_format(path)) == "libsvm"
        target = None if libsvm else args.target
        return StreamingData(
            path, target, features, format=format, n_features=n_features, **options
        )

    return read


def _dask_reader(args, dtype, client):
    """``read(path, format, features, n_features=None)`` -> DaskData read by the workers."""
    import dask.dataframe as dd

    from softmax_classifier.data import DaskData
    from softmax_classifier.files import detect_format

    def read(path, format, features, n_features=None):
        format = format or detect_format(path)
        if format not in ("parquet", "csv"):
            raise CommandError(
                f"with --scheduler/--dask-workers the workers read the data: {path} must be "
                f"Parquet (a file or a directory) or CSV, not {format}"
            )
        if args.target is None:
            raise CommandError("--target is required: the label column")
        frame = dd.read_parquet(path) if format == "parquet" else dd.read_csv(path)
        columns = [str(c) for c in frame.columns]
        if features is None:
            features = [c for c in columns if c != args.target]
        missing = [c for c in [args.target, *features] if c not in columns]
        if missing:
            raise CommandError(f"{path} has no column {missing[0]!r}; it has {columns}")
        if n_features is not None and len(features) != n_features:
            raise CommandError(f"{path} has {len(features)} features; expected {n_features}")
        return DaskData(frame[features], frame[args.target], client=client, dtype=dtype)

    return read


@contextmanager
def _dask_client(args):
    """A client of the cluster at ``--scheduler``, or of a local one of ``--dask-workers``."""
    try:
        import distributed
    except ImportError:
        raise CommandError(
            "--scheduler/--dask-workers need dask.distributed: "
            "pip install 'softmax-classifier[dask]'"
        ) from None
    if args.scheduler is not None:
        try:
            client = distributed.Client(args.scheduler, timeout=args.dask_timeout)
        except (OSError, TimeoutError) as error:
            raise CommandError(
                f"cannot reach the Dask scheduler at {args.scheduler}: {_one_line(error)}"
            ) from None
        with client:
            yield client
        return
    with (
        distributed.LocalCluster(
            n_workers=args.dask_workers, processes=True, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster, timeout=args.dask_timeout) as client,
    ):
        yield client


def _model_from_args(args, *, sparse):
    """The estimator ``softmax train``'s options describe.

    ``--standardize auto`` standardises dense data (CSV and Parquet columns come
    in any units) and leaves sparse data (LIBSVM, sparse npz) as it is: scaling
    tf-idf or count columns makes text fits slower and less accurate, and
    centring would make them dense.
    """
    from softmax_classifier.estimator import SoftmaxClassifier

    standardize = {"yes": True, "no": False}.get(args.standardize, not sparse)
    return SoftmaxClassifier(
        alpha=args.alpha,
        solver=args.solver,
        max_iter=args.max_iter,
        tol=args.tol,
        learning_rate=args.learning_rate,
        batch_size=args.batch_size,
        momentum=args.momentum,
        class_weight=args.class_weight,
        random_state=args.seed,
        standardize=standardize,
        checkpoint_dir=args.checkpoint_dir,
        checkpoint_every=args.checkpoint_every,
    )


def _demo(args):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    from softmax_classifier.estimator import SoftmaxClassifier

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=args.seed
    )
    output_dir = Path(args.output_dir)
    output, run_dir = output_dir / "model.safetensors", output_dir / "run"
    output_dir.mkdir(parents=True, exist_ok=True)
    _check_outputs(output, run_dir)
    model = SoftmaxClassifier(
        alpha=args.alpha, solver=args.solver, random_state=args.seed, standardize=True
    )
    return _fit_and_report(
        model,
        (X_train, y_train),
        (X_test, y_test),
        feature_names=[f"pixel_{r}_{c}" for r in range(8) for c in range(8)],
        output=output,
        run_dir=run_dir,
        image_shape=(8, 8),
        quiet=args.quiet,
        source="scikit-learn digits (8x8 images, 25% held out)",
    )


def _fit_and_report(
    model,
    train_xy,
    test_xy,
    *,
    feature_names,
    output,
    run_dir,
    image_shape,
    quiet,
    source,
    resume=False,
    target=None,
):
    """Fit with progress and Ctrl-C handling, write the model and its run folder, summarise.

    The outputs were checked before (:func:`_check_outputs`); the model and its
    run folder are written together by :func:`_write_model_and_run`.
    """
    import numpy as np

    out, err = _console(), _console(stderr=True)
    X, y = train_xy
    if image_shape is not None and np.prod(image_shape) != X.shape[1]:
        raise CommandError(
            f"--image-shape {image_shape[0]}x{image_shape[1]} has {np.prod(image_shape)} "
            f"pixels but the data has {X.shape[1]} features"
        )
    alpha = model.alpha if isinstance(model.alpha, str) else f"{model.alpha:g}"
    err.print(
        f"training on {X.shape[0]} rows x {X.shape[1]} features from {source} "
        f"({model.solver}, alpha={alpha})"
    )
    interrupted = _fit_with_progress(model, X, y, err, quiet=quiet, resume=resume)
    if feature_names is not None:
        model.feature_names_in_ = np.asarray(feature_names, dtype=object)
    if target is not None:
        # Stored in the model file where the estimator keeps it (evaluate's default --target).
        model.target_name_ = str(target)

    metrics = {"train": _metrics(model, X, y)}
    if test_xy is not None:
        metrics["test"] = _metrics(model, *test_xy)
    report = model.fit_report_
    _write_model_and_run(model, output, run_dir, metrics, image_shape)

    stop = report.stop_reason
    if interrupted:
        stop = f"interrupted (Ctrl-C after {report.n_iter} {_unit(model)}s)"
    else:
        stop = f"{stop} ({report.message})"
    table = _key_value_table()
    for split, values in metrics.items():
        table.add_row(f"{split} accuracy", f"{values['accuracy']:.4f}")
        table.add_row(f"{split} log-loss", f"{values['log_loss']:.6f}")
    table.add_row("final loss", f"{report.objective_history[-1]:.6f}")
    table.add_row("stop reason", stop)
    table.add_row(_unit(model) + "s", str(report.n_iter))
    table.add_row("fit time", f"{report.time_seconds:.3f} s")
    table.add_row("model", str(output))
    table.add_row("figures", str(run_dir))
    _print(out, table)
    if interrupted:
        err.print(
            f"interrupted: stopped after {report.n_iter} {_unit(model)}s and wrote that model "
            f"to {output}"
        )
        return EXIT_INTERRUPTED
    return 0


def _check_outputs(output, run_dir):
    """Refuse, before any work, outputs that cannot be written safely.

    The model path must be a regular file or new, in a writable folder; the run
    folder must be a folder (or creatable in a writable one), and the files
    ``train`` writes in it regular files or new.
    """
    from softmax_classifier._atomic import check_output_path

    check_output_path(output)
    if run_dir.exists() or run_dir.is_symlink():
        if not run_dir.is_dir():
            raise CommandError(f"the run folder {run_dir} exists and is not a folder")
        if not os.access(run_dir, os.W_OK | os.X_OK):
            raise CommandError(f"cannot write into the run folder {run_dir}: permission denied")
        for name in _RUN_FILES:
            if (run_dir / name).exists() or (run_dir / name).is_symlink():
                check_output_path(run_dir / name)
        return
    parent = run_dir.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise CommandError(f"cannot create the run folder {run_dir}: {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise CommandError(f"cannot create the run folder {run_dir}: {parent} is not writable")


#: The files ``softmax train`` writes in its run folder.
_RUN_FILES = ("metrics.json", "loss_curve.png", "confusion_matrix.png", "weights.png")


def _write_model_and_run(model, output, run_dir, metrics, image_shape):
    """Write the run folder's files and the model so that they appear together or not at all.

    Everything is written first to temporary names beside the targets (the
    figures in a hidden folder next to the run folder, the model in a hidden
    file next to it); only when all of it succeeded are the files renamed into
    place, the model last. A failure before that leaves the old model and run
    folder exactly as they were; renames do not fail for lack of space, and a
    kill between them leaves at worst the new run files beside the old model.
    Temporaries of killed runs are removed by the next run writing there.
    """
    import numpy as np

    from softmax_classifier import plots
    from softmax_classifier._atomic import remove_stale_temporaries, temporary_path

    report = model.fit_report_
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    for folder in {output.parent, run_dir.parent}:
        _remove_stale_folders(folder)
        remove_stale_temporaries(folder)
    staging = Path(tempfile.mkdtemp(prefix=f".{run_dir.name}.{os.getpid()}.", dir=run_dir.parent))
    # Named by _atomic, so that a killed run's temporary is removed by a later write.
    model_temporary = Path(temporary_path(output))
    try:
        document = {**metrics, "fit_report": report.as_dict(), "model": str(output)}
        (staging / "metrics.json").write_text(json.dumps(document, indent=2) + "\n")
        plots.plot_loss_curve(
            report.objective_history, staging / "loss_curve.png", xlabel=_unit(model)
        )
        shown = metrics.get("test", metrics["train"])
        plots.plot_confusion_matrix(
            np.asarray(shown["confusion_matrix"]),
            [str(label) for label in shown["labels"]],
            staging / "confusion_matrix.png",
            title=f"Confusion matrix ({'test' if 'test' in metrics else 'train'})",
        )
        if image_shape is not None:
            plots.plot_weights(
                model.coef_,
                image_shape,
                [str(c) for c in model.classes_],
                staging / "weights.png",
            )
        model.save(model_temporary)
        run_dir.mkdir(parents=True, exist_ok=True)
        for path in sorted(staging.iterdir()):
            os.replace(path, run_dir / path.name)
        os.replace(model_temporary, output)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(model_temporary)


def _remove_stale_folders(folder):
    """Remove staging folders (``.<run folder>.<pid>.<random>``) of killed ``train`` runs."""
    from softmax_classifier._atomic import is_running

    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        parts = name.split(".")
        if not name.startswith(".") or len(parts) < 4 or not parts[-2].isdigit():
            continue
        path = os.path.join(folder, name)
        if os.path.islink(path) or not os.path.isdir(path) or is_running(int(parts[-2])):
            continue
        if set(os.listdir(path)) <= set(_RUN_FILES):  # only what train writes there
            shutil.rmtree(path, ignore_errors=True)


def _fit_with_progress(model, X, y, console, *, quiet, resume=False):
    """Fit ``model`` with a progress display; Ctrl-C stops after the current iteration.

    The display shows what is known: the iteration (or epoch), the objective,
    ``max|gradient|`` against ``tol``, the elapsed time, and a bar of the
    progress of the gradient norm towards ``tol`` on a log scale. No time left
    is estimated: most fits stop long before ``max_iter``.

    Returns True when the fit was interrupted (the model then holds the last
    parameters the solver reported). A second Ctrl-C aborts at once.
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    tol = float(model.tol or 0.0)
    columns = [
        TextColumn("{task.description} {task.fields[iteration]}", markup=False),
        TextColumn("objective {task.fields[objective]}", markup=False),
        TextColumn("max|grad| {task.fields[grad]} (tol " + f"{tol:.0e})", markup=False),
    ]
    if tol > 0:
        columns.append(BarColumn())
    columns.append(TimeElapsedColumn())
    stop = threading.Event()
    first_grad = []
    with (
        _StopOnInterrupt(stop),
        Progress(*columns, console=console, disable=quiet) as progress,
        warnings.catch_warnings(record=True) as caught,
    ):
        warnings.simplefilter("always")
        task = progress.add_task(_unit(model), total=1.0, iteration=0, objective="-", grad="-")

        def callback(info):
            grad = float(info.grad_norm)
            if not first_grad and math.isfinite(grad) and grad > 0:
                first_grad.append(grad)
            progress.update(
                task,
                completed=_progress_to_tol(first_grad[0] if first_grad else grad, grad, tol),
                iteration=info.iteration,
                objective=f"{info.objective:.6g}",
                grad=f"{grad:.2e}",
            )
            return stop.is_set()

        model.fit(X, y, callback=callback, resume=resume)
        if model.fit_report_.stop_reason == "converged":
            progress.update(task, completed=1.0)
    for warning in caught:
        console.print(f"softmax: warning: {warning.message}")
    return stop.is_set()


def _progress_to_tol(first, current, tol):
    """How far ``max|gradient|`` went from ``first`` towards ``tol``, in [0, 1], log scale."""
    if not (tol > 0 and math.isfinite(current) and current > 0 and first > tol):
        return 0.0 if not (0 < current <= tol) else 1.0
    return min(1.0, max(0.0, math.log(first / current) / math.log(first / tol)))


class _StopOnInterrupt:
    """While active, the first SIGINT sets ``event`` instead of raising."""

    def __init__(self, event):
        self.event = event
        self.previous = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        self.event.set()
        signal.signal(signal.SIGINT, self.previous)  # a second Ctrl-C interrupts

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
        return False


# ---------------------------------------------------------------------------
# predict / evaluate / inspect
# ---------------------------------------------------------------------------


def _predict(args):
    import numpy as np

    from softmax_classifier._atomic import atomic_write, check_output_path
    from softmax_classifier.estimator import load

    to_file = args.output not in (None, STDIO)
    if to_file:
        check_output_path(args.output)  # before reading anything
    model = load(args.model)
    with _data_path(args.data, args.format) as (path, format):
        data = _read_for_model(model, path, target=args.target, format=format, args=args)
    X = _align(_names(model), model.n_features_in_, data)
    proba = _call(model.predict_proba, X)
    classes = model.classes_
    header = ["prediction"]
    columns = [classes[np.argmax(proba, axis=1)]]
    if args.proba:
        header += [f"proba_{c}" for c in classes]
        columns += list(proba.T)
    if args.top_k:
        k = min(args.top_k, len(classes))
        order = np.argsort(-proba, axis=1, kind="stable")[:, :k]
        top_proba = np.take_along_axis(proba, order, axis=1)
        for rank in range(k):
            header += [f"top{rank + 1}", f"top{rank + 1}_proba"]
            columns += [classes[order[:, rank]], top_proba[:, rank]]
    rows = zip(*columns, strict=True)
    if to_file:
        with atomic_write(args.output, "w", encoding="utf-8", newline="") as stream:
            _write_csv(stream, header, rows)
        _console(stderr=True).print(f"wrote {X.shape[0]} predictions to {args.output}")
    else:
        _write_csv(sys.stdout, header, rows)
    return 0


def _evaluate(args):
    import numpy as np

    from softmax_classifier import plots
    from softmax_classifier._atomic import check_output_path
    from softmax_classifier.estimator import load

    if args.figure is not None and Path(args.figure).parent.is_dir():
        check_output_path(args.figure)  # before reading anything (new folders are made later)
    model = load(args.model)
    with _data_path(args.data, args.format) as (path, format):
        target = args.target
        if target is None:
            target = _default_target(args.model, model, path, format, args)
        data = _read_for_model(
            model, path, target=target, format=format, require_target=True, args=args
        )
    X = _align(_names(model), model.n_features_in_, data)
    metrics = _metrics(model, X, data.y)
    if args.figure is not None:
        plots.plot_confusion_matrix(
            np.asarray(metrics["confusion_matrix"]),
            [str(label) for label in metrics["labels"]],
            args.figure,
        )
    if args.json:
        print(json.dumps(metrics, indent=2))
        return 0
    from rich.table import Table

    out = _console()
    summary = _key_value_table()
    summary.add_row("rows", str(metrics["n_samples"]))
    summary.add_row("accuracy", f"{metrics['accuracy']:.4f}")
    summary.add_row("log-loss", f"{metrics['log_loss']:.6f}")
    summary.add_row("calibration error (ECE)", f"{metrics['expected_calibration_error']:.4f}")
    _print(out, summary)
    per_class = Table(title="per class")
    for name in ("label", "precision", "recall", "f1", "support"):
        per_class.add_column(name, justify="left" if name == "label" else "right")
    for row in metrics["per_class"]:
        per_class.add_row(
            str(row["label"]),
            f"{row['precision']:.4f}",
            f"{row['recall']:.4f}",
            f"{row['f1']:.4f}",
            str(row["support"]),
        )
    _print(out, per_class)
    labels = [str(label) for label in metrics["labels"]]
    if len(labels) <= 20:
        matrix = Table(title="confusion matrix (rows: true, columns: predicted)")
        matrix.add_column("")
        for label in labels:
            matrix.add_column(label, justify="right")
        for label, counts in zip(labels, metrics["confusion_matrix"], strict=True):
            matrix.add_row(label, *map(str, counts))
        _print(out, matrix)
    if args.figure is not None:
        out.print(f"confusion matrix figure: {args.figure}")
    return 0


def _default_target(model_path, model, path, format, args):
    """``evaluate``'s label column when ``--target`` is not given.

    The target name stored in the model file (``train --target``), else the
    one column of a CSV/Parquet file that is not among the model's features.
    LIBSVM and npz files carry their labels: no column is needed.
    """
    from softmax_classifier import model_file
    from softmax_classifier.files import detect_format

    kind = format or detect_format(path)
    if kind not in ("csv", "parquet"):
        return None
    stored = getattr(model, "target_name_", None)
    if stored is None:
        _, metadata = model_file.load(model_path)
        stored = metadata.get("target_name")
    if stored is not None:
        return str(stored)
    columns = _column_names(path, kind, args)
    names = set(_names(model) or [])
    extra = [c for c in (columns or []) if c not in names]
    if names and len(extra) == 1:
        return extra[0]
    shown = _data_name(args.data, path)
    raise CommandError(
        f"--target is required: the model file does not name its label column, and {shown} "
        f"has {len(extra)} columns the model does not use ({_shorten(extra, 5)})"
    )


def _column_names(path, kind, args):
    """The column names of a CSV or Parquet file, without reading its rows."""
    if getattr(args, "no_header", False):
        return None
    if kind == "parquet":
        import pyarrow.dataset as ds

        return [str(name) for name in ds.dataset(path, format="parquet").schema.names]
    import pyarrow.csv as pa_csv

    with pa_csv.open_csv(path) as reader:
        return [str(name) for name in reader.schema.names]


def _inspect(args):
    import numpy as np

    from softmax_classifier import model_file
    from softmax_classifier.estimator import load

    if args.model == STDIO:
        raise CommandError("inspect reads a model file by name, not from standard input")
    _, metadata = model_file.load(args.model)
    model = load(args.model)
    top = []
    names = _names(model) or [f"x{j}" for j in range(model.n_features_in_)]
    k = min(args.top, len(names))
    for label, weights in zip(model.classes_, model.coef_, strict=True):
        order = np.argsort(weights, kind="stable")
        top.append(
            {
                "class": label.item() if isinstance(label, np.generic) else label,
                "most_positive": [[names[j], float(weights[j])] for j in order[::-1][:k]],
                "most_negative": [[names[j], float(weights[j])] for j in order[:k]],
            }
        )
    info = {
        "model": str(args.model),
        "file_size_bytes": os.path.getsize(args.model),
        "library_version": metadata["library_version"],
        "format_version": metadata["format_version"],
        "classes": metadata["classes"],
        "class_type": metadata["class_type"],
        "n_classes": len(metadata["classes"]),
        "n_features": metadata["n_features"],
        "n_parameters": int(model.coef_.size + model.intercept_.size),
        "feature_names": metadata["feature_names"],
        "target_name": metadata.get("target_name"),
        "coef_shape": list(model.coef_.shape),
        "dtype": metadata["dtype"],
        "preprocessing": metadata["preprocessing"],
        "hyperparameters": metadata["hyperparameters"],
        "alpha_used": metadata.get("alpha_used"),
        "fit_report": _summarise_report(metadata["fit_report"]),
        "top_features": top,
    }
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    from rich.table import Table

    out = _console()
    table = _key_value_table()
    for key in ("model", "library_version", "format_version", "class_type", "n_classes"):
        table.add_row(key.replace("_", " "), str(info[key]))
    table.add_row("file size", f"{info['file_size_bytes']} bytes")
    table.add_row("classes", _shorten(info["classes"]))
    if info["target_name"] is not None:
        table.add_row("target", info["target_name"])
    table.add_row("features", str(info["n_features"]))
    table.add_row("feature names", _shorten(info["feature_names"] or ["(none)"]))
    table.add_row("coef shape", " x ".join(map(str, info["coef_shape"])))
    table.add_row("parameters", f"{info['n_parameters']} (weights and intercepts)")
    table.add_row("dtype", info["dtype"])
    preprocessing = info["preprocessing"]
    table.add_row(
        "preprocessing",
        "standardised (mean and scale stored)"
        if preprocessing["standardize"] and preprocessing["center"]
        else "scaled, not centred"
        if preprocessing["standardize"]
        else "none",
    )
    params = info["hyperparameters"]
    table.add_row("hyperparameters", ", ".join(f"{k}={v!r}" for k, v in params.items()))
    if info["alpha_used"] is not None:
        table.add_row("alpha used", f"{info['alpha_used']:.6g}")
    for key, value in (info["fit_report"] or {}).items():
        shown = f"{value:.6g}" if isinstance(value, float) else str(value)
        table.add_row(f"fit {key.replace('_', ' ')}", shown)
    _print(out, table)
    if k == 0:
        return 0
    unit = " (per standard deviation)" if preprocessing["standardize"] else ""
    features = Table(title=f"most positive and negative weights{unit}")
    features.add_column("class")
    features.add_column("most positive")
    features.add_column("most negative")
    for entry in top:
        features.add_row(
            str(entry["class"]),
            ", ".join(f"{n} {w:+.3g}" for n, w in entry["most_positive"]),
            ", ".join(f"{n} {w:+.3g}" for n, w in entry["most_negative"]),
        )
    _print(out, features)
    return 0


# ---------------------------------------------------------------------------
# gradcheck
# ---------------------------------------------------------------------------

#: The largest third derivative of ``logsumexp(z) - z_y`` along one logit,
#: ``max_p |p (1 - p) (1 - 2 p)| = sqrt(3) / 18``, at ``p = (3 +- sqrt(3)) / 6``.
_THIRD_DERIVATIVE = math.sqrt(3) / 18
#: Error bounds are multiplied by this before comparing: they are first-order
#: estimates of worst cases, and a factor 2 covers their second-order terms.
_SAFETY = 2.0
#: lambda of the probabilistic rounding bound, see :func:`_grow`.
_ROUNDING_LAMBDA = 6.0


def gradient_check(
    X,
    y,
    *,
    sample_weight=None,
    alpha=0.1,
    n_classes=None,
    seed=0,
    max_entries=2000,
    threshold=None,
    loss_gradient=None,
    gradient_hessian_product=None,
):
    """Compare the analytic gradient and Hessian-vector product with finite differences.

    At a random point ``(coef, intercept)`` each checked entry ``j`` of the
    gradient is compared with the central difference
    ``(f(p + h_j e_j) - f(p - h_j e_j)) / (2 h_j)`` in the dtype of ``X``, and
    the Hessian-vector product along a random direction ``v`` with
    ``(g(p + h v) - g(p - h v)) / (2 h)``. The tolerance of each entry is a
    bound on the error of the difference itself, computed from the data:

    - truncation, ``h^2 / 6 * M3``, with ``M3`` a bound on the third
      derivative along the entry: ``sqrt(3)/18 * sum_i w_i |x_ij|^3 / sum_i w_i``
      for the gradient (the third derivative of the cross-entropy along one
      logit is ``p (1 - p) (1 - 2 p)``), ``3 * sum_i w_i |x_ij| r_i^3 / sum_i w_i``
      for the Hessian product (``r_i`` the range of the logit change of row i);
    - rounding, ``eps_f / h``, with ``eps_f`` a bound on the rounding error of
      one evaluation of the objective (or the gradient) in the data's dtype:
      the unit roundoff times the magnitudes summed (dot products of length
      ``nnz_i``, ``logsumexp`` of ``n_classes`` terms, the mean over ``n`` rows);
    - the rounding of the analytic value itself, bounded in the same way.

    Each step ``h_j`` minimises its truncation plus rounding. An entry fails
    when its error exceeds twice its bound, so the check fails for a wrong
    formula (a missing ``1/n``, a sign, a dropped penalty term) and not for the
    arithmetic of the check, in float64 or float32, dense or sparse.

    Parameters
    ----------
    X : ndarray or scipy.sparse matrix of shape (n_samples, n_features)
        float64 or float32; the check runs in this dtype.
    y : array-like of shape (n_samples,)
        Labels; encoded as ``0 .. n_classes - 1`` in sorted order.
    sample_weight : array-like of shape (n_samples,), optional
        Default: random weights in ``[0.5, 2]`` (so that weighting is checked).
    alpha : float, default=0.1
        L2 penalty strength.
    n_classes : int, optional
        Default: the number of distinct labels (at least 2).
    seed : int, default=0
        Seed of the point, the weights, the direction and the sampled entries.
    max_entries : int, default=2000
        Most gradient entries differenced (a random sample beyond that).
    threshold : float, optional
        If given, pass when both relative errors ``||numeric - analytic|| /
        ||numeric||`` are at most this, instead of the derived bounds.
    loss_gradient, gradient_hessian_product : callable, optional
        The functions checked, with the signatures of
        :func:`softmax_classifier.math.loss_gradient` and
        :func:`softmax_classifier.math.gradient_hessian_product` (the default).

    Returns
    -------
    dict
        ``passed``, ``n_classes``, ``dtype``, ``entries_checked``,
        ``n_parameters``, ``gradient_relative_error``, ``gradient_worst_ratio``
        (largest error / tolerance over the entries; at most 1 passes),
        ``hessian_relative_error``, ``hessian_worst_ratio``, ``threshold``.
    """
    import numpy as np
    import scipy.sparse as sp

    from softmax_classifier import math as sm

    loss_gradient = loss_gradient or sm.loss_gradient
    gradient_hessian_product = gradient_hessian_product or sm.gradient_hessian_product
    dtype = np.dtype(X.dtype)
    if dtype not in (np.float64, np.float32):
        X, dtype = X.astype(np.float64), np.dtype(np.float64)
    X = sp.csr_matrix(X) if sp.issparse(X) else np.asarray(X)
    n_samples, n_features = X.shape
    rng = np.random.default_rng(seed)
    _, y = np.unique(np.asarray(y), return_inverse=True)
    n_classes = max(int(y.max()) + 1, 2) if n_classes is None else int(n_classes)
    if sample_weight is None:
        sample_weight = rng.uniform(0.5, 2.0, size=n_samples)
    weights = np.asarray(sample_weight, dtype=dtype)
    coef = (0.5 * rng.standard_normal((n_classes, n_features))).astype(dtype)
    intercept = (0.5 * rng.standard_normal(n_classes)).astype(dtype)
    params = np.concatenate([coef.ravel(), intercept])
    n_coef = coef.size

    def split(vector):
        return vector[:n_coef].reshape(coef.shape), vector[n_coef:]

    def objective(vector):
        return float(sm.loss(*split(vector), X, y, weights, alpha))

    def gradient(vector):
        _, g_coef, g_intercept = loss_gradient(*split(vector), X, y, weights, alpha)
        return np.concatenate([np.ravel(g_coef), np.ravel(g_intercept)]).astype(np.float64)

    # Magnitudes of the data and the point, in float64, for the error bounds.
    u = float(np.finfo(dtype).eps) / 2
    w = weights.astype(np.float64) / float(np.sum(weights, dtype=np.float64))
    X64 = X.astype(np.float64)
    X_abs = abs(X64)
    nnz = np.diff(X.indptr) if sp.issparse(X) else np.full(n_samples, n_features)
    coef64, intercept64 = coef.astype(np.float64), intercept.astype(np.float64)
    magnitude = np.asarray(X_abs @ np.abs(coef64).T) + np.abs(intercept64)
    logit_size = magnitude.max(axis=1)  # a_i: sum_f |x_if c_kf| + |b_k|, largest over k
    z = np.asarray(X64 @ coef64.T) + intercept64
    cross_entropy = np.abs(_logsumexp_rows(z) - z[np.arange(n_samples), y])
    dot_error = 2 * _grow(nnz + 2) * logit_size  # |d CE / d z|_1 <= 2, times the logits' error
    lse_error = _grow(n_classes + 4) * (np.abs(z).max(axis=1) + math.log(n_classes) + 1)
    eps_f = u * (
        w @ (dot_error + lse_error + _grow(n_samples + 2) * cross_entropy)
        + _grow(params.size + 2) * alpha / 2 * float(np.sum(coef64**2))
    )
    col_abs3 = np.concatenate(
        [np.asarray(w @ X_abs.power(3) if sp.issparse(X) else w @ X_abs**3).ravel(), [1.0]]
    )
    per_row = _grow(n_samples + 2) + _grow(n_classes + 4) + 4 * _grow(nnz + 2) * logit_size
    col_round = np.concatenate([np.asarray((w * per_row) @ X_abs).ravel(), [float(w @ per_row)]])

    def expand(per_column):  # per-feature values -> per-parameter (coef rows, then intercept)
        return np.concatenate(
            [np.tile(per_column[:-1], n_classes), np.repeat(per_column[-1], n_classes)]
        )

    eps_grad = u * expand(col_round) + 2 * u * alpha * np.abs(
        np.concatenate([coef64.ravel(), np.zeros(n_classes)])
    )

    # Gradient entries by central differences, each with its own step.
    analytic = gradient(params)
    entries = np.arange(params.size)
    if params.size > max_entries:
        entries = np.sort(rng.choice(params.size, max_entries, replace=False))
    third = _THIRD_DERIVATIVE * expand(col_abs3)[entries]
    scale = np.maximum(1.0, np.abs(params[entries].astype(np.float64)))
    step = np.cbrt(3 * eps_f / np.maximum(third, 1e-300))
    step = np.clip(step, 64 * u * scale, scale)
    numeric = np.empty(len(entries))
    actual = np.empty(len(entries))
    for i, j in enumerate(entries):
        plus, minus = params.copy(), params.copy()
        plus[j] = params[j] + dtype.type(step[i])
        minus[j] = params[j] - dtype.type(step[i])
        actual[i] = (float(plus[j]) - float(minus[j])) / 2  # the step taken, exactly
        numeric[i] = (objective(plus) - objective(minus)) / (2 * actual[i])
    grad_bound = third * actual**2 / 6 + eps_f / actual + eps_grad[entries]
    grad_diff = np.abs(numeric - analytic[entries])
    grad_ratio = float(np.max(grad_diff / (_SAFETY * grad_bound)))
    grad_error = _relative(numeric - analytic[entries], numeric)

    # Hessian-vector product along a random direction, by central differences of the gradient.
    direction = rng.standard_normal(params.size)
    d_coef, d_intercept = direction[:n_coef].reshape(coef.shape), direction[n_coef:]
    change = np.asarray(X64 @ d_coef.T) + d_intercept
    spread = change.max(axis=1) - change.min(axis=1)  # r_i
    change_size = (np.asarray(X_abs @ np.abs(d_coef).T) + np.abs(d_intercept)).max(axis=1)
    third_h = 3 * expand(
        np.concatenate([np.asarray((w * spread**3) @ X_abs).ravel(), [float(w @ spread**3)]])
    )
    largest_change = np.abs(change).max(axis=1)
    hv_row = (_grow(n_samples + 2) + _grow(n_classes + 4)) * 2 * largest_change + 4 * _grow(
        nnz + 2
    ) * (2 * logit_size * largest_change + change_size)
    eps_hv = u * expand(
        np.concatenate([np.asarray((w * hv_row) @ X_abs).ravel(), [float(w @ hv_row)]])
    )
    eps_hv += 2 * u * alpha * np.abs(np.concatenate([d_coef.ravel(), np.zeros(n_classes)]))
    h = float(np.cbrt(3 * eps_grad.sum() / max(third_h.sum(), 1e-300)))
    h = min(max(h, 64 * u), 1.0 / max(1.0, float(spread.max())))
    plus = (params + h * direction).astype(dtype)
    minus = (params - h * direction).astype(dtype)
    taken = (plus.astype(np.float64) - minus.astype(np.float64)) / (2 * h)  # the direction taken
    hess_numeric = (gradient(plus) - gradient(minus)) / (2 * h)
    _, _, hessp = gradient_hessian_product(coef, intercept, X, y, weights, alpha)
    h_coef, h_intercept = hessp(*(a.astype(dtype) for a in split(taken)))
    hess_analytic = np.concatenate([np.ravel(h_coef), np.ravel(h_intercept)]).astype(np.float64)
    hess_bound = third_h * h**2 / 6 + eps_grad / h + eps_hv + u * np.abs(hess_analytic)
    hess_ratio = float(np.max(np.abs(hess_numeric - hess_analytic) / (_SAFETY * hess_bound)))
    hess_error = _relative(hess_numeric - hess_analytic, hess_numeric)

    if threshold is None:
        passed = grad_ratio <= 1 and hess_ratio <= 1
    else:
        passed = grad_error <= threshold and hess_error <= threshold
    return {
        "passed": bool(passed),
        "n_classes": n_classes,
        "dtype": str(dtype),
        "entries_checked": len(entries),
        "n_parameters": int(params.size),
        "gradient_relative_error": grad_error,
        "gradient_worst_ratio": grad_ratio,
        "hessian_relative_error": hess_error,
        "hessian_worst_ratio": hess_ratio,
        "threshold": threshold,
    }


def _grow(m):
    """Rounding growth of ``m`` operations: ``lambda * sqrt(m)`` unit roundoffs.

    The probabilistic bound of Higham and Mary (SIAM J. Sci. Comput., 2019):
    the worst case grows like ``m``, but errors of independent roundings add
    like a random walk, and ``lambda sqrt(m) u`` bounds them except with
    probability about ``2 exp(-lambda^2 / 2)`` (below 1e-7 for lambda = 6).
    The worst case ``m u`` would hide real errors in float32 sums of many terms.
    """
    import numpy as np

    return _ROUNDING_LAMBDA * np.sqrt(m)


def _logsumexp_rows(z):
    import numpy as np

    top = z.max(axis=1)
    return top + np.log(np.exp(z - top[:, None]).sum(axis=1))


def _relative(difference, reference):
    import numpy as np

    norm = float(np.linalg.norm(reference))
    return (
        float(np.linalg.norm(difference)) / norm if norm > 0 else float(np.linalg.norm(difference))
    )


def _gradcheck(args):
    import numpy as np
    import scipy.sparse as sp

    from softmax_classifier.files import read_data

    dtype = np.float32 if args.float32 else np.float64
    rng = np.random.default_rng(args.seed)
    if args.data:
        with _data_path(args.data, args.format) as (path, format):
            data = read_data(
                path,
                target=args.target,
                format=format,
                require_target=True,
                dtype=dtype,
                **_reading_options(args),
            )
        X = data.X[: args.n_samples]
        y = data.y[: args.n_samples]
        n_classes = None
        source = f"{X.shape[0]} rows of {args.data}"
    else:
        X = rng.standard_normal((args.n_samples, args.n_features))
        if args.sparse:
            X = sp.csr_matrix(X * (rng.random(X.shape) < 0.3))
        n_classes = args.n_classes
        y = rng.integers(0, n_classes, size=args.n_samples)
        source = f"a random {'sparse' if args.sparse else 'dense'} problem"
    result = gradient_check(
        X.astype(dtype),
        y,
        alpha=args.alpha,
        n_classes=n_classes,
        seed=args.seed,
        max_entries=args.max_entries,
        threshold=args.threshold,
    )
    table = _key_value_table()
    table.add_row(
        "problem",
        f"{source}: {result['n_classes']} classes, alpha={args.alpha:g}, weighted, "
        f"{result['dtype']}",
    )
    table.add_row(
        "gradient entries checked", f"{result['entries_checked']} of {result['n_parameters']}"
    )
    table.add_row("gradient relative error", f"{result['gradient_relative_error']:.3e}")
    table.add_row("Hessian-vector relative error", f"{result['hessian_relative_error']:.3e}")
    if args.threshold is None:
        table.add_row(
            "worst error / tolerance",
            f"gradient {result['gradient_worst_ratio']:.3g}, "
            f"Hessian-vector {result['hessian_worst_ratio']:.3g} "
            "(tolerance per entry: truncation and rounding bounds from the data; <= 1 passes)",
        )
    else:
        table.add_row("threshold", f"{args.threshold:.0e} (relative error)")
    table.add_row("result", "PASS" if result["passed"] else "FAIL")
    _print(_console(), table)
    return 0 if result["passed"] else 1


# ---------------------------------------------------------------------------
# shared helpers
# ---------------------------------------------------------------------------


def _console(stderr=False):
    """A rich console that never reads markup (labels and paths are shown as they are).

    When not a terminal it is wide enough never to cut a path or number, and
    :func:`_print` strips the padding of table rows.
    """
    from rich.console import Console

    console = Console(stderr=stderr, markup=False, highlight=False)
    if console.is_terminal:
        return console
    return Console(stderr=stderr, markup=False, highlight=False, width=10_000)


def _print(console, renderable):
    """Print a table; off a terminal without the spaces that pad rows to the table's width."""
    if console.is_terminal:
        console.print(renderable)
        return
    with console.capture() as capture:
        console.print(renderable)
    text = "\n".join(line.rstrip() for line in capture.get().splitlines())
    console.file.write(text + "\n")


def _key_value_table():
    from rich.table import Table

    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    return table


@contextmanager
def _data_path(data, format):
    """``(path, format)`` of DATA; ``-`` is standard input, copied to a temporary file.

    Standard input is CSV unless ``--format`` says otherwise. Errors that name
    the temporary file name standard input instead.
    """
    if data != STDIO:
        yield data, format
        return
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


def _data_name(data, path):
    return "standard input" if data == STDIO else path


def _metrics(model, X, y):
    from softmax_classifier.data import DaskData, StreamingData
    from softmax_classifier.evaluation import MetricsAccumulator, classification_metrics

    if isinstance(X, (StreamingData, DaskData)):  # scored block by block, like it was fitted
        metrics = MetricsAccumulator(model.classes_)
        for X_block, labels in X.labelled_blocks():
            labels = _match_label_type(labels, model.classes_)
            metrics.add(labels, _call(model.predict_log_proba, X_block))
        return metrics.result()
    return classification_metrics(
        _match_label_type(y, model.classes_), _call(model.predict_log_proba, X), model.classes_
    )


def _call(method, X):
    """``method(X)`` for a model method, X already aligned to the model's columns."""
    with warnings.catch_warnings():
        # _align matched the columns to the model's feature names already.
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        return method(X)


def _names(model):
    names = getattr(model, "feature_names_in_", None)
    return None if names is None else [str(n) for n in names]


def _read_for_model(model, path, *, target, format, require_target=False, args=None):
    """Read data to score with ``model``: its feature columns, padded LIBSVM width."""
    from softmax_classifier.files import detect_format, read_data

    names = _names(model)
    kind = format or detect_format(path)
    options = _reading_options(args) if args is not None else {}
    if kind == "libsvm" and "zero_based" not in options and names:
        # A model from a LIBSVM file is named by the file's indices ("0" first when it
        # was zero-based): read new files the same way, even if they lack index 0.
        if str(names[0]) in ("0", "1"):
            options["zero_based"] = str(names[0]) == "0"
    if kind not in ("csv", "parquet"):
        names = None  # columns without names: matched by count in _align
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


def _align(names, n_features, data):
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


def _match_label_type(y, classes):
    """Labels read from a file, converted to the type of the model's classes when lossless."""
    import numpy as np

    y = np.asarray(y)
    if classes.dtype.kind in "US" and y.dtype.kind not in "US":
        return y.astype(str)
    if classes.dtype.kind in "iu" and y.dtype.kind == "f" and np.all(y == np.round(y)):
        return y.astype(np.int64)
    return y


def _split(X, y, test_size, seed):
    import numpy as np
    from sklearn.model_selection import train_test_split

    _, counts = np.unique(y, return_counts=True)
    stratify = y if counts.min() >= 2 else None
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=test_size, random_state=seed, stratify=stratify
    )
    return (X_train, y_train), (X_test, y_test)


def _split_names(text):
    return None if text is None else [name.strip() for name in text.split(",") if name.strip()]


def _unit(model):
    return "epoch" if model.solver in ("sgd", "adam") else "iteration"


def _summarise_report(report):
    if report is None:
        return None
    history = report.get("objective_history") or [float("nan")]
    keys = (
        "solver",
        "solver_reason",
        "stop_reason",
        "message",
        "n_iter",
        "grad_norm",
        "n_passes",
        "time_seconds",
    )
    return {**{k: report.get(k) for k in keys}, "final_objective": history[-1]}


def _shorten(values, limit=12):
    values = [str(v) for v in values]
    more = f", ... ({len(values)} in all)" if len(values) > limit else ""
    return ", ".join(values[:limit]) + more


def _write_csv(stream, header, rows):
    """CSV with LF line ends (``csv``'s default is CRLF), as shell tools expect."""
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_csv_value(v) for v in row])


def _csv_value(value):
    import numpy as np

    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    return value.item() if isinstance(value, np.generic) else value


# ---------------------------------------------------------------------------
# argument parsing
# ---------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (``softmax: error: ...``), exit status 2."""

    def error(self, message):
        raise _UsageError(f"{message} (see '{self.prog} --help' for usage)")


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
    from softmax_classifier._version import __version__
    from softmax_classifier.estimator import SOLVER_NAMES
    from softmax_classifier.files import FORMATS

    parser = _Parser(
        prog="softmax",
        description="Softmax classifier (multinomial logistic regression) from the shell: "
        "train on CSV, Parquet, LIBSVM or npz files, then predict, evaluate and inspect.",
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
        sub.set_defaults(run=run)
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

    def solver_options(sub):
        sub.add_argument(
            "--solver",
            choices=SOLVER_NAMES,
            default="auto",
            help="solver (auto: lbfgs for dense data, newton-cg for sparse)",
        )
        sub.add_argument(
            "--alpha",
            type=_alpha,
            default="auto",
            help="L2 penalty strength (>= 0), or auto: 1 / sum of the weights, "
            "scikit-learn's C = 1",
        )
        sub.add_argument(
            "--seed", type=_integer(0), default=0, help="seed for splits and shuffling"
        )
        sub.add_argument("--quiet", action="store_true", help="no progress display")

    train = command("train", "train a model on a data file", _train)
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

    predict = command("predict", "predict labels (and probabilities) for a data file", _predict)
    predict.add_argument("model", help="model file written by 'softmax train'")
    predict.add_argument(
        "data",
        help="data file with the model's features; '-' reads standard input (CSV, or --format)",
    )
    predict.add_argument("--target", help="label column to ignore if the file has one")
    data_format(predict)
    reading(predict)
    predict.add_argument("--proba", action="store_true", help="add a probability column per class")
    predict.add_argument(
        "--top-k",
        type=_integer(0),
        default=0,
        help="add the K most probable labels and probabilities",
    )
    predict.add_argument(
        "-o",
        "--output",
        metavar="CSV",
        help="CSV file to write, replaced atomically ('-' or none: standard output)",
    )

    evaluate = command("evaluate", "score a model on labelled data", _evaluate)
    evaluate.add_argument("model", help="model file written by 'softmax train'")
    evaluate.add_argument(
        "data", help="labelled data file; '-' reads standard input (CSV, or --format)"
    )
    evaluate.add_argument(
        "--target",
        help="label column (CSV/Parquet; default: the one the model was trained with)",
    )
    data_format(evaluate)
    reading(evaluate)
    evaluate.add_argument("--json", action="store_true", help="print the metrics as JSON")
    evaluate.add_argument(
        "--figure",
        metavar="PATH",
        help="draw the confusion matrix to this image file (default: no figure)",
    )

    inspect_ = command("inspect", "describe a model file", _inspect)
    inspect_.add_argument("model", help="model file written by 'softmax train'")
    inspect_.add_argument(
        "--top", type=_integer(0), default=5, help="features listed per class (0: none)"
    )
    inspect_.add_argument("--json", action="store_true", help="print the description as JSON")

    gradcheck = command(
        "gradcheck",
        "check the analytic gradient and Hessian-vector product against finite differences",
        _gradcheck,
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

    demo = command(
        "demo", "train on scikit-learn's bundled digits and report (what 'make demo' runs)", _demo
    )
    solver_options(demo)
    demo.add_argument(
        "--output-dir", default="softmax-demo", help="folder for the model and figures"
    )
    return parser


# ---------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------


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
        except _UsageError as error:
            print(f"softmax: error: {_one_line(error)}", file=sys.stderr)
            return EXIT_ERROR
        except SystemExit as exit:  # --help, --version
            return exit.code if isinstance(exit.code, int) else 0
        from softmax_classifier.data import DaskFitError
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
    except DaskFitError as error:
        if args.debug:
            raise
        print(f"softmax: error: the Dask cluster failed: {_one_line(error)}", file=sys.stderr)
        return EXIT_CLUSTER
    except (ValueError, OSError) as error:
        # Bad data, bad model files, feature mismatches, unwritable outputs: the
        # user's to fix, said in one line.
        if args.debug:
            raise
        print(f"softmax: error: {_one_line(error)}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as error:
        if args.debug:
            raise
        print(
            f"softmax: internal error: {type(error).__name__}: {_one_line(error)} "
            "(run with --debug for the traceback, and please report it)",
            file=sys.stderr,
        )
        return 1


def _one_line(error):
    text = str(error) or type(error).__name__
    return " ".join(text.split())


if __name__ == "__main__":
    sys.exit(main())
