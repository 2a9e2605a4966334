"""A scheduled broadcast on its way out: recipients into the outbox, scheduled →
sending → sent; the A/B winner is judged in campaigns/broadcasts/experiment.py.

Materialisation (`broadcast_materialise`, a Celery task, safe to run twice):

1. Resolve the audience in SQL (campaigns/broadcasts/audience.py) and read the contact
   ids in a deterministic hash order (md5 of the broadcast id and contact id).
2. Cut the recipients of this phase: with variants and a test pool, the first
   `test_pool_percent` of that order, split by weight (cut points rounded, so each
   arm is exact to within one contact); with variants and no pool, everyone, split;
   after a winner is chosen, everyone (those already in the outbox are skipped).
3. Compute each due time: the instant (`now`, `at`); the local wall time in the
   contact's zone (`local`; its time zone, else its phone region's single zone, else
   the workspace's); or the contact's best hour within 24 h of `send_at`
   (`best`, campaigns/send_time.py, also for an A/B arm with `best_time`); an A/B arm
   with its own `send_at` at that instant; never earlier than now; then spread by the
   throttle. The remainder after an A/B winner goes now (at its best time within 24 h
   when the winner is a best-time arm; at the winning arm's time of day when the arms
   had times of their own, see `remainder_time`). A variant's subject line goes on
   the message row and replaces the template's when it is rendered.
4. Insert in chunks (`BROADCAST_CHUNK`) with ON CONFLICT DO NOTHING on the idempotency
   key `broadcast:<id>:<contact id>`: a contact in several included segments, or a
   second run after a crash, never makes a second message. Each chunk holds the
   broadcast's row lock, so a pause (rows inserted `held`) or a cancel (stop) is seen
   between chunks.
5. Record the recipient count, the first due time and, for a test, when to judge it.
"""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Exists, Min, OuterRef, Q
from django.utils import timezone

from campaigns.broadcasts.audience import (
    Audience,
    audience_contacts,
    hash_ordered,
    split_counts,
    throttled,
)
from campaigns.broadcasts.experiment import broadcast_decide_winner
from campaigns.models import Broadcast, BroadcastStatus, BroadcastVariant, ScheduleKind
from campaigns.send_time import send_times_for
from config.queue import publish
from contacts.zones import contact_zone, local_instant
from messaging.models import Message, MessageStatus, Origin, Template

logger = logging.getLogger(__name__)

ACTIVE = (BroadcastStatus.SCHEDULED, BroadcastStatus.SENDING, BroadcastStatus.PAUSED)


def broadcast_audience(broadcast: Broadcast) -> Audience:
    return Audience(
        channel=broadcast.channel,
        include_segment_ids=broadcast.include_segment_ids,
        include_stage_ids=broadcast.include_stage_ids,
        exclude_segment_ids=broadcast.exclude_segment_ids,
        exclude_stage_ids=broadcast.exclude_stage_ids,
    )


@dataclass(frozen=True)
class Planned:
    contact_id: int
    due_at: dt.datetime
    template: Template
    variant_id: int | None
    # A variant's own subject line (raw, personalised when the message is rendered).
    subject: str = ""


def _base_due(broadcast: Broadcast, time_zone: str, now: dt.datetime) -> dt.datetime:
    if broadcast.schedule == ScheduleKind.LOCAL:
        assert broadcast.local_date is not None and broadcast.local_time is not None
        when = local_instant(
            broadcast.local_date, broadcast.local_time, time_zone, broadcast.workspace.time_zone
        )
    else:
        when = broadcast.send_at or now
    # A local time already past where the contact is (or an instant in the past) is
    # sent as soon as possible rather than dropped.
    return max(when, now)


@dataclass(frozen=True)
class Arm:
    template: Template
    variant_id: int | None
    # Sent at each contact's best time rather than by the broadcast's schedule.
    best_time: bool = False
    subject: str = ""
    # Sent at this instant rather than by the broadcast's schedule.
    send_at: dt.datetime | None = None


def _arm(variant: BroadcastVariant, send_at: dt.datetime | None) -> Arm:
    return Arm(variant.template, variant.pk, variant.best_time, variant.subject, send_at)


def remainder_time(
    broadcast: Broadcast, variants: list[BroadcastVariant], winner: BroadcastVariant
) -> dt.datetime | None:
    """When the rest of the audience gets the winner of a test of send time: the
    winning arm's time of day on the workspace's clock, at its first occurrence after
    the winner was due (so a re-run after a crash picks the same instant). None when
    no arm has a time of its own: the rest go at once."""
    chosen = winner.send_at or broadcast.send_at
    if chosen is None or not any(v.send_at for v in variants):
        return None
    zone = zoneinfo.ZoneInfo(broadcast.workspace.time_zone)
    after = broadcast.winner_due_at or timezone.now()
    wall = chosen.astimezone(zone).timetz().replace(tzinfo=None)
    day = after.astimezone(zone).date()
    while True:  # combined per day, so a DST change keeps the wall-clock time
        candidate = dt.datetime.combine(day, wall, tzinfo=zone)
        if candidate > after:
            return candidate
        day += dt.timedelta(days=1)


def _assignments(broadcast: Broadcast, count: int) -> tuple[list[Arm], bool]:
    """The arm of each of the first `count` positions of the hash order, and whether
    this is the test phase (a remainder will follow)."""
    variants = list(broadcast.variants.select_related("template").order_by("label"))
    if broadcast.winner_variant_id is not None:
        winner = next(v for v in variants if v.pk == broadcast.winner_variant_id)
        return [_arm(winner, remainder_time(broadcast, variants, winner))] * count, False
    if not variants:
        return [Arm(broadcast.template, None)] * count, False
    testing = broadcast.is_ab_test and broadcast.test_pool_percent < 100
    pool = (count * broadcast.test_pool_percent * 2 + 100) // 200 if testing else count
    out: list[Arm] = []
    for variant, share in zip(
        variants, split_counts(pool, [v.weight for v in variants]), strict=True
    ):
        out.extend([_arm(variant, variant.send_at)] * share)
    return out, testing


def broadcast_plan(broadcast: Broadcast, *, now: dt.datetime | None = None) -> list[Planned]:
    """Steps 1-3 of the module docstring: who gets what, when (nothing is written)."""
    now = now or timezone.now()
    workspace = broadcast.workspace
    contacts = hash_ordered(
        audience_contacts(workspace=workspace, audience=broadcast_audience(broadcast)),
        salt=f"broadcast:{broadcast.pk}",
    )
    rows = [
        (pk, contact_zone(zone, phone, workspace.time_zone))
        for pk, zone, phone in contacts.values_list("pk", "time_zone", "phone")
    ]
    assigned, _ = _assignments(broadcast, len(rows))
    winner_phase = broadcast.winner_variant_id is not None
    # Best time: within 24 h of the broadcast's time, or of the winner's decision.
    best_after = now if winner_phase else max(broadcast.send_at or now, now)
    best_for = {
        contact_id
        for (contact_id, _), arm in zip(rows, assigned, strict=False)
        if broadcast.schedule == ScheduleKind.BEST or arm.best_time
    }
    best = send_times_for(
        workspace=workspace,
        zoned=[row for row in rows if row[0] in best_for],
        after=best_after,
    )
    due_by_zone: dict[str, dt.datetime] = {}
    planned: list[tuple[dt.datetime, int, int, Arm]] = []
    for position, ((contact_id, zone), arm) in enumerate(zip(rows, assigned, strict=False)):
        if contact_id in best:
            due = best[contact_id]
        elif arm.send_at is not None:
            due = max(arm.send_at, now)
        elif winner_phase:
            due = now
        else:
            if zone not in due_by_zone:
                due_by_zone[zone] = _base_due(broadcast, zone, now)
            due = due_by_zone[zone]
        planned.append((due, position, contact_id, arm))
    planned.sort(key=lambda p: (p[0], p[1]))
    dues = throttled([p[0] for p in planned], broadcast.throttle_per_hour)
    return [
        Planned(
            contact_id=p[2],
            due_at=due,
            template=p[3].template,
            variant_id=p[3].variant_id,
            subject=p[3].subject,
        )
        for p, due in zip(planned, dues, strict=True)
    ]


def _insert_chunk(broadcast_id: int, chunk: list[Planned]) -> bool:
    """Insert one chunk under the broadcast's row lock; False once it is cancelled."""
    with transaction.atomic():
        broadcast = Broadcast.objects.select_for_update().get(pk=broadcast_id)
        if broadcast.status not in ACTIVE:
            return False
        status = (
            MessageStatus.HELD
            if broadcast.status == BroadcastStatus.PAUSED
            else MessageStatus.SCHEDULED
        )
        Message.objects.bulk_create(
            [
                Message(
                    workspace_id=broadcast.workspace_id,
                    contact_id=p.contact_id,
                    channel=broadcast.channel,
                    template=p.template,
                    idempotency_key=broadcast.key_for(p.contact_id),
                    due_at=p.due_at,
                    status=status,
                    origin_kind=Origin.BROADCAST,
                    origin_id=broadcast_id,
                    variant_id=p.variant_id,
                    subject=p.subject,
                )
                for p in chunk
            ],
            ignore_conflicts=True,
        )
        Broadcast.objects.filter(pk=broadcast_id).update(materialise_heartbeat=timezone.now())
    return True


def broadcast_materialise(*, broadcast_id: int) -> int:
    """Put the recipients of the current phase into the outbox; returns how many
    messages the broadcast has afterwards. See the module docstring."""
    broadcast = (
        Broadcast.objects.select_related("workspace", "template").filter(pk=broadcast_id).first()
    )
    if broadcast is None or broadcast.status not in ACTIVE or broadcast.materialised_at:
        return 0
    plan = broadcast_plan(broadcast)
    _, testing = _assignments(broadcast, 0)
    chunk_size = settings.CAMPAIGNS_BROADCAST_CHUNK
    for start in range(0, len(plan), chunk_size):
        if not _insert_chunk(broadcast_id, plan[start : start + chunk_size]):
            logger.info("campaigns.broadcast_materialise_stopped broadcast=%s", broadcast_id)
            return 0
    with transaction.atomic():
        broadcast = Broadcast.objects.select_for_update().get(pk=broadcast_id)
        if broadcast.status not in ACTIVE:
            return 0
        messages = broadcast.messages
        figures = messages.aggregate(total=Count("id"), first=Min("due_at"))
        fields: dict[str, object] = {
            "recipient_count": figures["total"],
            "materialised_at": timezone.now(),
        }
        if broadcast.first_due_at is None:
            fields["first_due_at"] = figures["first"] or timezone.now()
        if testing and plan:
            last_test_due = max(p.due_at for p in plan)
            fields["winner_due_at"] = last_test_due + dt.timedelta(
                hours=broadcast.winner_wait_hours
            )
        Broadcast.objects.filter(pk=broadcast_id).update(**fields)
    logger.info(
        "campaigns.broadcast_materialised broadcast=%s messages=%s", broadcast_id, figures["total"]
    )
    return int(figures["total"])


# --- progress -----------------------------------------------------------------------


def broadcasts_advance() -> dict[str, int]:
    """Beat, every few seconds: restart stalled materialisations, move scheduled →
    sending when the first message is due, judge A/B tests that have waited, and mark
    broadcasts sent once every message is sent, failed or suppressed."""

    now = timezone.now()
    done = {"restarted": 0, "sending": 0, "judged": 0, "sent": 0}
    stale = now - dt.timedelta(seconds=settings.CAMPAIGNS_MATERIALISE_STALL_SECONDS)
    for broadcast_id in Broadcast.objects.filter(
        Q(materialise_heartbeat__isnull=True) | Q(materialise_heartbeat__lt=stale),
        status__in=ACTIVE,
        materialised_at__isnull=True,
    ).values_list("pk", flat=True):
        taken = Broadcast.objects.filter(
            Q(materialise_heartbeat__isnull=True) | Q(materialise_heartbeat__lt=stale),
            pk=broadcast_id,
        ).update(materialise_heartbeat=now)
        if taken:
            publish("campaigns.broadcast_materialise", broadcast_id)
            done["restarted"] += 1
    done["sending"] = Broadcast.objects.filter(
        status=BroadcastStatus.SCHEDULED, materialised_at__isnull=False, first_due_at__lte=now
    ).update(status=BroadcastStatus.SENDING, updated_at=now)
    for broadcast_id in Broadcast.objects.filter(
        status=BroadcastStatus.SENDING,
        winner_variant__isnull=True,
        winner_due_at__lte=now,
        test_pool_percent__gt=0,
    ).values_list("pk", flat=True):
        if broadcast_decide_winner(broadcast_id=broadcast_id):
            done["judged"] += 1
    unfinished = Message.objects.filter(
        origin_kind=Origin.BROADCAST,
        origin_id=OuterRef("pk"),
        status__in=[MessageStatus.SCHEDULED, MessageStatus.SENDING, MessageStatus.HELD],
    )
    done["sent"] = (
        Broadcast.objects.filter(status=BroadcastStatus.SENDING, materialised_at__isnull=False)
        .filter(Q(winner_due_at__isnull=True) | Q(winner_variant__isnull=False))
        .exclude(Exists(unfinished))
        .update(status=BroadcastStatus.SENT, finished_at=now, updated_at=now)
    )
    return done
