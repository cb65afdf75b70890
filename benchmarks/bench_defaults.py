"""Defaults against defaults: ``SoftmaxClassifier()`` against ``LogisticRegression()``.

For each data set both estimators are fitted with *all* their defaults, on the
same arrays, and judged on the test split: fit seconds (best of ``--repeat``
fits; the fit call only, data already in memory), test accuracy, test log-loss,
time relative to scikit-learn's default and the accuracy difference in
percentage points. scikit-learn's ``ConvergenceWarning`` (if any) is recorded.
For our fits the table also gives the solver that ran, iterations, data passes
(``fit_report_.n_passes``: load-independent, unlike seconds) and the stop
reason.

Candidate defaults are compared by adding configurations of ours as JSON
keyword arguments (repeatable)::

    python benchmarks/bench_defaults.py --ours '{"alpha": "1/n", "solver": "newton-cg"}'

``"alpha": "1/n"`` is replaced by ``1 / n_train`` (scikit-learn's ``C = 1``
equivalent) so that it works whatever ``alpha`` values the estimator accepts;
every other value is passed to ``SoftmaxClassifier`` as given.

Data sets: ``letter`` (tr + val / .t), ``sector`` (sparse tf-idf),
``fashion-mnist`` (pixels / 255, 60000 / 10000), ``covertype-like`` (seeded
synthetic tabular data, 12000 / 4000 x 54, 7 imbalanced classes, raw scales)
and scikit-learn's ``digits`` (standardised). ``--quick`` uses stratified
subsamples of the training rows (under a minute in all).

At the end the script lists, for every configuration of ours, whether it was
faster than scikit-learn's default and within ``--tolerance-points`` (0.2) of
its test accuracy on *every* data set.

Prints one table and writes ``benchmarks/results/defaults[-quick].json``.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import time
import traceback
import warnings
from functools import partial
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import log_loss

from _datasets import (
    Dataset,
    DatasetNotFound,
    load_digits_dataset,
    load_fashion_mnist,
    load_letter,
    load_sector,
    make_covertype_like,
)
from _machine import (
    CpuLoad,
    format_load,
    format_table,
    machine_info,
    print_header,
    write_json,
)
from softmax_classifier import SoftmaxClassifier

RESULTS_DIR = Path(__file__).resolve().parent / "results"
SKLEARN_DEFAULT = "sklearn LogisticRegression()"
OURS_DEFAULT = "ours SoftmaxClassifier()"
# Rows kept in --quick mode (stratified subsample of the training split).
QUICK_TRAIN_ROWS = {
    "letter": 3000,
    "sector": 800,
    "fashion-mnist": 2000,
    "covertype-like": 3000,
    "digits": None,
}


def datasets(quick):
    """``(name, loader)`` pairs; loaders raise :class:`DatasetNotFound` when files are missing."""
    pairs = [
        ("letter", load_letter),
        ("sector", load_sector),
        ("fashion-mnist", load_fashion_mnist),
        ("covertype-like", partial(make_covertype_like, 12_000, 4_000, seed=0)),
        ("digits", load_digits_dataset),
    ]
    if not quick:
        return pairs
    return [(name, partial(_subsampled, loader, QUICK_TRAIN_ROWS[name])) for name, loader in pairs]


def _subsampled(loader, n_rows, seed=0):
    """The loader's data set with a stratified random ``n_rows`` of its training rows.

    Every class keeps at least one row, so the test log-loss stays defined.
    """
    data = loader()
    if n_rows is None or n_rows >= len(data.y_train):
        return data
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(data.y_train))
    _, first = np.unique(data.y_train[order], return_index=True)
    rest = np.setdiff1d(np.arange(len(order)), first)
    chosen = np.concatenate([first, rng.choice(rest, n_rows - len(first), replace=False)])
    keep = np.sort(order[chosen])
    X_train, X_test, note = data.X_train[keep], data.X_test, ""
    if sp.issparse(X_train):
        # The parameters grow with the columns, not the rows: keep only the
        # columns the subsample uses, so that the quick run is quick.
        used = np.flatnonzero(X_train.getnnz(axis=0))
        X_train, X_test = X_train[:, used], X_test[:, used]
        note = f", the {len(used)} columns they use"
    return Dataset(
        f"{data.name}-{n_rows}",
        X_train,
        data.y_train[keep],
        X_test,
        data.y_test,
        data.n_classes,
        f"{data.description}; random stratified {n_rows} training rows{note}",
    )


# -- configurations ------------------------------------------------------------------------
def parse_config(text):
    """A ``--ours`` argument: a JSON object of ``SoftmaxClassifier`` keyword arguments.

    Returns
    -------
    dict

    Raises
    ------
    argparse.ArgumentTypeError
        When the text is not a JSON object.
    """
    try:
        kwargs = json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(
            f'--ours {text!r} is not JSON ({error.msg}); write e.g. \'{{"solver": "lbfgs"}}\''
        ) from None
    if not isinstance(kwargs, dict):
        raise argparse.ArgumentTypeError(
            f"--ours {text!r} must be a JSON object of keyword arguments, e.g. '{{\"tol\": 1e-4}}'"
        )
    return kwargs


def config_label(kwargs):
    """``ours {"alpha": "1/n", ...}``: the configuration as it was given."""
    if not kwargs:
        return OURS_DEFAULT
    return "ours " + ", ".join(f"{key}={value}" for key, value in kwargs.items())


def resolve_kwargs(kwargs, n_train):
    """Replace ``"alpha": "1/n"`` by ``1 / n_train``; everything else as given."""
    resolved = dict(kwargs)
    if resolved.get("alpha") == "1/n":
        resolved["alpha"] = 1.0 / n_train
    return resolved


# -- fitting and scoring -----------------------------------------------------------------
def best_of(fit, repeat):
    """Run ``fit()`` ``repeat`` times; the smallest seconds, and the last model and warnings."""
    best, model, caught = math.inf, None, []
    for _ in range(repeat):
        with warnings.catch_warnings(record=True) as records:
            warnings.simplefilter("always")
            start = time.perf_counter()
            model = fit()
            best = min(best, time.perf_counter() - start)
        caught = records
    return best, model, caught


def score(model, data):
    """Test accuracy and log-loss; classes missing from the training split get probability 0."""
    proba = np.zeros((data.X_test.shape[0], data.n_classes))
    proba[:, np.asarray(model.classes_, dtype=np.int64)] = model.predict_proba(data.X_test)
    # float32 models give rows summing to 1 only within float32 rounding (~1e-7),
    # which log_loss warns about; renormalising in float64 changes nothing else.
    proba /= proba.sum(axis=1, keepdims=True)
    accuracy = float(np.mean(np.argmax(proba, axis=1) == data.y_test))
    # log_loss clips probabilities away from 0 and 1 (at the dtype's eps).
    loss = float(log_loss(data.y_test, proba, labels=np.arange(data.n_classes)))
    return accuracy, loss


def warning_text(records, category):
    """First line of the first warning of ``category`` (or subclass), or ``""``."""
    for record in records:
        if issubclass(record.category, category):
            return str(record.message).strip().splitlines()[0]
    return ""


def run_sklearn_default(data, repeat):
    """``LogisticRegression()`` with every default, fitted ``repeat`` times."""
    from sklearn.linear_model import LogisticRegression

    seconds, model, records = best_of(
        lambda: LogisticRegression().fit(data.X_train, data.y_train), repeat
    )
    accuracy, loss = score(model, data)
    message = warning_text(records, ConvergenceWarning)
    return {
        "method": SKLEARN_DEFAULT,
        "config": "sklearn",
        "fit_seconds": seconds,
        "test_accuracy": accuracy,
        "test_log_loss": loss,
        "n_iter": int(np.max(model.n_iter_)),
        "n_passes": None,
        "solver": model.solver,
        "stop": "ConvergenceWarning" if message else "converged",
        "warning": message,
    }


def run_ours(data, kwargs, repeat):
    """``SoftmaxClassifier(**kwargs)`` (``"alpha": "1/n"`` resolved), fitted ``repeat`` times."""
    resolved = resolve_kwargs(kwargs, data.X_train.shape[0])
    seconds, model, records = best_of(
        lambda: SoftmaxClassifier(**resolved).fit(data.X_train, data.y_train), repeat
    )
    accuracy, loss = score(model, data)
    report = model.fit_report_
    return {
        "method": config_label(kwargs),
        "config": kwargs,
        "resolved": {key: value for key, value in resolved.items() if key in kwargs},
        "fit_seconds": seconds,
        "test_accuracy": accuracy,
        "test_log_loss": loss,
        "n_iter": int(report.n_iter),
        "n_passes": int(report.n_passes),
        "solver": report.solver,
        "stop": report.stop_reason,
        "warning": warning_text(records, Warning),
        "alpha_used": float(getattr(model, "alpha_", model.alpha)),
        "solver_reason": report.solver_reason,
        "grad_norm": float(report.grad_norm),
    }


def warm_up(X):
    """A few small products in X's dtype, so that no timed fit pays for waking BLAS threads."""
    rows = X[: min(X.shape[0], 2048)]
    for _ in range(3):
        np.asarray(rows @ np.ones((X.shape[1], 8), dtype=X.dtype)).sum()


def add_comparisons(rows):
    """``ratio`` (fit seconds / sklearn default's) and ``diff_points`` per data set."""
    for row in rows:
        reference = next(
            (
                r
                for r in rows
                if r["dataset"] == row["dataset"]
                and r["method"] == SKLEARN_DEFAULT
                and "error" not in r
            ),
            None,
        )
        if reference is None or "error" in row:
            row["ratio"] = row["diff_points"] = None
            continue
        row["ratio"] = row["fit_seconds"] / reference["fit_seconds"]
        row["diff_points"] = 100 * (row["test_accuracy"] - reference["test_accuracy"])


def verdicts(rows, tolerance_points):
    """Per configuration of ours: does it beat sklearn's default on every data set?

    "Beats" means: fit time below scikit-learn's default's and test accuracy at
    most ``tolerance_points`` percentage points below it.

    Returns
    -------
    list of dict
        ``method``, ``wins`` (data sets won), ``total``, ``worst_ratio``,
        ``worst_diff_points``, ``all`` (bool), ``losses`` (names).
    """
    result = []
    methods = [m for m in dict.fromkeys(r["method"] for r in rows) if m != SKLEARN_DEFAULT]
    for method in methods:
        mine = [r for r in rows if r["method"] == method]
        losses = [
            r["dataset"]
            for r in mine
            if r.get("ratio") is None or r["ratio"] >= 1.0 or r["diff_points"] < -tolerance_points
        ]
        valid = [r for r in mine if r.get("ratio") is not None]
        result.append(
            {
                "method": method,
                "wins": len(mine) - len(losses),
                "total": len(mine),
                "worst_ratio": max((r["ratio"] for r in valid), default=None),
                "worst_diff_points": min((r["diff_points"] for r in valid), default=None),
                "all": not losses and bool(mine),
                "losses": losses,
            }
        )
    return result


# -- output --------------------------------------------------------------------------------
def _num(spec, missing="-"):
    def cell(value):
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return missing
        return format(value, spec)

    return cell


def _note(row):
    if "error" in row:
        return f"error: {row['error']}"
    parts = [f"{row['solver']}", f"{row['n_iter']} it", row["stop"]]
    if row.get("alpha_used") is not None:
        parts.insert(0, f"alpha {row['alpha_used']:.3g}")
    if row.get("warning") and row["method"] != SKLEARN_DEFAULT:
        parts.append(f"warns: {row['warning'][:60]}")
    return ", ".join(parts)


COLUMNS = [
    ("dataset", "data set", str),
    ("shape", "n x d x c", str),
    ("method", "method", str),
    ("fit_seconds", "fit s", _num(".3f")),
    ("ratio", "x sklearn", _num(".2f")),
    ("test_accuracy", "test acc", _num(".4f")),
    ("diff_points", "diff pts", _num("+.2f")),
    ("test_log_loss", "test log-loss", _num(".4f")),
    ("n_passes", "passes", _num("d")),
    ("note", "solver, iterations, stop", str),
]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="subsampled data, under a minute")
    parser.add_argument(
        "--ours",
        type=parse_config,
        action="append",
        default=[],
        metavar="JSON",
        help='more configurations of ours, e.g. \'{"alpha": "1/n", "solver": "newton-cg"}\' '
        '(repeatable; "1/n" means 1 / n_train)',
    )
    parser.add_argument("--repeat", type=int, default=1, help="fits per method; best time kept")
    parser.add_argument("--datasets", nargs="*", help="only these data sets (names as listed)")
    parser.add_argument(
        "--tolerance-points",
        type=float,
        default=0.2,
        help="accuracy a candidate may lose against sklearn's default, in points (0.2)",
    )
    parser.add_argument("--output", type=Path, default=None, help="JSON file to write")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error(f"--repeat must be at least 1, got {args.repeat}")
    known = [name for name, _ in datasets(args.quick)]
    unknown = sorted(set(args.datasets or []) - set(known))
    if unknown:
        parser.error(f"unknown data set(s) {', '.join(unknown)}; choose from {', '.join(known)}")

    output = args.output or RESULTS_DIR / ("defaults-quick.json" if args.quick else "defaults.json")
    configs = [{}] + [c for c in args.ours if c]
    info = machine_info()
    print_header("bench_defaults: SoftmaxClassifier() against LogisticRegression()", info)
    print(
        f"fit seconds: best of {args.repeat}; {'quick (subsampled)' if args.quick else 'full'} "
        f"data; ours: {', '.join(config_label(c) for c in configs)}",
        flush=True,
    )
    load_before = CpuLoad.now()
    payload = {"machine": info, "repeat": args.repeat, "quick": args.quick, "git": git_state()}
    print(f"code    : {payload['git']}", flush=True)
    payload["datasets"], payload["rows"] = [], []
    rows = payload["rows"]
    for name, loader in datasets(args.quick):
        if args.datasets and name not in args.datasets:
            continue
        try:
            data = loader()
        except DatasetNotFound as error:
            print(f"\n[{name}] skipped: not found ({error})")
            payload["datasets"].append({"name": name, "skipped": f"not found: {error}"})
            continue
        summary = data.summary()
        payload["datasets"].append(summary)
        shape = f"{summary['n_train']}x{summary['n_features']}x{summary['n_classes']}"
        print(
            f"\n[{data.name}] {shape}, {summary['dtype']} {summary['format']}, "
            f"{summary['n_test']} test rows",
            flush=True,
        )
        warm_up(data.X_train)
        jobs = [(SKLEARN_DEFAULT, partial(run_sklearn_default, data, args.repeat))]
        jobs += [(config_label(c), partial(run_ours, data, c, args.repeat)) for c in configs]
        for label, job in jobs:
            try:
                row = job()
            except Exception as error:  # one failing configuration must not end the run
                row = {
                    "method": label,
                    "error": f"{type(error).__name__}: {str(error).splitlines()[0]}",
                    "traceback": traceback.format_exc(),
                }
            row.update(dataset=data.name, shape=shape)
            rows.append(row)
            if "error" in row:
                print(f"  {label:<40} error: {row['error']}", flush=True)
            else:
                passes = "" if row["n_passes"] is None else f", {row['n_passes']} passes"
                print(
                    f"  {label:<40} {row['fit_seconds']:8.3f} s  acc {row['test_accuracy']:.4f}  "
                    f"({row['solver']}, {row['n_iter']} it{passes}, {row['stop']})",
                    flush=True,
                )
        add_comparisons(rows)
        payload["load"] = CpuLoad.now().report_since(load_before)
        write_json(output, payload)
        del data

    add_comparisons(rows)
    for row in rows:
        row["note"] = _note(row)
    load = CpuLoad.now().report_since(load_before)
    payload["load"] = load
    payload["verdicts"] = verdicts(rows, args.tolerance_points)
    print()
    print(format_table(rows, COLUMNS))
    print()
    for row in rows:
        if row["method"] == SKLEARN_DEFAULT and row.get("warning"):
            print(f"{row['dataset']}: sklearn default warned: {row['warning']}")
    print(
        f"\nfaster than LogisticRegression() and within {args.tolerance_points:g} points of its "
        "test accuracy, on every data set:"
    )
    for verdict in payload["verdicts"]:
        status = "yes" if verdict["all"] else f"no (loses on {', '.join(verdict['losses'])})"
        worst = (
            ""
            if verdict["worst_ratio"] is None
            else f"; worst time ratio {verdict['worst_ratio']:.2f}, "
            f"worst accuracy diff {verdict['worst_diff_points']:+.2f} pts"
        )
        print(f"  {verdict['method']}: {verdict['wins']}/{verdict['total']} {status}{worst}")
    print(format_load(load))
    write_json(output, payload)
    print(f"wrote {output}")


def git_state():
    """The commit, and the package files changed since it (what was measured), in one line."""
    root = Path(__file__).resolve().parents[1]

    def git(*args):
        try:
            done = subprocess.run(
                ["git", *args], cwd=root, capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.SubprocessError):
            return ""
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD") or "unknown commit"
    changed = git("diff", "--name-only", "HEAD", "--", "src").split()
    return commit + (f" + uncommitted changes in {', '.join(changed)}" if changed else "")


if __name__ == "__main__":
    main()
