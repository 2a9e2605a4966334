"""Per-contact rollups — CustomerFacts (acquisition and purchases; signup is the
contact's `signed_up_at`) and ContactMonth (activity per month, with the days of the
month it was active) — and the CohortCell counts built from them.

A refresh replaces a contact's rows and its cohort-cell contribution (old rows' out,
rows recomputed from contacts and events, new rows' in): safe to repeat, and correct
whatever changed (a back-dated event, a new source, a purchase name added). Months and
days are in the workspace's zone; purchases are events with one of its purchase names
that carry revenue; an order is a day with purchases (the CLV models' convention)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from typing import Any

from django.db import connection

from analytics.rollups.churn_cover import churn_cover_refresh
from analytics.rollups.periods import (
    KINDS,
    acquisition_contribution,
    active_contribution,
    period_rollups_erase,
    purchase_days_refresh,
    tagged_apply,
)

_PURCHASE = "e.name = ANY(w.purchase_event_names) AND e.revenue IS NOT NULL"

_FACTS_COLUMNS = (
    "contact_id, workspace_id, signup_at, signup_month, source, first_purchase_at, "
    "first_purchase_month, last_purchase_at, orders, purchases, revenue"
)
_FACTS_SELECT = f"""
SELECT c.id AS contact_id, c.workspace_id, c.signed_up_at AS signup_at,
       date_trunc('month', c.signed_up_at AT TIME ZONE w.time_zone)::date AS signup_month,
       left(coalesce(c.attributes ->> coalesce(s.source_attribute, 'signup_source'), ''), 200)
           AS source,
       p.first_at AS first_purchase_at,
       date_trunc('month', p.first_at AT TIME ZONE w.time_zone)::date AS first_purchase_month,
       p.last_at AS last_purchase_at, coalesce(p.orders, 0) AS orders,
       coalesce(p.purchases, 0) AS purchases, coalesce(p.revenue, 0) AS revenue
FROM contacts_contact c
JOIN workspaces_workspace w ON w.id = c.workspace_id
LEFT JOIN analytics_analyticssettings s ON s.workspace_id = c.workspace_id
LEFT JOIN (
    SELECT e.contact_id, min(e.occurred_at) AS first_at, max(e.occurred_at) AS last_at,
           count(DISTINCT (e.occurred_at AT TIME ZONE w.time_zone)::date) AS orders,
           count(*) AS purchases, sum(e.revenue) AS revenue
    FROM contacts_event e JOIN workspaces_workspace w ON w.id = e.workspace_id
    WHERE {{events}} AND {_PURCHASE}
    GROUP BY e.contact_id
) p ON p.contact_id = c.id
WHERE {{contacts}}
"""
_FACTS_CONFLICT = """
ON CONFLICT (contact_id) DO UPDATE SET
    signup_at = EXCLUDED.signup_at, signup_month = EXCLUDED.signup_month,
    source = EXCLUDED.source, first_purchase_at = EXCLUDED.first_purchase_at,
    first_purchase_month = EXCLUDED.first_purchase_month,
    last_purchase_at = EXCLUDED.last_purchase_at, orders = EXCLUDED.orders,
    purchases = EXCLUDED.purchases, revenue = EXCLUDED.revenue
"""
_FACTS_SQL = (
    f"INSERT INTO analytics_customerfacts AS f ({_FACTS_COLUMNS}) {_FACTS_SELECT} {_FACTS_CONFLICT}"
)

_MONTHS_COLUMNS = "contact_id, workspace_id, month, events, purchases, revenue, active_days"
_MONTHS_SELECT = f"""
SELECT e.contact_id, e.workspace_id,
       date_trunc('month', e.occurred_at AT TIME ZONE w.time_zone)::date AS month,
       count(*) AS events, count(*) FILTER (WHERE {_PURCHASE}) AS purchases,
       coalesce(sum(e.revenue) FILTER (WHERE {_PURCHASE}), 0) AS revenue,
       bit_or(1 << (extract(day FROM e.occurred_at AT TIME ZONE w.time_zone)::int - 1))
           AS active_days
FROM {{source}} JOIN workspaces_workspace w ON w.id = e.workspace_id
WHERE {{events}}
GROUP BY 1, 2, 3
"""
_EVENTS = "contacts_event e"
_MONTHS_SQL = f"INSERT INTO analytics_contactmonth ({_MONTHS_COLUMNS}) {_MONTHS_SELECT}"


def _contribution(facts: str, months: str, where: str, sign: str = "") -> str:
    """What the contacts of `facts` (and their `months`) that satisfy `where` contribute
    to the cohort cells, times `sign` ("" or "-")."""
    return f"""
SELECT f.workspace_id, 'signup' AS basis, f.signup_month AS cohort, f.signup_month AS month,
       f.source, {sign}count(*) AS size, 0 AS active, 0 AS purchasing, 0::numeric AS revenue
FROM {facts} f WHERE {where} GROUP BY 1, 3, 5
UNION ALL
SELECT f.workspace_id, 'signup', f.signup_month, m.month, f.source, 0,
       {sign}count(*) FILTER (WHERE m.events > 0), {sign}count(*) FILTER (WHERE m.purchases > 0),
       {sign}sum(m.revenue)
FROM {facts} f JOIN {months} m ON m.contact_id = f.contact_id
WHERE {where} GROUP BY 1, 3, 4, 5
UNION ALL
SELECT f.workspace_id, 'first_purchase', f.first_purchase_month, f.first_purchase_month,
       f.source, {sign}count(*), 0, 0, 0
FROM {facts} f WHERE {where} AND f.first_purchase_month IS NOT NULL
GROUP BY 1, 3, 5
UNION ALL
SELECT f.workspace_id, 'first_purchase', f.first_purchase_month, m.month, f.source, 0,
       {sign}count(*) FILTER (WHERE m.events > 0), {sign}count(*) FILTER (WHERE m.purchases > 0),
       {sign}sum(m.revenue)
FROM {facts} f JOIN {months} m ON m.contact_id = f.contact_id
WHERE {where} AND f.first_purchase_month IS NOT NULL AND m.month >= f.first_purchase_month
GROUP BY 1, 3, 4, 5
"""


# The cell rows in key order: every writer of the cells (refreshes, erasures) updates
# them in one statement in this order, so two never deadlock.
_APPLY_SQL = """
INSERT INTO analytics_cohortcell AS cell
    (workspace_id, basis, cohort, month, source, size, active, purchasing, revenue)
SELECT workspace_id, basis, cohort, month, source, {sign} sum(size), {sign} sum(active),
       {sign} sum(purchasing), {sign} sum(revenue)
FROM ({contribution}) c
GROUP BY 1, 2, 3, 4, 5
ORDER BY 1, 2, 3, 4, 5
ON CONFLICT (workspace_id, basis, cohort, month, source) DO UPDATE SET
    size = cell.size + EXCLUDED.size, active = cell.active + EXCLUDED.active,
    purchasing = cell.purchasing + EXCLUDED.purchasing, revenue = cell.revenue + EXCLUDED.revenue
"""


def _apply(cursor: object, sign: str, facts: str, params: list[object]) -> None:
    contribution = _contribution("analytics_customerfacts", "analytics_contactmonth", facts)
    sql = _APPLY_SQL.format(sign=sign, contribution=contribution)
    cursor.execute(sql, params * 4)  # type: ignore[attr-defined]


# Replace some contacts' facts and months by what their contact rows and events give
# now, and return how the cohort cells change: what the new rows contribute minus what
# the replaced ones did. One statement, one snapshot: the rows written and the change
# returned come from the same reading of the raw data, and the replaced rows are those
# this statement removes (every sub-statement sees the rows as they were before it).
# Upserts and deletes touch disjoint rows (in the fresh result, or not), and rows that
# do not change are not written.
#
# `scope` gives each contact the first month whose row may have changed: the month
# (in the workspace's zone) of the earliest moment its news is about (`since`, from
# the engine's marks: an event's occurred_at, an import's dates), or every month when
# that is not known (NULL). Events are only ever added, each with a mark whose `since`
# is at most its occurred_at, so the months before stay as they are: only events from
# that month on are read (the engine's live path reads a month of a contact's events,
# not its whole history). The facts are recomputed whole (purchases only).
_REFRESH_SQL = f"""
WITH scope AS MATERIALIZED (
    SELECT s.contact_id, m.floor_month,
           coalesce(m.floor_month::timestamp AT TIME ZONE w.time_zone, '-infinity') AS floor_at
    FROM unnest(%(ids)s::bigint[], %(since)s::timestamptz[]) AS s(contact_id, since)
    LEFT JOIN contacts_contact c ON c.id = s.contact_id
    LEFT JOIN workspaces_workspace w ON w.id = c.workspace_id
    CROSS JOIN LATERAL (
        SELECT date_trunc('month', s.since AT TIME ZONE w.time_zone)::date AS floor_month
    ) m
),
fresh_facts AS MATERIALIZED ({
    _FACTS_SELECT.format(events="e.contact_id = ANY(%(ids)s)", contacts="c.id = ANY(%(ids)s)")
}),
old_facts AS MATERIALIZED (
    SELECT * FROM analytics_customerfacts WHERE contact_id = ANY(%(ids)s)),
old_months AS MATERIALIZED (
    SELECT * FROM analytics_contactmonth WHERE contact_id = ANY(%(ids)s)),
recomputed_months AS MATERIALIZED ({
    _MONTHS_SELECT.format(
        source="scope JOIN contacts_event e ON e.contact_id = scope.contact_id "
        "AND e.occurred_at >= scope.floor_at",
        events="true",
    )
}),
fresh_months AS MATERIALIZED (
    SELECT * FROM recomputed_months
    UNION ALL
    SELECT o.contact_id, o.workspace_id, o.month, o.events, o.purchases, o.revenue,
           o.active_days
    FROM old_months o JOIN scope USING (contact_id) WHERE o.month < scope.floor_month
),
-- The active days' pairs (each active day with the one before it) of the months that
-- change, before and after, each with the last month kept before them: its pairs are
-- the same on both sides and cancel, and it gives the first changed day its previous.
last_kept AS MATERIALIZED (
    SELECT DISTINCT ON (o.contact_id) o.*
    FROM old_months o JOIN scope USING (contact_id) WHERE o.month < scope.floor_month
    ORDER BY o.contact_id, o.month DESC
),
active_fresh AS (
    SELECT contact_id, workspace_id, month, active_days FROM recomputed_months
    UNION ALL SELECT contact_id, workspace_id, month, active_days FROM last_kept
),
active_old AS (
    SELECT o.contact_id, o.workspace_id, o.month, o.active_days
    FROM old_months o JOIN scope USING (contact_id)
    WHERE scope.floor_month IS NULL OR o.month >= scope.floor_month
    UNION ALL SELECT contact_id, workspace_id, month, active_days FROM last_kept
),
facts_written AS (
    INSERT INTO analytics_customerfacts AS f ({_FACTS_COLUMNS})
    SELECT {_FACTS_COLUMNS} FROM fresh_facts ORDER BY contact_id
    {_FACTS_CONFLICT}
    WHERE (f.signup_at, f.signup_month, f.source, f.first_purchase_at, f.first_purchase_month,
           f.last_purchase_at, f.orders, f.purchases, f.revenue)
          IS DISTINCT FROM
          (EXCLUDED.signup_at, EXCLUDED.signup_month, EXCLUDED.source,
           EXCLUDED.first_purchase_at, EXCLUDED.first_purchase_month,
           EXCLUDED.last_purchase_at, EXCLUDED.orders, EXCLUDED.purchases, EXCLUDED.revenue)
),
facts_gone AS (
    DELETE FROM analytics_customerfacts f WHERE f.contact_id = ANY(%(ids)s)
    AND NOT EXISTS (SELECT 1 FROM fresh_facts n WHERE n.contact_id = f.contact_id)
),
months_written AS (
    INSERT INTO analytics_contactmonth AS m ({_MONTHS_COLUMNS})
    SELECT {_MONTHS_COLUMNS} FROM recomputed_months ORDER BY contact_id, month
    ON CONFLICT (contact_id, month, workspace_id) DO UPDATE SET
        events = EXCLUDED.events, purchases = EXCLUDED.purchases, revenue = EXCLUDED.revenue,
        active_days = EXCLUDED.active_days
    WHERE (m.events, m.purchases, m.revenue, m.active_days)
          IS DISTINCT FROM
          (EXCLUDED.events, EXCLUDED.purchases, EXCLUDED.revenue, EXCLUDED.active_days)
),
months_gone AS (
    DELETE FROM analytics_contactmonth m USING scope
    WHERE m.contact_id = scope.contact_id AND m.contact_id = ANY(%(ids)s)
    AND (scope.floor_month IS NULL OR m.month >= scope.floor_month)
    AND NOT EXISTS (
        SELECT 1 FROM recomputed_months n WHERE n.contact_id = m.contact_id AND n.month = m.month)
),
change AS (
    {_contribution("fresh_facts", "fresh_months", "true")}
    UNION ALL
    {_contribution("old_facts", "old_months", "true", sign="-")}
    UNION ALL {acquisition_contribution("fresh_facts")}
    UNION ALL {acquisition_contribution("old_facts", sign="-")}
    UNION ALL {active_contribution("active_fresh")}
    UNION ALL {active_contribution("active_old", sign="-")}
)
SELECT workspace_id, basis, cohort, month, source,
       sum(size), sum(active), sum(purchasing), sum(revenue)
FROM change
GROUP BY 1, 2, 3, 4, 5
HAVING (sum(size), sum(active), sum(purchasing), sum(revenue)) <> (0, 0, 0, 0)
ORDER BY 1, 2, 3, 4, 5
"""

_ADD_TO_CELLS_SQL = """
INSERT INTO analytics_cohortcell AS cell
    (workspace_id, basis, cohort, month, source, size, active, purchasing, revenue)
SELECT * FROM unnest(%s::bigint[], %s::text[], %s::date[], %s::date[], %s::text[],
                     %s::int[], %s::int[], %s::int[], %s::numeric[])
ON CONFLICT (workspace_id, basis, cohort, month, source) DO UPDATE SET
    size = cell.size + EXCLUDED.size, active = cell.active + EXCLUDED.active,
    purchasing = cell.purchasing + EXCLUDED.purchasing, revenue = cell.revenue + EXCLUDED.revenue
"""


def customer_rollups_refresh(
    contact_ids: Collection[int], since: Mapping[int, dt.datetime] | None = None
) -> None:
    """Replace these contacts' facts and months, and move the cohort cells by the
    difference (the hook run after the lifecycle engine evaluated their marks).
    `since`: for a contact, the earliest moment its news since the last refresh is
    about (the engine's marks); its months before that one are not read again.
    Without it, every month is recomputed.

    The caller holds these contacts (the engine's claim: no one else writes their rows
    meanwhile). The cells, shared by every contact of a cohort, are written last, in
    key order and in one statement, so they stay locked only until the commit that
    follows."""
    ids = sorted(contact_ids)
    if not ids:
        return
    with connection.cursor() as cursor:
        known = since or {}
        cursor.execute(_REFRESH_SQL, {"ids": ids, "since": [known.get(i) for i in ids]})
        change = cursor.fetchall()
        cells = [row for row in change if row[1] not in KINDS]
        if cells:
            cursor.execute(_ADD_TO_CELLS_SQL, [list(column) for column in zip(*cells, strict=True)])
        tagged_apply(cursor, change)  # then the period sums, in the same order always
        purchase_days_refresh(cursor, ids)
        churn_cover_refresh(cursor, ids)  # the stays' cover, by the first purchases


def customer_rollups_erase(*, contact_id: int) -> None:
    """Take an erased contact out of the cohort cells, and delete its rows."""
    with connection.cursor() as cursor:
        _apply(cursor, "-", "f.contact_id = %s", [contact_id])
        period_rollups_erase(cursor, contact_id)
        cursor.execute("DELETE FROM analytics_contactmonth WHERE contact_id = %s", [contact_id])
        cursor.execute("DELETE FROM analytics_customerfacts WHERE contact_id = %s", [contact_id])


def customer_rollups_rebuild(*, workspace_id: int) -> None:
    """Recompute a workspace's facts, months and cohort cells from scratch (set-based:
    one aggregate over its events for each). Predicted values stay on the facts."""
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM analytics_cohortcell WHERE workspace_id = %s", [workspace_id])
        cursor.execute("DELETE FROM analytics_contactmonth WHERE workspace_id = %s", [workspace_id])
        cursor.execute(
            _FACTS_SQL.format(events="e.workspace_id = %s", contacts="c.workspace_id = %s"),
            [workspace_id, workspace_id],
        )
        cursor.execute(
            _MONTHS_SQL.format(source=_EVENTS, events="e.workspace_id = %s"), [workspace_id]
        )
        _apply(cursor, "", "f.workspace_id = %s", [workspace_id])


# --- the drift check -------------------------------------------------------------------

# The contacts among %(ids)s whose rollups must be what their raw rows give: those
# that exist and have no mark (a marked contact is still to be refreshed by the engine,
# which writes its rows and deletes its marks in one transaction).
_SETTLED = """
SELECT c.id FROM contacts_contact c
WHERE c.workspace_id = %(ws)s AND c.id = ANY(%(ids)s)
  AND NOT EXISTS (SELECT 1 FROM contacts_contactmark m
                  WHERE m.contact_id = c.id AND m.workspace_id = %(ws)s)
"""

_COMPARE_SQL = f"""
WITH settled AS ({_SETTLED}),
fresh_facts AS ({
    _FACTS_SELECT.format(
        events="e.contact_id IN (SELECT id FROM settled)",
        contacts="c.id IN (SELECT id FROM settled)",
    )
}),
stored_facts AS (
    SELECT {_FACTS_COLUMNS} FROM analytics_customerfacts
    WHERE workspace_id = %(ws)s AND contact_id IN (SELECT id FROM settled)),
fresh_months AS ({
    _MONTHS_SELECT.format(source=_EVENTS, events="e.contact_id IN (SELECT id FROM settled)")
}),
stored_months AS (
    SELECT {_MONTHS_COLUMNS} FROM analytics_contactmonth
    WHERE workspace_id = %(ws)s AND contact_id IN (SELECT id FROM settled)),
facts_differing AS (
    (SELECT * FROM fresh_facts EXCEPT SELECT * FROM stored_facts)
    UNION (SELECT * FROM stored_facts EXCEPT SELECT * FROM fresh_facts)),
months_differing AS (
    (SELECT * FROM fresh_months EXCEPT SELECT * FROM stored_months)
    UNION (SELECT * FROM stored_months EXCEPT SELECT * FROM fresh_months))
SELECT (SELECT count(*) FROM (SELECT contact_id FROM fresh_facts
                              UNION SELECT contact_id FROM stored_facts) k),
       (SELECT count(DISTINCT contact_id) FROM facts_differing),
       (SELECT count(*) FROM (SELECT contact_id, month FROM fresh_months
                              UNION SELECT contact_id, month FROM stored_months) k),
       (SELECT count(*) FROM (SELECT DISTINCT contact_id, month FROM months_differing) d),
       ARRAY(SELECT contact_id FROM facts_differing
             UNION SELECT contact_id FROM months_differing ORDER BY 1)
"""

# Rows kept for contacts that no longer exist (nothing marks them any more).
_ORPHANS_SQL = """
SELECT ARRAY(
    SELECT f.contact_id FROM analytics_customerfacts f WHERE f.workspace_id = %(ws)s
      AND NOT EXISTS (SELECT 1 FROM contacts_contact c WHERE c.id = f.contact_id)
    UNION
    SELECT m.contact_id FROM analytics_contactmonth m WHERE m.workspace_id = %(ws)s
      AND NOT EXISTS (SELECT 1 FROM contacts_contact c WHERE c.id = m.contact_id)
    ORDER BY 1)
"""


def customer_rollups_compare(*, workspace_id: int, contact_ids: Collection[int]) -> dict[str, Any]:
    """Compare the facts and months of these contacts (the settled ones) with what
    their contact rows and events give, in one statement: rows compared and differing
    per table, and the contacts that differ."""
    with connection.cursor() as cursor:
        cursor.execute(_COMPARE_SQL, {"ws": workspace_id, "ids": sorted(contact_ids)})
        facts, facts_differing, months, months_differing, contacts = cursor.fetchone()
    return {
        "analytics_customerfacts": (int(facts), int(facts_differing)),
        "analytics_contactmonth": (int(months), int(months_differing)),
        "contacts": list(contacts),
    }


def customer_rollups_orphans(*, workspace_id: int) -> list[int]:
    """Contacts that are gone but still have facts or months."""
    with connection.cursor() as cursor:
        cursor.execute(_ORPHANS_SQL, {"ws": workspace_id})
        return list(cursor.fetchone()[0])


def _cohort_filter(alias: str, signup: list | None, first: list | None) -> str:
    """Cells of the given cohorts (both lists None: all of them)."""
    if signup is None and first is None:
        return "true"
    return (
        f"(({alias}.basis = 'signup' AND {alias}.cohort = ANY(%(signup)s::date[])) OR "
        f"({alias}.basis = 'first_purchase' AND {alias}.cohort = ANY(%(first)s::date[])))"
    )


def _cells_expected(signup: list | None, first: list | None) -> str:
    facts = "f.workspace_id = %(ws)s"
    if signup is not None or first is not None:
        facts += (
            " AND (f.signup_month = ANY(%(signup)s::date[])"
            " OR f.first_purchase_month = ANY(%(first)s::date[]))"
        )
    return f"""
SELECT workspace_id, basis, cohort, month, source, sum(size) AS size,
       sum(active) AS active, sum(purchasing) AS purchasing, sum(revenue) AS revenue
FROM ({_contribution("analytics_customerfacts", "analytics_contactmonth", facts)}) c
WHERE {_cohort_filter("c", signup, first)}
GROUP BY 1, 2, 3, 4, 5
HAVING (sum(size), sum(active), sum(purchasing), sum(revenue)) <> (0, 0, 0, 0)
"""


def cohort_cells_compare(
    *, workspace_id: int, signup: list | None = None, first: list | None = None
) -> tuple[int, int]:
    """Compare the cohort cells (of the given cohorts, or all) with the sums of the
    facts and months they count: (cells compared, cells differing). Exact at any
    moment: every writer changes facts, months and cells in one transaction."""
    sql = f"""
    WITH expected AS ({_cells_expected(signup, first)}),
    stored AS (
        SELECT workspace_id, basis, cohort, month, source, size::numeric AS size,
               active::numeric AS active, purchasing::numeric AS purchasing, revenue
        FROM analytics_cohortcell cell
        WHERE cell.workspace_id = %(ws)s AND {_cohort_filter("cell", signup, first)}
          AND (size, active, purchasing, revenue) <> (0, 0, 0, 0)),
    differing AS ((SELECT * FROM expected EXCEPT SELECT * FROM stored)
                  UNION (SELECT * FROM stored EXCEPT SELECT * FROM expected))
    SELECT (SELECT count(*) FROM (SELECT basis, cohort, month, source FROM expected
                                  UNION SELECT basis, cohort, month, source FROM stored) k),
           (SELECT count(*) FROM (SELECT DISTINCT basis, cohort, month, source FROM differing) d)
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, {"ws": workspace_id, "signup": signup, "first": first})
        checked, differing = cursor.fetchone()
    return int(checked), int(differing)


def cohort_cells_recompute(
    *, workspace_id: int, signup: list | None = None, first: list | None = None
) -> None:
    """Write the cohort cells (of the given cohorts, or all) again from the facts and
    months. The caller holds the workspace's rollups exclusively."""
    params = {"ws": workspace_id, "signup": signup, "first": first}
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM analytics_cohortcell cell WHERE cell.workspace_id = %(ws)s AND "
            + _cohort_filter("cell", signup, first),
            params,
        )
        cursor.execute(
            "INSERT INTO analytics_cohortcell (workspace_id, basis, cohort, month, source, size, "
            f"active, purchasing, revenue) {_cells_expected(signup, first)} ORDER BY 1, 2, 3, 4, 5",
            params,
        )
