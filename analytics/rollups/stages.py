"""Stage rollups: moves per day between stages (StageFlowDay; by source and signup
month: flow_groups.py) and every stay in a stage (Stay). Fed by the lifecycle's
stage.changed hook, taken out on erasure, and rebuildable from the transitions, which
stay the definition.

StageFlowDay counts exactly the transitions that have been dispatched (notified_at set
in the same transaction as the increment), so a rebuild and the hook never count a
move twice. Stays are recomputed per contact from all of its transitions, so they do
not depend on the order moves are dispatched in."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from django.db import connection

from analytics.rollups.churn_cover import (
    churn_cover_recompute,
    contacts_lock,
    cover_apply,
)
from analytics.rollups.conversion import (
    STAY_COLUMNS,
    conversion_apply,
    conversion_days_recompute,
    stays_insert_sql,
    stays_rebuild_sql,
    stays_select_sql,
)
from analytics.rollups.flow_groups import (
    flow_groups_apply,
    flow_groups_erase,
    flow_groups_recompute,
    flow_groups_take_out,
)
from analytics.rollups.replace import rows_replace, sums_replace
from analytics.rollups.stay_groups import (
    LENGTH_KEY,
    stay_counts_sql,
    stay_groups_apply,
    stay_groups_recompute,
)
from lifecycle.hooks import RemovedMove
from lifecycle.models import StageTransition

_FLOW_SQL = """
INSERT INTO analytics_stageflowday AS f (workspace_id, day, from_stage_id, to_stage_id, moves)
SELECT t.workspace_id, (t.at AT TIME ZONE w.time_zone)::date, t.from_stage_id, t.to_stage_id,
       {sign} count(*)
FROM lifecycle_stagetransition t JOIN workspaces_workspace w ON w.id = t.workspace_id
WHERE {where}
GROUP BY 1, 2, 3, 4
ORDER BY 1, 2, 3, 4
ON CONFLICT (workspace_id, day, from_stage_id, to_stage_id)
DO UPDATE SET moves = f.moves + EXCLUDED.moves
"""

# Two statements, not a DELETE in a WITH: the sub-statements of one statement run in
# no set order, so the INSERT could meet the rows it replaces in the unique index.
_STAYS_DELETE = "DELETE FROM analytics_stay WHERE contact_id = ANY(%(ids)s)"
_STAYS_SQL = stays_insert_sql("contact_id = ANY(%(ids)s)")


def stage_rollups_apply(transitions: Sequence[StageTransition]) -> None:
    """The stage.changed hook: count these moves, and redo their contacts' stays."""
    if not transitions:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            _FLOW_SQL.format(sign="", where="t.id = ANY(%s)"), [[t.pk for t in transitions]]
        )
    contact_ids = {t.contact_id for t in transitions}
    flow_groups_apply([t.pk for t in transitions], contact_ids)
    stays_refresh(contact_ids=contact_ids)


_LENGTHS_OF = f"""
SELECT {LENGTH_KEY}, {{sign}}count(*) FROM {{stays}} s
JOIN workspaces_workspace w ON w.id = s.workspace_id GROUP BY 1, 2, 3, 4, 5
"""
_RETURNING = " RETURNING contact_id, workspace_id, stage_id, entered_at, left_at, first_entry, " + (
    "next_stage_id, converted_at, cover_from, source, signup_month"
)
_LENGTHS_APPLY = """
INSERT INTO analytics_staylength AS l (workspace_id, stage_id, open, day, days, stays)
SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::bool[], %s::date[], %s::int[], %s::int[])
ON CONFLICT (workspace_id, stage_id, open, day, days) DO UPDATE SET stays = l.stays + EXCLUDED.stays
"""


def stays_refresh(*, contact_ids: Collection[int]) -> None:
    """Recompute these contacts' stays from their moves, and move the stay lengths and
    the conversion counts by what the stays removed and written count (one statement
    each, in key order)."""
    ids = {"ids": sorted(contact_ids)}
    change: dict[tuple, int] = {}
    with connection.cursor() as cursor:
        contacts_lock(cursor, ids["ids"])  # before reading their facts (churn_cover.py)
        for sql, sign in ((_STAYS_DELETE, "-"), (_STAYS_SQL, "")):
            counts = stay_counts_sql("s", sign=sign)
            cursor.execute(f"WITH s AS ({sql}{_RETURNING}) {counts}", ids)
            for *key, n in cursor.fetchall():
                change[tuple(key)] = change.get(tuple(key), 0) + n
        _counts_apply(cursor, change)


def _counts_apply(cursor: Any, change: dict[tuple, int]) -> None:
    """Apply tagged differences (stay_groups.py): the stay lengths, the conversion
    counts, the cover, then the three by group."""
    lengths: dict[tuple, int] = {}
    conversion: dict[tuple, int] = {}
    cover: dict[tuple, int] = {}
    for (kind, workspace, stage, open_, next_stage, day, days, until, *_), n in change.items():
        key: tuple
        if kind == "length":
            key, into = (workspace, stage, open_, day, days), lengths
        elif kind == "conversion":
            key, into = (workspace, stage, next_stage, day, days), conversion
        else:
            key, into = (workspace, stage, day, until), cover
        into[key] = into.get(key, 0) + n
    _lengths_apply(cursor, lengths)
    conversion_apply(cursor, conversion)
    cover_apply(cursor, cover)
    stay_groups_apply(cursor, change)


def _lengths_apply(cursor: Any, change: dict[tuple, int]) -> None:
    rows = sorted((*key, n) for key, n in change.items() if n)
    if rows:
        cursor.execute(_LENGTHS_APPLY, [list(column) for column in zip(*rows, strict=True)])


def moves_hold(*, contact_ids: Collection[int]) -> None:
    """Lock these contacts' moves (id order) until the transaction ends: a dispatch
    holding some of them commits first, and later dispatches skip them (they claim
    with SKIP LOCKED). Taken before the rollups' advisory lock, as a dispatch takes
    its moves before it."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM lifecycle_stagetransition WHERE contact_id = ANY(%s) "
            "ORDER BY id FOR UPDATE",
            [sorted(contact_ids)],
        )


_TAKE_OUT_SQL = """
INSERT INTO analytics_stageflowday AS f (workspace_id, day, from_stage_id, to_stage_id, moves)
SELECT w.id, (m.at AT TIME ZONE w.time_zone)::date, m.from_stage, m.to_stage, -count(*)
FROM unnest(%(at)s::timestamptz[], %(from)s::bigint[], %(to)s::bigint[])
     AS m(at, from_stage, to_stage)
JOIN workspaces_workspace w ON w.id = %(ws)s
GROUP BY 1, 2, 3, 4
ORDER BY 1, 2, 3, 4
ON CONFLICT (workspace_id, day, from_stage_id, to_stage_id)
DO UPDATE SET moves = f.moves + EXCLUDED.moves
"""


def stage_rollups_take_out(
    *, workspace_id: int, contact_ids: Collection[int], moves: Sequence[RemovedMove]
) -> None:
    """A replay took these moves out of their contacts' histories: uncount those that
    were counted (dispatched), and redo the contacts' stays."""
    counted = [m for m in moves if m[5] is not None]
    if counted:
        with connection.cursor() as cursor:
            cursor.execute(
                _TAKE_OUT_SQL,
                {
                    "ws": workspace_id,
                    "at": [m[4] for m in counted],
                    "from": [m[2] for m in counted],
                    "to": [m[3] for m in counted],
                },
            )
    if moves:
        contact_ids = sorted({m[1] for m in moves})
        with connection.cursor() as cursor:
            contacts_lock(cursor, contact_ids)  # all of them at once, in id order
        flow_groups_take_out(workspace_id, counted)
        stays_refresh(contact_ids=contact_ids)


def stage_rollups_erase(*, contact_id: int) -> None:
    """Take an erased contact's counted moves and its stays out. The caller holds its
    moves (moves_hold), so each counted move is taken out exactly once."""
    with connection.cursor() as cursor:
        cursor.execute(
            _FLOW_SQL.format(sign="-", where="t.contact_id = %s AND t.notified_at IS NOT NULL"),
            [contact_id],
        )
        flow_groups_erase(contact_id)
        cursor.execute(
            f"WITH s AS (DELETE FROM analytics_stay WHERE contact_id = %s{_RETURNING}) "
            + stay_counts_sql("s", sign="-"),
            [contact_id],
        )
        _counts_apply(cursor, {tuple(key): n for *key, n in cursor.fetchall()})


def stage_rollups_rebuild(*, workspace_id: int) -> None:
    """Recompute both rollups of a workspace from its transitions."""
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM analytics_stageflowday WHERE workspace_id = %s", [workspace_id])
        cursor.execute(
            _FLOW_SQL.format(sign="", where="t.workspace_id = %s AND t.notified_at IS NOT NULL"),
            [workspace_id],
        )
        flow_groups_recompute(workspace_id=workspace_id)  # after the facts (rollups_rebuild)
        select, params = stays_rebuild_sql(workspace_id)
        rows_replace(
            cursor,
            table="analytics_stay",
            columns=STAY_COLUMNS.split(", "),
            key=["transition_id"],
            select=select,
            params=params,
            workspace_id=workspace_id,
        )
    stay_lengths_recompute(workspace_id=workspace_id)
    conversion_days_recompute(workspace_id=workspace_id)
    churn_cover_recompute(workspace_id=workspace_id)
    stay_groups_recompute(workspace_id=workspace_id)  # after the facts, as the flows by group


# --- the drift check -------------------------------------------------------------------

# Stays of the settled contacts among %(ids)s (no undispatched move: a dispatch
# recomputes the stays of the contacts it hands on) against their moves.
_STAYS_COMPARE_SQL = f"""
WITH settled AS (
    SELECT c.id FROM contacts_contact c
    WHERE c.workspace_id = %(ws)s AND c.id = ANY(%(ids)s)
      AND NOT EXISTS (SELECT 1 FROM lifecycle_stagetransition t
                      WHERE t.contact_id = c.id AND t.notified_at IS NULL)
), fresh AS (
    SELECT contact_id, stage_id, transition_id, entered_at, left_at, first_entry,
           next_stage_id, converted_at, cover_from, source, signup_month
    FROM ({stays_select_sql("contact_id IN (SELECT id FROM settled)")}) f
), stored AS (
    SELECT contact_id, stage_id, transition_id, entered_at, left_at, first_entry,
           next_stage_id, converted_at, cover_from, source::text, signup_month
    FROM analytics_stay
    WHERE workspace_id = %(ws)s AND contact_id IN (SELECT id FROM settled)
), differing AS ((SELECT * FROM fresh EXCEPT SELECT * FROM stored)
                 UNION (SELECT * FROM stored EXCEPT SELECT * FROM fresh))
SELECT (SELECT count(*) FROM (SELECT transition_id FROM fresh
                              UNION SELECT transition_id FROM stored) k),
       (SELECT count(DISTINCT transition_id) FROM differing),
       ARRAY(SELECT DISTINCT contact_id FROM differing ORDER BY 1)
"""


def stays_compare(*, workspace_id: int, contact_ids: Collection[int]) -> tuple[int, int, list[int]]:
    """Compare the stays of these contacts with their moves: (stays compared, stays
    differing, the contacts that differ)."""
    with connection.cursor() as cursor:
        cursor.execute(_STAYS_COMPARE_SQL, {"ws": workspace_id, "ids": sorted(contact_ids)})
        checked, differing, contacts = cursor.fetchone()
    return int(checked), int(differing), list(contacts)


def stays_orphans(*, workspace_id: int) -> list[int]:
    """Contacts that are gone but still have stays."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT ARRAY(SELECT DISTINCT s.contact_id FROM analytics_stay s "
            "WHERE s.workspace_id = %s AND NOT EXISTS "
            "(SELECT 1 FROM contacts_contact c WHERE c.id = s.contact_id) ORDER BY 1)",
            [workspace_id],
        )
        return list(cursor.fetchone()[0])


def _flows_expected(days: list | None) -> str:
    within = ""
    if days is not None:
        within = """AND t.at >= (SELECT min(d)::timestamp AT TIME ZONE w.time_zone
                                  FROM unnest(%(days)s::date[]) d)
                    AND (t.at AT TIME ZONE w.time_zone)::date = ANY(%(days)s::date[])"""
    return f"""
SELECT t.workspace_id, (t.at AT TIME ZONE w.time_zone)::date AS day, t.from_stage_id,
       t.to_stage_id, count(*) AS moves
FROM lifecycle_stagetransition t JOIN workspaces_workspace w ON w.id = t.workspace_id
WHERE t.workspace_id = %(ws)s AND t.notified_at IS NOT NULL {within}
GROUP BY 1, 2, 3, 4
"""


def stage_flows_compare(*, workspace_id: int, days: list | None = None) -> tuple[int, int]:
    """Compare the moves per day (of the given local days, or all) with the
    dispatched moves: (rows compared, rows differing). Exact at any moment: a
    dispatch counts the moves it marks dispatched in the same transaction."""
    day_filter = "" if days is None else "AND f.day = ANY(%(days)s::date[])"
    sql = f"""
    WITH expected AS ({_flows_expected(days)}),
    stored AS (
        SELECT f.workspace_id, f.day, f.from_stage_id, f.to_stage_id, f.moves::bigint
        FROM analytics_stageflowday f
        WHERE f.workspace_id = %(ws)s AND f.moves <> 0 {day_filter}),
    differing AS ((SELECT * FROM expected EXCEPT SELECT * FROM stored)
                  UNION (SELECT * FROM stored EXCEPT SELECT * FROM expected))
    SELECT (SELECT count(*) FROM (SELECT day, from_stage_id, to_stage_id FROM expected
                                  UNION SELECT day, from_stage_id, to_stage_id FROM stored) k),
           (SELECT count(*) FROM (SELECT DISTINCT day, from_stage_id, to_stage_id
                                  FROM differing) d)
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, {"ws": workspace_id, "days": days})
        checked, differing = cursor.fetchone()
    return int(checked), int(differing)


def stage_flows_recompute(*, workspace_id: int, days: list | None = None) -> None:
    """Count the dispatched moves of the given days (or all) again. The caller holds
    the workspace's rollups exclusively."""
    day_filter = "" if days is None else "AND day = ANY(%(days)s::date[])"
    params = {"ws": workspace_id, "days": days}
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM analytics_stageflowday WHERE workspace_id = %(ws)s {day_filter}", params
        )
        cursor.execute(
            "INSERT INTO analytics_stageflowday (workspace_id, day, from_stage_id, to_stage_id, "
            f"moves) {_flows_expected(days)} ORDER BY 1, 2, 3, 4",
            params,
        )


_LENGTHS_EXPECTED = _LENGTHS_OF.format(sign="", stays="analytics_stay").replace(
    "GROUP BY", "WHERE s.workspace_id = %(ws)s GROUP BY"
)


def stay_lengths_compare(*, workspace_id: int) -> tuple[int, int]:
    """Compare the stay lengths with the stays they count (written in the same
    transaction: exact at any moment): (rows compared, rows differing)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH expected AS ({_LENGTHS_EXPECTED}), stored AS ("
            "SELECT workspace_id, stage_id, open, day, days, stays::bigint "
            "FROM analytics_staylength WHERE workspace_id = %(ws)s AND stays <> 0), "
            "differing AS ((SELECT * FROM expected EXCEPT SELECT * FROM stored) "
            "UNION ALL (SELECT * FROM stored EXCEPT SELECT * FROM expected)) "
            "SELECT (SELECT count(*) FROM expected), (SELECT count(*) FROM "
            "(SELECT DISTINCT stage_id, open, day, days FROM differing) d)",
            {"ws": workspace_id},
        )
        checked, differing = cursor.fetchone()
    return int(checked), int(differing)


def stay_lengths_recompute(*, workspace_id: int) -> None:
    """Count the stays again. The caller holds the workspace's rollups exclusively."""
    with connection.cursor() as cursor:
        sums_replace(
            cursor,
            table="analytics_staylength",
            columns=["workspace_id", "stage_id", "open", "day", "days", "stays"],
            select=_LENGTHS_EXPECTED,
            params={"ws": workspace_id},
            workspace_id=workspace_id,
            counted="stays <> 0",
        )
