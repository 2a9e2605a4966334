"""A contact's membership as a member sees it (the member page, message variables,
the contact page's panel): balance, tier, the next tier and how far it is, and the
rewards on offer."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import QuerySet
from django.utils import timezone

from contacts.models import Contact
from loyalty.models import ContactTier, PointsBalance, Reward, Tier, TierBasis
from loyalty.selectors_tiers import TierRule, tier_measure, tier_rule_for


@dataclass(frozen=True)
class Standing:
    balance: int
    earned_total: int
    redeemed_total: int
    # What the tiers count over the window: points, or whole units spent (`rule.basis`).
    points_in_window: int
    rule: TierRule
    tier: Tier | None
    tier_since: dt.datetime | None
    next_tier: Tier | None
    last_activity_at: dt.datetime | None

    @property
    def points_to_next_tier(self) -> int:
        return max(self.next_tier.threshold - self.points_in_window, 0) if self.next_tier else 0

    @property
    def by_spend(self) -> bool:
        return self.rule.basis == TierBasis.SPEND

    @property
    def progress_percent(self) -> int:
        """How far from the current tier's threshold (or 0) to the next one's."""
        if self.next_tier is None:
            return 100
        low = self.tier.threshold if self.tier else 0
        span = max(self.next_tier.threshold - low, 1)
        return max(0, min(100, (self.points_in_window - low) * 100 // span))


def standing_for(*, contact: Contact, now: dt.datetime | None = None) -> Standing:
    """Five small indexed reads: the balance, the tier row, the tier settings, the
    window's points or spend and the next tier."""
    now = now or timezone.now()
    ws = contact.workspace_id
    row = PointsBalance.objects.filter(workspace_id=ws, contact=contact).first()
    held = ContactTier.objects.filter(workspace_id=ws, contact=contact).select_related("tier")
    current = held.first()
    rule = tier_rule_for(workspace_id=ws)
    points = tier_measure(workspace_id=ws, contact_ids=[contact.pk], rule=rule, now=now)[contact.pk]
    tier = current.tier if current else None
    floor = max(points, tier.threshold if tier else -1)
    next_tier = (
        Tier.objects.filter(workspace_id=ws, threshold__gt=floor).order_by("threshold").first()
    )
    return Standing(
        balance=row.balance if row else 0,
        earned_total=row.earned_total if row else 0,
        redeemed_total=row.redeemed_total if row else 0,
        points_in_window=points,
        rule=rule,
        tier=tier,
        tier_since=current.since if current and tier else None,
        next_tier=next_tier,
        last_activity_at=row.last_activity_at if row else None,
    )


def rewards_on_offer(*, contact: Contact) -> QuerySet[Reward]:
    """The active rewards, cheapest first (whether the contact can afford each is the
    page's to say; the redemption checks stock and limits)."""
    return Reward.objects.filter(workspace_id=contact.workspace_id, active=True).order_by(
        "points_cost", "name"
    )
