"""``softmax gradcheck``: the analytic gradient against finite differences, from the shell.

The check itself is :func:`softmax_classifier.gradcheck.gradient_check`; this
module picks the problem (random data, or rows of a file) and reports.
"""

from __future__ import annotations

from softmax_classifier.cli._common import (
    EXIT_FAILED,
    console,
    data_path,
    key_value_table,
    print_table,
    reading_options,
)

__all__ = ["gradcheck"]


def gradcheck(args):
    """``softmax gradcheck ARGS`` -> exit status 0 (PASS) or 1 (FAIL)."""
    import numpy as np
    import scipy.sparse as sp

    from softmax_classifier.gradcheck import gradient_check
    from softmax_classifier.io import read_data

    dtype = np.float32 if args.float32 else np.float64
    rng = np.random.default_rng(args.seed)
    if args.data:
        with data_path(args.data, args.format) as (path, format):
            data = read_data(
                path,
                target=args.target,
                format=format,
                require_target=True,
                dtype=dtype,
                **reading_options(args),
            )
        X = data.X[: args.n_samples]
        y = data.y[: args.n_samples]
        n_classes = None
        source = f"{X.shape[0]} rows of {args.data}"
    else:
        X = rng.standard_normal((args.n_samples, args.n_features))
        if args.sparse:
            X = sp.csr_matrix(X * (rng.random(X.shape) < 0.3))
        n_classes = args.n_classes
        y = rng.integers(0, n_classes, size=args.n_samples)
        source = f"a random {'sparse' if args.sparse else 'dense'} problem"
    result = gradient_check(
        X.astype(dtype),
        y,
        alpha=args.alpha,
        n_classes=n_classes,
        seed=args.seed,
        max_entries=args.max_entries,
        threshold=args.threshold,
    )
    table = key_value_table()
    table.add_row(
        "problem",
        f"{source}: {result['n_classes']} classes, alpha={args.alpha:g}, weighted, "
        f"{result['dtype']}",
    )
    table.add_row(
        "gradient entries checked", f"{result['entries_checked']} of {result['n_parameters']}"
    )
    table.add_row("gradient relative error", f"{result['gradient_relative_error']:.3e}")
    table.add_row("Hessian-vector relative error", f"{result['hessian_relative_error']:.3e}")
    if args.threshold is None:
        table.add_row(
            "worst error / tolerance",
            f"gradient {result['gradient_worst_ratio']:.3g}, "
            f"Hessian-vector {result['hessian_worst_ratio']:.3g} "
            "(tolerance per entry: truncation and rounding bounds from the data; <= 1 passes)",
        )
    else:
        table.add_row("threshold", f"{args.threshold:.0e} (relative error)")
    table.add_row("result", "PASS" if result["passed"] else "FAIL")
    print_table(console(), table)
    return 0 if result["passed"] else EXIT_FAILED
