"""L1 and elastic net: ours (``prox-newton``) against scikit-learn's ``saga``, same objective.

Issue 14's acceptance: "the same objective as scikit-learn's saga at a tight
tolerance (within 1e-6 relative, ours at least as low) and the same set of zero
coefficients on the suite's data; at least 10x faster than saga to that
objective (benchmarked, same run)". For each data set, penalty and ``C``:

    F(W, b) = mean cross-entropy + alpha * ||W||_1                              (l1)
    F(W, b) = mean cross-entropy + alpha * (r ||W||_1 + (1 - r)/2 ||W||_F^2)    (elasticnet)

with the intercept not penalised and ``alpha = 1 / (C * n)``: scikit-learn's
``LogisticRegression(C=C, l1_ratio=r, solver="saga")`` minimises ``C * n * F``.
Every fit is judged by ``F`` evaluated here, in float64, on its ``coef_`` and
``intercept_`` (:func:`objective`).

Reference ``F*``
    Ours with ``tol=1e-10`` (the largest entry of the minimum-norm subgradient,
    the KKT residual, which the table prints) and ``max_iter=1000``.
Target
    ``F <= F* + rtol |F*|``, ``rtol = 1e-6``.
Ours
    ``SoftmaxClassifier(alpha=alpha, penalty=..., l1_ratio=..., max_iter=1000)``
    (``solver="auto"``, which picks ``prox-newton``) with ``tol`` = 1e-4 (the
    default), 1e-6, 1e-8 in turn: the first whose model meets the target is
    timed (whole ``fit`` call); if none does, the reference fit (1e-10) is.
saga
    ``LogisticRegression(solver="saga", random_state=0)`` with ``tol`` = 1e-3,
    1e-4, ..., 1e-10 in turn, each fit fresh: the first that meets the target
    is timed (whole ``fit`` call). With a fixed seed a tighter ``tol`` runs
    the same epochs further, so that is saga's fastest run to the target.
    Each fit's ``max_iter`` is what fits in the cap (``--cap``, seconds per
    fit, from the measured time per epoch) and in what is left of the case's
    budget (two caps for all its saga fits). A fit that stops at its
    ``max_iter`` ends the search: "not reached", with its objective and its
    time, a lower bound on saga's time to the target.

Reached times are repeated while a small budget lasts and the median is
reported. Zero sets: ``coef == 0`` of ours at the reference against saga's
returned model (the one that met the target, else its lowest objective).
With L1 and an even number of classes some features' zeros are not
determined by the objective (:func:`free_shift_columns`); differences there
are counted apart.
The group lasso (``penalty="group"``, no peer) gets our time at the default
``tol``, the KKT residual of that fit and of the reference fit, and the
features kept. All data are float64; binary data sets are left out (there
scikit-learn fits one coefficient vector and we fit two, so the elastic
net's L2 part differs).

Usage::

    python benchmarks/bench_penalties.py --quick   # small data, 15 s cap per saga fit
    python benchmarks/bench_penalties.py           # 60 s cap per saga fit

Prints one table and writes ``benchmarks/results/penalties[-quick].json``.
"""

from __future__ import annotations

import argparse
import inspect
import statistics
import time
import traceback
import warnings
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression

from _datasets import Dataset, DatasetNotFound, load_digits_dataset, load_letter, load_sector
from _machine import CpuLoad, format_load, format_table, machine_info, print_header, write_json
from bench_defaults import _num, git_state
from softmax_classifier import SoftmaxClassifier
from softmax_classifier import math as sm

RESULTS_DIR = Path(__file__).resolve().parent / "results"
RTOL = 1e-6
SPEEDUP_TARGET = 10.0
REFERENCE_TOL = 1e-10
OUR_TOLS = (1e-4, 1e-6, 1e-8)  # then the reference fit, at REFERENCE_TOL
OUR_MAX_ITER = 1000
SAGA_TOLS = tuple(10.0**-k for k in range(3, 11))
ELASTICNET_RATIO = 0.5
# saga: each fit at most --cap seconds, all fits of one case at most SAGA_BUDGET caps.
SAGA_BUDGET = 2.0


@dataclass
class Plan:
    """What one run measures: data sets with their ``C`` values, caps and repeat budget."""

    quick: bool
    cap: float
    repeat_budget: float
    datasets: list = field(default_factory=list)  # (name, loader, C values)


def make_plan(quick, cap=None):
    """The data sets and ``C`` values of the full or the ``--quick`` run."""
    if quick:
        return Plan(
            True,
            cap or 15.0,
            1.0,
            [
                ("iris", partial(load_small, "iris"), [0.1]),
                ("wine", partial(load_small, "wine"), [0.1]),
                ("digits", load_digits_dataset, [0.1]),
                ("letter-3k", partial(load_letter, n_train=3_000), [1.0]),
                ("sector-300", partial(sector_rows, 300), [10.0]),
            ],
        )
    return Plan(
        False,
        cap or 60.0,
        3.0,
        [
            ("iris", partial(load_small, "iris"), [0.1, 1.0]),
            ("wine", partial(load_small, "wine"), [0.1, 1.0]),
            ("digits", load_digits_dataset, [0.1, 1.0]),
            ("letter", load_letter, [1.0]),
            ("sector-800", partial(sector_rows, 800), [10.0]),
        ],
    )


# -- data ---------------------------------------------------------------------------------
def load_small(name, seed=0):
    """scikit-learn's iris or wine, standardised on a 75/25 stratified training split.

    Returns
    -------
    Dataset
    """
    from sklearn import datasets
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=seed
    )
    scaler = StandardScaler().fit(X_train)
    return Dataset(
        name,
        scaler.transform(X_train),
        y_train.astype(np.int64),
        scaler.transform(X_test),
        y_test.astype(np.int64),
        int(y.max()) + 1,
        f"sklearn {name}, standardised on the train split, float64",
    )


def sector_rows(n_rows, seed=0):
    """LIBSVM ``sector``: a random ``n_rows`` of its training rows and the columns they use.

    Labels are re-encoded to the classes present (``0 .. k-1``).

    Returns
    -------
    Dataset
    """
    data = load_sector()
    keep = np.sort(np.random.default_rng(seed).choice(len(data.y_train), n_rows, replace=False))
    X = data.X_train[keep]
    used = np.flatnonzero(X.getnnz(axis=0))
    classes, y = np.unique(data.y_train[keep], return_inverse=True)
    return Dataset(
        f"sector-{n_rows}",
        X[:, used].tocsr(),
        y.astype(np.int64),
        data.X_test[:, used].tocsr(),
        np.searchsorted(classes, data.y_test).astype(np.int64),
        len(classes),
        f"{data.description}; random {n_rows} training rows, the {len(used)} columns they use",
    )


# -- the objective, evaluated the same way for everyone -------------------------------------
def objective(coef, intercept, X, y, alpha, l1_ratio):
    """``F`` at ``(coef, intercept)`` in float64 (``l1_ratio`` 1 for ``"l1"``).

    Parameters
    ----------
    coef : ndarray of shape (n_classes, n_features)
    intercept : ndarray of shape (n_classes,)
    X : ndarray or CSR matrix of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,), class indices
    alpha : float
    l1_ratio : float

    Returns
    -------
    float
    """
    coef = np.asarray(coef, dtype=np.float64)
    intercept = np.asarray(intercept, dtype=np.float64)
    cross_entropy = sm.loss(coef, intercept, X, y, alpha=0.0)
    l1, l2 = float(np.abs(coef).sum()), float(np.sum(coef * coef))
    return cross_entropy + alpha * (l1_ratio * l1 + 0.5 * (1.0 - l1_ratio) * l2)


def relative_gap(value, reference):
    """``(value - reference) / |reference|``."""
    return (value - reference) / abs(reference)


# -- ours ---------------------------------------------------------------------------------
def fit_ours(X, y, alpha, penalty, l1_ratio, tol):
    """One timed fit of ours; returns ``(estimator, seconds)`` (warnings kept out)."""
    extra = {"l1_ratio": l1_ratio} if penalty == "elasticnet" else {}
    clf = SoftmaxClassifier(alpha=alpha, penalty=penalty, tol=tol, max_iter=OUR_MAX_ITER, **extra)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        clf.fit(X, y)
        seconds = time.perf_counter() - start
    return clf, seconds


def repeat_times(first, again, budget, max_repeats=5):
    """``first`` and more timings from ``again()`` while ``budget`` seconds last."""
    times = [first]
    while len(times) < max_repeats and sum(times) + times[-1] <= budget:
        times.append(again())
    return times


# -- scikit-learn's saga ----------------------------------------------------------------------
def saga_estimator(C, l1_ratio, tol, max_iter):
    """``LogisticRegression(solver="saga")`` for ``l1_ratio`` (1: L1), in this version's API.

    scikit-learn 1.8 deprecated ``penalty``: ``l1_ratio`` alone says the
    penalty. Older versions need ``penalty="l1"`` / ``"elasticnet"``.
    """
    penalty_default = inspect.signature(LogisticRegression).parameters["penalty"].default
    options = {"C": C, "solver": "saga", "tol": tol, "max_iter": max_iter, "random_state": 0}
    if penalty_default == "deprecated":
        options["l1_ratio"] = l1_ratio
    elif l1_ratio == 1.0:
        options["penalty"] = "l1"
    else:
        options.update(penalty="elasticnet", l1_ratio=l1_ratio)
    return LogisticRegression(**options)


def fit_saga(X, y, C, l1_ratio, tol, max_iter):
    """One timed saga fit; returns ``(estimator, seconds, epochs)`` (warnings kept out)."""
    clf = saga_estimator(C, l1_ratio, tol, max_iter)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning at max_iter; FutureWarnings
        start = time.perf_counter()
        clf.fit(X, y)
        seconds = time.perf_counter() - start
    return clf, seconds, int(np.max(clf.n_iter_))


def run_saga(X, y, C, l1_ratio, alpha, target, cap, repeat_budget):
    """saga's fastest run to ``target`` over its tolerances.

    Each fit gets the ``max_iter`` that fits in ``cap`` seconds (and in what is
    left of ``SAGA_BUDGET x cap`` for the case), from the time per epoch
    measured so far (first from a one-epoch fit). A fit that stops at that
    ``max_iter`` much sooner than its time allowed (the estimate was high) is
    run again with the new estimate; otherwise it ends the search.

    Returns
    -------
    dict
        ``reached``, ``seconds`` (median of the repeats when reached; else the
        longest fit, a lower bound), ``times``, ``tol``, ``epochs``, ``value``
        and ``coef`` of the returned model, ``best_value`` over all fits, ``runs``.
    """
    _, probe_seconds, _ = fit_saga(X, y, C, l1_ratio, 1e-12, 1)  # one epoch, to size max_iter
    spent, epoch_seconds = probe_seconds, probe_seconds
    runs, best = [], None
    tols = list(SAGA_TOLS)
    while tols and spent < SAGA_BUDGET * cap:
        limit = min(cap, SAGA_BUDGET * cap - spent)
        max_iter = max(1, int(limit / epoch_seconds))
        clf, seconds, epochs = fit_saga(X, y, C, l1_ratio, tols[0], max_iter)
        spent += seconds
        epoch_seconds = seconds / max(epochs, 1)
        value = objective(clf.coef_, clf.intercept_, X, y, alpha, l1_ratio)
        run = {"tol": tols[0], "max_iter": max_iter, "epochs": epochs, "seconds": seconds}
        run.update(value=value, capped=epochs >= max_iter)
        runs.append(run)
        if best is None or value < best[0]["value"]:
            best = (run, clf)
        if value <= target:
            break
        if run["capped"]:
            if seconds < 0.5 * limit:
                continue  # the one-epoch estimate was too high: same tol, more epochs
            break
        tols.pop(0)
    run, clf = best
    reached = run["value"] <= target
    times = [run["seconds"]]
    if reached:
        times = repeat_times(
            run["seconds"],
            lambda: fit_saga(X, y, C, l1_ratio, run["tol"], run["max_iter"])[1],
            repeat_budget,
            max_repeats=3,
        )
    return {
        "reached": reached,
        # Not reached: its longest fit, a lower bound on its time to the target.
        "seconds": statistics.median(times) if reached else max(r["seconds"] for r in runs),
        "times": times,
        "spent": spent,
        "tol": run["tol"],
        "epochs": run["epochs"],
        "value": run["value"],
        "best_value": min(r["value"] for r in runs),
        "coef": clf.coef_,
        "capped": run["capped"],
        "runs": runs,
    }


# -- one case -----------------------------------------------------------------------------
def run_case(data, penalty, C, plan):
    """Reference, ours to the target and saga to the target for one penalty and ``C``."""
    X, y = data.X_train, data.y_train
    alpha = 1.0 / (C * len(y))
    l1_ratio = ELASTICNET_RATIO if penalty == "elasticnet" else 1.0
    reference, reference_seconds = fit_ours(X, y, alpha, penalty, l1_ratio, REFERENCE_TOL)
    f_star = objective(reference.coef_, reference.intercept_, X, y, alpha, l1_ratio)
    target = f_star + RTOL * abs(f_star)
    report = reference.fit_report_
    row = {
        "penalty": penalty if penalty == "l1" else f"elasticnet r={l1_ratio:g}",
        "C": C,
        "alpha": alpha,
        "f_star": f_star,
        "kkt": report.grad_norm,
        "reference_note": f"{report.n_iter} it, {report.stop_reason}, {reference_seconds:.2f} s",
        "nonzero": int(np.count_nonzero(reference.coef_)),
        "size": int(reference.coef_.size),
    }
    for tol in OUR_TOLS:
        clf, seconds = fit_ours(X, y, alpha, penalty, l1_ratio, tol)
        value = objective(clf.coef_, clf.intercept_, X, y, alpha, l1_ratio)
        if value <= target:
            break
    else:
        tol, clf, seconds, value = REFERENCE_TOL, reference, reference_seconds, f_star
    times = repeat_times(
        seconds,
        lambda: fit_ours(X, y, alpha, penalty, l1_ratio, tol)[1],
        plan.repeat_budget,
    )
    row.update(
        ours_seconds=statistics.median(times),
        ours_times=times,
        ours_tol=tol,
        ours_gap=relative_gap(value, f_star),
        ours_note=f"{clf.fit_report_.solver}, {clf.fit_report_.n_iter} it",
    )
    saga = run_saga(X, y, C, l1_ratio, alpha, target, plan.cap, plan.repeat_budget)
    ours_zero, saga_zero = reference.coef_ == 0, np.asarray(saga["coef"]) == 0
    free = free_shift_columns(reference.coef_, penalty)[np.newaxis, :]
    determined_differ = (ours_zero != saga_zero) & ~free
    row.update(
        saga_seconds=saga["seconds"],
        saga_reached=saga["reached"],
        saga_tol=saga["tol"],
        saga_epochs=saga["epochs"],
        saga_gap=relative_gap(saga["value"], f_star),
        saga_best_gap=relative_gap(saga["best_value"], f_star),
        saga_spent=saga["spent"],
        saga_times=saga["times"],
        saga_runs=saga["runs"],
        zeros_ours=int(ours_zero.sum()),
        zeros_saga=int(saga_zero.sum()),
        zeros_differ=int(np.count_nonzero(ours_zero != saga_zero)),
        free_columns=int(free.sum()),
        zeros_differ_determined=int(np.count_nonzero(determined_differ)),
        # The size of what differs: the largest |coefficient| (of either model) there.
        differ_max_abs=_largest_where(determined_differ, reference.coef_, saga["coef"]),
        zeros_differ_timed=int(np.count_nonzero(((clf.coef_ == 0) != saga_zero) & ~free)),
    )
    row["ratio"] = saga["seconds"] / row["ours_seconds"]
    row["verdict"] = verdict(row)
    return row


def free_shift_columns(coef, penalty):
    """Features whose zero coefficients the L1 objective does not determine.

    Adding one number ``t`` to a whole column ``coef[:, j]`` changes no
    probability (every logit of a row moves by ``t x_j``), so an optimum's
    column minimises ``sum_k |coef[k, j] + t|`` over ``t``: any ``t`` that
    puts 0 between the column's middle values. With an even number of classes
    ``c`` and the ``c/2``-th and ``c/2 + 1``-th values apart, a whole interval
    of shifts is optimal, with different zeros (one at each end, none
    inside): two exact optima may differ there. The elastic net's L2 term
    pins the shift, and an odd ``c`` has a single median.

    Parameters
    ----------
    coef : ndarray of shape (n_classes, n_features)
        An optimum (ours at the reference).
    penalty : str

    Returns
    -------
    ndarray of bool, shape (n_features,)
    """
    n_classes = coef.shape[0]
    if penalty != "l1" or n_classes % 2:
        return np.zeros(coef.shape[1], dtype=bool)
    middle = np.sort(coef, axis=0)[n_classes // 2 - 1 : n_classes // 2 + 1]
    return middle[0] < middle[1]


def _largest_where(mask, *coefs):
    """Largest ``|coef|`` of any of ``coefs`` where ``mask`` holds (0.0 where it never does)."""
    if not mask.any():
        return 0.0
    return max(float(np.max(np.abs(np.asarray(coef)[mask]))) for coef in coefs)


def verdict(row):
    """Issue 14's three conditions for one case, as words."""
    if not row["saga_reached"]:
        objective_words = "saga did not reach F* within its cap"
    elif row["saga_best_gap"] < 0.0:
        objective_words = "saga went BELOW ours"
    else:
        objective_words = "objective same, ours as low"
    parts = [
        objective_words,
        _zeros_words(row),
    ]
    if row["saga_reached"]:
        parts.append(f">= {SPEEDUP_TARGET:g}x met" if row["ratio"] >= SPEEDUP_TARGET else "NOT 10x")
    elif row["ratio"] >= SPEEDUP_TARGET:
        parts.append(f">= {SPEEDUP_TARGET:g}x met (saga capped: lower bound)")
    else:
        parts.append("10x undecided (saga capped)")
    return "; ".join(parts)


def _zeros_words(row):
    free = ""
    if row["free_columns"]:
        free = (
            f" ({row['zeros_differ'] - row['zeros_differ_determined']} more in the "
            f"{row['free_columns']} features whose zeros the objective leaves free)"
        )
    if row["zeros_differ_determined"] == 0:
        return "zeros same" + free
    return f"zeros DIFFER at {row['zeros_differ_determined']} entries" + free


def run_group(data, C, plan):
    """The group lasso (no peer): our time at the default ``tol``, KKT residuals, features kept."""
    X, y = data.X_train, data.y_train
    alpha = 1.0 / (C * len(y))
    reference, reference_seconds = fit_ours(X, y, alpha, "group", 1.0, REFERENCE_TOL)
    f_star = _group_objective(reference, X, y, alpha)
    clf, seconds = fit_ours(X, y, alpha, "group", 1.0, 1e-4)
    times = repeat_times(
        seconds, lambda: fit_ours(X, y, alpha, "group", 1.0, 1e-4)[1], plan.repeat_budget
    )
    return {
        "C": C,
        "alpha": alpha,
        "f_star": f_star,
        "ours_seconds": statistics.median(times),
        "ours_times": times,
        "kkt": clf.fit_report_.grad_norm,
        "gap": relative_gap(_group_objective(clf, X, y, alpha), f_star),
        "reference_kkt": reference.fit_report_.grad_norm,
        "reference_seconds": reference_seconds,
        "features_kept": reference.fit_report_.n_nonzero_features,
        "n_features": X.shape[1],
        "note": f"{clf.fit_report_.n_iter} it, {clf.fit_report_.stop_reason}; reference "
        f"{reference.fit_report_.n_iter} it, {reference.fit_report_.stop_reason}",
    }


def _group_objective(clf, X, y, alpha):
    coef = np.asarray(clf.coef_, dtype=np.float64)
    cross_entropy = sm.loss(coef, np.asarray(clf.intercept_, np.float64), X, y, alpha=0.0)
    return cross_entropy + alpha * float(np.linalg.norm(coef, axis=0).sum())


# -- output -------------------------------------------------------------------------------
def _ratio(row):
    bound = "" if row["saga_reached"] else ">="
    return f"{bound}{row['ratio']:.1f}x"


def _saga_cell(row):
    if row["saga_reached"]:
        return f"{row['saga_seconds']:.3f}"
    return f"not reached ({row['saga_spent']:.0f} s)"


COLUMNS = [
    ("data", "data", str),
    ("penalty", "penalty", str),
    ("C", "C", _num("g")),
    ("f_star", "F*", _num(".10f")),
    ("kkt", "KKT at F*", _num(".1e")),
    ("ours_cell", "ours s", str),
    ("ours_tol", "ours tol", _num("g")),
    ("saga_cell", "saga s", str),
    ("saga_tol", "saga tol", _num("g")),
    ("ratio_cell", "saga/ours", str),
    ("ours_gap", "ours gap", _num(".1e")),
    ("saga_gap", "saga gap", _num(".1e")),
    ("saga_best_gap", "saga min gap", _num(".1e")),
    ("zeros_cell", "zeros ours/saga", str),
    ("zeros_differ", "zeros differ", _num("d")),
    ("free_columns", "free cols", _num("d")),
    ("zeros_differ_determined", "differ elsewhere", _num("d")),
    ("differ_max_abs", "max |W| there", _num(".1e")),
    ("zeros_differ_timed", "(timed)", _num("d")),
]
GROUP_COLUMNS = [
    ("data", "data", str),
    ("C", "C", _num("g")),
    ("f_star", "F*", _num(".10f")),
    ("ours_seconds", "ours s (tol 1e-4)", _num(".3f")),
    ("kkt", "KKT", _num(".1e")),
    ("gap", "gap", _num(".1e")),
    ("reference_kkt", "KKT at F*", _num(".1e")),
    ("kept_cell", "features kept", str),
    ("note", "iterations", str),
]


def print_tables(rows, group_rows):
    """The L1 / elastic-net table, its verdicts, and the group-lasso table."""
    for row in rows:
        if "error" in row:
            continue
        row["ours_cell"] = f"{row['ours_seconds']:.3f}"
        row["saga_cell"] = _saga_cell(row)
        row["ratio_cell"] = _ratio(row)
        row["zeros_cell"] = f"{row['zeros_ours']}/{row['zeros_saga']} of {row['size']}"
    good = [row for row in rows if "error" not in row]
    print(format_table(good, COLUMNS))
    print(
        f"\ngaps: (F - F*)/|F*| of the timed fits (target <= {RTOL:g}); 'saga min gap': "
        "its lowest over all its fits (< 0: saga went below ours)"
    )
    for row in good:
        print(f"  {row['data']} {row['penalty']} C={row['C']:g}: {row['verdict']}")
    for row in rows:
        if "error" in row:
            print(f"  {row['data']} {row.get('penalty', '')}: error {row['error']}")
    for row in group_rows:
        row["kept_cell"] = f"{row['features_kept']} of {row['n_features']}"
    if group_rows:
        print("\ngroup lasso (no peer): ours at the default tol, and its reference at tol 1e-10")
        print(format_table(group_rows, GROUP_COLUMNS))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small data, 15 s cap per saga fit")
    parser.add_argument("--cap", type=float, default=None, help="seconds per saga fit")
    parser.add_argument("--datasets", nargs="*", help="only these data sets (names as listed)")
    parser.add_argument("--output", type=Path, default=None, help="JSON file to write")
    args = parser.parse_args(argv)
    plan = make_plan(args.quick, args.cap)
    known = [name for name, _, _ in plan.datasets]
    unknown = sorted(set(args.datasets or []) - set(known))
    if unknown:
        parser.error(f"unknown data set(s) {', '.join(unknown)}; choose from {', '.join(known)}")
    output = args.output or RESULTS_DIR / (
        "penalties-quick.json" if args.quick else "penalties.json"
    )
    info = machine_info()
    print_header("bench_penalties: L1 / elastic net, ours (prox-newton) against saga", info)
    payload = {"machine": info, "quick": args.quick, "cap": plan.cap, "git": git_state()}
    print(f"code    : {payload['git']}")
    print(
        f"target  : F <= F* (1 + {RTOL:g}), F* = ours at tol {REFERENCE_TOL:g}; saga cap "
        f"{plan.cap:g} s per fit, {SAGA_BUDGET * plan.cap:g} s per case; times: median of "
        f"repeats within {plan.repeat_budget:g} s",
        flush=True,
    )
    load_before = CpuLoad.now()
    rows, group_rows = [], []
    payload.update(rows=rows, group_rows=group_rows, datasets=[])
    for name, loader, Cs in plan.datasets:
        if args.datasets and name not in args.datasets:
            continue
        try:
            data = loader()
        except DatasetNotFound as error:
            print(f"\n[{name}] skipped: not found ({error})")
            payload["datasets"].append({"name": name, "skipped": f"not found: {error}"})
            continue
        data.X_train = data.X_train.astype(np.float64)
        summary = data.summary()
        payload["datasets"].append(summary)
        kind = "CSR" if sp.issparse(data.X_train) else "dense"
        print(
            f"\n[{data.name}] {summary['n_train']} x {summary['n_features']}, "
            f"{summary['n_classes']} classes, {kind}",
            flush=True,
        )
        for C in Cs:
            for penalty in ("l1", "elasticnet"):
                try:
                    row = run_case(data, penalty, C, plan)
                except Exception as error:  # one failing case must not end the run
                    row = {"penalty": penalty, "C": C, "error": repr(error)}
                    row["traceback"] = traceback.format_exc()
                row["data"] = data.name
                rows.append(row)
                print("  " + _progress(row), flush=True)
        try:
            group = run_group(data, Cs[0], plan)
        except Exception as error:
            group = {"C": Cs[0], "note": f"error {error!r}"}
        group["data"] = data.name
        group_rows.append(group)
        payload["load"] = CpuLoad.now().report_since(load_before)
        write_json(output, payload)
    load = CpuLoad.now().report_since(load_before)
    payload["load"] = load
    print()
    print_tables(rows, group_rows)
    print(format_load(load))
    write_json(output, payload)
    print(f"wrote {output}")


def _progress(row):
    if "error" in row:
        return f"{row['penalty']} C={row['C']:g}: error {row['error']}"
    saga = (
        f"saga {row['saga_seconds']:.3f} s (tol {row['saga_tol']:g})"
        if row["saga_reached"]
        else f"saga not reached in {row['saga_spent']:.1f} s (gap {row['saga_best_gap']:.1e})"
    )
    return (
        f"{row['penalty']} C={row['C']:g}: F* {row['f_star']:.10f} (KKT {row['kkt']:.1e}, "
        f"{row['reference_note']}); ours {row['ours_seconds']:.3f} s (tol {row['ours_tol']:g}); "
        f"{saga}; x{row['ratio']:.1f}; {_zeros_words(row)}"
    )


if __name__ == "__main__":
    main()
