"""A workspace's programme settings."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.utils import timezone

from workspaces.models import Workspace


def no_event_points() -> dict[str, int]:
    return {}


def no_multipliers() -> list[dict[str, str]]:
    return []


class TierBasis(models.TextChoices):
    POINTS = "points", "Points earned"
    SPEND = "spend", "Spend"


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
    # The contact attribute holding a birthday ("YYYY-MM-DD..."): on that day of each
    # year, in the workspace's time zone, the contact gets a `birthday` event, which
    # earns what `event_points` gives it (services/birthdays.py). The database keeps
    # the default too, so code from before the column can still add programmes.
    birthday_attribute = models.CharField(max_length=64, default="birthday", db_default="birthday")
    # What one point is worth in the workspace's currency: the liability report's rate.
    value_per_point = models.DecimalField(max_digits=10, decimal_places=4, default=Decimal("0.01"))
    # Expiry by inactivity: a balance expires whole `expiry_months` after the contact's
    # last earn or redemption (none: points never expire), at midnight in the
    # contact's time zone; `expiry_reminder_days` before that the "points about to
    # expire" trigger fires (none: no reminder). services/expiry.py.
    expiry_months = models.PositiveSmallIntegerField(null=True, blank=True)
    expiry_reminder_days = models.PositiveSmallIntegerField(null=True, blank=True)
    # When expiry was (last) switched on: inactivity counts from here at the earliest,
    # so switching it on never expires a balance without its full period and reminder.
    expiry_from = models.DateTimeField(null=True, blank=True)
    # A contact the scheduled review finds below its tier keeps it this many days
    # before it goes down (0: at once); upgrades are immediate. services/tiers.py.
    tier_grace_days = models.PositiveSmallIntegerField(default=0)
    # What reaches a tier: the points earned (earn and reverse entries) or the money
    # spent (purchase revenue, net of refunds, in whole units of the workspace's
    # currency) over the last `tier_window_days` days, rolling.
    tier_basis = models.CharField(max_length=6, choices=TierBasis.choices, default="points")
    tier_window_days = models.PositiveSmallIntegerField(default=365)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"programme of workspace {self.workspace_id}"
