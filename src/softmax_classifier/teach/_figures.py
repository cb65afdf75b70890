"""The lesson's figures: decision regions with probability shading, loss and gradient curves.

House style of :mod:`softmax_classifier.plots`: each figure is a private
:class:`matplotlib.figure.Figure` (Agg, ``matplotlib.pyplot`` never imported), written
atomically. Classes are told apart without colour: their colours step through lightness
(viridis, dark to light) and each class has its own marker shape.

Shapes: ``X (n_samples, 2)``, ``y (n_samples,)`` class indices, ``coef (n_classes, 2)``,
``intercept (n_classes,)``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from softmax_classifier._atomic import atomic_write
from softmax_classifier.math import raw_prediction, softmax

__all__ = [
    "View",
    "frame_figure",
    "learning_rate_figure",
    "penalty_figure",
    "trace_figure",
    "write_gif",
]

#: Marker of each class (cycled beyond).
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "h", "<")
#: Points per side of the grid on which the probabilities are evaluated.
_GRID = 160
#: Most points drawn in a panel (a fixed random subset beyond): the regions stay visible.
_MAX_POINTS = 2000
#: Resolution of the PNGs (frames become the GIF: kept modest).
_DPI = 80
#: Line styles of the two solvers in the curves.
_GD_STYLE = {"color": "black", "linestyle": "-", "label": "GD (full batch)"}
_SGD_STYLE = {"color": "0.45", "linestyle": "--", "label": "SGD (per example)"}


class View:
    """What every region panel shares: the points, the names, the grid and the styles.

    Parameters
    ----------
    X : ndarray of shape (n_samples, 2)
    y : ndarray of shape (n_samples,)
        Class indices.
    feature_names : sequence of str of shape (2,)
    class_names : sequence of str of shape (n_classes,)
    """

    def __init__(self, X, y, feature_names, class_names):
        from matplotlib import colormaps

        self.n_samples = len(X)
        if len(X) > _MAX_POINTS:
            keep = np.sort(np.random.default_rng(0).choice(len(X), _MAX_POINTS, replace=False))
            X, y = X[keep], y[keep]
        self.X, self.y = X, y
        self.feature_names = feature_names
        self.class_names = class_names
        c = len(class_names)
        self.colours = colormaps["viridis"](np.linspace(0.0, 0.92, c))[:, :3]
        low, high = X.min(axis=0), X.max(axis=0)
        pad = 0.08 * np.maximum(high - low, 1e-9)
        self.extent = (low[0] - pad[0], high[0] + pad[0], low[1] - pad[1], high[1] + pad[1])
        gx = np.linspace(self.extent[0], self.extent[1], _GRID)
        gy = np.linspace(self.extent[2], self.extent[3], _GRID)
        self.gx, self.gy = np.meshgrid(gx, gy)
        self.grid = np.column_stack([self.gx.ravel(), self.gy.ravel()])

    def regions(self, ax, coef, intercept, title):
        """Shade the predicted class (stronger where it is surer), draw boundaries and points."""
        c = len(self.class_names)
        P = softmax(raw_prediction(self.grid, coef, intercept)).reshape(_GRID, _GRID, c)
        winner = P.argmax(axis=2)
        top = P.max(axis=2)
        sure = np.clip((top - 1.0 / c) / (1.0 - 1.0 / c), 0.0, 1.0)
        strength = (0.55 * np.sqrt(sure))[:, :, None]  # white where every p_i = 1/c
        image = (1.0 - strength) + strength * self.colours[winner]
        ax.imshow(image, origin="lower", extent=self.extent, aspect="auto", interpolation="nearest")
        for k in range(c):
            others = np.delete(P, k, axis=2).max(axis=2)
            margin = P[:, :, k] - others
            if margin.min() < 0.0 < margin.max():
                ax.contour(self.gx, self.gy, margin, levels=[0.0], colors="black", linewidths=1.2)
        for k, name in enumerate(self.class_names):
            rows = self.y == k
            ax.scatter(
                self.X[rows, 0],
                self.X[rows, 1],
                s=22,
                marker=_MARKERS[k % len(_MARKERS)],
                color=self.colours[k],
                edgecolors="black",
                linewidths=0.6,
                label=f"class {name}",
            )
        ax.set_xlim(self.extent[:2])
        ax.set_ylim(self.extent[2:])
        ax.set_xlabel(self.feature_names[0])
        ax.set_ylabel(self.feature_names[1])
        ax.set_title(title, fontsize=10)

    def class_legend(self, figure, ax, where="upper"):
        """One legend of the classes for the whole figure, above (or below) the panels."""
        handles, labels = ax.get_legend_handles_labels()
        drawn = ""
        if len(self.X) < self.n_samples:
            drawn = f" ({len(self.X):,} of the {self.n_samples:,} points drawn)"
        figure.legend(
            handles,
            labels,
            loc=f"outside {where} center",
            ncols=min(len(labels), 6),
            title="points: true class; shading: predicted class, stronger colour = surer; "
            f"black line: decision boundary{drawn}",
            fontsize=9,
            title_fontsize=9,
        )


def frame_figure(view, gd, sgd, k, path):
    """GD (left) and SGD (right) at iteration (epoch) ``k``, curves below; write a PNG.

    Parameters
    ----------
    view : View
    gd, sgd : Run
        From :func:`softmax_classifier.teach._lesson.fit_run`.
    k : int
    path : path-like

    Returns
    -------
    pathlib.Path
    """
    figure = _new_figure((11.0, 8.2))
    grid = figure.add_gridspec(2, 2, height_ratios=(3.0, 1.5))
    n = view.n_samples
    for column, run in enumerate((gd, sgd)):
        shown = max(i for i in run.frames if i <= k)
        coef, intercept = run.frames[shown]
        if shown == 0:
            what = f"{run.solver.upper()}: zero start, every $p_i$ = 1/{len(view.class_names)}"
        elif run.solver == "gd":
            what = f"GD (note 003), iteration {shown}"
        else:
            what = f"SGD (note 004, 1 example a step), epoch {shown} = {shown * n:,} steps"
        title = f"{what}\nloss {run.objective[shown]:.4g}, step $\\gamma$ = {run.learning_rate:.3g}"
        if shown < k and run.stop_reason == "max_iter":
            title += f" (all {run.n_iter} epochs of the run: big data)"
        elif shown < k:
            title += f"\n(stopped after {run.n_iter}: {run.stop_reason})"
        view.regions(figure.add_subplot(grid[0, column]), coef, intercept, title)
    view.class_legend(figure, figure.axes[0])
    loss_ax = figure.add_subplot(grid[1, 0])
    norm_ax = figure.add_subplot(grid[1, 1])
    for run, style, marker in ((gd, _GD_STYLE, "o"), (sgd, _SGD_STYLE, "s")):
        steps = np.arange(run.n_iter + 1)
        shown = min(k, run.n_iter)
        for ax, values in ((loss_ax, run.objective), (norm_ax, run.grad_norm)):
            ax.plot(steps, values, **style)
            ax.plot(
                [shown], [values[shown]], marker=marker, markersize=8, color=style["color"],
                markeredgecolor="black", linestyle="none",
            )  # fmt: skip
    loss_ax.set_ylabel("loss $L(W, b)$")
    loss_ax.set_title(f"objective; marker: iteration (epoch) {k}", fontsize=10)
    norm_ax.set_yscale("log")
    norm_ax.set_ylabel("max |gradient| (log scale)")
    norm_ax.set_title("largest gradient entry", fontsize=10)
    for ax in (loss_ax, norm_ax):
        # Linear up to 1, logarithmic beyond: the early iterations, where most happens, show.
        ax.set_xscale("symlog", linthresh=1.0, linscale=0.5)
        ax.set_xlim(0.0, max(gd.n_iter, sgd.n_iter, 1) * 1.05)
        ax.set_xlabel("iteration (GD) / epoch (SGD), log scale beyond 1")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    return _save(figure, path)


def learning_rate_figure(view, runs, lam, path):
    """Regions after each run of the learning-rate grid, its loss curve below; write a PNG.

    Parameters
    ----------
    view : View
    runs : sequence of (str, Run)
        ``(label, run)``: ``"too small"``, ``"right"``, ... with the GD run.
    lam : float
        The Lipschitz constant the steps are measured in.
    path : path-like

    Returns
    -------
    pathlib.Path
    """
    figure = _new_figure((4.0 * len(runs), 7.4))
    grid = figure.add_gridspec(2, len(runs), height_ratios=(3.0, 1.8))
    for column, (label, run) in enumerate(runs):
        title = (
            f"{label}: $\\gamma$ = {run.learning_rate * lam:.3g}/$\\lambda$ = "
            f"{run.learning_rate:.3g}\nGD, {run.n_iter} iterations: {describe(run)}"
        )
        coef, intercept = run.final
        view.regions(figure.add_subplot(grid[0, column]), coef, intercept, title)
        ax = figure.add_subplot(grid[1, column])
        finite = np.isfinite(run.objective)
        steps = np.arange(len(run.objective))
        ax.plot(steps[finite], run.objective[finite], color="black")
        ax.axhline(run.objective[0], color="0.5", linestyle=":", label="loss at the start")
        ax.set_xlabel("iteration")
        ax.set_ylabel("loss")
        if run.objective[finite].max() > 20 * max(run.objective[finite].min(), 1e-12):
            ax.set_yscale("log")
            ax.set_ylabel("loss (log scale)")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    view.class_legend(figure, figure.axes[0], "lower")
    figure.suptitle(
        f"Learning rate of gradient descent ($\\lambda$ = {lam:.3g}: Lipschitz constant "
        "of the gradient, docs/math.md section 7)",
        fontsize=11,
    )
    return _save(figure, path)


def describe(run):
    """One honest phrase on how a run's loss behaved."""
    values = run.objective
    if run.stop_reason == "non_finite":
        return f"loss became NaN/inf at iteration {run.n_iter + 1}: stopped (non_finite)"
    first, last = values[0], values[-1]
    # Rises below the objective's rounding (a flat optimum) are not counted.
    rises = int(np.sum(np.diff(values) > 1e-12 * np.abs(values[:-1])))
    if rises == 0:
        return f"loss fell at every step,\n{first:.3g} -> {last:.4g}"
    ends = "ends ABOVE the start" if last > first else "ends below the start"
    return f"loss rose at {rises} of {run.n_iter} steps,\n{first:.3g} -> {last:.4g}: {ends}"


def penalty_figure(view, runs, path):
    """Regions fitted with each L2 penalty ``alpha``; write a PNG.

    Parameters
    ----------
    view : View
    runs : sequence of Run
        GD runs that captured their last iteration.
    path : path-like

    Returns
    -------
    pathlib.Path
    """
    figure = _new_figure((4.0 * len(runs), 5.4))
    for column, run in enumerate(runs):
        coef, intercept = run.final
        norm = float(np.sqrt(np.sum(coef * coef)))
        title = (
            f"$\\alpha$ = {run.alpha:g}: $\\|W\\|_F$ = {norm:.3g}\n"
            f"GD, {run.n_iter} iterations, objective {run.objective[-1]:.3g}"
        )
        if run.stop_reason == "line_search_failed":  # a fixed step stops when W stops moving
            title += "\n(stopped: the step no longer changes W, b)"
        view.regions(figure.add_subplot(1, len(runs), column + 1), coef, intercept, title)
    view.class_legend(figure, figure.axes[0], "lower")
    figure.suptitle(
        "L2 penalty $\\frac{\\alpha}{2}\\|W\\|_F^2$: larger $\\alpha$, smaller weights, "
        "probabilities nearer uniform (paler shading)",
        fontsize=11,
    )
    return _save(figure, path)


def trace_figure(trace, class_names, index, path):
    """Bars of the traced example's logits and probabilities before and after the step.

    Parameters
    ----------
    trace : dict
        From :func:`softmax_classifier.teach._trace.trace_example`.
    class_names : sequence of str of shape (n_classes,)
    index : int
        The example's row.
    path : path-like

    Returns
    -------
    pathlib.Path
    """
    figure = _new_figure((10.0, 3.8))
    c = len(class_names)
    positions = np.arange(c)
    left = figure.add_subplot(1, 2, 1)
    right = figure.add_subplot(1, 2, 2)
    panels = (
        (
            left,
            (("a", "$a = Wx + b$ (before)", "0.75", ""), ("a_new", "$a'$ (after)", "0.3", "//")),
        ),
        (
            right,
            (
                ("p", "$p$ = softmax($a$)", "0.75", ""),
                ("onehot", "$e_y$ (target)", "white", "xx"),
                ("p_new", "$p'$ (after)", "0.3", "//"),
            ),
        ),
    )
    for ax, bars in panels:
        width = 0.8 / len(bars)
        for j, (key, label, colour, hatch) in enumerate(bars):
            ax.bar(
                positions + (j - (len(bars) - 1) / 2) * width, trace[key], width, label=label,
                color=colour, edgecolor="black", hatch=hatch,
            )  # fmt: skip
        ax.set_xticks(positions, [f"class {name}" for name in class_names])
        ax.axhline(0.0, color="black", linewidth=0.8)
        ax.legend(fontsize=8)
        ax.grid(axis="y", alpha=0.3)
    left.set_ylabel("logit")
    left.set_title("logits before and after one step", fontsize=10)
    right.set_ylabel("probability")
    right.set_ylim(0.0, 1.05)
    right.set_title(
        f"CE {trace['ce']:.4g} -> {trace['ce_new']:.4g} (true class {class_names[trace['y']]})",
        fontsize=10,
    )
    figure.suptitle(f"Example {index} through one per-example step (trace.md)", fontsize=11)
    return _save(figure, path)


def write_gif(frames, path, *, duration_ms=1000):
    """Join PNG frames into one looping GIF (palette images, small).

    Parameters
    ----------
    frames : sequence of path-like
    path : path-like
    duration_ms : int, default=1000
        Time per frame; the last is shown three times as long.

    Returns
    -------
    pathlib.Path
    """
    from PIL import Image

    images = []
    for frame in frames:
        with Image.open(frame) as image:
            images.append(image.convert("RGB").quantize(colors=128, dither=Image.Dither.NONE))
    durations = [duration_ms] * (len(images) - 1) + [3 * duration_ms]
    path = Path(path)
    with atomic_write(path, "wb") as file:
        images[0].save(
            file, format="GIF", save_all=True, append_images=images[1:], duration=durations, loop=0
        )
    return path


def _new_figure(size):
    from matplotlib.figure import Figure

    return Figure(figsize=size, layout="constrained")


def _save(figure, path):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, "wb") as file:
        figure.savefig(file, dpi=_DPI, format="png")
    return path
