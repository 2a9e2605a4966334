"""Contacts, their events and consent, CSV import jobs, and the suppression list."""

from __future__ import annotations

from typing import Any

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now
from django.utils import timezone

from config.fields import TenantForeignKey, WorkspaceKey
from contacts.models.exports import ContactExport as ContactExport
from contacts.models.saved_views import SavedView as SavedView
from contacts.models.segments import Segment as Segment
from contacts.models.segments import SegmentMember as SegmentMember
from workspaces.models import ApiKey, User, Workspace


class EmailStatus(models.TextChoices):
    SUBSCRIBED = "subscribed", "Subscribed"
    UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
    BOUNCED = "bounced", "Bounced"
    COMPLAINED = "complained", "Complained"


class SmsStatus(models.TextChoices):
    # SMS needs explicit opt-in (TCPA, PECR): a number alone is not consent.
    NEVER_SUBSCRIBED = "never_subscribed", "Never subscribed"
    SUBSCRIBED = "subscribed", "Subscribed"
    UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
    INVALID = "invalid", "Invalid number"


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"


class ContactSearchVector(models.Func):
    """The words a contact is found by: its email whole and split at punctuation, its
    names and its external id. The same expression backs the index and the query."""

    template = (
        "to_tsvector('simple'::regconfig, coalesce(%(table)semail, '') || ' ' || "
        "translate(coalesce(%(table)semail, ''), '@.+_-', '     ') || ' ' || "
        "%(table)sfirst_name || ' ' || %(table)slast_name || ' ' || "
        "coalesce(%(table)sexternal_id, ''))"
    )
    output_field = SearchVectorField()

    def __init__(self, table: str = "", **extra: Any) -> None:
        super().__init__(table=f'"{table}".' if table else "", **extra)


class Contact(models.Model):
    # Indexed by contact_ws_id below (workspace first), so no index of its own.
    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    email = models.CharField(max_length=254, null=True, blank=True)  # noqa: DJ001 - NULL is "absent", unique when present
    phone = models.CharField(max_length=16, null=True, blank=True, help_text="E.164")  # noqa: DJ001 - NULL is "absent", unique when present
    external_id = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001 - NULL is "absent", unique when present
    first_name = models.CharField(max_length=100, blank=True, default="")
    last_name = models.CharField(max_length=100, blank=True, default="")
    time_zone = models.CharField(max_length=64, blank=True, default="", help_text="IANA")
    locale = models.CharField(max_length=35, blank=True, default="", help_text="BCP 47")
    attributes = models.JSONField(default=dict, blank=True)
    email_status = models.CharField(
        max_length=16, choices=EmailStatus.choices, default=EmailStatus.SUBSCRIBED
    )
    email_status_at = models.DateTimeField(default=timezone.now)
    email_status_source = models.CharField(max_length=64, blank=True, default="")
    sms_status = models.CharField(
        max_length=16, choices=SmsStatus.choices, default=SmsStatus.NEVER_SUBSCRIBED
    )
    sms_status_at = models.DateTimeField(default=timezone.now)
    sms_status_source = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    # When the contact signed up in the business's life: set by the API, imports and
    # the dashboard for history brought from elsewhere; the creation time otherwise.
    # Every figure that says "signup" reads this, never created_at.
    signed_up_at = models.DateTimeField(default=timezone.now, db_default=Now())

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "email"],
                condition=Q(email__isnull=False),
                name="contact_email_unique",
            ),
            models.UniqueConstraint(
                fields=["workspace", "external_id"],
                condition=Q(external_id__isnull=False),
                name="contact_external_id_unique",
            ),
            models.CheckConstraint(
                condition=Q(email__isnull=False)
                | Q(phone__isnull=False)
                | Q(external_id__isnull=False),
                name="contact_has_identifier",
            ),
        ]
        indexes = [
            # Lists page by id within a workspace; sync clients page by updated_at.
            models.Index(fields=["workspace", "id"], name="contact_ws_id"),
            models.Index(fields=["workspace", "updated_at", "id"], name="contact_ws_updated"),
            models.Index(fields=["workspace", "phone"], name="contact_ws_phone"),
            models.Index(fields=["workspace", "signed_up_at"], name="contact_ws_signed_up"),
            # Word-prefix search over email, names and external id at 1M contacts: a
            # full-text index (pg_trgm is not available on every PostgreSQL we run on).
            GinIndex(ContactSearchVector(), name="contact_search"),
        ]

    def __str__(self) -> str:
        return self.email or self.phone or self.external_id or f"contact {self.pk}"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class Event(models.Model):
    """Something a contact did. Revenue-carrying events are purchases for analytics."""

    # Covered by the composite indexes below (single-column ones slow down ingest).
    workspace = WorkspaceKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    contact = TenantForeignKey(
        Contact, on_delete=models.CASCADE, related_name="events", db_index=False
    )
    name = models.CharField(max_length=200)
    properties = models.JSONField(default=dict, blank=True)
    revenue = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True, default="")
    occurred_at = models.DateTimeField(default=timezone.now)
    received_at = models.DateTimeField(default=timezone.now)
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001 - NULL is "absent", unique when present

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="event_idempotency_unique",
            ),
        ]
        indexes = [
            # A contact's events by name and time (index-only windowed rule counts).
            models.Index(
                fields=["contact", "name", "occurred_at"],
                include=["workspace"],
                name="event_contact_name_time",
            ),
            models.Index(fields=["workspace", "name", "occurred_at"], name="event_ws_name_time"),
        ]

    def __str__(self) -> str:
        return f"{self.name} by {self.contact_id} at {self.occurred_at:%Y-%m-%d %H:%M}"


class ConsentChange(models.Model):
    """The history of a contact's consent per channel: when, what, and from where."""

    workspace = WorkspaceKey(Workspace, on_delete=models.CASCADE, related_name="+")
    contact = TenantForeignKey(Contact, on_delete=models.CASCADE, related_name="consent_changes")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    status = models.CharField(max_length=16)
    source = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["contact", "created_at"], name="consent_contact_time")]

    def __str__(self) -> str:
        return f"{self.channel} {self.status} ({self.source})"


class Suppression(models.Model):
    """An address or number that must not be messaged, kept even after the contact is
    erased. Only a SHA-256 of the normalised value is stored."""

    class Reason(models.TextChoices):
        UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
        BOUNCED = "bounced", "Hard bounce"
        COMPLAINED = "complained", "Complaint"
        INVALID = "invalid", "Invalid number"
        ERASED = "erased", "Erased on request"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    value_hash = models.CharField(max_length=64)
    reason = models.CharField(max_length=16, choices=Reason.choices)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "channel", "value_hash"], name="suppression_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.value_hash[:10]}… ({self.reason})"


class ImportJob(models.Model):
    """A CSV import: uploaded, mapped, then run by a worker in checkpointed chunks."""

    class Status(models.TextChoices):
        MAPPING = "mapping", "Waiting for column mapping"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"

    class MatchOn(models.TextChoices):
        EMAIL = "email", "Email"
        EXTERNAL_ID = "external_id", "External id"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by_api_key = models.ForeignKey(
        ApiKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    file = models.FileField(upload_to="imports/%Y/%m/")
    filename = models.CharField(max_length=255)
    # "contacts", or a kind a later app registers (contacts/import_kinds.py).
    kind = models.CharField(max_length=32, default="contacts", db_default="contacts")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.MAPPING)
    headers = models.JSONField(default=list)
    mapping = models.JSONField(default=dict, blank=True)
    match_on = models.CharField(max_length=16, choices=MatchOn.choices, default=MatchOn.EMAIL)
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    unchanged_count = models.PositiveIntegerField(default=0)
    rejected_count = models.PositiveIntegerField(default=0)
    # The progress counters above, as the API and the admin show them.
    COUNTERS = (
        "total_rows",
        "processed_rows",
        "created_count",
        "updated_count",
        "unchanged_count",
        "rejected_count",
    )
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["workspace", "-created_at"], name="import_ws_created")]

    def __str__(self) -> str:
        return f"{self.filename} ({self.status})"

    @property
    def progress_percent(self) -> int:
        if not self.total_rows:
            return 100 if self.status == self.Status.COMPLETED else 0
        return min(100, round(100 * self.processed_rows / self.total_rows))

    @property
    def is_finished(self) -> bool:
        return self.status in {self.Status.COMPLETED, self.Status.FAILED}


class ImportRowError(models.Model):
    # Its parent's workspace, carried so that the table distributes by workspace
    # (issue 20); not indexed alone: the uniques and lookups go through the parent.
    workspace = WorkspaceKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    job = TenantForeignKey(ImportJob, on_delete=models.CASCADE, related_name="row_errors")
    row_number = models.PositiveIntegerField(help_text="The line in the file; the header is 1.")
    reason = models.TextField()
    values = models.JSONField(default=dict)

    class Meta:
        ordering = ["row_number"]
        indexes = [models.Index(fields=["job", "row_number"], name="import_error_row")]

    def __str__(self) -> str:
        return f"row {self.row_number}: {self.reason}"


class ContactMark(models.Model):
    """A change to a contact that the lifecycle engine has not acted on yet.

    Written by every change that can move a contact between stages (events, attribute
    and consent changes, imports) in the same statement or transaction as the change,
    and appended: one row per writing statement and contact, never updated or deleted
    by a writer (ingest may instead join a pending mark about an earlier moment,
    share-locking it to its commit, never waiting: contacts/services/events.py), so a
    writer never waits for the engine and the engine never waits for a writer. The
    engine claims a contact's rows (`claim`, `claimed_at`), acts, and deletes exactly
    the rows it claimed; a change committed meanwhile is a new row, so it is never
    lost. A table rather than a Redis set so that a mark survives any restart
    (contacts/services/marks.py)."""

    id = models.BigAutoField(primary_key=True)
    contact = TenantForeignKey(Contact, on_delete=models.CASCADE, related_name="+", db_index=False)
    workspace = WorkspaceKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    marked_at = models.DateTimeField(default=timezone.now)
    # What changed the contact, for the cause of a resulting stage move: "api",
    # "import", or "rule" for everything else (dashboard edits, demo, system).
    source = models.CharField(max_length=16, default="rule")
    # The earliest moment in the contact's life the change is about (an event's
    # occurred_at, an imported stage date, a signup date), when it may be in the past:
    # the engine replays the contact's stage history from there. NULL: now.
    since = models.DateTimeField(null=True, blank=True)
    # The engine's claim on this row (one token per claimed batch), and since when.
    claim = models.UUIDField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # Claimed before the others (contacts/services/marks.py): a change that can move
    # the contact's stage now or that a live journey waits for, or an edit. An event
    # that provably cannot (a page view the rules of the contact's stage and those
    # before it never read) and bulk changes (imports, drift repairs) wait their turn.
    urgent = models.BooleanField(default=True, db_default=True)

    class Meta:
        indexes = [
            # The queue of a workspace, oldest first; also lists the workspaces with
            # work (a skip scan over its first column).
            models.Index(
                fields=["workspace", "id"],
                condition=Q(claimed_at__isnull=True),
                name="contactmark_pending",
            ),
            # The urgent part of the queue, oldest first.
            models.Index(
                fields=["workspace", "id"],
                condition=Q(claimed_at__isnull=True, urgent=True),
                name="contactmark_urgent",
            ),
            models.Index(fields=["contact"], name="contactmark_contact"),
            # The claim's "is this contact held by another claim?" probe: only claimed
            # rows, so it never walks a busy contact's pending (or dead) rows.
            models.Index(
                fields=["contact"],
                condition=Q(claimed_at__isnull=False),
                name="contactmark_held",
            ),
            models.Index(
                fields=["claim"], condition=Q(claim__isnull=False), name="contactmark_claim"
            ),
            models.Index(
                fields=["claimed_at"],
                condition=Q(claimed_at__isnull=False),
                name="contactmark_claimed_at",
            ),
        ]

    def __str__(self) -> str:
        return f"contact {self.contact_id} marked at {self.marked_at:%H:%M:%S}"


class EventSummary(models.Model):
    """Per contact and event name: how many, when first and last, and revenue.

    Derived from contacts_event and rebuilt for a contact whenever its marks are
    drained (contacts/services/summaries.py), so it is always recomputable from the
    raw events, which stay the definition. Rules read it instead of aggregating raw
    events on every evaluation."""

    contact = TenantForeignKey(Contact, on_delete=models.CASCADE, related_name="+", db_index=False)
    workspace = WorkspaceKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    name = models.CharField(max_length=200)
    count = models.PositiveIntegerField()
    first_at = models.DateTimeField()
    last_at = models.DateTimeField()
    revenue = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    revenue_count = models.PositiveIntegerField(default=0, help_text="events with revenue")

    class Meta:
        constraints = [
            # The workspace last: the engine's lookups by (contact, name) keep the index.
            models.UniqueConstraint(
                fields=["contact", "name", "workspace"], name="event_summary_ws_unique"
            ),
        ]
        indexes = [
            # Set-based rule evaluation reads one event name for a range of contacts;
            # the included columns make those reads index-only scans.
            models.Index(
                fields=["workspace", "name", "contact"],
                name="event_summary_ws_name",
                include=["count", "first_at", "last_at", "revenue", "revenue_count"],
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contact_id} {self.name} x{self.count}"
