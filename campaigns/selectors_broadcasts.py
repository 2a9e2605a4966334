"""Reads of broadcasts shared by the dashboard and the API."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from campaigns.models import Broadcast, MessageStatus
from campaigns.services.audience import Audience, audience_count
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


def audience_preview_count(
    *,
    workspace: Workspace,
    channel: str,
    include_segment_ids: list[int],
    include_stage_ids: list[int],
    exclude_segment_ids: list[int],
    exclude_stage_ids: list[int],
) -> int:
    """How many contacts an audience reaches now (distinct, with consent)."""
    return audience_count(
        workspace=workspace,
        audience=Audience(
            channel=channel,
            include_segment_ids=include_segment_ids,
            include_stage_ids=include_stage_ids,
            exclude_segment_ids=exclude_segment_ids,
            exclude_stage_ids=exclude_stage_ids,
        ),
    )
