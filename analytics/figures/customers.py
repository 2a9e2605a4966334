"""Customer figures: cohort retention, churn and at-risk, repeat purchase, purchase
frequency, AOV and ARPU, acquisition and CAC, and historic lifetime value.

Cohorts and acquisition read the rollups (CohortCell, CustomerFacts, ContactMonth);
order figures read the purchase events of the period through the
(workspace, name, occurred_at) index — a tenth of all events, for the period only."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from analytics.figures.common import NO_FILTERS, Filters, Period, bucket_start, buckets, fetch
from analytics.figures.stages import movement, stage_counts_on
from analytics.models import AnalyticsSettings, CohortCell
from lifecycle.models import Stage
from workspaces.models import Workspace

CENT = Decimal("0.01")


def _money(value: Any) -> str:
    return str(Decimal(value or 0).quantize(CENT))


def _months_between(first: dt.date, later: dt.date) -> int:
    return (later.year - first.year) * 12 + later.month - first.month


def cohorts(
    *,
    workspace: Workspace,
    start_month: dt.date,
    end_month: dt.date,
    basis: str = CohortCell.Basis.SIGNUP,
    filters: Filters = NO_FILTERS,
) -> list[dict[str, Any]]:
    """For each cohort month: its size and, for each month after (offset 0 = the
    cohort's own month), how many were active, how many bought, and revenue."""
    # The cohort cells are per source only: other filters read the contacts' facts.
    if filters.segment is not None or filters.signup_month is not None:
        rows = _cohorts_of_contacts(workspace, start_month, end_month, basis, filters)
    else:
        source_sql = "" if filters.source is None else "AND source = %s"
        params: list[Any] = [workspace.pk, basis, start_month, end_month]
        if filters.source is not None:
            params.append(filters.source)
        rows = fetch(
            f"""
            SELECT cohort, month, sum(size), sum(active), sum(purchasing), sum(revenue)
            FROM analytics_cohortcell
            WHERE workspace_id = %s AND basis = %s AND cohort BETWEEN %s AND %s {source_sql}
            GROUP BY cohort, month ORDER BY cohort, month
            """,
            params,
        )
    table: dict[dt.date, dict[str, Any]] = {}
    for cohort, month, size, active, purchasing, revenue in rows:
        entry = table.setdefault(
            cohort, {"cohort": cohort.isoformat()[:7], "size": 0, "months": {}}
        )
        entry["size"] += size
        if active or purchasing or revenue:
            entry["months"][_months_between(cohort, month)] = {
                "active": active,
                "purchasing": purchasing,
                "revenue": _money(revenue),
            }
    out = []
    for cohort in sorted(table):
        entry = table[cohort]
        size = entry["size"]
        span = _months_between(cohort, end_month.replace(day=1))
        entry["months"] = [
            {
                **entry["months"].get(offset, {"active": 0, "purchasing": 0, "revenue": "0.00"}),
                "offset": offset,
                "active_share": round(entry["months"].get(offset, {}).get("active", 0) / size, 4)
                if size
                else None,
                "purchasing_share": round(
                    entry["months"].get(offset, {}).get("purchasing", 0) / size, 4
                )
                if size
                else None,
            }
            for offset in range(0, max(span, 0) + 1)
        ]
        if size:
            out.append(entry)
    return out


def _cohorts_of_contacts(
    workspace: Workspace, start_month: dt.date, end_month: dt.date, basis: str, filters: Filters
) -> list[tuple[Any, ...]]:
    """The cohort table of the contacts the filters keep, from their facts and months."""
    condition, params = filters.contacts_sql(workspace, "f.contact_id")
    cohort = "f.signup_month" if basis == CohortCell.Basis.SIGNUP else "f.first_purchase_month"
    return fetch(
        f"""
        WITH f AS (SELECT * FROM analytics_customerfacts f
                   WHERE f.workspace_id = %s AND {condition}
                     AND {cohort} BETWEEN %s AND %s)
        SELECT {cohort}, {cohort}, count(*), 0, 0, 0 FROM f GROUP BY 1
        UNION ALL
        SELECT {cohort}, m.month, 0, count(*) FILTER (WHERE m.events > 0),
               count(*) FILTER (WHERE m.purchases > 0), sum(m.revenue)
        FROM f JOIN analytics_contactmonth m ON m.contact_id = f.contact_id
        WHERE m.month >= {cohort} GROUP BY 1, 2
        """,
        [workspace.pk, *params, start_month, end_month],
    )


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


def _active_contacts(workspace: Workspace, period: Period, filters: Filters) -> int:
    """Contacts with any event in the calendar months the period touches."""
    condition, params = filters.contacts_sql(workspace)
    return fetch(
        f"SELECT count(DISTINCT contact_id) FROM analytics_contactmonth "
        f"WHERE workspace_id = %s AND month BETWEEN %s AND %s AND events > 0 AND {condition}",
        [workspace.pk, period.start.replace(day=1), period.end.replace(day=1), *params],
    )[0][0]


def revenue_metrics(
    *, workspace: Workspace, period: Period, filters: Filters = NO_FILTERS
) -> dict[str, Any]:
    """Orders, revenue, AOV, purchase frequency, repeat purchase rate and ARPU."""
    orders = _orders(workspace, period, filters)
    active = _active_contacts(workspace, period, filters)
    customers = orders["customers"]
    return {
        "customers": customers,
        "orders": int(orders["orders"]),
        "purchases": orders["purchases"],
        "revenue": _money(orders["revenue"]),
        "average_order_value": _money(orders["revenue"] / orders["orders"])
        if orders["orders"]
        else None,
        "purchase_frequency": round(int(orders["orders"]) / customers, 4) if customers else None,
        "repeat_purchase_rate": round(orders["repeat_customers"] / customers, 4)
        if customers
        else None,
        "active_contacts": active,
        "arpu": _money(orders["revenue"] / active) if active else None,
    }


def _stage_keys(workspace: Workspace) -> tuple[str, str]:
    settings = AnalyticsSettings.objects.filter(workspace=workspace).first()
    return (
        (settings.churned_stage_key, settings.at_risk_stage_key)
        if settings
        else ("lapsed", "at_risk")
    )


def customers_before(
    workspace: Workspace, instants: list[dt.datetime], filters: Filters = NO_FILTERS
) -> list[int]:
    """For each instant, the contacts whose first purchase was before it (one scan)."""
    if not instants:
        return []
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
) -> list[int]:
    """For each instant, the customers then: contacts whose first purchase was before
    it and who were not in the churned stage at it (two scans: the facts, and the
    churned stage's stays that cover any of the instants)."""
    bought = customers_before(workspace, instants, filters)
    if churned_id is None or not instants:
        return bought
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
    *, workspace: Workspace, period: Period, granularity: str, filters: Filters = NO_FILTERS
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
    at_starts = customers_at(workspace, starts, churned_id, filters)
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
    *, workspace: Workspace, period: Period, granularity: str, filters: Filters = NO_FILTERS
) -> list[dict[str, Any]]:
    """New contacts and new customers per source and bucket, with spend and CAC (spend
    of the bucket's months over the new customers) when spend is entered (monthly;
    unfiltered, or filtered by source only: spend is per source, not per segment)."""
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
    spend = []
    if filters.segment is None and filters.signup_month is None:
        spend = fetch(
            "SELECT month, source, amount FROM analytics_spend WHERE workspace_id = %s "
            "AND month BETWEEN %s AND %s AND (%s::text IS NULL OR source = %s)",
            [workspace.pk, period.start.replace(day=1), period.end, filters.source, filters.source],
        )
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
        entry["spend"] = _money(spend_value) if has_spend else None
        entry["cac"] = (
            _money(spend_value / entry["new_customers"])
            if has_spend and entry["new_customers"]
            else None
        )
        out.append(entry)
    return out


def clv_historic(*, workspace: Workspace, filters: Filters = NO_FILTERS) -> dict[str, Any]:
    """Revenue to date per customer (contacts with a purchase), by signup cohort and by
    current stage."""
    condition, params = filters.contacts_sql(workspace, "f.contact_id")
    by_cohort = fetch(
        f"SELECT f.signup_month, count(*), sum(f.revenue) FROM analytics_customerfacts f "
        f"WHERE f.workspace_id = %s AND f.purchases > 0 AND {condition} GROUP BY 1 ORDER BY 1",
        [workspace.pk, *params],
    )
    by_stage = fetch(
        f"SELECT s.key, count(*), sum(f.revenue) FROM analytics_customerfacts f "
        f"LEFT JOIN lifecycle_contactstage cs ON cs.contact_id = f.contact_id "
        f"LEFT JOIN lifecycle_stage s ON s.id = cs.stage_id "
        f"WHERE f.workspace_id = %s AND f.purchases > 0 AND {condition} GROUP BY 1 ORDER BY 1",
        [workspace.pk, *params],
    )
    total = fetch(
        f"SELECT count(*), coalesce(sum(f.revenue), 0) FROM analytics_customerfacts f "
        f"WHERE f.workspace_id = %s AND f.purchases > 0 AND {condition}",
        [workspace.pk, *params],
    )[0]

    def row(key: str, label: Any, customers: int, revenue: Any) -> dict[str, Any]:
        return {
            key: label,
            "customers": customers,
            "revenue": _money(revenue),
            "revenue_per_customer": _money(Decimal(revenue) / customers) if customers else None,
        }

    return {
        "customers": total[0],
        "revenue": _money(total[1]),
        "revenue_per_customer": _money(Decimal(total[1]) / total[0]) if total[0] else None,
        "by_cohort": [row("cohort", c.isoformat()[:7], n, r) for c, n, r in by_cohort],
        "by_stage": [row("stage", k, n, r) for k, n, r in by_stage],
    }


CLV_BUCKETS = [0, 25, 50, 100, 250, 500, 1000]


def clv_predicted(*, workspace: Workspace, filters: Filters = NO_FILTERS) -> dict[str, Any]:
    """The applied fit's predictions: customers with one, predicted 12-month revenue in
    total and per customer, how many are probably gone (P(alive) < 0.5), by current
    stage, and a histogram of predicted CLV."""
    condition, params = filters.contacts_sql(workspace, "f.contact_id")
    bucket_sql = ", ".join(
        f"count(*) FILTER (WHERE f.predicted_clv >= {low}"
        + (f" AND f.predicted_clv < {high})" if high is not None else ")")
        for low, high in zip(CLV_BUCKETS, [*CLV_BUCKETS[1:], None], strict=True)
    )
    rows = fetch(
        f"""
        SELECT s.key, count(*), coalesce(sum(f.predicted_clv), 0),
               count(*) FILTER (WHERE f.probability_alive < 0.5),
               avg(f.probability_alive), {bucket_sql}
        FROM analytics_customerfacts f
        LEFT JOIN lifecycle_contactstage cs ON cs.contact_id = f.contact_id
        LEFT JOIN lifecycle_stage s ON s.id = cs.stage_id
        WHERE f.workspace_id = %s AND f.probability_alive IS NOT NULL AND {condition}
        GROUP BY 1 ORDER BY 1
        """,
        [workspace.pk, *params],
    )
    customers = sum(r[1] for r in rows)
    total = sum((Decimal(r[2]) for r in rows), Decimal(0))
    histogram = [sum(r[5 + i] for r in rows) for i in range(len(CLV_BUCKETS))]
    return {
        "customers": customers,
        "predicted_revenue": _money(total),
        "predicted_clv_per_customer": _money(total / customers) if customers else None,
        "probably_gone": sum(r[3] for r in rows),
        "by_stage": [
            {
                "stage": key,
                "customers": n,
                "predicted_revenue": _money(revenue),
                "predicted_clv_per_customer": _money(Decimal(revenue) / n) if n else None,
                "probably_gone": gone,
                "mean_probability_alive": round(float(alive), 4) if alive is not None else None,
            }
            for key, n, revenue, gone, alive, *_ in rows
        ],
        "histogram": [
            {"from": low, "to": high, "customers": histogram[i]}
            for i, (low, high) in enumerate(zip(CLV_BUCKETS, [*CLV_BUCKETS[1:], None], strict=True))
        ],
    }
