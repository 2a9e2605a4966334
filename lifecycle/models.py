"""Lifecycle stages, each contact's current stage, and the history of every move."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.db.models.functions import Now
from django.utils import timezone

from config.fields import TenantForeignKey, TenantOneToOneField, WorkspaceKey
from contacts.models import Contact
from workspaces.models import ApiKey, User, Workspace


class Stage(models.Model):
    """A lifecycle stage of a workspace. A contact is in the first stage, by position,
    whose entry rule it matches, else in the workspace's default stage. A removed
    stage is archived (history keeps pointing at it), never deleted."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    key = models.SlugField(max_length=40)
    name = models.CharField(max_length=100)
    colour = models.CharField(max_length=7, default="#6c757d", help_text="#rrggbb")
    description = models.TextField(blank=True, default="")
    position = models.PositiveIntegerField(help_text="Evaluation order: lower first.")
    rule = models.JSONField(null=True, blank=True, help_text="Entry rule; none on the default.")
    rule_version = models.PositiveIntegerField(default=1)
    is_default = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "key"],
                condition=Q(archived_at__isnull=True),
                name="stage_key_unique",
            ),
            models.UniqueConstraint(
                fields=["workspace"],
                condition=Q(is_default=True, archived_at__isnull=True),
                name="stage_one_default",
            ),
        ]
        indexes = [models.Index(fields=["workspace", "position"], name="stage_ws_position")]

    def __str__(self) -> str:
        return self.name


class ContactStage(models.Model):
    """Where a contact is now. A manual move may pin it there (until a date, or until
    unpinned); rules do not move pinned contacts."""

    contact = TenantOneToOneField(
        Contact, primary_key=True, on_delete=models.CASCADE, related_name="lifecycle"
    )
    workspace = WorkspaceKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    stage = TenantForeignKey(Stage, on_delete=models.RESTRICT, related_name="+", db_index=False)
    entered_at = models.DateTimeField(default=timezone.now)
    pinned = models.BooleanField(default=False)
    pinned_until = models.DateTimeField(null=True, blank=True)

    # No index on stage: a sweep moves a tenth of a workspace at a time, and without
    # one those updates are HOT (the row is rewritten in place, no index touched).
    # Counts per stage read this narrow table whole, or analytics' daily rollups.

    def __str__(self) -> str:
        return f"{self.contact_id} in {self.stage_id}"

    def is_pinned(self, now: object = None) -> bool:
        moment = now or timezone.now()
        return self.pinned and (self.pinned_until is None or self.pinned_until > moment)  # type: ignore[operator]


class ContactDue(models.Model):
    """The earliest moment at which time alone could change what the stage rules say
    of a contact (docs/rules.md, "Due moments"): last purchase + 90 days, the 5th most
    recent page view + 30 days, a pin's end. A contact with no row has none: only a
    change to its data (a mark) or to the rules can move it. The due evaluation reads
    the rows whose moment has come, by (workspace, due_at)."""

    contact = TenantOneToOneField(
        Contact, primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    workspace = WorkspaceKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    due_at = models.DateTimeField()
    # When the statement that computed it started (the database clock): a computation
    # from an older snapshot never overwrites a newer one.
    computed_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["workspace", "due_at"], name="contactdue_ws_due")]

    def __str__(self) -> str:
        return f"{self.contact_id} due {self.due_at}"


class Cause(models.TextChoices):
    RULE = "rule", "Rule"
    MANUAL = "manual", "Manual (dashboard)"
    API = "api", "API"
    IMPORT = "import", "Import"


class StageTransition(models.Model):
    """One move of one contact, with what caused it and the version of the rule that
    put it there. The history is never rewritten."""

    workspace = WorkspaceKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    contact = TenantForeignKey(
        Contact, on_delete=models.CASCADE, related_name="stage_transitions", db_index=False
    )
    # Sweeps write transitions by the hundred thousand; only the indexes below are
    # kept (reads go by contact or by workspace and time), so no per-FK indexes.
    from_stage = TenantForeignKey(
        Stage, null=True, blank=True, on_delete=models.RESTRICT, related_name="+", db_index=False
    )
    to_stage = TenantForeignKey(Stage, on_delete=models.RESTRICT, related_name="+", db_index=False)
    # Two times: `at` is when the move happened in the contact's life (the event or
    # the time boundary that caused it; what analytics read), `recorded_at` when
    # Stagecraft learned it (a history import or a late event records moves in the past).
    at = models.DateTimeField(default=timezone.now)
    recorded_at = models.DateTimeField(default=timezone.now, db_default=Now())
    cause = models.CharField(max_length=8, choices=Cause.choices)
    # The event that caused a rule move (none for a time boundary or a manual move).
    event_id = models.BigIntegerField(null=True, blank=True)
    event_name = models.CharField(max_length=200, blank=True, default="", db_default="")
    rule_version = models.PositiveIntegerField(default=0)
    reason = models.TextField(blank=True, default="")
    actor_user = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    actor_api_key = models.ForeignKey(
        ApiKey,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    # Set when the stage.changed hooks (journeys, webhooks) have seen this move.
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # An imported move is stored once (its natural key): the same file or
            # request sent twice adds nothing (lifecycle/services/history.py).
            models.UniqueConstraint(
                fields=["workspace", "contact", "at", "to_stage"],
                condition=Q(cause="import"),
                name="transition_import_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["contact", "at"], name="transition_contact_at"),
            models.Index(fields=["workspace", "at"], name="transition_ws_at"),
            # The moves not yet handed to the hooks, per workspace (dispatch claims
            # one workspace's at a time).
            models.Index(
                fields=["workspace", "id"],
                condition=Q(notified_at__isnull=True),
                name="transition_unnotified",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contact_id}: {self.from_stage_id} -> {self.to_stage_id} ({self.cause})"


class SweepRun(models.Model):
    """A full re-evaluation of a workspace, split into id-range chunks that workers run
    in parallel. Kept for progress and for operators."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(max_length=100)
    chunks_total = models.PositiveIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0)
    contacts_changed = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    # The reason of the sweeps beat starts: time has passed, nothing else changed.
    PERIODIC = "periodic"
    # The reason, followed by their fingerprint, of a sweep that stores every contact's
    # due moment again because the rules other apps add to it changed
    # (services/due.py, `due_rules`). Like a periodic one, it moves only whom time
    # moved, dated at the boundary (nobody, when the due runs kept up).
    DUE_RULES = "due rules "
    # Recorded, with no work, when no rule is added any more (the journeys paused):
    # so that the same rules coming back count as a change.
    DUE_RULES_NONE = DUE_RULES + "none"

    class Meta:
        indexes = [models.Index(fields=["workspace", "-started_at"], name="sweep_ws_started")]

    def __str__(self) -> str:
        return f"sweep {self.pk} ({self.chunks_done}/{self.chunks_total})"

    @property
    def label(self) -> str:
        """The reason as the stages page says it."""
        if self.reason == self.PERIODIC:
            return "the daily check"
        if self.reason.startswith(self.DUE_RULES):
            return "a change to the segments journeys wait for"
        return self.reason


class WhatIfRun(models.Model):
    """A what-if funnel: the stage counts at each of the last 12 month ends under the
    proposed stage rules and under the current ones, computed by a worker (one step
    per month and rule set) and kept here with its progress."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The proposed stage list as POST /api/v1/stages/preview/ takes it ({"stages": ...}).
    proposal = models.JSONField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    steps_total = models.PositiveIntegerField(default=0)
    steps_done = models.PositiveIntegerField(default=0)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["workspace", "-created_at"], name="whatif_ws_created")]

    def __str__(self) -> str:
        return f"what-if {self.pk} ({self.status} {self.steps_done}/{self.steps_total})"
