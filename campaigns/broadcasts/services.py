"""Writes to broadcasts: create and edit (drafts only), schedule, pause, resume,
cancel. Each state change is a conditional UPDATE that only one writer can win.

Putting the recipients into the outbox (materialisation), moving a broadcast from
scheduled to sending to sent, and choosing an A/B winner are in
campaigns/broadcasts/delivery.py."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime, parse_time

from campaigns.broadcasts.audience import Audience
from campaigns.models import Broadcast, BroadcastStatus, BroadcastVariant, ScheduleKind
from config.errors import Conflict, field_errors
from config.query import utc_offset_problem
from config.queue import enqueue_on_commit
from contacts.models import Channel, Segment
from lifecycle.models import Stage
from messaging.models import MessageStatus, Template
from workspaces.models import Workspace
from workspaces.services import Actor, audit_record

SCALARS = (
    "name",
    "channel",
    "template_id",
    "schedule",
    "send_at",
    "local_date",
    "local_time",
    "throttle_per_hour",
    "test_pool_percent",
    "winner_wait_hours",
)
ID_LISTS = (
    "include_segment_ids",
    "include_stage_ids",
    "exclude_segment_ids",
    "exclude_stage_ids",
)
FIELDS = (*SCALARS, *ID_LISTS, "variants")
CANCELLED_REASON = "the broadcast was cancelled"


def _int(value: Any, field: str, errors: dict[str, list[str]], *, low: int = 0) -> int | None:
    if value in (None, ""):
        return None
    if isinstance(value, bool):
        errors[field] = ["must be a whole number"]
        return None
    try:
        number = int(str(value))
    except ValueError:
        errors[field] = ["must be a whole number"]
        return None
    if number < low:
        errors[field] = [f"must be at least {low}"]
        return None
    if number >= 2**63:  # beyond PostgreSQL's bigint
        errors[field] = ["is too large"]
        return None
    return number


def _ids(value: Any, field: str, errors: dict[str, list[str]]) -> list[int]:
    if value in (None, ""):
        return []
    if not isinstance(value, list | tuple):
        errors[field] = ["must be a list of ids"]
        return []
    out: list[int] = []
    for item in value:
        number = _int(item, field, errors, low=1)
        if number is None:
            errors[field] = ["must be a list of ids"]
            return []
        if number not in out:
            out.append(number)
    return out


def _moment(value: Any, errors: dict[str, list[str]]) -> dt.datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        moment: dt.datetime | None = value
    else:
        try:
            moment = parse_datetime(str(value))
        except ValueError:  # well formed but not a moment, e.g. 12:99
            moment = None
    if moment is None or timezone.is_naive(moment) or utc_offset_problem(moment):
        errors["send_at"] = ["an ISO 8601 instant with a UTC offset"]
        return None
    return moment


def _apply(broadcast: Broadcast, data: dict[str, Any]) -> list[dict[str, Any]] | None:
    """Copy `data` onto the broadcast, collecting every problem by field. Returns the
    parsed variants (None: leave them as they are)."""
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise field_errors({key: ["unknown field"] for key in unknown})
    errors: dict[str, list[str]] = {}
    workspace = broadcast.workspace
    for name in ("name", "channel", "schedule", "send_at", "local_date", "local_time"):
        # Text or null: an object, a list or a number is neither a value nor "no value".
        if name in data and not isinstance(data[name], str | dt.date | dt.time | None):
            errors[name] = ["must be a string"]
    if "name" in data and "name" not in errors:
        broadcast.name = str(data["name"] or "").strip()
    if "channel" in data and "channel" not in errors:
        broadcast.channel = str(data["channel"] or "")
    if "template_id" in data:
        template_id = _int(data["template_id"], "template_id", errors, low=1)
        template = (
            Template.objects.filter(workspace=workspace, pk=template_id).first()
            if template_id
            else None
        )
        if template is None:
            errors.setdefault("template_id", ["no such template"])
        else:
            broadcast.template = template
    for field in ID_LISTS:
        if field in data:
            setattr(broadcast, field, _ids(data[field], field, errors))
    if "schedule" in data and "schedule" not in errors:
        broadcast.schedule = str(data["schedule"] or "")
    if "send_at" in data and "send_at" not in errors:
        broadcast.send_at = _moment(data["send_at"], errors)
    if "local_date" in data and "local_date" not in errors:
        raw = data["local_date"]
        try:
            broadcast.local_date = (
                raw if isinstance(raw, dt.date) else parse_date(str(raw)) if raw else None
            )
        except ValueError:  # well formed but not a day, e.g. 2026-02-30
            broadcast.local_date = None
        if raw and broadcast.local_date is None:
            errors["local_date"] = ["a date, YYYY-MM-DD"]
    if "local_time" in data and "local_time" not in errors:
        raw = data["local_time"]
        try:
            broadcast.local_time = (
                raw if isinstance(raw, dt.time) else parse_time(str(raw)) if raw else None
            )
        except ValueError:  # well formed but not a time, e.g. 25:00
            broadcast.local_time = None
        if raw and broadcast.local_time is None:
            errors["local_time"] = ["a time, HH:MM"]
    if "throttle_per_hour" in data:
        broadcast.throttle_per_hour = _int(
            data["throttle_per_hour"], "throttle_per_hour", errors, low=1
        )
    if "test_pool_percent" in data:
        broadcast.test_pool_percent = (
            _int(data["test_pool_percent"], "test_pool_percent", errors) or 0
        )
    if "winner_wait_hours" in data:
        wait = _int(data["winner_wait_hours"], "winner_wait_hours", errors, low=1)
        broadcast.winner_wait_hours = wait or broadcast.winner_wait_hours
    variants = _variants(workspace, data["variants"], errors) if "variants" in data else None
    errors.update(_errors(broadcast, variants, errors))
    if errors:
        raise field_errors(errors)
    if variants:
        default = next(v for v in variants if v["is_default"])
        broadcast.template = default["template"]
    return variants


def _variants(workspace: Workspace, raw: Any, errors: dict[str, list[str]]) -> list[dict[str, Any]]:
    if raw in (None, ""):
        return []
    if not isinstance(raw, list):
        errors["variants"] = ["a list of {label, template_id, weight, is_default, best_time}"]
        return []
    parsed: list[dict[str, Any]] = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            errors["variants"] = [f"{index}: an object"]
            return []
        label = str(item.get("label") or chr(ord("A") + index))[:20]
        template_id = _int(item.get("template_id"), "variants", errors, low=1)
        template = (
            Template.objects.filter(workspace=workspace, pk=template_id).first()
            if template_id
            else None
        )
        if template is None:
            errors["variants"] = [f"{label}: no such template"]
            return []
        weight = _int(item.get("weight", 1), "variants", errors, low=1)
        if weight is None:
            errors["variants"] = [f"{label}: weight must be a whole number of at least 1"]
            return []
        parsed.append(
            {
                "label": label,
                "template": template,
                "weight": weight,
                "is_default": bool(item.get("is_default")),
                "best_time": bool(item.get("best_time")),
            }
        )
    return parsed


def _errors(
    broadcast: Broadcast,
    variants: list[dict[str, Any]] | None,
    found: dict[str, list[str]],
) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not broadcast.name:
        errors["name"] = ["must not be blank"]
    if broadcast.channel not in Channel.values:
        errors["channel"] = [f"one of {', '.join(Channel.values)}"]
    template = broadcast.template if broadcast.template_id else None
    if template is None and "template_id" not in found and not variants:
        errors["template_id"] = ["is required"]
    elif template is not None and template.channel != broadcast.channel:
        errors["template_id"] = [f"a {broadcast.channel} template"]
    if broadcast.schedule not in ScheduleKind.values:
        errors["schedule"] = [f"one of {', '.join(ScheduleKind.values)}"]
    if broadcast.test_pool_percent > 100:
        errors["test_pool_percent"] = ["0-100"]
    if variants:
        labels = [v["label"] for v in variants]
        if len(variants) < 2:
            errors["variants"] = ["an A/B test needs at least two variants"]
        elif len(set(labels)) != len(labels):
            errors["variants"] = ["labels must differ"]
        elif sum(1 for v in variants if v["is_default"]) != 1:
            errors["variants"] = ["exactly one variant is the default"]
        elif any(v["template"].channel != broadcast.channel for v in variants):
            errors["variants"] = [f"every variant needs a {broadcast.channel} template"]
        elif broadcast.schedule == ScheduleKind.BEST and any(v["best_time"] for v in variants):
            errors["variants"] = [
                "best_time on a variant tests it against the schedule; "
                "with schedule best every variant already goes at the best time"
            ]
    return errors


def _audience_id_errors(
    workspace: Workspace, ids: Mapping[str, Sequence[int]]
) -> dict[str, list[str]]:
    """Ids that are not this workspace's segments or stages (another workspace's ids
    are as unknown here as ids that never existed)."""
    errors: dict[str, list[str]] = {}
    for field, model in (
        ("include_segment_ids", Segment),
        ("exclude_segment_ids", Segment),
        ("include_stage_ids", Stage),
        ("exclude_stage_ids", Stage),
    ):
        wanted = set(ids.get(field) or ())
        if not wanted:
            continue
        found = set(
            model.objects.filter(workspace=workspace, pk__in=wanted).values_list("pk", flat=True)
        )
        if wanted - found:
            errors[field] = [f"no such id: {', '.join(map(str, sorted(wanted - found)))}"]
    return errors


def _check_audience_ids(broadcast: Broadcast) -> None:
    errors = _audience_id_errors(
        broadcast.workspace, {field: getattr(broadcast, field) for field in ID_LISTS}
    )
    if errors:
        raise field_errors(errors)


def audience_validate(*, workspace: Workspace, data: Mapping[str, Any]) -> Audience:
    """An audience as a request states it (channel and the four id lists), checked as
    broadcast_create checks a broadcast's: the same parsing of the lists and the same
    400 naming each field with an unknown id. The audience-count preview uses it, so a
    preview and a create never disagree about the same ids."""
    errors: dict[str, list[str]] = {}
    channel = data.get("channel")
    if channel not in Channel.values:
        errors["channel"] = [f"one of {', '.join(Channel.values)}"]
    ids = {field: _ids(data.get(field), field, errors) for field in ID_LISTS}
    if errors:
        raise field_errors(errors)
    errors = _audience_id_errors(workspace, ids)
    if errors:
        raise field_errors(errors)
    return Audience(channel=str(channel), **ids)


def _save_variants(broadcast: Broadcast, variants: list[dict[str, Any]] | None) -> None:
    if variants is None:
        return
    broadcast.variants.all().delete()
    BroadcastVariant.objects.bulk_create(
        [BroadcastVariant(broadcast=broadcast, **v) for v in variants]
    )


@transaction.atomic
def broadcast_create(*, workspace: Workspace, data: dict[str, Any], actor: Actor) -> Broadcast:
    broadcast = Broadcast(workspace=workspace, schedule=ScheduleKind.NOW)
    variants = _apply(broadcast, data)
    _check_audience_ids(broadcast)
    # Uniqueness is the database's to say (IntegrityError below → 409).
    broadcast.full_clean(
        exclude=["template", "winner_variant"], validate_unique=False, validate_constraints=False
    )
    try:
        with transaction.atomic():
            broadcast.save()
    except IntegrityError:
        raise Conflict("A broadcast with this name exists.", fields={"name": ["taken"]}) from None
    _save_variants(broadcast, variants)
    audit_record(
        workspace=workspace,
        action="broadcast.created",
        actor=actor,
        object_type="broadcast",
        object_id=broadcast.pk,
    )
    return broadcast


@transaction.atomic
def broadcast_update(*, broadcast: Broadcast, data: dict[str, Any], actor: Actor) -> Broadcast:
    """Edit a draft. A scheduled broadcast is paused or cancelled, not edited: its
    recipients may already be in the outbox."""
    locked = Broadcast.objects.select_for_update().get(pk=broadcast.pk)
    if locked.status != BroadcastStatus.DRAFT:
        raise Conflict(f"Only a draft can be edited; this broadcast is {locked.status}.")
    variants = _apply(broadcast, data)
    _check_audience_ids(broadcast)
    broadcast.updated_at = timezone.now()
    # Uniqueness is the database's to say (IntegrityError below → 409).
    broadcast.full_clean(
        exclude=["template", "winner_variant"], validate_unique=False, validate_constraints=False
    )
    changed = [f for f in data if f != "variants"]
    update_fields = [f for f in changed if f != "template_id"] + ["template", "updated_at"]
    try:
        with transaction.atomic():
            broadcast.save(update_fields=update_fields)
    except IntegrityError:
        raise Conflict("A broadcast with this name exists.", fields={"name": ["taken"]}) from None
    _save_variants(broadcast, variants)
    audit_record(
        workspace=broadcast.workspace,
        action="broadcast.updated",
        actor=actor,
        object_type="broadcast",
        object_id=broadcast.pk,
        details={"fields": sorted(data)},
    )
    return broadcast


def _schedule_errors(broadcast: Broadcast) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not broadcast.include_segment_ids and not broadcast.include_stage_ids:
        errors["include_segment_ids"] = ["include at least one segment or stage"]
    if broadcast.schedule == ScheduleKind.AT and broadcast.send_at is None:
        errors["send_at"] = ["required to send at a time"]
    if broadcast.schedule == ScheduleKind.LOCAL:
        if broadcast.local_date is None:
            errors["local_date"] = ["required to send at a local time"]
        if broadcast.local_time is None:
            errors["local_time"] = ["required to send at a local time"]
    if broadcast.is_ab_test and broadcast.variants.count() < 2:
        errors["test_pool_percent"] = ["a test pool needs at least two variants"]
    return errors


def _transition(broadcast: Broadcast, old: set[BroadcastStatus], new: str, **fields: Any) -> bool:
    """The conditional UPDATE: True only for the one writer that moved it."""
    now = timezone.now()
    changed = Broadcast.objects.filter(pk=broadcast.pk, status__in=old).update(
        status=new, updated_at=now, **fields
    )
    if changed:
        broadcast.refresh_from_db()
    return changed == 1


def broadcast_schedule(*, broadcast: Broadcast, actor: Actor) -> Broadcast:
    """Draft → scheduled; a worker then puts every recipient into the outbox."""

    errors = _schedule_errors(broadcast)
    if errors:
        # The request is fine; the draft is not ready yet (a state, like "not a draft").
        first, reasons = next(iter(errors.items()))
        raise Conflict(f"The draft is not ready: {first} {reasons[0]}.", fields=errors)
    now = timezone.now()
    with transaction.atomic():
        extra: dict[str, Any] = {"scheduled_at": now, "materialise_heartbeat": now}
        # `best` without a time: the 24 h window starts now, and stays put if the
        # materialisation is re-run later.
        if broadcast.schedule == ScheduleKind.NOW or (
            broadcast.schedule == ScheduleKind.BEST and broadcast.send_at is None
        ):
            extra["send_at"] = now
        if not _transition(broadcast, {BroadcastStatus.DRAFT}, BroadcastStatus.SCHEDULED, **extra):
            raise Conflict(f"Only a draft can be scheduled; this broadcast is {broadcast.status}.")
        audit_record(
            workspace=broadcast.workspace,
            action="broadcast.scheduled",
            actor=actor,
            object_type="broadcast",
            object_id=broadcast.pk,
            details={"schedule": broadcast.schedule},
        )
        enqueue_on_commit("campaigns.broadcast_materialise", broadcast.pk)
    return broadcast


@transaction.atomic
def broadcast_pause(*, broadcast: Broadcast, actor: Actor) -> Broadcast:
    """Hold every message of the broadcast not yet claimed by the dispatcher. Rows a
    worker already holds (`sending`) finish; held rows are never claimed."""
    Broadcast.objects.select_for_update().get(pk=broadcast.pk)
    if not _transition(
        broadcast,
        {BroadcastStatus.SCHEDULED, BroadcastStatus.SENDING},
        BroadcastStatus.PAUSED,
    ):
        raise Conflict(
            f"Only a scheduled or sending broadcast can be paused; it is {broadcast.status}."
        )
    held = broadcast.messages.filter(status=MessageStatus.SCHEDULED).update(
        status=MessageStatus.HELD
    )
    audit_record(
        workspace=broadcast.workspace,
        action="broadcast.paused",
        actor=actor,
        object_type="broadcast",
        object_id=broadcast.pk,
        details={"held": held},
    )
    return broadcast


def _release_held(broadcast: Broadcast) -> int:
    """Held → scheduled. Only held rows change, so a message sent before the pause is
    never sent again. With a throttle, the released rows are spaced again from now
    (else everything overdue would go out at once)."""
    interval = 3600 / broadcast.throttle_per_hour if broadcast.throttle_per_hour else 0
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE campaigns_message AS m
            SET status = 'scheduled',
                due_at = CASE WHEN %s > 0
                    THEN GREATEST(m.due_at, now() + (o.rn - 1) * make_interval(secs => %s))
                    ELSE m.due_at END
            FROM (
                SELECT id, row_number() OVER (ORDER BY due_at, id) AS rn
                FROM campaigns_message
                WHERE origin_kind = 'broadcast' AND origin_id = %s AND status = 'held'
            ) AS o
            WHERE m.id = o.id AND m.status = 'held'
            """,
            [interval, interval, broadcast.pk],
        )
        return cursor.rowcount


@transaction.atomic
def broadcast_resume(*, broadcast: Broadcast, actor: Actor) -> Broadcast:
    Broadcast.objects.select_for_update().get(pk=broadcast.pk)
    broadcast.refresh_from_db()
    started = broadcast.first_due_at is not None and broadcast.first_due_at <= timezone.now()
    new = BroadcastStatus.SENDING if started else BroadcastStatus.SCHEDULED
    if not _transition(broadcast, {BroadcastStatus.PAUSED}, new):
        raise Conflict(f"Only a paused broadcast can be resumed; it is {broadcast.status}.")
    released = _release_held(broadcast)
    audit_record(
        workspace=broadcast.workspace,
        action="broadcast.resumed",
        actor=actor,
        object_type="broadcast",
        object_id=broadcast.pk,
        details={"released": released},
    )
    return broadcast


@transaction.atomic
def broadcast_cancel(*, broadcast: Broadcast, actor: Actor) -> Broadcast:
    """Stop for good: every message not yet claimed is suppressed with the reason."""
    Broadcast.objects.select_for_update().get(pk=broadcast.pk)
    active = {
        BroadcastStatus.DRAFT,
        BroadcastStatus.SCHEDULED,
        BroadcastStatus.SENDING,
        BroadcastStatus.PAUSED,
    }
    if not _transition(broadcast, active, BroadcastStatus.CANCELLED, finished_at=timezone.now()):
        raise Conflict(f"This broadcast is already {broadcast.status}.")
    cancelled = broadcast.messages.filter(
        status__in=[MessageStatus.SCHEDULED, MessageStatus.HELD]
    ).update(status=MessageStatus.SUPPRESSED, status_reason=CANCELLED_REASON)
    audit_record(
        workspace=broadcast.workspace,
        action="broadcast.cancelled",
        actor=actor,
        object_type="broadcast",
        object_id=broadcast.pk,
        details={"cancelled_messages": cancelled},
    )
    return broadcast
