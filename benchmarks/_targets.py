"""Issue 11's targets, judged from the rows of one ``bench_solvers.py`` run.

The targets (issue 11, "Acceptance"):

- with default settings (``ours-default``), time to ``f*(1 + rtol)`` at least
  5x faster than the fastest peer solver (scikit-learn or scikit-learn-intelex)
  on every data set of the suite;
- the best of our solvers at least 10x faster on at least three of them;
- test accuracy of ``ours-default`` equal to scikit-learn's within 0.1 point;
- peak memory during a fit at most ``X`` + 8 parameter-sized vectors +
  ``O(block x classes)``.

How a peer is compared (:func:`peer_endpoint`, :func:`speedup`)
    A peer that reached the target is compared at the target: its median
    time to it against ours. A peer that stopped on its own criterion short of
    the target (e.g. float32 precision) is compared at the objective it did
    reach: its time to that stop against the time ours took to reach the same
    objective (read from ours' per-iteration curve, first fit). A peer capped
    before the target gives a lower bound (its longest fit). Fits of
    scikit-learn-intelex that fell back to scikit-learn's code, and failed runs,
    are left out (and listed). The speed-up against "the fastest peer" is the
    smallest of ours' speed-ups against every peer: the strongest comparison.

Ours' time
    ``max(median of the timed fits, the first fit)``: the first fit runs in a
    fresh process, so a compile or JIT cost (issue 11: counted in every
    benchmark) is never hidden by the median of warm repeats.
"""

from __future__ import annotations

import math

__all__ = [
    "DEFAULT_METHOD",
    "SUITE",
    "dataset_comparison",
    "judge",
    "memory_budget_mb",
    "memory_verdict",
    "peer_endpoint",
    "speedup",
]

#: Issue 11's data sets (full-run names); the targets are judged on all of them.
SUITE = ["digits", "fashion-mnist", "letter", "sector", "dense-200kx500", "sparse-100kx50k"]
#: The peers of the targets (PyTorch is in the table, not in the targets).
PEER_PREFIXES = ("sklearn-", "sklearnex-")
DEFAULT_METHOD = "ours-default"
DEFAULT_SPEEDUP = 5.0
BEST_SPEEDUP = 10.0
BEST_MIN_DATASETS = 3
ACCURACY_POINTS = 0.1

# The memory target made concrete: a fit may add 8 parameter-sized float64 vectors,
# plus 2 threads x 4 arrays of (block rows x classes) float64 with blocks of at most
# 16384 rows, plus a fixed allowance for the runtime (allocator, thread stacks,
# compiled code). X itself is loaded before the fit and is not in what it adds.
MEMORY_PARAM_VECTORS = 8
MEMORY_BLOCK_ARRAYS = 8
MEMORY_BLOCK_ROWS = 16_384
MEMORY_RUNTIME_MB = 32.0
MEMORY_RULE = (
    f"+fit MB <= {MEMORY_PARAM_VECTORS} x c(d+1) x 8 B (parameter vectors) "
    f"+ {MEMORY_BLOCK_ARRAYS} x min(n, {MEMORY_BLOCK_ROWS}) x c x 8 B (block temporaries) "
    f"+ {MEMORY_RUNTIME_MB:g} MB (runtime); X is loaded before the fit"
)


# -- memory ----------------------------------------------------------------------------
def memory_budget_mb(summary):
    """What a fit may add to resident memory under issue 11's target, in MiB.

    Parameters
    ----------
    summary : dict
        :meth:`Dataset.summary` (``n_train``, ``n_features``, ``n_classes``).

    Returns
    -------
    float
    """
    n, d, c = summary["n_train"], summary["n_features"], summary["n_classes"]
    parameters = MEMORY_PARAM_VECTORS * c * (d + 1) * 8
    blocks = MEMORY_BLOCK_ARRAYS * min(n, MEMORY_BLOCK_ROWS) * c * 8
    return (parameters + blocks) / 2**20 + MEMORY_RUNTIME_MB


def memory_verdict(row):
    """``"met"``, ``"NOT met"`` or None (not one of ours, or not measured) for one row."""
    if not row["method"].startswith("ours-"):
        return None
    added, budget = row.get("fit_added_mb"), row.get("memory_budget_mb")
    if added is None or budget is None:
        return None
    return "met" if added <= budget else "NOT met"


# -- time --------------------------------------------------------------------------------
def our_seconds(row):
    """Ours' time to the target: the slower of the median and the first (fresh-process) fit."""
    if row.get("time_to_target") is None:
        return None
    return max(row["time_to_target"], row.get("first_time") or 0.0)


def our_seconds_to(row, objective, target):
    """Seconds ours took to reach ``objective``: at the target, :func:`our_seconds`; above
    it, the first point of ours' per-iteration curve at or below it (None if never)."""
    if objective <= target:
        return our_seconds(row)
    for seconds, value in row.get("curve") or []:
        if value <= objective:
            return seconds
    return None


def peer_endpoint(row, target):
    """Where a peer's run ended, for comparing ours with it.

    Returns
    -------
    dict or None
        ``kind`` ("target", "own stop" or "capped"), ``objective`` (where to
        compare), ``seconds`` (the peer's time; for "capped" a lower bound,
        its longest fit) and ``lower_bound``; None for failed runs and
        sklearnex fallbacks.
    """
    if "error" in row or row.get("fell_back") or "objective" not in row:
        return None
    if row.get("time_to_target") is not None:
        return _endpoint("target", target, row["time_to_target"])
    if row.get("own_stop_seconds") is not None:
        return _endpoint("own stop", row["objective"], row["own_stop_seconds"])
    fits = [f["seconds"] for f in row.get("curve") or [] if isinstance(f, dict)]
    if not fits:
        return None
    return _endpoint("capped", target, max(fits), lower_bound=True)


def _endpoint(kind, objective, seconds, lower_bound=False):
    return {"kind": kind, "objective": objective, "seconds": seconds, "lower_bound": lower_bound}


def speedup(ours_row, peer_rows, target):
    """Ours' speed-up against the strongest peer: min over peers of peer time / ours' time.

    Peers that reached the target or stopped on their own criterion are
    compared first; capped peers (lower bounds only) only when there is no
    such peer.

    Returns
    -------
    dict
        ``ratio`` (0.0 when ours never reached a peer's objective; None when
        there is no peer to compare with), ``peer`` (the method that gives it),
        ``endpoint``, ``ours_seconds`` and ``lower_bound``.
    """
    best = {"ratio": None, "peer": None, "endpoint": None, "ours_seconds": None}
    best["lower_bound"] = False
    endpoints = [(peer, peer_endpoint(peer, target)) for peer in peer_rows]
    endpoints = [(peer, endpoint) for peer, endpoint in endpoints if endpoint is not None]
    definite = [(peer, endpoint) for peer, endpoint in endpoints if not endpoint["lower_bound"]]
    for peer, endpoint in definite or endpoints:
        ours = our_seconds_to(ours_row, endpoint["objective"], target)
        ratio = 0.0 if ours is None else endpoint["seconds"] / max(ours, 1e-9)
        if best["ratio"] is None or ratio < best["ratio"]:
            best = {
                "ratio": ratio,
                "peer": peer["method"],
                "endpoint": endpoint,
                "ours_seconds": ours,
                "lower_bound": endpoint["lower_bound"],
            }
    return best


# -- one data set -----------------------------------------------------------------------------
def dataset_comparison(rows, dataset, target):
    """Issue 11's numbers for one data set of the run.

    Returns
    -------
    dict
        ``default`` and ``best`` (:func:`speedup` results; ``best`` also names
        its ``method``), ``accuracy`` (ours-default's and scikit-learn's),
        ``left_out`` (peers not compared, with why).
    """
    same = [r for r in rows if r["dataset"] == dataset]
    peers = [r for r in same if r["method"].startswith(PEER_PREFIXES)]
    ours = [r for r in same if r["method"].startswith("ours-") and "error" not in r]
    left_out = [
        f"{r['method']} ({'fell back to scikit-learn' if r.get('fell_back') else 'failed'})"
        for r in peers
        if peer_endpoint(r, target) is None
    ]
    by_method = {r["method"]: speedup(r, peers, target) for r in ours}
    default = by_method.get(DEFAULT_METHOD)
    best_method = max(
        (m for m in by_method if by_method[m]["ratio"] is not None),
        key=lambda m: by_method[m]["ratio"],
        default=None,
    )
    best = {**by_method[best_method], "method": best_method} if best_method else None
    default_row = next((r for r in ours if r["method"] == DEFAULT_METHOD), None)
    sklearn_row = _sklearn_reference_row(same)
    return {
        "dataset": dataset,
        "default": default,
        "best": best,
        "accuracy": {
            "ours_default": None if default_row is None else default_row.get("test_accuracy"),
            "sklearn": None if sklearn_row is None else sklearn_row.get("test_accuracy"),
            "sklearn_method": None if sklearn_row is None else sklearn_row["method"],
            "sklearn_reached": sklearn_row is not None
            and sklearn_row.get("time_to_target") is not None,
        },
        "left_out": left_out,
    }


def _sklearn_reference_row(rows):
    """scikit-learn's row for the accuracy comparison: its fastest to the target, else its
    lowest objective."""
    candidates = [
        r for r in rows if r["method"].startswith("sklearn-") and r.get("objective") is not None
    ]
    reached = [r for r in candidates if r.get("time_to_target") is not None]
    if reached:
        return min(reached, key=lambda r: r["time_to_target"])
    return min(candidates, key=lambda r: r["objective"], default=None)


# -- verdicts -----------------------------------------------------------------------------------
def judge(comparisons, rows):
    """The four verdicts of issue 11 from :func:`dataset_comparison` results and the rows.

    Each verdict is ``met`` only when it holds on every data set it needs;
    a data set where something is missing counts as not met. When the run
    did not cover the whole suite (``--quick``, ``--datasets``, a missing
    file), each line says so.

    Returns
    -------
    list of dict
        ``name``, ``met`` (bool) and the printed ``line``; when the run did
        not cover the suite, a first entry named ``scope`` (``met`` None) says
        which data sets are missing, and every line ends in "(partial run)".
    """
    ran = [c["dataset"] for c in comparisons]
    missing = [name for name in SUITE if name not in ran]
    scope = " (partial run)" if missing else ""
    verdicts = []
    if missing:
        verdicts.append(
            {
                "name": "scope",
                "met": None,
                "line": f"partial run: the verdicts below are judged on the {len(ran)} data "
                f"set(s) of this run ({', '.join(ran) or 'none'}), not on issue 11's suite; "
                f"missing: {', '.join(missing)}",
            }
        )

    fast = [c for c in comparisons if _ratio_at_least(c["default"], DEFAULT_SPEEDUP)]
    verdicts.append(
        _verdict(
            "default >= 5x",
            len(fast) == len(comparisons) and bool(comparisons),
            f"ours-default >= {DEFAULT_SPEEDUP:g}x the fastest peer on every data set: "
            f"{len(fast)} of {len(comparisons)}",
            scope,
        )
    )
    best = [c for c in comparisons if _ratio_at_least(c["best"], BEST_SPEEDUP)]
    verdicts.append(
        _verdict(
            "best >= 10x",
            len(best) >= BEST_MIN_DATASETS,
            f"best of ours >= {BEST_SPEEDUP:g}x the fastest peer on at least "
            f"{BEST_MIN_DATASETS} data sets: {len(best)}"
            + (f" ({', '.join(c['dataset'] for c in best)})" if best else ""),
            scope,
        )
    )
    close = [c for c in comparisons if _accuracy_close(c["accuracy"])]
    verdicts.append(
        _verdict(
            "accuracy",
            len(close) == len(comparisons) and bool(comparisons),
            f"ours-default test accuracy within {ACCURACY_POINTS:g} point of scikit-learn's "
            f"on every data set: {len(close)} of {len(comparisons)}",
            scope,
        )
    )
    ours = [r for r in rows if r["method"].startswith("ours-") and "error" not in r]
    judged = [(r, memory_verdict(r)) for r in ours]
    over = [f"{r['dataset']}/{r['method']}" for r, v in judged if v != "met"]
    verdicts.append(
        _verdict(
            "memory",
            not over and bool(judged),
            f"every fit of ours within the memory budget: {len(judged) - len(over)} of "
            f"{len(judged)}" + (f"; over or not measured: {', '.join(over)}" if over else ""),
            scope,
        )
    )
    return verdicts


def _verdict(name, met, text, scope):
    line = f"target (issue 11): {text}: {'met' if met else 'NOT met'}{scope}"
    return {"name": name, "met": met, "line": line}


def _ratio_at_least(result, threshold):
    return result is not None and result["ratio"] is not None and result["ratio"] >= threshold


def _accuracy_close(accuracy):
    ours, sklearn = accuracy["ours_default"], accuracy["sklearn"]
    if ours is None or sklearn is None or math.isnan(ours) or math.isnan(sklearn):
        return False
    return abs(ours - sklearn) * 100 <= ACCURACY_POINTS + 1e-9


# -- printing ------------------------------------------------------------------------------------
def summary_table_rows(comparisons):
    """One row per data set for :func:`_machine.format_table` (see :data:`SUMMARY_COLUMNS`)."""
    table = []
    for c in comparisons:
        default, best, accuracy = c["default"] or {}, c["best"] or {}, c["accuracy"]
        endpoint = default.get("endpoint") or {}
        diff = None
        if accuracy["ours_default"] is not None and accuracy["sklearn"] is not None:
            diff = 100 * (accuracy["ours_default"] - accuracy["sklearn"])
        table.append(
            {
                "dataset": c["dataset"],
                "peer": default.get("peer") or "-",
                "compared_at": _compared_at(endpoint),
                "peer_seconds": endpoint.get("seconds"),
                "default_seconds": default.get("ours_seconds"),
                "default_ratio": _ratio_text(default),
                "best_method": best.get("method") or "-",
                "best_ratio": _ratio_text(best),
                "acc_default": accuracy["ours_default"],
                "acc_sklearn": accuracy["sklearn"],
                "acc_sklearn_from": _accuracy_source(accuracy),
                "acc_diff_points": diff,
            }
        )
    return table


def _accuracy_source(accuracy):
    method = accuracy["sklearn_method"]
    if method is None:
        return "-"
    return method if accuracy["sklearn_reached"] else f"{method} (best fit, short of target)"


def _compared_at(endpoint):
    if not endpoint:
        return "-"
    if endpoint["kind"] == "own stop":
        return f"its own stop, f={endpoint['objective']:.10g}"
    if endpoint["kind"] == "capped":
        return "target (peer capped)"
    return "target"


def _ratio_text(result):
    if not result or result.get("ratio") is None:
        return "no peer"
    if result["ours_seconds"] is None:
        return "ours not reached"
    prefix = ">=" if result["lower_bound"] else ""
    return f"{prefix}{result['ratio']:.2f}x"


def _cell(spec):
    return lambda v: "-" if v is None else format(v, spec)


SUMMARY_COLUMNS = [
    ("dataset", "dataset", str),
    ("peer", "fastest peer", str),
    ("compared_at", "compared at", str),
    ("peer_seconds", "peer s", _cell(".3f")),
    ("default_seconds", "ours-default s", _cell(".3f")),
    ("default_ratio", "peer/default", str),
    ("best_method", "best of ours", str),
    ("best_ratio", "peer/best", str),
    ("acc_default", "acc default", _cell(".4f")),
    ("acc_sklearn", "acc sklearn", _cell(".4f")),
    ("acc_diff_points", "diff pts", _cell("+.2f")),
    ("acc_sklearn_from", "sklearn acc from", str),
]
