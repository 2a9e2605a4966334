"""Per-contact rollups — CustomerFacts (acquisition and purchases) and ContactMonth
(activity per month) — and the CohortCell counts built from them.

A refresh replaces a contact's rows and its contribution to the cohort cells:
subtract what its old rows contributed, recompute the rows from contacts and events,
add what the new rows contribute. Replacing rather than incrementing makes a refresh
safe to repeat and correct whatever changed (a back-dated event, a changed acquisition
source, a purchase name added to the workspace's list). Months and days are in the
workspace's time zone; purchases are events with one of the workspace's purchase
names that carry revenue; an order is a day with purchases (the convention of the CLV
models)."""

from __future__ import annotations

from collections.abc import Collection

from django.db import connection

_PURCHASE = "e.name = ANY(w.purchase_event_names) AND e.revenue IS NOT NULL"

_FACTS_SQL = f"""
INSERT INTO analytics_customerfacts AS f (
    contact_id, workspace_id, signup_at, signup_month, source, first_purchase_at,
    first_purchase_month, last_purchase_at, orders, purchases, revenue)
SELECT c.id, c.workspace_id, c.created_at,
       date_trunc('month', c.created_at AT TIME ZONE w.time_zone)::date,
       left(coalesce(c.attributes ->> coalesce(s.source_attribute, 'signup_source'), ''), 200),
       p.first_at, date_trunc('month', p.first_at AT TIME ZONE w.time_zone)::date, p.last_at,
       coalesce(p.orders, 0), coalesce(p.purchases, 0), coalesce(p.revenue, 0)
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
ON CONFLICT (contact_id) DO UPDATE SET
    signup_at = EXCLUDED.signup_at, signup_month = EXCLUDED.signup_month,
    source = EXCLUDED.source, first_purchase_at = EXCLUDED.first_purchase_at,
    first_purchase_month = EXCLUDED.first_purchase_month,
    last_purchase_at = EXCLUDED.last_purchase_at, orders = EXCLUDED.orders,
    purchases = EXCLUDED.purchases, revenue = EXCLUDED.revenue
"""

_MONTHS_SQL = f"""
INSERT INTO analytics_contactmonth (contact_id, workspace_id, month, events, purchases, revenue)
SELECT e.contact_id, e.workspace_id,
       date_trunc('month', e.occurred_at AT TIME ZONE w.time_zone)::date,
       count(*), count(*) FILTER (WHERE {_PURCHASE}),
       coalesce(sum(e.revenue) FILTER (WHERE {_PURCHASE}), 0)
FROM contacts_event e JOIN workspaces_workspace w ON w.id = e.workspace_id
WHERE {{events}}
GROUP BY 1, 2, 3
"""

# What a set of contacts contributes to the cohort cells, from their facts and months.
_CONTRIBUTION_SQL = """
SELECT f.workspace_id, 'signup' AS basis, f.signup_month AS cohort, f.signup_month AS month,
       f.source, count(*) AS size, 0 AS active, 0 AS purchasing, 0 AS revenue
FROM analytics_customerfacts f WHERE {facts} GROUP BY 1, 3, 5
UNION ALL
SELECT f.workspace_id, 'signup', f.signup_month, m.month, f.source, 0,
       count(*) FILTER (WHERE m.events > 0), count(*) FILTER (WHERE m.purchases > 0),
       sum(m.revenue)
FROM analytics_customerfacts f JOIN analytics_contactmonth m ON m.contact_id = f.contact_id
WHERE {facts} GROUP BY 1, 3, 4, 5
UNION ALL
SELECT f.workspace_id, 'first_purchase', f.first_purchase_month, f.first_purchase_month,
       f.source, count(*), 0, 0, 0
FROM analytics_customerfacts f WHERE {facts} AND f.first_purchase_month IS NOT NULL
GROUP BY 1, 3, 5
UNION ALL
SELECT f.workspace_id, 'first_purchase', f.first_purchase_month, m.month, f.source, 0,
       count(*) FILTER (WHERE m.events > 0), count(*) FILTER (WHERE m.purchases > 0),
       sum(m.revenue)
FROM analytics_customerfacts f JOIN analytics_contactmonth m ON m.contact_id = f.contact_id
WHERE {facts} AND f.first_purchase_month IS NOT NULL AND m.month >= f.first_purchase_month
GROUP BY 1, 3, 4, 5
"""

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
    sql = _APPLY_SQL.format(sign=sign, contribution=_CONTRIBUTION_SQL.format(facts=facts))
    cursor.execute(sql, params * 4)  # type: ignore[attr-defined]


def customer_rollups_refresh(contact_ids: Collection[int]) -> None:
    """Replace these contacts' facts, months and cohort contributions (the hook run
    after the lifecycle engine drains their marks)."""
    ids = sorted(contact_ids)
    if not ids:
        return
    with connection.cursor() as cursor:
        _apply(cursor, "-", "f.contact_id = ANY(%s)", [ids])
        cursor.execute("DELETE FROM analytics_contactmonth WHERE contact_id = ANY(%s)", [ids])
        cursor.execute(
            "DELETE FROM analytics_customerfacts f WHERE f.contact_id = ANY(%s) "
            "AND NOT EXISTS (SELECT 1 FROM contacts_contact c WHERE c.id = f.contact_id)",
            [ids],
        )
        cursor.execute(
            _FACTS_SQL.format(events="e.contact_id = ANY(%s)", contacts="c.id = ANY(%s)"),
            [ids, ids],
        )
        cursor.execute(_MONTHS_SQL.format(events="e.contact_id = ANY(%s)"), [ids])
        _apply(cursor, "", "f.contact_id = ANY(%s)", [ids])


def customer_rollups_erase(*, contact_id: int) -> None:
    """Take an erased contact out of the cohort cells, and delete its rows."""
    with connection.cursor() as cursor:
        _apply(cursor, "-", "f.contact_id = %s", [contact_id])
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
        cursor.execute(_MONTHS_SQL.format(events="e.workspace_id = %s"), [workspace_id])
        _apply(cursor, "", "f.workspace_id = %s", [workspace_id])
