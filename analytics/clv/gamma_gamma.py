"""The Gamma-Gamma model of spend per transaction: what a customer's average order will
be, shrinking what we saw of them towards the population.

Fader, Hardie & Lee (2005), "RFM and CLV: Using Iso-Value Curves for Customer Base
Analysis", Journal of Marketing Research 42(4), and Fader & Hardie (2013), "The
Gamma-Gamma Model of Monetary Value".

The story: a customer's transaction values are Gamma(p, nu) around their own mean
p / nu, and nu ~ Gamma(q, gamma) across customers. It is fitted only on customers with
at least one repeat transaction (x > 0), on the mean m_x of their x repeat
transactions, and it assumes spend is independent of how often someone buys (check
that the correlation of x and m_x is weak before trusting it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import digamma, gammaln

from analytics.clv._optimize import minimize_from_starts

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class GammaGammaParams:
    """p: shape of a customer's transaction values; q, gamma: the Gamma mixing of their
    scale. gamma is in the currency of the data it was fitted on."""

    p: float
    q: float
    gamma: float

    @property
    def population_mean(self) -> float:
        """E[M] = p gamma / (q - 1): the mean transaction value of a random customer
        (infinite for q <= 1, where the mixing has no mean)."""
        return self.p * self.gamma / (self.q - 1.0) if self.q > 1.0 else float("inf")


@dataclass(frozen=True)
class GammaGammaFit(GammaGammaParams):
    log_likelihood: float  # total over the customers used (x > 0), weights counted
    n_customers: int
    converged: bool


def gamma_gamma_log_likelihood(
    params: GammaGammaParams, x: npt.ArrayLike, m_x: npt.ArrayLike
) -> FloatArray:
    """Each customer's log-density of their mean m_x over x > 0 transactions
    (Fader & Hardie 2013):

        f(m_x | p, q, gamma, x) = Gamma(p x + q) / (Gamma(p x) Gamma(q))
                                  * gamma^q m_x^(p x - 1) x^(p x) / (gamma + m_x x)^(p x + q)
    """
    xs, ms = np.asarray(x, dtype=np.float64), np.asarray(m_x, dtype=np.float64)
    p, q, g = params.p, params.q, params.gamma
    px = p * xs
    return np.asarray(
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(g)
        + (px - 1.0) * np.log(ms)
        + px * np.log(xs)
        - (px + q) * np.log(g + ms * xs)
    )


@dataclass(frozen=True)
class _FitData:
    """Inputs arranged once per fit: the terms in x alone are evaluated per distinct
    x (few) and the constant ones summed up front; only gamma + m_x x is per row."""

    x: FloatArray
    m_x: FloatArray
    weights: FloatArray
    x_values: FloatArray
    x_weights: FloatArray
    weighted_x_log_mx: float  # sum w x log(m_x x)
    weighted_log_mx: float  # sum w log m_x
    total: float

    @classmethod
    def arrange(cls, x: FloatArray, m_x: FloatArray, weights: FloatArray) -> _FitData:
        x_values, x_index = np.unique(x, return_inverse=True)
        return cls(
            x=x,
            m_x=m_x,
            weights=weights,
            x_values=x_values,
            x_weights=np.bincount(x_index.ravel(), weights=weights, minlength=x_values.size).astype(
                np.float64
            ),
            weighted_x_log_mx=float(np.sum(weights * x * np.log(m_x * x))),
            weighted_log_mx=float(np.sum(weights * np.log(m_x))),
            total=float(weights.sum()),
        )


def _negative_mean_log_likelihood(
    log_params: FloatArray, data: _FitData
) -> tuple[float, FloatArray]:
    """-sum(w * log f) / sum(w) and its gradient in log-parameters (psi = digamma):
    d/dp     = x (psi(p x + q) - psi(p x) + log m_x + log x - log(gamma + m_x x)),
    d/dq     = psi(p x + q) - psi(q) + log gamma - log(gamma + m_x x),
    d/dgamma = q / gamma - (p x + q) / (gamma + m_x x).
    Sums are taken without BLAS, as in `bgnbd._weighted_sum`."""
    p, q, g = (float(v) for v in np.exp(log_params))
    xv, xw, total = data.x_values, data.x_weights, data.total
    pxv = p * xv
    psi_pxq = digamma(pxv + q)
    log_g_mx = np.log(g + data.m_x * data.x)
    w = data.weights
    ll = (
        xw @ (gammaln(pxv + q) - gammaln(pxv))
        + p * data.weighted_x_log_mx
        - data.weighted_log_mx
        - float(np.sum(w * (p * data.x + q) * log_g_mx))
        + total * (q * np.log(g) - gammaln(q))
    )
    grad_p = (
        xw @ (xv * (psi_pxq - digamma(pxv)))
        + data.weighted_x_log_mx
        - float(np.sum(w * data.x * log_g_mx))
    )
    grad_q = xw @ psi_pxq - float(np.sum(w * log_g_mx)) + total * (np.log(g) - digamma(q))
    grad_g = total * q / g - float(np.sum(w * (p * data.x + q) / (g + data.m_x * data.x)))
    grad = np.array([grad_p * p, grad_q * q, grad_g * g])
    return float(-ll / total), -grad / total


def gamma_gamma_fit(
    x: npt.ArrayLike, m_x: npt.ArrayLike, weights: npt.ArrayLike | None = None
) -> GammaGammaFit:
    """Maximum-likelihood (p, q, gamma) from customers' repeat counts x and mean repeat
    transaction values m_x. Rows with x = 0 are ignored (they carry no spend
    information); `weights` count identical rows, as in `bgnbd_fit`.

    1. Keep x > 0; m_x must be positive there (the density is on (0, inf)).
    2. Minimise the negative mean of that density over log-parameters with L-BFGS-B and
       the analytic gradient, from two fixed starts: all-ones, and a moment guess
       (p = 1, q = 2, gamma = mean m_x, which makes E[M] equal to the observed mean).
       Keep the better optimum; the fit is deterministic.
    """
    xs = np.asarray(x, dtype=np.float64).ravel()
    ms = np.asarray(m_x, dtype=np.float64).ravel()
    if xs.shape != ms.shape:
        raise ValueError("x and m_x must be of the same length")
    w = np.ones(xs.size) if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    if w.shape != xs.shape or np.any(w < 0) or np.any(w != np.round(w)):
        raise ValueError(
            "weights are counts of identical rows: one non-negative whole number per row"
        )
    used = (xs > 0) & (w > 0)
    xs, ms, w = xs[used], ms[used], w[used]
    if xs.size == 0:
        raise ValueError("no customer with a repeat transaction (x > 0) to fit on")
    if np.any(~np.isfinite(ms)) or np.any(ms <= 0):
        raise ValueError("m_x must be positive for every customer with x > 0")

    data = _FitData.arrange(xs, ms, w)
    mean_value = float(np.sum(w * ms) / data.total)
    optimum = minimize_from_starts(
        _negative_mean_log_likelihood, [np.zeros(3), np.log([1.0, 2.0, mean_value])], data
    )
    p, q, g = (float(v) for v in np.exp(optimum.log_params))
    return GammaGammaFit(
        p=p,
        q=q,
        gamma=g,
        log_likelihood=-optimum.mean_negative_log_likelihood * data.total,
        n_customers=round(data.total),
        converged=optimum.converged,
    )


def expected_average_value(
    params: GammaGammaParams, x: npt.ArrayLike, m_x: npt.ArrayLike
) -> FloatArray:
    """E[M | p, q, gamma, x, m_x] (Fader & Hardie 2013):

        (gamma + m_x x) p / (p x + q - 1)
          = (q - 1) / (p x + q - 1) * p gamma / (q - 1) + p x / (p x + q - 1) * m_x,

    a weighted average of the population mean and the customer's own mean, with more
    weight on their own the more they bought. For x = 0 it is the population mean
    p gamma / (q - 1), whatever m_x holds.
    """
    xs = np.asarray(x, dtype=np.float64)
    ms = np.where(xs > 0, np.asarray(m_x, dtype=np.float64), 0.0)
    p, q, g = params.p, params.q, params.gamma
    return np.asarray((g + ms * xs) * p / (p * xs + q - 1.0))
