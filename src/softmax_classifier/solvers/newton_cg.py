"""Newton's method with exact Hessian-vector products and truncated conjugate gradient.

Newton-CG is :mod:`softmax_classifier.solvers._newton`'s ``init``/``step`` on
a :class:`NewtonState`, with the direction of :func:`search_direction`.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg.blas import daxpy as _axpy

from softmax_classifier.solvers._newton import NewtonState, init, newton_loop, step

__all__ = [
    "KRONECKER_MAX_CLASSES",
    "KRONECKER_MAX_FEATURES",
    "NewtonState",
    "init",
    "minimize",
    "preconditioning",
    "search_direction",
    "step",
]

#: Largest ``n_features + fit_intercept`` for which ``precondition="auto"`` uses
#: the Kronecker preconditioner: its ``S`` costs ``n d~^2 / 2`` to build (about
#: ``d~ / (12 c)`` data passes: 7 on Fashion-MNIST) and ``d~^3`` to decompose,
#: once per fit, and ``2 c d~ (c + d~)`` per CG step. Measured up to 785.
KRONECKER_MAX_FEATURES = 1024
#: Most classes for which ``precondition="auto"`` uses the Kronecker
#: preconditioner (and ``solver="auto"`` Newton-CG on dense data). Its class
#: factor is n_classes x n_classes, decomposed at every Newton step: at 2048
#: classes 32 MiB and ~1e10 flops, about the default logit budget of a block
#: (softmax_classifier._class_blocks); at 20,000 classes 3.2 GB and ~1e13 flops.
KRONECKER_MAX_CLASSES = 2048
# Rows used for the Kronecker factors: every _CLASS_ROW_STEP-th row for A (once
# per Newton step), every _MOMENT_ROW_STEP-th for S (once per fit). On
# Fashion-MNIST A from every 8th row cost 335 passes against 329 from all rows
# (each a full forward pass); S from every 4th row cost 465 passes, not 335.
_CLASS_ROW_STEP = 8
_MOMENT_ROW_STEP = 1
_PRECONDITIONERS = ("auto", "diagonal", "kronecker", "none")


def minimize(
    objective,
    x0,
    *,
    max_iter=100,
    tol=1e-5,
    max_cg_iter=200,
    precondition="auto",
    callback=None,
    resume=None,
):
    r"""Minimise with inexact Newton steps (Newton-CG), globalised by backtracking.

    Each iteration solves :math:`H d = -g` approximately by conjugate gradient
    using only Hessian-vector products (``objective.hessp``, the product of
    :func:`softmax_classifier.math.gradient_hessian_product`), stopping when
    :math:`\lVert H d + g\rVert \le \eta \lVert g\rVert` with the forcing term
    :math:`\eta = \min(0.5, \sqrt{\lVert g\rVert})` (superlinear convergence
    near the optimum), at non-positive curvature, or after ``max_cg_iter``
    products. CG may be preconditioned (``precondition``). The step
    :math:`x + t d` starts at :math:`t = 1` and is halved until the Armijo
    condition holds, or, where objective values differ only by rounding, its
    derivative form (:mod:`softmax_classifier.solvers._line_search`), so that
    tight tolerances are reached on any BLAS kernel.

    Parameters
    ----------
    objective : object
        Provides ``value_and_grad(params)`` and ``hessp(params, vector)``;
        ``hessian_diagonal(params)`` for ``"diagonal"``; ``data``,
        ``n_classes``, ``alpha``, ``fit_intercept`` and ``unpack`` for
        ``"kronecker"`` (a :class:`~softmax_classifier.objective.SoftmaxObjective`
        has all of them).
    x0 : ndarray of shape (n_params,)
    max_iter : int, default=100
        Newton iterations (each costs 1 + CG-iterations data passes).
    tol : float, default=1e-5
        Stop when ``max|grad| <= tol``.
    max_cg_iter : int, default=200
    precondition : {"auto", "diagonal", "kronecker", "none"} or bool, default="auto"
        ``"diagonal"`` (or True): the Hessian's diagonal, one more pass per
        Newton step. ``"kronecker"``: :math:`M = A \otimes S + \alpha I`
        (:class:`~softmax_classifier.solvers._kronecker.KroneckerPreconditioner`)
        with :math:`S` from one pass at the start and :math:`A` from every
        8th row once per Newton step. ``"none"`` (or False): plain CG.
        ``"auto"``: :func:`preconditioning`.
    callback : callable, optional
        Called with an :class:`~softmax_classifier.solvers.Iteration` after each
        iteration; returning True stops.
    resume : dict, optional
        ``Iteration.state()`` of an earlier run: continue exactly where it was.

    Returns
    -------
    SolverResult
    """
    direction = search_direction(objective, max_cg_iter=max_cg_iter, precondition=precondition)
    return newton_loop(
        objective, x0, direction, max_iter=max_iter, tol=tol, callback=callback, resume=resume
    )


def search_direction(objective, *, max_cg_iter=200, precondition="auto"):
    """Newton-CG's direction finder for ``objective``: ``direction(x, grad) -> d``.

    ``d`` approximately solves ``H(x) d = -grad`` by (preconditioned) conjugate
    gradient, to the forcing term of :func:`minimize`. The Kronecker
    preconditioner's feature factor is computed at the first call and kept
    (it does not depend on ``x``); everything else is recomputed at each ``x``.

    Parameters
    ----------
    objective : object
        See :func:`minimize`.
    max_cg_iter : int, default=200
    precondition : {"auto", "diagonal", "kronecker", "none"} or bool, default="auto"

    Returns
    -------
    callable
        ``direction(x, grad)`` with ``x`` and ``grad`` of shape (n_params,),
        returning an ndarray of shape (n_params,).
    """
    mode = preconditioning(objective, precondition)
    kronecker = None

    def direction(x, grad):
        nonlocal kronecker
        if mode == "diagonal":
            precondition_fn = _diagonal_preconditioner(objective, x)
        elif mode == "kronecker":
            if kronecker is None:
                kronecker = _kronecker_preconditioner(objective)
            _update_kronecker(kronecker, objective, x)
            precondition_fn = kronecker
        else:
            precondition_fn = None
        grad_norm = float(np.linalg.norm(grad))
        solution, _ = _conjugate_gradient(
            lambda v: objective.hessp(x, v),
            -grad,
            min(0.5, np.sqrt(grad_norm)) * grad_norm,
            max_cg_iter,
            precondition_fn,
        )
        return solution

    return direction


def preconditioning(objective, precondition="auto"):
    """The preconditioner Newton-CG uses: ``"diagonal"``, ``"kronecker"`` or ``"none"``.

    ``"auto"`` picks, from what ``benchmarks/`` measured:

    * sparse data (``objective.prefers_diagonal_preconditioning``):
      ``"diagonal"`` (tf-idf features of very different scales needed half the
      passes);
    * dense data with ``n_features + fit_intercept <= KRONECKER_MAX_FEATURES``
      and at most ``KRONECKER_MAX_CLASSES`` classes: ``"kronecker"``
      (Fashion-MNIST 524 -> 335 passes, letter 145 -> 72, a Covertype-like set
      of raw scales from not converging in 14,000 passes to 432; digits 254 -> 252);
    * otherwise ``"none"`` (the diagonal cost passes on dense pixel data;
      with more classes the Kronecker class factor outgrows memory).

    Parameters
    ----------
    objective : object
    precondition : {"auto", "diagonal", "kronecker", "none"} or bool

    Returns
    -------
    str
    """
    if precondition is True:
        return "diagonal"
    if precondition is False or precondition is None:
        return "none"
    if precondition not in _PRECONDITIONERS:
        raise ValueError(
            f"precondition must be one of {list(_PRECONDITIONERS)} or a bool; got {precondition!r}."
        )
    if precondition != "auto":
        return precondition
    if getattr(objective, "prefers_diagonal_preconditioning", False):
        return "diagonal"
    if _supports_kronecker(objective):
        d_tilde = objective.n_features + int(objective.fit_intercept)
        if d_tilde <= KRONECKER_MAX_FEATURES and objective.n_classes <= KRONECKER_MAX_CLASSES:
            return "kronecker"
    return "none"


def _supports_kronecker(objective):
    needed = ("data", "n_classes", "n_features", "alpha", "fit_intercept", "unpack")
    return all(hasattr(objective, name) for name in needed)


def _count_pass(objective):
    if hasattr(objective, "n_passes"):
        objective.n_passes += 1


def _kronecker_preconditioner(objective):
    from softmax_classifier._curvature import feature_moment
    from softmax_classifier.solvers._kronecker import KroneckerPreconditioner

    moment = feature_moment(objective.data, objective.fit_intercept, row_step=_MOMENT_ROW_STEP)
    _count_pass(objective)
    return KroneckerPreconditioner(
        moment,
        objective.n_classes,
        objective.alpha,
        objective.fit_intercept,
        getattr(objective, "layout", "class-major"),
    )


def _update_kronecker(kronecker, objective, x):
    from softmax_classifier._curvature import class_curvature

    coef, intercept = objective.unpack(x)
    kronecker.update(class_curvature(objective.data, coef, intercept, row_step=_CLASS_ROW_STEP))
    _count_pass(objective)  # a pass over a subsample of the rows, counted whole


def _diagonal_preconditioner(objective, x):
    """``r -> r / diag(H)`` at ``x`` (Jacobi preconditioner).

    Entries whose curvature is zero (a feature that is zero in every row, with
    ``alpha = 0``) are left unscaled.
    """
    diagonal = objective.hessian_diagonal(x)
    scale = np.ones_like(diagonal)
    positive = diagonal > 0
    scale[positive] = 1.0 / diagonal[positive]
    return lambda residual: scale * residual


def _conjugate_gradient(hessp, rhs, tol, max_iter, precondition=None):
    """Approximate solution of ``H d = rhs`` by (preconditioned) conjugate gradient.

    ``precondition(r)`` returns ``M^{-1} r`` for a symmetric positive definite
    ``M`` (None: ``M = I``); this is CG on ``M^{-1/2} H M^{-1/2}``, written in
    the original variables. Stops at residual norm ``||H d - rhs|| <= tol``,
    after ``max_iter`` products, or at a direction of non-positive curvature
    (then the iterate so far, or the preconditioned ``rhs`` on the first
    iteration, a descent direction).

    Returns
    -------
    solution : ndarray of shape (n_params,)
    n_products : int
        Hessian products used.
    """
    if precondition is None:
        precondition = np.copy
    # Updates in place (BLAS axpy, out=): for millions of parameters a temporary
    # vector per update costs as much as the products themselves.
    solution = np.zeros_like(rhs)
    residual = rhs.copy()
    preconditioned = precondition(residual)
    conjugate = preconditioned.copy()
    residual_dot = float(residual @ preconditioned)
    for i in range(max_iter):
        if np.linalg.norm(residual) <= tol:
            return solution, i
        product = hessp(conjugate)
        curvature = float(conjugate @ product)
        if not curvature > 1e-16 * float(conjugate @ conjugate):
            return (precondition(rhs) if i == 0 else solution), i + 1
        step = residual_dot / curvature
        solution = _axpy(conjugate, solution, a=step)  # solution += step * conjugate
        residual = _axpy(product, residual, a=-step)  # residual -= step * product
        preconditioned = precondition(residual)
        residual_dot, previous = float(residual @ preconditioned), residual_dot
        conjugate *= residual_dot / previous
        conjugate += preconditioned
    return solution, max_iter
