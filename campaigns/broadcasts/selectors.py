"""Reads of broadcasts shared by the dashboard and the API."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q

from campaigns.broadcasts.delivery import SIGNIFICANCE, two_proportion_p_value
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


def broadcast_test_result(broadcast: Broadcast) -> dict[str, Any] | None:
    """The A/B test as it was judged: per variant, the click rate of the test pool (the
    messages made before the winner was due; the rest of the audience got the winner
    afterwards), the winner, its lift over the default variant and the confidence
    (1 - the two-sided p-value of the two-proportion z-test the decision used)."""
    variants = list(broadcast.variants.order_by("label"))
    if len(variants) < 2 or broadcast.winner_due_at is None:
        return None
    pool = broadcast.messages.filter(created_at__lte=broadcast.winner_due_at)
    counts: dict[int | None, dict[str, Any]] = {
        row["variant_id"]: dict(row)
        for row in pool.values("variant_id").annotate(
            sent=Count("id", filter=Q(sent_at__isnull=False)),
            clicked=Count("id", filter=Q(clicked_at__isnull=False)),
        )
    }
    arms: list[dict[str, Any]] = [
        {
            "label": v.label,
            "is_default": v.is_default,
            "sent": counts.get(v.pk, {}).get("sent", 0),
            "clicked": counts.get(v.pk, {}).get("clicked", 0),
        }
        for v in variants
    ]
    for arm in arms:
        arm["click_rate"] = arm["clicked"] / arm["sent"] if arm["sent"] else None
    winner = broadcast.winner_variant
    default = next((a for a in arms if a["is_default"]), arms[0])
    result: dict[str, Any] = {"arms": arms, "winner": winner.label if winner else None}
    if winner is None:
        return result
    won = next(a for a in arms if a["label"] == winner.label)
    challenger = (
        won
        if won is not default
        else max((a for a in arms if a is not default), key=lambda a: a["click_rate"] or 0.0)
    )
    p = two_proportion_p_value(
        challenger["clicked"], challenger["sent"], default["clicked"], default["sent"]
    )
    base = default["click_rate"]
    result |= {
        "reason": broadcast.winner_reason,
        "confidence": 1 - p,
        "lift": (won["click_rate"] - base) / base
        if base and won["click_rate"] is not None
        else None,
        "significant": p < SIGNIFICANCE,
    }
    return result
