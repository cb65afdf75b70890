"""The estimator's parameter vocabulary, importable without NumPy or scikit-learn.

The command line's parser offers these choices before anything heavy is
imported (``softmax --help`` answers at once); the estimator validates against
the same names. ``tests/test_architecture.py`` checks that the solver names
here are exactly those of :data:`softmax_classifier.solvers.SOLVERS` plus
``"auto"``.
"""

#: Values of ``SoftmaxClassifier(solver=...)``: each full-batch and mini-batch
#: solver, and ``"auto"`` (chosen at fit time from the data's shape).
SOLVER_NAMES = ("lbfgs", "newton-cg", "gd", "sgd", "adam", "prox-newton", "auto")

#: The solvers that walk mini-batches (and so offer ``partial_fit``).
STOCHASTIC_SOLVER_NAMES = ("sgd", "adam")

#: Values of ``SoftmaxClassifier(penalty=...)``
#: (:func:`softmax_classifier.penalties.split_penalty` says what each means).
PENALTY_NAMES = ("l2", "l1", "elasticnet", "group")

#: The solvers that minimise the non-smooth penalties (all but ``"l2"``).
PROXIMAL_SOLVER_NAMES = ("prox-newton",)

__all__ = ["PENALTY_NAMES", "PROXIMAL_SOLVER_NAMES", "SOLVER_NAMES", "STOCHASTIC_SOLVER_NAMES"]
