"""``softmax predict``, ``evaluate`` and ``inspect``: use and examine a model file.

``predict`` and ``evaluate`` read a data file (or standard input) with the
model's feature columns and score it; ``inspect`` describes a model file from
one read of it, without building an estimator, or with ``--summary DATA``
prints the model's inference table on labelled rows.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from softmax_classifier.cli._common import (
    STDIO,
    CommandError,
    align,
    call,
    console,
    data_name,
    data_path,
    feature_names,
    key_value_table,
    metrics,
    print_table,
    read_for_model,
    shorten,
    write_csv,
)
from softmax_classifier.cli._sparsity import add_sparsity_rows, model_sparsity

__all__ = ["evaluate", "inspect", "labelled_rows", "predict"]


def predict(args):
    """``softmax predict ARGS`` -> 0: the labels (and probabilities) of each row, as CSV."""
    import numpy as np

    from softmax_classifier._atomic import atomic_write, check_output_path
    from softmax_classifier.estimator import load

    to_file = args.output not in (None, STDIO)
    if to_file:
        check_output_path(args.output)  # before reading anything
    model = load(args.model)
    with data_path(args.data, args.format) as (path, format):
        data = read_for_model(model, path, target=args.target, format=format, args=args)
    X = align(feature_names(model), model.n_features_in_, data)
    classes = model.classes_
    # The k most probable classes by blocks (no rows x classes matrix: very many
    # classes, docs/many_classes.md); the whole matrix only when --proba prints it.
    k = min(args.top_k or 1, len(classes))
    top_labels, top_proba = call(lambda rows: model.predict_proba(rows, top_k=k), X)
    header = ["prediction"]
    labels = top_labels[:, 0]
    note = ""
    if args.min_proba is not None:
        unsure = top_proba[:, 0] < args.min_proba
        labels = np.where(unsure, "", labels.astype(object))
        note = (
            f" ({int(unsure.sum())} with no label: top probability below --min-proba "
            f"{args.min_proba:g})"
        )
    columns = [labels]
    if args.proba:
        header += [f"proba_{c}" for c in classes]
        columns += list(call(model.predict_proba, X).T)
    if args.top_k:
        for rank in range(k):
            header += [f"top{rank + 1}", f"top{rank + 1}_proba"]
            columns += [top_labels[:, rank], top_proba[:, rank]]
    rows = zip(*columns, strict=True)
    if to_file:
        with atomic_write(args.output, "w", encoding="utf-8", newline="") as stream:
            write_csv(stream, header, rows)
        console(stderr=True).print(f"wrote {X.shape[0]} predictions to {args.output}{note}")
    else:
        write_csv(sys.stdout, header, rows)
        if args.min_proba is not None:  # the count said on stderr; stdout stays the CSV
            console(stderr=True).print(f"{X.shape[0]} predictions{note}")
    return 0


def evaluate(args):
    """``softmax evaluate ARGS`` -> 0: the model's scores on labelled rows, as tables or JSON."""
    import numpy as np

    from softmax_classifier import plots
    from softmax_classifier._atomic import check_output_path
    from softmax_classifier.cli._run_folder import check_folder, draw_scores
    from softmax_classifier.estimator import load

    # Outputs checked before anything is read (new folders are made later).
    if args.figure is not None and Path(args.figure).parent.is_dir():
        check_output_path(args.figure)
    if args.plots is not None:
        check_folder(Path(args.plots), FIGURES, "--plots folder")
    model = load(args.model)
    X, y = labelled_rows(model, args.data, args)
    scores = metrics(model, X, y, top_k=args.top_k)
    if args.figure is not None:
        plots.plot_confusion_matrix(
            np.asarray(scores["confusion_matrix"]),
            [str(label) for label in scores["labels"]],
            args.figure,
        )
    figures = [] if args.plots is None else draw_scores(scores, Path(args.plots))
    if args.json:
        print(json.dumps(scores, indent=2))
        return 0
    _print_scores(scores)
    if args.figure is not None:
        console().print(f"confusion matrix figure: {args.figure}")
    for path in figures:
        console().print(f"figure: {path}")
    return 0


#: The figures ``evaluate --plots DIR`` writes.
FIGURES = ("confusion_matrix.png", "reliability.png")


def labelled_rows(model, data, args):
    """``(X, y)``: the rows of DATA in the model's columns and their labels.

    The label column is ``--target``, else the one :func:`_default_target`
    finds; ``evaluate``, ``calibrate`` and ``inspect --summary`` read alike.

    Parameters
    ----------
    model : SoftmaxClassifier
        Fitted (its feature names and count, dtype and stored target name).
    data : str
        The DATA argument: a path, or ``-`` for standard input.
    args : argparse.Namespace
        ``--target``, ``--format`` and the reading options.

    Returns
    -------
    X : ndarray or sparse matrix of shape (n_samples, n_features)
        Columns in the model's order.
    y : ndarray of shape (n_samples,)
        The labels as read.
    """
    with data_path(data, args.format) as (path, format):
        target = args.target
        if target is None:
            target = _default_target(model, path, format, args, data)
        rows = read_for_model(
            model, path, target=target, format=format, require_target=True, args=args
        )
    return align(feature_names(model), model.n_features_in_, rows), rows.y


def _print_scores(scores):
    """``evaluate``'s tables: the summary, per class (with averages), the confusion matrix."""
    from rich.table import Table

    out = console()
    summary = key_value_table()
    summary.add_row("rows", str(scores["n_samples"]))
    summary.add_row("accuracy", f"{scores['accuracy']:.4f}")
    summary.add_row(f"top-{scores['top_k']} accuracy", f"{scores['top_k_accuracy']:.4f}")
    summary.add_row("log-loss", f"{scores['log_loss']:.6f}")
    summary.add_row("Brier score", f"{scores['brier_score']:.6f}")
    summary.add_row("calibration error (ECE)", f"{scores['expected_calibration_error']:.4f}")
    summary.add_row("max calibration error (MCE)", f"{scores['max_calibration_error']:.4f}")
    print_table(out, summary)
    per_class = Table(title="per class")
    for name in ("label", "precision", "recall", "f1", "support"):
        per_class.add_column(name, justify="left" if name == "label" else "right")
    rows = [(str(row["label"]), row) for row in scores["per_class"]]
    rows += [("macro avg", scores["macro_avg"]), ("weighted avg", scores["weighted_avg"])]
    for number, (label, row) in enumerate(rows):
        per_class.add_row(
            label,
            *(f"{row[name]:.4f}" for name in ("precision", "recall", "f1")),
            _amount(row["support"]),
            end_section=number == len(rows) - 3,
        )
    print_table(out, per_class)
    labels = [str(label) for label in scores["labels"]]
    if len(labels) <= 20:
        matrix = Table(title="confusion matrix (rows: true, columns: predicted)")
        matrix.add_column("")
        for label in labels:
            matrix.add_column(label, justify="right")
        for label, counts in zip(labels, scores["confusion_matrix"], strict=True):
            matrix.add_row(label, *map(str, counts))
        print_table(out, matrix)


def _amount(value):
    """A count as it is, a sum of weights to 6 digits."""
    return str(value) if isinstance(value, int) else f"{value:.6g}"


def _default_target(model, path, format, args, data):
    """The label column when ``--target`` is not given (``data``: DATA as given).

    The target name stored in the model file (``train --target``), else the
    one column of a CSV/Parquet file that is not among the model's features.
    LIBSVM and npz files carry their labels: no column is needed.
    """
    from softmax_classifier.io import detect_format

    kind = format or detect_format(path)
    if kind not in ("csv", "parquet"):
        return None
    stored = getattr(model, "target_name_", None)  # as the model file has it
    if stored is not None:
        return str(stored)
    columns = _column_names(path, kind, args)
    names = set(feature_names(model) or [])
    extra = [c for c in (columns or []) if c not in names]
    if names and len(extra) == 1:
        return extra[0]
    shown = data_name(data, path)
    raise CommandError(
        f"--target is required: the model file does not name its label column, and {shown} "
        f"has {len(extra)} columns the model does not use ({shorten(extra, 5)})"
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


def inspect(args):
    """``softmax inspect ARGS`` -> 0: a model file described, as tables or JSON.

    The file is read once (:func:`softmax_classifier.model_file.load`, every
    check included); the description comes from its tensors and metadata.
    """
    if args.model == STDIO:
        raise CommandError("inspect reads a model file by name, not from standard input")
    if args.summary is not None:
        return _inference_table(args)
    reading = (
        ("--target", args.target),
        ("--cov-type", args.cov_type != "nonrobust"),
        ("--level", args.level != 0.95),
        ("--format", args.format),
        ("--no-header", args.no_header),
        ("--drop", args.drop),
        ("--zero-based", args.zero_based),
    )
    unused = [flag for flag, given in reading if given]
    if unused:
        verb = "applies" if len(unused) == 1 else "apply"
        raise CommandError(f"{', '.join(unused)} {verb} only with --summary DATA")
    info = _description(args.model, args.top)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    _print_description(info)
    return 0


def _inference_table(args):
    """``inspect --summary DATA``: the model's ``summary`` on DATA, as text or JSON."""
    import numpy as np

    from softmax_classifier.estimator import load

    model = load(args.model)
    X, y = labelled_rows(model, args.summary, args)
    options = {"cov_type": args.cov_type, "level": args.level}
    table = call(lambda rows: model.summary(rows, y, **options), X)
    if args.json:
        numbers = {
            key: value.tolist() if isinstance(value, np.ndarray | np.generic) else value
            for key, value in table.to_dict().items()
        }
        print(json.dumps(numbers, indent=2))
    else:
        print(table)
    return 0


def _description(path, top):
    """What ``inspect`` shows of the model file at ``path``, with ``top`` features per class."""
    import numpy as np

    from softmax_classifier import model_file

    tensors, metadata = model_file.load(path)
    coef, intercept = tensors["coef"], tensors["intercept"]
    names = metadata["feature_names"] or [f"x{j}" for j in range(metadata["n_features"])]
    k = min(top, len(names))
    top_features = []
    for label, weights in zip(model_file.restore_classes(metadata), coef, strict=True):
        order = np.argsort(weights, kind="stable")
        top_features.append(
            {
                "class": label.item() if isinstance(label, np.generic) else label,
                "most_positive": [[str(names[j]), float(weights[j])] for j in order[::-1][:k]],
                "most_negative": [[str(names[j]), float(weights[j])] for j in order[:k]],
            }
        )
    return {
        "model": str(path),
        "file_size_bytes": os.path.getsize(path),
        "library_version": metadata["library_version"],
        "format_version": metadata["format_version"],
        "classes": metadata["classes"],
        "class_type": metadata["class_type"],
        "n_classes": len(metadata["classes"]),
        "n_features": metadata["n_features"],
        "n_parameters": int(coef.size + intercept.size),
        "feature_names": metadata["feature_names"],
        "target_name": metadata.get("target_name"),
        "coef_shape": list(coef.shape),
        "dtype": metadata["dtype"],
        "preprocessing": metadata["preprocessing"],
        "hyperparameters": metadata["hyperparameters"],
        "alpha_used": metadata.get("alpha_used"),
        "temperature": metadata.get("temperature"),
        "sparsity": model_sparsity(coef, metadata["hyperparameters"]),
        "fit_report": _summarise_report(metadata["fit_report"]),
        "top_features": top_features,
    }


def _print_description(info):
    """``inspect``'s tables of :func:`_description`'s ``info``."""
    from rich.table import Table

    out = console()
    table = key_value_table()
    for key in ("model", "library_version", "format_version", "class_type", "n_classes"):
        table.add_row(key.replace("_", " "), str(info[key]))
    table.add_row("file size", f"{info['file_size_bytes']} bytes")
    table.add_row("classes", shorten(info["classes"]))
    if info["target_name"] is not None:
        table.add_row("target", info["target_name"])
    table.add_row("features", str(info["n_features"]))
    table.add_row("feature names", shorten(info["feature_names"] or ["(none)"]))
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
    if info["temperature"] is not None:
        table.add_row("temperature", f"{info['temperature']:.6g} (softmax calibrate)")
    add_sparsity_rows(table, info["sparsity"])
    for key, value in (info["fit_report"] or {}).items():
        shown = f"{value:.6g}" if isinstance(value, float) else str(value)
        table.add_row(f"fit {key.replace('_', ' ')}", shown)
    print_table(out, table)
    if not any(entry["most_positive"] for entry in info["top_features"]):
        return
    unit = " (per standard deviation)" if preprocessing["standardize"] else ""
    features = Table(title=f"most positive and negative weights{unit}")
    features.add_column("class")
    features.add_column("most positive")
    features.add_column("most negative")
    for entry in info["top_features"]:
        features.add_row(
            str(entry["class"]),
            ", ".join(f"{n} {w:+.3g}" for n, w in entry["most_positive"]),
            ", ".join(f"{n} {w:+.3g}" for n, w in entry["most_negative"]),
        )
    print_table(out, features)


def _summarise_report(report):
    """The fit report of a model file without its objective history (its last value kept)."""
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
