"""Moves per day by the moving contacts' source and signup month (StageFlowGroupDay):
what the funnel, flow, churn and overview read when filtered by source or signup
month, instead of joining every move of the kept contacts (the definition, still
read for a segment and by the tests).

A counted move (dispatched: notified_at set, as StageFlowDay) is counted under its
contact's group in the facts: (source, signup month), or none without facts yet. Two
writers keep that true:

A contact without facts yet is in group ("", none), which no filter keeps.

- a dispatch and a replay taking moves out count or uncount moves under the group the
  facts say now, read after the contacts' coverage locks (churn_cover.contacts_lock,
  id order); an erasure reads it holding the contact row `FOR UPDATE`, which every
  writer of the contact's facts waits for (the engine's claim and a due run's hold
  take it `KEY SHARE`);
- the engine's facts refresh, which may change a contact's group, moves every counted
  move of those contacts from the old group to the new one, after the same locks and
  in the transaction that writes the facts.

The second to take a contact's lock sees what the first committed: a dispatch waiting
for a refresh reads the new group; a refresh waiting for a dispatch finds its moves
counted (under the old group, the facts it read being the committed ones) and moves
them. Every statement adds to shared rows in key order, as the other sums, and every
writer takes the shared rows in one order: StageFlowDay, these, the stay counts
(lengths, conversion, cover, by group), the cohort cells, the period sums, the order sums."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from django.db import connection

from analytics.rollups.churn_cover import contacts_lock
from analytics.rollups.replace import sums_replace
from analytics.rollups.stay_groups import CHANGED, changed_params
from lifecycle.hooks import RemovedMove

_KEY = "workspace_id, day, from_stage_id, to_stage_id, source, signup_month"
_ADD = f"""
INSERT INTO analytics_stageflowgroupday AS g ({_KEY}, moves)
SELECT {_KEY}, sum(moves) FROM ({{rows}}) x
GROUP BY 1, 2, 3, 4, 5, 6 HAVING sum(moves) <> 0 ORDER BY 1, 2, 3, 4, 5, 6
ON CONFLICT ({_KEY}) DO UPDATE SET moves = g.moves + EXCLUDED.moves
"""
# Moves `t` with their contact's group now: (key..., moves) rows, one per move.
_MOVES = """
SELECT t.workspace_id, (t.at AT TIME ZONE w.time_zone)::date AS day, t.from_stage_id,
       t.to_stage_id, coalesce(f.source, '') AS source, f.signup_month, {sign}1 AS moves
FROM {moves} JOIN workspaces_workspace w ON w.id = t.workspace_id
LEFT JOIN analytics_customerfacts f ON f.contact_id = t.contact_id
WHERE {where}
"""
_COUNTED = "lifecycle_stagetransition t"


def flow_groups_apply(transition_ids: Sequence[int], contact_ids: Collection[int]) -> None:
    """Count dispatched moves under their contacts' groups (the stage.changed hook)."""
    with connection.cursor() as cursor:
        contacts_lock(cursor, sorted(contact_ids))
        rows = _MOVES.format(sign="", moves=_COUNTED, where="t.id = ANY(%s)")
        cursor.execute(_ADD.format(rows=rows), [list(transition_ids)])


def flow_groups_take_out(workspace_id: int, counted: Sequence[RemovedMove]) -> None:
    """Uncount moves a replay took out of their contacts' histories, all of them
    counted (dispatched). The caller holds the contacts' coverage locks."""
    with connection.cursor() as cursor:
        removed = (
            "unnest(%(contact)s::bigint[], %(at)s::timestamptz[], %(from)s::bigint[], "
            "%(to)s::bigint[]) AS m(contact_id, at, from_stage_id, to_stage_id) "
            "CROSS JOIN LATERAL (SELECT %(ws)s::bigint AS workspace_id, m.*) t"
        )
        rows = _MOVES.format(sign="-", moves=removed, where="true")
        cursor.execute(
            _ADD.format(rows=rows),
            {
                "ws": workspace_id,
                "contact": [m[1] for m in counted],
                "at": [m[4] for m in counted],
                "from": [m[2] for m in counted],
                "to": [m[3] for m in counted],
            },
        )


def flow_groups_erase(contact_id: int) -> None:
    """Uncount an erased contact's counted moves (before its facts go)."""
    with connection.cursor() as cursor:
        where = "t.contact_id = %s AND t.notified_at IS NOT NULL"
        cursor.execute(
            _ADD.format(rows=_MOVES.format(sign="-", moves=_COUNTED, where=where)), [contact_id]
        )


def groups_of(cursor: Any, contact_ids: Sequence[int]) -> dict[int, tuple[str, Any]]:
    """The contacts' groups in their facts now (read before a refresh writes them)."""
    cursor.execute(
        "SELECT contact_id, source, signup_month FROM analytics_customerfacts "
        "WHERE contact_id = ANY(%s)",
        [list(contact_ids)],
    )
    return {contact: (source, month) for contact, source, month in cursor.fetchall()}


def flow_groups_regroup(
    cursor: Any, contact_ids: Sequence[int], before: dict[int, tuple[str, Any]]
) -> None:
    """The facts of these contacts were written: move the counted moves of those whose
    group changed from the group `before` (groups_of, read before the facts were
    written) to the one the facts say now. The caller holds their coverage locks."""
    changed = (
        f"{CHANGED} c JOIN {_COUNTED} ON t.contact_id = c.contact_id AND t.notified_at IS NOT NULL"
    )
    now = _MOVES.format(sign="", moves=changed, where="true")
    then = now.replace(
        "coalesce(f.source, '') AS source, f.signup_month, 1", "c.old_source, c.old_month, -1"
    )
    assert then != now
    cursor.execute(_ADD.format(rows=f"{now} UNION ALL {then}"), changed_params(contact_ids, before))


# Every counted move of a workspace (of some local days) under its contact's group.
_EXPECTED = f"""
SELECT {_KEY}, sum(moves) AS moves FROM ({
    _MOVES.format(
        sign="",
        moves=_COUNTED,
        where="t.workspace_id = %(ws)s AND t.notified_at IS NOT NULL {within}",
    )
}) x GROUP BY 1, 2, 3, 4, 5, 6
"""
_WITHIN = """AND t.at >= (SELECT min(d)::timestamp AT TIME ZONE w.time_zone
                           FROM unnest(%(days)s::date[]) d)
             AND (t.at AT TIME ZONE w.time_zone)::date = ANY(%(days)s::date[])"""


def _expected(days: list | None) -> str:
    return _EXPECTED.replace("{within}", "" if days is None else _WITHIN)


def flow_groups_compare(*, workspace_id: int, days: list | None = None) -> tuple[int, int]:
    """The rows (of the given local days, or all) against the counted moves and the
    facts: (rows compared, rows differing). Exact at any moment, as StageFlowDay."""
    day_filter = "" if days is None else "AND g.day = ANY(%(days)s::date[])"
    sql = f"""
    WITH expected AS ({_expected(days)}),
    stored AS (SELECT {_KEY}, moves::bigint FROM analytics_stageflowgroupday g
               WHERE g.workspace_id = %(ws)s AND g.moves <> 0 {day_filter}),
    differing AS ((SELECT * FROM expected EXCEPT SELECT * FROM stored)
                  UNION (SELECT * FROM stored EXCEPT SELECT * FROM expected))
    SELECT (SELECT count(*) FROM (SELECT {_KEY} FROM expected
                                  UNION SELECT {_KEY} FROM stored) k),
           (SELECT count(*) FROM (SELECT DISTINCT {_KEY} FROM differing) d)
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, {"ws": workspace_id, "days": days})
        checked, differing = cursor.fetchone()
    return int(checked), int(differing)


def flow_groups_recompute(*, workspace_id: int, days: list | None = None) -> None:
    """Count the moves (of the given local days, or all) again under their groups. The
    caller holds the workspace's rollups exclusively."""
    day_filter = "" if days is None else "AND day = ANY(%(days)s::date[])"
    params = {"ws": workspace_id, "days": days}
    with connection.cursor() as cursor:
        if days is None:  # every day: written only when they differ (the nightly rebuild)
            sums_replace(
                cursor,
                table="analytics_stageflowgroupday",
                columns=[*_KEY.split(", "), "moves"],
                select=_expected(None),
                params=params,
                workspace_id=workspace_id,
                counted="moves <> 0",
            )
            return
        cursor.execute(
            f"DELETE FROM analytics_stageflowgroupday WHERE workspace_id = %(ws)s {day_filter}",
            params,
        )
        cursor.execute(
            f"INSERT INTO analytics_stageflowgroupday ({_KEY}, moves) {_expected(days)} "
            "ORDER BY 1, 2, 3, 4, 5, 6",
            params,
        )
