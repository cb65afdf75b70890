"""Step acceptance that still works where objective values are all rounding noise.

Near the optimum the objective changes by less than the rounding error of its
own evaluation (a mean over many rows in float64 is exact to about
``log2(n) * eps * |f|``), so the Armijo test ``f(x + t d) <= f(x) + c1 t g^T d``
compares noise with noise and fails at random. Whether a fit then stops at
``max|grad| = 1e-9`` or ``1e-12`` depends on the BLAS kernel's summation order,
and so do its predictions in the last digits that matter.

Gradients stay accurate there, so these tests fall back on the directional
derivative ``phi'(t) = grad(x + t d)^T d``, as in Hager and Zhang's "approximate
Wolfe" conditions (SIAM J. Optim. 16, 2005): when ``f(x + t d)`` is within the
noise of ``f(x)``, the step is accepted if ``phi'(t) <= (2 delta - 1) phi'(0)``,
which for a quadratic is exactly the Armijo condition with ``c1 = delta``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["approximately_armijo", "value_noise"]

# Hager and Zhang's delta (their recommended 0.1): for a quadratic, the
# derivative test below equals the Armijo condition with this c1.
_DELTA = 0.1
# Relative rounding noise allowed in a value: a float64 mean over n rows is
# exact to about log2(n) * eps relative, and 2**10 * eps covers any n up to
# 2**1000 rows with room for the penalty term and the blocks' partial sums.
# Logits computed in float32 add about their own eps (sums are float64), so
# data of a lower precision add 2**5 of their eps.
_NOISE = 2.0**10 * np.finfo(np.float64).eps
_DATA_NOISE = 2.0**5


def value_noise(value, dtype=np.float64):
    """How much two evaluations of an objective near ``value`` may differ by rounding.

    Parameters
    ----------
    value : float
        An objective value.
    dtype : numpy dtype, default=float64
        The dtype the data's products run in.

    Returns
    -------
    float
        ``(2**10 eps64 + 2**5 eps(dtype)) * |value|`` for float32 data,
        ``2**10 eps64 * |value|`` (about ``2.3e-13 |value|``) for float64.
    """
    relative = _NOISE
    if np.dtype(dtype) != np.float64:
        relative += _DATA_NOISE * float(np.finfo(dtype).eps)
    return relative * max(abs(float(value)), np.finfo(np.float64).tiny)


def approximately_armijo(value, slope, value_new, slope_new, dtype=np.float64):
    """Accept a step by its directional derivative when values are only noise.

    Parameters
    ----------
    value, slope : float
        ``phi(0) = f(x)`` and ``phi'(0) = grad(x)^T d < 0``.
    value_new, slope_new : float
        ``phi(t) = f(x + t d)`` and ``phi'(t) = grad(x + t d)^T d``.
    dtype : numpy dtype, default=float64
        The dtype the data's products run in (:func:`value_noise`).

    Returns
    -------
    bool
        True when ``phi(t) <= phi(0) + value_noise(phi(0))`` and
        ``phi'(t) <= (2 delta - 1) phi'(0)`` with ``delta = 0.1``.
    """
    return bool(
        value_new <= value + value_noise(value, dtype) and slope_new <= (2.0 * _DELTA - 1.0) * slope
    )
