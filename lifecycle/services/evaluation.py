"""The stage engine: one set-based statement that puts contacts in their stages.

    which stage = CASE WHEN <rule of stage 1> THEN 1 WHEN <rule of stage 2> THEN 2 ...
                  ELSE <default stage> END

evaluated by PostgreSQL for a scope of contacts (an id range for a sweep chunk, a
list of ids for contacts whose data changed), writing only the contacts whose stage
changes, and a transition for each, in the same statement."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.db import connection, transaction
from django.db.models import Case, IntegerField, Value, When
from django.utils import timezone

from contacts.models import Contact
from contacts.rules import Scope, compile_rule
from lifecycle.models import Cause, Stage
from lifecycle.selectors import stages_for_workspace
from workspaces.models import Workspace

# When a move happened and the event that caused it (None: no event, a change of the
# contact's own data).
Dated = tuple[dt.datetime, int | None, str]

# The statement around the computed stages. The UPDATE's `cs.stage_id = d.old_stage`
# makes it a conditional write that only one writer can win: if the incremental
# evaluator moved a contact after this statement's snapshot, PostgreSQL re-checks the
# row, finds another stage, and skips it, so no transition is written twice or from
# the wrong stage. New contacts (no row yet) enter with ON CONFLICT DO NOTHING, for
# the same reason. The rows to move are locked first, in contact order (`locked`, read
# whole before the UPDATE runs), the order every writer takes them in, so that a sweep
# chunk and the evaluation of marked contacts never deadlock.
_APPLY_SQL = """
WITH computed AS MATERIALIZED ({computed}),
dated AS (
    -- Contacts whose move is dated at an event of theirs (marks whose data is
    -- current, current.py) rather than at `now`.
    SELECT * FROM unnest(%(dated_ids)s::bigint[], %(dated_at)s::timestamptz[],
                         %(dated_event)s::bigint[], %(dated_name)s::text[])
        AS x(contact_id, at, event_id, event_name)
),
diff AS (
    SELECT c.id AS contact_id, cur.stage_id AS old_stage, c.new_stage,
           coalesce(dd.at, %(now)s) AS at, dd.event_id, coalesce(dd.event_name, '') AS event_name
    FROM computed c
    LEFT JOIN lifecycle_contactstage cur ON cur.contact_id = c.id AND {scope_current}
    LEFT JOIN dated dd ON dd.contact_id = c.id
    WHERE cur.contact_id IS NULL
       OR (cur.stage_id <> c.new_stage
           AND (%(override_pins)s OR NOT cur.pinned
                OR (cur.pinned_until IS NOT NULL AND cur.pinned_until <= %(now)s)))
),
locked AS MATERIALIZED (
    SELECT cs.contact_id FROM lifecycle_contactstage cs
    WHERE cs.contact_id IN (SELECT contact_id FROM diff WHERE old_stage IS NOT NULL)
    ORDER BY cs.contact_id
    FOR NO KEY UPDATE OF cs
),
moved AS (
    -- A move is never dated before the contact's last one: a replay may have dated its
    -- move after this statement's `now` and committed while the row lock was awaited
    -- (the row as updated then is what `cs` is here, whatever the snapshot saw).
    UPDATE lifecycle_contactstage cs
    SET stage_id = d.new_stage,
        entered_at = GREATEST(d.at, cs.entered_at + interval '1 microsecond'),
        pinned = false, pinned_until = NULL
    FROM diff d
    WHERE cs.contact_id = d.contact_id AND cs.stage_id = d.old_stage AND {scope_cs}
      AND (%(override_pins)s OR NOT cs.pinned
           OR (cs.pinned_until IS NOT NULL AND cs.pinned_until <= %(now)s))
      -- Every row to move (a subset of `locked`) is locked first: `locked` is read
      -- whole, once, before the scan. (As a filter, `cs.contact_id = ANY(<locked as
      -- an array>)` was tested row by row against the whole array, and its estimate of
      -- one row chose a nested loop of the scope's rows against every move: 40 s for a
      -- due run's 20,000 contacts.)
      AND (SELECT count(*) FROM locked) > 0
    RETURNING cs.contact_id, d.old_stage, d.new_stage, cs.entered_at AS at, d.event_id,
              d.event_name
),
entered AS (
    INSERT INTO lifecycle_contactstage (contact_id, workspace_id, stage_id, entered_at, pinned)
    SELECT d.contact_id, %(ws)s, d.new_stage, d.at, false
    FROM diff d WHERE d.old_stage IS NULL
    ORDER BY d.contact_id
    ON CONFLICT (contact_id, workspace_id) DO NOTHING
    RETURNING contact_id, NULL::bigint AS old_stage, stage_id AS new_stage, entered_at AS at,
              NULL::bigint AS event_id, ''::text AS event_name
)
INSERT INTO lifecycle_stagetransition
    (workspace_id, contact_id, from_stage_id, to_stage_id, at, cause, rule_version, reason,
     event_id, event_name)
SELECT %(ws)s, m.contact_id, m.old_stage, m.new_stage, m.at, %(cause)s,
       s.rule_version, %(reason)s, m.event_id, m.event_name
FROM (SELECT * FROM moved UNION ALL SELECT * FROM entered) m
JOIN lifecycle_stage s ON s.id = m.new_stage
"""


def stage_case(
    *, stages: list[Stage], workspace: Workspace, now: dt.datetime, scope: Scope
) -> Case:
    """CASE over the stages' compiled rules, first match wins, else the default."""
    default = next(stage for stage in stages if stage.is_default)
    whens = [
        When(
            compile_rule(stage.rule, workspace=workspace, now=now, scope=scope),
            then=Value(stage.pk),
        )
        for stage in stages
        if not stage.is_default and stage.rule
    ]
    return Case(*whens, default=Value(default.pk), output_field=IntegerField())


def stages_evaluate(
    *,
    workspace: Workspace,
    scope: Scope,
    cause: str = Cause.RULE,
    now: dt.datetime | None = None,
    reason: str = "",
    override_pins: bool = False,
    exclude_stage_ids: frozenset[int] = frozenset(),
    dated: Mapping[int, Dated] | None = None,
) -> int:
    """Put every contact in scope in its stage; returns how many moved.

    Safe to run twice (the second run finds nothing to change) and while events keep
    arriving (a contact whose data changes after the snapshot is marked, and the
    incremental evaluator looks at it again). `override_pins` and
    `exclude_stage_ids` serve removing a stage: its contacts, pinned or not, move by
    the rules of the remaining stages. `dated`: contacts whose move, if they move, is
    dated at a moment of their own before `now`, naming the event that caused it
    (marks whose data is current, current.py); the others move at `now`."""
    now = now or timezone.now()
    stages = [s for s in stages_for_workspace(workspace=workspace) if s.pk not in exclude_stage_ids]
    if not any(stage.is_default for stage in stages):
        return 0
    computed = (
        Contact.objects.filter(scope.limit("pk"), workspace=workspace)
        .annotate(new_stage=stage_case(stages=stages, workspace=workspace, now=now, scope=scope))
        .values("id", "new_stage")
    )
    computed_sql, computed_params = computed.query.sql_with_params()
    sql = (
        _APPLY_SQL.replace("{computed}", computed_sql)
        .replace("{scope_current}", _scope_sql("cur", scope))
        .replace("{scope_cs}", _scope_sql("cs", scope))
    )
    sql, params = merge_params(
        sql,
        computed_params,
        {
            "ws": workspace.pk,
            "now": now,
            "cause": cause,
            "reason": reason,
            "override_pins": override_pins,
            "low": scope.low,
            "high": scope.high,
            "ids": scope.ids_array,
            **_dated_params(dated or {}),
        },
    )
    with transaction.atomic(), connection.cursor() as cursor:
        # JIT compiles for seconds' worth of rows; these statements take milliseconds
        # per chunk. Hash tables for the rules' sub-queries need some memory.
        cursor.execute("SET LOCAL jit = off")
        cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute(sql, params)
        return int(cursor.rowcount)


def _dated_params(dated: Mapping[int, Dated]) -> dict[str, list[Any]]:
    ids = sorted(dated)
    return {
        "dated_ids": ids,
        "dated_at": [dated[i][0] for i in ids],
        "dated_event": [dated[i][1] for i in ids],
        "dated_name": [dated[i][2] for i in ids],
    }


# The contacts in scope whose stage the rules would change now (never evaluated, or
# in another stage and not held there by a pin), read-only, in id order.
_MOVERS_SQL = """
WITH computed AS MATERIALIZED ({computed})
SELECT c.id FROM computed c
LEFT JOIN lifecycle_contactstage cur ON cur.contact_id = c.id AND {scope_current}
WHERE cur.contact_id IS NULL
   OR (cur.stage_id <> c.new_stage
       AND (NOT cur.pinned OR (cur.pinned_until IS NOT NULL AND cur.pinned_until <= %(now)s)))
ORDER BY c.id
"""


def stages_movers(*, workspace: Workspace, scope: Scope, now: dt.datetime) -> list[int]:
    """Who in scope the rules would move now, without moving anyone (a periodic sweep
    hands them to the replay, which dates each move when its boundary was crossed)."""
    stages = list(stages_for_workspace(workspace=workspace))
    if not any(stage.is_default for stage in stages):
        return []
    computed = (
        Contact.objects.filter(scope.limit("pk"), workspace=workspace)
        .annotate(new_stage=stage_case(stages=stages, workspace=workspace, now=now, scope=scope))
        .values("id", "new_stage")
    )
    computed_sql, computed_params = computed.query.sql_with_params()
    sql = _MOVERS_SQL.replace("{computed}", computed_sql).replace(
        "{scope_current}", _scope_sql("cur", scope)
    )
    named = {"ws": workspace.pk, "now": now, "low": scope.low, "high": scope.high}
    sql, params = merge_params(sql, computed_params, named | {"ids": scope.ids_array})
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")
        cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def _scope_sql(alias: str, scope: Scope) -> str:
    """The scope as a condition on contact stages, so that joins read only the rows of
    the contacts in scope (a sweep chunk's range, not all of the workspace's)."""
    if scope.ids is not None:
        return f"{alias}.contact_id = ANY(%(ids)s::bigint[])"
    conditions = [f"{alias}.workspace_id = %(ws)s"]
    if scope.low is not None:
        conditions.append(f"{alias}.contact_id >= %(low)s")
    if scope.high is not None:
        conditions.append(f"{alias}.contact_id <= %(high)s")
    return " AND ".join(conditions)


def merge_params(
    sql: str, positional: tuple[Any, ...], named: dict[str, Any]
) -> tuple[str, list[Any]]:
    """Merge Django's positional %s parameters (in the computed query) with this
    module's %(name)s ones into one positional list, in order of appearance."""
    params: list[Any] = []
    out: list[str] = []
    positional_iter = iter(positional)
    i = 0
    while i < len(sql):
        if sql.startswith("%(", i):
            end = sql.index(")s", i)
            params.append(named[sql[i + 2 : end]])
            out.append("%s")
            i = end + 2
        elif sql.startswith("%s", i):
            params.append(next(positional_iter))
            out.append("%s")
            i += 2
        elif sql.startswith("%%", i):
            out.append("%%")
            i += 2
        else:
            out.append(sql[i])
            i += 1
    return "".join(out), params
