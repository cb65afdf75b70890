"""Two-dimensional data for the lesson: the built-in toy sets and the user's CSV.

Shapes: ``X (n_samples, 2)`` float64, ``y (n_samples,)`` labels.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

__all__ = ["TOY_NAMES", "read_points", "toy_data"]

#: The built-in sets, in the order the command lists them.
TOY_NAMES = ("blobs", "moons", "xor")


def toy_data(name, n_samples=300, seed=0):
    """A built-in two-dimensional classification set, on a scale near 1.

    The features are used raw (no standardisation), so every set is centred near
    the origin with coordinates of order 1 to 3.

    Parameters
    ----------
    name : {"blobs", "moons", "xor"}
        ``"blobs"``: three Gaussian clusters, almost linearly separable (3 classes);
        ``"moons"``: two interleaving half circles (2 classes);
        ``"xor"``: four clusters at the quadrants, labelled by the sign of
        ``x1 * x2`` (2 classes): no line separates them, so a linear model fails.
    n_samples : int, default=300
        Rows (at least one per class).
    seed : int, default=0
        Seeds the noise.

    Returns
    -------
    X : ndarray of shape (n_samples, 2), float64
    y : ndarray of shape (n_samples,), int
        Class indices ``0 .. n_classes - 1``.

    Raises
    ------
    ValueError
        For an unknown ``name`` or too few samples.
    """
    if name not in TOY_NAMES:
        raise ValueError(f"unknown toy set {name!r}; choose from {', '.join(TOY_NAMES)}")
    n_samples = int(n_samples)
    n_min = {"blobs": 3, "moons": 2, "xor": 4}[name]
    if n_samples < n_min:
        raise ValueError(f"toy set {name!r} needs n_samples >= {n_min}, got {n_samples}")
    rng = np.random.default_rng(seed)
    if name == "blobs":
        centres = np.array([[-2.0, -1.0], [2.0, -1.0], [0.0, 2.0]])
        y = np.arange(n_samples) % 3
        X = centres[y] + rng.normal(scale=0.8, size=(n_samples, 2))
    elif name == "moons":
        y = np.arange(n_samples) % 2
        angle = rng.uniform(0.0, math.pi, size=n_samples)
        upper = np.column_stack([np.cos(angle), np.sin(angle)])
        lower = np.column_stack([1.0 - np.cos(angle), 0.5 - np.sin(angle)])
        X = np.where(y[:, None] == 0, upper, lower) - np.array([0.5, 0.25])
        X = 1.5 * X + rng.normal(scale=0.15, size=(n_samples, 2))
    else:
        signs = np.array([[1.0, 1.0], [-1.0, -1.0], [-1.0, 1.0], [1.0, -1.0]])
        quadrant = np.arange(n_samples) % 4
        X = 1.5 * signs[quadrant] + rng.normal(scale=0.5, size=(n_samples, 2))
        # Labelled by the sign of the product of the point itself: the XOR of the signs.
        y = (X[:, 0] * X[:, 1] < 0).astype(int)
    return X.astype(np.float64), y.astype(int)


def read_points(path, target):
    """Read a CSV of two numeric feature columns and a label column.

    Parameters
    ----------
    path : str or path-like
        A CSV file with a header row.
    target : str
        The name of the label column; the two other columns are the features.

    Returns
    -------
    X : ndarray of shape (n_samples, 2), float64
    y : ndarray of shape (n_samples,)
        The labels: int when every label is an integer, otherwise str.
    feature_names : tuple of (str, str)
        The feature columns' names, in file order.

    Raises
    ------
    ValueError
        With one line naming the problem: a missing or unreadable file, no column
        named ``target``, not exactly two other columns, a non-numeric, missing or
        NaN feature value (with its row number, the header being row 1), a missing
        label, fewer than two rows or fewer than two classes.
    """
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8") as file:
            rows = list(csv.reader(file))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        reason = getattr(error, "strerror", None) or type(error).__name__
        raise ValueError(f"cannot read {str(path)!r}: {reason}") from None
    if not rows:
        raise ValueError(f"{str(path)!r} is empty: expected a header and rows")
    header = [name.strip() for name in rows[0]]
    if target not in header:
        raise ValueError(f"{str(path)!r} has no column named {target!r} (columns: {header})")
    features = [i for i, name in enumerate(header) if name != target]
    if len(features) != 2 or header.count(target) != 1:
        raise ValueError(
            f"{str(path)!r} needs exactly two feature columns besides {target!r}, "
            f"got {len(features)}: {[header[i] for i in features]}"
        )
    label_at = header.index(target)
    # (1-based row number in the file, the header being row 1; the row), blank lines skipped
    body = [(k + 2, row) for k, row in enumerate(rows[1:]) if any(c.strip() for c in row)]
    if len(body) < 2:
        raise ValueError(f"{str(path)!r} needs at least 2 rows of data, got {len(body)}")
    X = np.empty((len(body), 2))
    labels = []
    for k, (line, row) in enumerate(body):
        if len(row) != len(header):
            raise ValueError(
                f"row {line} of {str(path)!r} has {len(row)} fields, the header {len(header)}"
            )
        for j, column in enumerate(features):
            X[k, j] = _number(row[column], line, header[column], path)
        label = row[label_at].strip()
        if not label:
            raise ValueError(f"row {line} of {str(path)!r} has no label in column {target!r}")
        labels.append(label)
    y = _labels(labels)
    if len(np.unique(y)) < 2:
        raise ValueError(
            f"{str(path)!r} has a single class ({labels[0]!r}) in column {target!r}: "
            "a classifier needs at least two"
        )
    return X, y, (header[features[0]], header[features[1]])


def _number(text, line, column, path):
    """One feature value as a finite float, or a one-line ValueError naming where."""
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not math.isfinite(value):
        shown = text.strip() or "(empty)"
        raise ValueError(
            f"row {line} of {str(path)!r}: column {column!r} needs a finite number, got {shown!r}"
        )
    return value


def _labels(labels):
    """Labels as ints when they all are integers, otherwise as strings: (n_samples,)."""
    try:
        return np.array([int(label) for label in labels])
    except ValueError:
        return np.array(labels, dtype=str)
