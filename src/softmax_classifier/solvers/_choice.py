"""``solver="auto"``: pick a full-batch solver from the data's shape, sparsity and memory."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = ["choose_solver"]

# L-BFGS keeps 10 (s, y) pairs plus a few work vectors of n_params float64 each;
# Newton-CG keeps about eight vectors.
_LBFGS_VECTORS = 2 * 10 + 6
# L-BFGS's history may take this much memory, or as much as X itself if more.
_LBFGS_MEMORY_BUDGET = 512 * 2**20


def choose_solver(X, n_classes, fit_intercept=True):
    """The solver ``SoftmaxClassifier(solver="auto")`` uses for ``X``, and why.

    The rules follow what ``benchmarks/bench_solvers.py`` and
    ``benchmarks/bench_defaults.py`` measured (see ``docs/benchmarks.md``):

    1. Sparse ``X``: ``newton-cg``. At the default ``alpha = 1/n`` and
       ``tol=1e-4`` it was faster than L-BFGS on both sparse sets measured:
       sector (tf-idf, 105 classes: 42 passes in 117 s against 48 in 175 s)
       and a 20-newsgroups-like tf-idf set (59 passes in 19 s against 39 in
       27 s: more passes, but a Hessian product costs less than an L-BFGS
       iteration's line search and history on millions of parameters).
    2. Dense ``X`` where L-BFGS's history (ten pairs of parameter-sized
       vectors) would take more memory than ``X`` itself and over 512 MiB:
       ``newton-cg``, which keeps about eight parameter-sized vectors.
    3. Otherwise ``lbfgs``: on dense data it reached a tight objective in
       fewer passes than Newton-CG (digits, 200000 x 500).

    Parameters
    ----------
    X : ndarray, sparse matrix or data source of shape (n_samples, n_features)
        Only its shape, dtype and sparsity are used.
    n_classes : int
    fit_intercept : bool, default=True

    Returns
    -------
    solver : str
        ``"lbfgs"`` or ``"newton-cg"``.
    reason : str
        One sentence for the fit report.
    """
    n_features = X.shape[1]
    n_params = n_classes * (n_features + int(bool(fit_intercept)))
    if sp.issparse(X) or getattr(X, "is_sparse", False):  # a matrix or a sparse data source
        return "newton-cg", (
            "sparse X: Newton-CG with a diagonal preconditioner was faster than L-BFGS "
            "on the sparse text sets measured"
        )
    history_bytes = _LBFGS_VECTORS * n_params * 8
    data_bytes = X.shape[0] * X.shape[1] * np.dtype(X.dtype).itemsize
    if history_bytes > max(data_bytes, _LBFGS_MEMORY_BUDGET):
        return "newton-cg", (
            f"L-BFGS would keep {history_bytes / 2**20:.0f} MiB of history for "
            f"{n_params} parameters, more than X ({data_bytes / 2**20:.0f} MiB); "
            "Newton-CG keeps about a third of that"
        )
    return "lbfgs", "dense X whose L-BFGS history fits in memory: L-BFGS needs the fewest passes"
