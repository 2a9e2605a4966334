"""Reads of broadcasts shared by the dashboard and the API."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q

from campaigns.models import Broadcast
from messaging.models import Message, MessageStatus, Origin
from workspaces.models import Workspace

SENT = [MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.BOUNCED]

NUMBERS = {
    "n_messages": Count("id"),
    "n_sent": Count("id", filter=Q(sent_at__isnull=False)),
    "n_opened": Count("id", filter=Q(opened_at__isnull=False)),
    "n_clicked": Count("id", filter=Q(clicked_at__isnull=False)),
    "n_suppressed": Count("id", filter=Q(status=MessageStatus.SUPPRESSED)),
    "n_failed": Count("id", filter=Q(status=MessageStatus.FAILED)),
}


def with_numbers(broadcasts: list[Broadcast]) -> list[Broadcast]:
    """Headline numbers from the outbox (sent, opened, clicked…) set on each broadcast,
    from one grouped query over the broadcasts' messages."""
    rows = (
        Message.objects.filter(
            origin_kind=Origin.BROADCAST, origin_id__in=[b.pk for b in broadcasts]
        )
        .values("origin_id")
        .annotate(**NUMBERS)
    )
    numbers: dict[Any, Any] = {row["origin_id"]: row for row in rows}
    for broadcast in broadcasts:
        row = numbers.get(broadcast.pk, {})
        for name in NUMBERS:
            setattr(broadcast, name, row.get(name, 0))
    return broadcasts


def broadcasts_for_workspace(*, workspace: Workspace, limit: int) -> list[Broadcast]:
    """The workspace's newest `limit` broadcasts, with their numbers."""
    return with_numbers(
        list(
            Broadcast.objects.filter(workspace=workspace)
            .select_related("template", "winner_variant")
            .order_by("-id")[:limit]
        )
    )


def broadcast_get(*, workspace: Workspace, broadcast_id: object) -> Broadcast | None:
    try:
        pk = int(str(broadcast_id))
    except ValueError:
        return None
    broadcast = (
        Broadcast.objects.filter(workspace=workspace, pk=pk)
        .select_related("workspace", "template", "winner_variant")
        .prefetch_related("variants")
        .first()
    )
    return with_numbers([broadcast])[0] if broadcast else None
