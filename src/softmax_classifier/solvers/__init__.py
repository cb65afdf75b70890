"""Solvers: each minimises anything with the objective's methods.

Every solver module has ``minimize(objective, x0, *, max_iter, tol, callback,
resume, **options) -> SolverResult``. The full-batch ones (``gd``, ``lbfgs``,
``newton_cg``) are an explicit state (``GdState``, ...), ``init`` and ``step``
run by the one driver, :func:`softmax_classifier.solvers._driver.run`, which
also runs the epochs of the mini-batch ones (``sgd``, ``adam``: a pure
``init``/``update`` pair). Adding a solver means adding one module and one
entry in :data:`SOLVERS` (``docs/solvers.md``, "Writing a solver").
"""

from softmax_classifier._parameters import STOCHASTIC_SOLVER_NAMES
from softmax_classifier.solvers import adam, gd, lbfgs, newton_cg, prox_newton, sgd
from softmax_classifier.solvers._choice import choose_solver
from softmax_classifier.solvers._result import Iteration, SolverResult
from softmax_classifier.solvers._stochastic import SCHEDULES

#: Solver name -> ``minimize`` function.
SOLVERS = {
    "lbfgs": lbfgs.minimize,
    "newton-cg": newton_cg.minimize,
    "gd": gd.minimize,
    "sgd": sgd.minimize,
    "adam": adam.minimize,
    "prox-newton": prox_newton.minimize,
}

#: Solvers that walk mini-batches (and so support ``partial_fit``).
STOCHASTIC_SOLVERS = STOCHASTIC_SOLVER_NAMES

__all__ = [
    "SCHEDULES",
    "SOLVERS",
    "STOCHASTIC_SOLVERS",
    "Iteration",
    "SolverResult",
    "choose_solver",
]
