"""Reads the API and the dashboard share: a contact's balance and history, the reward
catalogue with what is left of each pool."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

from contacts.models import Contact
from loyalty.models import (
    ContactTier,
    LedgerEntry,
    PointsBalance,
    Redemption,
    Reward,
    RewardCode,
    Tier,
    TierChange,
)
from workspaces.models import Workspace


def _pk(value: Any) -> int | None:
    try:
        pk = int(value)
    except (TypeError, ValueError):
        return None
    return pk if 0 < pk < 2**63 else None


def contact_get(*, workspace: Workspace, contact_id: Any) -> Contact | None:
    pk = _pk(contact_id)
    return Contact.objects.filter(workspace=workspace, pk=pk).first() if pk else None


def balance_for(*, contact: Contact) -> PointsBalance:
    """The contact's balance; a contact that never had points has a balance of 0."""
    return PointsBalance.objects.filter(
        workspace_id=contact.workspace_id, contact=contact
    ).first() or PointsBalance(workspace_id=contact.workspace_id, contact=contact)


def entries_for_contact(*, contact: Contact) -> QuerySet[LedgerEntry]:
    return LedgerEntry.objects.filter(workspace_id=contact.workspace_id, contact=contact)


def _count(rows: QuerySet[Any]) -> Coalesce:
    """A correlated count (one index range each), not a join that multiplies rows."""
    counted = rows.order_by().values("reward").annotate(n=Count("*")).values("n")
    return Coalesce(Subquery(counted), 0)


def rewards_for_workspace(*, workspace: Workspace) -> QuerySet[Reward]:
    return (
        Reward.objects.filter(workspace=workspace)
        .annotate(
            codes_available=_count(
                RewardCode.objects.filter(
                    workspace=workspace, reward=OuterRef("pk"), issued_at__isnull=True
                )
            ),
            redeemed=_count(Redemption.objects.filter(workspace=workspace, reward=OuterRef("pk"))),
        )
        .order_by("points_cost", "name", "id")
    )


def reward_get(*, workspace: Workspace, reward_id: Any) -> Reward | None:
    pk = _pk(reward_id)
    return rewards_for_workspace(workspace=workspace).filter(pk=pk).first() if pk else None


def redemptions_for_contact(*, contact: Contact) -> QuerySet[Redemption]:
    return (
        Redemption.objects.filter(workspace_id=contact.workspace_id, contact=contact)
        .select_related("reward")
        .order_by("-created_at", "-id")
    )


def contact_tier(*, contact: Contact) -> ContactTier | None:
    return (
        ContactTier.objects.filter(workspace_id=contact.workspace_id, contact=contact)
        .select_related("tier")
        .first()
    )


def tier_changes_for_contact(*, contact: Contact) -> QuerySet[TierChange]:
    return TierChange.objects.filter(workspace_id=contact.workspace_id, contact=contact)


def tiers_for_workspace(*, workspace: Workspace) -> QuerySet[Tier]:
    members = (
        ContactTier.objects.filter(workspace=workspace, tier=OuterRef("pk"))
        .order_by()
        .values("tier")
        .annotate(n=Count("*"))
        .values("n")
    )
    return (
        Tier.objects.filter(workspace=workspace)
        .annotate(member_count=Coalesce(Subquery(members), 0))
        .order_by("threshold", "id")
    )


def tier_get(*, workspace: Workspace, tier_id: Any) -> Tier | None:
    pk = _pk(tier_id)
    return tiers_for_workspace(workspace=workspace).filter(pk=pk).first() if pk else None
