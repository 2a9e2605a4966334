"""Customer figures: churn and at-risk, repeat purchase, purchase frequency, AOV and
ARPU, acquisition and CAC (cohorts: cohorts.py; lifetime value: clv.py).

Acquisition and active contacts read the rollups (CustomerFacts, ContactMonth's active
days);
order figures read the purchase events of the period through the
(workspace, name, occurred_at) index — a tenth of all events, for the period only."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import Decimal
from typing import Any

from analytics.figures.common import (
    NO_FILTERS,
    Filters,
    Period,
    bucket_start,
    buckets,
    fetch,
    money,
)
from analytics.figures.period_sums import (
    acquisition_from_sums,
    acquisition_sums_apply,
    active_from_sums,
    customers_before_from_sums,
    orders_from_sums,
    orders_of_kept,
)
from analytics.figures.stage_lengths import Counts
from analytics.figures.stages import movement, stage_counts_on
from analytics.models import AnalyticsSettings
from lifecycle.models import Stage
from workspaces.models import Workspace


def _orders(workspace: Workspace, period: Period, filters: Filters) -> dict[str, Any]:
    """Orders (purchase days per contact), revenue and customers of the period."""
    start, end = period.bounds(workspace.time_zone)
    condition, params = filters.contacts_sql(workspace)
    row = fetch(
        f"""
        WITH purchases AS (
            SELECT contact_id, (occurred_at AT TIME ZONE %s)::date AS day, revenue
            FROM contacts_event
            WHERE workspace_id = %s AND name = ANY(%s) AND revenue IS NOT NULL
              AND occurred_at >= %s AND occurred_at < %s AND {condition}
        ), per_contact AS (
            SELECT contact_id, count(DISTINCT day) AS orders, sum(revenue) AS revenue
            FROM purchases GROUP BY contact_id
        )
        SELECT count(*), coalesce(sum(orders), 0), coalesce(sum(revenue), 0),
               count(*) FILTER (WHERE orders >= 2),
               (SELECT count(*) FROM purchases)
        FROM per_contact
        """,
        [workspace.time_zone, workspace.pk, workspace.purchase_event_names, start, end, *params],
    )[0]
    customers, orders, revenue, repeaters, purchases = row
    return {
        "customers": customers,
        "orders": orders,
        "purchases": purchases,
        "revenue": Decimal(revenue),
        "repeat_customers": repeaters,
    }


def day_masks(period: Period) -> tuple[list[dt.date], list[int]]:
    """For each month the period touches, a bit mask of its days inside the period (bit
    d-1 for day d, as in ContactMonth.active_days)."""
    months: dict[dt.date, int] = {}
    day = period.start
    while day <= period.end:
        month = day.replace(day=1)
        months[month] = months.get(month, 0) | (1 << (day.day - 1))
        day += dt.timedelta(days=1)
    return list(months), list(months.values())


def _active_contacts(workspace: Workspace, periods: list[Period], filters: Filters) -> list[int]:
    """For each period, the contacts with any event on a local day of it (not merely in
    a month it touches): each month's active days masked by the period's days in that
    month. Several periods in one pass over the months they touch."""
    condition, params = filters.contacts_sql(workspace)
    masks = [dict(zip(*day_masks(period), strict=True)) for period in periods]
    months = sorted(set().union(*masks))
    counts = ", ".join(
        f"count(DISTINCT contact_id) FILTER (WHERE m.active_days & p.mask{i} <> 0)"
        for i in range(len(periods))
    )
    arrays = "".join(", %s::int[]" for _ in periods)
    names = "".join(f", mask{i}" for i in range(len(periods)))
    row = fetch(
        f"SELECT {counts} FROM analytics_contactmonth m "
        f"JOIN unnest(%s::date[]{arrays}) AS p(month{names}) ON p.month = m.month "
        f"WHERE m.workspace_id = %s AND m.month BETWEEN %s AND %s AND {condition}",
        [
            months,
            *([mask.get(month, 0) for month in months] for mask in masks),
            workspace.pk,
            months[0],
            months[-1],
            *params,
        ],
    )[0]
    return [int(value) for value in row]


def revenue_metrics(
    *,
    workspace: Workspace,
    period: Period,
    filters: Filters = NO_FILTERS,
    use_rollups: bool = True,
) -> dict[str, Any]:
    """Orders, revenue, AOV, purchase frequency, repeat purchase rate and ARPU (from the
    order and active-day sums, by group for a source or signup month: period_sums.py)."""
    if not use_rollups:
        orders = _orders(workspace, period, filters)
        return _metrics(orders, _active_contacts(workspace, [period], filters)[0])
    if filters.segment is not None:
        return revenue_metrics_of(workspace, [period], filters)[0]
    orders = orders_from_sums(workspace, period, filters)
    return _metrics(orders, active_from_sums(workspace.pk, period, filters))


def revenue_metrics_of(
    workspace: Workspace, periods: list[Period], filters: Filters
) -> list[dict[str, Any]]:
    """revenue_metrics of the contacts a filter keeps, for consecutive periods at once
    (the overview's period and the one before): their purchase days and months are
    read once."""
    orders = orders_of_kept(workspace, periods, filters)
    active = _active_contacts(workspace, periods, filters)
    return [_metrics(o, a) for o, a in zip(orders, active, strict=True)]


def _metrics(orders: dict[str, Any], active: int) -> dict[str, Any]:
    customers = orders["customers"]
    return {
        "customers": customers,
        "orders": int(orders["orders"]),
        "purchases": orders["purchases"],
        "revenue": money(orders["revenue"]),
        "average_order_value": money(orders["revenue"] / orders["orders"])
        if orders["orders"]
        else None,
        "purchase_frequency": round(int(orders["orders"]) / customers, 4) if customers else None,
        "repeat_purchase_rate": round(orders["repeat_customers"] / customers, 4)
        if customers
        else None,
        "active_contacts": active,
        "arpu": money(orders["revenue"] / active) if active else None,
    }


def _stage_keys(workspace: Workspace) -> tuple[str, str]:
    settings = AnalyticsSettings.objects.filter(workspace=workspace).first()
    return (
        (settings.churned_stage_key, settings.at_risk_stage_key)
        if settings
        else ("lapsed", "at_risk")
    )


def _local_midnights(workspace: Workspace, instants: list[dt.datetime]) -> list[dt.date] | None:
    """The local days these instants begin, when every one is a local midnight."""
    tz = zoneinfo.ZoneInfo(workspace.time_zone)
    days = [instant.astimezone(tz).date() for instant in instants]
    midnights = all(
        dt.datetime.combine(day, dt.time(), tzinfo=tz) == instant
        for day, instant in zip(days, instants, strict=True)
    )
    return days if midnights else None


def customers_before(
    workspace: Workspace,
    instants: list[dt.datetime],
    filters: Filters = NO_FILTERS,
    use_rollups: bool = True,
) -> list[int]:
    """For each instant, the contacts whose first purchase was before it (one scan; of
    the acquisition sums when every instant is a local midnight and no segment
    filters)."""
    if not instants:
        return []
    days = _local_midnights(workspace, instants)
    if use_rollups and days is not None and acquisition_sums_apply(filters):
        # before a local midnight = on an earlier local day: the sums by day say it
        return customers_before_from_sums(workspace.pk, days, filters)
    condition, params = filters.contacts_sql(workspace)
    counts = ", ".join("count(*) FILTER (WHERE first_purchase_at < %s)" for _ in instants)
    row = fetch(
        f"SELECT {counts} FROM analytics_customerfacts WHERE workspace_id = %s "
        f"AND first_purchase_at < %s AND {condition}",
        [*instants, workspace.pk, max(instants), *params],
    )[0]
    return [int(value) for value in row]


def customers_at(
    workspace: Workspace,
    instants: list[dt.datetime],
    churned_id: int | None,
    filters: Filters = NO_FILTERS,
    use_rollups: bool = True,
) -> list[int]:
    """For each instant, the customers then: contacts whose first purchase was before
    it and not in the churned stage at it (the facts and the churned stage's stays; at
    local midnights without a segment, the acquisition sums and the cover counts)."""
    bought = customers_before(workspace, instants, filters, use_rollups)
    if churned_id is None or not instants:
        return bought
    days = _local_midnights(workspace, instants)
    if use_rollups and days is not None and filters.segment is None:
        # a stay covers the start of day D from its cover_from to the day it ended (the
        # cover counts, or those by group for a source or signup-month filter)
        cover = Counts.of("analytics_churncover", "cover", filters)
        rows_sql, rows_params = cover.rows("stage_id, from_day, to_day, stays", workspace.pk)
        covers = "from_day <= %s AND (to_day IS NULL OR to_day >= %s)"
        counts = ", ".join(f"coalesce(sum(stays) FILTER (WHERE {covers}), 0)" for _ in days)
        row = fetch(
            f"SELECT {counts} FROM {rows_sql} WHERE stage_id = %s AND {covers}",
            [*(d for day in days for d in (day, day)), *rows_params, churned_id, max(days),
             min(days)],
        )[0]  # fmt: skip
        return [ever - int(gone) for ever, gone in zip(bought, row, strict=True)]
    condition, params = filters.contacts_sql(workspace, "s.contact_id")
    counts = ", ".join(
        "count(*) FILTER (WHERE s.entered_at < %s AND (s.left_at IS NULL OR s.left_at >= %s) "
        "AND f.first_purchase_at < %s)"
        for _ in instants
    )
    row = fetch(
        f"SELECT {counts} FROM analytics_stay s "
        f"JOIN analytics_customerfacts f ON f.contact_id = s.contact_id "
        f"WHERE s.workspace_id = %s AND s.stage_id = %s AND s.entered_at < %s "
        f"AND (s.left_at IS NULL OR s.left_at >= %s) AND {condition}",
        [
            *(value for instant in instants for value in (instant, instant, instant)),
            workspace.pk,
            churned_id,
            max(instants),
            min(instants),
            *params,
        ],
    )[0]
    return [ever - int(gone) for ever, gone in zip(bought, row, strict=True)]


def churn(
    *,
    workspace: Workspace,
    period: Period,
    granularity: str,
    filters: Filters = NO_FILTERS,
    use_rollups: bool = True,
) -> list[dict[str, Any]]:
    """Per bucket: customers at its start (contacts who had bought and were not in the
    churned stage then), how many entered the churned stage during it, the churn rate, and
    how many were at risk at its end."""

    churned_key, at_risk_key = _stage_keys(workspace)
    stage_ids = dict(
        Stage.objects.filter(workspace=workspace, key__in=[churned_key, at_risk_key]).values_list(
            "key", "pk"
        )
    )
    moves = {
        (row["bucket"], row["stage"]): row
        for row in movement(
            workspace=workspace, period=period, granularity=granularity, filters=filters
        )
    }
    spans = []
    for bucket in buckets(period, granularity):
        first_day = max(bucket, period.start)
        last_day = min(_next(bucket, granularity) - dt.timedelta(days=1), period.end)
        spans.append((bucket, first_day, last_day))
    counts = stage_counts_on(workspace, [last for _, _, last in spans], filters)
    starts = [Period(first, last).bounds(workspace.time_zone)[0] for _, first, last in spans]
    churned_id = stage_ids.get(churned_key)
    at_risk_id = stage_ids.get(at_risk_key)
    at_starts = customers_at(workspace, starts, churned_id, filters, use_rollups)
    out = []
    for (bucket, _, last_day), customers in zip(spans, at_starts, strict=True):
        churned = moves.get((bucket.isoformat(), churned_key), {}).get("entries", 0)
        out.append(
            {
                "bucket": bucket.isoformat(),
                "customers_at_start": customers,
                "churned": churned,
                "churn_rate": round(churned / customers, 4) if customers > 0 else None,
                "at_risk_at_end": counts[last_day].get(at_risk_id, 0) if at_risk_id else 0,
            }
        )
    return out


def _next(bucket: dt.date, granularity: str) -> dt.date:
    if granularity == "month":
        return (bucket.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return bucket + dt.timedelta(days=7 if granularity == "week" else 1)


def acquisition(
    *,
    workspace: Workspace,
    period: Period,
    granularity: str,
    filters: Filters = NO_FILTERS,
    use_rollups: bool = True,
) -> list[dict[str, Any]]:
    """New contacts and new customers per source and bucket, with spend and CAC (spend
    of the bucket's months over the new customers) when spend is entered (monthly;
    unfiltered, or filtered by source only: spend is per source, not per segment)."""
    if use_rollups and acquisition_sums_apply(filters):
        contacts, customers = acquisition_from_sums(workspace.pk, period, filters)
    else:
        contacts, customers = _acquisition_raw(workspace, period, filters)
    spend = []
    if filters.segment is None and filters.signup_month is None:
        spend = fetch(
            "SELECT month, source, amount FROM analytics_spend WHERE workspace_id = %s "
            "AND month BETWEEN %s AND %s AND (%s::text IS NULL OR source = %s)",
            [workspace.pk, period.start.replace(day=1), period.end, filters.source, filters.source],
        )
    return _acquisition_table(contacts, customers, spend, granularity)


def _acquisition_raw(workspace: Workspace, period: Period, filters: Filters) -> tuple[list, list]:
    """The definition: new contacts and customers per local day and source, from the
    facts."""
    start, end = period.bounds(workspace.time_zone)
    condition, params = filters.contacts_sql(workspace)
    contacts = fetch(
        "SELECT (signup_at AT TIME ZONE %s)::date, source, count(*) FROM analytics_customerfacts "
        f"WHERE workspace_id = %s AND signup_at >= %s AND signup_at < %s AND {condition} "
        "GROUP BY 1, 2",
        [workspace.time_zone, workspace.pk, start, end, *params],
    )
    customers = fetch(
        "SELECT (first_purchase_at AT TIME ZONE %s)::date, source, count(*) "
        "FROM analytics_customerfacts WHERE workspace_id = %s AND first_purchase_at >= %s "
        f"AND first_purchase_at < %s AND {condition} GROUP BY 1, 2",
        [workspace.time_zone, workspace.pk, start, end, *params],
    )
    return contacts, customers


def _acquisition_table(
    contacts: list, customers: list, spend: list, granularity: str
) -> list[dict[str, Any]]:
    table: dict[tuple[dt.date, str], dict[str, Any]] = {}

    def cell(bucket: dt.date, source: str) -> dict[str, Any]:
        return table.setdefault(
            (bucket, source),
            {
                "bucket": bucket.isoformat(),
                "source": source,
                "new_contacts": 0,
                "new_customers": 0,
                "spend": Decimal(0),
                "has_spend": False,
            },
        )

    for day, source, n in contacts:
        cell(bucket_start(day, granularity), source)["new_contacts"] += n
    for day, source, n in customers:
        cell(bucket_start(day, granularity), source)["new_customers"] += n
    if granularity == "month":
        for month, source, amount in spend:
            entry = cell(month, source)
            entry["spend"] += amount
            entry["has_spend"] = True
    out = []
    for key in sorted(table):
        entry = table[key]
        has_spend = entry.pop("has_spend")
        spend_value = entry.pop("spend")
        entry["spend"] = money(spend_value) if has_spend else None
        entry["cac"] = (
            money(spend_value / entry["new_customers"])
            if has_spend and entry["new_customers"]
            else None
        )
        out.append(entry)
    return out
