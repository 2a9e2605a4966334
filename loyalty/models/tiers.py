"""Tiers, each contact's tier and its moves."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.utils import timezone

from config.fields import TenantForeignKey, WorkspaceKey
from contacts.models import Contact
from workspaces.models import Workspace


class Tier(models.Model):
    """A level a contact reaches by the points it earned or the money it spent (net of
    refunds) over the programme's window (`Programme.tier_basis`, `tier_window_days`):
    the highest tier whose `threshold` that sum reaches."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=200)
    threshold = models.PositiveIntegerField()
    benefits = models.CharField(max_length=1000, blank=True, default="")
    # Multiplies what members earn (with the campaign window's factor; floored once
    # per event, services/earning.py).
    multiplier = models.DecimalField(max_digits=4, decimal_places=2, default=Decimal(1))
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

    workspace = WorkspaceKey(Workspace, on_delete=models.CASCADE, related_name="+")
    contact = TenantForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    tier = TenantForeignKey(
        Tier, null=True, blank=True, on_delete=models.SET_NULL, related_name="members"
    )
    since = models.DateTimeField(default=timezone.now)
    points_in_window = models.BigIntegerField(default=0)
    evaluated_at = models.DateTimeField(default=timezone.now)
    # When a scheduled review first found the contact below its tier (none: it is not):
    # it goes down once the programme's grace period has run from here.
    below_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "contact"], name="contact_tier_unique"),
        ]

    def __str__(self) -> str:
        return f"contact {self.contact_id}: {self.tier_id}"


class TierCause(models.TextChoices):
    EARNED = "earned", "Points earned"
    REVIEW = "review", "Scheduled review"
    REMOVED = "removed", "Tier deleted"


class TierChange(models.Model):
    """A contact's move between tiers, with its cause (like a stage transition). Tier
    names are kept: tiers are renamed."""

    workspace = WorkspaceKey(Workspace, on_delete=models.CASCADE, related_name="+")
    contact = TenantForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    from_tier = TenantForeignKey(
        Tier, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    to_tier = TenantForeignKey(
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
