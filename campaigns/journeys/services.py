"""Creating, editing and running journeys (the definition is checked by
journey_definition.py; contacts are moved by journey_engine.py).

Editing a live journey (a PUT of the steps) says what happens to contacts inside it:
- a step kept (same key, same kind) keeps its contacts; its new settings apply from
  their next run there (a changed wait applies to contacts who arrive after the edit;
  those already waiting keep their time);
- a step removed, or whose kind changed, takes its contacts out ("step removed"),
  or, with `move_removed_to`, moves them to that step, due now;
- a changed trigger or re-entry policy applies to entries from then on; a changed goal
  or exit rule applies to everyone inside from their next run.
The response counts the contacts moved and taken out."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from campaigns.journeys.definition import definition_errors
from campaigns.journeys.segment_trigger import segment_scan
from campaigns.journeys.steps import STEP_TYPES
from campaigns.journeys.triggers import enrol_api
from campaigns.models import (
    IN_JOURNEY,
    EnrolmentStatus,
    Journey,
    JourneyEnrolment,
    JourneyStatus,
    JourneyStep,
    Reentry,
    TriggerKind,
)
from config.errors import Conflict, InvalidInput, field_errors
from messaging.models import Message, MessageStatus, Origin
from workspaces.models import Workspace
from workspaces.services import Actor, audit_record, save_or_conflict

SIMPLE_FIELDS = {
    "name": str,
    "description": str,
    "goal_days": int,
    "exit_on_stage_left": bool,
    "exit_on_unsubscribe": bool,
    "reentry_days": int,
    "holdout_percent": int,
}
DEFINITION_FIELDS = {"trigger", "steps", "entry_key", "goal", "exit_rule"}
ALL_FIELDS = {*SIMPLE_FIELDS, *DEFINITION_FIELDS, "reentry", "move_removed_to"}


def _apply_simple(journey: Journey, data: dict[str, Any], errors: dict[str, list[str]]) -> None:
    """The plain fields: of their type, name not blank, name and description not too long."""
    for name, kind in SIMPLE_FIELDS.items():
        if name in data:
            value = data[name]
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                errors[name] = [f"must be {'text' if kind is str else kind.__name__}"]
            else:
                setattr(journey, name, value.strip() if isinstance(value, str) else value)
    if "name" in data and not errors.get("name") and not journey.name:
        errors["name"] = ["must not be blank"]
    for name, longest in (("name", 200), ("description", 2000)):
        if name in data and not errors.get(name) and len(getattr(journey, name)) > longest:
            errors[name] = [f"is longer than {longest} characters"]


def _combination_errors(journey: Journey, errors: dict[str, list[str]]) -> None:
    """What is wrong only in combination, on the journey as it would be saved."""
    if journey.reentry == Reentry.COOLDOWN and journey.reentry_days < 1:
        errors.setdefault("reentry_days", []).append("must be at least 1 with reentry cooldown")
    if journey.holdout_percent and journey.goal is None:
        errors.setdefault("holdout_percent", []).append("a holdout needs a goal to measure")
    if journey.exit_on_stage_left and journey.trigger_kind not in ("", TriggerKind.STAGE_ENTERED):
        errors.setdefault("exit_on_stage_left", []).append("only for a stage-entered trigger")


def _apply(journey: Journey, data: dict[str, Any]) -> list[dict[str, Any]] | None:
    unknown = set(data) - ALL_FIELDS
    if unknown:
        raise field_errors({f: ["unknown field"] for f in sorted(unknown)})
    errors: dict[str, list[str]] = {}
    _apply_simple(journey, data, errors)
    if "reentry" in data:
        if data["reentry"] not in Reentry.values:
            errors["reentry"] = [f"must be one of {', '.join(Reentry.values)}"]
        else:
            journey.reentry = data["reentry"]
    errors.update(definition_errors(journey.workspace, data))
    for name in ("trigger", "goal", "exit_rule"):
        if name in data and name not in errors:
            setattr(journey, name, data[name])
    steps = data.get("steps")
    if steps is not None and not any(k.startswith("steps") for k in errors):
        journey.entry_key = data.get("entry_key") or steps[0]["key"]
    _combination_errors(journey, errors)
    if errors:
        raise field_errors(errors)
    return steps


def _save_steps(journey: Journey, steps: list[dict[str, Any]], move_to: Any) -> dict[str, int]:
    """Replace the steps; see the module docstring for contacts on removed steps."""
    now = timezone.now()
    current = {s.key: s for s in journey.steps.filter(removed_at__isnull=True)}
    wanted = {s["key"]: s for s in steps}
    removed = [
        s for key, s in current.items() if key not in wanted or wanted[key]["kind"] != s.kind
    ]
    if move_to is not None and (move_to not in wanted):
        raise field_errors({"move_removed_to": ["no step has this key"]})
    if removed:
        JourneyStep.objects.filter(pk__in=[s.pk for s in removed]).update(removed_at=now)
    kept: dict[str, JourneyStep] = {}
    for position, data in enumerate(steps):
        step = current.get(data["key"])
        if step is None or step in removed:
            step = JourneyStep(
                workspace_id=journey.workspace_id,
                journey=journey,
                key=data["key"],
                kind=data["kind"],
            )
        step.name = str(data.get("name", ""))[:200]
        step.config = data.get("config", {})
        step.position = position
        step.save()
        kept[step.key] = step
    affected = JourneyEnrolment.objects.filter(
        journey=journey, status__in=IN_JOURNEY, step__in=[s.pk for s in removed]
    )
    counts = {"moved": 0, "exited": 0}
    if not removed:
        return counts
    if move_to is not None:
        target = kept[move_to]
        counts["moved"] = affected.update(
            step=target, due_at=now, step_entered_at=now, resume_at=None, attempts=0
        )
        JourneyStep.objects.filter(pk=target.pk).update(entered=F("entered") + counts["moved"])
    else:
        per_step = dict(
            affected.values_list("step_id").annotate(n=Count("id")).values_list("step_id", "n")
        )
        counts["exited"] = affected.update(
            status=EnrolmentStatus.EXITED,
            exit_reason="step removed",
            finished_at=now,
            resume_at=None,
        )
        for step_id, n in per_step.items():
            JourneyStep.objects.filter(pk=step_id).update(exited=F("exited") + n)
    return counts


def _conflict_on_name(journey: Journey) -> None:
    save_or_conflict(journey, "A journey with this name exists.")


@transaction.atomic
def journey_create(*, workspace: Workspace, data: dict[str, Any], actor: Actor) -> Journey:
    journey = Journey(workspace=workspace)
    for required in ("name", "trigger", "steps"):
        if required not in data:
            raise field_errors({required: ["is required"]})
    steps = _apply(journey, data)
    _conflict_on_name(journey)
    assert steps is not None
    _save_steps(journey, steps, None)
    audit_record(
        workspace=workspace,
        action="journey.created",
        actor=actor,
        object_type="journey",
        object_id=journey.pk,
    )
    return journey


@transaction.atomic
def journey_update(
    *, journey: Journey, data: dict[str, Any], actor: Actor
) -> tuple[Journey, dict[str, int]]:
    """Edit a journey, live or not (see the module docstring); cancelled ones are final."""
    locked = Journey.objects.select_for_update().get(pk=journey.pk)
    if locked.status == JourneyStatus.CANCELLED:
        raise Conflict("A cancelled journey cannot be edited.")
    if "move_removed_to" in data and "steps" not in data:
        raise field_errors({"move_removed_to": ["only with steps"]})
    steps = _apply(journey, data)
    journey.updated_at = timezone.now()
    journey.version += 1
    _conflict_on_name(journey)
    counts = {"moved": 0, "exited": 0}
    if steps is not None:
        counts = _save_steps(journey, steps, data.get("move_removed_to"))
    audit_record(
        workspace=journey.workspace,
        action="journey.updated",
        actor=actor,
        object_type="journey",
        object_id=journey.pk,
        details={"fields": sorted(data), **counts},
    )
    return journey, counts


def _transition(
    journey: Journey, allowed: set[str], new: str, actor: Actor, action: str, **fields: Any
) -> Journey:
    locked = Journey.objects.select_for_update().get(pk=journey.pk)
    if locked.status not in allowed:
        raise Conflict(f"This journey is {locked.status}; it cannot be {action}.")
    for name, value in {"status": new, "updated_at": timezone.now(), **fields}.items():
        setattr(locked, name, value)
    locked.save()
    audit_record(
        workspace=locked.workspace,
        action=f"journey.{action}",
        actor=actor,
        object_type="journey",
        object_id=locked.pk,
    )
    return locked


@transaction.atomic
def journey_schedule(
    *, journey: Journey, actor: Actor, start_at: dt.datetime | None = None
) -> Journey:
    """Go live: triggers count from `start_at` (default now). A segment trigger
    remembers who is in the segment already; only later joiners enter."""
    now = timezone.now()
    if start_at is not None and start_at < now - dt.timedelta(minutes=5):
        raise InvalidInput("start_at is in the past.", fields={"start_at": ["is in the past"]})
    if not journey.steps.filter(removed_at__isnull=True).exists():
        raise InvalidInput("A journey needs steps.", fields={"steps": ["is empty"]})
    live = _transition(
        journey,
        {JourneyStatus.DRAFT},
        JourneyStatus.LIVE,
        actor,
        "scheduled",
        live_since=start_at or now,
    )
    if live.trigger_kind == TriggerKind.SEGMENT_JOINED:
        segment_scan(live, enrol_joiners=False)
    return live


@transaction.atomic
def journey_pause(*, journey: Journey, actor: Actor) -> Journey:
    """No one enters and no one moves; due steps run on resume."""
    return _transition(journey, {JourneyStatus.LIVE}, JourneyStatus.PAUSED, actor, "paused")


@transaction.atomic
def journey_resume(*, journey: Journey, actor: Actor) -> Journey:
    return _transition(journey, {JourneyStatus.PAUSED}, JourneyStatus.LIVE, actor, "resumed")


@transaction.atomic
def journey_cancel(*, journey: Journey, actor: Actor) -> Journey:
    """Stop for good: everyone inside exits ("journey cancelled"); messages already in
    the outbox for them are cancelled too."""
    cancelled = _transition(
        journey,
        {JourneyStatus.DRAFT, JourneyStatus.LIVE, JourneyStatus.PAUSED},
        JourneyStatus.CANCELLED,
        actor,
        "cancelled",
    )
    now = timezone.now()
    JourneyEnrolment.objects.filter(journey=journey, status__in=IN_JOURNEY).update(
        status=EnrolmentStatus.EXITED,
        exit_reason="journey cancelled",
        finished_at=now,
        resume_at=None,
    )
    Message.objects.filter(
        origin_kind=Origin.JOURNEY_STEP,
        origin_id__in=journey.steps.values("pk"),
        status__in=[MessageStatus.SCHEDULED, MessageStatus.HELD],
    ).update(status=MessageStatus.SUPPRESSED, status_reason="journey cancelled")
    return cancelled


def journey_step_counts(journey: Journey) -> list[dict[str, Any]]:
    """Per step: entered, waiting (there now), exited (left the journey there),
    converted (reached the goal while there), and sends for message steps."""
    waiting = dict(
        JourneyEnrolment.objects.filter(journey=journey, status=EnrolmentStatus.ACTIVE)
        .values_list("step_id")
        .annotate(n=Count("id"))
        .values_list("step_id", "n")
    )
    steps = list(journey.steps.all())
    messages = {
        row["origin_id"]: row
        for row in Message.objects.filter(
            origin_kind=Origin.JOURNEY_STEP, origin_id__in=[s.pk for s in steps]
        )
        .values("origin_id")
        .annotate(
            sent=Count("id", filter=Q(sent_at__isnull=False)),
            opened=Count("id", filter=Q(opened_at__isnull=False)),
            clicked=Count("id", filter=Q(clicked_at__isnull=False)),
        )
    }
    out = []
    for step in steps:
        row: dict[str, Any] = {
            "id": step.pk,
            "key": step.key,
            "kind": step.kind,
            "name": step.name,
            "removed": step.removed_at is not None,
            "entered": step.entered,
            "waiting": waiting.get(step.pk, 0),
            "exited": step.exited,
            "converted": step.converted,
        }
        if STEP_TYPES[step.kind].sends(step.config):
            m: dict[str, Any] = dict(messages.get(step.pk, {}))
            row.update({k: m.get(k, 0) for k in ("sent", "opened", "clicked")})
        if step.assigned:
            row["assigned"] = {k: v for k, v in step.assigned.items() if not k.startswith("_")}
            if step.assigned.get("_winner"):
                row["winner"] = step.assigned["_winner"]
        out.append(row)
    return out


def journey_totals(journey: Journey) -> dict[str, Any]:
    """Entered, inside, completed, exited, converted; with a holdout, the conversion
    rate of each group and the lift."""
    rows = (
        JourneyEnrolment.objects.filter(journey=journey)
        .values("status")
        .annotate(n=Count("id"), converted=Count("id", filter=Q(converted_at__isnull=False)))
    )
    by: dict[str, dict[str, Any]] = {r["status"]: dict(r) for r in rows}
    total = sum(r["n"] for r in by.values())
    converted = sum(r["converted"] for r in by.values())
    out: dict[str, Any] = {
        "entered": total,
        "active": by.get(EnrolmentStatus.ACTIVE, {}).get("n", 0),
        "completed": by.get(EnrolmentStatus.COMPLETED, {}).get("n", 0),
        "exited": by.get(EnrolmentStatus.EXITED, {}).get("n", 0),
        "converted": converted,
    }
    if journey.holdout_percent:
        groups = JourneyEnrolment.objects.filter(journey=journey).aggregate(
            held=Count("id", filter=Q(path__holdout=True)),
            held_converted=Count("id", filter=Q(path__holdout=True, converted_at__isnull=False)),
        )
        treated = total - groups["held"]
        treated_rate = (converted - groups["held_converted"]) / treated if treated else None
        held_rate = groups["held_converted"] / groups["held"] if groups["held"] else None
        out["holdout"] = {
            "contacts": groups["held"],
            "converted": groups["held_converted"],
            "conversion_rate": held_rate,
            "treated_conversion_rate": treated_rate,
            "lift": None if held_rate is None or treated_rate is None else treated_rate - held_rate,
        }
    return out


@transaction.atomic
def journey_contacts_add(*, journey: Journey, contact_ids: Sequence[int], actor: Actor) -> int:
    """Let contacts in by hand (the dashboard's "add contacts"), under the journey's
    re-entry policy; contacts of other workspaces are ignored. Returns how many entered."""
    if journey.status not in (JourneyStatus.LIVE, JourneyStatus.PAUSED):
        raise Conflict(f"This journey is {journey.status}; contacts enter only when it is live.")
    added = enrol_api(journey, list(contact_ids))
    audit_record(
        workspace=journey.workspace,
        action="journey.contacts_added",
        actor=actor,
        object_type="journey",
        object_id=journey.pk,
        details={"requested": len(contact_ids), "added": added},
    )
    return added
