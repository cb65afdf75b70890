"""Time to a tight objective: ours against scikit-learn, scikit-learn-intelex and PyTorch.

For every dataset we first find a reference optimum ``f*`` of

    f(W, b) = mean cross-entropy + alpha / 2 * ||W||_F^2      (alpha = 1e-4 by default)

from very tight float64 fits, tried in turn: scikit-learn's newton-cg
(``tol=1e-10``), our ``newton-cg`` (``tol=1e-10``) and scikit-learn's lbfgs
(``tol=1e-12``), each stopped at a time cap. The first whose gap estimate
``||grad||^2 / (2 alpha)`` is below 1% of the target's tolerance ends the search
(``--all-references`` runs them all and takes the lowest objective). ``f*`` is
cached in ``results/reference_cache.json`` under a hash of the data and alpha
(``--recompute-reference`` redoes it). Every method is then timed to the target
``f <= f* + rtol * |f*|`` (``rtol = 1e-6``). Every method's ``(coef, intercept)``
is evaluated with *our* :func:`softmax_classifier.math.loss` in float64 on the
training data, so all are judged on the same objective: scikit-learn's
``LogisticRegression(C=1 / (alpha * n))`` minimises exactly this objective.

How time-to-target is measured
------------------------------
ours (``SoftmaxClassifier``)
    One fit whose callback records ``(seconds since fit() was called,
    objective)`` after every iteration and stops the fit when the objective
    meets the target (or the time cap passes). The returned model is then
    re-evaluated in float64 to confirm. ``tol=1e-12`` and a large
    ``max_iter`` so that only the target stops it; ``sgd``/``adam`` keep their
    default 200 epochs (their step schedule depends on it). ``ours-default``
    is ``SoftmaxClassifier()`` with every default (``solver="auto"``) except
    ``alpha`` (the benchmark's), ``tol`` and ``max_iter`` (see above).
scikit-learn and scikit-learn-intelex ``LogisticRegression``
    No callback, so fresh fits with ``max_iter`` = 1, 2, 4, ... (``tol=1e-12``,
    so only ``max_iter`` stops them) until one meets the target, then
    bisection on ``max_iter`` to within 10% (quick: 25%); the time is that of the
    smallest ``max_iter`` that meets it (the whole ``fit`` call). A fit
    predicted to exceed the cap is not started; a fit that stops on its own
    criterion short of the target ends the search ("not reached"), and its
    time and objective are kept: issue 11 compares ours with such a peer at
    the objective it reached. sklearnex (``sklearnex.linear_model``, when it
    imports; its newton-cg in preview mode, ``SKLEARNEX_PREVIEW=1`` in that
    worker) logs whether each fit ran on oneDAL; a fit that fell back to
    scikit-learn's code (e.g. sparse input) is reported and not timed.
PyTorch ``torch.optim.LBFGS``
    ``strong_wolfe`` line search, ``history_size=10`` (as scipy's L-BFGS-B),
    on the same objective in the data's dtype (dense or sparse CSR tensor).
    The closure records ``(seconds, loss)`` at every evaluation and stops at
    the first evaluated point that meets the target (or at the cap, returning
    the lowest point evaluated).

Each reached time is then repeated (same configuration, fresh fit) while a
small budget lasts, and the median is reported.

Memory
    Every (dataset, method) runs in a fresh process forked from a server that
    has imported NumPy, SciPy, scikit-learn and the package (``forkserver``),
    so ``peak RSS`` is that process's high-water mark (``getrusage``): the
    imported libraries, the loaded data, and the fit's temporaries.
    ``+fit MB`` is what the fit itself added at its peak: the kernel's
    high-water mark is reset just before the fit (``/proc/self/clear_refs``)
    and read just after it (ours and PyTorch: the first timed fit; scikit-learn
    and sklearnex: the largest over the fits of the search). ``budget MB`` is
    issue 11's memory target for that data set (:mod:`_targets`), and ``mem``
    says whether each fit of ours meets it.
    ``tracemalloc MB`` is the peak of Python/NumPy allocations over a separate,
    traced fit of the same configuration limited to the iterations that reach
    its peak (12 for L-BFGS, 3 for Newton and gd, 1 epoch for sgd, adam and
    saga; tracing slows Python code, so it is kept out of the timed fits); n/a
    for PyTorch, whose allocations it cannot see.

Issue 11's targets
    After the table, :mod:`_targets` compares ours with the fastest peer
    (scikit-learn or sklearnex) on every data set, prints the speed-ups of
    ``ours-default`` and of the best of ours, both test accuracies, and
    met / NOT met for each target.

Usage::

    python benchmarks/bench_solvers.py            # full: 6 datasets, 120 s cap per run
    python benchmarks/bench_solvers.py --quick    # small versions, 2 s cap

Prints one table and writes ``benchmarks/results/solvers[-quick].json``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import importlib.util
import json
import logging
import math
import multiprocessing
import os
import resource
import statistics
import sys
import tempfile
import time
import traceback
import tracemalloc
import warnings
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from _datasets import (
    DatasetNotFound,
    dataset_fingerprint,
    load_dataset,
    load_digits_dataset,
    load_fashion_mnist,
    load_letter,
    load_sector,
    make_dense_classification,
    make_sparse_classification,
    save_dataset,
)
from _machine import (
    CpuLoad,
    FitPeak,
    current_rss_mb,
    format_load,
    format_table,
    machine_info,
    peak_rss_mb,
    print_header,
    write_json,
)
from _targets import (
    MEMORY_RULE,
    PEER_PREFIXES,
    SUMMARY_COLUMNS,
    dataset_comparison,
    judge,
    memory_budget_mb,
    memory_verdict,
    summary_table_rows,
)
from softmax_classifier import SoftmaxClassifier
from softmax_classifier import math as sm

RESULTS_DIR = Path(__file__).resolve().parent / "results"
REFERENCE_CACHE = RESULTS_DIR / "reference_cache.json"
PRELOAD = ["numpy", "scipy.sparse", "sklearn.linear_model", "softmax_classifier", "_datasets"]

# "default": SoftmaxClassifier() with every default but alpha, tol and max_iter (solver "auto").
OUR_SOLVERS = ["default", "lbfgs", "newton-cg", "gd", "sgd", "adam"]
SECOND_ORDER = ["default", "lbfgs", "newton-cg"]
STOCHASTIC = {"ours-sgd", "ours-adam", "sklearn-saga"}
# max_iter for our solvers: large, so that only the target (or the cap) stops them.
OUR_MAX_ITER = {
    "default": 100_000,
    "lbfgs": 100_000,
    "newton-cg": 10_000,
    "gd": 1_000_000,
    "sgd": None,
    "adam": None,
}
# newton-cholesky forms a dense (d c)^2 Hessian: only for small d * c.
NEWTON_CHOLESKY_MAX_PARAMS = 2000
# Below this many entries of X, one BLAS thread is faster (PERFORMANCE_NOTES.md).
SMALL_PROBLEM_ENTRIES = 1_000_000
# scikit-learn-intelex's solvers; its newton-cg runs on oneDAL only in "preview" mode.
SKLEARNEX_SOLVERS = ["lbfgs", "newton-cg"]
SKLEARNEX_PREVIEW_SOLVERS = {"newton-cg"}


# -- plan --------------------------------------------------------------------------------
@dataclass
class Plan:
    """What one run of the benchmark does."""

    quick: bool
    alpha: float = 1e-4
    rtol: float = 1e-6
    cap: float = 120.0
    reference_cap: float = 300.0
    repeat_budget: float = 20.0
    max_repeats: int = 5
    resolution: float = 0.1
    datasets: list = field(default_factory=list)


def make_plan(quick, alpha, rtol, cap=None):
    """Datasets and methods for the full or the ``--quick`` run.

    Each dataset is ``(name, loader, which)``; ``which`` is ``"all"`` (also
    gd/sgd/adam) or ``"second-order"`` (our lbfgs and newton-cg only).
    """
    if quick:
        plan = Plan(True, alpha, rtol, cap=cap or 2.0, reference_cap=15.0, repeat_budget=1.0)
        plan.max_repeats, plan.resolution = 3, 0.25
        plan.datasets = [
            ("digits", load_digits_dataset, "all"),
            ("fashion-mnist-5k", partial(load_fashion_mnist, n_train=5_000), "second-order"),
            ("letter-5k", partial(load_letter, n_train=5_000), "second-order"),
            ("dense-10kx500", partial(dense_synthetic, 10_000, 5_000), "second-order"),
            ("sparse-10kx50k", partial(sparse_synthetic, 10_000, 5_000), "second-order"),
        ]
    else:
        plan = Plan(False, alpha, rtol, cap=cap or 120.0)
        plan.datasets = [
            ("digits", load_digits_dataset, "all"),
            ("fashion-mnist", load_fashion_mnist, "all"),
            ("letter", load_letter, "second-order"),
            ("sector", load_sector, "second-order"),
            ("dense-200kx500", partial(dense_synthetic, 200_000, 20_000), "second-order"),
            ("sparse-100kx50k", partial(sparse_synthetic, 100_000, 20_000), "second-order"),
        ]
    return plan


def dense_synthetic(n_train, n_test):
    """The synthetic dense problem: 500 float32 features, 20 classes, seed 0."""
    return make_dense_classification(n_train, n_test, 500, 20, seed=0, dtype=np.float32)


def sparse_synthetic(n_train, n_test):
    """The synthetic sparse problem: CSR, 50000 features at 0.1%, 20 classes, seed 0."""
    return make_sparse_classification(n_train, n_test, 50_000, 0.001, 20, seed=0)


def methods_for(summary, which, torch_available, sklearnex_available):
    """Method names to run on a dataset (``which``: "all" or "second-order")."""
    ours = OUR_SOLVERS if which == "all" else SECOND_ORDER
    methods = [f"ours-{s}" for s in ours]
    methods.append("sklearn-lbfgs")
    if summary["n_train"] * summary["n_features"] < SMALL_PROBLEM_ENTRIES:
        methods.append("sklearn-lbfgs-1thread")
    methods.append("sklearn-newton-cg")
    if summary["n_features"] * summary["n_classes"] <= NEWTON_CHOLESKY_MAX_PARAMS:
        methods.append("sklearn-newton-cholesky")
    methods.append("sklearn-saga")
    if sklearnex_available:
        methods += [f"sklearnex-{solver}" for solver in SKLEARNEX_SOLVERS]
    if torch_available:
        methods.append("torch-lbfgs")
    return methods


# -- the objective, evaluated the same way for everyone -------------------------------------
def objective_float64(coef, intercept, X, y, alpha):
    """Our objective at ``(coef, intercept)`` in float64, over row chunks of ``X``.

    Uses :func:`softmax_classifier.math.loss` on chunks converted to float64
    (so float32 data are judged exactly, without a float64 copy of all of X).

    Returns
    -------
    float
    """
    coef = np.asarray(coef, dtype=np.float64)
    intercept = np.asarray(intercept, dtype=np.float64)
    n = X.shape[0]
    entries_per_row = X.nnz / max(n, 1) if sp.issparse(X) else X.shape[1]
    chunk = max(1, int(2**21 / max(entries_per_row, 1)))
    total = 0.0
    for start in range(0, n, chunk):
        X_chunk = X[start : start + chunk].astype(np.float64)
        y_chunk = y[start : start + chunk]
        total += sm.loss(coef, intercept, X_chunk, y_chunk, alpha=0.0) * len(y_chunk)
    return total / n + 0.5 * alpha * float(np.sum(coef * coef))


def accuracy_on_test(coef, intercept, X, y):
    """Fraction of test rows whose most probable class is right."""
    raw = sm.raw_prediction(X, np.asarray(coef, dtype=np.float64), np.asarray(intercept))
    return float(np.mean(np.argmax(raw, axis=1) == y))


# -- one method, in a worker process ------------------------------------------------------------
@dataclass
class Outcome:
    """What a method's runner found."""

    reached: bool
    times: list  # seconds to target, one per repeat (empty when not reached)
    objective: float  # float64 objective of the returned model
    coef: np.ndarray
    intercept: np.ndarray
    note: str = ""
    curve: list = field(default_factory=list)
    traced_config: dict = field(default_factory=dict)
    # A peer that stopped on its own criterion short of the target: seconds to that
    # stop, one per repeat, and its objective is ``objective``.
    own_stop_times: list = field(default_factory=list)
    fit_added_mb: float | None = None  # resident memory the fit added at its peak
    fell_back: bool = False  # sklearnex ran scikit-learn's own code (not timed)


def our_estimator(method, alpha):
    """The ``SoftmaxClassifier`` of an ``ours-*`` method, set so that only the target stops it.

    ``ours-default`` keeps every default except ``alpha`` (the benchmark's, so
    that all methods minimise the same objective), ``tol`` and ``max_iter``
    (tight and large: the callback stops the fit at the target). The others
    also name their solver and fix ``random_state`` (sgd, adam).
    """
    solver = method.removeprefix("ours-")
    if solver == "default":
        return SoftmaxClassifier(alpha=alpha, tol=1e-12, max_iter=OUR_MAX_ITER[solver])
    return SoftmaxClassifier(
        alpha=alpha,
        solver=solver,
        tol=1e-12,
        max_iter=OUR_MAX_ITER[solver],
        standardize=False,
        random_state=0,
    )


def run_ours(data, spec):
    """Our estimator: one fit with a callback gives the whole (time, objective) curve."""
    solver = spec["method"].removeprefix("ours-")
    X, y, target, cap = data.X_train, data.y_train, spec["target"], spec["cap"]

    def fit(stop_after_iterations=None):
        clf = our_estimator(spec["method"], spec["alpha"])
        curve, hit = [], []
        start = time.perf_counter()

        def callback(info):
            elapsed = time.perf_counter() - start
            curve.append((elapsed, float(info.objective)))
            if info.objective <= target:
                hit.append(elapsed)
                return True
            if stop_after_iterations is not None and (
                info.iteration >= stop_after_iterations or elapsed > cap / 2
            ):
                return True
            return elapsed > cap

        clf.fit(X, y, callback=callback)
        return clf, (hit[0] if hit else None), curve

    with FitPeak() as memory:
        clf, hit, curve = fit()
    value = objective_float64(clf.coef_, clf.intercept_, X, y, spec["alpha"])
    report = clf.fit_report_
    note = f"{report.n_iter} it, {report.n_passes} passes"
    if solver == "default":
        note = f"chose {report.solver}; {note}"
    reached = hit is not None and value <= target
    if hit is not None and not reached:
        note += "; solver's value met the target, float64 re-evaluation did not"
    elif hit is None:
        note += "; capped" if curve and curve[-1][0] > cap else f"; {report.stop_reason}"
    times = [hit] if reached else []
    if reached:
        times += repeat_while_budget(lambda: fit()[1], spec, spent=curve[-1][0])
    limit = traced_iterations(spec["method"])
    return Outcome(
        reached,
        times,
        value,
        clf.coef_,
        clf.intercept_,
        note,
        curve,
        traced_config={"fit": lambda: fit(stop_after_iterations=limit)},
        fit_added_mb=memory.added_mb,
    )


def peer_estimator_class(method):
    """``LogisticRegression`` of scikit-learn (``sklearn-*``) or sklearnex (``sklearnex-*``)."""
    if method.startswith("sklearnex-"):
        from sklearnex.linear_model import LogisticRegression
    else:
        from sklearn.linear_model import LogisticRegression
    return LogisticRegression


class SklearnexLog(logging.Handler):
    """Collects what scikit-learn-intelex logs about each fit: accelerated, or fallen back and why.

    sklearnex logs "running accelerated version", "fallback to original
    Scikit-learn" (INFO) and the cause of a fallback (DEBUG) on the
    ``sklearnex`` logger. This handler replaces the logger's handlers (sklearnex
    adds one that prints to stderr), so they stay out of the output; use it in a
    worker process after importing sklearnex.
    """

    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.messages = []
        logger = logging.getLogger("sklearnex")
        logger.handlers = [self]
        logger.setLevel(logging.DEBUG)
        logger.propagate = False

    def emit(self, record):
        self.messages.append(record.getMessage())

    def fallback_reason(self):
        """Why the fits fell back to scikit-learn's code ("" when they all ran on oneDAL)."""
        if not any("fallback to original" in m for m in self.messages):
            return ""
        causes = [m.split("cause - ", 1)[1] for m in self.messages if "cause - " in m]
        return "; ".join(dict.fromkeys(causes)) or "no cause logged"


def run_sklearn(data, spec):
    """scikit-learn or sklearnex: fits with increasing max_iter, then bisection, to the target.

    A fit that stops on its own criterion (``n_iter < max_iter``) short of the
    target ends the search: its time and objective are kept (``own_stop_times``)
    so that ours can be compared with it at the objective it reached. An
    sklearnex fit that falls back to scikit-learn's code is reported, not timed.
    """
    from threadpoolctl import threadpool_limits

    method = spec["method"]
    intelex = method.startswith("sklearnex-")
    solver = method.split("-", 1)[1].removesuffix("-1thread")
    if intelex and solver in SKLEARNEX_PREVIEW_SOLVERS:
        os.environ["SKLEARNEX_PREVIEW"] = "1"  # this worker process only
    LogisticRegression = peer_estimator_class(method)
    log = SklearnexLog() if intelex else None
    X, y, target, cap, alpha = (
        data.X_train,
        data.y_train,
        spec["target"],
        spec["cap"],
        spec["alpha"],
    )
    one_thread = method.endswith("-1thread")
    fits = []  # (max_iter, seconds, objective, n_iter)
    models = {}
    memory = FitPeak()

    def fit(max_iter, record=True):
        model = LogisticRegression(
            C=1.0 / (alpha * X.shape[0]),
            solver=solver,
            tol=1e-12,
            max_iter=max_iter,
            random_state=0,
        )
        limit = threadpool_limits(1, user_api="blas") if one_thread else contextlib.nullcontext()
        with memory:
            start = time.perf_counter()
            with limit:
                model.fit(X, y)
            seconds = time.perf_counter() - start
        if not record:
            return seconds
        value = objective_float64(model.coef_, model.intercept_, X, y, alpha)
        fits.append((max_iter, seconds, value, int(np.max(model.n_iter_))))
        models[max_iter] = model
        return seconds, value, int(np.max(model.n_iter_))

    # Doubling: stop at the first max_iter that meets the target.
    low, high, k, note, own_stop = 0, None, 1, "", None
    search_start = time.perf_counter()
    while True:
        seconds, value, n_iter = fit(k)
        if log is not None and log.fallback_reason():
            model = models[k]
            return Outcome(
                False,
                [],
                value,
                model.coef_,
                model.intercept_,
                f"fell back to scikit-learn ({log.fallback_reason()}): not timed, "
                "see the sklearn-* rows",
                fell_back=True,
            )
        if value <= target:
            high = k
            break
        if n_iter < k:
            note = f"stopped by its own criterion after {n_iter} it"
            own_stop = k
            break
        if seconds * 2 > cap or time.perf_counter() - search_start > 2 * cap:
            note = f"capped (next fit, max_iter={2 * k}, predicted > {cap:.0f} s)"
            break
        low, k = k, 2 * k
    # Bisection on max_iter, to within 10% (quick: 25%); the search stops after 3 caps.
    while high is not None and high - low > max(1, int(spec["resolution"] * high)):
        if time.perf_counter() - search_start > 3 * cap:
            break
        mid = (low + high) // 2
        _, value, _ = fit(mid)
        low, high = (low, mid) if value <= target else (mid, high)
    own_stop_times = []
    if high is not None:
        chosen = high
        first = next(s for m, s, _, _ in fits if m == chosen)
        repeats = repeat_while_budget(lambda: fit(chosen, record=False), spec, spent=0.0)
        times = [first, *repeats]
        note = f"max_iter={chosen} ({len(fits)} fits searched)"
    else:
        chosen = own_stop or min(fits, key=lambda f: f[2])[0]  # own stop, else best value seen
        times = []
        if own_stop is not None:
            first = next(s for m, s, _, _ in fits if m == chosen)
            repeats = repeat_while_budget(lambda: fit(chosen, record=False), spec, spent=0.0)
            own_stop_times = [first, *repeats]
    if intelex:
        note += "; ran on oneDAL" + (
            " (preview mode)" if solver in SKLEARNEX_PREVIEW_SOLVERS else ""
        )
    model = models[chosen]
    value = next(v for m, _, v, _ in fits if m == chosen)
    traced_iter = min(chosen, traced_iterations(method))
    return Outcome(
        high is not None,
        times,
        value,
        model.coef_,
        model.intercept_,
        note,
        curve=[{"max_iter": m, "seconds": s, "objective": v, "n_iter": n} for m, s, v, n in fits],
        traced_config={"fit": lambda: fit(traced_iter, record=False)},
        own_stop_times=own_stop_times,
        fit_added_mb=memory.added_mb,
    )


class _StopTorch(Exception):
    """Raised inside the L-BFGS closure to stop at the target or the cap."""


def run_torch(data, spec):
    """PyTorch L-BFGS (strong Wolfe) on the same objective, in the data's dtype."""
    import torch

    X, y, target, cap, alpha = (
        data.X_train,
        data.y_train,
        spec["target"],
        spec["cap"],
        spec["alpha"],
    )
    if sp.issparse(X):
        X_t = torch.sparse_csr_tensor(
            torch.from_numpy(X.indptr.astype(np.int64)),
            torch.from_numpy(X.indices.astype(np.int64)),
            torch.from_numpy(X.data),
            size=X.shape,
        )
    else:
        X_t = torch.from_numpy(X)
    y_t = torch.from_numpy(np.asarray(y, dtype=np.int64))
    n_classes = int(y.max()) + 1

    def fit():
        coef = torch.zeros((n_classes, X.shape[1]), dtype=X_t.dtype, requires_grad=True)
        intercept = torch.zeros(n_classes, dtype=X_t.dtype, requires_grad=True)
        optimizer = torch.optim.LBFGS(
            [coef, intercept],
            lr=1,
            max_iter=10**7,
            max_eval=10**7,
            tolerance_grad=1e-12,
            tolerance_change=1e-15,
            history_size=10,
            line_search_fn="strong_wolfe",
        )
        curve, hit = [], []
        # The lowest point evaluated so far: where a capped run ends (stopping inside a
        # line search would leave the parameters at a trial point). Copying it is
        # kept off the clock.
        best = {"value": math.inf}
        start, paused = time.perf_counter(), 0.0

        def closure():
            nonlocal paused
            optimizer.zero_grad()
            logits = X_t @ coef.T + intercept
            loss = torch.nn.functional.cross_entropy(logits, y_t)
            loss = loss + 0.5 * alpha * (coef * coef).sum()
            loss.backward()
            value = loss.detach().item()
            elapsed = time.perf_counter() - start - paused
            curve.append((elapsed, value))
            if value <= target:
                hit.append(elapsed)
                raise _StopTorch
            if elapsed > cap:
                raise _StopTorch
            if value < best["value"]:
                copy_start = time.perf_counter()
                best.update(value=value, coef=coef.detach().clone(), b=intercept.detach().clone())
                paused += time.perf_counter() - copy_start
            return loss

        with contextlib.suppress(_StopTorch):
            optimizer.step(closure)
        if not hit and "coef" in best:
            coef, intercept = best["coef"], best["b"]
        return coef.detach().numpy(), intercept.detach().numpy(), (hit[0] if hit else None), curve

    with FitPeak() as memory:
        coef, intercept, hit, curve = fit()
    value = objective_float64(coef, intercept, X, y, alpha)
    reached = hit is not None and value <= target
    note = f"{len(curve)} evaluations, {torch.get_num_threads()} torch threads"
    if hit is not None and not reached:
        note += "; torch's value met the target, float64 re-evaluation did not"
    elif hit is None:
        note += "; capped" if curve and curve[-1][0] > cap else "; stopped by its tolerances"
    times = [hit] if reached else []
    if reached:
        times += repeat_while_budget(lambda: fit()[2], spec, spent=curve[-1][0])
    return Outcome(
        reached, times, value, coef, intercept, note, curve, fit_added_mb=memory.added_mb
    )


def traced_iterations(method):
    """Iterations of the traced (tracemalloc) fit: enough to reach the method's peak memory.

    L-BFGS keeps 10 step pairs, so its memory grows for 10 iterations; the
    others allocate the same every iteration (epoch).
    """
    if "lbfgs" in method:
        return 12
    return 1 if method in STOCHASTIC else 3


def repeat_while_budget(timed_call, spec, spent):
    """Repeat a timed call while the repeat budget lasts (at most ``max_repeats`` in all)."""
    times = []
    while 1 + len(times) < spec["max_repeats"] and spent < spec["repeat_budget"]:
        start = time.perf_counter()
        seconds = timed_call()
        spent += time.perf_counter() - start
        if seconds is None:
            break
        times.append(seconds)
    return times


REFERENCE_METHODS = {
    # name: (solver, tol, iterations per warm-started chunk); ours runs in one fit.
    "reference-sklearn-newton-cg": ("newton-cg", 1e-10, 5),
    "reference-ours-newton-cg": ("newton-cg", 1e-10, None),
    "reference-sklearn-lbfgs": ("lbfgs", 1e-12, 200),
}


def run_reference(data, spec):
    """A very tight float64 fit, stopped at the time cap; returns its objective and gap estimate.

    scikit-learn has no callback, so its fit runs in warm-started chunks of a
    few iterations until it converges (stops before ``max_iter``) or the cap
    passes (for lbfgs each chunk restarts its memory: harmless for a
    reference). The gap estimate ``||grad||^2 / (2 alpha)`` bounds
    ``f - f*`` when ``alpha`` is the smallest curvature (it is for ``coef``).
    """
    from sklearn.linear_model import LogisticRegression

    X = data.X_train.astype(np.float64)
    y, alpha, cap = data.y_train, spec["alpha"], spec["cap"]
    solver, tol, chunk = REFERENCE_METHODS[spec["method"]]
    start = time.perf_counter()
    if chunk is None:
        clf = SoftmaxClassifier(alpha=alpha, solver=solver, tol=tol, max_iter=500)
        clf.fit(X, y, callback=lambda info: time.perf_counter() - start > cap)
        coef, intercept = clf.coef_, clf.intercept_
        note = f"{clf.fit_report_.n_iter} it, {clf.fit_report_.stop_reason}"
    else:
        model = LogisticRegression(
            C=1 / (alpha * X.shape[0]), solver=solver, tol=tol, max_iter=chunk, warm_start=True
        )
        n_iter, stop = 0, "capped"
        while time.perf_counter() - start < cap:
            model.fit(X, y)
            n_iter += int(np.max(model.n_iter_))
            if np.max(model.n_iter_) < chunk:
                stop = "converged"
                break
        coef, intercept = model.coef_, model.intercept_
        note = f"{n_iter} it, {stop}"
    seconds = time.perf_counter() - start
    value = objective_float64(coef, intercept, X, y, alpha)
    _, grad_coef, grad_intercept = sm.loss_gradient(coef, intercept, X, y, alpha=alpha)
    squared_norm = float(np.sum(grad_coef**2) + np.sum(grad_intercept**2))
    return {
        "objective": value,
        "seconds": seconds,
        "note": note,
        "max_abs_grad": float(max(np.abs(grad_coef).max(), np.abs(grad_intercept).max())),
        "gap_estimate": squared_norm / (2 * alpha),
    }


def warm_up(X):
    """One small product in X's dtype, so that no timed fit pays for waking BLAS threads."""
    rows = X[: min(X.shape[0], 2048)]
    for _ in range(3):
        np.asarray(rows @ np.ones((X.shape[1], 8), dtype=X.dtype)).sum()


RUNNERS = {"ours": run_ours, "sklearn": run_sklearn, "sklearnex": run_sklearn, "torch": run_torch}


def worker(spec, connection):
    """Entry point of a worker process: run one (dataset, method) and send back a dict."""
    warnings.simplefilter("ignore")
    try:
        if spec["method"].startswith("torch-"):
            import torch  # noqa: F401  (its libraries are not part of the fit's memory)
        if spec["method"].startswith("sklearnex-"):
            import sklearnex.linear_model  # noqa: F401  (likewise)
        data = load_dataset(spec["dataset_dir"])
        rss_data = current_rss_mb()
        if spec["method"].startswith("reference-"):
            result = run_reference(data, spec)
        else:
            result = run_method(data, spec, rss_data)
    except Exception as error:  # report, do not hang the parent
        result = {"error": f"{type(error).__name__}: {error}", "traceback": traceback.format_exc()}
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result["cpu_seconds"] = usage.ru_utime + usage.ru_stime
    connection.send(result)
    connection.close()


def run_method(data, spec, rss_data):
    """Time one method, then measure its memory and test accuracy."""
    warm_up(data.X_train)
    outcome = RUNNERS[spec["method"].split("-", 1)[0]](data, spec)
    peak = peak_rss_mb()
    traced = None
    if "fit" in outcome.traced_config:
        tracemalloc.start()
        outcome.traced_config["fit"]()
        traced = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return {
        "reached": outcome.reached,
        "time_to_target": statistics.median(outcome.times) if outcome.times else None,
        "times": outcome.times,
        "first_time": outcome.times[0] if outcome.times else None,
        "own_stop_seconds": (
            statistics.median(outcome.own_stop_times) if outcome.own_stop_times else None
        ),
        "own_stop_times": outcome.own_stop_times,
        "fell_back": outcome.fell_back,
        "objective": outcome.objective,
        "test_accuracy": accuracy_on_test(
            outcome.coef, outcome.intercept, data.X_test, data.y_test
        ),
        "peak_rss_mb": peak,
        "rss_data_mb": rss_data,
        "rss_growth_mb": peak - rss_data,
        "fit_added_mb": outcome.fit_added_mb,
        "tracemalloc_mb": traced,
        "note": outcome.note,
        "curve": outcome.curve,
    }


# -- the parent: datasets, references, runs, table ---------------------------------------------
class Runner:
    """Starts each run in a fresh process forked from a server with the libraries imported."""

    def __init__(self):
        self.context = multiprocessing.get_context("forkserver")
        self.context.set_forkserver_preload(PRELOAD)
        self.worker_cpu_seconds = 0.0

    def run(self, spec, timeout):
        receiver, sender = self.context.Pipe(duplex=False)
        process = self.context.Process(target=worker, args=(spec, sender), daemon=True)
        process.start()
        sender.close()
        started = time.perf_counter()
        try:
            if receiver.poll(timeout):
                result = receiver.recv()
            else:
                result = {"error": f"killed after {timeout:.0f} s (hard time limit)"}
        except EOFError:
            result = {"error": f"worker died (exit code {process.exitcode}; out of memory?)"}
        finally:
            process.join(timeout=30)
            if process.is_alive():
                process.terminate()
                process.join()
        result["wall_seconds"] = time.perf_counter() - started
        self.worker_cpu_seconds += result.get("cpu_seconds", 0.0)
        return result


def reference_optimum(runner, plan, dataset_dir, fingerprint, refresh, try_all):
    """``f*``: the lowest objective of the reference fits (cached by a hash of the data).

    The fits of :data:`REFERENCE_METHODS` run in turn, stopping at the first
    whose gap estimate is below 1% of the target's tolerance (``try_all``: run
    them all as a cross-check); ``f*`` is the lowest objective found.
    """
    key = f"{fingerprint}|alpha={plan.alpha!r}"
    cache = json.loads(REFERENCE_CACHE.read_text()) if REFERENCE_CACHE.exists() else {}
    if key in cache and not refresh:
        return {**cache[key], "cached": True}
    candidates = {}
    for method in REFERENCE_METHODS:
        spec = {
            "dataset_dir": str(dataset_dir),
            "method": method,
            "alpha": plan.alpha,
            "cap": plan.reference_cap,
        }
        result = runner.run(spec, timeout=2 * plan.reference_cap + 60)
        candidates[method] = result
        good_enough = result.get("gap_estimate", math.inf) <= 0.01 * plan.rtol * abs(
            result.get("objective", math.inf)
        )
        if good_enough and not try_all:
            break
    valid = {m: r for m, r in candidates.items() if "objective" in r}
    if not valid:
        raise RuntimeError(f"no reference fit succeeded: {candidates}")
    best = min(valid, key=lambda m: valid[m]["objective"])
    entry = {
        "f_star": valid[best]["objective"],
        "source": best,
        "gap_estimate": valid[best]["gap_estimate"],
        "candidates": candidates,
    }
    cache[key] = entry
    REFERENCE_CACHE.parent.mkdir(parents=True, exist_ok=True)
    REFERENCE_CACHE.write_text(json.dumps(cache, indent=1))
    return {**entry, "cached": False}


def add_ratios(rows):
    """``ratio`` = time to target / the fastest peer's (scikit-learn or sklearnex), per dataset.

    Only peers that reached the target count here; the summary of issue 11's
    targets (:mod:`_targets`) also compares with peers that stopped short.
    """
    for dataset in {row["dataset"] for row in rows}:
        same = [row for row in rows if row["dataset"] == dataset]
        peer_times = [
            r["time_to_target"]
            for r in same
            if r["method"].startswith(PEER_PREFIXES) and r.get("time_to_target") is not None
        ]
        fastest = min(peer_times) if peer_times else None
        for row in same:
            t = row.get("time_to_target")
            row["ratio_vs_fastest_peer"] = None if t is None or fastest is None else t / fastest


def _num(spec, missing="-"):
    """A cell formatter: ``format(value, spec)``, or ``missing`` for None/NaN."""

    def cell(value):
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return missing
        return format(value, spec)

    return cell


def _time_cell(value):
    return "not reached" if value is None else f"{value:.3f}"


COLUMNS = [
    ("dataset", "dataset", str),
    ("method", "method", str),
    ("time_to_target", "time-to-target s", _time_cell),
    ("first_time", "1st fit s", _num(".3f")),
    ("ratio_vs_fastest_peer", "x fastest peer", _num(".2f")),
    ("objective", "objective (final/best)", _num(".10f")),
    ("relative_gap", "(f-f*)/|f*|", _num(".1e")),
    ("test_accuracy", "test acc", _num(".4f")),
    ("peak_rss_mb", "peak RSS MB", _num(".0f")),
    ("fit_added_mb", "+fit MB", _num(".1f")),
    ("memory_budget_mb", "budget MB", _num(".1f")),
    ("memory_verdict", "mem", lambda v: v or ""),
    ("tracemalloc_mb", "tracemalloc MB", _num(".1f", "n/a")),
    ("n_repeats", "n", str),
    ("note", "note", str),
]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small datasets, under 2 minutes")
    parser.add_argument("--alpha", type=float, default=1e-4, help="L2 penalty (default 1e-4)")
    parser.add_argument("--rtol", type=float, default=1e-6, help="target: f <= f*(1 + rtol)")
    parser.add_argument("--cap", type=float, default=None, help="seconds per run (120; quick 2)")
    parser.add_argument("--datasets", nargs="*", help="only these dataset names")
    parser.add_argument("--methods", nargs="*", help="only these method names")
    parser.add_argument("--recompute-reference", action="store_true", help="ignore cached f*")
    parser.add_argument(
        "--all-references",
        action="store_true",
        help="run every reference fit (a cross-check), not just until one is certified",
    )
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args(argv)

    plan = make_plan(args.quick, args.alpha, args.rtol, args.cap)
    output = args.output or RESULTS_DIR / ("solvers-quick.json" if args.quick else "solvers.json")
    info = machine_info()
    torch_available = importlib.util.find_spec("torch") is not None
    sklearnex_version, sklearnex_problem = sklearnex_status()
    print_header("bench_solvers: time to reach f* + rtol |f*|", info)
    print(
        f"objective: mean cross-entropy + alpha/2 ||W||^2 with alpha = {plan.alpha:g} "
        f"(sklearn C = 1/(alpha n)); target rtol = {plan.rtol:g}; cap {plan.cap:g} s per run; "
        f"{'quick' if plan.quick else 'full'} mode"
    )
    if torch_available:
        import torch

        info["torch"] = {"version": torch.__version__, "threads": torch.get_num_threads()}
        print(f"torch   : {torch.__version__}, {torch.get_num_threads()} threads")
    else:
        info["torch"] = None
        print(
            "torch   : not importable: PyTorch L-BFGS peer skipped "
            "(pip install torch==2.13.0 to include it)"
        )
    info["sklearnex"] = sklearnex_version and {"version": sklearnex_version}
    if sklearnex_version:
        print(
            f"sklearnex: scikit-learn-intelex {sklearnex_version} "
            f"(sklearnex-newton-cg in its preview mode, SKLEARNEX_PREVIEW=1)"
        )
    else:
        print(
            f"sklearnex: {sklearnex_problem}: scikit-learn-intelex peer skipped "
            "(pip install scikit-learn-intelex to include it)"
        )
    sys.stdout.flush()

    runner = Runner()
    load_before = CpuLoad.now()
    payload = {"machine": info, "plan": _plan_json(plan), "datasets": [], "rows": []}
    rows = payload["rows"]
    with tempfile.TemporaryDirectory(prefix="bench-solvers-") as tmp:
        for name, loader, which in plan.datasets:
            if args.datasets and name not in args.datasets:
                continue
            started = time.perf_counter()
            try:
                data = loader()
            except DatasetNotFound as error:
                print(f"\n[{name}] skipped: not found ({error})")
                payload["datasets"].append({"name": name, "skipped": f"not found: {error}"})
                continue
            dataset_dir = Path(tmp) / name
            save_dataset(data, dataset_dir)
            summary, fingerprint = data.summary(), dataset_fingerprint(data)
            del data
            reference = reference_optimum(
                runner,
                plan,
                dataset_dir,
                fingerprint,
                args.recompute_reference,
                args.all_references,
            )
            f_star = reference["f_star"]
            target = f_star + plan.rtol * abs(f_star)
            payload["datasets"].append({**summary, "reference": reference, "target": target})
            print(
                f"\n[{name}] {summary['n_train']} x {summary['n_features']}, "
                f"{summary['n_classes']} classes, {summary['dtype']} {summary['format']} "
                f"({summary['megabytes']:.0f} MB); f* = {f_star:.12g} from {reference['source']} "
                f"(gap estimate {reference['gap_estimate']:.0e})"
                f"{' (cached)' if reference['cached'] else ''}; prepared in "
                f"{time.perf_counter() - started:.1f} s"
            )
            for method in methods_for(summary, which, torch_available, bool(sklearnex_version)):
                if args.methods and method not in args.methods:
                    continue
                spec = {
                    "dataset_dir": str(dataset_dir),
                    "method": method,
                    "alpha": plan.alpha,
                    "target": target,
                    "cap": plan.cap,
                    "repeat_budget": plan.repeat_budget,
                    "max_repeats": plan.max_repeats,
                    "resolution": plan.resolution,
                }
                result = runner.run(spec, timeout=6 * plan.cap + 60)
                row = {"dataset": name, "method": method, **result}
                if "objective" in row:
                    row["relative_gap"] = (row["objective"] - f_star) / abs(f_star)
                    row["n_repeats"] = len(row["times"])
                    row["memory_budget_mb"] = memory_budget_mb(summary)
                    row["memory_verdict"] = memory_verdict(row)
                    if row.get("own_stop_seconds") is not None:
                        row["note"] += (
                            f", short of the target: {row['own_stop_seconds']:.3f} s "
                            f"(median of {len(row['own_stop_times'])}) to its "
                            f"(f-f*)/|f*| = {row['relative_gap']:.1e}"
                        )
                else:
                    row["note"] = row.get("error", "failed")
                rows.append(row)
                print(f"  {method:<24} {_progress(row)}", flush=True)
            add_ratios(rows)
            payload["load"] = CpuLoad.now().report_since(load_before, runner.worker_cpu_seconds)
            write_json(output, payload)

    add_ratios(rows)
    load = CpuLoad.now().report_since(load_before, runner.worker_cpu_seconds)
    payload["load"] = load
    print()
    print(format_table(rows, COLUMNS))
    print(f"memory budget (issue 11): {MEMORY_RULE}")
    print()
    for row in rows:
        if row.get("relative_gap") is not None and row["relative_gap"] < -plan.rtol:
            print(
                f"warning: {row['dataset']}/{row['method']} is below f* by "
                f"{-row['relative_gap']:.1e} (relative): f* was not tight"
            )
    payload["issue_11"] = print_targets(rows, payload["datasets"], plan)
    print(format_load(load))
    write_json(output, payload)
    print(f"wrote {output}")


def sklearnex_status():
    """``(version, None)`` when scikit-learn-intelex imports, else ``(None, why not)``."""
    try:
        from sklearnex.linear_model import LogisticRegression  # noqa: F401
    except Exception as error:  # not installed, or its oneDAL libraries do not load
        return None, f"not importable ({type(error).__name__}: {error})"
    try:  # the distribution's version (sklearnex.__version__ can be a placeholder)
        return importlib.metadata.version("scikit-learn-intelex"), None
    except importlib.metadata.PackageNotFoundError:
        return "unknown version", None


def print_targets(rows, datasets, plan):
    """Print issue 11's comparison per data set and its verdicts; return them for the JSON."""
    comparisons = [
        dataset_comparison(rows, entry["name"], entry["target"])
        for entry in datasets
        if "target" in entry
    ]
    skipped = [f"{e['name']} ({e['skipped']})" for e in datasets if "skipped" in e]
    print(
        "Issue 11: speed-up = the peer's time / ours' time at the same objective, against the "
        "peer (scikit-learn or sklearnex) that gives the smallest speed-up; a peer that "
        "stopped short of the target is compared at the objective it reached. Ours' time: "
        "the slower of the median and the first fit (fresh process)."
    )
    print(format_table(summary_table_rows(comparisons), SUMMARY_COLUMNS))
    for comparison in comparisons:
        if comparison["left_out"]:
            print(f"  {comparison['dataset']}: not compared: {', '.join(comparison['left_out'])}")
    for line in skipped:
        print(f"  skipped data set: {line}")
    if plan.quick:
        print("  quick mode: small versions of the data sets and short caps; indicative only")
    verdicts = judge(comparisons, rows)
    for verdict in verdicts:
        print(verdict["line"])
    return {"comparisons": comparisons, "verdicts": verdicts, "skipped": skipped}


def _progress(row):
    if "error" in row:
        return f"error: {row['error']}"
    time_cell = _time_cell(row["time_to_target"])
    return (
        f"{time_cell:>12}  gap {row['relative_gap']:.1e}  {row['note']} "
        f"[run took {row['wall_seconds']:.1f} s]"
    )


def _plan_json(plan):
    return {
        "quick": plan.quick,
        "alpha": plan.alpha,
        "rtol": plan.rtol,
        "cap_seconds": plan.cap,
        "reference_cap_seconds": plan.reference_cap,
        "repeat_budget_seconds": plan.repeat_budget,
        "max_repeats": plan.max_repeats,
        "max_iter_resolution": plan.resolution,
    }


if __name__ == "__main__":
    main()
