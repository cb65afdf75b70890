"""Checks of a fit's hyperparameters and size, made before any data is read or allocated.

The estimator's ``_parameter_constraints`` (scikit-learn's validation) check
each hyperparameter alone; these check what they cannot say: values inside a
dict, the solver's own options, how ``penalty``, ``l1_ratio`` and ``solver``
go together, what one ``partial_fit`` epoch cannot do, and whether the model
fits in memory.
"""

from __future__ import annotations

import inspect
import os
from numbers import Real

import numpy as np
from sklearn.utils.multiclass import type_of_target

from softmax_classifier._parameters import PROXIMAL_SOLVER_NAMES
from softmax_classifier.solvers import SOLVERS

__all__ = [
    "check_epoch",
    "check_hyperparameters",
    "check_label_type",
    "check_model_size",
    "check_solver_options",
]

# Options the pipeline sets itself; solver_options may not override them.
_RESERVED_OPTIONS = {"objective", "x0", "max_iter", "tol", "callback", "state", "resume"}


def check_solver_options(solver, options):
    """Refuse ``solver_options`` the solver does not take (or that the pipeline sets).

    Parameters
    ----------
    solver : str
        A solver name or ``"auto"``.
    options : dict or None

    Raises
    ------
    ValueError
    """
    options = options or {}
    if not isinstance(options, dict):
        raise ValueError(f"solver_options must be a dict or None; got {options!r}.")
    if solver == "auto":
        if options:
            raise ValueError(
                f"solver_options {sorted(options)} need a named solver; with solver='auto' "
                "the choice is made at fit time. Pass solver='lbfgs' or 'newton-cg'."
            )
        return
    allowed = set(inspect.signature(SOLVERS[solver]).parameters) - _RESERVED_OPTIONS
    unknown = set(options) - allowed
    if unknown:
        raise ValueError(
            f"solver_options {sorted(unknown)} are not options of solver {solver!r}; "
            f"it accepts {sorted(allowed)}."
        )


def check_hyperparameters(params):
    """Refuse what the estimator's parameter constraints cannot say.

    Class-weight values, the solver's options, ``l1_ratio`` with
    ``"elasticnet"`` and a penalty the solver cannot minimise.

    Parameters
    ----------
    params : dict
        The estimator's hyperparameters (``get_params()``).

    Raises
    ------
    ValueError
    """
    class_weight = params["class_weight"]
    if isinstance(class_weight, dict):
        for label, weight in class_weight.items():
            if isinstance(weight, bool) or not isinstance(weight, Real) or not 0 <= weight < np.inf:
                raise ValueError(
                    f"class_weight[{label!r}] must be a finite number >= 0; got {weight!r}."
                )
    check_solver_options(params["solver"], params["solver_options"])
    penalty, l1_ratio = params.get("penalty", "l2"), params.get("l1_ratio")
    if penalty == "elasticnet" and l1_ratio is None:
        raise ValueError("penalty='elasticnet' needs l1_ratio, a number in [0, 1].")
    if l1_ratio is not None and penalty != "elasticnet":
        raise ValueError(
            f"l1_ratio is used only with penalty='elasticnet'; got penalty={penalty!r} "
            f"with l1_ratio={l1_ratio!r}. Leave l1_ratio=None or set penalty='elasticnet'."
        )
    solver = params["solver"]
    if penalty != "l2" and solver not in ("auto", *PROXIMAL_SOLVER_NAMES):
        raise ValueError(
            f"penalty={penalty!r} is not smooth and solver={solver!r} cannot minimise it; "
            "use solver='prox-newton' or 'auto'."
        )


def check_epoch(params):
    """Refuse what one epoch of ``partial_fit`` cannot do: it sees one chunk of the rows."""
    if params["standardize"]:
        raise ValueError(
            "standardize=True needs all of X at once and is not supported by "
            "partial_fit; standardise the features beforehand."
        )
    if isinstance(params["class_weight"], str):
        raise ValueError(
            "class_weight='balanced' needs all of y at once and is not supported by "
            "partial_fit; pass a dict of class weights."
        )


def check_model_size(n_classes, n_features):
    """Refuse, before allocating, a model whose solver could not fit in this machine's memory.

    Every solver keeps at least four float64 vectors of ``n_classes *
    (n_features + 1)`` entries (parameters, gradient, direction, trial
    point). One stray LIBSVM index like 2000000000 makes ``n_features`` that
    large; without this check the fit would ask for tens of GiB and die.

    Raises
    ------
    ValueError
        Saying how many parameters, how much memory, and the machine's total.
    """
    n_params = n_classes * (n_features + 1)
    needed = 4 * 8 * n_params
    try:
        available = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - no sysconf
        return
    if needed > available:
        raise ValueError(
            f"the model would have {n_params:,} parameters ({n_classes} classes x "
            f"{n_features:,} features); the solver needs at least {needed / 2**30:.1f} GiB "
            f"for them, more than this machine's {available / 2**30:.1f} GiB of memory. "
            "Check the number of features (one very large LIBSVM index sets it)."
        )


def check_label_type(classes):
    """Refuse labels that look continuous or multi-output, from the distinct labels alone.

    scikit-learn's ``check_classification_targets`` on the sorted distinct
    labels would also warn that "the number of unique classes is greater than
    50% of the number of samples" for any model of more than 20 classes (every
    label appears once there); this is its type test without that count.

    Parameters
    ----------
    classes : ndarray of shape (n_classes,)

    Raises
    ------
    ValueError
        ``"Unknown label type: ..."``, as scikit-learn words it.
    """
    kind = type_of_target(classes)
    if kind not in ("binary", "multiclass"):
        raise ValueError(
            f"Unknown label type: {kind}. Maybe you are trying to fit a classifier, which "
            "expects discrete classes, on a regression target with continuous values."
        )
