"""``solver="auto"``: pick a full-batch solver from the data's shape, sparsity and memory."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from softmax_classifier.solvers.newton_cg import KRONECKER_MAX_CLASSES, KRONECKER_MAX_FEATURES

__all__ = ["choose_solver"]

# L-BFGS keeps 10 (s, y) pairs plus a few work vectors of n_params float64 each;
# Newton-CG keeps about eight vectors.
_LBFGS_VECTORS = 2 * 10 + 6
# L-BFGS's history may take this much memory, or as much as X itself if more.
_LBFGS_MEMORY_BUDGET = 512 * 2**20
# Dense X up to this many entries is "small": L-BFGS (rule 4 of choose_solver).
_SMALL_ENTRIES = 2**17


def choose_solver(X, n_classes, fit_intercept=True):
    """The solver ``SoftmaxClassifier(solver="auto")`` uses for ``X``, and why.

    The rules follow what ``benchmarks/bench_solvers.py``,
    ``benchmarks/bench_defaults.py`` and the Newton-CG preconditioner
    measurements (``docs/solvers.md``) found:

    1. Sparse ``X``: ``newton-cg`` (diagonal preconditioner). At the default
       ``alpha = 1/n`` and ``tol=1e-4`` it was faster than L-BFGS on both
       sparse sets measured: sector (tf-idf, 105 classes: 42 passes in 117 s
       against 48 in 175 s) and a 20-newsgroups-like tf-idf set (59 passes in
       19 s against 39 in 27 s: more passes, but a Hessian product costs less
       than an L-BFGS iteration's line search and history on millions of
       parameters).
    2. Dense ``X`` with more than 2048 classes and ``n_features +
       fit_intercept <= KRONECKER_MAX_FEATURES``: ``lbfgs``. Newton-CG would
       be preconditioned by Kronecker factors whose class factor is
       ``n_classes x n_classes`` (3.2 GB and an eigendecomposition of ~1e13
       flops per Newton step at 20,000 classes), where L-BFGS keeps
       parameter-sized vectors only and each pass goes by blocks of classes
       (``docs/many_classes.md``).
    3. Dense ``X`` where L-BFGS's history (ten pairs of parameter-sized
       vectors) would take more memory than ``X`` itself and over 512 MiB:
       ``newton-cg``, which keeps about eight parameter-sized vectors.
    4. Dense ``X`` of at most ``2**17`` entries (digits, 1347 x 64): ``lbfgs``.
       Passes cost ~0.1 ms there and Newton-CG's per-step machinery does not
       pay: 0.04 s against 0.07 s to ``f*(1 + 1e-6)``.
    5. Other dense ``X`` with ``n_features + fit_intercept <=
       KRONECKER_MAX_FEATURES``: ``newton-cg`` with the Kronecker-factored
       preconditioner. It needed fewer passes and less time than L-BFGS on
       letter (73 passes against 117), Fashion-MNIST (335 against 866) and a
       dense 50000 x 500 set (86 against 81 passes, half the time), and it
       reached the optimum of a Covertype-like set of raw feature scales
       where L-BFGS had not after 1000 iterations.
    6. Otherwise ``lbfgs``.

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
    n_samples, n_features = X.shape
    d_tilde = n_features + int(bool(fit_intercept))
    n_params = n_classes * d_tilde
    if sp.issparse(X) or getattr(X, "is_sparse", False):  # a matrix or a sparse data source
        return "newton-cg", (
            "sparse X: Newton-CG with a diagonal preconditioner was faster than L-BFGS "
            "on the sparse text sets measured"
        )
    if n_classes > KRONECKER_MAX_CLASSES and d_tilde <= KRONECKER_MAX_FEATURES:
        return "lbfgs", (
            f"dense X with {n_classes} classes: L-BFGS, which keeps parameter-sized vectors "
            f"only (Newton-CG's Kronecker preconditioner would hold {n_classes} x "
            f"{n_classes} class curvatures)"
        )
    history_bytes = _LBFGS_VECTORS * n_params * 8
    data_bytes = n_samples * n_features * np.dtype(X.dtype).itemsize
    if history_bytes > max(data_bytes, _LBFGS_MEMORY_BUDGET):
        return "newton-cg", (
            f"L-BFGS would keep {history_bytes / 2**20:.0f} MiB of history for "
            f"{n_params} parameters, more than X ({data_bytes / 2**20:.0f} MiB); "
            "Newton-CG keeps about a third of that"
        )
    if n_samples * n_features <= _SMALL_ENTRIES:
        return "lbfgs", (
            f"small dense X ({n_samples} x {n_features}): L-BFGS was fastest where a "
            "pass costs less than Newton-CG's per-step work"
        )
    if d_tilde <= KRONECKER_MAX_FEATURES:
        return "newton-cg", (
            f"dense X with {n_features} features: Newton-CG preconditioned by "
            "A (x) S + alpha I needed fewer passes than L-BFGS on the dense sets measured"
        )
    return "lbfgs", (
        f"dense X with {n_features} features, too many for the Kronecker preconditioner: L-BFGS"
    )
