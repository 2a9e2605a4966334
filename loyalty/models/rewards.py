"""What points buy: rewards, redemptions and the codes they hand out."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from config.fields import TenantForeignKey, WorkspaceKey
from contacts.models import Contact
from loyalty.models.ledger import LedgerEntry
from workspaces.models import Workspace


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

    workspace = WorkspaceKey(Workspace, on_delete=models.CASCADE, related_name="+")
    contact = TenantForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    # A redeemed reward is not deleted (services/rewards.py refuses it); CASCADE lets a
    # workspace's deletion take both (PROTECT would refuse that too).
    reward = TenantForeignKey(Reward, on_delete=models.CASCADE, related_name="redemptions")
    points = models.PositiveIntegerField()
    # Goes with its entry, which goes with its contact (erasure).
    entry = TenantForeignKey(
        LedgerEntry, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    code = models.CharField(max_length=100, blank=True, default="")
    idempotency_key = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "idempotency_key"], name="redemption_idempotency_unique"
            ),
            # One redemption per entry; keyed with the workspace like every unique
            # constraint, so the table can be distributed by workspace (Citus).
            models.UniqueConstraint(fields=["workspace", "entry"], name="redemption_entry_unique"),
        ]
        indexes = [models.Index(fields=["workspace", "contact", "reward"])]

    def __str__(self) -> str:
        return f"{self.reward_id} for contact {self.contact_id}"


class RewardCode(models.Model):
    """One code of a reward's pool, generated or uploaded; issued once, to the
    redemption that took it."""

    workspace = WorkspaceKey(Workspace, on_delete=models.CASCADE, related_name="+")
    reward = TenantForeignKey(Reward, on_delete=models.CASCADE, related_name="codes")
    code = models.CharField(max_length=100)
    redemption = TenantForeignKey(
        Redemption,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    issued_at = models.DateTimeField(null=True, blank=True)
    # A code given in a message (template variable `reward_<id>_code`) rather than
    # bought: the contact it went to and `message:<id>:<reward>`, so a message rendered
    # again (a retry) shows the same code (services/message_codes.py).
    contact = TenantForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    message_key = models.CharField(max_length=100, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "code"], name="reward_code_unique"),
            models.UniqueConstraint(
                fields=["workspace", "message_key"],
                name="reward_code_message_unique",
                condition=~Q(message_key=""),
            ),
            models.UniqueConstraint(
                fields=["workspace", "redemption"], name="reward_code_redemption_unique"
            ),
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
