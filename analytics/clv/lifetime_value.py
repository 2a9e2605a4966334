"""Customer lifetime value over a finite horizon: BG/NBD for how many purchases,
Gamma-Gamma for how much each is worth."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from analytics.clv.bgnbd import BgNbdParams, expected_purchases
from analytics.clv.gamma_gamma import GammaGammaParams, expected_average_value

FloatArray = npt.NDArray[np.float64]

# A month is a twelfth of a 52-week year, so 52 weeks are exactly 12 months.
WEEKS_PER_MONTH = 52.0 / 12.0


def predicted_clv(
    bgnbd: BgNbdParams,
    gg: GammaGammaParams,
    x: npt.ArrayLike,
    t_x: npt.ArrayLike,
    T: npt.ArrayLike,
    m_x: npt.ArrayLike,
    horizon_weeks: float = 52.0,
    annual_discount_rate: float = 0.0,
) -> FloatArray:
    """Expected revenue from each customer over the next `horizon_weeks` (weeks, like
    t_x and T): revenue, not margin; multiply by a margin for profit.

    Without discounting:

        CLV = E[Y(h) | x, t_x, T] * E[M | x, m_x]

    (BG/NBD equation 10 times the Gamma-Gamma conditional mean; the Gamma-Gamma
    model assumes spend is independent of the purchase process, so the expectation of
    the product is the product of the expectations.)

    With an annual rate d, cash is discounted monthly at the equivalent monthly rate
    d_m = (1 + d)^(1/12) - 1, each month's purchases as if they happened at its end:

        CLV = E[M | x, m_x] * sum_{k=1..K} (E[Y(t_k)] - E[Y(t_{k-1})]) / (1 + d_m)^k

    with t_k = min(k * 52/12, h), t_0 = 0 and K = ceil(h / (52/12)); a last, partial
    month is discounted as a whole one.
    """
    if horizon_weeks < 0:
        raise ValueError("horizon_weeks must not be negative")
    if annual_discount_rate <= -1:
        raise ValueError("annual_discount_rate must be above -1")
    value = expected_average_value(gg, x, m_x)
    if annual_discount_rate == 0 or horizon_weeks == 0:
        return np.asarray(expected_purchases(bgnbd, horizon_weeks, x, t_x, T) * value)

    monthly_factor = (1.0 + annual_discount_rate) ** (1.0 / 12.0)
    months = math.ceil(horizon_weeks / WEEKS_PER_MONTH - 1e-9)
    discounted = np.zeros(np.broadcast(np.asarray(x), np.asarray(t_x), np.asarray(T)).shape)
    purchases_so_far = np.zeros_like(discounted)
    for month in range(1, months + 1):
        purchases = expected_purchases(
            bgnbd, min(month * WEEKS_PER_MONTH, horizon_weeks), x, t_x, T
        )
        discounted += (purchases - purchases_so_far) / monthly_factor**month
        purchases_so_far = purchases
    return np.asarray(discounted * value)
