"""make bench-clv: fit and apply the CLV models to CUSTOMERS simulated customers
(default 1,000,000). Pure numpy/scipy; needs no database (make starts the embedded
servers anyway, unused).

1. Simulate a year of customers from known BG/NBD and Gamma-Gamma parameters (seeded):
   first purchases spread over the 365 days before the calibration end, purchase times
   kept at day resolution as a shop's data would be.
2. BG/NBD: group identical (x, t_x, T) rows, which day resolution makes common, and fit
   the distinct rows with weights (`bgnbd_fit_s` includes the grouping); then fit all
   rows once more (`bgnbd_fit_ungrouped_s`) to show what grouping saves and that the
   answers agree.
3. Gamma-Gamma: fit the repeat buyers directly (m_x is continuous, so rows rarely
   repeat and grouping would not help).
4. Predict for every customer, ungrouped, through the public functions: P(alive) and a
   12-month CLV discounted monthly at 10% a year (`predict_s`).

Prints one JSON object as its last line."""

from __future__ import annotations

import os
import resource
import time

import numpy as np
import numpy.typing as npt

from analytics.clv import (
    BgNbdParams,
    GammaGammaParams,
    bgnbd_fit,
    gamma_gamma_fit,
    predicted_clv,
    probability_alive,
)
from bench.common import machine, report

CUSTOMERS = int(os.environ.get("CUSTOMERS", "1000000"))
SEED = int(os.environ.get("SEED", "20050401"))
TRUE_BGNBD = BgNbdParams(r=0.243, alpha=4.414, a=0.793, b=2.426)  # CDNOW's, in weeks
TRUE_GAMMA_GAMMA = GammaGammaParams(p=6.25, q=3.74, gamma=15.44)  # CDNOW's, in dollars


def log(message: str) -> None:
    print(f"[bench-clv] {message}", flush=True)


def simulate(
    rng: np.random.Generator, n: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64], np.ndarray]:
    """(x, t_x in days, T in days, m_x) for n customers. Purchases are drawn in
    continuous time (weeks) and then dated by day; two purchases on one day stay two
    (rare at these rates, and irrelevant to what is being timed)."""
    p = TRUE_BGNBD
    T_days = rng.integers(0, 365, n)
    T = T_days / 7.0
    rate = rng.gamma(p.r, 1.0 / p.alpha, n)
    drop = rng.beta(p.a, p.b, n)
    x = np.zeros(n, dtype=np.int64)
    last = np.zeros(n)
    now = np.zeros(n)
    buying = np.arange(n)
    with np.errstate(divide="ignore"):  # a rate that underflowed to 0 never buys
        while buying.size:
            now[buying] += rng.exponential(size=buying.size) / rate[buying]
            bought = buying[now[buying] <= T[buying]]
            x[bought] += 1
            last[bought] = now[bought]
            buying = bought[rng.random(bought.size) >= drop[bought]]
    # Nearest day (not floor, which would make every customer half a day less recent
    # and bias alpha), never past the calibration end.
    t_x_days = np.minimum(np.round(last * 7.0), T_days).astype(np.int64)

    g = TRUE_GAMMA_GAMMA
    m_x = np.zeros(n)
    repeat = x > 0
    nu = rng.gamma(g.q, 1.0 / g.gamma, int(repeat.sum()))
    m_x[repeat] = rng.gamma(g.p * x[repeat], 1.0 / (nu * x[repeat]))
    return x, t_x_days, T_days, m_x


def main() -> None:
    rng = np.random.default_rng(SEED)
    log(f"simulating {CUSTOMERS:,} customers")
    started = time.perf_counter()
    x, t_x_days, T_days, m_x = simulate(rng, CUSTOMERS)
    simulate_s = time.perf_counter() - started

    log("fitting BG/NBD on distinct rows")
    started = time.perf_counter()
    key = (x * 366 + t_x_days) * 366 + T_days
    distinct, counts = np.unique(key, return_counts=True)
    rows_T = distinct % 366
    rows_t_x = distinct // 366 % 366
    rows_x = distinct // (366 * 366)
    bgnbd = bgnbd_fit(rows_x, rows_t_x / 7.0, rows_T / 7.0, weights=counts)
    bgnbd_fit_s = time.perf_counter() - started

    log("fitting BG/NBD on all rows, for comparison")
    started = time.perf_counter()
    ungrouped = bgnbd_fit(x, t_x_days / 7.0, T_days / 7.0)
    bgnbd_fit_ungrouped_s = time.perf_counter() - started
    grouping_difference = max(
        abs(getattr(ungrouped, name) / getattr(bgnbd, name) - 1)
        for name in ("r", "alpha", "a", "b")
    )

    log("fitting Gamma-Gamma on repeat buyers")
    started = time.perf_counter()
    gamma_gamma = gamma_gamma_fit(x, m_x)
    gamma_gamma_fit_s = time.perf_counter() - started

    log("predicting P(alive) and 12-month CLV for every customer")
    t_x, T = t_x_days / 7.0, T_days / 7.0
    started = time.perf_counter()
    alive = probability_alive(bgnbd, x, t_x, T)
    clv = predicted_clv(
        bgnbd, gamma_gamma, x, t_x, T, m_x, horizon_weeks=52.0, annual_discount_rate=0.10
    )
    predict_s = time.perf_counter() - started

    report(
        {
            "benchmark": "clv",
            "customers": CUSTOMERS,
            "seed": SEED,
            "bgnbd_rows": int(distinct.size),
            "gamma_gamma_customers": gamma_gamma.n_customers,
            "simulate_s": round(simulate_s, 3),
            "bgnbd_fit_s": round(bgnbd_fit_s, 3),
            "bgnbd_fit_ungrouped_s": round(bgnbd_fit_ungrouped_s, 3),
            "bgnbd_grouped_vs_ungrouped_max_rel_diff": float(f"{grouping_difference:.2g}"),
            "gamma_gamma_fit_s": round(gamma_gamma_fit_s, 3),
            "predict_s": round(predict_s, 3),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "bgnbd": {
                "r": round(bgnbd.r, 4),
                "alpha": round(bgnbd.alpha, 4),
                "a": round(bgnbd.a, 4),
                "b": round(bgnbd.b, 4),
                "converged": bgnbd.converged,
            },
            "gamma_gamma": {
                "p": round(gamma_gamma.p, 4),
                "q": round(gamma_gamma.q, 4),
                "gamma": round(gamma_gamma.gamma, 4),
                "converged": gamma_gamma.converged,
            },
            "mean_p_alive": round(float(alive.mean()), 4),
            "mean_clv_12m": round(float(clv.mean()), 4),
            "machine": machine(),
        }
    )


if __name__ == "__main__":
    main()
