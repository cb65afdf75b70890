"""Figures of a fit: the objective's history, a confusion matrix, the weights as images,
a reliability diagram.

Every function takes plain arrays (nothing from the rest of the package), draws on a
:class:`matplotlib.figure.Figure` of its own, writes it to ``path`` and returns that path as
a :class:`pathlib.Path`. The format follows the suffix of ``path`` (``.png``, ``.svg``,
``.pdf``, ...) and is PNG when there is none; missing parent folders are created.

``matplotlib.pyplot`` is never imported: no global figure list, no GUI backend, nothing to
close afterwards, so the functions work headless and may run in several threads at once
(each figure is private to its call). Matplotlib itself is imported on the first plot, so
importing this module (for :func:`parse_image_shape`, say) costs nothing.

Shapes
------
``objective_history (n_points,)``, ``matrix (n_classes, n_classes)`` (rows are the true
class, columns the predicted one), ``coef (n_classes, n_features)`` with
``n_features == height * width``, ``labels (n_classes,)``; ``weight``, ``accuracy`` and
``confidence (n_bins,)`` for the reliability diagram.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from os import PathLike

    from matplotlib.figure import Figure

__all__ = [
    "parse_image_shape",
    "plot_confusion_matrix",
    "plot_loss_curve",
    "plot_reliability",
    "plot_weights",
]

#: Colour map of the weight images: blue negative, white zero, red positive.
_WEIGHTS_CMAP = "RdBu_r"
#: Colour map of the confusion matrix.
_CONFUSION_CMAP = "Blues"
#: Classes up to which the confusion matrix gets a number in each cell.
_MAX_ANNOTATED_CLASSES = 30
#: Most classes drawn in a confusion matrix: beyond, the most confused ones only, so that
#: the figure (and its memory) does not grow with the square of the classes.
_MAX_SHOWN_CLASSES = 30
#: Most panels of the weights figure: beyond, the first classes only.
_MAX_WEIGHT_PANELS = 100
#: Panels per row of the weights grid.
_MAX_WEIGHT_COLUMNS = 10
#: The log-scale panel of the loss curve appears when values span more than this ratio.
_LOG_PANEL_SPAN = 100.0

_IMAGE_SHAPE_RE = re.compile(r"^\s*(\d+)\s*[xX,]\s*(\d+)\s*$")


def parse_image_shape(text: str) -> tuple[int, int]:
    """Read an image shape written as ``"HEIGHTxWIDTH"`` (or ``"HEIGHT,WIDTH"``).

    Parameters
    ----------
    text : str
        Two positive integers separated by ``x``, ``X`` or ``,``; spaces are allowed.

    Returns
    -------
    image_shape : tuple of (int, int)
        ``(height, width)``.

    Raises
    ------
    ValueError
        If ``text`` is not of that form or a side is zero.

    Examples
    --------
    >>> parse_image_shape("28x28")
    (28, 28)
    >>> parse_image_shape(" 32, 16 ")
    (32, 16)
    >>> parse_image_shape("28")
    Traceback (most recent call last):
        ...
    ValueError: image shape must look like 28x28, got '28'
    """
    match = _IMAGE_SHAPE_RE.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"image shape must look like 28x28, got {text!r}")
    height, width = int(match.group(1)), int(match.group(2))
    if height == 0 or width == 0:
        raise ValueError(f"image shape must look like 28x28 (sides > 0), got {text!r}")
    return height, width


def plot_loss_curve(
    objective_history: Sequence[float],
    path: str | PathLike[str],
    *,
    title: str = "Training objective",
    xlabel: str = "iteration",
    dpi: float = 100,
) -> Path:
    """Plot the objective against the iteration (or epoch) and write the figure.

    The top panel shows the objective on a linear scale. A second panel, below it, shows
    the gap to the best value, ``f - min(f)``, on a log scale (zero gaps are left out),
    whenever the gaps or the values themselves span more than two orders of magnitude:
    that is where a linear axis hides the convergence.

    Parameters
    ----------
    objective_history : sequence of float of shape (n_points,)
        Objective at the start point and after each iteration; point ``i`` is drawn at
        ``x = i``. A single value gives a single point. NaN and infinite values are
        dropped (keeping the iteration numbers of the others) and their count is added to
        the title.
    path : str or path-like
        Where to write the figure.
    title : str, default="Training objective"
    xlabel : str, default="iteration"
        Name of the x axis ("epoch" for stochastic solvers, say).
    dpi : float, default=100
        Resolution of the written image.

    Returns
    -------
    path : pathlib.Path
        ``path``, as written.

    Raises
    ------
    ValueError
        If ``objective_history`` is empty or not one-dimensional.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     out = plot_loss_curve([2.3, 0.9, 0.5, 0.45], pathlib.Path(tmp) / "loss.png")
    ...     out.name, out.read_bytes()[:4]
    ('loss.png', b'\\x89PNG')
    """
    return _save(_loss_curve_figure(objective_history, title=title, xlabel=xlabel), path, dpi)


def plot_confusion_matrix(
    matrix,
    labels: Sequence[str],
    path: str | PathLike[str],
    *,
    title: str = "Confusion matrix",
    normalize: bool = False,
    dpi: float = 100,
) -> Path:
    """Draw a confusion matrix as a heat map with a colour bar and write the figure.

    Each cell carries its number, in black or white, whichever reads better on the cell's
    colour; x tick labels turn when they would not fit, and the accuracy (trace over total,
    of the whole matrix) is added under the title. Beyond 30 classes only the 30 most
    confused ones are drawn (largest off-diagonal row plus column sums, in their original
    order) and the title says so: the figure's size and memory stay bounded whatever the
    number of classes (a 1,000-class matrix drawn whole needed gigabytes).

    Parameters
    ----------
    matrix : array-like of shape (n_classes, n_classes)
        Counts (or summed sample weights); ``matrix[i, j]`` is the number of samples of
        true class ``i`` predicted as class ``j``. Must be finite and non-negative.
    labels : sequence of str of shape (n_classes,)
        Class names, in the order of the rows; non-strings are shown through ``str``.
    path : str or path-like
        Where to write the figure.
    title : str, default="Confusion matrix"
    normalize : bool, default=False
        Divide each row by its sum, so that a cell is the fraction of the true class
        predicted as that column (rows without samples stay 0).
    dpi : float, default=100
        Resolution of the written image.

    Returns
    -------
    path : pathlib.Path
        ``path``, as written.

    Raises
    ------
    ValueError
        If ``matrix`` is not square, is empty, has negative or non-finite entries, or if
        ``labels`` does not have one name per class.
    """
    figure = _confusion_matrix_figure(matrix, labels, title=title, normalize=normalize)
    return _save(figure, path, dpi)


def plot_weights(
    coef,
    image_shape: tuple[int, int] | str,
    labels: Sequence[str],
    path: str | PathLike[str],
    *,
    title: str = "Weights per class",
    dpi: float = 100,
) -> Path:
    """Show each class's weight vector as an image and write the figure.

    One panel per class, ten to a row, titled with the class label. The colour map is
    diverging (``RdBu_r``: blue negative, white zero, red positive) and symmetric around
    zero *per class*: each panel's colour range is ``[-max|w|, max|w|]`` of its own row,
    so the shared colour bar reads ``w / max|w|``.

    Parameters
    ----------
    coef : array-like of shape (n_classes, n_features)
        Weights, one row per class, each a flattened image in row-major (C) order, as
        ``image.reshape(-1)`` makes them; ``n_features == height * width``.
    image_shape : tuple of (int, int) or str
        ``(height, width)``, or a string such as ``"28x28"`` (see
        :func:`parse_image_shape`).
    labels : sequence of str of shape (n_classes,)
        Class names; non-strings are shown through ``str``.
    path : str or path-like
        Where to write the figure.
    title : str, default="Weights per class"
    dpi : float, default=100
        Resolution of the written image.

    Returns
    -------
    path : pathlib.Path
        ``path``, as written.

    Raises
    ------
    ValueError
        If ``coef`` is not two-dimensional, if ``n_features != height * width``, or if
        ``labels`` does not have one name per class.
    """
    return _save(_weights_figure(coef, image_shape, labels, title=title), path, dpi)


def plot_reliability(
    weight,
    accuracy,
    confidence,
    path: str | PathLike[str],
    *,
    ece: float | None = None,
    mce: float | None = None,
    title: str = "Reliability diagram",
    dpi: float = 100,
) -> Path:
    """Draw accuracy against confidence per bin, with the bins' counts, and write the figure.

    The top panel has one bar per bin of confidence (the top probability), as high as
    the bin's accuracy, the gap to the bin's mean confidence hatched in red, and the
    diagonal of a perfectly calibrated model; the bottom panel, on the same axis, is the
    histogram of the rows (or summed weights) per bin. ECE and MCE go into the title.

    Parameters
    ----------
    weight : array-like of shape (n_bins,)
        Rows (or summed sample weights) per bin; bins are the equal-width intervals of
        ``[0, 1]``, ``n_bins`` of them.
    accuracy, confidence : array-like of shape (n_bins,)
        Each bin's share of correct predictions and mean top probability; None or NaN
        for an empty bin (as
        :meth:`softmax_classifier.evaluation.MetricsAccumulator.calibration_bins` gives
        them).
    path : str or path-like
        Where to write the figure.
    ece, mce : float, optional
        Expected and maximum calibration errors, shown in the title.
    title : str, default="Reliability diagram"
    dpi : float, default=100

    Returns
    -------
    path : pathlib.Path
        ``path``, as written.

    Raises
    ------
    ValueError
        If the three arrays do not have one value per bin, or ``weight`` has negative or
        non-finite entries.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     out = plot_reliability(
    ...         [0, 3, 5, 2], [None, 0.33, 0.6, 1.0], [None, 0.4, 0.62, 0.9],
    ...         pathlib.Path(tmp) / "reliability.png", ece=0.05, mce=0.1,
    ...     )
    ...     out.read_bytes()[:4]
    b'\\x89PNG'
    """
    figure = _reliability_figure(weight, accuracy, confidence, ece=ece, mce=mce, title=title)
    return _save(figure, path, dpi)


# --------------------------------------------------------------------------- figures


def _loss_curve_figure(objective_history, *, title: str, xlabel: str) -> Figure:
    from matplotlib.ticker import MaxNLocator

    values = np.atleast_1d(np.asarray(objective_history, dtype=np.float64))
    if values.ndim != 1:
        raise ValueError(f"objective_history must be one-dimensional, got shape {values.shape}")
    if values.size == 0:
        raise ValueError("objective_history is empty: there is nothing to plot")
    finite = np.isfinite(values)
    iterations = np.flatnonzero(finite)
    values = values[finite]
    n_dropped = int(np.count_nonzero(~finite))
    if n_dropped:
        plural = "s" if n_dropped > 1 else ""
        title = f"{title} ({n_dropped} non-finite value{plural} dropped)"

    gaps = values - values.min() if values.size else values
    positive_gaps = gaps[gaps > 0]
    show_gap = positive_gaps.size > 0 and (
        positive_gaps.max() > _LOG_PANEL_SPAN * positive_gaps.min()
        or (values.min() > 0 and values.max() > _LOG_PANEL_SPAN * values.min())
    )

    figure = _new_figure((6.4, 6.4) if show_gap else (6.4, 4.0))
    axes = figure.subplots(2 if show_gap else 1, 1, sharex=True, squeeze=False)[:, 0]
    marker = "o" if values.size <= 60 else None
    top = axes[0]
    top.set_title(title)
    top.set_ylabel("objective")
    top.grid(True, alpha=0.3)
    top.xaxis.set_major_locator(MaxNLocator(integer=True))
    if values.size == 0:
        top.text(
            0.5, 0.5, "no finite values to plot", ha="center", va="center",
            transform=top.transAxes,
        )  # fmt: skip
    else:
        top.plot(
            iterations, values, marker=marker, markersize=4,
            label=f"last {values[-1]:.6g} at {xlabel} {iterations[-1]}",
        )  # fmt: skip
        top.legend(loc="upper right")
        if values.size == 1:  # one point: an integer range around it, not +-0.05
            top.set_xlim(iterations[0] - 1, iterations[0] + 1)
    if show_gap:
        bottom = axes[1]
        keep = gaps > 0
        bottom.semilogy(iterations[keep], gaps[keep], marker=marker, markersize=4, color="C1")
        bottom.set_ylabel("objective - min (log scale)")
        bottom.grid(True, which="both", alpha=0.3)
    axes[-1].set_xlabel(xlabel)
    return figure


def _confusion_matrix_figure(matrix, labels, *, title: str, normalize: bool) -> Figure:
    counts = np.asarray(matrix, dtype=np.float64)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1] or counts.shape[0] == 0:
        raise ValueError(
            f"matrix must be square of shape (n_classes, n_classes), got shape {counts.shape}"
        )
    if not np.all(np.isfinite(counts)) or np.any(counts < 0):
        raise ValueError("matrix must hold finite, non-negative counts")
    names = _label_names(labels, counts.shape[0])

    total = counts.sum()
    if total > 0:
        title = f"{title}\naccuracy {np.trace(counts) / total:.4g}"
    if counts.shape[0] > _MAX_SHOWN_CLASSES:
        kept = _most_confused(counts, _MAX_SHOWN_CLASSES)
        title = f"{title}, the {kept.size} most confused of {counts.shape[0]} classes"
        counts = counts[np.ix_(kept, kept)]
        names = [names[k] for k in kept]
    n_classes = counts.shape[0]
    if normalize:
        row_sums = counts.sum(axis=1, keepdims=True)
        shown = np.divide(counts, row_sums, out=np.zeros_like(counts), where=row_sums > 0)
        vmax, bar_label = 1.0, "fraction of the true class"
    else:
        shown = counts
        vmax, bar_label = (counts.max() if counts.max() > 0 else 1.0), "count"

    # Cell size shrinks from 0.6 in (few classes) to 0.18 in (100+ classes), but stays wide
    # enough for its number to be written at 7 pt or more.
    cell = min(0.6, max(0.18, 6.0 / n_classes))
    annotate = n_classes <= _MAX_ANNOTATED_CLASSES
    if annotate:
        integral = not normalize and bool(np.all(counts == np.round(counts)))
        cells = [
            [_format_cell(value, normalize=normalize, integral=integral) for value in row]
            for row in shown
        ]
        text_width = 0.62 * max(len(text) for row in cells for text in row) + 0.6  # in em
        cell = max(cell, 7.0 * text_width / 72)
        number_size = min(10.0, cell * 72 / text_width)
    longest = max(len(name) for name in names)
    tick_size = min(10.0, max(5.0, 0.7 * cell * 72))
    label_room = 0.6 * tick_size / 72 * longest  # inches taken by the longest tick label
    rotation = 0 if label_room < 0.9 * cell else (45 if n_classes <= _MAX_ANNOTATED_CLASSES else 90)
    x_room = label_room * (0.0 if rotation == 0 else 0.8 if rotation == 45 else 1.0)
    width = n_classes * cell + min(label_room, 3.0) + 2.0
    height = n_classes * cell + min(x_room, 3.0) + 1.4
    figure = _new_figure((max(width, 5.0), max(height, 4.0)))
    ax = figure.subplots()
    image = ax.imshow(shown, cmap=_CONFUSION_CMAP, vmin=0.0, vmax=vmax, interpolation="nearest")
    figure.colorbar(image, ax=ax, label=bar_label, shrink=min(0.9, max(0.6, 8 / n_classes)))
    ticks = np.arange(n_classes)
    ax.set_xticks(ticks, names, fontsize=tick_size)
    ax.set_yticks(ticks, names, fontsize=tick_size)
    if rotation:
        ax.tick_params(axis="x", labelrotation=rotation)
        for text in ax.get_xticklabels():
            text.set_horizontalalignment("right" if rotation == 45 else "center")
            text.set_rotation_mode("anchor" if rotation == 45 else "default")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)

    if annotate:
        colours = image.cmap(image.norm(shown))
        luminance = colours[..., :3] @ np.array([0.299, 0.587, 0.114])
        for i in range(n_classes):
            for j in range(n_classes):
                ax.text(
                    j, i, cells[i][j], ha="center", va="center", fontsize=number_size,
                    color="white" if luminance[i, j] < 0.5 else "black",
                )  # fmt: skip
    return figure


def _weights_figure(coef, image_shape, labels, *, title: str) -> Figure:
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    weights = np.asarray(coef, dtype=np.float64)
    if weights.ndim != 2:
        raise ValueError(
            f"coef must be of shape (n_classes, n_features), got shape {weights.shape}"
        )
    shape = _image_shape(image_shape)
    n_classes, n_features = weights.shape
    if n_features != shape[0] * shape[1]:
        raise ValueError(
            f"coef has {n_features} features per class but image_shape {shape[0]}x{shape[1]} "
            f"holds {shape[0] * shape[1]} pixels; pass the shape of the input images"
        )
    names = _label_names(labels, n_classes)
    if n_classes == 0:
        raise ValueError("coef has no classes: there is nothing to plot")
    if n_classes > _MAX_WEIGHT_PANELS:  # a bounded figure, whatever the number of classes
        title = f"{title} (the first {_MAX_WEIGHT_PANELS} of {n_classes} classes)"
        weights, names = weights[:_MAX_WEIGHT_PANELS], names[:_MAX_WEIGHT_PANELS]
        n_classes = _MAX_WEIGHT_PANELS

    n_cols = min(n_classes, _MAX_WEIGHT_COLUMNS)
    n_rows = math.ceil(n_classes / n_cols)
    panel_width = 1.4
    panel_height = panel_width * shape[0] / shape[1] + 0.3
    figure = _new_figure((n_cols * panel_width + 1.2, n_rows * panel_height + 0.6))
    axes = figure.subplots(n_rows, n_cols, squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if k >= n_classes:
            continue
        image = weights[k].reshape(shape)
        magnitude = np.abs(image[np.isfinite(image)])
        vmax = magnitude.max() if magnitude.size and magnitude.max() > 0 else 1.0
        ax.imshow(image, cmap=_WEIGHTS_CMAP, vmin=-vmax, vmax=vmax, interpolation="nearest")
        ax.set_title(names[k], fontsize=9)
    scale = ScalarMappable(norm=Normalize(-1.0, 1.0), cmap=_WEIGHTS_CMAP)
    figure.colorbar(
        scale, ax=axes, ticks=[-1, 0, 1], label="w / max|w| of the class",
        shrink=min(1.0, 0.6 + 0.2 * n_rows), aspect=20 * min(1.0, 0.4 + 0.3 * n_rows),
    )  # fmt: skip
    figure.suptitle(title)
    return figure


def _reliability_figure(weight, accuracy, confidence, *, ece, mce, title: str) -> Figure:
    counts = np.asarray(weight, dtype=np.float64)
    shares = np.asarray([np.nan if a is None else a for a in accuracy], dtype=np.float64)
    means = np.asarray([np.nan if c is None else c for c in confidence], dtype=np.float64)
    if counts.ndim != 1 or counts.size == 0 or not counts.shape == shares.shape == means.shape:
        raise ValueError(
            "weight, accuracy and confidence must have one value per bin, got shapes "
            f"{counts.shape}, {shares.shape} and {means.shape}"
        )
    if not np.all(np.isfinite(counts)) or np.any(counts < 0):
        raise ValueError("weight must hold finite, non-negative counts")
    filled = (counts > 0) & np.isfinite(shares) & np.isfinite(means)
    n_bins = counts.size
    width = 1.0 / n_bins
    centres = (np.arange(n_bins) + 0.5) * width
    notes = [
        f"{name} {value:.4f}" for name, value in (("ECE", ece), ("MCE", mce)) if value is not None
    ]
    notes.append(f"{counts.sum():.10g} rows in {n_bins} bins")
    figure = _new_figure((6.0, 6.4))
    top, bottom = figure.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    top.plot([0, 1], [0, 1], "--", color="0.3", zorder=3, label="perfectly calibrated")
    top.bar(
        centres[filled], shares[filled], width=width, color="C0", edgecolor="white",
        label="accuracy of the bin",
    )  # fmt: skip
    gap = means[filled] - shares[filled]
    top.bar(
        centres[filled], gap, bottom=shares[filled], width=width, color="C3", alpha=0.3,
        hatch="//", edgecolor="C3", label="gap to its mean confidence",
    )  # fmt: skip
    top.set(xlim=(0, 1), ylim=(0, 1), ylabel="accuracy")
    top.set_title(f"{title}\n{', '.join(notes)}")
    top.legend(loc="upper left", fontsize=8)
    top.grid(True, alpha=0.3)
    bottom.bar(centres, counts, width=width, color="C0", edgecolor="white")
    bottom.set(xlabel="confidence (top probability)", ylabel="rows")
    bottom.grid(True, alpha=0.3)
    return figure


# --------------------------------------------------------------------------- helpers


def _new_figure(size: tuple[float, float]) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=size, layout="constrained")


def _save(figure: Figure, path, dpi: float) -> Path:
    from softmax_classifier._atomic import atomic_write

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Atomic: the old figure or the new one, never half a file; links and devices refused.
    # An explicit format: without a suffix matplotlib would append ".png" to the name.
    with atomic_write(path, "wb") as file:
        figure.savefig(file, dpi=dpi, format=path.suffix[1:].lower() or "png")
    return path


def _most_confused(counts, limit: int):
    """Indices (sorted) of the ``limit`` classes with the most off-diagonal counts."""
    off = counts - np.diag(np.diag(counts))
    score = off.sum(axis=0) + off.sum(axis=1)
    order = np.argsort(-score, kind="stable")[:limit]
    return np.sort(order)


def _label_names(labels, n_classes: int) -> list[str]:
    names = [str(label) for label in labels]
    if len(names) != n_classes:
        raise ValueError(f"labels must name each of the {n_classes} classes, got {len(names)}")
    return names


def _image_shape(image_shape) -> tuple[int, int]:
    if isinstance(image_shape, str):
        return parse_image_shape(image_shape)
    shape = tuple(int(side) for side in image_shape)
    if len(shape) != 2 or min(shape) <= 0:
        raise ValueError(f"image_shape must be (height, width) > 0, got {image_shape!r}")
    return shape


def _format_cell(value: float, *, normalize: bool, integral: bool) -> str:
    if normalize:
        return f"{value:.2f}"
    if value == 0:
        return "0"
    return f"{int(value)}" if integral else f"{value:.3g}"
