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


class LoyaltyActiveGap(models.Model):
    """Members who earned or redeemed on a local `day` and whose previous such day was
    `previous` (none: it is their first): `members` of them.

    A period's distinct active members are an exact sum of these rows: a member is
    active in [a, b] exactly when one of its active days lies there, and then exactly
    one of them — the first in [a, b] — has its previous active day before a (or none).
    So the count is the sum of `members` over rows with a <= day <= b and (previous <
    a or none), for any a and b. One row per (day, previous) pair that occurs, not per
    member: at most the days of history per day (a year: ~66,000 rows, whatever the
    number of members)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    previous = models.DateField(null=True, blank=True)
    members = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "day", "previous"],
                name="loyalty_active_gap_unique",
                nulls_distinct=False,
            ),
        ]

    def __str__(self) -> str:
        return f"{self.workspace_id} {self.day} (after {self.previous}): {self.members}"


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


class ReferralCustomerDay(models.Model):
    """Customers by the local day of their first purchase (analytics_customerfacts):
    how many, how many of them were referred (by a referral not rejected), their revenue
    to date and, of those with a prediction, how many and the sum of their predicted CLV
    — all customers and the referred ones. Recomputed whole (revenue and CLV are "now")
    with the loyalty rollups: customers by a period's end is a sum of days, the referred
    against every other customer a sum of all."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    customers = models.IntegerField(default=0)
    referred = models.IntegerField(default=0)
    revenue = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    referred_revenue = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    predicted = models.IntegerField(default=0)
    predicted_clv = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    referred_predicted = models.IntegerField(default=0)
    referred_predicted_clv = models.DecimalField(max_digits=18, decimal_places=2, default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "day"], name="referral_customer_day_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.workspace_id} {self.day}: {self.customers} ({self.referred} referred)"


class LoyaltyTierMembers(models.Model):
    """Members per tier now (contacts with a tier row, by the tier's name and threshold;
    "" and -1: below every tier), recomputed with the loyalty rollups from
    loyalty_contacttier (the definition), so the report reads a row per tier rather than
    a row per member."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=200, blank=True, default="")
    threshold = models.BigIntegerField(default=-1)
    members = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "name", "threshold"], name="loyalty_tier_members_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.workspace_id} {self.name or '-'}: {self.members}"


class LoyaltyOutstanding(models.Model):
    """Members (contacts with a balance row) and outstanding points (the sum of every
    balance) of a workspace, recomputed with the loyalty rollups from
    loyalty_pointsbalance (the definition): what the liability is computed from."""

    workspace = models.OneToOneField(Workspace, on_delete=models.CASCADE, related_name="+")
    members = models.IntegerField(default=0)
    outstanding = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.workspace_id}: {self.outstanding} points, {self.members} members"
