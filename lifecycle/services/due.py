"""Due moments of the stage rules (docs/rules.md, "Due moments").

Whenever the engine evaluates contacts — their marks drained, a sweep chunk, a due
run — it also stores, in the same transaction, the earliest moment at which time alone
could change what the stage rules say of each of them (`lifecycle_contactdue`). Beat
runs `lifecycle.evaluate_due` every LIFECYCLE_DUE_SECONDS (15): it reads, through the
(workspace, due_at) index, only the contacts whose moment has come, evaluates them
(set-based when on time; replayed, each move dated at its boundary, when late) and
stores their next moment. A change of the stage definitions still sweeps
everyone (and stores everyone's moment); a rare periodic sweep
(LIFECYCLE_SWEEP_SECONDS) stays as a safety net and logs what it moved, which should
be nothing."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import connection, connections, transaction
from django.db.models import Count, Min
from django.utils import timezone

from contacts.models import Segment
from contacts.rules import Scope, referenced_segments
from contacts.rules.due import due_candidates
from contacts.services.locks import contacts_hold
from lifecycle.hooks import contacts_due_evaluated, due_extra_rules
from lifecycle.models import Cause, ContactDue, Stage
from lifecycle.selectors import stages_for_workspace
from lifecycle.services.chunks import sweep_chunks
from lifecycle.services.evaluation import merge_params, stages_evaluate, stages_movers
from lifecycle.services.replay import stages_replay
from workspaces.models import Workspace

logger = logging.getLogger(__name__)

# `computed_at` is when the statement started: a computation from an older snapshot
# (a due run that began before a contact's new event committed) never overwrites one
# made after it (the engine draining that event's mark).
_STORE_SQL = """
WITH candidates AS ({candidates}),
due AS MATERIALIZED (
    SELECT c.contact_id, min(c.m) AS due_at FROM candidates c
    WHERE c.m > %(now)s GROUP BY c.contact_id
),
gone AS (
    DELETE FROM lifecycle_contactdue x
    WHERE x.workspace_id = %(ws)s AND {scope_x} AND x.computed_at <= statement_timestamp()
      AND NOT EXISTS (SELECT 1 FROM due d WHERE d.contact_id = x.contact_id)
    RETURNING 1
)
INSERT INTO lifecycle_contactdue AS x (contact_id, workspace_id, due_at, computed_at)
SELECT d.contact_id, %(ws)s, d.due_at, statement_timestamp() FROM due d
JOIN contacts_contact ct ON ct.id = d.contact_id AND ct.workspace_id = %(ws)s
ORDER BY d.contact_id
ON CONFLICT (contact_id, workspace_id)
DO UPDATE SET due_at = EXCLUDED.due_at, computed_at = EXCLUDED.computed_at
WHERE x.computed_at <= EXCLUDED.computed_at AND x.due_at IS DISTINCT FROM EXCLUDED.due_at
"""

_LOCK_SQL = """
SELECT x.contact_id FROM lifecycle_contactdue x
WHERE x.workspace_id = %(ws)s AND {scope_x} ORDER BY x.contact_id FOR UPDATE"""

# A pin holds a contact until `pinned_until`: then the rules act again.
_PINS = """
SELECT cs.contact_id, cs.pinned_until AS m FROM lifecycle_contactstage cs
WHERE cs.workspace_id = %(ws)s AND {scope_cs} AND cs.pinned AND cs.pinned_until IS NOT NULL"""


def _scope_sql(column: str, scope: Scope) -> str:
    if scope.ids is not None:
        return f"{column} = ANY(%(ids)s::bigint[])"
    conditions = ["true"]
    if scope.low is not None:
        conditions.append(f"{column} >= %(low)s")
    if scope.high is not None:
        conditions.append(f"{column} <= %(high)s")
    return " AND ".join(conditions)


def stage_rules(stages: Sequence[Stage]) -> list[dict]:
    return [stage.rule for stage in stages if not stage.is_default and stage.rule]


def due_rules(workspace: Workspace, stages: Sequence[Stage]) -> list[dict]:
    """The rules whose time boundaries make a contact due: the stage rules, and those
    other apps register (journeys: the segments live segment triggers listen to)."""
    return stage_rules(stages) + due_extra_rules(workspace.pk)


def due_rules_fingerprint(workspace: Workspace) -> str | None:
    """A digest of the registered rules with every segment they use (at any depth)
    spelled out, or None when there are none: when it changes (a journey went live, a
    segment it listens to was edited), everyone's due moment is stored again."""
    rules = due_extra_rules(workspace.pk)
    if not rules:
        return None
    segments: dict[int, object] = {}
    pending = referenced_segments(rules)
    while pending:
        found = dict(
            Segment.objects.filter(workspace=workspace, pk__in=sorted(pending)).values_list(
                "pk", "rule"
            )
        )
        segments.update({pk: found.get(pk) for pk in pending})
        pending = referenced_segments(list(found.values())) - segments.keys()
    text = json.dumps([rules, sorted(segments.items())], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def contacts_due_store(
    *,
    workspace: Workspace,
    scope: Scope,
    now: dt.datetime | None = None,
    stages: Sequence[Stage] | None = None,
) -> int:
    """Store the due moment of every contact in scope (and forget those with none), as
    of `now`; returns how many rows changed. Call in the transaction that evaluated
    them, after the evaluation."""
    now = now or timezone.now()
    stages = list(stages if stages is not None else stages_for_workspace(workspace=workspace))
    fallback = dt.timedelta(seconds=settings.LIFECYCLE_DUE_FALLBACK_SECONDS)
    found = due_candidates(
        due_rules(workspace, stages), workspace=workspace, now=now, scope=scope, fallback=fallback
    )
    pins = _PINS.replace("{scope_cs}", _scope_sql("cs.contact_id", scope))
    candidates = pins if found is None else f"{found[0]}\nUNION ALL{pins}"
    positional = () if found is None else tuple(found[1])
    sql = _STORE_SQL.replace("{candidates}", candidates).replace(
        "{scope_x}", _scope_sql("x.contact_id", scope)
    )
    named = {
        "ws": workspace.pk,
        "now": now,
        "ids": scope.ids_array,
        "low": scope.low,
        "high": scope.high,
    }
    sql, params = merge_params(sql, positional, named)
    lock, lock_params = merge_params(
        _LOCK_SQL.replace("{scope_x}", _scope_sql("x.contact_id", scope)), (), named
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")
        cursor.execute("SET LOCAL work_mem = '64MB'")
        # The rows first, in contact order (every writer's order, after the contacts'
        # stage rows), so that a sweep chunk and the marks' evaluation never deadlock.
        cursor.execute(lock, lock_params)
        cursor.execute(sql, params)
        return int(cursor.rowcount)


def due_contacts_evaluate(
    *,
    now: dt.datetime | None = None,
    batch: int | None = None,
    workspace_ids: Sequence[int] = (),
    late_seconds: float | None = -1.0,
) -> tuple[int, int]:
    """Evaluate the contacts whose due moment has come, in every workspace (or those
    named), `batch` at a time, and store each one's next moment. Returns (contacts
    evaluated, moves written). Nothing else is read.

    A contact on time (its moment passed at most `late_seconds` ago, by default
    LIFECYCLE_DUE_LATE_SECONDS) is evaluated with the engine's set-based statement and
    moves now, within a run interval of its boundary. One that is late (the runs
    stopped for a while, or its moment was long past when it was stored) is replayed
    from now, so each move is dated when its boundary was crossed, and every boundary
    crossed since (customer → at risk → lapsed). `late_seconds=None`: everyone is on
    time."""
    now = now or timezone.now()
    batch = batch or settings.LIFECYCLE_DUE_BATCH
    if late_seconds is not None and late_seconds < 0:
        late_seconds = settings.LIFECYCLE_DUE_LATE_SECONDS
    late_before = None if late_seconds is None else now - dt.timedelta(seconds=late_seconds)
    workspaces = Workspace.objects.order_by("pk")
    if workspace_ids:
        workspaces = workspaces.filter(pk__in=list(workspace_ids))
    evaluated = moved = 0
    for workspace in workspaces:
        dense_evaluated, dense_moved = _dense_ranges(workspace, now, late_before)
        evaluated += dense_evaluated
        moved += dense_moved
        while True:
            rows = list(
                ContactDue.objects.filter(workspace=workspace, due_at__lte=now)
                .order_by("due_at")
                .values_list("contact_id", "due_at")[:batch]
            )
            if not rows:
                break
            with transaction.atomic():
                held = set(contacts_hold(contact_ids=[contact_id for contact_id, _ in rows]))
                moved += _evaluate(workspace, rows, held, now, late_before)
                # Contacts erased meanwhile went with their rows; any left is dropped.
                gone = [i for i, _ in rows if i not in held]
                if gone:
                    ContactDue.objects.filter(contact_id__in=gone).delete()
            evaluated += len(held)
            if len(rows) < batch:
                break
    if evaluated:
        logger.info("lifecycle.due_evaluated contacts=%s moved=%s", evaluated, moved)
    return evaluated, moved


def _dense_ranges(
    workspace: Workspace, now: dt.datetime, late_before: dt.datetime | None
) -> tuple[int, int]:
    """A due set too large for id lists (after the runs stopped for a while, or a
    boundary many contacts cross at once): the sweep chunks holding at least
    LIFECYCLE_DUE_DENSE_CHUNK due contacts are evaluated by id range, as a sweep chunk
    is, which reads the rest of the range too but costs far less than a long id list.
    The chunks are disjoint, as a sweep's are, so LIFECYCLE_DUE_PARALLEL of them run at
    once, each on a database connection of its own (the work is PostgreSQL's); inside a
    caller's transaction (tests) they run in it, one after another. Returns (due
    contacts evaluated, moves written)."""
    threshold = settings.LIFECYCLE_DUE_DENSE_CHUNK
    due = ContactDue.objects.filter(workspace=workspace, due_at__lte=now)
    if threshold <= 0 or due.count() < threshold:
        return 0, 0

    def chunk(bounds: tuple[int, int]) -> tuple[int, int]:
        low, high = bounds
        in_range = due.filter(contact_id__gte=low, contact_id__lte=high)
        stats = in_range.aggregate(n=Count("pk"), oldest=Min("due_at"))
        if stats["n"] < threshold:
            return 0, 0
        scope = Scope.between(low, high)
        with transaction.atomic():
            ids = list(in_range.order_by("contact_id").values_list("contact_id", flat=True))
            if late_before is not None and stats["oldest"] < late_before:
                movers = stages_movers(workspace=workspace, scope=scope, now=now)
                held = contacts_hold(contact_ids=movers)
                moved = stages_replay(workspace=workspace, since=dict.fromkeys(held, now), now=now)
            else:
                moved = stages_evaluate(workspace=workspace, scope=scope, cause=Cause.RULE, now=now)
            contacts_due_store(workspace=workspace, scope=scope, now=now)
            contacts_due_evaluated(workspace.pk, ids, now)
        return stats["n"], moved

    def chunk_in_thread(bounds: tuple[int, int]) -> tuple[int, int]:
        try:
            return chunk(bounds)
        finally:
            connections.close_all()  # this thread's connections

    chunks = sweep_chunks(workspace=workspace)
    parallel = settings.LIFECYCLE_DUE_PARALLEL
    if parallel <= 1 or connection.in_atomic_block:
        results = [chunk(bounds) for bounds in chunks]
    else:
        with ThreadPoolExecutor(max_workers=parallel) as pool:
            results = list(pool.map(chunk_in_thread, chunks))
    return sum(n for n, _ in results), sum(moved for _, moved in results)


def _evaluate(
    workspace: Workspace,
    rows: list[tuple[int, dt.datetime]],
    held: set[int],
    now: dt.datetime,
    late_before: dt.datetime | None,
) -> int:
    stages = list(stages_for_workspace(workspace=workspace))
    late = [i for i, due in rows if i in held and late_before is not None and due < late_before]
    on_time = [i for i, due in rows if i in held and (late_before is None or due >= late_before)]
    moved = 0
    if on_time:
        moved += stages_evaluate(
            workspace=workspace, scope=Scope.of(on_time), cause=Cause.RULE, now=now
        )
    if late:
        movers = stages_movers(workspace=workspace, scope=Scope.of(late), now=now)
        moved += stages_replay(
            workspace=workspace, since=dict.fromkeys(movers, now), now=now, stages=stages
        )
    if held:
        contacts_due_store(
            workspace=workspace, scope=Scope.of(sorted(held)), now=now, stages=stages
        )
        contacts_due_evaluated(workspace.pk, sorted(held), now)
    return moved
