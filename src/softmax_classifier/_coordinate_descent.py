r"""Coordinate descent on the Newton model of a penalised fit (proximal Newton's inner solver).

At the current coefficients ``W`` (intercepts ``b``) with probabilities
:math:`p_k`, the smooth objective's gradient :math:`G` (``g_b`` for the
intercepts) and normalised weights :math:`s_k` (summing to 1), the direction
:math:`(D, \delta)` minimises

.. math::

    q(D, \delta) = \langle G, D\rangle + \langle g_b, \delta\rangle
        + \tfrac12 \sum_k s_k z_k^T (\mathrm{diag}(p_k) - p_k p_k^T) z_k
        + \tfrac{\alpha_2}{2} \lVert D\rVert_F^2 + h(W + D),
    \qquad z_k = D x_k + \delta,

the second-order expansion of the mean cross-entropy (its Hessian is
:math:`\tilde X^T [S \otimes (\mathrm{diag}\,p - pp^T)] \tilde X`,
``docs/math.md``) plus the exact penalty :math:`h`
(:mod:`softmax_classifier.penalties`).

* ``h = lam ||.||_1``: one coordinate at a time. The model restricted to
  :math:`D_{ij}` is a parabola of curvature :math:`H_{ij} = \sum_k s_k
  x_{kj}^2 p_{ki}(1 - p_{ki}) + \alpha_2` and slope :math:`G_{ij} + \sum_k s_k
  x_{kj} p_{ki}(z_{ki} - m_k) + \alpha_2 D_{ij}` with :math:`m_k = \sum_i
  p_{ki} z_{ki}`, minimised with the penalty by soft-thresholding: exact.
* ``h = lam sum_j ||.[:, j]||_2``: one feature's column at a time, the c x c
  block majorised by :math:`L_j I`, :math:`L_j = \sum_k s_k x_{kj}^2 b_k +
  \alpha_2` with :math:`b_k = \min(\max_i p_{ki}, 2\max_i p_{ki}(1 -
  p_{ki}))`, a bound on the largest eigenvalue of :math:`\mathrm{diag}(p_k) -
  p_k p_k^T` (it is below :math:`\mathrm{diag}(p_k)`; and by Gershgorin's
  theorem below row :math:`i`'s :math:`p_{ki}(1-p_{ki}) + \sum_{l \ne i}
  p_{ki}p_{kl}`), then block soft-thresholding: each step decreases ``q``.
* intercepts: an exact Newton step each, after every sweep.

``z`` and ``m`` are kept up to date, so one coordinate costs one pass over its
column of ``X``. Models with few parameters hold their Hessian instead
(:mod:`softmax_classifier._gram`): the same steps at O(parameters) each. Sweeps
alternate between every coordinate and the non-zero
ones (glmnet's active set) until a full sweep changes none by more than
``tol`` in gradient units (curvature times step).

:func:`solve` runs the compiled kernel (``_cd.c``) when it built;
:func:`solve_reference` is the same arithmetic written in NumPy, the reference
the tests compare the kernel with.
"""

from __future__ import annotations

import os

import numpy as np
import scipy.sparse as sp

try:  # built by the package's build (setup.py); optional like softmax_classifier._kernels
    from softmax_classifier import _cd
except ImportError:  # pragma: no cover - only without a C compiler at install time
    _cd = None

__all__ = ["ColumnData", "NewtonModel", "run_sweeps", "solve", "solve_reference"]

L1_KIND, GROUP_KIND = 0, 1


class ColumnData:
    """``X`` held by columns, float64: a dense Fortran array or CSC with int64 indices.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_samples, n_features)
    sample_weight : ndarray of shape (n_samples,) or None

    Attributes
    ----------
    X : ndarray (Fortran order) or scipy.sparse.csc_matrix, float64
    s : ndarray of shape (n_samples,)
        The weights divided by their sum.
    """

    @classmethod
    def from_blocks(cls, blocks):
        """The rows of ``(X, y, weights)`` blocks (a data source's) by columns, and the labels.

        Parameters
        ----------
        blocks : iterable of (X_block, y_block, weight_block)
            Dense arrays or all CSR; weights None in every block or in none.

        Returns
        -------
        data : ColumnData
        y : ndarray of shape (n_samples,)
        """
        blocks = list(blocks)
        Xs = [block[0] for block in blocks]
        X = sp.vstack(Xs, format="csc") if sp.issparse(Xs[0]) else np.concatenate(Xs)
        y = np.concatenate([block[1] for block in blocks])
        weights = None if blocks[0][2] is None else np.concatenate([b[2] for b in blocks])
        return cls(X, weights), y

    def __init__(self, X, sample_weight=None):
        if sp.issparse(X):
            X = sp.csc_matrix(X, dtype=np.float64)
            X.sum_duplicates()
            X.indices = X.indices.astype(np.int64)
            X.indptr = X.indptr.astype(np.int64)
        else:
            X = np.asfortranarray(X, dtype=np.float64)
        self.X = X
        n_samples = X.shape[0]
        weights = np.ones(n_samples) if sample_weight is None else np.asarray(sample_weight)
        self.s = np.ascontiguousarray(weights / weights.sum(), dtype=np.float64)

    @property
    def shape(self):
        return self.X.shape

    def logits(self, coef, intercept):
        """``W X^T + b[:, None]``: shape (n_classes, n_samples), float64."""
        out = np.ascontiguousarray((self.X @ np.asarray(coef, dtype=np.float64).T).T)
        if intercept is not None:
            out += np.asarray(intercept, dtype=np.float64)[:, None]
        return out


class NewtonModel:
    """The penalised Newton model at one point, and the exact objective along its direction.

    Parameters
    ----------
    data : ColumnData
    y : ndarray of shape (n_samples,)
        Class indices.
    coef : ndarray of shape (n_classes, n_features)
    intercept : ndarray of shape (n_classes,) or None
    alpha2 : float
        The smooth L2 strength (in ``G`` already; the model adds its curvature).
    """

    def __init__(self, data, y, coef, intercept, alpha2):
        self.data, self.y, self.alpha2 = data, np.asarray(y), float(alpha2)
        self.coef = np.ascontiguousarray(coef, dtype=np.float64)
        self.intercept = None if intercept is None else np.asarray(intercept, dtype=np.float64)
        self.logits = data.logits(self.coef, self.intercept)
        shifted = self.logits - self.logits.max(axis=0)
        np.exp(shifted, out=shifted)
        shifted /= shifted.sum(axis=0)
        self.proba = shifted  # (n_classes, n_samples)
        self.z = None
        self._hessian = None  # the explicit Hessian, where _gram applies
        self.used_hessian = False  # whether direction() went on to it

    def direction(
        self, grad, grad_intercept, penalty, *, tol, max_sweeps, damping=0.0,
        start_with_hessian=False,
    ):  # fmt: skip
        """Minimise the model over ``(D, delta)`` by coordinate descent from zero.

        Parameters
        ----------
        grad : ndarray of shape (n_classes, n_features)
            The smooth part's gradient at the model's point.
        grad_intercept : ndarray of shape (n_classes,) or None
        penalty : softmax_classifier.penalties.L1 or GroupLasso (or NoPenalty)
        tol : float
            Stop when a full sweep changes no coordinate by more than this
            (curvature times step).
        max_sweeps : int
        damping : float, default=0.0
            ``mu >= 0`` added to the model's curvature (``q + mu/2 ||D||^2``,
            Levenberg-Marquardt's damping): bounds the step along directions
            of almost no curvature (nearly separable classes).
        start_with_hessian : bool, default=False
            Skip the sweeps by columns where the explicit Hessian applies (an
            earlier model of the fit needed it: :attr:`used_hessian`).

        Returns
        -------
        direction : ndarray of shape (n_classes, n_features)
        direction_intercept : ndarray of shape (n_classes,) or None
        sweeps : int
        """
        kind = GROUP_KIND if penalty.name == "group" else L1_KIND
        n_classes, n_features = self.coef.shape
        n_samples = self.data.shape[0]
        from softmax_classifier import _gram  # which imports this module's run_sweeps

        with_intercept = self.intercept is not None
        # Models with few parameters start by columns and go on with the explicit
        # Hessian if that many sweeps were not enough: forming it costs about as much
        # as P / 20 sweeps by columns (measured: letter 10500 x 16, 26 classes: about
        # 20 sweeps; digits 1797 x 64, 10 classes: about 35), after which a sweep
        # costs O(P^2) instead of O(n P).
        gram = _gram.worth_it(n_samples, n_classes, n_features, with_intercept)
        size = n_classes * (n_features + int(with_intercept))
        budget = min(max_sweeps, max(10, size // 20)) if gram else max_sweeps
        if gram and start_with_hessian:  # an earlier step of the fit needed it
            budget = 0
        state = {
            "direction": np.zeros((n_classes, n_features)),
            "direction_b": None if self.intercept is None else np.zeros(n_classes),
            "z": np.zeros((n_classes, n_samples)),
            "m": np.zeros(n_samples),
            "curvature": np.zeros(n_features if kind == GROUP_KIND else (n_classes, n_features)),
            "active": np.ones(
                n_features if kind == GROUP_KIND else n_classes * n_features, np.int8
            ),
        }
        sweeps = solve(
            kind,
            self.data,
            self.proba,
            np.ascontiguousarray(grad, dtype=np.float64),
            None if grad_intercept is None else np.asarray(grad_intercept, dtype=np.float64),
            self.coef,
            state,
            alpha2=self.alpha2 + float(damping),
            lam=penalty.strength,
            tol=tol,
            max_sweeps=budget,
        )
        if gram and sweeps == budget < max_sweeps:
            self.used_hessian = True
            start = (state["direction"], state["direction_b"])
            direction, direction_b, more = self._direction_by_gram(
                kind, grad, grad_intercept, penalty.strength, tol, max_sweeps - budget,
                damping, start,
            )  # fmt: skip
            return direction, direction_b, sweeps + more
        self.z = state["z"]
        self._direction = state["direction"]
        return state["direction"], state["direction_b"], sweeps

    def _direction_by_gram(self, kind, grad, grad_intercept, lam, tol, max_sweeps, damping, start):
        """:meth:`direction` continued from ``start`` (``(D, delta)``) with the Hessian held."""
        from softmax_classifier import _gram

        n_classes, n_features = self.coef.shape
        with_intercept = self.intercept is not None
        dt = n_features + int(with_intercept)
        if self._hessian is None:  # formed once per model; the damping is added to a copy
            self._hessian = _gram.hessian(
                self.data.X, self.data.s, self.proba, with_intercept, self.alpha2
            )
        H = self._hessian
        if damping > 0:
            H = H.copy()
            coefficients = np.ones(n_classes * dt, dtype=bool)
            if with_intercept:
                coefficients[dt - 1 :: dt] = False
            where = np.flatnonzero(coefficients)
            H[where, where] += damping
        flat_grad, flat_coef = np.zeros((n_classes, dt)), np.zeros((n_classes, dt))
        flat_grad[:, :n_features], flat_coef[:, :n_features] = grad, self.coef
        if with_intercept:
            flat_grad[:, n_features] = grad_intercept
        size = n_classes * dt
        flat_start = np.zeros((n_classes, dt))
        flat_start[:, :n_features] = start[0]
        if with_intercept:
            flat_start[:, n_features] = start[1]
        flat_start = flat_start.ravel()
        state = {
            "direction": flat_start,
            "hd": H @ flat_start,
            "bound": np.zeros(n_features),
            "active": np.ones(n_features if kind == GROUP_KIND else size, np.int8),
        }
        sweeps = _gram.solve(
            kind, n_classes, n_features, with_intercept, H, flat_grad.ravel(),
            flat_coef.ravel(), state, lam=lam, tol=tol, max_sweeps=max_sweeps,
        )  # fmt: skip
        flat = state["direction"].reshape(n_classes, dt)
        direction = np.ascontiguousarray(flat[:, :n_features])
        direction_b = flat[:, n_features].copy() if with_intercept else None
        self.z = self.data.logits(direction, direction_b)
        self._direction = direction
        return direction, direction_b, sweeps

    def smooth_value(self, step):
        r"""The smooth objective at ``W + step * D`` from the logits, without a pass over ``X``.

        The logits there are exactly ``logits + step * z`` (``z = D x_k +
        delta`` as the coordinate descent left it), so the mean cross-entropy
        :math:`\sum_k s_k [\log\sum_i e^{a_{ki}} - a_{k y_k}]` costs
        O(n_samples * n_classes), plus :math:`\tfrac{\alpha_2}{2}\lVert W +
        \text{step}\, D\rVert^2`.

        Parameters
        ----------
        step : float

        Returns
        -------
        float
        """
        a = self.logits + step * self.z
        top = a.max(axis=0)
        lse = top + np.log(np.exp(a - top).sum(axis=0))
        picked = a[self.y, np.arange(a.shape[1])]
        loss = float(self.data.s @ (lse - picked))
        coef = self.coef + step * self._direction
        return loss + 0.5 * self.alpha2 * float(np.vdot(coef, coef))


def solve(kind, data, proba, grad, grad_intercept, coef, state, *, alpha2, lam, tol, max_sweeps):
    """Run the coordinate descent, compiled where available; ``state`` is updated in place.

    Parameters
    ----------
    kind : {0, 1}
        0: L1 (coordinate by coordinate); 1: group (feature by feature).
    data : ColumnData
    proba : ndarray of shape (n_classes, n_samples), C order
    grad : ndarray of shape (n_classes, n_features), C order
    grad_intercept : ndarray of shape (n_classes,) or None
    coef : ndarray of shape (n_classes, n_features), C order
    state : dict
        ``direction`` (n_classes, n_features), ``direction_b`` (n_classes,) or
        None, ``z`` (n_classes, n_samples), ``m`` (n_samples,), ``curvature``
        ((n_classes, n_features) for L1, (n_features,) for group) and
        ``active`` (int8 flags per coordinate or feature), all written.
    alpha2, lam, tol : float
    max_sweeps : int

    Returns
    -------
    int
        Sweeps run.
    """
    if _cd is None or os.environ.get("SOFTMAX_CLASSIFIER_KERNELS") == "numpy":
        return solve_reference(
            kind, data, proba, grad, grad_intercept, coef, state,
            alpha2=alpha2, lam=lam, tol=tol, max_sweeps=max_sweeps,
        )  # fmt: skip
    X = data.X
    n_samples, n_features = X.shape
    sparse = sp.issparse(X)
    return _cd.solve(
        kind,
        n_samples,
        n_features,
        proba.shape[0],
        X.data if sparse else X.T,  # X.T of a Fortran array: C order, columns as rows
        X.indices if sparse else None,
        X.indptr if sparse else None,
        data.s,
        proba,
        grad,
        grad_intercept,
        coef,
        state["direction"],
        state["direction_b"],
        state["z"],
        state["m"],
        state["curvature"],
        state["active"],
        float(alpha2),
        float(lam),
        float(tol),
        int(max_sweeps),
    )


def solve_reference(
    kind, data, proba, grad, grad_intercept, coef, state, *, alpha2, lam, tol, max_sweeps
):
    """:func:`solve` in NumPy: the same steps in the same order (slow; the tested reference)."""
    X, s = data.X, data.s
    n_classes, n_features = coef.shape
    direction, direction_b = state["direction"], state["direction_b"]
    z, m, curvature, active = state["z"], state["m"], state["curvature"], state["active"]
    columns = [_column(X, j) for j in range(n_features)]
    squares = [(s[rows] * values**2) for rows, values in columns]
    if kind == GROUP_KIND:
        top = np.minimum(proba.max(axis=0), 2 * (proba * (1 - proba)).max(axis=0))
        curvature[:] = [sq @ top[rows] for sq, (rows, _) in zip(squares, columns, strict=True)]
        curvature += alpha2
    else:
        spread = proba * (1 - proba)
        for j, (rows, _) in enumerate(columns):
            curvature[:, j] = spread[:, rows] @ squares[j] + alpha2
    active = active.reshape(-1)

    def residual(j, i):
        rows, values = columns[j]
        return float((s[rows] * values * proba[i, rows]) @ (z[i, rows] - m[rows]))

    def move(j, i, step):
        rows, values = columns[j]
        z[i, rows] += step * values
        m[rows] += step * values * proba[i, rows]

    def update_l1(i, j):
        curv = curvature[i, j]
        u = coef[i, j] + direction[i, j]
        slope = grad[i, j] + residual(j, i) + alpha2 * direction[i, j]
        if not curv > 0:
            if abs(slope) > lam:
                return 0.0
            target = 0.0
        else:
            target = _soft(u - slope / curv, lam / curv)
        step = target - u
        active[i * n_features + j] = target != 0.0
        if step == 0.0:
            return 0.0
        direction[i, j] += step
        move(j, i, step)
        return curv * abs(step) if curv > 0 else abs(step)

    def update_group(j):
        slope = np.array([grad[i, j] + residual(j, i) for i in range(n_classes)])
        slope += alpha2 * direction[:, j]
        bound = curvature[j]
        if not bound > 0:
            return 0.0
        v = coef[:, j] + direction[:, j] - slope / bound
        norm = float(np.sqrt(v @ v))
        shrink = 1.0 - lam / (bound * norm) if norm > lam / bound else 0.0
        active[j] = shrink > 0.0
        largest = 0.0
        for i in range(n_classes):
            change = shrink * v[i] - (coef[i, j] + direction[i, j])
            if change != 0.0:
                direction[i, j] += change
                move(j, i, change)
                largest = max(largest, abs(change))
        return bound * largest

    def update_intercept(i):
        slope = grad_intercept[i] + float((s * proba[i]) @ (z[i] - m))
        curv = float(s @ (proba[i] * (1 - proba[i])))
        if not curv > 0:
            return 0.0
        step = -slope / curv
        direction_b[i] += step
        z[i] += step
        m[:] += step * proba[i]
        return abs(slope)

    def visit(j, full):
        if kind == GROUP_KIND:
            return update_group(j) if full or active[j] else 0.0
        changes = [update_l1(i, j) for i in range(n_classes) if full or active[i * n_features + j]]
        return max(changes, default=0.0)

    def intercepts():
        if direction_b is None:
            return 0.0
        return max(update_intercept(i) for i in range(n_classes))

    return run_sweeps(visit, intercepts, n_features, tol=tol, max_sweeps=max_sweeps)


def run_sweeps(visit, intercepts, n_features, *, tol, max_sweeps):
    """The sweep schedule of both references: all coordinates, then the active ones.

    Parameters
    ----------
    visit : callable
        ``visit(j, full)`` updates feature ``j``'s coordinates (all of them when
        ``full``, else the active ones) and returns the largest change.
    intercepts : callable
        ``intercepts()`` updates the intercepts and returns the largest change.
    n_features : int
    tol : float
        A full sweep whose largest change is at most this ends the run; an
        active sweep that small is followed by a full one.
    max_sweeps : int

    Returns
    -------
    int
        Sweeps run.
    """
    sweeps, full = 0, True
    while sweeps < max_sweeps:
        largest = max((visit(j, full) for j in range(n_features)), default=0.0)
        largest = max(largest, intercepts())
        sweeps += 1
        if largest <= tol:
            if full:
                break
            full = True
        else:
            full = False
    return sweeps


def _column(X, j):
    """Rows and values of column ``j`` of a Fortran array or CSC matrix."""
    if sp.issparse(X):
        start, stop = X.indptr[j], X.indptr[j + 1]
        return X.indices[start:stop], X.data[start:stop]
    return slice(None), X[:, j]


def _soft(value, threshold):
    return float(np.sign(value) * max(abs(value) - threshold, 0.0))
