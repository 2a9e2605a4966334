"""Writes to broadcasts: create and edit (drafts only), schedule, pause, resume,
cancel. Each state change is a conditional UPDATE that only one writer can win.

Putting the recipients into the outbox (materialisation), moving a broadcast from
scheduled to sending to sent, and choosing an A/B winner are in
campaigns/broadcasts/delivery.py."""

from __future__ import annotations

from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from campaigns.broadcasts.definition import apply_data, check_audience_ids, schedule_errors
from campaigns.broadcasts.delivery import broadcast_status_lock
from campaigns.models import Broadcast, BroadcastStatus, BroadcastVariant, ScheduleKind
from config.errors import Conflict, field_errors
from config.queue import enqueue_on_commit
from messaging.models import MessageStatus
from surveys.hooks import Sent
from workspaces.models import Workspace
from workspaces.services import Actor, audit_record, save_or_conflict

CANCELLED_REASON = "the broadcast was cancelled"


def _save_variants(broadcast: Broadcast, variants: list[dict[str, Any]] | None) -> None:
    if variants is None:
        return
    broadcast.variants.all().delete()
    BroadcastVariant.objects.bulk_create(
        [
            BroadcastVariant(workspace_id=broadcast.workspace_id, broadcast=broadcast, **v)
            for v in variants
        ]
    )


@transaction.atomic
def broadcast_create(*, workspace: Workspace, data: dict[str, Any], actor: Actor) -> Broadcast:
    broadcast = Broadcast(workspace=workspace, schedule=ScheduleKind.NOW)
    variants = apply_data(broadcast, data)
    check_audience_ids(broadcast)
    # Uniqueness is the database's to say (IntegrityError below → 409).
    broadcast.full_clean(
        exclude=["template", "winner_variant"], validate_unique=False, validate_constraints=False
    )
    save_or_conflict(broadcast, "A broadcast with this name exists.")
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
    variants = apply_data(broadcast, data)
    check_audience_ids(broadcast)
    broadcast.updated_at = timezone.now()
    # Uniqueness is the database's to say (IntegrityError below → 409).
    broadcast.full_clean(
        exclude=["template", "winner_variant"], validate_unique=False, validate_constraints=False
    )
    changed = [f for f in data if f != "variants"]
    update_fields = [f for f in changed if f != "template_id"] + ["template", "updated_at"]
    save_or_conflict(broadcast, "A broadcast with this name exists.", update_fields=update_fields)
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

    errors = schedule_errors(broadcast)
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
    broadcast_status_lock(broadcast.pk)  # waits for the chunks being inserted
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
    broadcast_status_lock(broadcast.pk)  # waits for the chunks being inserted
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
    broadcast_status_lock(broadcast.pk)  # waits for the chunks being inserted
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


@transaction.atomic
def broadcast_send_now(
    *,
    workspace: Workspace,
    name: str,
    channel: str,
    template_id: int,
    include_segment_ids: Any,
    include_stage_ids: Any,
    actor: Actor,
) -> Sent:
    """A broadcast of one template to segments and stages, sent now: how a survey
    reaches an audience (registered with surveys.hooks in CampaignsConfig.ready())."""
    broadcast = broadcast_create(
        workspace=workspace,
        data={
            "name": name,
            "channel": channel,
            "template_id": template_id,
            "schedule": "now",
            "include_segment_ids": include_segment_ids,
            "include_stage_ids": include_stage_ids,
        },
        actor=actor,
    )
    if not broadcast.include_segment_ids and not broadcast.include_stage_ids:
        raise field_errors({"include_segment_ids": ["include at least one segment or stage"]})
    broadcast_schedule(broadcast=broadcast, actor=actor)
    return Sent(broadcast_id=broadcast.pk, status=broadcast.status)
