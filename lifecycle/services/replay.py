"""Stage history in event time: replaying contacts' timelines.

A contact's stage at any moment is what the rules say of its data as it was then. When
data about the past arrives (a late event, an import, a signup date, a known stage
date) the engine replays the contact from the earliest moment it affects, `since`:

1. Keep every move before `since`, and every move after it that the rules did not
   make (manual, API, import): those are facts, and they bound the replay.
2. Evaluate the rules (timeline.py) at every moment from `since` where the result
   can change: the events the rules name, each of them plus every time window the
   rules apply to it, the signup, and now. Boundary moments are taken from just after
   the last kept move, so a time boundary crossed since then (and not yet seen by a
   sweep) is dated when it was crossed; the data moments between that move and
   `since` are evaluated too (not acting), so such a boundary acts only where a
   replay from the move would see the answer change (a pin that held the rules at an
   event does not make the boundary after it look like a change).
3. The rules act at a moment where the data changed (an event; now, for a change
   without a date) or where their answer changes (a time boundary, the signup);
   elsewhere they only confirm it. Walk the kept moves and the acting moments in
   time order: one whose stage differs from the stage before it is a move (`at` =
   that moment, cause `rule`, with the event when an event caused it). So a move made
   by hand stands until the contact's data or the rules' answer next changes, and
   while the contact is pinned, moments after the move by hand are held.
4. Replace the rule-made moves from `since` on with those (moves that come out the
   same are kept, ids and all, so nothing is notified twice), and set the current
   stage from the last move.

All of it is one statement for a batch of contacts, set-based: the sort of their
events and moments is the whole cost. `replay_hooks` tell analytics what was taken
out (`moves_removed`); the new moves go through the stage.changed dispatch like any
other, and hooks that act on a move (journeys) only see recent ones (settings)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from contacts.models import Contact, Event
from contacts.rules import Scope
from lifecycle.hooks import RemovedMove, moves_removed
from lifecycle.models import Stage
from lifecycle.selectors import stages_for_workspace
from lifecycle.services.evaluation import merge_params
from lifecycle.services.timeline import Timeline, _interval
from workspaces.models import Workspace

_STATEMENT = """
WITH people AS MATERIALIZED ({people}),
scope AS MATERIALIZED (
    -- A contact with no move before its `since` is replayed from its beginning.
    SELECT p.*, CASE WHEN EXISTS (
               SELECT 1 FROM lifecycle_stagetransition t
               WHERE t.contact_id = p.id AND t.workspace_id = %(ws)s AND t.at < s.since)
           THEN s.since ELSE '-infinity'::timestamptz END AS since
    FROM people p
    JOIN unnest(%(ids)s::bigint[], %(sinces)s::timestamptz[]) AS s(contact_id, since)
      ON s.contact_id = p.id
),
{ev}
kept AS MATERIALIZED (
    SELECT t.id, t.contact_id, t.at, t.to_stage_id AS stage, t.cause
    FROM lifecycle_stagetransition t JOIN scope s ON s.id = t.contact_id
    WHERE t.workspace_id = %(ws)s AND (t.at < s.since OR t.cause <> 'rule')
),
bounds AS (
    SELECT s.id AS contact_id,
           coalesce(max(k.at) FILTER (WHERE k.at < s.since), '-infinity') AS after,
           coalesce(max(k.at) FILTER (WHERE k.cause <> 'rule'), '-infinity') AS held_from
    FROM scope s LEFT JOIN kept k ON k.contact_id = s.id
    GROUP BY s.id
),
probes AS (
    -- kind: 'data' (an event, or now: the data changed, the rules act), 'time' (a
    -- boundary or the signup: the rules act if their answer changes there), 'seed'
    -- (the answer just before the replayed stretch, to tell whether it changes).
    SELECT e.contact_id, e.t, e.id AS event_id, e.name AS event_name, 'data' AS kind
    FROM ev e JOIN scope s ON s.id = e.contact_id WHERE e.t >= s.since
    {boundaries}
    UNION ALL
    SELECT s.id, s.signed_up_at, NULL, NULL, 'time' FROM scope s
    WHERE s.signed_up_at >= s.since AND s.signed_up_at <= %(now)s
    UNION ALL
    SELECT s.id, %(now)s, NULL, NULL, 'data' FROM scope s
    UNION ALL
    SELECT b.contact_id, b.after, NULL, NULL, 'seed' FROM bounds b
    WHERE b.after > '-infinity' AND b.after <= %(now)s
    UNION ALL
    -- The data moments between the last kept move and `since` (which the rules acted
    -- at, or a pin held): the answers a boundary after them is compared with, as in a
    -- replay from further back.
    SELECT e.contact_id, e.t, e.id, e.name, 'seed'
    FROM ev e JOIN scope s ON s.id = e.contact_id JOIN bounds b ON b.contact_id = s.id
    WHERE e.t > b.after AND e.t < s.since
    UNION ALL
    SELECT s.id, s.signed_up_at, NULL, NULL, 'seed'
    FROM scope s JOIN bounds b ON b.contact_id = s.id
    WHERE s.signed_up_at > b.after AND s.signed_up_at < s.since
    UNION ALL
    SELECT s.id, s.since - interval '1 microsecond', NULL, NULL, 'seed'
    FROM scope s JOIN bounds b ON b.contact_id = s.id
    WHERE s.since > '-infinity' AND s.since - interval '1 microsecond' > b.after
      AND s.since <= %(now)s
),
tl AS (
    SELECT contact_id, t, true AS probe, event_id, event_name, kind,
           NULL::text AS name, NULL::numeric AS revenue{null_filters}
    FROM probes
    UNION ALL
    SELECT contact_id, t, false, NULL, NULL, NULL, name, revenue{filters} FROM ev
),
agg AS (
    SELECT tl.contact_id, tl.t, tl.probe, tl.event_id, tl.event_name, tl.kind{aggregates}
    FROM tl{agg_join}
    WINDOW cum AS (PARTITION BY tl.contact_id ORDER BY tl.t
                   RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
),
ruled AS (
    SELECT a.contact_id, a.t, a.event_id, a.event_name, a.kind, {stage_case} AS stage
    FROM agg a JOIN scope p ON p.id = a.contact_id
    WHERE a.probe
),
turns AS (
    SELECT r.*, lag(r.stage) OVER (PARTITION BY r.contact_id ORDER BY r.t, r.event_id NULLS FIRST)
                AS rule_before
    FROM ruled r
),
acting AS (
    -- The moments the rules act at: where the data changed, or their answer did; not
    -- while a pin set by hand holds the contact.
    SELECT u.* FROM turns u
    JOIN bounds b ON b.contact_id = u.contact_id
    LEFT JOIN lifecycle_contactstage cs ON cs.contact_id = u.contact_id
    WHERE u.kind <> 'seed'
      AND (u.kind = 'data' OR u.stage IS DISTINCT FROM u.rule_before)
      AND NOT (coalesce(cs.pinned, false) AND u.t >= b.held_from
               AND (cs.pinned_until IS NULL OR u.t < cs.pinned_until))
),
points AS (
    SELECT contact_id, at AS t, 1 AS ord, stage, NULL::bigint AS event_id,
           NULL::text AS event_name, false AS probe
    FROM kept
    UNION ALL
    SELECT contact_id, t, 0, stage, event_id, event_name, true FROM acting
),
seq AS (
    SELECT p.*, lag(stage) OVER w AS prev, row_number() OVER w AS n
    FROM points p
    WINDOW w AS (PARTITION BY contact_id ORDER BY t, ord, event_id NULLS LAST)
),
changes AS MATERIALIZED (SELECT * FROM seq WHERE stage IS DISTINCT FROM prev),
final AS (
    SELECT DISTINCT ON (contact_id) contact_id, stage, t FROM changes
    ORDER BY contact_id, n DESC
),
existing AS MATERIALIZED (
    SELECT t.id, t.contact_id, t.from_stage_id, t.to_stage_id, t.at, t.notified_at
    FROM lifecycle_stagetransition t JOIN scope s ON s.id = t.contact_id
    WHERE t.workspace_id = %(ws)s AND t.cause = 'rule' AND t.at >= s.since
),
removed AS (
    DELETE FROM lifecycle_stagetransition d
    WHERE d.id IN (
        SELECT x.id FROM existing x WHERE NOT EXISTS (
            SELECT 1 FROM changes c WHERE c.probe AND c.contact_id = x.contact_id
              AND c.t = x.at AND c.stage = x.to_stage_id
              AND c.prev IS NOT DISTINCT FROM x.from_stage_id))
    RETURNING d.id, d.contact_id, d.from_stage_id, d.to_stage_id, d.at, d.notified_at
),
inserted AS (
    INSERT INTO lifecycle_stagetransition
        (workspace_id, contact_id, from_stage_id, to_stage_id, at, recorded_at, cause,
         rule_version, reason, event_id, event_name)
    SELECT %(ws)s, c.contact_id, c.prev, c.stage, c.t, %(recorded)s, 'rule',
           st.rule_version, '', c.event_id, coalesce(c.event_name, '')
    FROM changes c JOIN lifecycle_stage st ON st.id = c.stage
    WHERE c.probe AND NOT EXISTS (
        SELECT 1 FROM existing x WHERE x.contact_id = c.contact_id AND x.at = c.t
          AND x.to_stage_id = c.stage AND x.from_stage_id IS NOT DISTINCT FROM c.prev)
    ORDER BY c.contact_id, c.t
    RETURNING id
),
moved AS (
    UPDATE lifecycle_contactstage cs SET stage_id = f.stage, entered_at = f.t
    FROM final f
    WHERE cs.contact_id = f.contact_id
      AND (cs.stage_id, cs.entered_at) IS DISTINCT FROM (f.stage, f.t)
    RETURNING cs.contact_id
),
entered AS (
    INSERT INTO lifecycle_contactstage (contact_id, workspace_id, stage_id, entered_at, pinned)
    SELECT f.contact_id, %(ws)s, f.stage, f.t, false FROM final f
    WHERE NOT EXISTS (SELECT 1 FROM lifecycle_contactstage cs WHERE cs.contact_id = f.contact_id)
    ORDER BY f.contact_id
    ON CONFLICT (contact_id, workspace_id) DO NOTHING
    RETURNING contact_id
)
SELECT (SELECT count(*) FROM inserted),
       (SELECT count(*) FROM moved) + (SELECT count(*) FROM entered),
       ARRAY(SELECT ARRAY[r.id, r.contact_id, r.from_stage_id, r.to_stage_id,
                          extract(epoch FROM r.at) * 1000000,
                          extract(epoch FROM r.notified_at) * 1000000]::bigint[]
             FROM removed r)
"""

_BOUNDARY = """
    UNION ALL
    SELECT e.contact_id, e.t + {interval} + interval '1 microsecond', NULL, NULL, 'time'
    FROM ev e JOIN bounds b ON b.contact_id = e.contact_id
    WHERE e.name = ANY({names})
      AND e.t + {interval} + interval '1 microsecond' > b.after
      AND e.t + {interval} + interval '1 microsecond' <= %(now)s"""

# Every event of the contacts, or (`based`) those from each contact's `since` on, with
# what the earlier ones contribute to each aggregate in `base`.
_EVENTS = "ev AS MATERIALIZED ({events}),"
_EVENTS_BASED = """ev_all AS MATERIALIZED ({events}),
ev AS MATERIALIZED (
    SELECT e.* FROM ev_all e JOIN scope s ON s.id = e.contact_id WHERE e.t >= s.since),
base AS MATERIALIZED (
    SELECT s.id AS contact_id{base_columns}
    FROM scope s LEFT JOIN ev_all tl ON tl.contact_id = s.id AND tl.t < s.since
    GROUP BY s.id),"""

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_BEGINNING = dt.datetime(1, 1, 1, tzinfo=dt.UTC)


def stages_replay(
    *,
    workspace: Workspace,
    since: Mapping[int, dt.datetime | None],
    now: dt.datetime | None = None,
    stages: Sequence[Stage] | None = None,
    current: bool = False,
) -> int:
    """Replay these contacts' stage history, each from its `since` (None: from the
    beginning of its life); returns how many moves were written. Call inside the
    transaction that holds the contacts (the engine's claim, or contacts_hold).

    `current`: the contacts are current from their `since` (current.py: no move
    from there on, no due moment or window's end between there and now), so the
    statement sorts only their events from `since` on, and takes what the earlier ones
    contribute as one aggregate per contact: the same moves at a fraction of the
    cost."""
    if not since:
        return 0
    now = now or timezone.now()
    stages = list(stages if stages is not None else stages_for_workspace(workspace=workspace))
    if not any(stage.is_default for stage in stages):
        return 0
    ids = sorted(since)
    sql, params, named = _statement(workspace, stages, Scope.of(ids), now, based=current)
    named |= {
        "ids": ids,
        "sinces": [since[i] or _BEGINNING for i in ids],
        "ws": workspace.pk,
        "now": now,
        "recorded": timezone.now(),
    }
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")
        cursor.execute("SET LOCAL work_mem = '64MB'")
        # The current stage rows first, in contact order (every writer's lock order),
        # so that no sweep or manual move changes them under the statement.
        cursor.execute(
            "SELECT contact_id FROM lifecycle_contactstage WHERE contact_id = ANY(%s) "
            "ORDER BY contact_id FOR NO KEY UPDATE",
            [ids],
        )
        sql, all_params = merge_params(sql, params, named)
        cursor.execute(sql, all_params)
        written, _, removed = cursor.fetchone()
        moves_removed(workspace.pk, ids, [_removed_move(row) for row in removed])
    return int(written)


def _removed_move(row: list[int | None]) -> RemovedMove:
    move_id, contact_id, from_stage, to_stage, at_us, notified_us = row
    at = _EPOCH + dt.timedelta(microseconds=int(at_us or 0))
    notified = None if notified_us is None else _EPOCH + dt.timedelta(microseconds=notified_us)
    return (int(move_id or 0), int(contact_id or 0), from_stage, int(to_stage or 0), at, notified)


def _statement(
    workspace: Workspace,
    stages: Sequence[Stage],
    scope: Scope,
    now: dt.datetime,
    *,
    based: bool = False,
) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
    """The replay statement for these stages and contacts, with Django's positional
    parameters (the event and people sub-queries) and the timeline's named ones."""
    timeline = Timeline(workspace=workspace, now=now, scope=scope)
    default = next(stage for stage in stages if stage.is_default)
    whens = [
        f"WHEN {timeline.compile(stage.rule)} THEN {int(stage.pk)}"
        for stage in stages
        if not stage.is_default and stage.rule
    ]
    stage_case = f"CASE {' '.join(whens)} ELSE {int(default.pk)} END" if whens else str(default.pk)
    people = (
        Contact.objects.filter(scope.limit("pk"), workspace=workspace)
        .annotate(**timeline.static_annotations())
        .values("id", "signed_up_at", *timeline.static)
    )
    events = (
        Event.objects.filter(
            scope.limit(),
            workspace=workspace,
            name__in=sorted(timeline.names) or [""],
            occurred_at__lte=now,
        )
        .annotate(t=F("occurred_at"), **timeline.event_filter_annotations())
        .values("id", "contact_id", "t", "name", "revenue", *timeline.event_filters)
    )
    people_sql, people_params = people.query.sql_with_params()
    events_sql, events_params = events.query.sql_with_params()
    boundaries = "".join(
        _BOUNDARY.format(interval=_interval(seconds), names=timeline.param(sorted(names)))
        for seconds, names in sorted(timeline.windows.items())
    )
    filters = "".join(f", {column}" for column in timeline.event_filters)
    null_filters = "".join(f", NULL::boolean AS {column}" for column in timeline.event_filters)
    aggregates = timeline.aggregate_columns(based=based)
    base_columns = timeline.base_columns()
    ev = (_EVENTS_BASED if based else _EVENTS).replace(
        "{base_columns}", f",\n           {base_columns}" if base_columns else ""
    )
    sql = (
        _STATEMENT.replace("{ev}", ev)
        .replace("{agg_join}", " JOIN base b ON b.contact_id = tl.contact_id" if based else "")
        .replace("{people}", people_sql)
        .replace("{events}", events_sql)
        .replace("{boundaries}", boundaries)
        .replace("{null_filters}", null_filters)
        .replace("{filters}", filters)
        .replace("{aggregates}", f",\n       {aggregates}" if aggregates else "")
        .replace("{stage_case}", stage_case)
    )
    return sql, (*people_params, *events_params), dict(timeline.params)
