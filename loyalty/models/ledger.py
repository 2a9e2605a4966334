"""Each contact's points: the append-only ledger and the balance kept with it."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from config.fields import TenantForeignKey, WorkspaceKey
from contacts.models import Contact
from workspaces.models import Workspace


class PointsBalance(models.Model):
    """A contact's points now: the sum of its ledger entries, kept in the transaction
    that appends each one (under this row's lock). Never negative."""

    workspace = WorkspaceKey(Workspace, on_delete=models.CASCADE, related_name="+")
    contact = TenantForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    balance = models.BigIntegerField(default=0)
    earned_total = models.BigIntegerField(default=0)
    redeemed_total = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)
    # The latest earn or redeem entry's `occurred_at`: expiry counts inactivity from it.
    last_activity_at = models.DateTimeField(null=True, blank=True)
    # The `last_activity_at` the expiry reminder was fired for: once per expiry cycle.
    reminded_for = models.DateTimeField(null=True, blank=True)

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

    # No foreign-key constraints in the database (the ORM still cascades): an entry is
    # only ever appended under its balance row's lock, and that row's constraints hold
    # the contact and workspace while it exists; checking them again per entry was a
    # tenth of an ingest batch's time at 1M members (two lookups and a row lock each).
    # The indexes that lead with the workspace serve it; no index of its own.
    workspace = models.ForeignKey(
        Workspace,
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
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
        # Each entry costs an insert into every index here, and the contact-keyed one
        # lands on a random page of a large index: one such index only. It carries what
        # the per-contact reads filter and sum (the tier window, the daily cap, the
        # rollups' previous active day), so they read the index alone; the id order
        # is the history's.
        indexes = [
            models.Index(
                fields=["workspace", "contact", "-id"],
                name="ledger_contact_entries",
                include=["occurred_at", "kind", "points"],
            ),
            models.Index(
                fields=["workspace", "order_id"],
                name="ledger_order",
                condition=~Q(order_id=""),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.points:+d} for contact {self.contact_id}"
