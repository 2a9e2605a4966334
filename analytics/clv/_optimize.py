"""The maximum-likelihood search both models share: L-BFGS-B over log-parameters from
a few fixed starts, keeping the best."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize

FloatArray = npt.NDArray[np.float64]

# exp(+-15) covers any sensible unit of time (days to years) or currency, and keeps
# exp() and the special functions finite while the optimiser explores.
LOG_BOUND = 15.0

# A mean log-likelihood whose gradient is this flat is at its optimum for all purposes
# here (a parameter moves by well under 0.01% before the likelihood notices).
_FLAT_GRADIENT = 1e-6


@dataclass(frozen=True)
class Optimum:
    log_params: FloatArray
    mean_negative_log_likelihood: float
    converged: bool


def minimize_from_starts(
    objective: Callable[[FloatArray, Any], tuple[float, FloatArray]],
    starts: Sequence[FloatArray],
    data: Any,
) -> Optimum:
    """Minimise `objective(log_params, data) -> (value, gradient)` from each start and
    keep the lowest value.

    `converged` is the first-order condition, not scipy's flag alone: when the
    objective is flat to the last bits of a float, L-BFGS-B's line search can stop
    with "ABNORMAL_TERMINATION_IN_LNSRCH" at a point that is the optimum; so a result
    also counts as converged when its (projected) gradient is below 1e-6.
    """
    best = None
    for start in starts:
        result = minimize(
            objective,
            np.clip(start, -LOG_BOUND, LOG_BOUND),
            args=(data,),
            jac=True,
            method="L-BFGS-B",
            bounds=[(-LOG_BOUND, LOG_BOUND)] * len(start),
            options={"maxiter": 1000, "ftol": 1e-12, "gtol": 1e-9},
        )
        if best is None or result.fun < best.fun:
            best = result
    if best is None:
        raise ValueError("no start point given")
    at_lower = (best.x <= -LOG_BOUND) & (best.jac > 0)
    at_upper = (best.x >= LOG_BOUND) & (best.jac < 0)
    projected = np.where(at_lower | at_upper, 0.0, best.jac)
    flat = bool(np.max(np.abs(projected)) < _FLAT_GRADIENT)
    return Optimum(
        log_params=np.asarray(best.x, dtype=np.float64),
        mean_negative_log_likelihood=float(best.fun),
        converged=bool(best.success) or flat,
    )
