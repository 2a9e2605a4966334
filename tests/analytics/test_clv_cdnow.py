"""The CLV models on CDNOW reproduce the published parameters, log-likelihood and
holdout forecast (Fader, Hardie & Lee 2005)."""

from __future__ import annotations

import numpy as np
import pytest

from analytics.clv import (
    bgnbd_log_likelihood,
    expected_purchases,
    expected_purchases_new,
    gamma_gamma_log_likelihood,
    holdout_purchases,
)
from tests.analytics.cdnow import (
    CALIBRATION_END,
    HOLDOUT_END,
    HOLDOUT_WEEKS,
    PAPER_BGNBD,
    PAPER_BGNBD_LOG_LIKELIHOOD,
    PAPER_GAMMA_GAMMA,
    Cdnow,
)


def test_cdnow_summary_matches_the_published_data(cdnow: Cdnow) -> None:
    s = cdnow.summary
    assert s.customer_ids.size == 2357
    assert int((s.x > 0).sum()) == 946  # the customers the Gamma-Gamma note fits on
    assert int(s.x.sum()) == 2457
    # Customer 1 of the published summary: x = 2, t_x = 30.43, T = 38.86.
    first = int(np.flatnonzero(s.customer_ids == 1)[0])
    assert s.x[first] == 2
    assert s.t_x[first] == pytest.approx(30.43, abs=0.005)
    assert s.T[first] == pytest.approx(38.86, abs=0.005)


def test_cdnow_bgnbd_reproduces_the_paper(cdnow: Cdnow) -> None:
    fit = cdnow.bgnbd
    assert fit.converged
    assert fit.n_customers == 2357
    for name, published in PAPER_BGNBD.items():
        assert getattr(fit, name) == pytest.approx(published, rel=0.02), name
    assert fit.log_likelihood == pytest.approx(PAPER_BGNBD_LOG_LIKELIHOOD, rel=0.001)


def test_cdnow_gamma_gamma_reproduces_the_paper(cdnow: Cdnow) -> None:
    fit = cdnow.gamma_gamma
    assert fit.converged
    assert fit.n_customers == 946
    for name, published in PAPER_GAMMA_GAMMA.items():
        assert getattr(fit, name) == pytest.approx(published, rel=0.02), name


def test_cdnow_holdout_forecast(cdnow: Cdnow) -> None:
    """The paper's aggregate check, weeks 40-78.

    Actual: 1,882 purchase days in the holdout (1,959 transaction records). The
    paper's tracking plot (its Figure 2) compares cumulative repeat transactions, each
    customer forecast with equation 9 from their first purchase: by week 78 that is
    4,166 forecast against 4,339 actual, within 5%. The holdout alone is
    under-forecast by more: the conditional forecast (equation 10) sums to 1,653, 12%
    below actual, as in the paper's Figure 4, where the model's conditional
    expectations fall below the holdout averages for customers with 1 or 2 repeat
    purchases. So the holdout-only sum is pinned where it is (and checked against the
    unconditional forecast), not asserted to be within 5% of actual: it is not.
    """
    s = cdnow.summary
    actual = holdout_purchases(
        cdnow.transactions,
        customer_ids=s.customer_ids,
        calibration_end=CALIBRATION_END,
        holdout_end=HOLDOUT_END,
    )
    assert HOLDOUT_WEEKS == 39.0
    assert int(actual.sum()) == 1882

    cumulative_actual = int(s.x.sum() + actual.sum())
    cumulative_forecast = float(expected_purchases_new(cdnow.bgnbd, s.T + HOLDOUT_WEEKS).sum())
    assert cumulative_forecast == pytest.approx(cumulative_actual, rel=0.05)

    conditional = float(expected_purchases(cdnow.bgnbd, HOLDOUT_WEEKS, s.x, s.t_x, s.T).sum())
    unconditional = float(
        (
            expected_purchases_new(cdnow.bgnbd, s.T + HOLDOUT_WEEKS)
            - expected_purchases_new(cdnow.bgnbd, s.T)
        ).sum()
    )
    assert conditional == pytest.approx(1653.4, abs=1.0)
    assert conditional == pytest.approx(unconditional, rel=0.02)
    assert 0.85 < conditional / actual.sum() < 0.90


def test_cdnow_log_likelihood_is_the_sum_over_customers(cdnow: Cdnow) -> None:
    s = cdnow.summary
    total = bgnbd_log_likelihood(cdnow.bgnbd, s.x, s.t_x, s.T).sum()
    assert total == pytest.approx(cdnow.bgnbd.log_likelihood, rel=1e-12)
    repeat = s.x > 0
    spend = gamma_gamma_log_likelihood(cdnow.gamma_gamma, s.x[repeat], s.m_x[repeat]).sum()
    assert spend == pytest.approx(cdnow.gamma_gamma.log_likelihood, rel=1e-12)
