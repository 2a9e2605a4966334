"""Advancing contacts through journeys.

`journeys_advance` claims due enrolments (`status` active or holdout, `due_at` passed,
journey live) one workspace at a time, fairly (campaigns/journeys/claims.py), with FOR
UPDATE SKIP LOCKED, so workers never share a row, and runs each workspace's share in
one transaction: a worker that dies gives its rows back and they run again.
Steps that write are idempotent under that re-run: a message's key is
`journey:<enrolment>:<step>`; attribute updates and stage moves set a value; a webhook
carries an Idempotency-Key header (it is the one step that can be repeated after a
crash, like any at-least-once delivery).

A batch is run step by step, not contact by contact: every contact due at the same
step is handled by one statement (one message insert, one rule query, one update), and
contacts keep moving through instant steps (send, branch, split, update) until they
park at a wait, leave, or reach the end. Counters on the steps are added to in the
same transaction.

Before any step runs, the batch's contacts are checked against the goal (reached:
they leave, counted as converted) and the exit criteria (they leave, exited).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import time
from collections import defaultdict

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from campaigns.journeys.claims import enrolment_due_workspaces, enrolments_claim
from campaigns.journeys.runs import Batch, Run, assign, events_since
from campaigns.journeys.steps import STEP_TYPES
from campaigns.models import EnrolmentStatus, Journey, JourneyStep, TriggerKind
from contacts.models import Contact, EmailStatus, SmsStatus
from contacts.rules.compiler import matching_ids
from lifecycle.models import ContactStage
from messaging.models import Message

logger = logging.getLogger(__name__)

MAX_ROUNDS = 100  # steps one contact may run in one claim (the graph has no cycles)


_SAVE_SQL = """
UPDATE campaigns_journeyenrolment AS e
SET step_id = u.step_id, status = u.status, due_at = u.due_at,
    step_entered_at = u.step_entered_at, resume_at = u.resume_at, attempts = u.attempts,
    path = u.path, converted_at = u.converted_at, finished_at = u.finished_at,
    exit_reason = u.exit_reason
FROM unnest(%s::bigint[], %s::bigint[], %s::text[], %s::timestamptz[], %s::timestamptz[],
            %s::timestamptz[], %s::int[], %s::jsonb[], %s::timestamptz[], %s::timestamptz[],
            %s::text[])
     AS u(id, step_id, status, due_at, step_entered_at, resume_at, attempts, path,
          converted_at, finished_at, exit_reason)
WHERE e.workspace_id = %s AND e.id = u.id
"""

# Within the workspace, like _SAVE_SQL: one shard on Citus.
_COUNT_SQL = """
UPDATE campaigns_journeystep AS s
SET entered = s.entered + u.entered, exited = s.exited + u.exited,
    converted = s.converted + u.converted
FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[])
     AS u(id, entered, exited, converted)
WHERE s.workspace_id = %s AND s.id = u.id
"""


def journeys_advance(*, limit: int | None = None, now: dt.datetime | None = None) -> int:
    """Claim up to `limit` due enrolments, fairly across workspaces, and run them;
    returns steps run.

    1. Find the workspaces with due enrolments (campaigns/journeys/claims.py), in
       random order so that none is always first.
    2. Give each an equal share of `limit`; claim and run each workspace's share in a
       transaction of its own (one shard on Citus; a worker that dies gives back one
       workspace's rows, which run again).
    3. Offer what some left unused to those that filled their share, until `limit` is
       used or none has more. A huge backlog in one workspace therefore takes at most
       its share of a round while another's welcome step runs in the same round."""
    limit = limit or settings.JOURNEY_CLAIM_BATCH
    workspaces = enrolment_due_workspaces(now=now or timezone.now())
    random.shuffle(workspaces)
    steps_run, left, hungry = 0, limit, workspaces
    while hungry and left > 0:
        share = max(1, left // len(hungry))
        still: list[int] = []
        for workspace_id in hungry:
            wanted = min(share, left)
            if wanted <= 0:
                break
            claimed, steps = _advance_workspace(workspace_id, wanted, now)
            left -= claimed
            steps_run += steps
            if claimed == wanted:
                still.append(workspace_id)  # it may have more: it may take what is left
        hungry = still
    return steps_run


def _advance_workspace(workspace_id: int, limit: int, now: dt.datetime | None) -> tuple[int, int]:
    """Claim up to `limit` due enrolments of one workspace and run them in one
    transaction; returns (enrolments claimed, steps run)."""
    with transaction.atomic():
        now = now or timezone.now()
        with connection.cursor() as cursor:
            rows = enrolments_claim(cursor, workspace_id=workspace_id, now=now, limit=limit)
        if not rows:
            return 0, 0
        by_journey: dict[int, list[Run]] = defaultdict(list)
        for r in rows:
            by_journey[r[1]].append(
                Run(
                    id=r[0],
                    contact_id=r[2],
                    step_id=r[3],
                    status=r[4],
                    due_at=r[5],
                    entered_at=r[6],
                    step_entered_at=r[7],
                    resume_at=r[8],
                    goal_until=r[9],
                    attempts=r[10],
                    # Django's connection hands jsonb back as text.
                    path=json.loads(r[11]) if isinstance(r[11], str) else (r[11] or {}),
                    time_zone=r[12],
                    phone=r[13],
                )
            )
        journeys = (
            Journey.objects.select_related("workspace")
            .filter(workspace_id=workspace_id)
            .in_bulk(list(by_journey))
        )
        steps_run = 0
        all_runs: list[Run] = []
        counts: list[Batch] = []
        for journey_id, runs in by_journey.items():
            batch = _batch(journeys[journey_id], now)
            _run_batch(batch, runs)
            steps_run += sum(run.steps_run for run in runs)
            all_runs.extend(runs)
            counts.append(batch)
        _save(workspace_id, all_runs, counts)
    logger.info(
        "campaigns.journeys_advanced workspace=%s enrolments=%s steps=%s",
        workspace_id,
        len(rows),
        steps_run,
    )
    return len(rows), steps_run


def journeys_pump(*, seconds: float | None = None) -> int:
    """Advance due enrolments batch after batch until none is due or `seconds`
    (JOURNEY_PUMP_SECONDS) have passed; returns steps run."""
    deadline = time.monotonic() + (
        seconds if seconds is not None else settings.JOURNEY_PUMP_SECONDS
    )
    total = 0
    while time.monotonic() < deadline:
        steps = journeys_advance()
        if not steps:
            break
        total += steps
    return total


def _batch(journey: Journey, now: dt.datetime) -> Batch:
    steps = {s.pk: s for s in JourneyStep.objects.filter(journey=journey)}
    by_key = {s.key: s for s in steps.values() if s.removed_at is None}
    return Batch(journey=journey, steps=steps, by_key=by_key, now=now)


def _save(workspace_id: int, runs: list[Run], batches: list[Batch]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            _SAVE_SQL,
            [
                [r.id for r in runs],
                [r.step_id for r in runs],
                [r.status for r in runs],
                [r.due_at for r in runs],
                [r.step_entered_at for r in runs],
                [r.resume_at for r in runs],
                [r.attempts for r in runs],
                [json.dumps(r.path) for r in runs],
                [r.converted_at for r in runs],
                [r.finished_at for r in runs],
                [r.exit_reason for r in runs],
                workspace_id,
            ],
        )
        totals: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])
        for b in batches:
            for index, counter in enumerate((b.entered, b.exited, b.converted)):
                for step_id, n in counter.items():
                    totals[step_id][index] += n
        if totals:
            ids = sorted(totals)  # one lock order for every worker
            cursor.execute(
                _COUNT_SQL,
                [
                    ids,
                    [totals[i][0] for i in ids],
                    [totals[i][1] for i in ids],
                    [totals[i][2] for i in ids],
                    workspace_id,
                ],
            )
        messages = [m for b in batches for m in b.messages]
        if messages:
            Message.objects.bulk_create(messages, ignore_conflicts=True)


# --- goal and exit -----------------------------------------------------------------


def goal_reached(journey: Journey, runs: list[Run], now: dt.datetime) -> set[int]:
    """Enrolment ids (of `runs`) whose contact reached the goal within its window."""
    goal = journey.goal
    open_runs = [r for r in runs if r.goal_until is None or r.goal_until >= now]
    if not goal or not open_runs:
        return set()
    if "rule" in goal:
        hit = matching_ids(
            goal["rule"],
            workspace=journey.workspace,
            contact_ids=[r.contact_id for r in open_runs],
            now=now,
        )
        return {r.id for r in open_runs if r.contact_id in hit}
    return events_since(journey, goal["event"], open_runs, lambda r: r.entered_at)


def exits(batch: Batch, runs: list[Run]) -> dict[int, str]:
    """{enrolment id: reason} for runs that meet an exit criterion now."""
    journey = batch.journey
    if not runs:
        return {}
    contact_ids = [r.contact_id for r in runs]
    out_contacts: dict[int, str] = {}
    if journey.exit_on_unsubscribe:
        channels = {STEP_TYPES[s.kind].sends(s.config) for s in batch.by_key.values()}
        gone = Q(pk__in=[])
        if "email" in channels:
            gone |= Q(email_status__in=[EmailStatus.UNSUBSCRIBED, EmailStatus.COMPLAINED])
        if "sms" in channels:
            gone |= Q(sms_status=SmsStatus.UNSUBSCRIBED)
        if channels:
            for cid in Contact.objects.filter(gone, pk__in=contact_ids).values_list(
                "pk", flat=True
            ):
                out_contacts[cid] = "unsubscribed"
    if journey.exit_on_stage_left and journey.trigger_kind == TriggerKind.STAGE_ENTERED:
        stage_id = journey.trigger.get("stage_id")
        still = set(
            ContactStage.objects.filter(contact_id__in=contact_ids, stage_id=stage_id).values_list(
                "contact_id", flat=True
            )
        )
        for cid in contact_ids:
            if cid not in still:
                out_contacts.setdefault(cid, "left the stage")
    if journey.exit_rule:
        for cid in matching_ids(
            journey.exit_rule, workspace=journey.workspace, contact_ids=contact_ids, now=batch.now
        ):
            out_contacts.setdefault(cid, "exit rule")
    return {r.id: out_contacts[r.contact_id] for r in runs if r.contact_id in out_contacts}


def _check_goal_and_exits(batch: Batch, runs: list[Run]) -> list[Run]:
    """Take out those who reached the goal or meet an exit criterion; the rest go on."""
    reached = goal_reached(batch.journey, runs, batch.now)
    for run in runs:
        if run.id in reached:
            run.converted_at = batch.now
            batch.finish(run, EnrolmentStatus.CONVERTED, "goal")
    rest = [r for r in runs if r.id not in reached]
    leaving = exits(batch, [r for r in rest if r.status == EnrolmentStatus.ACTIVE])
    for run in rest:
        if run.id in leaving:
            batch.finish(run, EnrolmentStatus.EXITED, leaving[run.id])
    return [r for r in rest if r.id not in leaving]


# --- the run -----------------------------------------------------------------------


def _run_batch(batch: Batch, runs: list[Run]) -> None:
    pending = _check_goal_and_exits(batch, runs)
    for run in pending:
        if run.status != EnrolmentStatus.HOLDOUT:
            continue
        if run.goal_until is None or run.goal_until <= batch.now:
            # A held-out contact's window has ended without reaching the goal.
            batch.finish(run, EnrolmentStatus.COMPLETED, "holdout window over")
        else:
            run.due_at = run.goal_until  # woken early, and not converted
    pending = [r for r in pending if r.status == EnrolmentStatus.ACTIVE]
    new = [r for r in pending if r.step_id is None]
    if new:
        _start(batch, new)
    pending = [r for r in pending if r.status == EnrolmentStatus.ACTIVE]
    for _ in range(MAX_ROUNDS):
        ready = [r for r in pending if r.status == EnrolmentStatus.ACTIVE and r.due_at <= batch.now]
        if not ready:
            return
        by_step: dict[int, list[Run]] = defaultdict(list)
        for run in ready:
            assert run.step_id is not None
            by_step[run.step_id].append(run)
        for step_id, group in by_step.items():
            step = batch.steps[step_id]
            for run in group:
                run.steps_run += 1
            if step.removed_at is not None:
                # Only a crash between an edit's two statements could leave one here.
                for run in group:
                    batch.finish(run, EnrolmentStatus.EXITED, "step removed")
                continue
            STEP_TYPES[step.kind].run(batch, step, group)
        pending = ready
    for run in pending:  # unreachable with an acyclic graph; never loop forever
        if run.status == EnrolmentStatus.ACTIVE and run.due_at <= batch.now:
            batch.finish(run, EnrolmentStatus.EXITED, "too many steps")


def _start(batch: Batch, runs: list[Run]) -> None:
    """First run after entry: the holdout share is set aside, exactly; the rest start
    at the entry step."""
    journey = batch.journey
    if journey.holdout_percent:
        entry = batch.by_key[journey.entry_key]
        labels = assign(
            entry,
            [("treated", 100 - journey.holdout_percent), ("holdout", journey.holdout_percent)],
            len(runs),
            slot="_holdout",
        )
        for run, label in zip(runs, labels, strict=True):
            if label == "holdout":
                run.status = EnrolmentStatus.HOLDOUT
                run.path["holdout"] = True
                run.due_at = run.goal_until or batch.now
    for run in runs:
        if run.status == EnrolmentStatus.ACTIVE:
            batch.move(run, journey.entry_key or None)
