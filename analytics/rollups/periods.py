"""Period rollups (analytics/models_periods.py): purchase days per contact and the
order, active-day and acquisition counts summed from the per-contact rows.

They are kept the way the cohort cells are. The engine's refresh of some contacts
(customers.py) recomputes their facts, months and purchase days from their raw rows
and returns what the new rows contribute minus what the replaced rows did; the sums
are moved by that difference, each table in one statement in key order, after the
cohort cells, so two refreshes never deadlock. An erasure takes a contact's
contribution out; the rebuild recomputes everything from the raw data (active days
from the events in one ordered pass: the day of a contact's event before the first
event of a day is its previous active day).

The difference rows share the cohort cells' shape, tagged in `basis`:
(workspace_id, basis, cohort, month, source, size, active, purchasing, revenue) with
- `acquisition`: cohort = signup day, month = first purchase day, size = contacts;
- `active`: cohort = day, month = previous active day, size = contacts."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.db import connection

from analytics.rollups.period_groups import (
    CONTACT_GROUPS,
    FACTS_GROUPS,
    active_groups_apply,
    in_key_order,
    order_groups_apply,
    order_rows_sql,
)
from analytics.rollups.replace import sums_replace
from analytics.rollups.stay_groups import CHANGED, changed_params

KINDS = ("acquisition", "active")


def acquisition_contribution(facts: str, sign: str = "", where: str = "true") -> str:
    """What the facts rows of `facts` contribute to AcquisitionDay (tagged rows)."""
    return f"""
SELECT f.workspace_id, 'acquisition' AS basis,
       (f.signup_at AT TIME ZONE aw.time_zone)::date AS cohort,
       (f.first_purchase_at AT TIME ZONE aw.time_zone)::date AS month, f.source,
       {sign}count(*) AS size, 0 AS active, 0 AS purchasing, 0::numeric AS revenue
FROM {facts} f JOIN workspaces_workspace aw ON aw.id = f.workspace_id
WHERE {where}
GROUP BY 1, 3, 4, 5
"""


def active_contribution(
    months: str, sign: str = "", where: str = "true", groups: str | None = None
) -> str:
    """What the month rows of `months` contribute to ActiveDay (tagged rows): each
    active day (a bit of active_days) with the contact's previous active day; with
    `groups` (a FROM item `g`: contact_id, source, signup_month), under the contact's
    group there (`source` and `group_month`, for ActiveGroupDay: period_groups.py)."""
    source, month, join = "''", "NULL::date", ""
    if groups is not None:
        source, month = "coalesce(g.source, '')", "g.signup_month"
        join = f"LEFT JOIN {groups} ON g.contact_id = d.contact_id"
    return f"""
SELECT d.workspace_id, 'active' AS basis, d.day AS cohort, d.previous AS month,
       {source} AS source, {sign}count(*) AS size, 0 AS active, 0 AS purchasing,
       0::numeric AS revenue, {month} AS group_month
FROM (
    SELECT m.contact_id, m.workspace_id, m.month + (i - 1) AS day,
           lag(m.month + (i - 1)) OVER (PARTITION BY m.contact_id ORDER BY m.month + (i - 1))
               AS previous
    FROM {months} m CROSS JOIN generate_series(1, 31) AS i
    WHERE {where} AND m.active_days & (1 << (i - 1)) <> 0
) d {join}
GROUP BY 1, 3, 4, 5, 10
"""


_ACQUISITION_APPLY = """
INSERT INTO analytics_acquisitionday AS a
    (workspace_id, signup_day, first_purchase_day, source, contacts)
SELECT * FROM unnest(%s::bigint[], %s::date[], %s::date[], %s::text[], %s::int[])
ON CONFLICT (workspace_id, signup_day, first_purchase_day, source)
DO UPDATE SET contacts = a.contacts + EXCLUDED.contacts
"""
_ACTIVE_APPLY = """
INSERT INTO analytics_activeday AS a (workspace_id, day, previous_day, contacts)
SELECT * FROM unnest(%s::bigint[], %s::date[], %s::date[], %s::int[])
ON CONFLICT (workspace_id, day, previous_day)
DO UPDATE SET contacts = a.contacts + EXCLUDED.contacts
"""


def tagged_apply(cursor: Any, rows: Sequence[Sequence[Any]]) -> None:
    """Move AcquisitionDay, ActiveDay and ActiveGroupDay by tagged difference rows
    (workspace, basis, cohort, month, source, size, ..., group month); the acquisition
    rows come in key order (ORDER BY workspace, basis, cohort, month, source: NULLs
    last, as the keys), the active ones are summed over their groups here."""
    acquisition = [(r[0], r[2], r[3], r[4], r[5]) for r in rows if r[1] == "acquisition" and r[5]]
    active: dict[tuple, int] = {}
    for r in rows:
        if r[1] == "active":
            active[(r[0], r[2], r[3])] = active.get((r[0], r[2], r[3]), 0) + int(r[5])
    for sql, values in (
        (_ACQUISITION_APPLY, acquisition),
        (_ACTIVE_APPLY, in_key_order((*key, n) for key, n in active.items() if n)),
    ):
        if values:
            cursor.execute(sql, [list(column) for column in zip(*values, strict=True)])
    active_groups_apply(
        cursor, [(r[0], r[4], r[9], r[2], r[3], int(r[5])) for r in rows if r[1] == "active"]
    )


def active_groups_regroup(
    cursor: Any, contact_ids: Sequence[int], before: dict[int, tuple[str, Any]]
) -> list[tuple]:
    """Tagged rows (periods.py `active_contribution`) that move every active day of
    the contacts whose group changed from the group `before` to the facts' now (read
    from the months as they are)."""
    changed = f"m.contact_id IN (SELECT contact_id FROM {CHANGED} c)"
    old = f"(SELECT contact_id, old_source AS source, old_month AS signup_month FROM {CHANGED} c) g"
    now = active_contribution("analytics_contactmonth", where=changed, groups=FACTS_GROUPS)
    then = active_contribution("analytics_contactmonth", "-", where=changed, groups=old)
    cursor.execute(f"{now} UNION ALL {then}", changed_params(contact_ids, before))
    return [tuple(row) for row in cursor.fetchall()]


# --- purchase days and orders ------------------------------------------------------------

PURCHASE_DAYS = """
SELECT contact_id, workspace_id, day,
       lag(day) OVER w AS previous_day, lag(day, 2) OVER w AS previous2_day,
       purchases, revenue
FROM (
    SELECT e.contact_id, e.workspace_id, (e.occurred_at AT TIME ZONE w.time_zone)::date AS day,
           count(*) AS purchases, sum(e.revenue) AS revenue
    FROM contacts_event e JOIN workspaces_workspace w ON w.id = e.workspace_id
    WHERE {events} AND e.name = ANY(w.purchase_event_names) AND e.revenue IS NOT NULL
    GROUP BY 1, 2, 3
) d
WINDOW w AS (PARTITION BY contact_id ORDER BY day)
"""
PURCHASE_COLUMNS = "contact_id, workspace_id, day, previous_day, previous2_day, purchases, revenue"

# Replace some contacts' purchase days by what their events give now and return how
# the order sums change (new rows minus replaced ones) by the contacts' groups in the
# facts now (period_groups.py). One statement,
# as the facts' refresh: the rows written and the change come from one reading.
_REFRESH_SQL = f"""
WITH fresh AS MATERIALIZED ({PURCHASE_DAYS.format(events="e.contact_id = ANY(%(ids)s)")}),
old AS MATERIALIZED (
    SELECT {PURCHASE_COLUMNS} FROM analytics_purchaseday WHERE contact_id = ANY(%(ids)s)),
written AS (
    INSERT INTO analytics_purchaseday AS p ({PURCHASE_COLUMNS})
    SELECT {PURCHASE_COLUMNS} FROM fresh ORDER BY contact_id, day
    ON CONFLICT (contact_id, day, workspace_id) DO UPDATE SET
        previous_day = EXCLUDED.previous_day, previous2_day = EXCLUDED.previous2_day,
        purchases = EXCLUDED.purchases, revenue = EXCLUDED.revenue
    WHERE (p.previous_day, p.previous2_day, p.purchases, p.revenue) IS DISTINCT FROM
          (EXCLUDED.previous_day, EXCLUDED.previous2_day, EXCLUDED.purchases, EXCLUDED.revenue)
),
gone AS (
    DELETE FROM analytics_purchaseday p WHERE p.contact_id = ANY(%(ids)s)
    AND NOT EXISTS (SELECT 1 FROM fresh n WHERE n.contact_id = p.contact_id AND n.day = p.day)
),
change AS (
    SELECT contact_id, workspace_id, day, previous_day, previous2_day, 1 AS orders, purchases,
           revenue
    FROM fresh
    UNION ALL
    SELECT contact_id, workspace_id, day, previous_day, previous2_day, -1, -purchases, -revenue
    FROM old
)
SELECT c.workspace_id, c.day, c.previous_day, c.previous2_day, coalesce(g.source, ''),
       g.signup_month, sum(c.orders), sum(c.purchases), sum(c.revenue)
FROM change c LEFT JOIN analytics_customerfacts g ON g.contact_id = c.contact_id
GROUP BY 1, 2, 3, 4, 5, 6
HAVING (sum(c.orders), sum(c.purchases), sum(c.revenue)) <> (0, 0, 0)
"""

_ORDERS_APPLY = """
INSERT INTO analytics_orderday AS o
    (workspace_id, day, previous_day, previous2_day, orders, purchases, revenue)
SELECT * FROM unnest(%s::bigint[], %s::date[], %s::date[], %s::date[], %s::int[], %s::int[],
                     %s::numeric[])
ON CONFLICT (workspace_id, day, previous_day, previous2_day) DO UPDATE SET
    orders = o.orders + EXCLUDED.orders, purchases = o.purchases + EXCLUDED.purchases,
    revenue = o.revenue + EXCLUDED.revenue
"""

ORDER_GROUP_COLUMNS = (
    "workspace_id, day, previous_day, previous2_day, source, signup_month, orders, purchases, "
    "revenue"
)
ACTIVE_GROUP_COLUMNS = "workspace_id, source, signup_month, day, previous_day, contacts"

ORDERS_SUM = """
SELECT workspace_id, day, previous_day, previous2_day, {sign}count(*), {sign}sum(purchases),
       {sign}sum(revenue)
FROM analytics_purchaseday WHERE {where}
GROUP BY 1, 2, 3, 4
"""


def orders_apply(cursor: Any, rows: Sequence[Sequence[Any]]) -> None:
    """Move OrderDay and OrderGroupDay by (workspace, day, previous, previous but one,
    source, month, orders, purchases, revenue) rows (period_groups.ORDER_ROWS)."""
    rows = [(*r[:6], int(r[6]), int(r[7]), Decimal(r[8])) for r in rows]
    whole: dict[tuple, list[Any]] = {}
    for r in rows:
        counts = whole.setdefault((r[0], r[1], r[2], r[3]), [0, 0, 0])
        counts[:] = [counts[0] + r[6], counts[1] + r[7], counts[2] + r[8]]
    summed = in_key_order((*key, *counts) for key, counts in whole.items() if any(counts))
    if summed:
        cursor.execute(_ORDERS_APPLY, [list(column) for column in zip(*summed, strict=True)])
    order_groups_apply(cursor, rows)


def purchase_days_refresh(
    cursor: Any, contact_ids: list[int], regrouped: Sequence[Sequence[Any]] = ()
) -> None:
    """Replace these contacts' purchase days and move the order sums by the change and
    by `regrouped` (period_groups.order_groups_regroup, read before), after the cohort
    cells: the shared rows are always taken in the same order."""
    cursor.execute(_REFRESH_SQL, {"ids": contact_ids})
    orders_apply(cursor, [*regrouped, *cursor.fetchall()])


def period_rollups_erase(cursor: Any, contact_id: int) -> None:
    """Take an erased contact out of the acquisition, active-day and order sums and
    delete its purchase days (before its facts and months are deleted)."""
    acquisition = acquisition_contribution("analytics_customerfacts", "-", "f.contact_id = %s")
    active = active_contribution(
        "analytics_contactmonth", "-", "m.contact_id = %s", groups=FACTS_GROUPS
    )
    cursor.execute(
        f"SELECT * FROM (SELECT *, NULL::date FROM ({acquisition}) a UNION ALL {active}) c "
        "ORDER BY 1, 2, 3, 4, 5",
        [contact_id, contact_id],
    )
    tagged_apply(cursor, cursor.fetchall())
    cursor.execute(order_rows_sql("p.contact_id = %s", sign="-"), [contact_id])
    orders_apply(cursor, cursor.fetchall())
    cursor.execute("DELETE FROM analytics_purchaseday WHERE contact_id = %s", [contact_id])


# --- rebuild ---------------------------------------------------------------------------

# Active days from the events in one ordered pass, by the contacts' groups
# (period_groups.py): for the first event of each local day, the day of the event
# before it is the previous active day.
_ACTIVE_FROM_EVENTS = f"""
SELECT d.workspace_id, coalesce(g.source, ''), g.signup_month, d.day, d.previous, count(*)
FROM (
    SELECT e.contact_id, e.workspace_id, (e.occurred_at AT TIME ZONE w.time_zone)::date AS day,
           lag((e.occurred_at AT TIME ZONE w.time_zone)::date)
               OVER (PARTITION BY e.contact_id ORDER BY e.occurred_at) AS previous
    FROM contacts_event e JOIN workspaces_workspace w ON w.id = e.workspace_id
    WHERE e.workspace_id = %(ws)s
) d LEFT JOIN {CONTACT_GROUPS} ON g.contact_id = d.contact_id
WHERE d.previous IS DISTINCT FROM d.day
GROUP BY 1, 2, 3, 4, 5
"""


def purchase_days_rebuild(*, workspace_id: int) -> None:
    """Recompute a workspace's purchase days from its events, and the order sums
    from them."""
    params = [workspace_id]
    with connection.cursor() as cursor:
        for table in ("purchaseday", "orderday"):
            cursor.execute(f"DELETE FROM analytics_{table} WHERE workspace_id = %s", params)
        cursor.execute(
            f"INSERT INTO analytics_purchaseday ({PURCHASE_COLUMNS}) "
            + PURCHASE_DAYS.format(events="e.workspace_id = %s"),
            params,
        )
        cursor.execute(
            "INSERT INTO analytics_orderday (workspace_id, day, previous_day, previous2_day, "
            "orders, purchases, revenue) " + ORDERS_SUM.format(sign="", where="workspace_id = %s"),
            params,
        )
        sums_replace(  # after the facts (the rebuild wrote them first)
            cursor,
            table="analytics_ordergroupday",
            columns=ORDER_GROUP_COLUMNS.split(", "),
            select=order_rows_sql("p.workspace_id = %s"),
            params=params,
            workspace_id=workspace_id,
            counted="(orders, purchases, revenue) <> (0, 0, 0)",
        )


def active_days_rebuild(*, workspace_id: int) -> None:
    """Recompute a workspace's active-day counts from its events and contact rows
    alone: by group, then the workspace's as their sums."""
    params = {"ws": workspace_id}
    with connection.cursor() as cursor:
        sums_replace(
            cursor,
            table="analytics_activegroupday",
            columns=ACTIVE_GROUP_COLUMNS.split(", "),
            select=_ACTIVE_FROM_EVENTS,
            params=params,
            workspace_id=workspace_id,
            counted="contacts <> 0",
        )
        cursor.execute("DELETE FROM analytics_activeday WHERE workspace_id = %(ws)s", params)
        cursor.execute(
            "INSERT INTO analytics_activeday (workspace_id, day, previous_day, contacts) "
            "SELECT workspace_id, day, previous_day, sum(contacts) FROM analytics_activegroupday "
            "WHERE workspace_id = %(ws)s GROUP BY 1, 2, 3",
            params,
        )


def acquisition_days_rebuild(*, workspace_id: int) -> None:
    """Recompute a workspace's acquisition counts from its (freshly rebuilt) facts."""
    params = [workspace_id]
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM analytics_acquisitionday WHERE workspace_id = %s", params)
        cursor.execute(
            "INSERT INTO analytics_acquisitionday (workspace_id, signup_day, first_purchase_day, "
            "source, contacts) SELECT workspace_id, cohort, month, source, size FROM ("
            + acquisition_contribution("analytics_customerfacts", where="f.workspace_id = %s")
            + ") c",
            params,
        )
