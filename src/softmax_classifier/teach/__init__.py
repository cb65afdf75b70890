"""See it learn: the derivation of ``docs/math.md`` at work on two-dimensional data.

Decision regions of the library's own gradient descent (note ``003``) and per-example SGD
(note ``004``) at chosen iterations, one training example traced through the formulas with
its numbers, and the effect of the learning rate and of the L2 penalty, written as PNGs, a
GIF and a Markdown page by :func:`write_lesson` (the command ``softmax learn``).

Shapes: ``X (n_samples, 2)`` float64, ``y (n_samples,)`` labels.
"""

from __future__ import annotations

from softmax_classifier.teach._data import TOY_NAMES, read_points, toy_data
from softmax_classifier.teach._lesson import write_lesson

__all__ = ["TOY_NAMES", "read_points", "toy_data", "write_lesson"]
