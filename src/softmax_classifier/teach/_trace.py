r"""One training example through the formulas of ``docs/math.md``, with the numbers.

Every quantity is computed here from its plain formula (written out with NumPy, not by
:mod:`softmax_classifier.math`), so that the tests can hold the two against each other:

.. math::

    a = W x + b, \quad p = \operatorname{softmax}(a), \quad
    \mathrm{CE} = \log \sum_j e^{a_j} - a_y, \quad r = p - e_y, \quad
    \nabla_W = r x^T + \alpha W, \quad \nabla_b = r, \quad
    W' = W - \gamma \nabla_W, \quad b' = b - \gamma \nabla_b .

Shapes: ``coef (n_classes, 2)``, ``intercept (n_classes,)``, ``x (2,)``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["trace_example", "trace_markdown"]


def trace_example(coef, intercept, x, y, *, learning_rate, alpha=0.0):
    r"""Follow one example ``(x, y)`` through the model and one per-example step.

    Parameters
    ----------
    coef : ndarray of shape (n_classes, n_features)
        :math:`W`.
    intercept : ndarray of shape (n_classes,)
        :math:`b`.
    x : ndarray of shape (n_features,)
    y : int
        Class index of ``x``.
    learning_rate : float
        :math:`\gamma`, the step of note ``004``'s per-example update.
    alpha : float, default=0.0
        The L2 penalty: its gradient :math:`\alpha W` joins the step.

    Returns
    -------
    dict
        ``W (c, d)``, ``b (c,)``, ``x (d,)``, ``y``, ``a (c,)`` logits, ``m`` their
        maximum, ``logsumexp``, ``p (c,)``, ``ce``, ``penalty`` (:math:`\frac\alpha2
        \lVert W\rVert_F^2`), ``onehot (c,)``, ``r (c,)``, ``grad_W (c, d)``,
        ``grad_b (c,)``, ``W_new``, ``b_new``, ``a_new (c,)``, ``p_new (c,)``,
        ``ce_new``, ``learning_rate``, ``alpha``.
    """
    W = np.array(coef, dtype=np.float64)
    b = np.array(intercept, dtype=np.float64)
    x = np.array(x, dtype=np.float64)
    y = int(y)
    a, m, logsumexp, p = _forward(W, b, x)
    onehot = np.zeros(len(b))
    onehot[y] = 1.0
    r = p - onehot
    grad_W = np.outer(r, x) + alpha * W
    grad_b = r.copy()
    W_new = W - learning_rate * grad_W
    b_new = b - learning_rate * grad_b
    a_new, _, logsumexp_new, p_new = _forward(W_new, b_new, x)
    return {
        "W": W,
        "b": b,
        "x": x,
        "y": y,
        "a": a,
        "m": m,
        "logsumexp": logsumexp,
        "p": p,
        "ce": logsumexp - a[y],
        "penalty": 0.5 * alpha * float(np.sum(W * W)),
        "onehot": onehot,
        "r": r,
        "grad_W": grad_W,
        "grad_b": grad_b,
        "W_new": W_new,
        "b_new": b_new,
        "a_new": a_new,
        "p_new": p_new,
        "ce_new": logsumexp_new - a_new[y],
        "learning_rate": float(learning_rate),
        "alpha": float(alpha),
    }


def _forward(W, b, x):
    """Logits, their maximum, log-sum-exp and softmax of one example."""
    a = W @ x + b
    m = float(a.max())
    e = np.exp(a - m)  # every exponent <= 0: no overflow (docs/math.md, Section 4)
    total = float(e.sum())
    return a, m, m + float(np.log(total)), e / total


def trace_markdown(trace, *, index, feature_names, class_names, where):
    """The trace as a Markdown page: each formula of ``docs/math.md``, then its numbers.

    Parameters
    ----------
    trace : dict
        From :func:`trace_example`.
    index : int
        The example's row in the training data.
    feature_names : sequence of str of shape (n_features,)
    class_names : sequence of str of shape (n_classes,)
    where : str
        One sentence on where the parameters come from.

    Returns
    -------
    str
    """
    t = trace
    y = t["y"]
    names = [str(name) for name in class_names]
    gamma, alpha = t["learning_rate"], t["alpha"]
    lines = [
        "# One training example through the formulas",
        "",
        f"Example {index}: $x = {_vec(t['x'])}$ ({', '.join(map(str, feature_names))}), "
        f"label $y = {y}$ (class {names[y]!r}). {where}",
        "Notation and derivations: `docs/math.md` (sections 1, 4, 5, 6 and 8); the numbers "
        "are float64, rounded here to 6 significant digits.",
        "",
        "Parameters $W$ (one row $w_i^T$ per class) and $b$:",
        "",
        *_matrix_table(t["W"], t["b"], names, feature_names, "W", "b"),
        "",
        "## 1. Logits $a = W x + b$, i.e. $a_i = w_i^T x + b_i$",
        "",
        *(
            f"- $a_{{{i}}} = {_p(t['W'][i, 0])} \\cdot {_p(t['x'][0])} "
            f"+ {_p(t['W'][i, 1])} \\cdot {_p(t['x'][1])} + {_p(t['b'][i])} "
            f"= {_n(t['a'][i])}$ (class {names[i]!r})"
            for i in range(len(names))
        ),
        "",
        "## 2. Softmax $p_i = e^{a_i - m} / \\sum_j e^{a_j - m}$ with $m = \\max_j a_j$",
        "",
        f"$m = {_n(t['m'])}$, $p = {_vec(t['p'])}$ (sums to {_n(t['p'].sum())}).",
        "",
        "## 3. Cross-entropy $\\mathrm{CE} = \\log \\sum_j e^{a_j} - a_y = -\\log p_y$",
        "",
        f"$\\log \\sum_j e^{{a_j}} = m + \\log \\sum_j e^{{a_j - m}} = {_n(t['logsumexp'])}$, "
        f"$a_y = {_n(t['a'][y])}$, so $\\mathrm{{CE}} = {_n(t['ce'])}$ "
        f"$= -\\log({_n(t['p'][y])})$.",
        "",
        "## 4. Residual $r = \\partial \\mathrm{CE} / \\partial a = p - e_y$",
        "",
        f"$e_y = {_vec(t['onehot'])}$, $r = {_vec(t['r'])}$: the true class gets "
        f"$p_y - 1 = {_n(t['r'][y])} \\le 0$, every other class $p_i \\ge 0$.",
        "",
        "## 5. Gradient: the outer product $\\nabla_W = r\\, x^T$"
        + (" $+ \\alpha W$" if alpha else "")
        + ", $\\nabla_b = r$",
        "",
        (
            f"With the L2 penalty $\\alpha = {_n(alpha)}$ (the term $\\alpha W$ of "
            "`docs/math.md`, section 7):"
            if alpha
            else "Without a penalty ($\\alpha = 0$):"
        ),
        "",
        "Row $i$ is $r_i x^T$" + (" $+ \\alpha w_i^T$" if alpha else "") + "; for the true class, "
        f"$r_{{{y}}} x^T = {_p(t['r'][y])} \\cdot {_vec(t['x'])} = "
        f"{_vec(t['r'][y] * t['x'])}$" + (_penalty_row(alpha, y, t["W"]) if alpha else "."),
        "",
        *_matrix_table(t["grad_W"], t["grad_b"], names, feature_names, "\\nabla_W", "\\nabla_b"),
        "",
        f"## 6. Update (note 004's per-example step), $\\gamma = {_n(gamma)}$: "
        "$W' = W - \\gamma \\nabla_W$, $b' = b - \\gamma \\nabla_b$",
        "",
        *_matrix_table(t["W_new"], t["b_new"], names, feature_names, "W'", "b'"),
        "",
        "## 7. What the step did to this example",
        "",
        f"$a' = W' x + b' = {_vec(t['a_new'])}$ (was ${_vec(t['a'])}$): the true class's "
        f"logit moved by {_n(t['a_new'][y] - t['a'][y])}, "
        f"$p'_y = {_n(t['p_new'][y])}$ (was {_n(t['p'][y])}), "
        f"$\\mathrm{{CE}}' = {_n(t['ce_new'])}$ (was {_n(t['ce'])}).",
        "",
    ]
    return "\n".join(lines)


def _n(value):
    """A number for the page: 6 significant digits."""
    return f"{float(value):.6g}"


def _penalty_row(alpha, y, W):
    return f", plus $\\alpha w_{{{y}}}^T = " + _vec(alpha * W[y]) + "$."


def _p(value):
    """A number inside a formula: negative ones in parentheses."""
    text = _n(value)
    return f"({text})" if text.startswith("-") else text


def _vec(values):
    return "(" + ", ".join(_n(v) for v in values) + ")"


def _matrix_table(W, b, class_names, feature_names, w_name, b_name):
    """A Markdown table: one row per class, the columns of ``W`` then ``b``."""
    header = f"| class | ${w_name}$: {feature_names[0]} | ${w_name}$: {feature_names[1]} | "
    rows = [header + f"${b_name}$ |", "|---|---:|---:|---:|"]
    for i, name in enumerate(class_names):
        rows.append(f"| {i} ({name}) | {_n(W[i, 0])} | {_n(W[i, 1])} | {_n(b[i])} |")
    return rows
