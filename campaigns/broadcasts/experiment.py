"""A broadcast's A/B test judged: the figures of each arm over the test pool, the
winner on the broadcast's metric, and the decision beat takes after the wait.

The metric (`Broadcast.winner_metric`):

- opens, clicks: messages opened / clicked (human hits only) over messages sent;
- conversions: contacts who did the broadcast's conversion event (empty: one of the
  workspace's purchase events) within `conversion_window_days` after the message was
  sent, attributed last-touch (no later message reached the contact before the
  event), over messages sent — the definition of the campaign performance figures
  (analytics/figures/campaigns.py), which the tests hold this to;
- revenue: the revenue of those attributed events per recipient sent (a recipient who
  did not convert counts as 0).

Rates are compared with the two-proportion z-test, revenue per recipient with Welch's
t-test (campaigns/significance.py). The best arm wins if it beats the default arm at
p < 0.05; otherwise the default wins. The test pool is the broadcast's messages made
before the winner was due (the rest of the audience got the winner afterwards)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from campaigns.models import Broadcast, BroadcastStatus, BroadcastVariant, WinnerMetric
from campaigns.significance import SIGNIFICANCE, two_proportion_p_value, welch_p_value
from config.queue import enqueue_on_commit
from workspaces.services import SYSTEM, audit_record

# Per arm of the test pool: sent, opened, clicked, converted (contacts), and the sum
# and sum of squares of each converted contact's attributed revenue.
_ARMS_SQL = """
WITH pool AS (
    SELECT contact_id, variant_id, sent_at, opened_at, clicked_at FROM campaigns_message
    WHERE workspace_id = %(workspace)s AND origin_kind = 'broadcast'
      AND origin_id = %(broadcast)s AND NOT is_test AND created_at <= %(until)s
),
touched AS (  -- each conversion event once, with the message it is attributed to
    SELECT DISTINCT ON (e.id) e.contact_id, coalesce(e.revenue, 0) AS revenue
    FROM pool s
    JOIN contacts_event e ON e.contact_id = s.contact_id AND e.workspace_id = %(workspace)s
         AND e.name = ANY(%(names)s) AND e.occurred_at > s.sent_at
         AND e.occurred_at <= s.sent_at + %(window)s
    WHERE s.sent_at IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM campaigns_message later
        WHERE later.workspace_id = %(workspace)s AND later.contact_id = e.contact_id
          AND NOT later.is_test AND later.sent_at > s.sent_at AND later.sent_at < e.occurred_at)
    ORDER BY e.id, s.sent_at DESC
),
converted AS (
    SELECT contact_id, sum(revenue) AS revenue FROM touched GROUP BY contact_id
)
SELECT p.variant_id, count(p.sent_at), count(p.opened_at), count(p.clicked_at),
       count(c.contact_id), coalesce(sum(c.revenue), 0),
       coalesce(sum(c.revenue * c.revenue), 0)
FROM pool p LEFT JOIN converted c ON c.contact_id = p.contact_id
GROUP BY p.variant_id
"""

# What each metric counts, in words for the reason and the report.
METRIC_WORDS = {
    WinnerMetric.OPENS: "open rate",
    WinnerMetric.CLICKS: "click rate",
    WinnerMetric.CONVERSIONS: "conversion rate",
    WinnerMetric.REVENUE: "revenue per recipient",
}


@dataclass(frozen=True)
class ArmResult:
    variant: BroadcastVariant
    sent: int
    opened: int = 0
    clicked: int = 0
    converted: int = 0
    revenue: float = 0.0
    revenue_squares: float = 0.0

    def hits(self, metric: str) -> int:
        return {
            WinnerMetric.OPENS: self.opened,
            WinnerMetric.CLICKS: self.clicked,
            WinnerMetric.CONVERSIONS: self.converted,
        }[WinnerMetric(metric)]

    def value(self, metric: str) -> float | None:
        """The metric: a rate over sent, or revenue per recipient (None: none sent)."""
        if not self.sent:
            return None
        if metric == WinnerMetric.REVENUE:
            return self.revenue / self.sent
        return self.hits(metric) / self.sent

    def shown(self, metric: str) -> str:
        if metric == WinnerMetric.REVENUE:
            return f"{self.revenue:.2f} over {self.sent}"
        return f"{self.hits(metric)}/{self.sent}"


def p_value(a: ArmResult, b: ArmResult, metric: str) -> float:
    if metric == WinnerMetric.REVENUE:
        return welch_p_value(
            a.sent, a.revenue, a.revenue_squares, b.sent, b.revenue, b.revenue_squares
        )
    return two_proportion_p_value(a.hits(metric), a.sent, b.hits(metric), b.sent)


def conversion_names(broadcast: Broadcast) -> list[str]:
    if broadcast.conversion_event:
        return [broadcast.conversion_event]
    return list(broadcast.workspace.purchase_event_names)


def arm_results(broadcast: Broadcast, *, until: dt.datetime | None = None) -> list[ArmResult]:
    """Each variant's figures over the broadcast's messages made up to `until` (the
    test pool; None: all of them), in label order."""
    variants = list(broadcast.variants.order_by("label"))
    params: dict[str, Any] = {
        "workspace": broadcast.workspace_id,
        "broadcast": broadcast.pk,
        "until": until or timezone.now() + dt.timedelta(days=36500),
        "names": conversion_names(broadcast),
        "window": dt.timedelta(days=broadcast.conversion_window_days),
    }
    with connection.cursor() as cursor:
        cursor.execute(_ARMS_SQL, params)
        rows = {row[0]: row[1:] for row in cursor.fetchall()}
    results = []
    for variant in variants:
        sent, opened, clicked, converted, revenue, squares = rows.get(
            variant.pk, (0, 0, 0, 0, 0, 0)
        )
        results.append(
            ArmResult(variant, sent, opened, clicked, converted, float(revenue), float(squares))
        )
    return results


@dataclass(frozen=True)
class Judgement:
    winner: BroadcastVariant
    best: ArmResult
    default: ArmResult
    p_value: float
    reason: str

    @property
    def significant(self) -> bool:
        return self.p_value < SIGNIFICANCE


def judge(results: list[ArmResult], metric: str) -> Judgement:
    """The arm with the best value of `metric` if it beats the default arm at
    p < 0.05, else the default arm (ties go to the default)."""
    words = METRIC_WORDS[WinnerMetric(metric)]
    default = next(r for r in results if r.variant.is_default)
    best = max(results, key=lambda r: (r.value(metric) or 0.0, r.variant.is_default))
    if best is default:
        return Judgement(
            default.variant,
            best,
            default,
            1.0,
            f"{default.variant.label} (default) has the best {words} ({default.shown(metric)})",
        )
    p = p_value(best, default, metric)
    facts = (
        f"{best.variant.label} {best.shown(metric)} vs "
        f"{default.variant.label} {default.shown(metric)}, p={p:.4f}"
    )
    if p < SIGNIFICANCE:
        return Judgement(
            best.variant, best, default, p, f"{best.variant.label} wins on {words}: {facts}"
        )
    return Judgement(
        default.variant,
        best,
        default,
        p,
        f"not significant, the default {default.variant.label} wins: {facts}",
    )


def broadcast_decide_winner(*, broadcast_id: int) -> BroadcastVariant | None:
    """Judge the test pool on the broadcast's metric and queue the winner for the rest
    of the audience."""

    with transaction.atomic():
        broadcast = (
            Broadcast.objects.select_for_update(of=("self",))
            .select_related("workspace")
            .get(pk=broadcast_id)
        )
        if (
            broadcast.status != BroadcastStatus.SENDING
            or broadcast.winner_variant_id is not None
            or broadcast.winner_due_at is None
            or broadcast.winner_due_at > timezone.now()
        ):
            return None
        # Every message so far is the test pool: the rest are made after this decision.
        judgement = judge(arm_results(broadcast), broadcast.winner_metric)
        winner, reason = judgement.winner, judgement.reason[:300]
        now = timezone.now()
        Broadcast.objects.filter(pk=broadcast_id).update(
            winner_variant=winner,
            winner_reason=reason,
            materialised_at=None,
            materialise_heartbeat=now,
            updated_at=now,
        )
        audit_record(
            workspace=broadcast.workspace,
            action="broadcast.winner_chosen",
            actor=SYSTEM,
            object_type="broadcast",
            object_id=broadcast_id,
            details={
                "variant": winner.label,
                "metric": broadcast.winner_metric,
                "p_value": round(judgement.p_value, 6),
                "reason": reason,
            },
        )
        enqueue_on_commit("campaigns.broadcast_materialise", broadcast_id)
    return winner
