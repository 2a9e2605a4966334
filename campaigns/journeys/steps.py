"""The steps of a journey, each run for a group of contacts at once (see
journey_engine.py for how groups are claimed and written back, journey_runs.py for
`Run` and `Batch`). HANDLERS maps each step kind to the function that runs it."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import random
from collections.abc import Callable

from django.conf import settings
from django.db import connection

from campaigns.journeys.definition import duration
from campaigns.journeys.experiments import decide_if_due, winner_state
from campaigns.journeys.runs import (
    Batch,
    Run,
    assign,
    events_since,
    move_all,
    resume_due,
)
from campaigns.models import EnrolmentStatus, Journey, JourneyStep, StepKind
from campaigns.send_time import best_send_times
from config import outbound
from contacts.models import Contact
from contacts.rules.compiler import matching_ids
from contacts.services.marks import contacts_mark_changed
from contacts.zones import contact_zone, local_instant, zone_info
from lifecycle.models import Stage
from messaging.models import Message, MessageStatus, Origin, Template
from workspaces.services import Actor

logger = logging.getLogger(__name__)

WEBHOOK_ATTEMPTS = 5
# The receiver's answer is read only for its status; a longer one fails the call.
WEBHOOK_MAX_ANSWER_BYTES = 64 * 1024


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
                origin_kind=Origin.JOURNEY_STEP,
                origin_id=step.pk,
                status=MessageStatus.SCHEDULED,
            )
        )
    move_all(batch, step, runs)


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
    move_all(batch, step, resume_due(batch, step, parked))


def next_local(
    now: dt.datetime, time: dt.time, days: list[int], zone: str, fallback: str
) -> dt.datetime:
    """The first instant at or after `now` that is `time` on the local clock of
    `zone` (else `fallback`) on one of `days` (0 = Monday; empty: any day)."""
    tz = zone_info(zone) or zone_info(fallback) or dt.UTC
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
    move_all(batch, step, resume_due(batch, step, parked))


def wait_met(journey: Journey, step: JourneyStep, runs: list[Run], now: dt.datetime) -> set[int]:
    if not runs:
        return set()
    if "event" in step.config:
        return events_since(journey, step.config["event"], runs, lambda r: r.step_entered_at)
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
    move_all(batch, step, runs)


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
    move_all(batch, step, runs)


def webhook_signature(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _webhook(batch: Batch, step: JourneyStep, runs: list[Run]) -> None:
    runs = resume_due(batch, step, runs)
    contacts = {
        c["id"]: c
        for c in Contact.objects.filter(pk__in={r.contact_id for r in runs}).values(
            "id", "email", "phone", "external_id", "first_name", "last_name", "attributes"
        )
    }
    secret = str(step.config.get("secret", ""))
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
        # The guard resolves the host once, refuses any address that is not public
        # (DNS may have changed since the journey was saved) and connects to the
        # address it checked, so a rebinding DNS server cannot send it elsewhere.
        try:
            response = outbound.request(
                "POST",
                step.config["url"],
                body=body,
                headers=headers,
                timeout=settings.JOURNEY_WEBHOOK_TIMEOUT,
                max_bytes=WEBHOOK_MAX_ANSWER_BYTES,
            )
            ok, error = 200 <= response.status < 300, f"HTTP {response.status}"
        except (outbound.OutboundRefused, outbound.OutboundFailed) as exc:
            ok, error = False, exc.reason
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
