"""Reads of broadcasts shared by the dashboard and the API."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from campaigns.models import Broadcast, MessageStatus
from workspaces.models import Workspace

SENT = [MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.BOUNCED]


def with_numbers(queryset: QuerySet[Broadcast]) -> QuerySet[Broadcast]:
    """Headline numbers from the outbox: sent, opened, clicked (one grouped query)."""
    return queryset.annotate(
        n_messages=Count("messages"),
        n_sent=Count("messages", filter=Q(messages__sent_at__isnull=False)),
        n_opened=Count("messages", filter=Q(messages__opened_at__isnull=False)),
        n_clicked=Count("messages", filter=Q(messages__clicked_at__isnull=False)),
        n_suppressed=Count("messages", filter=Q(messages__status=MessageStatus.SUPPRESSED)),
        n_failed=Count("messages", filter=Q(messages__status=MessageStatus.FAILED)),
    )


def broadcasts_for_workspace(*, workspace: Workspace) -> QuerySet[Broadcast]:
    return with_numbers(
        Broadcast.objects.filter(workspace=workspace).select_related("template", "winner_variant")
    ).order_by("-id")


def broadcast_get(*, workspace: Workspace, broadcast_id: object) -> Broadcast | None:
    try:
        pk = int(str(broadcast_id))
    except ValueError:
        return None
    return (
        with_numbers(Broadcast.objects.filter(workspace=workspace, pk=pk))
        .select_related("workspace", "template", "winner_variant")
        .prefetch_related("variants")
        .first()
    )
