"""softmax-classifier: the softmax classifier (multinomial logistic regression), done properly.

Public pieces:

- :class:`SoftmaxClassifier`, the scikit-learn estimator, and :func:`load` for
  the model files its ``save`` writes;
- :mod:`softmax_classifier.math`, every formula of the derivation as a function;
- :mod:`softmax_classifier.solvers`, the optimisers behind ``solver=...``.
"""

from softmax_classifier import math
from softmax_classifier._version import __version__
from softmax_classifier.estimator import FitReport, SoftmaxClassifier, load

__all__ = ["FitReport", "SoftmaxClassifier", "__version__", "load", "math"]
