"""Messaging: templates, the message outbox, sandbox deliveries, tracking, provider
webhook events, per-workspace messaging settings and sending policies.

The tables keep the names they had when this was part of `campaigns` (`campaigns_*`),
so raw SQL and existing databases stay valid.

Consent (Contact.email_status / sms_status, ConsentChange) and the suppression list
belong to `contacts`; this app reads them before every send and changes them only
through contacts' services."""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.db.models import Q
from django.utils import timezone

from config.fields import TenantForeignKey, WorkspaceKey
from config.ids import uuid7
from contacts.models import Channel, Contact

# Imported here so that Django registers SendingDomain with the app.
from messaging.domain_models import DomainStatus as DomainStatus
from messaging.domain_models import SendingDomain as SendingDomain
from messaging.media_models import MEDIA_TYPES as MEDIA_TYPES
from messaging.media_models import MediaFile as MediaFile
from messaging.media_models import media_upload_path as media_upload_path
from workspaces.models import Workspace


class Editor(models.TextChoices):
    HTML = "html", "HTML"
    BLOCKS = "blocks", "Blocks"


class Template(models.Model):
    """An email or SMS template. Bodies are in the sandboxed personalisation language
    (messaging/sandbox.py) and are compiled on save: a template that does not compile
    is never stored."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=200)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    # Email only.
    subject = models.CharField(max_length=500, blank=True, default="")
    preheader = models.CharField(max_length=500, blank=True, default="")
    from_name = models.CharField(max_length=200, blank=True, default="")
    from_email = models.CharField(max_length=254, blank=True, default="")
    reply_to = models.CharField(max_length=254, blank=True, default="")
    # Email: HTML; SMS: the text.
    body = models.TextField()
    # Email only: plain-text part; generated from the HTML when blank.
    text_body = models.TextField(blank=True, default="")
    # Email only: "blocks" templates are edited as `document` (messaging/blocks) and
    # rendered on save into `body` and `text_body`, so sending reads those as ever.
    editor = models.CharField(max_length=8, choices=Editor.choices, default=Editor.HTML)
    document = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "campaigns_template"
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="template_name_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.channel})"


# What a template's author writes (the dashboard's form, the API, the admin).
TEMPLATE_FIELDS = (
    "name",
    "channel",
    "subject",
    "preheader",
    "from_name",
    "from_email",
    "reply_to",
    "body",
    "text_body",
    "editor",
    "document",
)


class MessageStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    BOUNCED = "bounced", "Bounced"
    FAILED = "failed", "Failed"
    SUPPRESSED = "suppressed", "Suppressed"
    # Not claimed until released (a paused broadcast); never sent while held.
    HELD = "held", "Held"


# A message in one of these states will not be sent again.
FINAL_STATUSES = frozenset(
    {
        MessageStatus.SENT,
        MessageStatus.DELIVERED,
        MessageStatus.BOUNCED,
        MessageStatus.FAILED,
        MessageStatus.SUPPRESSED,
    }
)


class Origin(models.TextChoices):
    # Sent on its own: the messages API, a test send, a transactional receipt.
    DIRECT = "direct", "Direct"
    BROADCAST = "broadcast", "Broadcast"
    JOURNEY_STEP = "journey_step", "Journey step"


class Message(models.Model):
    """The outbox: one row per message, written before anything is sent.

    `due_at` is when the row may next be claimed (first due time, then pushed out by
    retry backoff). A claimed row is `sending` until `lease_until`; a row still
    `sending` after its lease (its worker died) is claimed again. `attempts` counts
    claims and doubles as the claim's token: only the worker holding the current
    attempt may finish the row. `uuid` is what providers see (Message-ID,
    Idempotency-Key), so a re-claimed message is the same message to them."""

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    # Null only for a test send to an address (is_test).
    contact = TenantForeignKey(
        Contact,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
    )
    channel = models.CharField(max_length=8, choices=Channel.choices)
    template = TenantForeignKey(
        Template, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Where the message came from, one way for every origin: `origin_kind` names the
    # table (a broadcast, a journey step) and `origin_id` the row, so messaging needs no
    # foreign key into the campaigns that use it. `variant_id` is the broadcast variant
    # (A/B arm) the contact was assigned to, if any.
    origin_kind = models.CharField(max_length=16, choices=Origin.choices, default=Origin.DIRECT)
    origin_id = models.BigIntegerField(null=True, blank=True)
    variant_id = models.BigIntegerField(null=True, blank=True)
    # Transactional messages (receipts, password resets) bypass frequency caps and
    # quiet hours; everything else is marketing.
    transactional = models.BooleanField(default=False)
    idempotency_key = models.CharField(max_length=200)
    # Time-ordered (config/ids.py): a bulk insert appends to the (workspace, uuid) index.
    uuid = models.UUIDField(default=uuid7, editable=False)
    is_test = models.BooleanField(default=False)
    status = models.CharField(
        max_length=16, choices=MessageStatus.choices, default=MessageStatus.SCHEDULED
    )
    # Why a message is suppressed or failed, in words a marketer understands.
    status_reason = models.CharField(max_length=200, blank=True, default="")
    due_at = models.DateTimeField(default=timezone.now)
    lease_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    # Claims that ended in a deferral (frequency cap, quiet hours): they fence stale
    # workers like any claim but do not count against MESSAGING_MAX_ATTEMPTS.
    deferrals = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    provider = models.CharField(max_length=32, blank=True, default="")
    provider_message_id = models.CharField(max_length=200, blank=True, default="")
    # What was sent, stored at send time (a later template edit does not rewrite history).
    to_address = models.CharField(max_length=254, blank=True, default="")
    subject = models.CharField(max_length=500, blank=True, default="")
    body_html = models.TextField(blank=True, default="")
    body_text = models.TextField(blank=True, default="")
    sms_segments = models.PositiveSmallIntegerField(default=0)
    # The URLs this message may redirect to: click tokens carry an index into it.
    links = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    bounced_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    clicked_at = models.DateTimeField(null=True, blank=True)
    # What the contact did in answer to this message, for campaign performance.
    unsubscribed_at = models.DateTimeField(null=True, blank=True)
    complained_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "campaigns_message"
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "idempotency_key"], name="message_idempotency_unique"
            ),
            # Unique with the workspace (issue 20); the uuid first: tracking links and
            # provider webhooks look a message up by its uuid.
            models.UniqueConstraint(fields=["uuid", "workspace"], name="message_uuid_unique"),
            models.CheckConstraint(
                condition=Q(contact__isnull=False) | Q(is_test=True),
                name="message_contact_unless_test",
            ),
            models.CheckConstraint(
                condition=Q(origin_kind=Origin.DIRECT, origin_id__isnull=True)
                | (~Q(origin_kind=Origin.DIRECT) & Q(origin_id__isnull=False)),
                name="message_origin_id_unless_direct",
            ),
        ]
        indexes = [
            # The dispatcher's claims, one workspace at a time (ORDER BY due_at, id
            # LIMIT n within a workspace), and the skip scan that finds the workspaces
            # with due rows: only rows that may still be sent are indexed, in claim
            # order, so a claim reads about n rows however many are due.
            models.Index(
                fields=["workspace", "due_at", "id"],
                name="message_due_per_workspace",
                condition=Q(status__in=["scheduled", "sending"]),
            ),
            # Leased rows: counting what is in flight, finding expired leases.
            models.Index(
                fields=["lease_until"],
                name="message_leased",
                condition=Q(status="sending"),
            ),
            models.Index(fields=["workspace", "-id"], name="message_ws_id"),
            models.Index(fields=["contact", "-id"], name="message_contact"),
            # A broadcast's or a journey step's messages (figures, pause, cancel).
            models.Index(
                fields=["origin_kind", "origin_id"],
                name="message_origin",
                condition=Q(origin_id__isnull=False),
            ),
            models.Index(
                fields=["provider_message_id"],
                name="message_provider_id",
                condition=~Q(provider_message_id=""),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel} message {self.pk} ({self.status})"


class SandboxDelivery(models.Model):
    """What the sandbox provider 'sent': nothing leaves the machine, the dashboard's
    outbox shows these."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    message = TenantForeignKey(
        Message, null=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    message_uuid = models.UUIDField()
    channel = models.CharField(max_length=8, choices=Channel.choices)
    to_address = models.CharField(max_length=254)
    from_address = models.CharField(max_length=254, blank=True, default="")
    subject = models.CharField(max_length=500, blank=True, default="")
    body_html = models.TextField(blank=True, default="")
    body_text = models.TextField(blank=True, default="")
    headers = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "campaigns_sandboxdelivery"
        # The sandbox honours the idempotency key as a real provider would.
        constraints = [
            models.UniqueConstraint(
                fields=["message_uuid", "workspace"], name="sandbox_delivery_once_per_workspace"
            ),
        ]
        indexes = [models.Index(fields=["workspace", "-id"], name="sandbox_ws_id")]

    def __str__(self) -> str:
        return f"sandbox {self.channel} to {self.to_address}"


class TrackingEvent(models.Model):
    """An open or click. Bot and prefetch hits are kept but flagged, not counted."""

    class Kind(models.TextChoices):
        OPEN = "open", "Open"
        CLICK = "click", "Click"

    workspace = WorkspaceKey(Workspace, on_delete=models.CASCADE, related_name="+")
    message = TenantForeignKey(Message, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    url = models.TextField(blank=True, default="")
    user_agent = models.CharField(max_length=500, blank=True, default="")
    is_bot = models.BooleanField(default=False)
    source = models.CharField(max_length=16, default="pixel", help_text="pixel, link or webhook")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "campaigns_trackingevent"

    def __str__(self) -> str:
        return f"{self.kind} on {self.message_id}"


class WebhookEvent(models.Model):
    """A provider callback seen once: its (provider, event id) is unique in the
    workspace of the message or number it names (recorded only once that is known), so
    a replay or a duplicate delivery is recognised and not applied twice."""

    provider = models.CharField(max_length=32)
    event_id = models.CharField(max_length=200)
    kind = models.CharField(max_length=32)
    payload = models.JSONField(default=dict)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "campaigns_webhookevent"
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "event_id", "workspace"],
                name="webhook_event_once_per_workspace",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.kind} {self.event_id}"


class MessagingSettings(models.Model):
    """Per-workspace sending settings (one row, created on first use)."""

    workspace = models.OneToOneField(
        Workspace, primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    from_name = models.CharField(max_length=200, blank=True, default="")
    from_email = models.CharField(max_length=254, blank=True, default="")
    # Reply-To of every email, unless the template names its own.
    reply_to = models.CharField(max_length=254, blank=True, default="")
    sms_from_number = models.CharField(max_length=16, blank=True, default="", help_text="E.164")
    sms_help_text = models.CharField(
        max_length=320,
        blank=True,
        default="Reply STOP to unsubscribe. Msg&data rates may apply.",
    )
    # Messages a minute this workspace may hand to providers; 0 = the default.
    rate_limit_per_minute = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "campaigns_messagingsettings"
        verbose_name_plural = "messaging settings"
        constraints = [
            models.UniqueConstraint(
                fields=["sms_from_number"],
                condition=~Q(sms_from_number=""),
                name="messaging_sms_number_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"messaging settings of {self.workspace_id}"


class CapPolicy(models.TextChoices):
    DEFER = "defer", "Defer to the next allowed time"
    SKIP = "skip", "Skip (suppress with the reason)"


class SendingPolicy(models.Model):
    """Contact pressure for one channel of a workspace, applied by the dispatcher just
    before a marketing message is sent (transactional and test messages bypass it).
    Without a row: no cap; SMS keeps quiet hours CAMPAIGNS_SMS_QUIET_HOURS (21:00-08:00)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    cap_messages = models.PositiveIntegerField(
        null=True, blank=True, help_text="At most this many marketing messages …"
    )
    cap_period_hours = models.PositiveIntegerField(default=168, help_text="… in this many hours")
    cap_policy = models.CharField(max_length=8, choices=CapPolicy.choices, default="defer")
    quiet_hours_enabled = models.BooleanField(default=False)
    quiet_start = models.TimeField(default=dt.time(21, 0))
    quiet_end = models.TimeField(default=dt.time(8, 0))

    class Meta:
        db_table = "campaigns_sendingpolicy"
        verbose_name_plural = "sending policies"
        constraints = [
            models.UniqueConstraint(fields=["workspace", "channel"], name="sending_policy_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} policy of {self.workspace_id}"
