"""Marked contacts whose data is current: evaluated set-based, replayed in full only
when their news is about the past (docs/rules.md, "Marks whose data is current").

Draining marks used to replay every marked contact from the earliest moment its
marks are about (replay.py), sorting every event of its life. For a live event that
replay only ever finds what the rules say now, dated at the event. This module tells
those contacts apart; the statement below checks, together:

1. It has been evaluated before (a stage row) and has no move at or after `since`:
   the replay would keep every move and rewrite none.
2. Its stored due moment (due.py), computed at its last evaluation from its data as
   it was, has not come: time alone changed nothing since then.
3. No event the rules read through a window of W days (or a first/last test of W
   days) leaves it between `since` and now (its time + W + 1 µs): no time boundary
   falls in the replayed stretch, whatever the new data does there; and no event the
   rules name is after now.
4. (`single`) The events the rules name from `since` on all happened at one moment:
   the replay's only data moment before now is that one. With nothing named from
   `since` on (a page view the rules ignore, an edit), the rules act at now.
5. Its signup is not in the replayed stretch.

With 1, 2, 3 and 5 the replay acts only at the news's moments (and now), and what the
events before `since` contribute to every aggregate is the same at all of them. With
4 too, the answer is constant from the one moment to now, so the replay's move is
"from the current stage to the rules' answer, at that moment, naming its first
event": the engine's set-based statement writes it, given that date. Without 4 (news
at several moments, each of which can move it) the contact is replayed, but the
statement sorts only its events from `since` on and takes the earlier ones as one
aggregate per contact (`stages_replay(current=True)`). The rest (news dated before
the last move or before a window's end, contacts never evaluated) is replayed in
full.
`tests/lifecycle/test_current_agreement.py` proves the paths write the same moves,
stays and due moments as replaying every marked contact."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from django.db import connection
from django.utils import timezone

from contacts.rules import Scope
from lifecycle.models import Cause, Stage
from lifecycle.selectors import stages_for_workspace
from lifecycle.services.evaluation import Dated, merge_params, stages_evaluate
from lifecycle.services.replay import stages_replay
from lifecycle.services.timeline import Timeline, _interval
from workspaces.models import Workspace

_CURRENT_SQL = """
WITH m AS (
    SELECT * FROM unnest(%(ids)s::bigint[], %(sinces)s::timestamptz[]) AS m(contact_id, since)
)
SELECT m.contact_id, first.t, first.id, first.name,
       first.t IS NULL OR (first.t <= %(now)s AND NOT EXISTS (
           SELECT 1 FROM contacts_event e
           WHERE e.contact_id = m.contact_id AND e.name = ANY(%(names)s)
             AND e.occurred_at > first.t)) AS single
FROM m
JOIN contacts_contact c ON c.id = m.contact_id AND c.workspace_id = %(ws)s
JOIN lifecycle_contactstage cs ON cs.contact_id = m.contact_id
LEFT JOIN lifecycle_contactdue d ON d.contact_id = m.contact_id
LEFT JOIN LATERAL (
    SELECT e.occurred_at AS t, e.id, e.name FROM contacts_event e
    WHERE e.contact_id = m.contact_id AND e.name = ANY(%(names)s) AND e.occurred_at >= m.since
    ORDER BY e.occurred_at, e.id LIMIT 1
) first ON true
WHERE m.since <= %(now)s
  AND NOT (c.signed_up_at >= m.since AND c.signed_up_at <= %(now)s)
  AND (d.due_at IS NULL OR d.due_at > %(now)s)
  AND NOT EXISTS (
      SELECT 1 FROM lifecycle_stagetransition t
      WHERE t.contact_id = m.contact_id AND t.workspace_id = %(ws)s AND t.at >= m.since)
  AND NOT EXISTS (
      SELECT 1 FROM contacts_event e
      WHERE e.contact_id = m.contact_id AND e.name = ANY(%(names)s) AND e.occurred_at > %(now)s)
  {exits}
ORDER BY m.contact_id
"""

# An event the rules read through a window leaves it (a time boundary) in [since, now].
_EXIT = """
  AND NOT EXISTS (
      SELECT 1 FROM contacts_event e
      WHERE e.contact_id = m.contact_id AND e.name = ANY({names})
        AND e.occurred_at >= m.since - {interval} - interval '1 microsecond'
        AND e.occurred_at <= %(now)s - {interval} - interval '1 microsecond')"""


@dataclass(frozen=True)
class Current:
    """A contact current from its `since`: `single`, its news is at one moment (or
    none), `dated` the moment and event a move of its is dated at (None: now)."""

    single: bool
    dated: Dated | None


def marks_current(
    *,
    workspace: Workspace,
    since: Mapping[int, dt.datetime],
    now: dt.datetime,
    stages: Sequence[Stage],
) -> dict[int, Current]:
    """Of these contacts (each with the earliest moment its marks are about), those
    current from there (conditions 1, 2, 3 and 5 of the module; condition 4 is
    `single`)."""
    if not since:
        return {}
    ids = sorted(since)
    timeline = Timeline(workspace=workspace, now=now, scope=Scope.of(ids))
    for stage in stages:
        if not stage.is_default and stage.rule:
            timeline.compile(stage.rule)
    exits = "".join(
        _EXIT.format(interval=_interval(seconds), names=timeline.param(sorted(names)))
        for seconds, names in sorted(timeline.windows.items())
    )
    named = dict(timeline.params) | {
        "ids": ids,
        "sinces": [since[i] for i in ids],
        "ws": workspace.pk,
        "now": now,
        "names": sorted(timeline.names),
    }
    sql, params = merge_params(_CURRENT_SQL.replace("{exits}", exits), (), named)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {
            contact_id: Current(single=single, dated=None if at is None else (at, event_id, name))
            for contact_id, at, event_id, name, single in cursor.fetchall()
        }


def stages_evaluate_marked(
    *,
    workspace: Workspace,
    since: Mapping[int, dt.datetime | None],
    now: dt.datetime | None = None,
    stages: Sequence[Stage] | None = None,
) -> tuple[int, int]:
    """Put marked contacts in their stages, each as a replay from its `since` (None:
    its beginning) would: set-based for those whose data is current with news at one
    moment, replayed from `since` on for those current with news at several, replayed
    in full for the rest. Call inside the transaction that holds them (the engine's
    claim). Returns (moves written, contacts replayed in full)."""
    now = now or timezone.now()
    stages = list(stages if stages is not None else stages_for_workspace(workspace=workspace))
    if not any(stage.is_default for stage in stages):
        return 0, 0
    ids = sorted(since)
    with connection.cursor() as cursor:
        # Their stage rows first, in contact order (every writer's lock order), before
        # either path takes some of them.
        cursor.execute(
            "SELECT contact_id FROM lifecycle_contactstage WHERE contact_id = ANY(%s) "
            "ORDER BY contact_id FOR NO KEY UPDATE",
            [ids],
        )
    known = {i: moment for i, moment in since.items() if moment is not None}
    current = marks_current(workspace=workspace, since=known, now=now, stages=stages)
    single = {i: c.dated for i, c in current.items() if c.single}
    moved = 0
    if single:
        moved += stages_evaluate(
            workspace=workspace,
            scope=Scope.of(list(single)),
            cause=Cause.RULE,
            now=now,
            dated={i: d for i, d in single.items() if d is not None},
        )
    # News at several moments: each can move the contact, so it is replayed, reading
    # only its events from `since` on.
    several = {i: known[i] for i, c in current.items() if not c.single}
    if several:
        moved += stages_replay(
            workspace=workspace, since=several, now=now, stages=stages, current=True
        )
    rest = {i: moment for i, moment in since.items() if i not in current}
    if rest:
        moved += stages_replay(workspace=workspace, since=rest, now=now, stages=stages)
    return moved, len(rest)
