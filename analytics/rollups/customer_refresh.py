"""The engine's refresh of customer rollups (the `contacts_refreshed` hook): a
contact's facts and months replaced, and the cohort cells, acquisition and active-day
sums moved by the difference, from one reading of its rows and events. The tables and
their definitions are in customers.py."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping

from django.db import connection

from analytics.rollups.answer_groups import answer_groups_refresh
from analytics.rollups.churn_cover import churn_cover_refresh, contacts_lock
from analytics.rollups.customers import (
    _FACTS_COLUMNS,
    _FACTS_CONFLICT,
    _FACTS_SELECT,
    _MONTHS_COLUMNS,
    _MONTHS_SELECT,
    _contribution,
)
from analytics.rollups.flow_groups import flow_groups_regroup, groups_of
from analytics.rollups.period_groups import order_groups_regroup
from analytics.rollups.periods import (
    KINDS,
    acquisition_contribution,
    active_contribution,
    active_groups_regroup,
    purchase_days_refresh,
    tagged_apply,
)
from analytics.rollups.stay_groups import regrouped_contacts, stay_groups_regroup

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
_OLD_GROUPS = "old_facts g"
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
kept_months AS MATERIALIZED (
    SELECT o.* FROM old_months o JOIN scope USING (contact_id)
    WHERE o.month < scope.floor_month
),
fresh_months AS MATERIALIZED (
    SELECT * FROM recomputed_months
    UNION ALL
    SELECT {_MONTHS_COLUMNS} FROM kept_months
),
-- The active days' pairs (each active day with the one before it) of the months that
-- change, before and after, each with the last month kept before them: its pairs are
-- the same on both sides and cancel, and it gives the first changed day its previous.
last_kept AS MATERIALIZED (
    SELECT DISTINCT ON (contact_id) * FROM kept_months ORDER BY contact_id, month DESC
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
)
SELECT workspace_id, basis, cohort, month, source,
       sum(size), sum(active), sum(purchasing), sum(revenue), NULL::date
FROM change
GROUP BY 1, 2, 3, 4, 5
HAVING (sum(size), sum(active), sum(purchasing), sum(revenue)) <> (0, 0, 0, 0)
UNION ALL
-- the active days by group (period_groups.py): both sides under the group the facts
-- said before, so that all of a contact's days stay under one group until the
-- regroup moves them
SELECT workspace_id, basis, cohort, month, source, sum(size)::bigint, 0, 0, 0, group_month
FROM ({active_contribution("active_fresh", groups=_OLD_GROUPS)}
      UNION ALL {active_contribution("active_old", sign="-", groups=_OLD_GROUPS)}) a
GROUP BY 1, 2, 3, 4, 5, 10
HAVING sum(size) <> 0
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
    meanwhile). The rows shared by many contacts (flows by group, cover counts, cohort
    cells, sums) are written last, each table in key order and in one statement, so
    they stay locked only until the commit that follows."""
    ids = sorted(contact_ids)
    if not ids:
        return
    with connection.cursor() as cursor:
        groups = groups_of(cursor, ids)  # the flows by group follow a change (flow_groups.py)
        known = since or {}
        cursor.execute(_REFRESH_SQL, {"ids": ids, "since": [known.get(i) for i in ids]})
        change = cursor.fetchall()
        # The shared rows in the one order every writer keeps (a dispatch, a replay, an
        # erasure): under the contacts' coverage locks the flows by group, then the
        # stays' cover, the stay counts by group; then the cohort cells, the period
        # sums, the order sums, the answer sums.
        contacts_lock(cursor, ids)
        moved = regrouped_contacts(cursor, ids, groups)  # most batches: none
        regrouped = {}
        if moved:
            flow_groups_regroup(cursor, moved, groups)
            regrouped = stay_groups_regroup(cursor, moved, groups)  # read before the cover moves
        churn_cover_refresh(cursor, ids, regrouped)  # the stays' cover, by the first purchases
        cells = [row[:9] for row in change if row[1] not in KINDS]
        if cells:
            cursor.execute(_ADD_TO_CELLS_SQL, [list(column) for column in zip(*cells, strict=True)])
        # then the period sums, in the same order always; the contacts whose group
        # changed moved to their new group (period_groups.py): their active days as
        # written now, their orders as counted before the purchase days are replaced
        days_regrouped = active_groups_regroup(cursor, moved, groups) if moved else []
        tagged_apply(cursor, [*change, *days_regrouped])
        orders_regrouped = order_groups_regroup(cursor, moved, groups) if moved else []
        purchase_days_refresh(cursor, ids, orders_regrouped)
        answer_groups_refresh(cursor, ids, groups)  # last: the answer sums by group
