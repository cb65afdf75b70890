r"""The Newton model's coordinate descent with its Hessian held explicitly (few parameters).

:mod:`softmax_classifier._coordinate_descent` keeps the logit changes
:math:`z_k` so that one coordinate costs a pass over its column of ``X``.
When the model has few parameters, :math:`P = c\,\tilde d` with
:math:`\tilde d = d + 1` (intercept) or :math:`d`, it is cheaper to form the
Hessian once per Newton step with one matrix product and to keep
:math:`H D` instead: a coordinate then costs O(P), not O(n).

With :math:`\tilde x_k = [x_k; 1]`, parameters indexed :math:`(i, a) \mapsto
i \tilde d + a` and :math:`v_k = p_k \otimes \tilde x_k`,

.. math::

    H = \sum_k s_k (\mathrm{diag}\,p_k - p_k p_k^T) \otimes \tilde x_k \tilde x_k^T
      = \mathrm{blockdiag}_i\big(\tilde X^T \mathrm{diag}(s \odot p_{:i}) \tilde X\big)
        - V^T \mathrm{diag}(s) V

plus :math:`\alpha_2 + \mu` on the coefficients' diagonal (the L2 part and the
damping; intercepts are not penalised). The coordinate steps are those of the
column form (soft-thresholding for L1; for the group penalty each feature's
``c x c`` block bounded by its largest absolute row sum, Gershgorin's bound;
an exact Newton step per intercept), on the same model, so both forms
minimise the same function.

:func:`solve` runs the compiled kernel (``_cd.solve_gram``);
:func:`solve_reference` is the same steps in NumPy.
"""

from __future__ import annotations

import os

import numpy as np
import scipy.sparse as sp
from scipy.linalg.blas import dsyrk as _syrk

from softmax_classifier._coordinate_descent import run_sweeps

try:  # built by the package's build (setup.py); optional
    from softmax_classifier import _cd
except ImportError:  # pragma: no cover - only without a C compiler at install time
    _cd = None

__all__ = ["hessian", "solve", "solve_reference", "worth_it"]

# The explicit Hessian is used while it has at most this many rows (P x P float64:
# 8 MiB at 1024) and costs at most this many multiply-adds to form (n P^2 / 2).
MAX_PARAMETERS = 1024
MAX_WORK = 2**32
# Rows of X whose v_k are formed at once (n_rows x P float64 per chunk).
_CHUNK_ENTRIES = 2**22


def worth_it(n_samples, n_classes, n_features, fit_intercept):
    """Whether the explicit-Hessian form applies: at most ``MAX_PARAMETERS`` parameters and
    ``n_samples * P**2 / 2 <= MAX_WORK`` (letter: 10500 x 442; digits: 1797 x 650)."""
    parameters = n_classes * (n_features + int(bool(fit_intercept)))
    return parameters <= MAX_PARAMETERS and n_samples * parameters**2 / 2 <= MAX_WORK


def hessian(X, s, proba, fit_intercept, diagonal):
    """The model's Hessian ``H`` (see the module docstring), shape (P, P).

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_samples, n_features)
    s : ndarray of shape (n_samples,)
        Weights summing to 1.
    proba : ndarray of shape (n_classes, n_samples)
    fit_intercept : bool
    diagonal : float
        Added to the coefficients' diagonal entries (``alpha2 + damping``).

    Returns
    -------
    ndarray of shape (P, P), C order
    """
    n_classes, n_samples = proba.shape
    n_features = X.shape[1]
    dt = n_features + int(bool(fit_intercept))
    size = n_classes * dt
    H = np.zeros((size, size))
    chunk = max(1, _CHUNK_ENTRIES // max(size, 1))
    for start in range(0, n_samples, chunk):
        rows = slice(start, min(start + chunk, n_samples))
        Xc = X[rows].toarray() if sp.issparse(X) else np.asarray(X[rows], dtype=np.float64)
        if fit_intercept:
            Xc = np.hstack([Xc, np.ones((Xc.shape[0], 1))])
        P = proba[:, rows].T  # (rows, c)
        weights = s[rows]
        root = np.sqrt(weights)[:, None, None]
        V = (root * P[:, :, None] * Xc[:, None, :]).reshape(Xc.shape[0], size)
        H -= _syrk(1.0, V, trans=1, lower=0)  # V^T V, upper triangle: half a product
        for i in range(n_classes):
            block = slice(i * dt, (i + 1) * dt)
            H[block, block] += Xc.T @ (Xc * (weights * P[:, i])[:, None])
    coefficients = np.ones(size, dtype=bool)
    if fit_intercept:
        coefficients[dt - 1 :: dt] = False
    H[np.flatnonzero(coefficients), np.flatnonzero(coefficients)] += diagonal
    # The block-diagonal part is symmetric; the V^T V part was only formed above the
    # diagonal: mirror it.
    upper = np.triu(H)
    return np.ascontiguousarray(upper + np.triu(upper, 1).T)


def solve(
    kind, n_classes, n_features, fit_intercept, H, grad, coef, state, *, lam, tol, max_sweeps
):
    """Coordinate descent on ``<grad, D> + D^T H D / 2 + h(coef + D)``; ``state`` updated in place.

    Parameters
    ----------
    kind : {0, 1}
        0: L1; 1: group.
    n_classes, n_features : int
    fit_intercept : bool
    H : ndarray of shape (P, P)
    grad, coef : ndarray of shape (P,)
        The smooth gradient and the current parameters in this order
        (``coef``'s intercept entries are not read).
    state : dict
        ``direction`` and ``hd`` (P,), ``bound`` (n_features,), ``active``
        (int8, (n_features,) for group, (P,) for L1).
    lam, tol : float
    max_sweeps : int

    Returns
    -------
    int
        Sweeps run.
    """
    if _cd is None or os.environ.get("SOFTMAX_CLASSIFIER_KERNELS") == "numpy":
        return solve_reference(
            kind, n_classes, n_features, fit_intercept, H, grad, coef, state,
            lam=lam, tol=tol, max_sweeps=max_sweeps,
        )  # fmt: skip
    return _cd.solve_gram(
        kind, n_classes, n_features, bool(fit_intercept), H, grad, coef,
        state["direction"], state["hd"], state["bound"], state["active"],
        float(lam), float(tol), int(max_sweeps),
    )  # fmt: skip


def solve_reference(
    kind, n_classes, n_features, fit_intercept, H, grad, coef, state, *, lam, tol, max_sweeps
):
    """:func:`solve` in NumPy: the same steps in the same order (the tested reference)."""
    dt = n_features + int(bool(fit_intercept))
    direction, hd, bound = state["direction"], state["hd"], state["bound"]
    active = state["active"]

    def move(k, step):
        direction[k] += step
        hd[:] += step * H[k]

    def update_l1(k):
        curv, u, slope = H[k, k], coef[k] + direction[k], grad[k] + hd[k]
        if not curv > 0:
            if abs(slope) > lam:
                return 0.0
            target = 0.0
        else:
            shifted = u - slope / curv
            target = float(np.sign(shifted) * max(abs(shifted) - lam / curv, 0.0))
        step = target - u
        active[k] = target != 0.0
        if step == 0.0:
            return 0.0
        move(k, step)
        return curv * abs(step) if curv > 0 else abs(step)

    def update_group(a):
        if not bound[a] > 0:
            return 0.0
        ks = np.arange(n_classes) * dt + a
        v = coef[ks] + direction[ks] - (grad[ks] + hd[ks]) / bound[a]
        norm = float(np.sqrt(v @ v))
        shrink = 1.0 - lam / (bound[a] * norm) if norm > lam / bound[a] else 0.0
        active[a] = shrink > 0.0
        largest = 0.0
        for i, k in enumerate(ks):
            change = shrink * v[i] - (coef[k] + direction[k])
            if change != 0.0:
                move(k, change)
                largest = max(largest, abs(change))
        return bound[a] * largest

    def update_intercept(i):
        k = i * dt + n_features
        curv, slope = H[k, k], grad[k] + hd[k]
        if not curv > 0:
            return 0.0
        move(k, -slope / curv)
        return abs(slope)

    if kind == 1:
        for a in range(n_features):
            ks = np.arange(n_classes) * dt + a
            bound[a] = np.abs(H[np.ix_(ks, ks)]).sum(axis=1).max()

    def visit(a, full):
        if kind == 1:
            return update_group(a) if full or active[a] else 0.0
        keys = [i * dt + a for i in range(n_classes)]
        return max((update_l1(k) for k in keys if full or active[k]), default=0.0)

    def intercepts():
        return max(update_intercept(i) for i in range(n_classes)) if fit_intercept else 0.0

    return run_sweeps(visit, intercepts, n_features, tol=tol, max_sweeps=max_sweeps)
