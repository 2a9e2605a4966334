"""Stage rollups: moves per day between stages (StageFlowDay) and every stay in a stage
(Stay). Fed by the lifecycle's stage.changed hook, taken out on erasure, and
rebuildable from the transitions, which stay the definition.

StageFlowDay counts exactly the transitions that have been dispatched (notified_at set
in the same transaction as the increment), so a rebuild and the hook never count a
move twice. Stays are recomputed per contact from all of its transitions, so they do
not depend on the order moves are dispatched in."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from django.db import connection

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
_STAYS_SQL = """
INSERT INTO analytics_stay (contact_id, workspace_id, stage_id, transition_id, entered_at, left_at)
SELECT contact_id, workspace_id, to_stage_id, id, at,
       lead(at) OVER (PARTITION BY contact_id ORDER BY at, id)
FROM lifecycle_stagetransition WHERE contact_id = ANY(%(ids)s)
"""


def stage_rollups_apply(transitions: Sequence[StageTransition]) -> None:
    """The stage.changed hook: count these moves, and redo their contacts' stays."""
    if not transitions:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            _FLOW_SQL.format(sign="", where="t.id = ANY(%s)"), [[t.pk for t in transitions]]
        )
    stays_refresh(contact_ids={t.contact_id for t in transitions})


def stays_refresh(*, contact_ids: Collection[int]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(_STAYS_DELETE, {"ids": sorted(contact_ids)})
        cursor.execute(_STAYS_SQL, {"ids": sorted(contact_ids)})


def stage_rollups_erase(*, contact_id: int) -> None:
    """Take an erased contact's counted moves and its stays out.

    Its moves are locked first (id order): a dispatch holding some of them commits
    before the subtraction reads which are counted, and a later dispatch skips them
    (they are deleted with the contact), so each counted move is taken out once."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM lifecycle_stagetransition WHERE contact_id = %s ORDER BY id FOR UPDATE",
            [contact_id],
        )
        cursor.execute(
            _FLOW_SQL.format(sign="-", where="t.contact_id = %s AND t.notified_at IS NOT NULL"),
            [contact_id],
        )
        cursor.execute("DELETE FROM analytics_stay WHERE contact_id = %s", [contact_id])


def stage_rollups_rebuild(*, workspace_id: int) -> None:
    """Recompute both rollups of a workspace from its transitions."""
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM analytics_stageflowday WHERE workspace_id = %s", [workspace_id])
        cursor.execute(
            _FLOW_SQL.format(sign="", where="t.workspace_id = %s AND t.notified_at IS NOT NULL"),
            [workspace_id],
        )
        cursor.execute("DELETE FROM analytics_stay WHERE workspace_id = %s", [workspace_id])
        cursor.execute(
            """
            INSERT INTO analytics_stay
                (contact_id, workspace_id, stage_id, transition_id, entered_at, left_at)
            SELECT contact_id, workspace_id, to_stage_id, id, at,
                   lead(at) OVER (PARTITION BY contact_id ORDER BY at, id)
            FROM lifecycle_stagetransition WHERE workspace_id = %s
            """,
            [workspace_id],
        )
