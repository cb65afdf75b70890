"""softmax-classifier: the softmax classifier (multinomial logistic regression), done properly.

Public pieces:

- :class:`SoftmaxClassifier`, the scikit-learn estimator, and :func:`load` for
  the model files its ``save`` writes;
- :mod:`softmax_classifier.math`, every formula of the derivation as a function;
- :mod:`softmax_classifier.solvers`, the optimisers behind ``solver=...``;
- :func:`path`, the regularisation path of the sparse penalties.

The names are imported on first use (PEP 562), so that ``softmax --help`` and
the command's Ctrl-C handling start before NumPy and scikit-learn load.
"""

import importlib

from softmax_classifier._version import __version__

__all__ = ["FitReport", "SoftmaxClassifier", "__version__", "load", "math", "path"]

_LAZY = {
    "FitReport": "softmax_classifier.estimator",
    "SoftmaxClassifier": "softmax_classifier.estimator",
    "load": "softmax_classifier.estimator",
    "math": None,  # the submodule itself
    "path": "softmax_classifier.regularization_path",
}


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'softmax_classifier' has no attribute {name!r}")
    module = _LAZY[name]
    value = (
        importlib.import_module(f"softmax_classifier.{name}")
        if module is None
        else getattr(importlib.import_module(module), name)
    )
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
