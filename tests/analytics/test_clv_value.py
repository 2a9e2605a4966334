"""Predicted CLV is purchases times value; the RFM summary's conventions."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from analytics.clv import (
    Transactions,
    expected_average_value,
    expected_purchases,
    holdout_purchases,
    predicted_clv,
    rfm_summary,
    transactions_from_rows,
)
from tests.analytics.cdnow import (
    Cdnow,
)

# --- CLV ------------------------------------------------------------------------------


def test_predicted_clv_is_purchases_times_value(cdnow: Cdnow) -> None:
    s = cdnow.summary
    args = (cdnow.bgnbd, cdnow.gamma_gamma, s.x, s.t_x, s.T, s.m_x)
    undiscounted = predicted_clv(*args)
    np.testing.assert_allclose(
        undiscounted,
        expected_purchases(cdnow.bgnbd, 52.0, s.x, s.t_x, s.T)
        * expected_average_value(cdnow.gamma_gamma, s.x, s.m_x),
        rtol=1e-12,
    )
    # Discounted at 10% a year, monthly: every dollar lands within the year, so the
    # value lies between the undiscounted one and that divided by 1.1.
    discounted = predicted_clv(*args, annual_discount_rate=0.10)
    assert np.all(discounted < undiscounted)
    assert np.all(discounted > undiscounted / 1.10)
    # Month by month, written out: 12 months of 52/12 weeks, discounted at month end.
    monthly = 1.10 ** (1 / 12)
    weeks = np.arange(13) * 52 / 12
    cumulative = [expected_purchases(cdnow.bgnbd, w, s.x, s.t_x, s.T) for w in weeks]
    by_hand = sum(
        (cumulative[k] - cumulative[k - 1]) / monthly**k for k in range(1, 13)
    ) * expected_average_value(cdnow.gamma_gamma, s.x, s.m_x)
    np.testing.assert_allclose(discounted, by_hand, rtol=1e-12)
    # A horizon that is not whole months still counts every week once.
    np.testing.assert_allclose(
        predicted_clv(*args, horizon_weeks=10.0, annual_discount_rate=1e-12),
        predicted_clv(*args, horizon_weeks=10.0),
        rtol=1e-9,
    )


# --- RFM ------------------------------------------------------------------------------

SHOP = [
    ("ann", dt.date(2024, 1, 1), 10.0),
    ("ann", dt.date(2024, 1, 1), 5.0),  # same day: one purchase of 15
    ("ann", dt.date(2024, 1, 8), 20.0),
    ("ann", dt.date(2024, 1, 22), 30.0),
    ("ann", dt.date(2024, 1, 22), 10.0),  # one purchase of 40
    ("ann", dt.date(2024, 2, 5), 99.0),  # after calibration
    ("ann", dt.date(2024, 2, 5), 1.0),  # same holdout day
    ("bob", dt.date(2024, 1, 15), 7.0),
    ("cat", dt.date(2024, 2, 10), 3.0),  # first bought after calibration
]


def test_rfm_summary_conventions() -> None:
    summary = rfm_summary(transactions_from_rows(SHOP), calibration_end=dt.date(2024, 1, 31))
    assert list(summary.customer_ids) == ["ann", "bob"]  # cat was not yet a customer
    assert list(summary.first_purchase) == [
        np.datetime64("2024-01-01"),
        np.datetime64("2024-01-15"),
    ]
    assert list(summary.x) == [2, 0]
    np.testing.assert_allclose(summary.t_x, [21 / 7, 0.0])
    np.testing.assert_allclose(summary.T, [30 / 7, 16 / 7])
    # Repeat purchases only: (20 + 40) / 2, the first day's 15 left out; 0 for x = 0.
    np.testing.assert_allclose(summary.m_x, [30.0, 0.0])


def test_holdout_purchases_counts_days_in_the_window() -> None:
    transactions = transactions_from_rows(SHOP)
    counts = holdout_purchases(
        transactions,
        customer_ids=["bob", "ann", "cat", "dan"],
        calibration_end=dt.date(2024, 1, 31),
        holdout_end=dt.date(2024, 2, 29),
    )
    assert list(counts) == [0, 1, 1, 0]
    empty = holdout_purchases(
        transactions,
        customer_ids=["ann"],
        calibration_end=dt.date(2024, 3, 1),
        holdout_end=dt.date(2024, 3, 31),
    )
    assert list(empty) == [0]


def test_no_purchases_give_an_empty_summary() -> None:
    summary = rfm_summary(transactions_from_rows(SHOP), calibration_end=dt.date(2023, 12, 31))
    assert summary.customer_ids.size == summary.x.size == summary.m_x.size == 0


def test_transactions_from_arrays_and_rows_agree() -> None:
    ids, days, amounts = zip(*SHOP, strict=True)
    from_arrays = Transactions(
        customer_ids=np.array(ids),
        days=np.array([d.isoformat() for d in days], dtype="datetime64[D]"),
        amounts=np.array(amounts),
    )
    a = rfm_summary(from_arrays, calibration_end=dt.date(2024, 1, 31))
    b = rfm_summary(transactions_from_rows(SHOP), calibration_end=dt.date(2024, 1, 31))
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_allclose(a.m_x, b.m_x)


def test_timestamps_are_refused() -> None:
    """Which day an order falls on depends on a time zone; the caller knows it."""
    with pytest.raises(TypeError):
        transactions_from_rows([("ann", dt.datetime(2024, 1, 1, 23, 30, tzinfo=dt.UTC), 5.0)])
    with pytest.raises(TypeError):
        rfm_summary(
            transactions_from_rows(SHOP),
            calibration_end=dt.datetime(2024, 1, 31, tzinfo=dt.UTC),
        )
