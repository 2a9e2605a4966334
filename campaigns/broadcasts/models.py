"""Broadcasts: one message to an audience (segments and stages, minus exclusions), now,
at an instant or at a local time in each contact's time zone; optional A/B variants;
and the per-channel sending policy (frequency cap, quiet hours) the dispatcher applies.

A broadcast has no recipient table: its recipients are its outbox messages, keyed
`broadcast:<id>:<contact id>`, so a contact gets at most one and re-running the
materialisation after a crash adds nothing. Imported by campaigns.models."""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils import timezone

from config.fields import TenantForeignKey, WorkspaceKey
from contacts.models import Channel
from messaging.models import Message, Origin, Template
from workspaces.models import Workspace


class BroadcastStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SCHEDULED = "scheduled", "Scheduled"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    PAUSED = "paused", "Paused"
    CANCELLED = "cancelled", "Cancelled"


class ScheduleKind(models.TextChoices):
    NOW = "now", "Now"
    AT = "at", "At a time"
    LOCAL = "local", "At a local time in each contact's time zone"
    BEST = "best", "Best time for each contact within 24 h of send_at/now"


class WinnerMetric(models.TextChoices):
    OPENS = "opens", "Opens (open rate)"
    CLICKS = "clicks", "Clicks (click rate)"
    CONVERSIONS = "conversions", "Conversions (conversion rate)"
    REVENUE = "revenue", "Revenue (revenue per recipient)"


def _ids() -> ArrayField:
    return ArrayField(models.BigIntegerField(), default=list, blank=True)


class Broadcast(models.Model):
    workspace = WorkspaceKey(Workspace, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=200)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    # The template everyone gets; with variants, the default variant's template.
    # RESTRICT, not PROTECT: a template in use cannot be deleted, but a workspace (with
    # its broadcasts and templates together) can.
    template = TenantForeignKey(Template, on_delete=models.RESTRICT, related_name="+")
    include_segment_ids = _ids()
    include_stage_ids = _ids()
    exclude_segment_ids = _ids()
    exclude_stage_ids = _ids()
    schedule = models.CharField(max_length=8, choices=ScheduleKind.choices, default="now")
    # `at`: the instant; `now`: set to the moment it was scheduled; `best`: the start of
    # the 24 h window (the moment it was scheduled when left empty).
    send_at = models.DateTimeField(null=True, blank=True)
    # `local`: this wall-clock date and time in each contact's time zone.
    local_date = models.DateField(null=True, blank=True)
    local_time = models.TimeField(null=True, blank=True)
    throttle_per_hour = models.PositiveIntegerField(
        null=True, blank=True, help_text="At most this many messages an hour; empty: no limit."
    )
    # A/B: the share of the audience that gets the variants first (0: everyone is
    # split); the rest get the winner `winner_wait_hours` after the last test message.
    test_pool_percent = models.PositiveSmallIntegerField(default=0)
    winner_wait_hours = models.PositiveIntegerField(default=4)
    # What the test is judged on (campaigns/broadcasts/experiment.py). A conversion is
    # the contact doing `conversion_event` (empty: one of the workspace's purchase
    # events) within `conversion_window_days` of the message, attributed last-touch,
    # as the campaign performance figures count it; revenue is those events' revenue.
    winner_metric = models.CharField(
        max_length=12, choices=WinnerMetric.choices, default=WinnerMetric.CLICKS
    )
    conversion_event = models.CharField(max_length=100, blank=True, default="")
    conversion_window_days = models.PositiveSmallIntegerField(default=7)
    status = models.CharField(
        max_length=16, choices=BroadcastStatus.choices, default=BroadcastStatus.DRAFT
    )
    recipient_count = models.PositiveIntegerField(default=0)
    # Materialisation progress: set when every recipient of the current phase is in
    # the outbox; the heartbeat lets beat restart a materialisation whose worker died.
    materialised_at = models.DateTimeField(null=True, blank=True)
    materialise_heartbeat = models.DateTimeField(null=True, blank=True)
    first_due_at = models.DateTimeField(null=True, blank=True)
    winner_due_at = models.DateTimeField(null=True, blank=True)
    winner_variant = TenantForeignKey(
        "campaigns.BroadcastVariant",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    winner_reason = models.CharField(max_length=300, blank=True, default="")
    scheduled_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="broadcast_name_unique"),
            models.CheckConstraint(
                condition=Q(test_pool_percent__lte=100), name="broadcast_test_pool_percent"
            ),
            models.CheckConstraint(
                condition=Q(conversion_window_days__gte=1, conversion_window_days__lte=90),
                name="broadcast_conversion_window_days",
            ),
        ]
        indexes = [
            models.Index(fields=["workspace", "-id"], name="broadcast_ws_id"),
            models.Index(
                fields=["status"],
                name="broadcast_active",
                condition=Q(status__in=["scheduled", "sending"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.status})"

    @property
    def is_ab_test(self) -> bool:
        return self.test_pool_percent > 0

    @property
    def messages(self) -> models.QuerySet[Message]:
        return Message.objects.filter(origin_kind=Origin.BROADCAST, origin_id=self.pk)

    def key_for(self, contact_id: int) -> str:
        return f"broadcast:{self.pk}:{contact_id}"


class BroadcastVariant(models.Model):
    """An arm of an A/B(/n) test: a template, a weight, optionally its own subject line
    (email) and its own send time. Exactly one is the default, which wins when the test
    is not significant."""

    # Its parent's workspace, carried so that the table distributes by workspace
    # (issue 20); not indexed alone: the uniques and lookups go through the parent.
    workspace = WorkspaceKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    broadcast = TenantForeignKey(Broadcast, on_delete=models.CASCADE, related_name="variants")
    label = models.CharField(max_length=20)
    # RESTRICT, not PROTECT: a template in use cannot be deleted, but a workspace (with
    # its broadcasts and templates together) can.
    template = TenantForeignKey(Template, on_delete=models.RESTRICT, related_name="+")
    weight = models.PositiveIntegerField(default=1)
    is_default = models.BooleanField(default=False)
    # A test of send time: this arm goes at each contact's best time within 24 h of
    # the broadcast's time (campaigns/send_time.py), the others as scheduled.
    best_time = models.BooleanField(default=False)
    # A subject line instead of the template's (personalised like it); empty: the
    # template's. Email only.
    subject = models.CharField(max_length=500, blank=True, default="")
    # A test of send time: this arm goes at this instant instead of the broadcast's
    # time; the rest of the audience then gets the winning arm's time of day.
    send_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["label"]
        constraints = [
            models.UniqueConstraint(
                fields=["broadcast", "label", "workspace"], name="variant_label_ws_unique"
            ),
            models.UniqueConstraint(
                fields=["broadcast", "workspace"],
                condition=Q(is_default=True),
                name="variant_one_default_ws",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label} of {self.broadcast_id}"
