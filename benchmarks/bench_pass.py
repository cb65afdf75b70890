"""One loss-and-gradient evaluation against the time to read X once, in the same run.

A full-batch solver iteration costs about one evaluation of the objective and
its gradient, and that evaluation has to read ``X`` at least once. So the
time to read ``X`` once, measured on this machine right now, is the floor
each implementation is compared with (``PERFORMANCE_NOTES.md``: the two skinny
matrix products are memory bound). Targets (issue 11), for (b), the pass the
solvers call, against the 2-thread read of the same ``X``: at most 2x for dense
float32, at most 2x for dense float64, at most 10x for CSR. The script prints
met / NOT met for each.

What is timed, per case (median of 7-20 repeats after a warm-up call; 3 when
those take over 5 s):

read X (2 threads)
    ``np.add.reduce`` over each half of the rows in two threads
    (``concurrent.futures``; NumPy releases the GIL). For CSR: ``data`` and
    ``indices``, split the same way.
read X (1 thread)
    ``X.sum()`` (CSR: ``X.data.sum() + X.indices.sum()``).
(a) ours: math.loss_gradient
    :func:`softmax_classifier.math.loss_gradient` on the whole ``X``.
(b) ours: SoftmaxObjective
    ``SoftmaxObjective(InMemoryData(X, y), n_classes, alpha=alpha).value_and_grad``,
    the objective the estimator's solvers call (objects built once, untimed).
(c) sklearn LinearModelLoss
    scikit-learn's private ``LinearModelLoss(HalfMultinomialLoss).loss_gradient``
    (what its lbfgs calls), with as many OpenMP threads as usable CPUs; skipped
    with a message when that private API is not importable.
(d) NumPy, straightforward
    ``logits = X @ W.T + b``, shifted softmax, ``(P - Y).T @ X``.
(e) PyTorch eager
    ``cross_entropy(X @ W.T + b, y)`` and ``backward()`` (dense cases), when
    torch imports; skipped with a message otherwise.

Cases: Fashion-MNIST's shape 60000 x 784, 10 classes, in float32 and float64
(the real data when ``../shared/data/fashion-mnist`` is present, else random
data of that shape), and a sparse CSR 100000 x 50000 at 0.1% density with 20
classes. Every implementation's gradient is compared with (a)'s.

Usage::

    python benchmarks/bench_pass.py [--repeats 15] [--alpha 1e-4]

Prints a table and writes ``benchmarks/results/pass.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from _datasets import DatasetNotFound, load_fashion_mnist, make_sparse_classification
from _machine import CpuLoad, format_load, format_table, machine_info, print_header
from softmax_classifier import math as sm
from softmax_classifier.data import InMemoryData
from softmax_classifier.objective import SoftmaxObjective

RESULTS_DIR = Path(__file__).resolve().parent / "results"
N_CPUS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
READ_2_THREADS = "read X (2 threads)"
READ_1_THREAD = "read X (1 thread)"


# -- cases ----------------------------------------------------------------------------
def fashion_shaped_case(dtype):
    """Fashion-MNIST's training set (or random data of its shape) in ``dtype``."""
    try:
        data = load_fashion_mnist()
        X, y, source = data.X_train.astype(dtype, copy=False), data.y_train, "Fashion-MNIST"
    except DatasetNotFound as error:
        print(f"Fashion-MNIST not found ({error}); using random data of its shape.")
        rng = np.random.default_rng(0)
        X = rng.random((60_000, 784), dtype=np.float32).astype(dtype, copy=False)
        y = rng.integers(0, 10, 60_000)
        source = "random, Fashion-MNIST's shape"
    name = f"60000x784 {np.dtype(dtype).name}"
    return {"name": name, "X": X, "y": y, "n_classes": 10, "source": source}


def sparse_case():
    """Synthetic CSR 100000 x 50000 at 0.1% density, 20 classes, float64."""
    data = make_sparse_classification(100_000, 0, 50_000, 0.001, 20, seed=0)
    return {
        "name": "100000x50000 csr 0.1%",
        "X": data.X_train,
        "y": data.y_train,
        "n_classes": 20,
        "source": "synthetic tf-idf-like",
    }


# -- reading X once -----------------------------------------------------------------------
def make_read_functions(X, pool):
    """``(two_threads, one_thread)``: functions that read every byte of X once."""
    if sp.issparse(X):
        half = X.nnz // 2
        pieces = [X.data[:half], X.data[half:], X.indices[:half], X.indices[half:]]

        def read_two_threads():
            futures = [pool.submit(np.add.reduce, piece, None) for piece in pieces[:2]]
            futures += [pool.submit(np.bitwise_or.reduce, piece, None) for piece in pieces[2:]]
            return [f.result() for f in futures]

        def read_one_thread():
            return X.data.sum() + np.bitwise_or.reduce(X.indices, axis=None)

    else:
        mid = X.shape[0] // 2
        halves = [X[:mid].reshape(-1), X[mid:].reshape(-1)]

        def read_two_threads():
            return sum(f.result() for f in [pool.submit(np.add.reduce, h) for h in halves])

        def read_one_thread():
            return X.sum()

    return read_two_threads, read_one_thread


# -- loss-and-gradient implementations ------------------------------------------------------
def make_implementations(X, y, n_classes, alpha, coef, intercept):
    """Name -> (function returning ``(loss, grad_coef, grad_intercept)``) for one case.

    Implementations that cannot run here are reported as ``name -> reason`` strings.
    """
    impls = {}
    impls["(a) ours: math.loss_gradient"] = lambda: sm.loss_gradient(
        coef, intercept, X, y, alpha=alpha
    )

    objective = SoftmaxObjective(InMemoryData(X, y), n_classes, alpha=alpha)
    params = objective.pack(coef, intercept)

    def ours_objective():
        value, grad = objective.value_and_grad(params)
        grad_coef, grad_intercept = objective.unpack(grad)
        return value, grad_coef, grad_intercept

    impls["(b) ours: SoftmaxObjective"] = ours_objective
    impls["(c) sklearn LinearModelLoss"] = sklearn_loss_gradient(
        X, y, n_classes, alpha, coef, intercept
    )
    impls["(d) NumPy, straightforward"] = lambda: numpy_loss_gradient(
        X, y, n_classes, alpha, coef, intercept
    )
    impls["(e) PyTorch eager"] = torch_loss_gradient(X, y, alpha, coef, intercept)
    return impls


def numpy_loss_gradient(X, y, n_classes, alpha, coef, intercept):
    """The textbook pass: logits, shifted softmax, ``(P - Y)^T X / n + alpha W``."""
    n = X.shape[0]
    W = coef.astype(X.dtype, copy=False)
    logits = np.asarray(X @ W.T) + intercept.astype(X.dtype)
    logits -= logits.max(axis=1, keepdims=True)
    proba = np.exp(logits)
    sum_exp = proba.sum(axis=1)
    proba /= sum_exp[:, None]
    rows = np.arange(n)
    loss = np.mean(np.log(sum_exp, dtype=np.float64) - logits[rows, y])
    loss += 0.5 * alpha * float(np.sum(coef * coef))
    proba[rows, y] -= 1.0
    grad_coef = np.asarray(proba.T @ X) / n + alpha * W
    grad_intercept = proba.sum(axis=0, dtype=np.float64) / n
    return loss, grad_coef, grad_intercept


def sklearn_loss_gradient(X, y, n_classes, alpha, coef, intercept):
    """scikit-learn's private multinomial loss (guarded); a string says why it is unavailable."""
    try:
        from sklearn._loss.loss import HalfMultinomialLoss
        from sklearn.linear_model._linear_loss import LinearModelLoss
    except ImportError as error:
        return f"skipped: scikit-learn's private LinearModelLoss not importable ({error})"
    loss = LinearModelLoss(base_loss=HalfMultinomialLoss(n_classes=n_classes), fit_intercept=True)
    sk_coef = np.hstack([coef, intercept[:, None]]).astype(X.dtype)
    y_float = y.astype(X.dtype)

    def run():
        value, grad = loss.loss_gradient(
            sk_coef, X, y_float, l2_reg_strength=alpha, n_threads=N_CPUS
        )
        return value, grad[:, :-1], grad[:, -1]

    return run


def torch_loss_gradient(X, y, alpha, coef, intercept):
    """PyTorch eager forward and backward (dense only); a string says why it is skipped."""
    try:
        import torch
    except ImportError:
        return "skipped: torch not importable (pip install torch==2.13.0 to compare)"
    if sp.issparse(X):
        return "skipped: sparse case (dense PyTorch peer only)"
    X_t, y_t = torch.from_numpy(X), torch.from_numpy(np.asarray(y, dtype=np.int64))
    W = torch.tensor(coef, dtype=X_t.dtype, requires_grad=True)
    b = torch.tensor(intercept, dtype=X_t.dtype, requires_grad=True)

    def run():
        W.grad = b.grad = None
        value = torch.nn.functional.cross_entropy(X_t @ W.T + b, y_t) + 0.5 * alpha * (W * W).sum()
        value.backward()
        return value.detach().item(), W.grad.numpy(), b.grad.numpy()

    return run


# -- timing ------------------------------------------------------------------------------------
def time_function(function, min_repeats, max_repeats, budget_seconds):
    """Call ``function`` once to warm up, then ``min_repeats``..``max_repeats`` timed times.

    Stops adding repeats beyond ``min_repeats`` once ``budget_seconds`` are
    spent, and already after 3 repeats when they took more than 5 s (a slow
    implementation, or a busy machine), so that the script stays short.

    Returns
    -------
    list of float
        Seconds per call.
    """
    function()
    times = []
    start = time.perf_counter()
    while len(times) < max_repeats:
        t0 = time.perf_counter()
        function()
        times.append(time.perf_counter() - t0)
        spent = time.perf_counter() - start
        if len(times) >= min_repeats and spent > budget_seconds:
            break
        if len(times) >= 3 and spent > 5.0:
            break
    return times


def gradient_difference(result, reference):
    """Largest absolute gradient difference, relative to the largest reference entry."""
    _, g_coef, g_int = result
    _, r_coef, r_int = reference
    scale = max(np.abs(r_coef).max(), np.abs(r_int).max())
    diff = max(np.abs(g_coef - r_coef).max(), np.abs(g_int - r_int).max())
    return float(diff / scale)


def benchmark_case(case, alpha, pool, min_repeats, max_repeats, budget):
    """Time the reads and every implementation on one case; rows for the table."""
    X, y, n_classes = case["X"], case["y"], case["n_classes"]
    rng = np.random.default_rng(1)
    coef = rng.standard_normal((n_classes, X.shape[1])) * 0.01
    intercept = rng.standard_normal(n_classes) * 0.1
    read_two, read_one = make_read_functions(X, pool)
    timings = {
        READ_2_THREADS: time_function(read_two, min_repeats, max_repeats, budget),
        READ_1_THREAD: time_function(read_one, min_repeats, max_repeats, budget),
    }
    notes = {READ_2_THREADS: "the floor", READ_1_THREAD: ""}
    reference = None
    for name, function in make_implementations(X, y, n_classes, alpha, coef, intercept).items():
        if isinstance(function, str):
            print(f"  {case['name']}: {name} {function}")
            notes[name] = function
            continue
        result = function()
        if reference is None:
            reference = result
        difference = gradient_difference(result, reference)
        notes[name] = f"loss {result[0]:.8f}, grad diff vs (a) {difference:.0e}"
        timings[name] = time_function(function, min_repeats, max_repeats, budget)
    floor = statistics.median(timings[READ_2_THREADS])
    one_thread = statistics.median(timings[READ_1_THREAD])
    rows = []
    for name, note in notes.items():
        times = timings.get(name)
        median = statistics.median(times) if times else None
        rows.append(
            {
                "case": case["name"],
                "implementation": name,
                "median_ms": None if median is None else 1e3 * median,
                "min_ms": None if median is None else 1e3 * min(times),
                "repeats": len(times) if times else 0,
                "ratio_read_2_threads": None if median is None else median / floor,
                "ratio_read_1_thread": None if median is None else median / one_thread,
                "note": note,
                "times_ms": [1e3 * t for t in times] if times else [],
            }
        )
    gigabytes = _nbytes(X) / 1e9
    print(
        f"  {case['name']} ({case['source']}): X is {gigabytes * 1e3:.0f} MB; "
        f"2-thread read {gigabytes / floor:.1f} GB/s, 1-thread {gigabytes / one_thread:.1f} GB/s"
    )
    return rows


# Issue 11's targets for (b): (what the case name ends with, its label, at most this x read).
TARGETS = [
    ("float32", "dense float32", 2.0),
    ("float64", "dense float64", 2.0),
    ("csr 0.1%", "CSR", 10.0),
]
TARGET_IMPLEMENTATION = "(b)"


def target_verdicts(rows):
    """Issue 11's targets for (b) against the 2-thread read: one verdict per case.

    A case that did not run, or whose (b) row has no timing, is reported as
    "not measured" (never as met).

    Returns
    -------
    list of dict
        ``case``, ``limit``, ``ratio`` (or None), ``met`` (bool or None) and
        the printed ``line``.
    """
    verdicts = []
    for suffix, label, limit in TARGETS:
        matches = [
            r
            for r in rows
            if r["case"].endswith(suffix) and r["implementation"].startswith(TARGET_IMPLEMENTATION)
        ]
        ratio = matches[0]["ratio_read_2_threads"] if matches else None
        met = None if ratio is None else ratio <= limit
        status = "not measured" if met is None else f"{ratio:.2f}x: {'met' if met else 'NOT met'}"
        verdicts.append(
            {
                "case": label,
                "limit": limit,
                "ratio": ratio,
                "met": met,
                "line": f"target (issue 11): {label} pass (b) <= {limit:g}x the 2-thread read "
                f"of X: {status}",
            }
        )
    return verdicts


def _nbytes(X):
    return X.data.nbytes + X.indices.nbytes + X.indptr.nbytes if sp.issparse(X) else X.nbytes


def _fmt(spec):
    return lambda v: "-" if v is None else format(v, spec)


COLUMNS = [
    ("case", "case", str),
    ("implementation", "implementation", str),
    ("median_ms", "median ms", _fmt(".1f")),
    ("min_ms", "min ms", _fmt(".1f")),
    ("repeats", "n", str),
    ("ratio_read_2_threads", "x read(2 thr)", _fmt(".2f")),
    ("ratio_read_1_thread", "x read(1 thr)", _fmt(".2f")),
    ("note", "note", str),
]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--alpha", type=float, default=1e-4, help="L2 penalty (default 1e-4)")
    parser.add_argument("--min-repeats", type=int, default=7)
    parser.add_argument("--max-repeats", type=int, default=20)
    parser.add_argument(
        "--budget", type=float, default=1.0, help="seconds per timing beyond the minimum repeats"
    )
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "pass.json")
    args = parser.parse_args(argv)

    info = machine_info()
    print_header("bench_pass: one loss-and-gradient evaluation vs reading X once", info)
    print(f"alpha   : {args.alpha}; medians of {args.min_repeats}-{args.max_repeats} repeats")
    load_before = CpuLoad.now()
    rows = []
    with ThreadPoolExecutor(2) as pool:
        for make_case in (
            lambda: fashion_shaped_case(np.float32),
            lambda: fashion_shaped_case(np.float64),
            sparse_case,
        ):
            case = make_case()
            rows += benchmark_case(
                case, args.alpha, pool, args.min_repeats, args.max_repeats, args.budget
            )
            del case
    load = CpuLoad.now().report_since(load_before)
    print()
    print(format_table(rows, COLUMNS))
    print()
    verdicts = target_verdicts(rows)
    for verdict in verdicts:
        print(verdict["line"])
    print(format_load(load))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "machine": info,
        "alpha": args.alpha,
        "load": load,
        "rows": rows,
        "targets": [{k: v for k, v in t.items() if k != "line"} for t in verdicts],
    }
    args.output.write_text(json.dumps(payload, indent=1))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
