"""The loyalty programme of a workspace: its earning rules, each contact's points
ledger (append-only) and balance, and the rewards points buy, with their codes.

The ledger is the record: every change of a balance is one LedgerEntry, written in the
transaction that updates the contact's PointsBalance (docs/loyalty.md)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from contacts.models import Contact
from workspaces.models import Workspace


def no_event_points() -> dict[str, int]:
    return {}


def no_multipliers() -> list[dict[str, str]]:
    return []


class Programme(models.Model):
    """One per workspace. Purchases earn `points_per_unit` points per unit of the
    workspace's currency (floored once per order, docs/loyalty.md); the events named in
    `event_points` earn a fixed number each; a multiplier window in `multipliers`
    ({"name", "factor", "starts_at", "ends_at"}) multiplies both; `daily_cap` bounds what
    one contact earns in a day of the workspace's time zone. `enabled_at` is when the
    programme was last switched on: events that happened before it earn nothing (nor
    do those of a pause, once it is switched on again)."""

    workspace = models.OneToOneField(Workspace, on_delete=models.CASCADE, related_name="+")
    enabled = models.BooleanField(default=False)
    enabled_at = models.DateTimeField(null=True, blank=True)
    points_per_unit = models.DecimalField(max_digits=8, decimal_places=2, default=1)
    event_points = models.JSONField(default=no_event_points, blank=True)
    multipliers = models.JSONField(default=no_multipliers, blank=True)
    daily_cap = models.PositiveIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"programme of workspace {self.workspace_id}"


class PointsBalance(models.Model):
    """A contact's points now: the sum of its ledger entries, kept in the transaction
    that appends each one (under this row's lock). Never negative."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    balance = models.BigIntegerField(default=0)
    earned_total = models.BigIntegerField(default=0)
    redeemed_total = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "contact"], name="points_balance_unique"),
            models.CheckConstraint(condition=Q(balance__gte=0), name="points_balance_not_negative"),
        ]

    def __str__(self) -> str:
        return f"contact {self.contact_id}: {self.balance}"


class EntryKind(models.TextChoices):
    EARN = "earn", "Earned"
    REDEEM = "redeem", "Redeemed"
    EXPIRE = "expire", "Expired"
    ADJUST = "adjust", "Adjusted"
    REVERSE = "reverse", "Reversed"


class SourceKind(models.TextChoices):
    EVENT = "event", "Event"
    ORDER = "order", "Order"
    RULE = "rule", "Rule"
    USER = "user", "Person"
    API_KEY = "api_key", "API key"
    REWARD = "reward", "Reward"
    SYSTEM = "system", "System"


class LedgerEntry(models.Model):
    """One change of a contact's points. Never updated (a trigger refuses it); a
    mistake is corrected by another entry. Earn, expire and reverse entries may be of
    zero points (capped by the daily cap; nothing left to take back): they keep the
    key, so a retry does not earn or take later. `idempotency_key` is unique per workspace:
    `event:<id>` for what an event earned, `order:<id>:reverse` for a reversal asked
    for over the API, the caller's key for adjustments and redemptions."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+", db_index=False)
    kind = models.CharField(max_length=8, choices=EntryKind.choices)
    points = models.BigIntegerField()
    balance_after = models.BigIntegerField()
    reason = models.CharField(max_length=500, blank=True, default="")
    source_kind = models.CharField(max_length=8, choices=SourceKind.choices)
    source_id = models.CharField(max_length=200, blank=True, default="")
    event_id = models.BigIntegerField(null=True, blank=True)
    order_id = models.CharField(max_length=200, blank=True, default="")
    idempotency_key = models.CharField(max_length=200)
    # When it happened in the contact's life (the event's time for what an event earned).
    occurred_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "idempotency_key"], name="ledger_idempotency_unique"
            ),
            models.CheckConstraint(
                condition=Q(balance_after__gte=0), name="ledger_balance_after_not_negative"
            ),
            models.CheckConstraint(
                condition=(
                    Q(kind="redeem", points__lt=0)
                    | Q(kind="earn", points__gte=0)
                    | Q(kind__in=["expire", "reverse"], points__lte=0)
                    | (Q(kind="adjust") & ~Q(points=0))
                ),
                name="ledger_points_sign",
            ),
        ]
        indexes = [
            models.Index(fields=["workspace", "contact", "-id"], name="ledger_contact_history"),
            models.Index(
                fields=["workspace", "order_id"],
                name="ledger_order",
                condition=~Q(order_id=""),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.points:+d} for contact {self.contact_id}"


class RewardKind(models.TextChoices):
    DISCOUNT_CODE = "discount_code", "Discount code"
    FREE_ITEM = "free_item", "Free item"
    CUSTOM = "custom", "Custom"


class Reward(models.Model):
    """What points buy. A discount code reward hands out one code of its pool per
    redemption; `stock` (none: unlimited) bounds redemptions of any kind;
    `per_contact_limit` (none: unlimited) bounds one contact's."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=RewardKind.choices)
    description = models.CharField(max_length=1000, blank=True, default="")
    points_cost = models.PositiveIntegerField()
    stock = models.PositiveIntegerField(null=True, blank=True)
    per_contact_limit = models.PositiveIntegerField(null=True, blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="reward_name_unique"),
            models.CheckConstraint(condition=Q(points_cost__gt=0), name="reward_cost_positive"),
        ]

    def __str__(self) -> str:
        return self.name


class Redemption(models.Model):
    """A contact's points spent on a reward, with the code it was given (if any)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    # A redeemed reward is not deleted (services/rewards.py refuses it); CASCADE lets a
    # workspace's deletion take both (PROTECT would refuse that too).
    reward = models.ForeignKey(Reward, on_delete=models.CASCADE, related_name="redemptions")
    points = models.PositiveIntegerField()
    # Goes with its entry, which goes with its contact (erasure).
    entry = models.OneToOneField(LedgerEntry, on_delete=models.CASCADE, related_name="+")
    code = models.CharField(max_length=100, blank=True, default="")
    idempotency_key = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "idempotency_key"], name="redemption_idempotency_unique"
            ),
        ]
        indexes = [models.Index(fields=["workspace", "contact", "reward"])]

    def __str__(self) -> str:
        return f"{self.reward_id} for contact {self.contact_id}"


class RewardCode(models.Model):
    """One code of a reward's pool, generated or uploaded; issued once, to the
    redemption that took it."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    reward = models.ForeignKey(Reward, on_delete=models.CASCADE, related_name="codes")
    code = models.CharField(max_length=100)
    redemption = models.OneToOneField(
        Redemption, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    issued_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "code"], name="reward_code_unique"),
        ]
        indexes = [
            models.Index(
                fields=["workspace", "reward", "id"],
                name="reward_code_unissued",
                condition=Q(issued_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return self.code


class Tier(models.Model):
    """A level a contact reaches by the points it earned (net of refunds) in the last
    12 months: the highest tier whose `threshold` that sum reaches."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=200)
    threshold = models.PositiveIntegerField()
    benefits = models.CharField(max_length=1000, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="tier_name_unique"),
            models.UniqueConstraint(
                fields=["workspace", "threshold"], name="tier_threshold_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ContactTier(models.Model):
    """A contact's tier now (none: below every threshold) and since when."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    tier = models.ForeignKey(
        Tier, null=True, blank=True, on_delete=models.SET_NULL, related_name="members"
    )
    since = models.DateTimeField(default=timezone.now)
    points_in_window = models.BigIntegerField(default=0)
    evaluated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "contact"], name="contact_tier_unique"),
        ]

    def __str__(self) -> str:
        return f"contact {self.contact_id}: {self.tier_id}"


class TierCause(models.TextChoices):
    EARNED = "earned", "Points earned"
    REVIEW = "review", "Scheduled review"


class TierChange(models.Model):
    """A contact's move between tiers, with its cause (like a stage transition). Tier
    names are kept: tiers are renamed."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    from_tier = models.ForeignKey(
        Tier, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    to_tier = models.ForeignKey(
        Tier, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    from_name = models.CharField(max_length=200, blank=True, default="")
    to_name = models.CharField(max_length=200, blank=True, default="")
    cause = models.CharField(max_length=8, choices=TierCause.choices)
    points_in_window = models.BigIntegerField()
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["workspace", "contact", "-at"], name="tier_change_history")]

    def __str__(self) -> str:
        return f"contact {self.contact_id}: {self.from_name or '-'} -> {self.to_name or '-'}"
