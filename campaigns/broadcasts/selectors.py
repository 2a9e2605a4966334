"""Reads of broadcasts shared by the dashboard and the API."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q

from campaigns.broadcasts.experiment import METRIC_WORDS, arm_results, judge, p_value
from campaigns.models import Broadcast, BroadcastStatus, WinnerMetric
from campaigns.significance import SIGNIFICANCE
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
    """The A/B test as the report shows it: per variant, the broadcast's metric over
    the test pool (the messages made before the winner was due; with a pool of 100%,
    every message), the winner (or, before the decision, the leader), its lift over
    the default variant, and the confidence: 1 - the two-sided p-value of the test the
    decision uses (two-proportion z-test for rates, Welch's t-test for revenue per
    recipient), of the winner against the default, or of the best challenger when the
    default won. Figures are recomputed now, so conversions that arrive after the
    decision show; `reason` keeps what the decision saw."""
    if broadcast.variants.count() < 2 or broadcast.status == BroadcastStatus.DRAFT:
        return None
    metric = broadcast.winner_metric
    results = arm_results(broadcast, until=broadcast.winner_due_at)
    judgement = judge(results, metric)
    winner = broadcast.winner_variant
    default = judgement.default
    if winner is not None and winner.pk != default.variant.pk:
        chosen = next(r for r in results if r.variant.pk == winner.pk)
        challenger = chosen
    else:
        chosen = next((r for r in results if winner and r.variant.pk == winner.pk), judgement.best)
        challenger = max(
            (r for r in results if r is not default),
            key=lambda r: r.value(metric) or 0.0,
        )
    p = p_value(challenger, default, metric)
    base, value = default.value(metric), chosen.value(metric)
    return {
        "metric": metric,
        "metric_words": METRIC_WORDS[WinnerMetric(metric)],
        "test": "Welch's t-test" if metric == WinnerMetric.REVENUE else "two-proportion z-test",
        "arms": [
            {
                "label": r.variant.label,
                "is_default": r.variant.is_default,
                "subject": r.variant.subject,
                "send_at": r.variant.send_at,
                "best_time": r.variant.best_time,
                "sent": r.sent,
                "opened": r.opened,
                "clicked": r.clicked,
                "converted": r.converted,
                "revenue": r.revenue,
                "value": r.value(metric),
            }
            for r in results
        ],
        "decided": winner is not None,
        "default": default.variant.label,
        "challenger": challenger.variant.label,
        "winner": chosen.variant.label,
        "reason": broadcast.winner_reason,
        "confidence": 1 - p,
        "p_value": p,
        "lift": (value - base) / base if base and value is not None else None,
        # The lift is relative: with a default at 0 the two values say it instead.
        "value": value,
        "base": base,
        "significant": p < SIGNIFICANCE,
        "pool_only": broadcast.winner_due_at is not None,
    }
