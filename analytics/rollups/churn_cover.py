"""Customers in a stage at the start of a day, for churn (ChurnCover): each stay
counts its contact from the first local day after both the day it began and the day
of the contact's first purchase (Stay.cover_from) to the day it ended.

Two writers feed a stay's `cover_from`: the stays refresh (the stage.changed
dispatch, replays, erasure: rollups/stages.py) writes it with the stay, reading the
contact's facts; the engine's facts refresh (rollups/customers.py) writes it again
when the first purchase moved. Each takes the contacts' advisory locks (id order)
before it reads, so the second to come reads what the first committed: neither can
keep a first purchase or a stay the other was writing at the same time. The counts
are moved by the difference of what the stays counted before and after, in key
order, last in the transaction, like every sum here."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection

from analytics.rollups.conversion import COVER_COUNTS, COVER_FROM, COVER_KEY
from analytics.rollups.replace import sums_replace
from analytics.rollups.stay_groups import GROUP_NOW, stay_groups_apply

_LOCK_SPACE = 7204  # advisory-lock namespace: a contact's stay coverage


_APPLY = """
INSERT INTO analytics_churncover AS c (workspace_id, stage_id, from_day, to_day, stays)
SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::date[], %s::date[], %s::int[])
ON CONFLICT (workspace_id, stage_id, from_day, to_day)
DO UPDATE SET stays = c.stays + EXCLUDED.stays
"""


def contacts_lock(cursor: Any, contact_ids: Sequence[int]) -> None:
    """The contacts' coverage locks until the transaction ends, in id order (a shared
    lock space: ids are folded into it, so two contacts may share a lock, which only
    makes one wait)."""
    cursor.execute(
        "SELECT count(pg_advisory_xact_lock(%s, (id %% 2147483647)::int)) "
        "FROM (SELECT DISTINCT id FROM unnest(%s::bigint[]) AS u(id) ORDER BY id OFFSET 0) s",
        [_LOCK_SPACE, sorted(contact_ids)],
    )


def cover_apply(cursor: Any, change: dict[tuple, int]) -> None:
    """Move the counts by {(workspace, stage, from day, to day): stays}, in key order
    (NULLs last, as the unique index)."""
    rows = sorted(
        ((*key, n) for key, n in change.items() if n),
        key=lambda r: tuple((v is None, v) for v in r[:4]),
    )
    if rows:
        cursor.execute(_APPLY, [list(column) for column in zip(*rows, strict=True)])


_REFRESH_SQL = f"""
WITH fresh AS (
    SELECT s.id, {COVER_FROM.replace("t.at", "s.entered_at")} AS cover_from
    FROM analytics_stay s JOIN workspaces_workspace w ON w.id = s.workspace_id
    LEFT JOIN analytics_customerfacts f ON f.contact_id = s.contact_id
    WHERE s.contact_id = ANY(%(ids)s)
), old AS MATERIALIZED (
    SELECT s.workspace_id, s.stage_id, s.cover_from,
           (s.left_at AT TIME ZONE w.time_zone)::date AS to_day, {COVER_COUNTS} AS counts,
           s.source, s.signup_month
    FROM analytics_stay s
    JOIN workspaces_workspace w ON w.id = s.workspace_id
    JOIN fresh n ON n.id = s.id AND n.cover_from IS DISTINCT FROM s.cover_from
), written AS (
    UPDATE analytics_stay s SET cover_from = n.cover_from FROM fresh n
    WHERE s.id = n.id AND n.cover_from IS DISTINCT FROM s.cover_from
    RETURNING s.*
)
SELECT {COVER_KEY}, {GROUP_NOW}, 1 FROM written s
JOIN workspaces_workspace w ON w.id = s.workspace_id
WHERE {COVER_COUNTS}
UNION ALL
SELECT s.workspace_id, s.stage_id, s.cover_from, s.to_day, {GROUP_NOW}, -1 FROM old s
WHERE s.counts
"""


def churn_cover_refresh(
    cursor: Any, contact_ids: Sequence[int], regrouped: dict[tuple, int] | None = None
) -> None:
    """The facts of these contacts were written: write their stays' `cover_from` again
    where the first purchase moved it, and move the counts by the change; then the
    counts by group by the same and by `regrouped` (stay_groups_regroup, read before)."""
    contacts_lock(cursor, contact_ids)
    cursor.execute(_REFRESH_SQL, {"ids": sorted(contact_ids)})
    change: dict[tuple, int] = {}
    # the same by group (stay_groups.py), the contacts' now
    tagged: dict[tuple, int] = dict(regrouped or {})
    for workspace, stage, from_day, to_day, source, month, n in cursor.fetchall():
        key = (workspace, stage, from_day, to_day)
        change[key] = change.get(key, 0) + n
        by_group = ("cover", workspace, stage, None, None, from_day, None, to_day, source, month)
        tagged[by_group] = tagged.get(by_group, 0) + n
    cover_apply(cursor, change)
    stay_groups_apply(cursor, tagged)


_EXPECTED = f"""
SELECT {COVER_KEY}, count(*) AS stays FROM analytics_stay s
JOIN workspaces_workspace w ON w.id = s.workspace_id
WHERE s.workspace_id = %(ws)s AND {COVER_COUNTS} GROUP BY 1, 2, 3, 4
"""


def churn_cover_compare(*, workspace_id: int) -> tuple[int, int]:
    """The counts against the stays they count (written in the same transaction):
    (rows compared, rows differing). The stays' `cover_from` against the facts is
    the stays' own check (stays_compare)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH expected AS ({_EXPECTED}), stored AS ("
            "SELECT workspace_id, stage_id, from_day, to_day, stays::bigint "
            "FROM analytics_churncover WHERE workspace_id = %(ws)s AND stays <> 0), "
            "differing AS ((SELECT * FROM expected EXCEPT SELECT * FROM stored) "
            "UNION ALL (SELECT * FROM stored EXCEPT SELECT * FROM expected)) "
            "SELECT (SELECT count(*) FROM expected), (SELECT count(*) FROM "
            "(SELECT DISTINCT stage_id, from_day, to_day FROM differing) d)",
            {"ws": workspace_id},
        )
        checked, differing = cursor.fetchone()
    return int(checked), int(differing)


def churn_cover_recompute(*, workspace_id: int) -> None:
    """Count the stays again. The caller holds the workspace's rollups exclusively."""
    with connection.cursor() as cursor:
        sums_replace(
            cursor,
            table="analytics_churncover",
            columns=["workspace_id", "stage_id", "from_day", "to_day", "stays"],
            select=_EXPECTED,
            params={"ws": workspace_id},
            workspace_id=workspace_id,
            counted="stays <> 0",
        )
