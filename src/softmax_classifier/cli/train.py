"""``softmax train`` and ``softmax demo``: fit, report, write the model and its run folder.

Rows are read into memory (CSV, Parquet, LIBSVM, npz), or left where they are:
streamed from the file (``--stream``) or read by the workers of a Dask cluster
(``--scheduler``/``--dask-workers``). Either way the estimator fits them, the
progress display follows the fit (:mod:`._progress`), and the model and its run
folder are written together (:mod:`._run_folder`).
"""

from __future__ import annotations

from contextlib import contextmanager, nullcontext
from pathlib import Path

from softmax_classifier.cli._common import (
    EXIT_INTERRUPTED,
    STDIO,
    CommandError,
    align,
    console,
    key_value_table,
    metrics,
    one_line,
    print_table,
    reading_options,
    shorten,
    split_names,
    unit,
)
from softmax_classifier.cli._progress import fit_with_progress
from softmax_classifier.cli._run_folder import check_outputs, write_model_and_run

__all__ = ["demo", "train"]


def train(args):
    """``softmax train``: the command's arguments -> exit status (0, or 130 interrupted).

    Parameters
    ----------
    args : argparse.Namespace
        As parsed by :func:`softmax_classifier.cli.build_parser`.

    Returns
    -------
    int
    """
    import numpy as np
    import scipy.sparse as sp

    from softmax_classifier import plots
    from softmax_classifier.io import read_data

    dtype = np.float32 if args.float32 else np.float64
    if args.resume and not args.checkpoint_dir:
        raise CommandError("--resume needs --checkpoint-dir: where the checkpoint is")
    output, run_dir = _train_outputs(args)
    image_shape = plots.parse_image_shape(args.image_shape) if args.image_shape else None
    if args.stream or args.scheduler is not None or args.dask_workers is not None:
        return _train_source(args, dtype, output, run_dir, image_shape)
    if args.test_size is None:
        args.test_size = 0.2
    data = read_data(
        args.data,
        target=args.target,
        features=split_names(args.features),
        format=args.format,
        dtype=dtype,
        require_target=True,
        **reading_options(args),
    )
    test_xy = None
    if args.test is not None:
        test = read_data(
            args.test,
            target=args.target,
            features=data.feature_names,
            format=args.test_format,
            dtype=dtype,
            n_features=data.X.shape[1],
            require_target=True,
            **reading_options(args),
        )
        _check_test_labels(np.unique(data.y), np.unique(test.y), args.test)
        test_xy = (align(data.feature_names, data.X.shape[1], test), test.y)
        train_xy = (data.X, data.y)
    elif args.test_size > 0:
        train_xy, test_xy = _split(data.X, data.y, args.test_size, args.seed)
    else:
        train_xy = (data.X, data.y)
    model = _model_from_args(args, sparse=sp.issparse(data.X))
    return _fit_and_report(
        model,
        train_xy,
        test_xy,
        feature_names=data.feature_names,
        output=output,
        run_dir=run_dir,
        image_shape=image_shape,
        quiet=args.quiet,
        source=args.data,
        resume=args.resume,
        target=None if data.format in ("libsvm", "npz") else args.target,
    )


def demo(args):
    """``softmax demo``: scikit-learn's digits, 25% held out; -> exit status.

    Parameters
    ----------
    args : argparse.Namespace
        As parsed by :func:`softmax_classifier.cli.build_parser`.

    Returns
    -------
    int
    """
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
    check_outputs(output, run_dir)
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


def _train_outputs(args):
    """``(model path, run folder)`` of ``softmax train``, checked before any work is done."""
    if args.output == STDIO:
        raise CommandError("-o must name a model file: a model cannot be written to stdout")
    output = Path(args.output)
    run_dir = Path(args.run_dir) if args.run_dir else output.with_name(output.stem + "_run")
    check_outputs(output, run_dir)
    return output, run_dir


def _check_test_labels(train_classes, test_classes, path):
    """Labels of the ``--test`` file that training never saw are an error, before the fit."""
    import numpy as np

    unseen = np.setdiff1d(np.asarray(test_classes), np.asarray(train_classes))
    if unseen.size:
        raise CommandError(
            f"{path} has labels the training data does not have: {shorten(unseen, 5)}; "
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
        data = source(args.data, args.format, split_names(args.features))
        test = None
        if args.test is not None:
            # A LIBSVM test file is read as wide as the training data.
            test = source(args.test, args.test_format, data.feature_names, data.n_features)
            if hasattr(data, "classes") and hasattr(test, "classes"):
                _check_test_labels(data.classes, test.classes, args.test)
        model = _model_from_args(args, sparse=bool(getattr(data, "is_sparse", False)))
        return _fit_and_report(
            model,
            (data, None),
            None if test is None else (test, None),
            feature_names=data.feature_names,
            output=output,
            run_dir=run_dir,
            image_shape=image_shape,
            quiet=args.quiet,
            source=where,
            resume=args.resume,
            target=None if getattr(data, "is_sparse", False) else args.target,
        )


def _stream_reader(args, dtype):
    """``read(path, format, features, n_features=None)`` -> StreamingData."""
    from softmax_classifier.data import StreamingData
    from softmax_classifier.io import detect_format

    options = {"dtype": dtype, **reading_options(args, stream=True)}
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
    from softmax_classifier.io import detect_format

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
                f"cannot reach the Dask scheduler at {args.scheduler}: {one_line(error)}"
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

    The outputs were checked before (:func:`check_outputs`); the model and its
    run folder are written together by :func:`write_model_and_run`.
    """
    import numpy as np

    out, err = console(), console(stderr=True)
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
    interrupted = fit_with_progress(model, X, y, err, quiet=quiet, resume=resume)
    if feature_names is not None:
        model.feature_names_in_ = np.asarray(feature_names, dtype=object)
    if target is not None:
        # Stored in the model file where the estimator keeps it (evaluate's default --target).
        model.target_name_ = str(target)

    scores = {"train": metrics(model, X, y)}
    if test_xy is not None:
        scores["test"] = metrics(model, *test_xy)
    report = model.fit_report_
    write_model_and_run(model, output, run_dir, scores, image_shape)

    steps = unit(report.solver)
    if interrupted:
        stop = f"interrupted (Ctrl-C after {report.n_iter} {steps}s)"
    else:
        stop = f"{report.stop_reason} ({report.message})"
    table = key_value_table()
    for split, values in scores.items():
        table.add_row(f"{split} accuracy", f"{values['accuracy']:.4f}")
        table.add_row(f"{split} log-loss", f"{values['log_loss']:.6f}")
    table.add_row("final loss", f"{report.objective_history[-1]:.6f}")
    table.add_row("stop reason", stop)
    table.add_row(steps + "s", str(report.n_iter))
    table.add_row("fit time", f"{report.time_seconds:.3f} s")
    table.add_row("model", str(output))
    table.add_row("figures", str(run_dir))
    print_table(out, table)
    if interrupted:
        err.print(
            f"interrupted: stopped after {report.n_iter} {steps}s and wrote that model to {output}"
        )
        return EXIT_INTERRUPTED
    return 0


def _split(X, y, test_size, seed):
    """A stratified train/test split (plain when a class has a single row)."""
    import numpy as np
    from sklearn.model_selection import train_test_split

    _, counts = np.unique(y, return_counts=True)
    stratify = y if counts.min() >= 2 else None
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=test_size, random_state=seed, stratify=stratify
    )
    return (X_train, y_train), (X_test, y_test)
