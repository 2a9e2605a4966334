"""Loyalty rollups (analytics/rollups/loyalty.py): what the loyalty report sums. Each
row is recomputed, never added to, from the ledger (loyalty_ledgerentry) and the tier
moves (loyalty_tierchange), which stay the definition."""

from __future__ import annotations

from django.db import models

from workspaces.models import Workspace


class LoyaltyDay(models.Model):
    """One local day (workspace time zone, by the entry's `occurred_at`) of a
    workspace's ledger: points earned, redeemed, expired and reversed (each a positive
    number), adjustments (net, signed), redemptions (redeem entries), new members
    (contacts whose first entry is that day) and active members (contacts who earned or
    redeemed that day)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    issued = models.BigIntegerField(default=0)
    redeemed = models.BigIntegerField(default=0)
    expired = models.BigIntegerField(default=0)
    reversed = models.BigIntegerField(default=0)
    adjusted = models.BigIntegerField(default=0)
    redemptions = models.IntegerField(default=0)
    new_members = models.IntegerField(default=0)
    active = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "day"], name="loyalty_day_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.workspace_id} {self.day}: +{self.issued} -{self.redeemed}"


class LoyaltyActiveDay(models.Model):
    """A contact that earned or redeemed on a local day: the distinct count over a
    period's days is its active members (a count per day cannot be summed)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    contact_id = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "day", "contact_id"], name="loyalty_active_day_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.workspace_id} {self.day}: contact {self.contact_id}"


class LoyaltyTierMoveDay(models.Model):
    """Tier moves per local day, from tier to tier (names as the move kept them; ""
    is no tier)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    from_name = models.CharField(max_length=200, blank=True, default="")
    to_name = models.CharField(max_length=200, blank=True, default="")
    moves = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "day", "from_name", "to_name"],
                name="loyalty_tier_move_day_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.workspace_id} {self.day}: {self.from_name} -> {self.to_name}"
