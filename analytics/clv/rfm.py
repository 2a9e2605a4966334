"""From raw purchases to what the models read: per customer x (repeat purchases), t_x
(recency), T (age) and m_x (mean repeat value), plus actual purchases in a holdout.

Conventions, chosen to match Fader, Hardie & Lee and the `lifetimes` package, which
together reproduce the published CDNOW numbers:

- A purchase is a customer-day: all transactions of one customer on one calendar day
  are one purchase, their amounts summed (the papers count CDNOW this way; a basket
  split into several orders is still one visit).
- Time is in weeks, days / 7, measured from the customer's first purchase day:
  t_x = (last purchase day - first) / 7, T = (calibration end - first) / 7, where the
  calibration end is the last day included. (CDNOW, first purchase 1997-01-01, end
  1997-09-30: T = 272 / 7 = 38.86, as in the published data.)
- x = purchase days after the first, within calibration.
- m_x = mean value of those x repeat purchase days, the first purchase left out, so
  that m_x averages exactly the x transactions the Gamma-Gamma density is written for
  (its x is the number of values averaged). This is Fader & Hardie's convention and
  lifetimes' (`summary_data_from_transaction_data`). On CDNOW it gives the published
  p = 6.25, q = 3.74, gamma = 15.44; averaging in the first purchase instead gives
  p = 14.3, q = 3.95, gamma = 7.29. m_x is 0.0 where x = 0 (nothing to average);
  nothing downstream reads it there.

Dates are calendar days (`datetime.date`, ISO strings or `datetime64`): convert
timestamps to the shop's local date before calling, since which day an 11 pm order
falls on depends on a time zone this module cannot know.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
DayArray = npt.NDArray[np.datetime64]

DAYS_PER_WEEK = 7.0


@dataclass(frozen=True)
class Transactions:
    """Purchases as three aligned columns. Build it from arrays, or from rows with
    `transactions_from_rows`; the constructor normalises the types."""

    customer_ids: npt.NDArray[Any]
    days: DayArray
    amounts: FloatArray

    def __post_init__(self) -> None:
        ids = np.asarray(self.customer_ids)
        days = np.asarray(self.days, dtype="datetime64[D]")
        amounts = np.asarray(self.amounts, dtype=np.float64)
        if not (ids.ndim == days.ndim == amounts.ndim == 1):
            raise ValueError("customer_ids, days and amounts must be one-dimensional")
        if not (ids.shape == days.shape == amounts.shape):
            raise ValueError("customer_ids, days and amounts must be of the same length")
        if np.any(np.isnat(days)):
            raise ValueError("every transaction needs a date")
        if np.any(~np.isfinite(amounts)):
            raise ValueError("amounts must be finite numbers")
        object.__setattr__(self, "customer_ids", ids)
        object.__setattr__(self, "days", days)
        object.__setattr__(self, "amounts", amounts)


def transactions_from_rows(rows: Iterable[tuple[Any, dt.date | str, float]]) -> Transactions:
    """Columns from (customer_id, date, amount) rows. A `datetime` is refused: its
    calendar day depends on a time zone (see the module docstring)."""
    ids: list[Any] = []
    days: list[dt.date | str] = []
    amounts: list[float] = []
    for customer_id, day, amount in rows:
        if isinstance(day, dt.datetime):
            raise TypeError("pass the purchase's local calendar date, not a datetime")
        ids.append(customer_id)
        days.append(day)
        amounts.append(amount)
    return Transactions(
        customer_ids=np.asarray(ids),
        days=np.asarray(days, dtype="datetime64[D]"),
        amounts=np.asarray(amounts, dtype=np.float64),
    )


@dataclass(frozen=True)
class RfmSummary:
    """One entry per customer who bought on or before the calibration end, ordered by
    customer id. Times are in weeks."""

    customer_ids: npt.NDArray[Any]
    first_purchase: DayArray
    x: IntArray
    t_x: FloatArray
    T: FloatArray
    m_x: FloatArray


def _day_number(day: dt.date) -> int:
    if isinstance(day, dt.datetime):
        raise TypeError("pass a calendar date, not a datetime")
    return int(np.datetime64(day, "D").astype(np.int64))


def _purchase_days(
    customer_index: IntArray, day_numbers: IntArray, amounts: FloatArray
) -> tuple[IntArray, IntArray, FloatArray]:
    """Collapse transactions to customer-days: (customer index, day number, amount
    summed), sorted by customer, then day."""
    if customer_index.size == 0:
        return customer_index, day_numbers, amounts
    order = np.lexsort((day_numbers, customer_index))
    customers, days, values = customer_index[order], day_numbers[order], amounts[order]
    starts = np.flatnonzero(
        np.concatenate(([True], (customers[1:] != customers[:-1]) | (days[1:] != days[:-1])))
    )
    return customers[starts], days[starts], np.add.reduceat(values, starts)


def rfm_summary(transactions: Transactions, *, calibration_end: dt.date) -> RfmSummary:
    """x, t_x, T and m_x per customer from the purchases up to and including
    `calibration_end` (conventions in the module docstring).

    1. Keep transactions on or before the calibration end; number the customers.
    2. Collapse to customer-days (`_purchase_days`), sorted by customer then day, so
       each customer's days are one contiguous run whose first entry is their first
       purchase.
    3. Per run: x = length - 1, t_x from the last day, T from the calibration end,
       m_x = (run total - first day's amount) / x.
    """
    end = _day_number(calibration_end)
    day_numbers = transactions.days.astype(np.int64)
    in_calibration = day_numbers <= end
    customer_ids, customer_index = np.unique(
        transactions.customer_ids[in_calibration], return_inverse=True
    )
    customers, days, values = _purchase_days(
        customer_index.astype(np.int64).ravel(),
        day_numbers[in_calibration],
        transactions.amounts[in_calibration],
    )
    if customers.size == 0:
        none = np.zeros(0)
        return RfmSummary(
            customer_ids=customer_ids,
            first_purchase=np.zeros(0, dtype="datetime64[D]"),
            x=np.zeros(0, dtype=np.int64),
            t_x=none,
            T=none,
            m_x=none,
        )
    run_starts = np.flatnonzero(np.concatenate(([True], customers[1:] != customers[:-1])))
    run_lengths = np.diff(np.append(run_starts, customers.size))
    first_day = days[run_starts]
    last_day = days[run_starts + run_lengths - 1]
    x = (run_lengths - 1).astype(np.int64)
    repeat_total = np.add.reduceat(values, run_starts) - values[run_starts]
    m_x = np.where(x > 0, repeat_total / np.maximum(x, 1), 0.0)
    return RfmSummary(
        customer_ids=customer_ids,
        first_purchase=first_day.astype("datetime64[D]"),
        x=x,
        t_x=(last_day - first_day) / DAYS_PER_WEEK,
        T=(end - first_day) / DAYS_PER_WEEK,
        m_x=m_x,
    )


def holdout_purchases(
    transactions: Transactions,
    *,
    customer_ids: npt.ArrayLike,
    calibration_end: dt.date,
    holdout_end: dt.date,
) -> IntArray:
    """Actual purchases (customer-days) in (calibration_end, holdout_end] for each of
    `customer_ids` (in that order; 0 for a customer with none): what
    `expected_purchases` over the holdout should predict, customer by customer."""
    start, end = _day_number(calibration_end), _day_number(holdout_end)
    if end < start:
        raise ValueError("holdout_end is before calibration_end")
    wanted = np.asarray(customer_ids)
    day_numbers = transactions.days.astype(np.int64)
    in_holdout = (day_numbers > start) & (day_numbers <= end)
    seen_ids, seen_index = np.unique(transactions.customer_ids[in_holdout], return_inverse=True)
    customers, _, _ = _purchase_days(
        seen_index.astype(np.int64).ravel(),
        day_numbers[in_holdout],
        transactions.amounts[in_holdout],
    )
    counts = np.bincount(customers, minlength=seen_ids.size).astype(np.int64)
    if seen_ids.size == 0:
        return np.zeros(wanted.shape, dtype=np.int64)
    position = np.clip(np.searchsorted(seen_ids, wanted), 0, seen_ids.size - 1)
    found = seen_ids[position] == wanted
    return np.where(found, counts[position], 0).astype(np.int64)
