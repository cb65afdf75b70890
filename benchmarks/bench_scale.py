"""Scaling: time per pass and per fit at n, 2n, 4n, 8n rows, in memory and streamed.

For each size the same synthetic rows (float64, ``--features`` columns,
``--classes`` classes, labels from a random softmax model) are fitted

* in memory: ``SoftmaxObjective(InMemoryData(X, y))``;
* streamed: the rows written once to a Parquet file (row groups of 65536 rows),
  read batch by batch by ``StreamingData`` on every pass;
* on Dask: a ``distributed.LocalCluster`` of two worker processes (one thread
  each) in this machine; the rows are sent to the workers once, in blocks of
  65536 rows, and kept there by ``DaskData``.

Per size it prints the median time of one loss-and-gradient pass and of one
L-BFGS fit with a fixed number of iterations (``--fit-iter``, so every fit does
the same work per row), and the ratio to the smallest size: linear growth
reads 1, 2, 4, 8.

Usage::

    .venv/bin/python benchmarks/bench_scale.py [--rows 100000] [--quick]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import CpuLoad, format_load, format_table, machine_info, print_header
from softmax_classifier import SoftmaxClassifier
from softmax_classifier.data import DaskData, InMemoryData, StreamingData
from softmax_classifier.objective import SoftmaxObjective

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def make_rows(n, d, c, seed=0):
    """Standard-normal features and labels drawn from a random softmax model."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    logits = X @ rng.standard_normal((d, c)) * (2.0 / np.sqrt(d))
    y = np.argmax(logits + rng.gumbel(size=logits.shape), axis=1)
    return X, y


def write_parquet(X, y, path):
    columns = {f"x{j}": X[:, j] for j in range(X.shape[1])}
    columns["label"] = y
    pq.write_table(pa.table(columns), path, row_group_size=65536)


def start_dask():
    """A client of two local worker processes, or None (with a message) without Dask."""
    try:
        import distributed
    except ImportError:
        print("dask.distributed is not installed: no Dask rows (pip install '.[dask]')")
        return None
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    )
    return distributed.Client(cluster)


def dask_source(X, y, client, block_rows=65536):
    """The rows sent to the workers in blocks of ``block_rows`` rows, kept there by DaskData."""
    import dask
    import dask.array as da

    starts = range(0, len(y), block_rows)
    X_blocks = client.scatter([X[i : i + block_rows] for i in starts])
    y_blocks = client.scatter([y[i : i + block_rows] for i in starts])
    X_dask = da.concatenate(
        [
            da.from_delayed(dask.delayed(block), (min(block_rows, len(y) - i), X.shape[1]), X.dtype)
            for i, block in zip(starts, X_blocks, strict=True)
        ]
    )
    y_dask = da.concatenate(
        [
            da.from_delayed(dask.delayed(block), (min(block_rows, len(y) - i),), y.dtype)
            for i, block in zip(starts, y_blocks, strict=True)
        ]
    )
    return DaskData(X_dask, y_dask, client=client)


def median_time(function, repeats):
    function()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def measure(source, n_classes, fit_source, fit_iter, repeats):
    """Seconds per pass and per fixed-length L-BFGS fit on one data source."""
    objective = SoftmaxObjective(source, n_classes, alpha=1e-4)
    params = np.zeros(objective.n_params)
    per_pass = median_time(lambda: objective.value_and_grad(params), repeats)

    def fit():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # max_iter ends the fit, on purpose
            SoftmaxClassifier(alpha=1e-4, max_iter=fit_iter, tol=0.0).fit(*fit_source)

    per_fit = median_time(fit, max(1, repeats // 2))
    return per_pass, per_fit


def linear_fits(rows, n):
    """Per source, the least-squares line ``pass = fixed + slope * rows`` and its worst miss.

    Linear growth with a fixed cost per pass (scheduling, opening files) shows
    as ratios below 2, 4, 8 but points on a line.
    """
    lines = []
    for source in sorted({r["source"] for r in rows}):
        points = [(r["rows"], r["pass ms"]) for r in rows if r["source"] == source]
        sizes, times = np.array(points, dtype=float).T
        slope, fixed = np.polyfit(sizes, times, 1)
        miss = np.max(np.abs(fixed + slope * sizes - times) / times)
        lines.append(
            f"{source:20s} pass = {fixed:6.1f} ms + {slope * n:6.1f} ms per {n} rows "
            f"(largest miss {miss:.0%})"
        )
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="n, the smallest size")
    parser.add_argument("--features", type=int, default=50)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--fit-iter", type=int, default=10, help="L-BFGS iterations per fit")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="n = 20000, 3 repeats")
    parser.add_argument("--no-dask", action="store_true", help="skip the Dask rows")
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "scale.json")
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.repeats = 20_000, 3

    info = machine_info()
    print_header("bench_scale: time per pass and per fit at n, 2n, 4n, 8n rows", info)
    load_start = CpuLoad.now()
    rows = []
    base = {}
    client = None if args.no_dask else start_dask()
    with tempfile.TemporaryDirectory() as folder:
        for factor in (1, 2, 4, 8):
            n = args.rows * factor
            X, y = make_rows(n, args.features, args.classes)
            path = Path(folder) / f"rows-{factor}.parquet"
            write_parquet(X, y, path)
            stream = StreamingData(path, "label", n_threads=None)
            sources = {
                "in memory": (InMemoryData(X, y), (X, y)),
                "streamed (Parquet)": (stream, (stream,)),
            }
            if client is not None:
                on_dask = dask_source(X, y, client)
                sources["Dask, 2 workers"] = (on_dask, (on_dask,))
            for name, (source, fit_source) in sources.items():
                per_pass, per_fit = measure(
                    source, args.classes, fit_source, args.fit_iter, args.repeats
                )
                if factor == 1:
                    base[name] = (per_pass, per_fit)
                rows.append(
                    {
                        "source": name,
                        "rows": n,
                        "MB": round(X.nbytes / 2**20),
                        "pass ms": round(per_pass * 1e3, 1),
                        "pass / n": round(per_pass / base[name][0], 2),
                        "fit s": round(per_fit, 3),
                        "fit / n": round(per_fit / base[name][1], 2),
                    }
                )
                print(
                    f"  {name:20s} {n:>9d} rows: pass {per_pass * 1e3:8.1f} ms, "
                    f"fit {per_fit:7.3f} s",
                    flush=True,
                )
            del X, y, stream, sources
    if client is not None:
        client.close()
        client.cluster.close()
    columns = [(key, key, str) for key in ("source", "rows", "MB", "pass ms", "pass / n")]
    columns += [(key, key, str) for key in ("fit s", "fit / n")]
    rows.sort(key=lambda r: (r["source"], r["rows"]))
    print()
    print(format_table(rows, columns))
    print()
    for line in linear_fits(rows, args.rows):
        print(line)
    load = CpuLoad.now().report_since(load_start)
    print(f"\n{format_load(load)}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(
        json.dumps(
            {
                "machine": info,
                "args": vars(args) | {"output": str(args.output)},
                "rows": rows,
                "load": load,
            },
            indent=2,
            default=str,
        )
    )
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
