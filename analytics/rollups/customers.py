"""Per-contact rollups — CustomerFacts (acquisition and purchases; signup is the
contact's `signed_up_at`) and ContactMonth (activity per month, with the days of the
month it was active) — and the CohortCell counts built from them.

A refresh (customer_refresh.py, the engine's hook) replaces a contact's rows and its
cohort-cell contribution (old rows' out, rows recomputed from contacts and events, new
rows' in): safe to repeat, and correct whatever changed (a back-dated event, a new
source) — its months from the month of the contact's earliest dated news on, or all of
them when that is not known; the rebuild and the compare read everything. Months and
days are in the workspace's zone; purchases are events with one of its purchase names
that carry revenue; an order is a day with purchases (the CLV models' convention)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from django.db import connection

from analytics.rollups.answer_groups import answer_groups_erase
from analytics.rollups.periods import period_rollups_erase
from analytics.rollups.replace import rows_replace

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
ON CONFLICT (contact_id, workspace_id) DO UPDATE SET
    signup_at = EXCLUDED.signup_at, signup_month = EXCLUDED.signup_month,
    source = EXCLUDED.source, first_purchase_at = EXCLUDED.first_purchase_at,
    first_purchase_month = EXCLUDED.first_purchase_month,
    last_purchase_at = EXCLUDED.last_purchase_at, orders = EXCLUDED.orders,
    purchases = EXCLUDED.purchases, revenue = EXCLUDED.revenue
"""
_FACTS_SQL = (
    f"INSERT INTO analytics_customerfacts AS f ({_FACTS_COLUMNS}) {_FACTS_SELECT} {_FACTS_CONFLICT}"
)
# A rebuild rewrites only the facts that differ (replace.py says why).
_FACTS_VALUES = _FACTS_COLUMNS.split(", ")[2:]  # all but the key
_FACTS_CHANGED = (
    f"WHERE ({', '.join(f'f.{c}' for c in _FACTS_VALUES)}) "
    f"IS DISTINCT FROM ({', '.join(f'EXCLUDED.{c}' for c in _FACTS_VALUES)})"
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


def customer_rollups_erase(*, contact_id: int) -> None:
    """Take an erased contact out of the cohort cells, and delete its rows."""
    with connection.cursor() as cursor:
        _apply(cursor, "-", "f.contact_id = %s", [contact_id])
        period_rollups_erase(cursor, contact_id)
        answer_groups_erase(cursor, contact_id)
        cursor.execute("DELETE FROM analytics_contactmonth WHERE contact_id = %s", [contact_id])
        cursor.execute("DELETE FROM analytics_customerfacts WHERE contact_id = %s", [contact_id])


def customer_facts_rebuild(*, workspace_id: int) -> None:
    """Recompute a workspace's facts from its contacts and events (one aggregate);
    an unchanged fact gets no new row version. Predicted values stay on the facts."""
    with connection.cursor() as cursor:
        cursor.execute(
            _FACTS_SQL.format(events="e.workspace_id = %s", contacts="c.workspace_id = %s")
            + _FACTS_CHANGED,
            [workspace_id, workspace_id],
        )


def contact_months_rebuild(*, workspace_id: int) -> None:
    """Recompute a workspace's contact months from its events alone, written as a
    difference (rollups/replace.py)."""
    with connection.cursor() as cursor:
        rows_replace(
            cursor,
            table="analytics_contactmonth",
            columns=_MONTHS_COLUMNS.split(", "),
            key=["contact_id", "month"],
            select=_MONTHS_SELECT.format(source=_EVENTS, events="e.workspace_id = %s"),
            params=[workspace_id],
            workspace_id=workspace_id,
        )


def cohort_cells_rebuild(*, workspace_id: int) -> None:
    """Recompute a workspace's cohort cells from its (rebuilt) facts and months."""
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM analytics_cohortcell WHERE workspace_id = %s", [workspace_id])
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
    moment: every writer changes facts, months and cells in one transaction, but for
    the seconds between a rebuild's months committing and its cells (docs/analytics.md,
    "What the nightly rebuild is still for")."""
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
