"""Advancing contacts through journeys.

`journeys_advance` claims due enrolments (`status` active or holdout, `due_at` passed,
journey live) with FOR UPDATE SKIP LOCKED, so workers never share a row, and runs
them in one transaction: a worker that dies gives its rows back and they run again.
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
import hashlib
import hmac
import json
import logging
import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import requests
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from campaigns.models import (
    EnrolmentStatus,
    Journey,
    JourneyEnrolment,
    JourneyStep,
    Message,
    MessageStatus,
    StepKind,
    Template,
    TriggerKind,
)
from campaigns.services.audience import contact_zone, local_instant
from campaigns.services.journey_definition import duration, webhook_url_error
from campaigns.services.journey_experiments import decide_if_due, winner_state
from campaigns.services.send_time import best_send_times
from contacts.models import Contact, EmailStatus, Event, SmsStatus
from contacts.rules.compiler import matching_ids
from contacts.services.marks import contacts_mark_changed
from lifecycle.models import ContactStage, Stage
from workspaces.services import Actor

logger = logging.getLogger(__name__)

MAX_ROUNDS = 100  # steps one contact may run in one claim (the graph has no cycles)
WEBHOOK_ATTEMPTS = 5


@dataclass
class Run:
    """One claimed enrolment, changed in memory and written back at the end."""

    id: int
    contact_id: int
    step_id: int | None
    status: str
    due_at: dt.datetime
    entered_at: dt.datetime
    step_entered_at: dt.datetime
    resume_at: dt.datetime | None
    goal_until: dt.datetime | None
    attempts: int
    path: dict[str, Any]
    converted_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    exit_reason: str = ""
    time_zone: str = ""
    phone: str | None = None
    steps_run: int = 0


@dataclass
class Batch:
    journey: Journey
    steps: dict[int, JourneyStep]
    by_key: dict[str, JourneyStep]
    now: dt.datetime
    entered: Counter[int] = field(default_factory=Counter)
    exited: Counter[int] = field(default_factory=Counter)
    converted: Counter[int] = field(default_factory=Counter)
    messages: list[Message] = field(default_factory=list)

    def step_of(self, run: Run) -> JourneyStep | None:
        return None if run.step_id is None else self.steps[run.step_id]

    def move(self, run: Run, key: str | None) -> None:
        """To the step `key`, due now; no key: the journey is completed."""
        run.resume_at = None
        run.attempts = 0
        if key is None:
            self.finish(run, EnrolmentStatus.COMPLETED, "")
            return
        step = self.by_key.get(key)
        if step is None:  # the graph is checked on save; never crash a batch over it
            self.finish(run, EnrolmentStatus.EXITED, f"no step {key}")
            return
        run.step_id = step.pk
        run.step_entered_at = self.now
        run.due_at = self.now
        self.entered[step.pk] += 1

    def park(self, run: Run, until: dt.datetime) -> None:
        run.resume_at = until
        run.due_at = until

    def finish(self, run: Run, status: str, reason: str) -> None:
        if run.step_id is not None:
            self.exited[run.step_id] += 1
            if status == EnrolmentStatus.CONVERTED:
                self.converted[run.step_id] += 1
        run.status = status
        run.exit_reason = reason
        run.finished_at = self.now
        run.resume_at = None


_CLAIM_SQL = """
SELECT e.id, e.journey_id, e.contact_id, e.step_id, e.status, e.due_at, e.entered_at,
       e.step_entered_at, e.resume_at, e.goal_until, e.attempts, e.path, c.time_zone,
       c.phone
FROM campaigns_journeyenrolment e
JOIN campaigns_journey j ON j.id = e.journey_id
JOIN contacts_contact c ON c.id = e.contact_id
WHERE e.status IN ('active', 'holdout') AND e.due_at <= %(now)s AND j.status = 'live'
ORDER BY e.due_at
LIMIT %(limit)s
FOR UPDATE OF e SKIP LOCKED
"""

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
WHERE e.id = u.id
"""

_COUNT_SQL = """
UPDATE campaigns_journeystep AS s
SET entered = s.entered + u.entered, exited = s.exited + u.exited,
    converted = s.converted + u.converted
FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[])
     AS u(id, entered, exited, converted)
WHERE s.id = u.id
"""


def journeys_advance(*, limit: int | None = None, now: dt.datetime | None = None) -> int:
    """Claim up to `limit` due enrolments and run them; returns steps run."""
    limit = limit or settings.JOURNEY_CLAIM_BATCH
    with transaction.atomic():
        now = now or timezone.now()
        with connection.cursor() as cursor:
            cursor.execute(_CLAIM_SQL, {"now": now, "limit": limit})
            rows = cursor.fetchall()
        if not rows:
            return 0
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
        journeys = Journey.objects.select_related("workspace").in_bulk(list(by_journey))
        steps_run = 0
        all_runs: list[Run] = []
        counts: list[Batch] = []
        for journey_id, runs in by_journey.items():
            batch = _batch(journeys[journey_id], now)
            _run_batch(batch, runs)
            steps_run += sum(run.steps_run for run in runs)
            all_runs.extend(runs)
            counts.append(batch)
        _save(all_runs, counts)
    logger.info("campaigns.journeys_advanced enrolments=%s steps=%s", len(rows), steps_run)
    return steps_run


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


def _save(runs: list[Run], batches: list[Batch]) -> None:
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
    return _events_since(journey, goal["event"], open_runs, lambda r: r.entered_at)


def _events_since(journey: Journey, event: dict[str, Any], runs: list[Run], since: Any) -> set[int]:
    """Runs whose contact performed `event` at or after since(run)."""
    if not runs:
        return set()
    earliest = min(since(r) for r in runs)
    found: dict[int, list[dt.datetime]] = defaultdict(list)
    queryset = Event.objects.filter(
        workspace_id=journey.workspace_id,
        contact_id__in={r.contact_id for r in runs},
        name=event["name"],
        received_at__gte=earliest,
    )
    if event.get("properties"):
        queryset = queryset.filter(properties__contains=event["properties"])
    for contact_id, received_at in queryset.values_list("contact_id", "received_at"):
        found[contact_id].append(received_at)
    return {r.id for r in runs if any(t >= since(r) for t in found.get(r.contact_id, []))}


def exits(batch: Batch, runs: list[Run]) -> dict[int, str]:
    """{enrolment id: reason} for runs that meet an exit criterion now."""
    journey = batch.journey
    if not runs:
        return {}
    contact_ids = [r.contact_id for r in runs]
    out_contacts: dict[int, str] = {}
    if journey.exit_on_unsubscribe:
        channels = {
            "email" if s.kind == StepKind.SEND_EMAIL else "sms"
            for s in batch.by_key.values()
            if s.kind in (StepKind.SEND_EMAIL, StepKind.SEND_SMS)
        }
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
            HANDLERS[step.kind](batch, step, group)
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


def assign(
    step: JourneyStep, weights: list[tuple[str, int]], count: int, *, slot: str = ""
) -> list[str]:
    """Labels for the next `count` contacts at `step`, each to the label furthest
    behind its share: every label stays within one contact of weight/total of all
    contacts ever assigned. The step row is locked for the rest of the transaction,
    so concurrent workers take turns."""
    locked = JourneyStep.objects.select_for_update().only("assigned").get(pk=step.pk)
    state = locked.assigned.get(slot, {}) if slot else locked.assigned
    assigned = {label: int(state.get(label, 0)) for label, _ in weights}
    total_weight = sum(w for _, w in weights)
    n = sum(assigned.values())
    out = []
    for _ in range(count):
        n += 1
        label = max(weights, key=lambda lw: lw[1] * n / total_weight - assigned[lw[0]])[0]
        assigned[label] += 1
        out.append(label)
    new_state = {**locked.assigned, slot: assigned} if slot else assigned
    JourneyStep.objects.filter(pk=step.pk).update(assigned=new_state)
    step.assigned = new_state
    return out


def _next(batch: Batch, step: JourneyStep, runs: Iterable[Run], key: str = "next") -> None:
    for run in runs:
        batch.move(run, step.config.get(key))


def _resume_due(batch: Batch, step: JourneyStep, runs: list[Run]) -> list[Run]:
    """Runs whose wait has ended (the rest stay parked: woken early for a check)."""
    done = []
    for run in runs:
        if run.resume_at is not None and run.resume_at > batch.now:
            run.due_at = run.resume_at
        else:
            done.append(run)
    return done


def _send(batch: Batch, step: JourneyStep, runs: list[Run]) -> None:
    config = step.config
    variants = config.get("variants") or []
    if variants and config.get("winner"):
        _send_test(batch, step, runs)
        return
    if variants:
        labels = assign(step, [(v["label"], int(v.get("weight", 1))) for v in variants], len(runs))
    else:
        labels = [""] * len(runs)
    _enqueue(batch, step, runs, labels)


def _send_test(batch: Batch, step: JourneyStep, runs: list[Run]) -> None:
    """A/B with an automatic winner (journey_experiments.py): the pool is split, later
    arrivals wait at the step for the winner."""
    locked = JourneyStep.objects.select_for_update().get(pk=step.pk)
    step.assigned = locked.assigned
    winner = decide_if_due(step, batch.now)
    if winner is not None:
        _enqueue(batch, step, runs, [winner] * len(runs))
        return
    variants = step.config["variants"]
    pool = int(step.config["winner"]["pool"])
    counted = sum(v for k, v in step.assigned.items() if not k.startswith("_"))
    arriving = [r for r in runs if r.resume_at is None]
    in_pool = arriving[: max(0, pool - counted)]
    if in_pool:
        labels = assign(
            step, [(v["label"], int(v.get("weight", 1))) for v in variants], len(in_pool)
        )
        _enqueue(batch, step, in_pool, labels)
    if counted + len(in_pool) >= pool and not winner_state(step).get("pool_full_at"):
        state = {**winner_state(step), "pool_full_at": batch.now.isoformat()}
        step.assigned = {**step.assigned, "_winner": state}
        JourneyStep.objects.filter(pk=step.pk).update(assigned=step.assigned)
    filled = winner_state(step).get("pool_full_at")
    decide_at = (
        dt.datetime.fromisoformat(filled)
        + dt.timedelta(hours=step.config["winner"].get("wait_hours", 24))
        if filled
        else batch.now + dt.timedelta(hours=1)
    )
    for run in runs:
        if run not in in_pool:
            batch.park(run, max(decide_at, batch.now + dt.timedelta(seconds=1)))


def _enqueue(batch: Batch, step: JourneyStep, runs: list[Run], labels: list[str]) -> None:
    config = step.config
    template_of = {v["label"]: v["template_id"] for v in config.get("variants") or []}
    template_of[""] = config.get("template_id")
    templates = Template.objects.in_bulk({t for t in template_of.values() if t})
    due = {r.id: batch.now for r in runs}
    if config.get("best_time"):
        due.update(_best_times(batch, runs))
    for run, label in zip(runs, labels, strict=True):
        template = templates[template_of[label]]
        if label:
            run.path[step.key] = label
        batch.messages.append(
            Message(
                workspace_id=batch.journey.workspace_id,
                contact_id=run.contact_id,
                channel=template.channel,
                template=template,
                idempotency_key=f"journey:{run.id}:{step.pk}",
                due_at=due[run.id],
                campaign_step_id=step.pk,
                status=MessageStatus.SCHEDULED,
            )
        )
    _next(batch, step, runs)


def _best_times(batch: Batch, runs: list[Run]) -> dict[int, dt.datetime]:
    best = best_send_times(
        workspace=batch.journey.workspace,
        contacts=[r.contact_id for r in runs],
        after=batch.now,
    )
    return {r.id: best[r.contact_id] for r in runs if r.contact_id in best}


def _wait(batch: Batch, step: JourneyStep, runs: list[Run]) -> None:
    parked = [r for r in runs if r.resume_at is not None]
    for run in runs:
        if run.resume_at is None:
            batch.park(run, batch.now + duration(step.config["duration"]))
    _next(batch, step, _resume_due(batch, step, parked))


def next_local(
    now: dt.datetime, time: dt.time, days: list[int], zone: str, fallback: str
) -> dt.datetime:
    """The first instant at or after `now` that is `time` on the local clock of
    `zone` (else `fallback`) on one of `days` (0 = Monday; empty: any day)."""
    from campaigns.services.audience import _zone

    tz = _zone(zone) or _zone(fallback) or dt.UTC
    today = now.astimezone(tz).date()
    for offset in range(0, 9):
        day = today + dt.timedelta(days=offset)
        if days and day.weekday() not in days:
            continue
        when = local_instant(day, time, zone, fallback)
        if when >= now:
            return when
    raise AssertionError("a day of the week always comes round within 8 days")


def _wait_until(batch: Batch, step: JourneyStep, runs: list[Run]) -> None:
    time = dt.time.fromisoformat(step.config["time"])
    days = list(step.config.get("days_of_week") or [])
    parked = [r for r in runs if r.resume_at is not None]
    fallback = batch.journey.workspace.time_zone
    for run in runs:
        if run.resume_at is None:
            zone = contact_zone(run.time_zone, run.phone, fallback)
            batch.park(run, next_local(batch.now, time, days, zone, fallback))
    _next(batch, step, _resume_due(batch, step, parked))


def wait_met(journey: Journey, step: JourneyStep, runs: list[Run], now: dt.datetime) -> set[int]:
    if not runs:
        return set()
    if "event" in step.config:
        return _events_since(journey, step.config["event"], runs, lambda r: r.step_entered_at)
    hit = matching_ids(
        step.config["rule"],
        workspace=journey.workspace,
        contact_ids=[r.contact_id for r in runs],
        now=now,
    )
    return {r.id for r in runs if r.contact_id in hit}


def _wait_for(batch: Batch, step: JourneyStep, runs: list[Run]) -> None:
    met = wait_met(batch.journey, step, runs, batch.now)
    timeout = duration(step.config["timeout"])
    for run in runs:
        if run.id in met:
            batch.move(run, step.config.get("next"))
        elif run.resume_at is None:
            batch.park(run, batch.now + timeout)
        elif run.resume_at <= batch.now:
            batch.move(run, step.config.get("timeout_next"))
        else:
            run.due_at = run.resume_at


def _branch(batch: Batch, step: JourneyStep, runs: list[Run]) -> None:
    hit = matching_ids(
        step.config["rule"],
        workspace=batch.journey.workspace,
        contact_ids=[r.contact_id for r in runs],
        now=batch.now,
    )
    for run in runs:
        batch.move(run, step.config.get("yes" if run.contact_id in hit else "no"))


def _split(batch: Batch, step: JourneyStep, runs: list[Run]) -> None:
    paths = step.config["paths"]
    labels = assign(step, [(p["label"], int(p["weight"])) for p in paths], len(runs))
    next_of = {p["label"]: p.get("next") for p in paths}
    for run, label in zip(runs, labels, strict=True):
        run.path[step.key] = label
        batch.move(run, next_of[label])


def _update_attribute(batch: Batch, step: JourneyStep, runs: list[Run]) -> None:
    attribute, value = step.config["attribute"], step.config.get("value")
    ids = sorted({r.contact_id for r in runs})
    with connection.cursor() as cursor:
        if value is None:
            cursor.execute(
                "UPDATE contacts_contact SET attributes = attributes - %s, updated_at = %s "
                "WHERE id = ANY(%s)",
                [attribute, batch.now, ids],
            )
        else:
            cursor.execute(
                "UPDATE contacts_contact SET attributes = jsonb_set(attributes, %s, %s::jsonb), "
                "updated_at = %s WHERE id = ANY(%s)",
                [[attribute], json.dumps(value), batch.now, ids],
            )
    contacts_mark_changed(contact_ids=ids)
    _next(batch, step, runs)


def _move_stage(batch: Batch, step: JourneyStep, runs: list[Run]) -> None:
    from lifecycle.services.moves import contact_stage_set

    stage = Stage.objects.get(pk=step.config["stage_id"])
    pin_days = step.config.get("pin_days")
    actor = Actor(system=f"journey:{batch.journey.pk}")
    contacts = Contact.objects.select_related("workspace").in_bulk({r.contact_id for r in runs})
    for run in runs:
        if stage.archived_at is None:
            contact_stage_set(
                contact=contacts[run.contact_id],
                stage=stage,
                actor=actor,
                reason=f"journey {batch.journey.name!r}, step {step.key!r}",
                pinned_until=batch.now + dt.timedelta(days=pin_days) if pin_days else None,
            )
    _next(batch, step, runs)


def webhook_signature(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _webhook(batch: Batch, step: JourneyStep, runs: list[Run]) -> None:
    runs = _resume_due(batch, step, runs)
    contacts = {
        c["id"]: c
        for c in Contact.objects.filter(pk__in={r.contact_id for r in runs}).values(
            "id", "email", "phone", "external_id", "first_name", "last_name", "attributes"
        )
    }
    secret = str(step.config.get("secret", ""))
    session = requests.Session()
    for run in runs:
        body = json.dumps(
            {
                "journey": {"id": batch.journey.pk, "name": batch.journey.name},
                "step": step.key,
                "enrolment_id": run.id,
                "contact": contacts.get(run.contact_id),
                "sent_at": batch.now.isoformat(),
            },
            default=str,
        ).encode()
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": f"journey:{run.id}:{step.pk}",
            "User-Agent": "Stagecraft-Journeys/1",
        }
        if secret:
            headers["X-Stagecraft-Signature"] = webhook_signature(secret, body)
        refused = webhook_url_error(step.config["url"])  # DNS may have changed since
        try:
            if refused:
                raise requests.ConnectionError(refused)
            response = session.post(
                step.config["url"],
                data=body,
                headers=headers,
                timeout=settings.JOURNEY_WEBHOOK_TIMEOUT,
                allow_redirects=False,
            )
            ok, error = 200 <= response.status_code < 300, f"HTTP {response.status_code}"
        except requests.RequestException as exc:
            ok, error = False, type(exc).__name__
        if ok:
            batch.move(run, step.config.get("next"))
            continue
        run.attempts += 1
        logger.warning(
            "campaigns.journey_webhook_failed journey=%s step=%s enrolment=%s attempt=%s error=%s",
            batch.journey.pk,
            step.key,
            run.id,
            run.attempts,
            error,
        )
        if run.attempts >= WEBHOOK_ATTEMPTS:
            batch.move(run, step.config.get("next"))  # given up: the journey goes on
        else:
            delay = settings.JOURNEY_WEBHOOK_RETRY_SECONDS * 2 ** (run.attempts - 1)
            batch.park(run, batch.now + dt.timedelta(seconds=random.uniform(delay / 2, delay)))


def _exit(batch: Batch, step: JourneyStep, runs: list[Run]) -> None:
    for run in runs:
        batch.finish(run, EnrolmentStatus.EXITED, "exit step")


HANDLERS: dict[str, Callable[[Batch, JourneyStep, list[Run]], None]] = {
    StepKind.SEND_EMAIL: _send,
    StepKind.SEND_SMS: _send,
    StepKind.WAIT: _wait,
    StepKind.WAIT_UNTIL: _wait_until,
    StepKind.WAIT_FOR: _wait_for,
    StepKind.BRANCH: _branch,
    StepKind.SPLIT: _split,
    StepKind.UPDATE_ATTRIBUTE: _update_attribute,
    StepKind.MOVE_STAGE: _move_stage,
    StepKind.WEBHOOK: _webhook,
    StepKind.EXIT: _exit,
}


def runs_of(enrolments: Iterable[JourneyEnrolment]) -> list[Run]:
    return [
        Run(
            id=e.pk,
            contact_id=e.contact_id,
            step_id=e.step_id,
            status=e.status,
            due_at=e.due_at,
            entered_at=e.entered_at,
            step_entered_at=e.step_entered_at,
            resume_at=e.resume_at,
            goal_until=e.goal_until,
            attempts=e.attempts,
            path=e.path,
        )
        for e in enrolments
    ]
