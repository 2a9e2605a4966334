"""The BG/NBD model of repeat buying: how many purchases a customer will make, and how
likely they are to still be a customer.

Fader, Hardie & Lee (2005), "Counting Your Customers the Easy Way: An Alternative to
the Pareto/NBD Model", Marketing Science 24(2), 275-284. Equation numbers below are the
paper's: 6 (the likelihood), 9 (E[X(t)]) and 10 (the conditional expectation). P(alive)
is from Fader, Hardie & Lee (2008), "Computing P(alive) Using the BG/NBD Model".

The story the model tells, per customer, from their first purchase at time 0:
  - while alive, they buy as a Poisson process with rate lambda;
  - after each purchase they drop out for good with probability p (so a customer who
    never bought again cannot have dropped out);
  - lambda ~ Gamma(r, alpha) and p ~ Beta(a, b) across customers.

All a customer contributes is x (repeat purchases), t_x (time of the last one; 0 if
x = 0) and T (time observed since the first purchase), in one time unit (we use
weeks). Everything here is vectorised over customers and works in logs, because
Gamma(r + x) and (alpha + T)^(r + x) overflow a float long before x reaches the
purchase counts of a busy shop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import betaln, digamma, expit, gammaln, hyp2f1

from analytics.clv._optimize import minimize_from_starts

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class BgNbdParams:
    """r, alpha: the Gamma mixing of purchase rates; a, b: the Beta mixing of dropout
    probabilities. alpha is in the time unit of the data it was fitted on."""

    r: float
    alpha: float
    a: float
    b: float


@dataclass(frozen=True)
class BgNbdFit(BgNbdParams):
    """Maximum-likelihood parameters and how they were reached."""

    log_likelihood: float  # total over all customers (weights counted)
    n_customers: int
    converged: bool


def _as_float(values: npt.ArrayLike) -> FloatArray:
    return np.asarray(values, dtype=np.float64)


def _check_rfm(x: FloatArray, t_x: FloatArray, T: FloatArray) -> None:
    if np.any(x < 0) or np.any(t_x < 0) or np.any(t_x > T):
        raise ValueError("need x >= 0 and 0 <= t_x <= T for every customer")
    if np.any((x == 0) & (t_x != 0)):
        raise ValueError("t_x must be 0 for customers with no repeat purchase (x = 0)")


def _dropout_log_odds(
    params: BgNbdParams, x: FloatArray, t_x: FloatArray, T: FloatArray
) -> FloatArray:
    """D = log( a / (b + x - 1) * ((alpha + T) / (alpha + t_x))^(r + x) ) for x > 0, and
    -inf for x = 0.

    D is the log of the ratio of the two terms of equation 6, which is also the
    posterior odds that the customer has dropped out: P(alive) = 1 / (1 + e^D).
    b + x - 1 can be <= 0 only where x = 0, which is masked before the log.
    """
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    repeat = x > 0
    b_x = np.where(repeat, b + x - 1.0, 1.0)
    log_odds = (
        np.log(a)
        - np.log(b_x)
        + (r + x) * (np.log(alpha + T) - np.log(alpha + np.where(repeat, t_x, T)))
    )
    return np.where(repeat, log_odds, -np.inf)


def bgnbd_log_likelihood(
    params: BgNbdParams, x: npt.ArrayLike, t_x: npt.ArrayLike, T: npt.ArrayLike
) -> FloatArray:
    """Each customer's log-likelihood, equation 6.

    Written as log L = A1 + A2 + [x > 0] log(1 + e^D), where
      A1 = log Gamma(r + x) - log Gamma(r) + r log alpha,
      A2 = log B(a, b + x) - log B(a, b) - (r + x) log(alpha + T),
    and D is the log-ratio of the second term of equation 6 to the first
    (`_dropout_log_odds`): B(a + 1, b + x - 1) / B(a, b + x) = a / (b + x - 1).
    """
    xs, txs, Ts = _as_float(x), _as_float(t_x), _as_float(T)
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    a1 = gammaln(r + xs) - gammaln(r) + r * np.log(alpha)
    a2 = betaln(a, b + xs) - betaln(a, b) - (r + xs) * np.log(alpha + Ts)
    return np.asarray(a1 + a2 + np.logaddexp(0.0, _dropout_log_odds(params, xs, txs, Ts)))


@dataclass(frozen=True)
class _FitData:
    """The fit's inputs, arranged once so that each likelihood evaluation is cheap.

    x is a small whole number, so the terms that depend on x alone (Gamma and Beta
    functions and their digammas) are evaluated once per distinct x and weighted by
    how many customers have it; only the terms in t_x and T are evaluated per row.
    """

    x: FloatArray
    t_x: FloatArray
    T: FloatArray
    weights: FloatArray
    repeat: npt.NDArray[np.bool_]  # x > 0
    x_values: FloatArray  # distinct x, ascending
    x_index: npt.NDArray[np.intp]  # row -> position in x_values
    x_weights: FloatArray  # total weight per distinct x
    total: float

    @classmethod
    def arrange(
        cls, x: FloatArray, t_x: FloatArray, T: FloatArray, weights: FloatArray
    ) -> _FitData:
        x_values, x_index = np.unique(x, return_inverse=True)
        x_index = x_index.ravel()
        return cls(
            x=x,
            t_x=t_x,
            T=T,
            weights=weights,
            repeat=x > 0,
            x_values=x_values,
            x_index=x_index,
            x_weights=np.bincount(x_index, weights=weights, minlength=x_values.size).astype(
                np.float64
            ),
            total=float(weights.sum()),
        )


def _weighted_sum(weights: FloatArray, values: FloatArray) -> float:
    """sum(weights * values) without BLAS: a BLAS dot wakes OpenBLAS's thread pool,
    whose threads then spin and take the CPU from the elementwise work between dots
    (fits took twice as long on a busy 2-CPU machine); numpy's own sum costs little.
    """
    return float(np.sum(weights * values))


def _negative_mean_log_likelihood(
    log_params: FloatArray, data: _FitData
) -> tuple[float, FloatArray]:
    """-sum(w * log L) / sum(w) and its gradient in log-parameters.

    The mean (not the sum) keeps the optimiser's tolerances meaningful whether there are
    a thousand customers or a million. Gradient of the terms of `bgnbd_log_likelihood`,
    with s = 1 - P(alive) = expit(D) for x > 0 and 0 for x = 0 (psi = digamma):
      d/dr     = psi(r + x) - psi(r) + log alpha - log(alpha + T) + s log((alpha+T)/(alpha+t_x))
      d/dalpha = r/alpha - (r + x)/(alpha + T) + s (r + x) (1/(alpha + T) - 1/(alpha + t_x))
      d/da     = psi(a + b) - psi(a + b + x) + s / a
      d/db     = psi(b + x) - psi(b) + psi(a + b) - psi(a + b + x) - s / (b + x - 1)
    and d/dlog(theta) = theta * d/dtheta.
    """
    r, alpha, a, b = (float(v) for v in np.exp(log_params))
    xv, xw, total = data.x_values, data.x_weights, data.total

    # Terms in x alone, once per distinct x. b + x - 1 is only read where x > 0.
    log_b_x = np.log(np.where(xv > 0, b + xv - 1.0, 1.0))[data.x_index]
    psi_abx = xw @ digamma(a + b + xv)
    ll = xw @ (gammaln(r + xv) + betaln(a, b + xv)) + total * (
        r * np.log(alpha) - gammaln(r) - betaln(a, b)
    )
    grad_r = xw @ digamma(r + xv) + total * (np.log(alpha) - digamma(r))
    grad_alpha = total * r / alpha
    grad_a = total * digamma(a + b) - psi_abx
    grad_b = xw @ digamma(b + xv) - psi_abx + total * (digamma(a + b) - digamma(b))

    # Terms in t_x and T, per row; D is `_dropout_log_odds`, inlined to share the logs.
    x, w, repeat = data.x, data.weights, data.repeat
    log_alpha_T = np.log(alpha + data.T)
    log_alpha_tx = np.log(alpha + data.t_x)
    log_odds = np.where(
        repeat, np.log(a) - log_b_x + (r + x) * (log_alpha_T - log_alpha_tx), -np.inf
    )
    dead = expit(log_odds)  # 0 where x = 0
    ll += _weighted_sum(w, np.logaddexp(0.0, log_odds) - (r + x) * log_alpha_T)
    grad_r += _weighted_sum(w, dead * (log_alpha_T - log_alpha_tx) - log_alpha_T)
    inv_alpha_T = 1.0 / (alpha + data.T)
    grad_alpha += _weighted_sum(
        w, (r + x) * (dead * (inv_alpha_T - 1.0 / (alpha + data.t_x)) - inv_alpha_T)
    )
    w_dead = w * dead
    grad_a += w_dead.sum() / a
    grad_b -= _weighted_sum(w_dead, np.exp(-log_b_x))

    grad = np.array([grad_r * r, grad_alpha * alpha, grad_a * a, grad_b * b])
    return float(-ll / total), -grad / total


def _prepare_weights(weights: npt.ArrayLike | None, n: int) -> FloatArray:
    if weights is None:
        return np.ones(n)
    w = _as_float(weights).ravel()
    if w.shape != (n,):
        raise ValueError("weights must have one entry per row")
    if np.any(~np.isfinite(w)) or np.any(w < 0) or np.any(w != np.round(w)):
        raise ValueError("weights are counts of identical rows: non-negative whole numbers")
    return w


def bgnbd_fit(
    x: npt.ArrayLike,
    t_x: npt.ArrayLike,
    T: npt.ArrayLike,
    weights: npt.ArrayLike | None = None,
) -> BgNbdFit:
    """Maximum-likelihood (r, alpha, a, b) for customers (x, t_x, T).

    `weights[i]` says how many customers share row i, so a million customers observed
    at day resolution can be fitted as their distinct rows (same answer as the
    expanded rows, a fraction of the time).

    1. Work in log-parameters, so every parameter stays positive without constraints
       the optimiser would have to respect, and bound them to exp(+-15).
    2. Minimise the negative mean of equation 6 with L-BFGS-B and its analytic
       gradient (`_negative_mean_log_likelihood`).
    3. The surface is flat along (a, b) when few customers drop out, so start twice,
       from all-ones (the usual default) and from a moment guess for the purchase
       rate (r = 1, alpha = sum T / sum x), and keep the better optimum. Both starts
       are fixed, so the fit is deterministic.
    """
    xs, txs, Ts = _as_float(x).ravel(), _as_float(t_x).ravel(), _as_float(T).ravel()
    if not (xs.shape == txs.shape == Ts.shape) or xs.size == 0:
        raise ValueError("x, t_x and T must be non-empty and of the same length")
    _check_rfm(xs, txs, Ts)
    if np.any(xs != np.round(xs)):
        raise ValueError("x counts purchases: whole numbers only")
    w = _prepare_weights(weights, xs.size)
    if w.sum() == 0:
        raise ValueError("weights sum to zero")
    data = _FitData.arrange(xs, txs, Ts, w)

    rate_alpha = float((w @ Ts) / max(float(w @ xs), 1.0))
    optimum = minimize_from_starts(
        _negative_mean_log_likelihood,
        [np.zeros(4), np.log([1.0, max(rate_alpha, 1e-3), 1.0, 1.0])],
        data,
    )
    r, alpha, a, b = (float(v) for v in np.exp(optimum.log_params))
    return BgNbdFit(
        r=r,
        alpha=alpha,
        a=a,
        b=b,
        log_likelihood=-optimum.mean_negative_log_likelihood * data.total,
        n_customers=round(data.total),
        converged=optimum.converged,
    )


def probability_alive(
    params: BgNbdParams, x: npt.ArrayLike, t_x: npt.ArrayLike, T: npt.ArrayLike
) -> FloatArray:
    """P(still a customer at T | x, t_x, T), from the Fader, Hardie & Lee (2008) note:

        1 / (1 + [x > 0] a / (b + x - 1) * ((alpha + T) / (alpha + t_x))^(r + x))

    Exactly 1 for x = 0: in the BG/NBD a customer can only drop out right after a
    purchase. Evaluated as expit(-D) so a long-silent heavy buyer gives a clean 0.
    """
    xs, txs, Ts = _as_float(x), _as_float(t_x), _as_float(T)
    return np.asarray(expit(-_dropout_log_odds(params, xs, txs, Ts)))


def _expected_purchases_alive(
    params: BgNbdParams, t: FloatArray, x: FloatArray, T: FloatArray
) -> FloatArray:
    """The numerator of equation 10 (for x = 0, T = 0 it is equation 9):

        (a + b + x - 1) / (a - 1)
          * [1 - ((alpha + T) / (alpha + T + t))^(r + x) 2F1(r + x, b + x; a + b + x - 1; z)]

    with z = t / (alpha + T + t). As written the 2F1 grows without bound with x while
    the power in front of it underflows to 0. Euler's transformation
    2F1(A, B; C; z) = (1 - z)^(C - A - B) 2F1(C - A, C - B; C; z) folds the power in:

        ((alpha + T) / (alpha + T + t))^(r + x) 2F1(r + x, b + x; c; z)
          = (1 - z)^(a - 1) 2F1(a + b - 1 - r, a - 1; c; z),   c = a + b + x - 1,

    whose upper parameters no longer depend on x, so the series converges fast and
    tends to 1 as x grows. 1 - (1 - z)^(a - 1) is taken with expm1/log1p for small t.
    (At a = 1 exactly the ratio is 0/0; a fitted a never lands there in practice.)
    """
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    c = a + b + x - 1.0
    z = t / (alpha + T + t)
    with np.errstate(invalid="ignore", over="ignore"):
        power = np.exp((a - 1.0) * np.log1p(-z))
        series = hyp2f1(a + b - 1.0 - r, a - 1.0, c, z)
        bracket = -np.expm1((a - 1.0) * np.log1p(-z)) - power * (series - 1.0)
        result = np.array(c / (a - 1.0) * bracket, dtype=np.float64)
    lost = ~np.isfinite(result)
    if lost.any():
        result[lost] = _expected_purchases_fixed_dropout(params, t, x, T, lost)
    return result


def _expected_purchases_fixed_dropout(
    params: BgNbdParams, t: FloatArray, x: FloatArray, T: FloatArray, rows: npt.NDArray[np.bool_]
) -> FloatArray:
    """The limit of equation 10's numerator as a and b grow with a / (a + b) fixed: a
    population with (nearly) one dropout probability p, where 2F1 cannot be evaluated
    (scipy returns nan or inf for a, b in the hundreds of thousands, which a fit reaches
    on data with no spread in dropout). With p fixed, E[X(t) | lambda] = (1 - e^(-lambda
    p t)) / p, and averaging over lambda ~ Gamma(r + x, alpha + T) gives

        (1 - ((alpha + T) / (alpha + T + p t))^(r + x)) / p,   p = a / (a + b + x - 1).
    """
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    ts = np.broadcast_to(t, rows.shape)[rows]
    xs = np.broadcast_to(x, rows.shape)[rows]
    Ts = np.broadcast_to(T, rows.shape)[rows]
    p = a / (a + b + xs - 1.0)
    return np.asarray(-np.expm1(-(r + xs) * np.log1p(p * ts / (alpha + Ts))) / p)


def expected_purchases(
    params: BgNbdParams,
    t: npt.ArrayLike,
    x: npt.ArrayLike,
    t_x: npt.ArrayLike,
    T: npt.ArrayLike,
) -> FloatArray:
    """E[purchases in (T, T + t] | x, t_x, T], equation 10: the expected purchases of a
    customer who is still alive (`_expected_purchases_alive`) times P(alive)."""
    ts, xs, txs, Ts = _as_float(t), _as_float(x), _as_float(t_x), _as_float(T)
    return np.asarray(
        _expected_purchases_alive(params, ts, xs, Ts) * probability_alive(params, xs, txs, Ts)
    )


def expected_purchases_new(params: BgNbdParams, t: npt.ArrayLike) -> FloatArray:
    """E[X(t)], equation 9: repeat purchases in the first t periods after a randomly
    chosen customer's first purchase. Equation 10 with x = t_x = T = 0 reduces to it."""
    ts = _as_float(t)
    zero = np.zeros_like(ts)
    return _expected_purchases_alive(params, ts, zero, zero)
