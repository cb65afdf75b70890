"""The ``softmax`` command: train, predict, evaluate, inspect, gradcheck and demo.

Every subcommand reads data files (:mod:`softmax_classifier.files`), uses the
estimator and its model files, and reports with ``rich``. A problem the user can
act on (a missing column, a bad file, a feature mismatch) ends with exit status 2
and one line on stderr; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import sys
import threading
import warnings
from contextlib import contextmanager, nullcontext
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from softmax_classifier import math as sm
from softmax_classifier import model_file, plots
from softmax_classifier._version import __version__
from softmax_classifier.data import DaskData, DaskFitError, StreamingData
from softmax_classifier.estimator import (
    SOLVER_NAMES,
    SoftmaxClassifier,
    default_max_iter,
    load,
)
from softmax_classifier.evaluation import MetricsAccumulator, classification_metrics
from softmax_classifier.files import FORMATS, detect_format, read_data
from softmax_classifier.solvers import choose_solver

__all__ = ["build_parser", "main"]

EXIT_ERROR = 2
EXIT_CLUSTER = 3
EXIT_INTERRUPTED = 130


class CommandError(ValueError):
    """A problem with the command's input that the user can fix; exit status 2."""


# ---------------------------------------------------------------------------
# train / demo
# ---------------------------------------------------------------------------


def _train(args):
    dtype = np.float32 if args.float32 else np.float64
    if args.resume and not args.checkpoint_dir:
        raise CommandError("--resume needs --checkpoint-dir: where the checkpoint is")
    if args.stream or args.scheduler is not None or args.dask_workers is not None:
        return _train_source(args, dtype)
    if args.test_size is None:
        args.test_size = 0.2
    train = read_data(
        args.data,
        target=args.target,
        features=_split_names(args.features),
        format=args.format,
        dtype=dtype,
        require_target=True,
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
        )
        test_xy = (_align(train.feature_names, train.X.shape[1], test), test.y)
        train_xy = (train.X, train.y)
    elif args.test_size > 0:
        train_xy, test_xy = _split(train.X, train.y, args.test_size, args.seed)
    else:
        train_xy, test_xy = (train.X, train.y), None
    model = _model_from_args(args)
    image_shape = plots.parse_image_shape(args.image_shape) if args.image_shape else None
    return _fit_and_report(
        model,
        train_xy,
        test_xy,
        feature_names=train.feature_names,
        output=Path(args.output),
        run_dir=Path(args.run_dir) if args.run_dir else None,
        image_shape=image_shape,
        quiet=args.quiet,
        source=args.data,
        resume=args.resume,
    )


def _train_source(args, dtype):
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
    if args.block_rows < 1:
        raise CommandError(f"--block-rows must be positive; got {args.block_rows}")
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
        return _fit_source_and_report(args, train, test, where)


def _stream_reader(args, dtype):
    """``read(path, format, features, n_features=None)`` -> StreamingData."""
    options = {"dtype": dtype, "block_rows": args.block_rows}

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
    if args.dask_workers < 1:
        raise CommandError(f"--dask-workers must be at least 1; got {args.dask_workers}")
    with (
        distributed.LocalCluster(
            n_workers=args.dask_workers, processes=True, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster, timeout=args.dask_timeout) as client,
    ):
        yield client


def _model_from_args(args):
    """The estimator ``softmax train``'s options describe."""
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
        standardize=not args.no_standardize,
        checkpoint_dir=args.checkpoint_dir,
        checkpoint_every=args.checkpoint_every,
    )


def _fit_source_and_report(args, train, test, where):
    model = _model_from_args(args)
    image_shape = plots.parse_image_shape(args.image_shape) if args.image_shape else None
    return _fit_and_report(
        model,
        (train, None),
        None if test is None else (test, None),
        feature_names=train.feature_names,
        output=Path(args.output),
        run_dir=Path(args.run_dir) if args.run_dir else None,
        image_shape=image_shape,
        quiet=args.quiet,
        source=where,
        resume=args.resume,
    )


def _demo(args):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=args.seed
    )
    output_dir = Path(args.output_dir)
    model = SoftmaxClassifier(
        alpha=args.alpha, solver=args.solver, random_state=args.seed, standardize=True
    )
    return _fit_and_report(
        model,
        (X_train, y_train),
        (X_test, y_test),
        feature_names=[f"pixel_{r}_{c}" for r in range(8) for c in range(8)],
        output=output_dir / "model.safetensors",
        run_dir=output_dir / "run",
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
):
    """Fit with progress and Ctrl-C handling, save, write the run folder, print a summary."""
    out, err = _console(), _console(stderr=True)
    X, y = train_xy
    if image_shape is not None and np.prod(image_shape) != X.shape[1]:
        raise CommandError(
            f"--image-shape {image_shape[0]}x{image_shape[1]} has {np.prod(image_shape)} "
            f"pixels but the data has {X.shape[1]} features"
        )
    err.print(
        f"training on {X.shape[0]} rows x {X.shape[1]} features from {source} "
        f"({model.solver}, alpha={model.alpha:g})",
        highlight=False,
    )
    interrupted = _fit_with_progress(model, X, y, err, quiet=quiet, resume=resume)
    if feature_names is not None:
        model.feature_names_in_ = np.asarray(feature_names, dtype=object)
    output.parent.mkdir(parents=True, exist_ok=True)
    model.save(output)

    metrics = {"train": _metrics(model, X, y)}
    if test_xy is not None:
        metrics["test"] = _metrics(model, *test_xy)
    report = model.fit_report_
    run_dir = run_dir or output.with_name(output.stem + "_run")
    run_dir.mkdir(parents=True, exist_ok=True)
    document = {**metrics, "fit_report": report.as_dict(), "model": str(output)}
    (run_dir / "metrics.json").write_text(json.dumps(document, indent=2) + "\n")
    plots.plot_loss_curve(report.objective_history, run_dir / "loss_curve.png", xlabel=_unit(model))
    shown = metrics.get("test", metrics["train"])
    plots.plot_confusion_matrix(
        np.asarray(shown["confusion_matrix"]),
        [str(label) for label in shown["labels"]],
        run_dir / "confusion_matrix.png",
        title=f"Confusion matrix ({'test' if 'test' in metrics else 'train'})",
    )
    if image_shape is not None:
        plots.plot_weights(
            model.coef_, image_shape, [str(c) for c in model.classes_], run_dir / "weights.png"
        )

    table = _key_value_table()
    for split, values in metrics.items():
        table.add_row(f"{split} accuracy", f"{values['accuracy']:.4f}")
        table.add_row(f"{split} log-loss", f"{values['log_loss']:.6f}")
    table.add_row("final loss", f"{report.objective_history[-1]:.6f}")
    table.add_row("stop reason", f"{report.stop_reason} ({report.message})")
    table.add_row(_unit(model) + "s", str(report.n_iter))
    table.add_row("fit time", f"{report.time_seconds:.3f} s")
    table.add_row("model", str(output))
    table.add_row("figures", str(run_dir))
    out.print(table, highlight=False)
    if interrupted:
        err.print(
            f"interrupted: stopped after {report.n_iter} {_unit(model)}s and wrote that model "
            f"to {output}",
            highlight=False,
        )
        return EXIT_INTERRUPTED
    return 0


def _fit_with_progress(model, X, y, console, *, quiet, resume=False):
    """Fit ``model`` with a progress bar; Ctrl-C stops after the current iteration.

    Returns True when the fit was interrupted (the model then holds the last
    parameters the solver reported). A second Ctrl-C aborts at once.
    """
    solver = model.solver
    if solver == "auto":
        n_classes = len(X.classes) if y is None else len(np.unique(y))
        solver = choose_solver(X, n_classes, model.fit_intercept)[0]
    total = model.max_iter or default_max_iter(solver)
    columns = [
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("objective {task.fields[objective]}"),
        TextColumn("max|grad| {task.fields[grad]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    ]
    stop = threading.Event()
    with (
        _StopOnInterrupt(stop),
        Progress(*columns, console=console, disable=quiet) as progress,
        warnings.catch_warnings(record=True) as caught,
    ):
        warnings.simplefilter("always")
        task = progress.add_task(_unit(model), total=total, objective="-", grad="-")

        def callback(info):
            progress.update(
                task,
                completed=info.iteration,
                objective=f"{info.objective:.6g}",
                grad=f"{info.grad_norm:.2e}",
            )
            return stop.is_set()

        model.fit(X, y, callback=callback, resume=resume)
        progress.update(task, total=max(model.n_iter_, 1), completed=model.n_iter_)
    for warning in caught:
        console.print(f"softmax: warning: {warning.message}", highlight=False)
    return stop.is_set()


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
    model = load(args.model)
    data = _read_for_model(model, args.data, target=args.target, format=args.format)
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
    if args.output:
        with open(args.output, "w", newline="") as stream:
            _write_csv(stream, header, rows)
        _console(stderr=True).print(
            f"wrote {X.shape[0]} predictions to {args.output}", highlight=False
        )
    else:
        _write_csv(sys.stdout, header, rows)
    return 0


def _evaluate(args):
    model = load(args.model)
    data = _read_for_model(
        model, args.data, target=args.target, format=args.format, require_target=True
    )
    X = _align(_names(model), model.n_features_in_, data)
    metrics = _metrics(model, X, data.y)
    if not args.no_figure:
        plots.plot_confusion_matrix(
            np.asarray(metrics["confusion_matrix"]),
            [str(label) for label in metrics["labels"]],
            args.figure,
        )
    if args.json:
        print(json.dumps(metrics, indent=2))
        return 0
    out = _console()
    summary = _key_value_table()
    summary.add_row("rows", str(metrics["n_samples"]))
    summary.add_row("accuracy", f"{metrics['accuracy']:.4f}")
    summary.add_row("log-loss", f"{metrics['log_loss']:.6f}")
    summary.add_row("calibration error (ECE)", f"{metrics['expected_calibration_error']:.4f}")
    out.print(summary, highlight=False)
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
    out.print(per_class)
    labels = [str(label) for label in metrics["labels"]]
    if len(labels) <= 20:
        matrix = Table(title="confusion matrix (rows: true, columns: predicted)")
        matrix.add_column("")
        for label in labels:
            matrix.add_column(label, justify="right")
        for label, counts in zip(labels, metrics["confusion_matrix"], strict=True):
            matrix.add_row(label, *map(str, counts))
        out.print(matrix)
    if not args.no_figure:
        out.print(f"confusion matrix figure: {args.figure}", highlight=False)
    return 0


def _inspect(args):
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
        "library_version": metadata["library_version"],
        "format_version": metadata["format_version"],
        "classes": metadata["classes"],
        "class_type": metadata["class_type"],
        "n_classes": len(metadata["classes"]),
        "n_features": metadata["n_features"],
        "feature_names": metadata["feature_names"],
        "coef_shape": list(model.coef_.shape),
        "dtype": metadata["dtype"],
        "preprocessing": metadata["preprocessing"],
        "hyperparameters": metadata["hyperparameters"],
        "fit_report": _summarise_report(metadata["fit_report"]),
        "top_features": top,
    }
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    out = _console()
    table = _key_value_table()
    for key in ("model", "library_version", "format_version", "class_type", "n_classes"):
        table.add_row(key.replace("_", " "), str(info[key]))
    table.add_row("classes", _shorten(info["classes"]))
    table.add_row("features", str(info["n_features"]))
    table.add_row("feature names", _shorten(info["feature_names"] or ["(none)"]))
    table.add_row("coef shape", " x ".join(map(str, info["coef_shape"])))
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
    for key, value in (info["fit_report"] or {}).items():
        shown = f"{value:.6g}" if isinstance(value, float) else str(value)
        table.add_row(f"fit {key.replace('_', ' ')}", shown)
    out.print(table, highlight=False)
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
    out.print(features, highlight=False)
    return 0


# ---------------------------------------------------------------------------
# gradcheck
# ---------------------------------------------------------------------------


def _gradcheck(args):
    rng = np.random.default_rng(args.seed)
    if args.data:
        data = read_data(args.data, target=args.target, format=args.format, require_target=True)
        X = data.X[: args.n_samples]
        _, y = np.unique(data.y[: args.n_samples], return_inverse=True)
        n_classes = max(int(y.max()) + 1, 2)
        source = f"{X.shape[0]} rows of {args.data}"
    else:
        X = rng.standard_normal((args.n_samples, args.n_features))
        if args.sparse:
            X = sp.csr_matrix(X * (rng.random(X.shape) < 0.3))
        n_classes = args.n_classes
        y = rng.integers(0, n_classes, size=args.n_samples)
        source = f"a random {'sparse' if args.sparse else 'dense'} problem"
    X = X.astype(np.float64)
    weights = rng.uniform(0.5, 2.0, size=X.shape[0])
    coef = 0.5 * rng.standard_normal((n_classes, X.shape[1]))
    intercept = 0.5 * rng.standard_normal(n_classes)
    params = np.concatenate([coef.ravel(), intercept])

    def split(vector):
        return vector[: coef.size].reshape(coef.shape), vector[coef.size :]

    def objective(vector):
        return sm.loss(*split(vector), X, y, weights, args.alpha)

    def gradient(vector):
        _, g_coef, g_intercept = sm.loss_gradient(*split(vector), X, y, weights, args.alpha)
        return np.concatenate([g_coef.ravel(), g_intercept])

    analytic = gradient(params)
    entries = np.arange(params.size)
    if params.size > args.max_entries:
        entries = np.sort(rng.choice(params.size, args.max_entries, replace=False))
    numeric = np.empty(len(entries))
    for i, j in enumerate(entries):
        step = 1e-6 * max(1.0, abs(params[j]))
        plus, minus = params.copy(), params.copy()
        plus[j] += step
        minus[j] -= step
        numeric[i] = (objective(plus) - objective(minus)) / (2 * step)
    grad_error = np.linalg.norm(numeric - analytic[entries]) / np.linalg.norm(numeric)

    direction = rng.standard_normal(params.size)
    _, _, hessp = sm.gradient_hessian_product(*split(params), X, y, weights, args.alpha)
    h_coef, h_intercept = hessp(*split(direction))
    hess_analytic = np.concatenate([h_coef.ravel(), h_intercept])
    step = 1e-5
    hess_numeric = (gradient(params + step * direction) - gradient(params - step * direction)) / (
        2 * step
    )
    hess_error = np.linalg.norm(hess_numeric - hess_analytic) / np.linalg.norm(hess_numeric)

    passed = grad_error <= args.threshold and hess_error <= args.threshold
    table = _key_value_table()
    table.add_row("problem", f"{source}: {n_classes} classes, alpha={args.alpha:g}, weighted")
    table.add_row("gradient entries checked", f"{len(entries)} of {params.size}")
    table.add_row("gradient relative error", f"{grad_error:.3e}")
    table.add_row("Hessian-vector relative error", f"{hess_error:.3e}")
    table.add_row("threshold", f"{args.threshold:.0e}")
    table.add_row("result", "PASS" if passed else "FAIL")
    _console().print(table, highlight=False)
    return 0 if passed else 1


# ---------------------------------------------------------------------------
# shared helpers
# ---------------------------------------------------------------------------


def _console(stderr=False):
    """A rich console; when not a terminal, wide enough never to cut a path or number."""
    console = Console(stderr=stderr)
    return console if console.is_terminal else Console(stderr=stderr, width=10_000)


def _key_value_table():
    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    return table


def _metrics(model, X, y):
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


def _read_for_model(model, path, *, target, format, require_target=False):
    """Read data to score with ``model``: its feature columns, padded LIBSVM width."""
    names = _names(model)
    kind = format or detect_format(path)
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
    y = np.asarray(y)
    if classes.dtype.kind in "US" and y.dtype.kind not in "US":
        return y.astype(str)
    if classes.dtype.kind in "iu" and y.dtype.kind == "f" and np.all(y == np.round(y)):
        return y.astype(np.int64)
    return y


def _split(X, y, test_size, seed):
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
    writer = csv.writer(stream)
    writer.writerow(header)
    for row in rows:
        writer.writerow([_csv_value(v) for v in row])


def _csv_value(value):
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    return value.item() if isinstance(value, np.generic) else value


# ---------------------------------------------------------------------------
# argument parsing
# ---------------------------------------------------------------------------


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Show ``(default: ...)`` unless the help already says it or there is none to show."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "default" in text or action.required or action.default in (None, False):
            return text
        return super()._get_help_string(action)


def build_parser():
    """The argument parser of the ``softmax`` command.

    Returns
    -------
    argparse.ArgumentParser
    """
    parser = argparse.ArgumentParser(
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
            help="file format (default: from the file extension; a directory is Parquet)",
        )

    def solver_options(sub):
        sub.add_argument("--solver", choices=SOLVER_NAMES, default="lbfgs", help="solver")
        sub.add_argument("--alpha", type=float, default=1e-3, help="L2 penalty strength")
        sub.add_argument("--seed", type=int, default=0, help="seed for splits and shuffling")
        sub.add_argument("--quiet", action="store_true", help="no progress bar")

    train = command("train", "train a model on a data file", _train)
    train.add_argument("data", help="training data: .csv, .parquet (or a directory), LIBSVM, .npz")
    train.add_argument(
        "--target", help="label column (CSV/Parquet; LIBSVM and npz carry their labels)"
    )
    train.add_argument("--features", help="comma-separated feature columns (default: all others)")
    data_format(train)
    test = train.add_mutually_exclusive_group()
    test.add_argument("--test", help="held-out data file to report test metrics on")
    test.add_argument(
        "--test-size",
        type=float,
        default=None,
        help="fraction of the data held out for testing when --test is not given "
        "(default 0.2; 0: none; not with --stream)",
    )
    data_format(train, "--test-format")
    train.add_argument("-o", "--output", required=True, metavar="MODEL", help="model file to write")
    train.add_argument(
        "--run-dir", help="folder for metrics.json and figures (default: MODEL_run next to it)"
    )
    solver_options(train)
    train.add_argument(
        "--max-iter", type=int, default=None, help="iterations/epochs (default: the solver's)"
    )
    train.add_argument("--tol", type=float, default=1e-5, help="stop when max|gradient| <= tol")
    train.add_argument("--batch-size", type=int, default=32, help="mini-batch size (sgd, adam)")
    train.add_argument(
        "--learning-rate",
        type=_learning_rate,
        default="auto",
        help="step size (gd, sgd, adam) or 'auto'",
    )
    train.add_argument("--momentum", type=float, default=0.0, help="momentum of sgd")
    train.add_argument(
        "--class-weight",
        choices=["balanced"],
        default=None,
        help="weight classes inversely to their frequency",
    )
    train.add_argument(
        "--no-standardize",
        action="store_true",
        help="do not standardise features (by default dense data is centred and scaled, "
        "sparse data scaled; the statistics are stored in the model)",
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
        type=int,
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
        type=int,
        default=65536,
        help="rows per batch read with --stream",
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
        type=int,
        metavar="N",
        help="fit on a Dask cluster of N worker processes started on this machine",
    )
    train.add_argument(
        "--dask-timeout",
        type=float,
        default=30.0,
        help="seconds to wait for the Dask scheduler, on connecting and after losing it",
    )

    predict = command("predict", "predict labels (and probabilities) for a data file", _predict)
    predict.add_argument("model", help="model file written by 'softmax train'")
    predict.add_argument("data", help="data file with the model's features")
    predict.add_argument("--target", help="label column to ignore if the file has one")
    data_format(predict)
    predict.add_argument("--proba", action="store_true", help="add a probability column per class")
    predict.add_argument(
        "--top-k", type=int, default=0, help="add the K most probable labels and probabilities"
    )
    predict.add_argument(
        "-o", "--output", metavar="CSV", help="CSV file to write (default: standard output)"
    )

    evaluate = command("evaluate", "score a model on labelled data", _evaluate)
    evaluate.add_argument("model", help="model file written by 'softmax train'")
    evaluate.add_argument("data", help="labelled data file")
    evaluate.add_argument("--target", help="label column (CSV/Parquet)")
    data_format(evaluate)
    evaluate.add_argument("--json", action="store_true", help="print the metrics as JSON")
    evaluate.add_argument(
        "--figure", default="confusion_matrix.png", help="where to draw the confusion matrix"
    )
    evaluate.add_argument("--no-figure", action="store_true", help="do not draw the figure")

    inspect_ = command("inspect", "describe a model file", _inspect)
    inspect_.add_argument("model", help="model file written by 'softmax train'")
    inspect_.add_argument("--top", type=int, default=5, help="features listed per class")
    inspect_.add_argument("--json", action="store_true", help="print the description as JSON")

    gradcheck = command(
        "gradcheck",
        "check the analytic gradient and Hessian-vector product against finite differences",
        _gradcheck,
    )
    gradcheck.add_argument("--data", help="use rows of this data file instead of random data")
    gradcheck.add_argument("--target", help="label column of --data (CSV/Parquet)")
    data_format(gradcheck)
    gradcheck.add_argument("--n-samples", type=int, default=50, help="rows used")
    gradcheck.add_argument("--n-features", type=int, default=8, help="features (random data)")
    gradcheck.add_argument("--n-classes", type=int, default=4, help="classes (random data)")
    gradcheck.add_argument("--sparse", action="store_true", help="random sparse data")
    gradcheck.add_argument("--alpha", type=float, default=0.1, help="L2 penalty strength")
    gradcheck.add_argument("--seed", type=int, default=0, help="random seed")
    gradcheck.add_argument(
        "--max-entries", type=int, default=2000, help="most gradient entries to difference"
    )
    gradcheck.add_argument(
        "--threshold", type=float, default=1e-6, help="largest relative error that passes"
    )

    demo = command(
        "demo", "train on scikit-learn's bundled digits and report (what 'make demo' runs)", _demo
    )
    solver_options(demo)
    demo.add_argument(
        "--output-dir", default="softmax-demo", help="folder for the model and figures"
    )
    return parser


def _learning_rate(text):
    if text == "auto":
        return text
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'auto', got {text!r}") from None


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
    args = build_parser().parse_args(argv)
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
