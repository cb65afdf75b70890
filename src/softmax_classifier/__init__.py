"""softmax-classifier: the softmax classifier (multinomial logistic regression), done properly.

Public pieces:

- :class:`SoftmaxClassifier`, the scikit-learn estimator;
- :mod:`softmax_classifier.math`, every formula of the derivation as a function;
- :mod:`softmax_classifier.solvers`, the optimisers behind ``solver=...``.
"""

from softmax_classifier import math
from softmax_classifier.estimator import FitReport, SoftmaxClassifier

__version__ = "0.1.0"

__all__ = ["FitReport", "SoftmaxClassifier", "__version__", "math"]
