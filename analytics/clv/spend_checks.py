"""When not to believe a Gamma-Gamma fit, and what to predict instead.

A Gamma-Gamma fit is refused (docs/analytics.md, "When the spend model is not used")
when any of these holds:

1. a parameter ended at the edge of the search (log p, log q or log gamma within
   EDGE of +-LOG_BOUND: p, q or gamma above about 2 million or below about 5e-7). The
   likelihood kept improving towards the edge: typically every customer spends the
   same on each order (p -> infinity, gamma -> 0), which the model cannot express,
   so its parameters say nothing (the demo once showed p = 3269017.226, gamma = 0.000);
2. q <= 1: the population's mean order value is infinite under the fit;
3. the optimiser did not reach a point where the likelihood is flat (not converged);
4. the repeat customers' mean order values vary by less than MIN_SPREAD (coefficient
   of variation): there is nothing between customers to learn from.

The fallback is each customer's own mean repeat order value shrunk towards the
population mean, with the population mean counted as PRIOR_ORDERS orders:

    E[M | x, m_x] = (x m_x + K m) / (x + K),   K = PRIOR_ORDERS,
    m = sum(x m_x) / sum(x) over repeat customers (the mean repeat order value),

the same form as Gamma-Gamma's conditional mean with a fixed weight; a customer with
no repeat order gets m.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from analytics.clv._optimize import LOG_BOUND
from analytics.clv.gamma_gamma import GammaGammaFit

FloatArray = npt.NDArray[np.float64]

EDGE = 0.5  # in log units: within a factor of 1.65 of the search's limit
MIN_SPREAD = 0.05  # coefficient of variation of the repeat customers' mean orders
PRIOR_ORDERS = 1.0


def spend_fit_problem(fit: GammaGammaFit, m_x: npt.ArrayLike) -> str:
    """Why this fit must not be used, in words for a marketer; "" when it may."""
    values = np.asarray(m_x, dtype=np.float64)
    mean = float(values.mean()) if values.size else 0.0
    spread = float(values.std() / mean) if mean > 0 else 0.0
    if values.size and spread < MIN_SPREAD:
        return (
            f"Repeat customers' average orders barely differ (they vary by {spread:.1%}, "
            f"the model needs at least {MIN_SPREAD:.0%}), so there is nothing to learn "
            "about how spend differs between customers."
        )
    logs = np.log([fit.p, fit.q, fit.gamma])
    if bool(np.any(np.abs(logs) >= LOG_BOUND - EDGE)):
        return (
            "The spend model's fit ran to the edge of what it may try "
            f"(p = {fit.p:.3g}, q = {fit.q:.3g}, gamma = {fit.gamma:.3g}): usually every "
            "customer spends the same on each of their orders, which it cannot describe."
        )
    if fit.q <= 1.0:
        return (
            f"The spend model's fit gives no average order value (q = {fit.q:.3g} is "
            "at most 1): a few very large orders dominate."
        )
    if not fit.converged:
        return "The spend model's fit did not settle on an answer."
    return ""


def population_mean_order(x: npt.ArrayLike, m_x: npt.ArrayLike) -> float:
    """The mean repeat order value over customers with repeat orders (0 if none)."""
    xs = np.asarray(x, dtype=np.float64)
    ms = np.asarray(m_x, dtype=np.float64)
    repeat = xs > 0
    orders = float(xs[repeat].sum())
    return float((xs[repeat] * ms[repeat]).sum() / orders) if orders else 0.0


def shrunk_mean_values(x: npt.ArrayLike, m_x: npt.ArrayLike, population_mean: float) -> FloatArray:
    """Each customer's expected order value: (x m_x + K m) / (x + K)."""
    xs = np.asarray(x, dtype=np.float64)
    ms = np.where(xs > 0, np.asarray(m_x, dtype=np.float64), 0.0)
    return np.asarray((xs * ms + PRIOR_ORDERS * population_mean) / (xs + PRIOR_ORDERS))
