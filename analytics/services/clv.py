"""Predicted customer lifetime value: BG/NBD and Gamma-Gamma fitted per workspace on
its purchases (analytics/clv/ has the models), predictions written on each customer's
facts, where rules and figures read them.

A customer is a contact with a purchase (an event with one of the workspace's purchase
names and a revenue) up to `as_of`; days are the workspace's local days, a customer-day
is one purchase (the models' convention, analytics/clv/rfm.py). Contacts who never
bought have no prediction."""

from __future__ import annotations

import datetime as dt
import logging
import time
import zoneinfo
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
from django.db import connection, transaction
from django.utils import timezone

from analytics.cache import figures_changed
from analytics.clv.bgnbd import bgnbd_fit, expected_purchases, probability_alive
from analytics.clv.gamma_gamma import GammaGammaFit, gamma_gamma_fit
from analytics.clv.lifetime_value import predicted_clv
from analytics.clv.spend_checks import (
    population_mean_order,
    shrunk_mean_values,
    spend_fit_problem,
)
from analytics.models import ClvModel
from analytics.rollups.clv_summary import clv_summary_refresh
from config.errors import Conflict, InvalidInput
from workspaces.models import Workspace

logger = logging.getLogger(__name__)

HORIZON_WEEKS = 52.0  # predictions are for the next twelve months
MIN_CUSTOMERS = 20  # below this the fit says nothing
MIN_REPEAT_CUSTOMERS = 5  # Gamma-Gamma needs customers with repeat purchases
_LOCK_SPACE = 7202  # advisory-lock namespace: one fit of a workspace at a time
_WRITE_CHUNK = 50_000
# The backtest of an applied fit holds out the last quarter of the history, between
# four and thirteen weeks, and groups customers by their repeat purchases before it.
BACKTEST_DAYS = (28, 91)
BACKTEST_GROUPS = 7  # 0, 1, ..., 6 and "7 or more" repeat purchases

# Per customer: calibration (days up to as_of) and holdout (days after it) figures.
_RFM_SQL = """
WITH days AS (
    SELECT contact_id, (occurred_at AT TIME ZONE %(tz)s)::date AS day, sum(revenue) AS value
    FROM contacts_event
    WHERE workspace_id = %(workspace)s AND name = ANY(%(names)s) AND revenue IS NOT NULL
    GROUP BY 1, 2
)
SELECT contact_id,
       count(*) FILTER (WHERE day <= %(as_of)s) - 1 AS x,
       max(day) FILTER (WHERE day <= %(as_of)s) - min(day) AS t_days,
       %(as_of)s::date - min(day) AS age_days,
       coalesce(
           (sum(value) FILTER (WHERE day <= %(as_of)s) - (array_agg(value ORDER BY day))[1])
           / nullif(count(*) FILTER (WHERE day <= %(as_of)s) - 1, 0), 0) AS m_x,
       count(*) FILTER (WHERE day > %(as_of)s) AS after
FROM days
GROUP BY contact_id
HAVING min(day) <= %(as_of)s
ORDER BY contact_id
"""


@dataclass
class Customers:
    ids: np.ndarray
    x: np.ndarray
    t_x: np.ndarray  # weeks
    T: np.ndarray  # weeks
    m_x: np.ndarray
    after: np.ndarray  # purchase days after as_of (holdout)


def _customers(workspace: Workspace, as_of: dt.date) -> Customers:
    with connection.cursor() as cursor:
        cursor.execute(
            _RFM_SQL,
            {
                "tz": workspace.time_zone,
                "workspace": workspace.pk,
                "names": workspace.purchase_event_names,
                "as_of": as_of,
            },
        )
        rows = cursor.fetchall()
    if not rows:
        columns: list[Any] = [np.zeros(0)] * 6
    else:
        columns = [np.asarray(column, dtype=np.float64) for column in zip(*rows, strict=True)]
    ids, x, t_days, age_days, m_x, after = columns
    return Customers(ids.astype(np.int64), x, t_days / 7.0, age_days / 7.0, m_x, after)


def _weights(*columns: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Distinct rows and how many customers share each (the fit is over these)."""
    stacked = np.column_stack(columns)
    distinct, counts = np.unique(stacked, axis=0, return_counts=True)
    return [distinct[:, i] for i in range(len(columns))], counts.astype(np.float64)


def _today(workspace: Workspace) -> dt.date:
    return timezone.now().astimezone(zoneinfo.ZoneInfo(workspace.time_zone)).date()


def clv_fit(*, workspace: Workspace, as_of: dt.date | None = None) -> ClvModel:
    """Fit both models on the purchases up to the end of local day `as_of` (default
    today) and keep the fit. A fit as of today writes its predictions on the contacts
    (`applied`); one as of a past date is a backtest and records, in `holdout`, how
    many purchases it predicted for the days since and how many happened."""
    today = _today(workspace)
    as_of = as_of or today
    if as_of > today:
        raise InvalidInput("as_of is in the future.", fields={"as_of": ["must not be after today"]})
    started = time.perf_counter()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_LOCK_SPACE, workspace.pk])
        customers = _customers(workspace, as_of)
        n = int(customers.ids.size)
        repeaters = int(np.count_nonzero((customers.x > 0) & (customers.m_x > 0)))
        if n < MIN_CUSTOMERS:
            raise Conflict(
                f"Not enough purchase history: {n} customers bought up to {as_of}, "
                f"the models need at least {MIN_CUSTOMERS}.",
                code="not_enough_data",
            )
        (x, t_x, T), weights = _weights(customers.x, customers.t_x, customers.T)
        bgnbd = bgnbd_fit(x, t_x, T, weights=weights)
        spend = _spend_model(customers, repeaters)
        gg = spend.fit
        applied = as_of == today
        holdout = backtest = None
        if applied:
            _apply(workspace, customers, bgnbd, spend)
            clv_summary_refresh(workspace_id=workspace.pk)  # the report's sums, same snapshot
            backtest = clv_backtest(workspace=workspace, today=today, history=customers)
        else:
            weeks = (today - as_of).days / 7.0
            predicted = expected_purchases(bgnbd, weeks, customers.x, customers.t_x, customers.T)
            holdout = {
                "until": today.isoformat(),
                "weeks": round(weeks, 3),
                "customers": n,
                "predicted_purchases": round(float(predicted.sum()), 1),
                "actual_purchases": int(customers.after.sum()),
            }
        model = ClvModel.objects.create(
            workspace=workspace,
            as_of=as_of,
            r=bgnbd.r,
            alpha=bgnbd.alpha,
            a=bgnbd.a,
            b=bgnbd.b,
            p=gg.p if gg else None,
            q=gg.q if gg else None,
            gamma=gg.gamma if gg else None,
            log_likelihood=bgnbd.log_likelihood,
            gamma_gamma_log_likelihood=gg.log_likelihood if gg else None,
            customers=n,
            repeat_customers=repeaters,
            horizon_weeks=HORIZON_WEEKS,
            fit_seconds=round(time.perf_counter() - started, 3),
            applied=applied,
            holdout=holdout,
            spend_model=spend.kind,
            spend_model_reason=spend.reason,
            population_mean_order=Decimal(f"{spend.population_mean:.2f}")
            if spend.kind == ClvModel.SpendModel.SHRUNK_MEAN
            else None,
            backtest=backtest,
        )
    figures_changed(workspace_id=workspace.pk)
    logger.info(
        "analytics.clv_fitted workspace=%s as_of=%s customers=%s seconds=%.1f applied=%s",
        workspace.pk,
        as_of,
        n,
        model.fit_seconds,
        applied,
    )
    return model


def _finite(values: Any, digits: int) -> list[float | None]:
    """Rounded values, None where the model gave none (never NaN into a rule)."""
    return [float(v) if np.isfinite(v) else None for v in np.round(values, digits)]


@dataclass
class SpendModel:
    """How the value of a customer's future orders is predicted: the Gamma-Gamma fit,
    or (when it is refused: analytics/clv/spend_checks.py) each customer's own mean
    shrunk to the population mean, or nothing (too few repeat customers)."""

    kind: str
    reason: str
    fit: GammaGammaFit | None = None
    population_mean: float = 0.0


def _spend_model(customers: Customers, repeaters: int) -> SpendModel:
    if repeaters < MIN_REPEAT_CUSTOMERS:
        return SpendModel(
            ClvModel.SpendModel.NONE,
            f"Only {repeaters} customers bought more than once; predicting the value of "
            f"future orders needs at least {MIN_REPEAT_CUSTOMERS}.",
        )
    spenders = (customers.x > 0) & (customers.m_x > 0)
    x, m_x = customers.x[spenders], customers.m_x[spenders]
    fit = gamma_gamma_fit(x, m_x)
    problem = spend_fit_problem(fit, m_x)
    if not problem:
        return SpendModel(ClvModel.SpendModel.GAMMA_GAMMA, "", fit)
    return SpendModel(
        ClvModel.SpendModel.SHRUNK_MEAN, problem, population_mean=population_mean_order(x, m_x)
    )


def _apply(workspace: Workspace, customers: Customers, bgnbd: Any, spend: SpendModel) -> None:
    """Write each customer's probability alive, expected purchases and predicted CLV
    (12 months) on its facts; clear them on contacts that are no longer customers."""
    alive = probability_alive(bgnbd, customers.x, customers.t_x, customers.T)
    expected = expected_purchases(bgnbd, HORIZON_WEEKS, customers.x, customers.t_x, customers.T)
    # a refunded-to-nothing repeat history counts as spending nothing
    m_x = np.maximum(customers.m_x, 0.0)
    clv: Any = None
    if spend.fit is not None:
        clv = predicted_clv(
            bgnbd, spend.fit, customers.x, customers.t_x, customers.T, m_x, HORIZON_WEEKS
        )
    elif spend.kind == ClvModel.SpendModel.SHRUNK_MEAN:
        clv = expected * shrunk_mean_values(customers.x, m_x, spend.population_mean)
    values: list[Decimal | None] = (
        [Decimal(f"{v:.2f}") if np.isfinite(v) else None for v in clv]
        if clv is not None
        else [None] * int(customers.ids.size)
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE analytics_customerfacts SET predicted_clv = NULL, probability_alive = NULL, "
            "expected_purchases = NULL WHERE workspace_id = %s AND purchases = 0 "
            "AND probability_alive IS NOT NULL",
            [workspace.pk],
        )
        for low in range(0, int(customers.ids.size), _WRITE_CHUNK):
            high = low + _WRITE_CHUNK
            cursor.execute(
                """
                UPDATE analytics_customerfacts f
                SET predicted_clv = u.clv, probability_alive = u.alive,
                    expected_purchases = u.expected
                FROM unnest(%s::bigint[], %s::numeric[], %s::float8[], %s::float8[])
                     AS u(id, clv, alive, expected)
                WHERE f.contact_id = u.id AND f.workspace_id = %s
                """,
                [
                    customers.ids[low:high].tolist(),
                    values[low:high],
                    _finite(alive[low:high], 6),
                    _finite(expected[low:high], 4),
                    workspace.pk,
                ],
            )


def clv_backtest(*, workspace: Workspace, today: dt.date, history: Customers) -> dict[str, Any]:
    """Refit BG/NBD on the purchases up to a past day (a quarter of the history ago,
    4 to 13 weeks) and compare the purchases it predicts for the days since with those
    that happened, in total and by the customers' repeat purchases up to that day (the
    check of Fader, Hardie & Lee 2005, figure 3). Predictions on contacts stay as
    they are."""
    history_days = round(float(history.T.max(initial=0.0)) * 7)
    low, high = BACKTEST_DAYS
    days = min(high, max(low, history_days // 4))
    as_of = today - dt.timedelta(days=days)
    past = _customers(workspace, as_of)
    result: dict[str, Any] = {"as_of": as_of.isoformat(), "until": today.isoformat(), "days": days}
    if past.ids.size < MIN_CUSTOMERS:
        return result | {
            "customers": int(past.ids.size),
            "skipped": f"{past.ids.size} customers had bought by {as_of}; "
            f"a backtest needs at least {MIN_CUSTOMERS}.",
        }
    (x, t_x, T), weights = _weights(past.x, past.t_x, past.T)
    fit = bgnbd_fit(x, t_x, T, weights=weights)
    predicted = expected_purchases(fit, days / 7.0, past.x, past.t_x, past.T)
    group = np.minimum(past.x, BACKTEST_GROUPS).astype(np.int64)
    rows = []
    for g in range(BACKTEST_GROUPS + 1):
        members = group == g
        if not members.any():
            continue
        rows.append(
            {
                "repeat_purchases": str(g) if g < BACKTEST_GROUPS else f"{g}+",
                "customers": int(members.sum()),
                "predicted_purchases": round(float(predicted[members].sum()), 1),
                "actual_purchases": int(past.after[members].sum()),
            }
        )
    total_predicted = float(predicted.sum())
    actual = int(past.after.sum())
    error = round((total_predicted - actual) / actual, 4) if actual else None
    return result | {
        "customers": int(past.ids.size),
        "predicted_purchases": round(total_predicted, 1),
        "actual_purchases": actual,
        # how far off the total was, as a share of what happened (None: nothing did)
        "error": error,
        # within 10%, 10-25% or further off: what the page says about trusting it
        "error_size": None
        if error is None
        else "close"
        if abs(error) <= 0.10
        else "rough"
        if abs(error) <= 0.25
        else "far",
        "groups": rows,
    }


def clv_model_current(*, workspace: Workspace) -> ClvModel | None:
    """The latest fit of the workspace (a backtest included)."""
    return ClvModel.objects.filter(workspace=workspace).order_by("-fitted_at", "-pk").first()


def clv_model_applied(*, workspace: Workspace) -> ClvModel | None:
    """The fit whose predictions are on the contacts."""
    return (
        ClvModel.objects.filter(workspace=workspace, applied=True)
        .order_by("-fitted_at", "-pk")
        .first()
    )
