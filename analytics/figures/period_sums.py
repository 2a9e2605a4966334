"""A period's orders, customers, active contacts and acquisition read from the period
rollups (analytics/models_periods.py) instead of the purchases, months and facts:
the same numbers as the definitions in customers.py and overview.py (the tests
compare them on random data), in time that does not grow with the contacts.

Used when the figure's filters allow: the order and active-day sums serve no filter,
and are kept again by source and signup month for those filters
(rollups/period_groups.py); acquisition counts keep the source and the signup day, so
they serve the source and signup-month filters too; a segment never."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from analytics.figures.common import NO_FILTERS, Filters, Period, fetch
from workspaces.models import Workspace

# The contacts whose rollup rows may lag their events: a change accepted and not yet
# taken in by the engine (a mark, pending or claimed; the engine deletes it in the
# transaction that refreshes the contact's rows).
MARKED = """
SELECT contact_id FROM contacts_contactmark WHERE workspace_id = %(ws)s AND claimed_at IS NULL
UNION
SELECT contact_id FROM contacts_contactmark WHERE workspace_id = %(ws)s
  AND claimed_at IS NOT NULL
"""

# One statement, one snapshot: the sums, and for the marked contacts what their stored
# purchase days put in them replaced by what their events give now (the definition
# reads the events, so a purchase is in the figures before the engine takes it in).
_ORDERS_SQL = f"""
WITH marked AS MATERIALIZED ({MARKED}),
sums AS (
    SELECT coalesce(sum(orders) FILTER (WHERE previous_day IS NULL
                                        OR previous_day < %(s)s), 0) AS customers,
           coalesce(sum(orders), 0) AS orders, coalesce(sum(purchases), 0) AS purchases,
           coalesce(sum(revenue), 0) AS revenue,
           coalesce(sum(orders) FILTER (WHERE previous_day >= %(s)s AND (
               previous2_day IS NULL OR previous2_day < %(s)s)), 0) AS repeaters
    FROM {{table}} WHERE workspace_id = %(ws)s AND day BETWEEN %(s)s AND %(e)s {{group}}
),
stored AS (
    SELECT contact_id, count(*) AS orders, sum(purchases) AS purchases, sum(revenue) AS revenue
    FROM analytics_purchaseday
    WHERE contact_id IN (SELECT contact_id FROM marked) AND day BETWEEN %(s)s AND %(e)s
      {{kept}}
    GROUP BY 1
),
fresh AS (
    SELECT contact_id, count(DISTINCT (occurred_at AT TIME ZONE %(tz)s)::date) AS orders,
           count(*) AS purchases, sum(revenue) AS revenue
    FROM contacts_event
    WHERE contact_id IN (SELECT contact_id FROM marked) AND workspace_id = %(ws)s
      AND name = ANY(%(names)s) AND revenue IS NOT NULL
      AND occurred_at >= %(start)s AND occurred_at < %(end)s {{kept}}
    GROUP BY 1
),
change AS (
    SELECT 1 AS customers, orders, purchases, revenue, (orders >= 2)::int AS repeaters
    FROM fresh
    UNION ALL
    SELECT -1, -orders, -purchases, -revenue, -(orders >= 2)::int FROM stored
)
SELECT sums.customers + coalesce(sum(change.customers), 0),
       sums.orders + coalesce(sum(change.orders), 0),
       sums.purchases + coalesce(sum(change.purchases), 0),
       sums.revenue + coalesce(sum(change.revenue), 0),
       sums.repeaters + coalesce(sum(change.repeaters), 0)
FROM sums LEFT JOIN change ON true
GROUP BY sums.customers, sums.orders, sums.purchases, sums.revenue, sums.repeaters
"""


def group_conditions(filters: Filters) -> tuple[str, str, dict[str, Any]]:
    """For a source or signup-month filter (no segment): the AND-condition on the sums
    by group, the one on a contact_id column keeping the same contacts (by their facts,
    as the definition), and their named parameters; all empty unfiltered."""
    assert filters.segment is None, "a segment has no sums by group"
    group, params = "", dict[str, Any]()
    if filters.source is not None:
        group += " AND source = %(source)s"
        params["source"] = filters.source
    if filters.signup_month is not None:
        group += " AND signup_month = %(month)s"
        params["month"] = filters.signup_month
    if not group:
        return "", "", params
    kept = (
        "AND contact_id IN (SELECT contact_id FROM analytics_customerfacts "
        f"WHERE workspace_id = %(ws)s {group})"
    )
    return group, kept, params


def orders_from_sums(
    workspace: Workspace, period: Period, filters: Filters = NO_FILTERS
) -> dict[str, Any]:
    """Orders, purchases, revenue, customers and repeat customers of the period. A
    contact bought in [s, e] iff its first order day in it has no previous order day
    on or after s; it is a repeat customer iff its second order day in it has the
    first as previous and an earlier previous-but-one before s. Contacts the engine
    has yet to take in are counted from their events instead (as the definition).
    A source or signup-month filter reads the sums by group (period_groups.py)."""
    start, end = period.bounds(workspace.time_zone)
    group, kept, params = group_conditions(filters)
    table = "analytics_ordergroupday" if group else "analytics_orderday"
    customers, orders, purchases, revenue, repeaters = fetch(
        _ORDERS_SQL.format(table=table, group=group, kept=kept),
        {
            "ws": workspace.pk,
            "s": period.start,
            "e": period.end,
            "tz": workspace.time_zone,
            "names": workspace.purchase_event_names,
            "start": start,
            "end": end,
            **params,
        },
    )[0]
    return _orders(customers, orders, purchases, revenue, repeaters)


def _orders(customers: Any, orders: Any, purchases: Any, revenue: Any, repeaters: Any) -> dict:
    return {
        "customers": int(customers),
        "orders": int(orders),
        "purchases": int(purchases),
        "revenue": Decimal(revenue),
        "repeat_customers": int(repeaters),
    }


# The same figures for the contacts a filter keeps, per contact from their purchase days
# (a few rows a customer, against every event of the period), the marked contacts
# among them from their events (as above); for consecutive periods in one pass, each
# row in the period (`part`, from 1) whose first day is the last one on or before it.
# Positional parameters: a segment's condition comes with its own.
_KEPT_ORDERS_SQL = """
WITH marked AS MATERIALIZED (
    SELECT DISTINCT contact_id FROM contacts_contactmark WHERE workspace_id = %s
),
per_contact AS (
    SELECT width_bucket(day, %s::date[]) AS part, contact_id, count(*) AS orders,
           sum(purchases) AS purchases, sum(revenue) AS revenue
    FROM analytics_purchaseday
    WHERE workspace_id = %s AND day BETWEEN %s AND %s
      AND contact_id NOT IN (SELECT contact_id FROM marked) AND {condition}
    GROUP BY 1, 2
    UNION ALL
    SELECT width_bucket(day, %s::date[]), contact_id, count(DISTINCT day), count(*), sum(revenue)
    FROM (SELECT contact_id, (occurred_at AT TIME ZONE %s)::date AS day, revenue
          FROM contacts_event
          WHERE contact_id IN (SELECT contact_id FROM marked) AND workspace_id = %s
            AND name = ANY(%s) AND revenue IS NOT NULL
            AND occurred_at >= %s AND occurred_at < %s AND {condition}) e
    GROUP BY 1, 2
)
SELECT part, count(*), coalesce(sum(orders), 0), coalesce(sum(purchases), 0),
       coalesce(sum(revenue), 0), count(*) FILTER (WHERE orders >= 2)
FROM per_contact GROUP BY 1
"""


def orders_of_kept(
    workspace: Workspace, periods: list[Period], filters: Filters
) -> list[dict[str, Any]]:
    """orders_from_sums for the contacts the filters keep, for each of consecutive
    periods (each starting the day after the one before ends)."""
    first, last = periods[0], periods[-1]
    start, end = first.bounds(workspace.time_zone)[0], last.bounds(workspace.time_zone)[1]
    starts = [period.start for period in periods]
    condition, params = filters.contacts_sql(workspace)
    ws, names = workspace.pk, workspace.purchase_event_names
    days = [ws, starts, ws, first.start, last.end, *params]
    events = [starts, workspace.time_zone, ws, names, start, end, *params]
    found = {
        part: row
        for part, *row in fetch(_KEPT_ORDERS_SQL.format(condition=condition), [*days, *events])
    }
    return [_orders(*found.get(part, (0, 0, 0, 0, 0))) for part in range(1, len(periods) + 1)]


def active_from_sums(workspace_id: int, period: Period, filters: Filters = NO_FILTERS) -> int:
    """Contacts with an event on a day of the period: each counted by its first active
    day in it, the one whose previous active day is before the period (or none); by
    group for a source or signup-month filter."""
    group, _, params = group_conditions(filters)
    table = "analytics_activegroupday" if group else "analytics_activeday"
    return int(
        fetch(
            f"SELECT coalesce(sum(contacts), 0) FROM {table} "
            "WHERE workspace_id = %(ws)s AND day BETWEEN %(s)s AND %(e)s "
            f"AND (previous_day IS NULL OR previous_day < %(s)s) {group}",
            {"ws": workspace_id, "s": period.start, "e": period.end, **params},
        )[0][0]
    )


def acquisition_sums_apply(filters: Filters) -> bool:
    return filters.segment is None


def _acquisition_condition(filters: Filters) -> tuple[str, list[Any]]:
    parts: list[str] = ["workspace_id = %s"]
    params: list[Any] = []
    if filters.source is not None:
        parts.append("source = %s")
        params.append(filters.source)
    if filters.signup_month is not None:
        month = filters.signup_month
        following = (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        parts.append("signup_day >= %s AND signup_day < %s")
        params.extend([month, following])
    return " AND ".join(parts), params


def acquisition_from_sums(
    workspace_id: int, period: Period, filters: Filters
) -> tuple[list[tuple[dt.date, str, int]], list[tuple[dt.date, str, int]]]:
    """(signup day, source, new contacts) and (first purchase day, source, new
    customers) of the period's days."""
    condition, params = _acquisition_condition(filters)
    out = []
    for day in ("signup_day", "first_purchase_day"):
        rows = fetch(
            f"SELECT {day}, source, sum(contacts) FROM analytics_acquisitionday "
            f"WHERE {condition} AND {day} BETWEEN %s AND %s GROUP BY 1, 2 "
            "HAVING sum(contacts) <> 0",
            [workspace_id, *params, period.start, period.end],
        )
        out.append([(d, source, int(n)) for d, source, n in rows])
    return out[0], out[1]


def new_contacts_from_sums(
    workspace_id: int, period: Period, filters: Filters
) -> tuple[int, int, int]:
    """New contacts, new customers, and new contacts whose first purchase is in the
    period too."""
    condition, params = _acquisition_condition(filters)
    row = fetch(
        "SELECT coalesce(sum(contacts) FILTER (WHERE signup_day BETWEEN %s AND %s), 0), "
        "coalesce(sum(contacts) FILTER (WHERE first_purchase_day BETWEEN %s AND %s), 0), "
        "coalesce(sum(contacts) FILTER (WHERE signup_day BETWEEN %s AND %s "
        "AND first_purchase_day BETWEEN %s AND %s), 0) "
        f"FROM analytics_acquisitionday WHERE {condition} "
        "AND (signup_day BETWEEN %s AND %s OR first_purchase_day BETWEEN %s AND %s)",
        [*([period.start, period.end] * 4), workspace_id, *params] + [period.start, period.end] * 2,
    )[0]
    return int(row[0]), int(row[1]), int(row[2])


def customers_before_from_sums(
    workspace_id: int, days: list[dt.date], filters: Filters
) -> list[int]:
    """For each day, the contacts whose first purchase was on an earlier local day."""
    if not days:
        return []
    condition, params = _acquisition_condition(filters)
    counts = ", ".join(
        "coalesce(sum(contacts) FILTER (WHERE first_purchase_day < %s), 0)" for _ in days
    )
    row = fetch(
        f"SELECT {counts} FROM analytics_acquisitionday WHERE {condition} "
        "AND first_purchase_day < %s",
        [*days, workspace_id, *params, max(days)],
    )[0]
    return [int(value) for value in row]
