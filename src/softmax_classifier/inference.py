r"""Inference tables for a fitted softmax classifier: standard errors, tests, intervals.

:func:`summary` takes a fitted :class:`~softmax_classifier.SoftmaxClassifier` and the rows
it was fitted on, and returns a :class:`Summary`: for every class and term (the intercept,
then the features) the coefficient, its standard error, the Wald statistic
:math:`z = \hat\beta / \operatorname{se}`, its two-sided normal p-value and a confidence
interval, with the log-likelihood, the null log-likelihood, the likelihood-ratio statistic,
McFadden's pseudo-:math:`R^2`, AIC and BIC; ``docs/inference.md`` is the guide.

Per class :math:`\theta_k = [b_k, w_k]` (intercept first, as printed). With ``alpha_ == 0``
the table holds the contrasts :math:`\theta_k - \theta_r` against a reference class
:math:`r` (statsmodels' ``MNLogit``) and the covariance is the inverse information of that
parameterisation (or a sandwich around it); with ``alpha_ > 0`` it holds every class, the
intercepts centred, and the covariance is the penalised sandwich :math:`H^+ M H^+`.
``docs/math.md`` (section 11) derives both.
"""

from __future__ import annotations

import numbers
import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy import linalg, stats
from sklearn.utils.validation import check_is_fitted, validate_data

from softmax_classifier import math as sm
from softmax_classifier._curvature import full_hessian
from softmax_classifier.data import as_source

__all__ = ["COV_TYPES", "MAX_HESSIAN_ORDER", "Summary", "summary"]

#: Largest ``n_classes * (n_features + fit_intercept)``: the order of the dense Hessian
#: :func:`summary` forms (5000: 200 MB per matrix, a few of them at once).
MAX_HESSIAN_ORDER = 5000

#: The covariance types of :func:`summary`.
COV_TYPES = ("nonrobust", "HC0", "cluster")

# Pivot ratio of the scaled bread's Cholesky factor above which summary warns.
_MAX_CONDITION = 1e10

# Entries of one chunk's (rows, n_classes * terms) score array: a few MB.
_CHUNK_ENTRIES = 1 << 20


@dataclass
class Summary:
    """The inference table of a fitted model; print it, or read its fields.

    Attributes
    ----------
    classes : ndarray of shape (n_rows,)
        The class of each row: every class but ``reference`` when ``alpha == 0``,
        every class when penalised.
    terms : list of str
        ``["intercept", *feature names]`` (``x0, x1, ...`` without names; no
        ``"intercept"`` when the model has none).
    coef, std_err, z, p_value, ci_low, ci_high : ndarray of shape (n_rows, n_terms)
        Coefficients (contrasts ``theta_k - theta_reference`` when ``alpha == 0``),
        standard errors, Wald statistics, two-sided p-values, interval bounds.
    covariance : ndarray of shape (n_rows * n_terms, n_rows * n_terms)
        Of ``coef.ravel()`` (row-major: class by class).
    llf, llnull, llr, llr_pvalue, pseudo_r2, aic, bic, nobs : float
        Log-likelihood at the fitted parameters; of the intercept-only model
        (the uniform model without intercept); ``2 (llf - llnull)`` and its
        chi-square p-value on ``df_model`` degrees of freedom; ``1 - llf / llnull``;
        ``-2 llf + 2 k`` and ``-2 llf + log(nobs) k`` with ``k = n_params``; the
        sum of the sample weights.
    n_params, df_model : float
        ``k``: ``n_rows * n_terms`` when ``alpha == 0``, else the effective
        number ``trace(H^+ I)``; ``df_model`` is ``k`` less the ``c - 1``
        parameters of the null model (with an intercept).
    cov_type : str
    reference : object or None
        The reference class (``alpha == 0``); None when penalised.
    alpha : float
    level : float
    standardized : bool
        Whether the terms are standardised features.
    n_groups : int or None
        Clusters of ``cov_type="cluster"``.
    """

    classes: np.ndarray
    terms: list
    coef: np.ndarray
    std_err: np.ndarray
    z: np.ndarray
    p_value: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    covariance: np.ndarray
    llf: float
    llnull: float
    llr: float
    llr_pvalue: float
    pseudo_r2: float
    aic: float
    bic: float
    nobs: float
    n_params: float
    df_model: float
    cov_type: str
    reference: object
    alpha: float
    level: float
    standardized: bool
    n_groups: int | None = None

    def to_dict(self):
        """The table as plain data.

        Returns
        -------
        dict
            ``classes`` (list of the rows' labels), ``terms`` (list of str),
            ``coef``, ``std_err``, ``z``, ``p_value``, ``ci_low``, ``ci_high``
            (ndarrays of shape (n_rows, n_terms)), and the floats ``llf``,
            ``llnull``, ``llr``, ``llr_pvalue``, ``pseudo_r2``, ``aic``, ``bic``,
            ``nobs``, and ``cov_type`` (str).
        """
        table = {name: getattr(self, name).copy() for name in _COLUMNS}
        scalars = {name: float(getattr(self, name)) for name in _SCALARS}
        return {
            "classes": self.classes.tolist(),
            "terms": list(self.terms),
            **table,
            **scalars,
            "cov_type": self.cov_type,
        }

    def to_frame(self):
        """The table as a pandas DataFrame, one row per (class, term).

        Returns
        -------
        pandas.DataFrame of shape (n_rows * n_terms, 6)
            Indexed by ``(class, term)``; columns ``coef``, ``std_err``, ``z``,
            ``p_value``, ``ci_low``, ``ci_high``.
        """
        try:
            import pandas as pd
        except ImportError as error:
            raise ImportError(
                "Summary.to_frame needs pandas (pip install pandas); to_dict() and "
                "str() work without it."
            ) from error
        index = pd.MultiIndex.from_product(
            [self.classes.tolist(), list(self.terms)], names=["class", "term"]
        )
        return pd.DataFrame({name: getattr(self, name).ravel() for name in _COLUMNS}, index=index)

    def __str__(self):
        return "\n".join(_text_lines(self))


_COLUMNS = ("coef", "std_err", "z", "p_value", "ci_low", "ci_high")
_SCALARS = ("llf", "llnull", "llr", "llr_pvalue", "pseudo_r2", "aic", "bic", "nobs")


def summary(
    model,
    X,
    y,
    sample_weight=None,
    reference=None,
    cov_type="nonrobust",
    groups=None,
    level=0.95,
):
    """The inference table of a fitted softmax classifier on the rows it was fitted on.

    Parameters
    ----------
    model : SoftmaxClassifier
        Fitted (``coef_``, ``intercept_``, ``classes_``, ``alpha_``), without
        ``class_weight``. The formulas assume ``model`` minimises its objective on
        these rows: fit it tightly (e.g. ``solver="newton-cg", tol=1e-10``).
    X : array-like or sparse matrix of shape (n_samples, n_features)
        The rows as given to ``fit`` (``summary`` standardises them itself for a
        model fitted with ``standardize=True``).
    y : array-like of shape (n_samples,)
        Labels, each one of ``model.classes_``.
    sample_weight : array-like of shape (n_samples,) or None, default=None
        Frequency weights: a row of weight 2 counts as the row twice.
    reference : object or None, default=None
        Unpenalised models (``alpha_ == 0``): the class the contrasts are taken
        against; by default ``classes_[0]``. Must be None for a penalised model,
        whose table covers every class.
    cov_type : {"nonrobust", "HC0", "cluster"}, default="nonrobust"
        Model-based, heteroscedasticity-robust sandwich, or cluster-robust
        sandwich (no small-sample correction).
    groups : array-like of shape (n_samples,) or None, default=None
        Cluster labels, one per row; required by (and only for)
        ``cov_type="cluster"``.
    level : float, default=0.95
        Confidence level of the intervals, in (0, 1).

    Returns
    -------
    Summary

    Raises
    ------
    ValueError
        For bad options or rows, a model with ``class_weight`` or without
        ``alpha_``, more than :data:`MAX_HESSIAN_ORDER` parameters, or a singular
        information matrix (separable classes or collinear features with
        ``alpha_ == 0``).
    """
    check_is_fitted(model)
    _check_options(cov_type, groups, level)
    alpha = _penalty_of(model)
    classes = np.asarray(model.classes_)
    with_intercept = bool(getattr(model, "fit_intercept", True))
    coef = np.asarray(model.coef_, dtype=np.float64)
    intercept = np.asarray(model.intercept_, dtype=np.float64) if with_intercept else None
    n_classes, n_features = coef.shape
    n_terms = n_features + with_intercept
    _check_size(n_classes, n_terms)
    ref = _reference_index(classes, reference, alpha)
    X = _standardised(
        validate_data(model, X, accept_sparse="csr", dtype=np.float64, reset=False), model
    )
    source = as_source(X, y, sample_weight, classes=classes, dtype=np.float64)
    group_ids = None
    if cov_type == "cluster":
        groups = np.asarray(groups)
        if groups.shape != (source.n_samples,):
            raise ValueError(
                f"groups must hold one label per row: got shape {groups.shape} for "
                f"{source.n_samples} rows."
            )
        group_ids = np.unique(groups, return_inverse=True)[1].ravel()
        order = np.argsort(group_ids, kind="stable")  # one cluster's rows together
        weights = None if sample_weight is None else np.asarray(sample_weight)[order]
        source = as_source(
            X[order], np.asarray(y)[order], weights, classes=classes, dtype=np.float64
        )
        group_ids = group_ids[order]
    nobs = float(source.total_weight)
    if not nobs > 0:
        raise ValueError("The sample weights sum to zero: there is nothing to summarise.")

    rows = np.array([k for k in range(n_classes) if alpha > 0 or k != ref])
    keep = (rows[:, None] * n_terms + np.arange(n_terms)).ravel()
    order = _table_order(n_classes, n_features, with_intercept)[keep]
    information = full_hessian(source, coef, intercept, 0.0)[np.ix_(order, order)] * nobs
    llf, meat = _loglik_and_meat(source, coef, intercept, keep, cov_type, group_ids)
    covariance, n_params = _covariance(
        information, meat, alpha, nobs, len(rows), n_terms, with_intercept
    )

    theta = coef if intercept is None else np.column_stack([intercept, coef])
    table = theta[rows] if alpha > 0 else theta[rows] - theta[ref]
    std_err = np.sqrt(np.clip(np.diag(covariance), 0.0, None)).reshape(table.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = table / std_err
    half_width = stats.norm.ppf(0.5 + level / 2) * std_err

    totals = source.class_totals
    if with_intercept:
        present = totals > 0
        llnull = float(np.sum(totals[present] * np.log(totals[present] / nobs)))
    else:
        llnull = -nobs * np.log(n_classes)
    df_model = n_params - (n_classes - 1) * with_intercept
    llr = 2.0 * (llf - llnull)
    return Summary(
        classes=classes[rows],
        terms=_term_names(model, n_features, with_intercept),
        coef=table,
        std_err=std_err,
        z=z,
        p_value=2.0 * stats.norm.sf(np.abs(z)),
        ci_low=table - half_width,
        ci_high=table + half_width,
        covariance=covariance,
        llf=llf,
        llnull=llnull,
        llr=llr,
        llr_pvalue=float(stats.chi2.sf(llr, df_model)) if df_model > 0 else float("nan"),
        pseudo_r2=1.0 - llf / llnull if llnull != 0 else float("nan"),
        aic=-2.0 * llf + 2.0 * n_params,
        bic=-2.0 * llf + np.log(nobs) * n_params,
        nobs=nobs,
        n_params=n_params,
        df_model=df_model,
        cov_type=cov_type,
        reference=None if alpha > 0 else classes.tolist()[ref],
        alpha=alpha,
        level=float(level),
        standardized=getattr(model, "feature_scale_", None) is not None,
        n_groups=None if group_ids is None else int(group_ids.max()) + 1,
    )


# -- checks -------------------------------------------------------------------


def _check_options(cov_type, groups, level):
    if cov_type not in COV_TYPES:
        raise ValueError(f"cov_type must be one of {COV_TYPES}; got {cov_type!r}.")
    if cov_type == "cluster" and groups is None:
        raise ValueError('cov_type="cluster" needs groups: one cluster label per row.')
    if cov_type != "cluster" and groups is not None:
        raise ValueError(f'groups are used by cov_type="cluster" only; got cov_type={cov_type!r}.')
    valid = isinstance(level, numbers.Real) and not isinstance(level, bool)
    if not (valid and 0.0 < float(level) < 1.0):
        raise ValueError(f"level must be a number strictly between 0 and 1; got {level!r}.")


def _penalty_of(model):
    if getattr(model, "class_weight", None) is not None:
        raise ValueError(
            "summary does not take models fitted with class_weight: their coefficients "
            "maximise a class-weighted likelihood. Refit with class_weight=None and pass the "
            "class weights inside sample_weight (weight of row i times its class's weight)."
        )
    penalty = getattr(model, "penalty", "l2")
    if penalty != "l2":
        raise ValueError(
            f"summary needs an L2 (or unpenalised) model; this one has penalty={penalty!r}, "
            "whose zeros come from selection, so standard errors computed as if the support "
            "were fixed would be too small. Refit the selected features with penalty='l2'."
        )
    alpha = getattr(model, "alpha_", None)
    if alpha is None:
        raise ValueError(
            "The model does not record the penalty it was fitted with (alpha_): refit it "
            "(or save it again) with this version."
        )
    return float(alpha)


def _check_size(n_classes, n_terms):
    order = n_classes * n_terms
    if order > MAX_HESSIAN_ORDER:
        raise ValueError(
            f"summary forms the dense Hessian of all n_classes * (n_features + intercept) = "
            f"{n_classes} * {n_terms} = {order} parameters ({order**2 * 8 / 1e6:.0f} MB per "
            f"matrix, several at once, and n_samples * {order}**2 operations); the limit is "
            f"{MAX_HESSIAN_ORDER}. Select fewer features (or merge classes) and refit a "
            "model on them for its table."
        )


def _reference_index(classes, reference, alpha):
    if alpha > 0:
        if reference is not None:
            raise ValueError(
                f"reference is for unpenalised models (alpha_ == 0); this one has "
                f"alpha_ = {alpha:g}, identifiable without one: its table covers every "
                "class. Pass reference=None (or fit with alpha=0)."
            )
        return None
    if reference is None:
        return 0
    matches = []
    if np.ndim(reference) == 0:
        matches = [k for k, label in enumerate(classes.tolist()) if label == reference]
    if len(matches) != 1:
        raise ValueError(
            f"reference must be one of the model's classes {classes.tolist()}; got {reference!r}."
        )
    return matches[0]


def _standardised(X, model):
    """``(X - feature_mean_) / feature_scale_`` for a standardised model, else ``X``."""
    scale = getattr(model, "feature_scale_", None)
    if scale is None:
        return X
    mean = getattr(model, "feature_mean_", None)
    if sp.issparse(X) and (mean is None or not np.any(mean)):
        return sp.csr_matrix(X @ sp.diags(1.0 / np.asarray(scale, dtype=np.float64)))
    if sp.issparse(X):  # a model centred on dense rows: centring sparse rows densifies them
        X = X.toarray()
    return (X - (0.0 if mean is None else mean)) / scale


def _term_names(model, n_features, with_intercept):
    names = getattr(model, "feature_names_in_", None)
    names = [f"x{j}" for j in range(n_features)] if names is None else [str(n) for n in names]
    return ["intercept", *names] if with_intercept else names


# -- computation --------------------------------------------------------------


def _table_order(n_classes, n_features, with_intercept):
    """``order[k * T + t]``: the ``[W | b]`` index (:func:`full_hessian`) of class k, term t."""
    d_tilde = n_features + int(with_intercept)
    grid = np.arange(n_classes * d_tilde).reshape(n_classes, d_tilde)
    if with_intercept:  # the table puts the intercept first
        grid = np.column_stack([grid[:, -1], grid[:, :-1]])
    return grid.ravel()


def _loglik_and_meat(source, coef, intercept, keep, cov_type, group_ids):
    """``sum_i s_i log p_{y_i}`` and the robust meat over ``keep``'s parameters (or None)."""
    n_classes = coef.shape[0]
    n_params = keep.size
    meat = None if cov_type == "nonrobust" else np.zeros((n_params, n_params))
    clusters = _ClusterSums(meat) if cov_type == "cluster" else None
    chunk = max(1, _CHUNK_ENTRIES // (n_classes * (coef.shape[1] + 1)))
    llf, offset = 0.0, 0
    for X_block, y_block, w_block in source.blocks():
        for start in range(0, X_block.shape[0], chunk):
            X = X_block[start : start + chunk]
            X = np.asarray(X.toarray() if sp.issparse(X) else X, dtype=np.float64)
            y = y_block[start : start + chunk]
            m = X.shape[0]
            w = np.ones(m) if w_block is None else np.asarray(w_block[start : start + m], float)
            log_proba = sm.log_softmax(sm.raw_prediction(X, coef, intercept))
            llf += float(w @ log_proba[np.arange(m), y])
            if meat is None:
                continue
            residual = -np.exp(log_proba)
            residual[np.arange(m), y] += 1.0
            if intercept is not None:
                X = np.column_stack([np.ones(m), X])
            scores = (residual[:, :, None] * X[:, None, :]).reshape(m, -1)[:, keep]
            if clusters is None:
                rooted = scores * np.sqrt(w)[:, None]
                meat += rooted.T @ rooted
            else:
                first = offset + start
                clusters.add(group_ids[first : first + m], scores * w[:, None])
        offset += X_block.shape[0]
    if clusters is not None:
        clusters.finish()
    return llf, meat


class _ClusterSums:
    """Adds ``g_G g_G^T`` into ``meat`` for the score sums ``g_G`` of rows sorted by cluster.

    A cluster may continue into the next chunk: its partial sum waits in ``pending``.
    """

    def __init__(self, meat):
        self.meat = meat
        self.pending_id, self.pending = None, None

    def add(self, ids, weighted_scores):
        starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
        sums = np.add.reduceat(weighted_scores, starts, axis=0)
        if self.pending is not None:
            if ids[0] == self.pending_id:
                sums[0] += self.pending
            else:
                self.meat += np.outer(self.pending, self.pending)
        self.pending_id, self.pending = ids[-1], sums[-1].copy()
        complete = sums[:-1]
        self.meat += complete.T @ complete

    def finish(self):
        if self.pending is not None:
            self.meat += np.outer(self.pending, self.pending)
        self.pending = None


def _covariance(information, meat, alpha, nobs, n_rows, n_terms, with_intercept):
    """The table's covariance and its parameter count ``k`` (effective when penalised)."""
    size = information.shape[0]
    bread = information.copy()
    if alpha > 0:
        is_coef = np.ones((n_rows, n_terms), dtype=bool)
        is_coef[:, 0] = not with_intercept
        bread[np.diag_indices(size)] += nobs * alpha * is_coef.ravel()
        if with_intercept:
            # H u = 0 for the common intercept shift u; H + tau u u^T is invertible and its
            # inverse is H^+ + u u^T / tau, whose u u^T part every meat (M u = 0) cancels.
            shift = (~is_coef).ravel() / np.sqrt(n_rows)
            bread += np.trace(bread) / size * np.outer(shift, shift)
    solve = _inverse(bread)
    if alpha == 0:
        n_params = float(size)
        covariance = solve(np.eye(size)) if meat is None else solve(solve(meat).T)
    else:
        bread_information = solve(information)
        n_params = float(np.trace(bread_information))
        covariance = solve((bread_information if meat is None else solve(meat)).T)
    return (covariance + covariance.T) / 2.0, n_params


def _inverse(matrix):
    """``B -> matrix^{-1} B``, by Cholesky of ``matrix`` scaled to a unit diagonal."""
    diagonal = np.diag(matrix)
    factor = None
    if diagonal.min() > 0:
        scale = 1.0 / np.sqrt(diagonal)
        try:
            factor = linalg.cho_factor(matrix * scale[:, None] * scale)
        except linalg.LinAlgError:
            pass
    if factor is None:
        raise ValueError(
            "The information matrix is singular: with alpha_ == 0 the maximum likelihood "
            "estimate does not exist or is not unique (separable classes, a class without "
            "rows, a constant or collinear feature). Drop the offending features, or fit "
            "with alpha > 0 for the penalised table."
        )
    pivots = np.diag(factor[0]) ** 2  # their ratio bounds the condition number from below
    if pivots.max() > _MAX_CONDITION * pivots.min():
        warnings.warn(
            f"The information matrix is nearly singular (condition number above "
            f"{pivots.max() / pivots.min():.1e} after scaling): the standard errors are "
            "unreliable. The classes may be (quasi-)separable, with no maximum likelihood "
            "estimate at alpha_ == 0, or features nearly collinear; fit with alpha > 0 or "
            "drop features.",
            UserWarning,
            stacklevel=4,
        )
    return lambda B: scale[:, None] * linalg.cho_solve(factor, scale[:, None] * B)


# -- text ---------------------------------------------------------------------


def _text_lines(result):
    width = 78
    penalised = result.alpha > 0
    low = f"[{(1 - result.level) / 2:.3g}"
    high = f"{(1 + result.level) / 2:.3g}]"
    lines = [
        "Softmax regression: inference table",
        "=" * width,
        _pair("Classes (rows):", len(result.classes), "Observations:", _number(result.nobs)),
        _pair("Penalty alpha:", f"{result.alpha:g}", "Covariance:", result.cov_type),
        _pair("Log-likelihood:", _number(result.llf), "Pseudo R^2:", f"{result.pseudo_r2:.4f}"),
        _pair("LL-null:", _number(result.llnull), "LLR p-value:", f"{result.llr_pvalue:.4g}"),
        _pair("LLR chi^2:", _number(result.llr), "df model:", _number(result.df_model)),
        _pair("AIC:", _number(result.aic), "BIC:", _number(result.bic)),
    ]
    if result.n_groups is not None:
        lines.append(_pair("Clusters:", result.n_groups, "", ""))
    name_width = max(12, *(len(t) for t in result.terms))
    header = (
        f"{'term':<{name_width}} {'coef':>10} {'std err':>10} {'z':>8} {'P>|z|':>7} "
        f"{low:>10} {high:>10}"
    )
    for r, label in enumerate(result.classes.tolist()):
        lines.append("-" * width)
        title = f"class {label!r}"
        if not penalised:
            title += f" vs reference {result.reference!r}"
        lines += [title, header]
        for t, term in enumerate(result.terms):
            lines.append(
                f"{term:<{name_width}} {result.coef[r, t]:>10.4g} {result.std_err[r, t]:>10.4g} "
                f"{result.z[r, t]:>8.3f} {result.p_value[r, t]:>7.3f} "
                f"{result.ci_low[r, t]:>10.4g} {result.ci_high[r, t]:>10.4g}"
            )
    lines.append("=" * width)
    if penalised:
        lines += [
            "Penalised fit: sandwich covariance H^+ M H^+ over all classes, intercepts centred;",
            "df model is effective (trace(H^+ I) less the null model's), tests approximate.",
        ]
    else:
        lines.append(f"Contrasts theta_k - theta_ref against class {result.reference!r}.")
    if result.standardized:
        lines.append("Coefficients refer to the standardised features (x - mean) / scale.")
    return lines


def _pair(left, left_value, right, right_value):
    return f"{left:<18}{left_value!s:>18}    {right:<16}{right_value!s:>20}"


def _number(value):
    value = float(value)
    if np.isfinite(value) and value == round(value) and abs(value) < 1e7:
        return str(int(value))
    return f"{value:.6g}"
