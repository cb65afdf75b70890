"""Very many classes: fit 20,000 classes, predict the top k of 1,000,000 rows, in bounded memory.

The point is memory, not speed or accuracy: the fit stops after ``--max-iter``
iterations of ``--solver`` (default: 2 of gradient descent, 3 data passes).
``solver="auto"`` picks L-BFGS for so many classes (``solvers/_choice.py``,
printed), which keeps more parameter-sized vectors but makes the same passes;
its first iteration, a line search from the step ``1 / L`` that is safe for any
data, took 16 passes at 5,000 classes, too many for a short run
(``--solver auto`` runs it). Each phase runs in a fresh process, so that its
resident-memory high-water mark is its own:

1. **fit**: synthetic rows (``--rows`` x ``--features``, a Gaussian mixture of
   ``--classes`` classes, every class present) are made, then
   ``SoftmaxClassifier(solver=--solver).fit`` runs; every pass goes by blocks
   of classes (``softmax_classifier._class_blocks``).
2. **predict**: ``--predict-rows`` new rows, ``predict_proba(X, top_k=--top-k)``
   with the fitted model, by blocks of rows and classes.

For each phase the script prints what the call added to resident memory at its
peak (the kernel's high-water mark reset to the resident size just before the
call, ``_machine.FitPeak``: ``X``, ``y`` and the model were resident already, so
they are outside it), next to

* what an ``n x c`` float64 matrix of logits would take (what an unblocked pass
  holds, several times over);
* the parameter-sized memory the call may hold (fit: float64 vectors of
  ``c (d + 1)`` parameters, 26 for L-BFGS, its 20 history vectors and work
  vectors, and 8 for the other solvers; predict: the outputs, ``n x k`` labels
  and probabilities, and the class indices the labels are looked up from);
* the block budget: ``threads x 4 arrays x budget logits`` of the data's item
  size (``SOFTMAX_CLASSIFIER_LOGIT_BUDGET``, default ``2**20``).

Usage::

    .venv/bin/python benchmarks/bench_many_classes.py           # 200,000 x 64, 20,000 classes
    .venv/bin/python benchmarks/bench_many_classes.py --quick   # 20,000 x 64, 5,000 classes

On 2 shared cores the full run takes about 5 minutes (a pass over 200,000 rows
x 20,000 classes is ~1.5e12 multiply-adds: 15-45 s; the top-5 of 1,000,000 rows
about as long as 5 passes).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import (
    CpuLoad,
    FitPeak,
    current_rss_mb,
    format_load,
    format_table,
    machine_info,
    print_header,
    write_json,
)

RESULTS_DIR = Path(__file__).resolve().parent / "results"
BUDGET_VARIABLE = "SOFTMAX_CLASSIFIER_LOGIT_BUDGET"
DEFAULT_BUDGET = 2**20  # softmax_classifier._class_blocks.DEFAULT_LOGIT_BUDGET
LBFGS_VECTORS = 2 * 10 + 6  # history pairs and work vectors (solvers/_choice.py)
OTHER_VECTORS = 8  # gradient descent, Newton-CG: point, gradient, direction, trials
BLOCK_ARRAYS = 4  # block arrays a block function holds at once (_class_blocks docstring)


def make_rows(n, d, c, dtype, seed, labels=True):
    """A Gaussian mixture: class means N(0, 0.5^2), unit noise; rows 0..c-1 one per class."""
    means = np.random.default_rng(0).standard_normal((c, d)).astype(dtype) * dtype(0.5)
    rng = np.random.default_rng(seed)
    y = rng.integers(0, c, n)
    y[: min(c, n)] = np.arange(min(c, n))
    X = np.empty((n, d), dtype=dtype)
    for start in range(0, n, 65536):  # no second n x d temporary
        rows = slice(start, min(start + 65536, n))
        X[rows] = rng.standard_normal((X[rows].shape[0], d), dtype=dtype)
        X[rows] += means[y[rows]]
    return (X, y) if labels else X


def fit_phase(args):
    from softmax_classifier import SoftmaxClassifier
    from softmax_classifier.solvers import choose_solver

    dtype = np.dtype(args.dtype).type
    X, y = make_rows(args.rows, args.features, args.classes, dtype, seed=1)
    before = current_rss_mb()
    model = SoftmaxClassifier(solver=args.solver, max_iter=args.max_iter, tol=1e-12)
    peak = FitPeak()
    start = time.perf_counter()
    with peak, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # stopped at max_iter on purpose
        model.fit(X, y)
    seconds = time.perf_counter() - start
    model.save(args.model)
    report = model.fit_report_
    return {
        "rss_before_mb": before,
        "added_mb": peak.added_mb,
        "seconds": seconds,
        "solver": report.solver,
        "auto": ": ".join(choose_solver(X, args.classes)),
        "n_iter": report.n_iter,
        "n_passes": report.n_passes,
        "objective": float(report.objective_history[-1]),
        "n_classes": len(model.classes_),
        "X_mb": X.nbytes / 2**20,
    }


def predict_phase(args):
    from softmax_classifier import load

    dtype = np.dtype(args.dtype).type
    model = load(args.model)
    X = make_rows(args.predict_rows, args.features, args.classes, dtype, seed=2, labels=False)
    model.predict_proba(X[:10], top_k=args.top_k)  # imports and thread pool, outside the peak
    before = current_rss_mb()
    peak = FitPeak()
    start = time.perf_counter()
    with peak:
        labels, proba = model.predict_proba(X, top_k=args.top_k)
    seconds = time.perf_counter() - start
    return {
        "rss_before_mb": before,
        "added_mb": peak.added_mb,
        "seconds": seconds,
        # the labels, their probabilities and the class indices the labels are looked up from
        "outputs_mb": (labels.nbytes + proba.nbytes + labels.size * np.intp(0).itemsize) / 2**20,
        "X_mb": X.nbytes / 2**20,
        "mean_top1_proba": float(proba[:, 0].mean()),
    }


def run_phase(phase, args, model_path):
    """One phase in a fresh process; its result dict (the last line it prints, as JSON)."""
    command = [
        sys.executable, __file__, "--phase", phase, "--model", str(model_path),
        "--rows", str(args.rows), "--features", str(args.features),
        "--classes", str(args.classes), "--predict-rows", str(args.predict_rows),
        "--top-k", str(args.top_k), "--max-iter", str(args.max_iter), "--dtype", args.dtype,
        "--solver", args.solver,
    ]  # fmt: skip
    env = dict(os.environ)
    if args.budget is not None:
        env[BUDGET_VARIABLE] = str(args.budget)
    completed = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if completed.returncode != 0:
        raise SystemExit(f"the {phase} phase failed:\n{completed.stderr}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="20,000 x 64, 5,000 classes; top-k of 100,000 rows"
    )
    parser.add_argument("--rows", type=int, default=None)
    parser.add_argument("--features", type=int, default=64)
    parser.add_argument("--classes", type=int, default=None)
    parser.add_argument("--predict-rows", type=int, default=None)
    parser.add_argument("--top-k", type=int, default=5)
    parser.add_argument("--solver", default="gd", help="the fit's solver (default gd)")
    parser.add_argument("--max-iter", type=int, default=2, help="solver iterations (default 2)")
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--budget", type=int, default=None, help="logits per block array")
    parser.add_argument("--phase", choices=["fit", "predict"], help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    quick = args.quick
    args.rows = args.rows or (20_000 if quick else 200_000)
    args.classes = args.classes or (5_000 if quick else 20_000)
    args.predict_rows = args.predict_rows or (100_000 if quick else 1_000_000)
    if args.phase is not None:  # inside a phase's process
        result = (fit_phase if args.phase == "fit" else predict_phase)(args)
        print(json.dumps(result))
        return 0

    info = machine_info()
    print_header("very many classes: fit and top-k prediction in bounded memory", info)
    budget = args.budget or int(os.environ.get(BUDGET_VARIABLE, DEFAULT_BUDGET))
    itemsize = np.dtype(args.dtype).itemsize
    threads = info["n_cpus_usable"]
    n, d, c, m, k = args.rows, args.features, args.classes, args.predict_rows, args.top_k
    print(
        f"data    : fit {n} x {d} {args.dtype}, {c} classes; predict top-{k} of {m} rows; "
        f"solver {args.solver}, max_iter={args.max_iter}; logit budget {budget} per block array"
    )
    load = CpuLoad.now()
    with tempfile.TemporaryDirectory() as folder:
        model_path = Path(folder) / "model.safetensors"
        fit = run_phase("fit", args, model_path)
        predict = run_phase("predict", args, model_path)
    load_report = CpuLoad.now().report_since(load)

    n_params = c * (d + 1)
    blocks_mb = threads * BLOCK_ARRAYS * budget * itemsize / 2**20
    vectors = LBFGS_VECTORS if fit["solver"] == "lbfgs" else OTHER_VECTORS
    fit_params_mb = vectors * n_params * 8 / 2**20
    rows = [
        {
            "phase": f"fit {n} x {c}",
            "seconds": f"{fit['seconds']:.0f}",
            "X MB": f"{fit['X_mb']:.0f}",
            "+peak MB": f"{fit['added_mb']:.0f}",
            "params MB": f"{fit_params_mb:.0f}",
            "beyond MB": f"{fit['added_mb'] - fit_params_mb:.0f}",
            "blocks MB": f"{blocks_mb:.0f}",
            "n x c f64 MB": f"{n * c * 8 / 2**20:.0f}",
        },
        {
            "phase": f"top-{k} {m} x {c}",
            "seconds": f"{predict['seconds']:.0f}",
            "X MB": f"{predict['X_mb']:.0f}",
            "+peak MB": f"{predict['added_mb']:.0f}",
            "params MB": f"{predict['outputs_mb']:.0f}",
            "beyond MB": f"{predict['added_mb'] - predict['outputs_mb']:.0f}",
            "blocks MB": f"{blocks_mb:.0f}",
            "n x c f64 MB": f"{m * c * 8 / 2**20:.0f}",
        },
    ]
    print()
    print(format_table(rows, [(key, key, str) for key in rows[0]]))
    print()
    print(
        "+peak MB: added to resident memory at the call's peak (X, y and the model were "
        f"resident before). params MB: fit, {vectors} float64 vectors of "
        f"{n_params} parameters; predict, the outputs (labels, probabilities, class "
        "indices). "
        "beyond MB: the difference, to compare with blocks MB "
        f"({threads} threads x {BLOCK_ARRAYS} arrays x {budget} logits x {itemsize} B)."
    )
    print(
        f"fit: solver {fit['solver']} (auto would pick {fit['auto']}); "
        f"{fit['n_iter']} iterations, "
        f"{fit['n_passes']} passes, objective {fit['objective']:.4f} "
        f"(log {c} = {np.log(c):.4f} at the start), {fit['n_classes']} classes"
    )
    print(
        f"predict: mean top-1 probability {predict['mean_top1_proba']:.3g} (1 / {c} = {1 / c:.3g})"
    )
    print(format_load(load_report))
    RESULTS_DIR.mkdir(exist_ok=True)
    name = "many_classes-quick.json" if quick else "many_classes.json"
    write_json(
        RESULTS_DIR / name,
        {"machine": info, "args": vars(args), "fit": fit, "predict": predict,
         "table": rows, "load": load_report},
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
