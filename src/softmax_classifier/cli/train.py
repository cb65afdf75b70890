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
from softmax_classifier.cli._sparsity import add_sparsity_rows, describe_sparsity

__all__ = ["demo", "train"]


def train(args):
    """``softmax train ARGS`` -> exit status 0, or 130 when Ctrl-C stopped the fit.

    Reads DATA (and ``--test``) into memory, or opens it as a streamed or Dask
    source; fits, scores, writes the model and its run folder.
    """
    import numpy as np

    from softmax_classifier import plots

    dtype = np.float32 if args.float32 else np.float64
    if args.resume and not args.checkpoint_dir:
        raise CommandError("--resume needs --checkpoint-dir: where the checkpoint is")
    # The estimator's own checks (penalty, --l1-ratio and solver together, ...) before any
    # file is read; what they raise is a ValueError, one line and exit status 2 from main.
    _model_from_args(args, sparse=False)._check_params()
    output, run_dir = _train_outputs(args)
    image_shape = plots.parse_image_shape(args.image_shape) if args.image_shape else None
    on_dask = args.scheduler is not None or args.dask_workers is not None
    held_here = not (args.stream or on_dask)
    if not held_here:
        _check_rows_not_held(args, on_dask)
    with _dask_client(args) if on_dask else nullcontext() as client:
        if held_here:
            source, test, where = _rows_in_memory(args, dtype)
        else:
            source, test, where = _rows_not_held(args, dtype, client)
        return _fit_and_report(
            _model_from_args(args, sparse=source.is_sparse),
            source,
            test,
            output=output,
            run_dir=run_dir,
            image_shape=image_shape,
            quiet=args.quiet,
            where=where,
            resume=args.resume,
        )


def _rows_in_memory(args, dtype):
    """``(training source, (X_test, y_test) or None, where)``: DATA read into memory.

    The test rows are the ``--test`` file's, or a stratified ``--test-size``
    fraction of DATA (0.2 unless given).
    """
    import numpy as np

    from softmax_classifier.data import as_source
    from softmax_classifier.io import read_data

    reading = {"dtype": dtype, "require_target": True, **reading_options(args)}
    data = read_data(
        args.data,
        target=args.target,
        features=split_names(args.features),
        format=args.format,
        **reading,
    )
    X, y, test = data.X, data.y, None
    test_size = 0.2 if args.test_size is None else args.test_size
    if args.test is not None:
        held_out = read_data(
            args.test,
            target=args.target,
            features=data.feature_names,
            format=args.test_format,
            n_features=X.shape[1],
            **reading,
        )
        _check_test_labels(np.unique(y), np.unique(held_out.y), args.test)
        test = (align(data.feature_names, X.shape[1], held_out), held_out.y)
    elif test_size > 0:
        (X, y), test = _split(X, y, test_size, args.seed)
    # LIBSVM and npz files carry their labels: no label column to remember.
    target = None if data.format in ("libsvm", "npz") else args.target
    source = as_source(X, y, feature_names=data.feature_names, target_name=target)
    return source, test, args.data


def demo(args):
    """``softmax demo ARGS`` -> exit status: scikit-learn's digits, 25% held out."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    from softmax_classifier.data import as_source
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
    names = [f"pixel_{r}_{c}" for r in range(8) for c in range(8)]
    return _fit_and_report(
        model,
        as_source(X_train, y_train, feature_names=names),
        (X_test, y_test),
        output=output,
        run_dir=run_dir,
        image_shape=(8, 8),
        quiet=args.quiet,
        where="scikit-learn digits (8x8 images, 25% held out)",
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


def _check_rows_not_held(args, on_dask):
    """The options that ``--stream`` and ``--scheduler``/``--dask-workers`` rule out."""
    how = "--scheduler/--dask-workers" if on_dask else "--stream"
    if args.stream and on_dask:
        raise CommandError(
            "--stream reads the file here, --scheduler/--dask-workers on a Dask cluster: choose one"
        )
    if args.test_size:
        raise CommandError(
            f"--test-size needs all rows in memory; with {how} hold out a separate file with --test"
        )
    if on_dask and args.target is None:
        raise CommandError("--target is required: the label column")


def _rows_not_held(args, dtype, client):
    """``(training source, (test source, None) or None, where)`` for rows not held here.

    The training (and ``--test``) rows are read batch by batch from the file
    (``--stream``, ``client`` None) or by the workers of the Dask cluster of
    ``client``; they are fitted that way and scored block by block.
    """
    from softmax_classifier.data import as_source

    options = {"target": args.target, "dtype": dtype, "client": client}
    if client is None:
        where = f"{args.data} (streamed)"
        options.update(reading_options(args, stream=True))
        if args.block_rows is not None:
            options["block_rows"] = args.block_rows
    else:
        where = f"{args.data} (on Dask, scheduler {client.scheduler.address})"
    source = as_source(
        args.data, format=args.format, features=split_names(args.features), **options
    )
    test = None
    if args.test is not None:
        # A LIBSVM test file is read as wide as the training data.
        held_out = as_source(
            args.test,
            format=args.test_format,
            features=source.feature_names,
            n_features=source.n_features,
            **options,
        )
        _check_test_labels(source.classes, held_out.classes, args.test)
        test = (held_out, None)
    return source, test, where


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
        penalty=args.penalty,
        l1_ratio=args.l1_ratio,
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
    model, source, test, *, output, run_dir, image_shape, quiet, where, resume=False
):
    """Fit with progress and Ctrl-C handling, write the model and its run folder, summarise.

    ``source`` is the training data source (it brings the feature and label
    names the model keeps); ``test`` is ``(X, y)`` held out, ``(source, None)``,
    or None. The outputs were checked before (:func:`check_outputs`); the model
    and its run folder are written together by :func:`write_model_and_run`.
    """
    import numpy as np

    out, err = console(), console(stderr=True)
    n_samples, n_features = source.shape
    if image_shape is not None and np.prod(image_shape) != n_features:
        raise CommandError(
            f"--image-shape {image_shape[0]}x{image_shape[1]} has {np.prod(image_shape)} "
            f"pixels but the data has {n_features} features"
        )
    alpha = model.alpha if isinstance(model.alpha, str) else f"{model.alpha:g}"
    penalty = "" if model.penalty == "l2" else f", penalty={model.penalty}"
    if model.l1_ratio is not None:
        penalty += f", l1_ratio={model.l1_ratio:g}"
    err.print(
        f"training on {n_samples} rows x {n_features} features from {where} "
        f"({model.solver}, alpha={alpha}{penalty})"
    )
    interrupted = fit_with_progress(model, source, None, err, quiet=quiet, resume=resume)
    scores = {"train": metrics(model, source)}
    if test is not None:
        scores["test"] = metrics(model, *test)
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
    _add_penalty_rows(table, model)
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


def _add_penalty_rows(table, model):
    """The summary's penalty and, for the sparse penalties, the fit report's non-zero counts."""
    report = model.fit_report_
    counted = report.n_nonzero_coef is not None and report.n_nonzero_features is not None
    sparsity = describe_sparsity(
        report.penalty,
        model.l1_ratio,
        report.n_nonzero_coef if counted else 0,
        report.n_nonzero_features if counted else 0,
        model.coef_.shape,
    )
    add_sparsity_rows(table, sparsity, counts=counted and report.penalty != "l2")


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
