"""Per-contact event summaries (contacts.EventSummary): derived, recomputable data."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from django.db import connection

_REFRESH_SQL = """
WITH fresh AS (
    SELECT contact_id, workspace_id, name, count(*) AS count, min(occurred_at) AS first_at,
           max(occurred_at) AS last_at, coalesce(sum(revenue), 0) AS revenue,
           count(revenue) AS revenue_count
    FROM contacts_event
    WHERE contact_id = ANY(%(ids)s)
    GROUP BY contact_id, workspace_id, name
), gone AS (
    DELETE FROM contacts_eventsummary s
    WHERE s.contact_id = ANY(%(ids)s)
      AND NOT EXISTS (SELECT 1 FROM fresh f WHERE f.contact_id = s.contact_id AND f.name = s.name)
)
INSERT INTO contacts_eventsummary AS s
    (contact_id, workspace_id, name, count, first_at, last_at, revenue, revenue_count)
SELECT contact_id, workspace_id, name, count, first_at, last_at, revenue, revenue_count
FROM fresh ORDER BY contact_id, name
ON CONFLICT (contact_id, name, workspace_id) DO UPDATE SET
    count = EXCLUDED.count, first_at = EXCLUDED.first_at, last_at = EXCLUDED.last_at,
    revenue = EXCLUDED.revenue, revenue_count = EXCLUDED.revenue_count
WHERE (s.count, s.first_at, s.last_at, s.revenue, s.revenue_count)
      IS DISTINCT FROM (EXCLUDED.count, EXCLUDED.first_at, EXCLUDED.last_at,
                        EXCLUDED.revenue, EXCLUDED.revenue_count)
"""


def event_summaries_refresh(*, contact_ids: Collection[int]) -> None:
    """Recompute these contacts' summaries from their events (one statement).

    A full recompute per contact rather than an increment per event: it reads the
    contact's events through the (contact_id, occurred_at) index, cannot drift from
    the raw events, and is safe to repeat or to run concurrently with ingest (a
    contact with new events is marked again and refreshed again)."""
    if not contact_ids:
        return
    with connection.cursor() as cursor:
        cursor.execute(_REFRESH_SQL, {"ids": sorted(contact_ids)})


def event_summaries_rebuild(
    *,
    workspace_id: int,
    as_of: dt.datetime | None = None,
    contact_ids: list[int] | None = None,
) -> int:
    """Rebuild the summaries of a workspace (or of `contact_ids` in it) from scratch;
    returns the rows written. `as_of` counts only the events that had happened by then
    (replaying history)."""
    scope = "" if contact_ids is None else " AND contact_id = ANY(%(ids)s)"
    params = {"ws": workspace_id, "as_of": as_of, "ids": contact_ids}
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM contacts_eventsummary WHERE workspace_id = %(ws)s" + scope, params
        )
        cursor.execute(
            """
            INSERT INTO contacts_eventsummary
                (contact_id, workspace_id, name, count, first_at, last_at, revenue,
                 revenue_count)
            SELECT contact_id, workspace_id, name, count(*), min(occurred_at),
                   max(occurred_at), coalesce(sum(revenue), 0), count(revenue)
            FROM contacts_event
            WHERE workspace_id = %(ws)s
              AND (%(as_of)s::timestamptz IS NULL OR occurred_at <= %(as_of)s)"""
            + scope
            + """
            GROUP BY contact_id, workspace_id, name
            """,
            params,
        )
        return int(cursor.rowcount)


# Summary rows of the settled contacts among `ids` (no mark pending or being evaluated:
# their summaries may lag the events by design) that are not what their events give,
# by contact and name, either way round. One statement: the events, the summaries and
# the marks are read at one moment, and an event always commits with its mark.
_COMPARE_SQL = """
WITH settled AS (
    SELECT c.id FROM contacts_contact c
    WHERE c.workspace_id = %(ws)s AND c.id = ANY(%(ids)s)
      AND NOT EXISTS (SELECT 1 FROM contacts_contactmark m
                      WHERE m.contact_id = c.id AND m.workspace_id = %(ws)s)
), fresh AS (
    SELECT contact_id, name, count(*) AS count, min(occurred_at) AS first_at,
           max(occurred_at) AS last_at, coalesce(sum(revenue), 0) AS revenue,
           count(revenue) AS revenue_count
    FROM contacts_event
    WHERE workspace_id = %(ws)s AND contact_id IN (SELECT id FROM settled)
    GROUP BY contact_id, name
), stored AS (
    SELECT contact_id, name, count, first_at, last_at, revenue, revenue_count
    FROM contacts_eventsummary
    WHERE workspace_id = %(ws)s AND contact_id IN (SELECT id FROM settled)
), differing AS (
    (SELECT * FROM fresh EXCEPT SELECT * FROM stored)
    UNION
    (SELECT * FROM stored EXCEPT SELECT * FROM fresh)
)
SELECT (SELECT count(*) FROM (SELECT contact_id, name FROM fresh
                              UNION SELECT contact_id, name FROM stored) k),
       (SELECT count(*) FROM (SELECT DISTINCT contact_id, name FROM differing) d),
       ARRAY(SELECT DISTINCT contact_id FROM differing ORDER BY 1)
"""


def event_summaries_compare(
    *, workspace_id: int, contact_ids: Collection[int]
) -> tuple[int, int, list[int]]:
    """Compare the summaries of these contacts with their events (the drift check):
    (rows compared, rows differing, contacts whose summaries differ). Contacts with a
    mark are left out: the engine has yet to look at them."""
    with connection.cursor() as cursor:
        cursor.execute(_COMPARE_SQL, {"ws": workspace_id, "ids": sorted(contact_ids)})
        checked, differing, contacts = cursor.fetchone()
    return int(checked), int(differing), list(contacts)
