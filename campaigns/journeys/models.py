"""Journeys: a trigger lets contacts in, steps move them along, a goal or an exit
criterion takes them out. Imported by campaigns.models.

Each contact's place in a journey is a `JourneyEnrolment` row with its current step
and the time that step is due; workers claim due rows (FOR UPDATE SKIP LOCKED, like
the outbox) and run steps until the contact waits, leaves or finishes
(campaigns/journeys/engine.py). Steps are rows keyed by a stable `key`, so a
journey edited while live keeps contacts on the steps that survive the edit."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from config.fields import TenantForeignKey, WorkspaceKey
from contacts.models import Contact
from workspaces.models import Workspace


class JourneyStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    LIVE = "live", "Live"
    PAUSED = "paused", "Paused"
    CANCELLED = "cancelled", "Cancelled"


class TriggerKind(models.TextChoices):
    STAGE_ENTERED = "stage_entered", "Enters a stage"
    STAGE_EXITED = "stage_exited", "Leaves a stage"
    EVENT = "event", "Performs an event"
    DATE = "date_attribute", "A date attribute comes round"
    SEGMENT_JOINED = "segment_joined", "Joins a segment"
    SURVEY_ANSWERED = "survey_answered", "Answers a survey"
    TIER_CHANGED = "tier_changed", "Changes loyalty tier"
    POINTS_EARNED = "points_earned", "Earns loyalty points"
    POINTS_EXPIRING = "points_expiring", "Has points about to expire"
    REWARD_REDEEMED = "reward_redeemed", "Redeems a reward"
    REFERRAL_CONVERTED = "referral_converted", "A referral converts"
    BACK_IN_STOCK = "back_in_stock", "A product they viewed or carted is back in stock"
    PRICE_DROP = "price_drop", "A product they viewed or carted drops in price"
    BROWSE_ABANDONED = "browse_abandoned", "Views products, then no cart or purchase"
    MANUAL = "manual", "Added by the API only"


class Reentry(models.TextChoices):
    ONCE = "once", "Once per contact"
    COOLDOWN = "cooldown", "Again after N days"
    ALWAYS = "always", "Every time (one enrolment at a time)"


class StepKind(models.TextChoices):
    SEND_EMAIL = "send_email", "Send email"
    SEND_SMS = "send_sms", "Send SMS"
    SEND_SURVEY = "send_survey", "Send a survey"
    WAIT = "wait", "Wait a duration"
    WAIT_UNTIL = "wait_until", "Wait until a local time"
    WAIT_FOR = "wait_for", "Wait for an event or rule"
    BRANCH = "branch", "Branch on a rule"
    SPLIT = "split", "Random split"
    UPDATE_ATTRIBUTE = "update_attribute", "Update an attribute"
    MOVE_STAGE = "move_stage", "Move to a stage"
    WEBHOOK = "webhook", "Call a webhook"
    EXIT = "exit", "Exit"


class Journey(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    status = models.CharField(
        max_length=16, choices=JourneyStatus.choices, default=JourneyStatus.DRAFT
    )
    # {"kind": TriggerKind, ...}: stage_id; event + properties; attribute, offset_days,
    # annual; segment_id; survey_id, category, score_min, score_max; tier_id,
    # direction; min_points; reward_id. Validated by
    # campaigns/journeys/definition.py.
    trigger = models.JSONField(default=dict)
    entry_key = models.CharField(max_length=40, blank=True, default="")
    # {"rule": rule} or {"event": {"name", "properties"}}, reached within goal_days.
    goal = models.JSONField(null=True, blank=True)
    goal_days = models.PositiveIntegerField(default=7)
    exit_rule = models.JSONField(null=True, blank=True)
    exit_on_stage_left = models.BooleanField(
        default=False, help_text="Stage triggers: leave when the contact leaves the stage."
    )
    exit_on_unsubscribe = models.BooleanField(default=True)
    reentry = models.CharField(max_length=16, choices=Reentry.choices, default=Reentry.ONCE)
    reentry_days = models.PositiveIntegerField(default=0)
    holdout_percent = models.PositiveSmallIntegerField(default=0)
    # Entries are accepted from this instant (schedule); set when it goes live.
    live_since = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="journey_name_unique"),
            models.CheckConstraint(
                condition=Q(holdout_percent__lte=50), name="journey_holdout_percent"
            ),
        ]
        indexes = [
            models.Index(fields=["workspace", "-id"], name="journey_ws_id"),
            models.Index(fields=["status"], name="journey_live", condition=Q(status="live")),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.status})"

    @property
    def trigger_kind(self) -> str:
        return str(self.trigger.get("kind", ""))


class JourneyStep(models.Model):
    """One step. Its successors are keys in `config` ("next"; "yes"/"no" for a
    branch; "timeout_next" for wait_for; paths[].next for a split). A step removed
    from a live journey keeps its row (messages and counts point at it)."""

    # Its parent's workspace, carried so that the table distributes by workspace
    # (issue 20); not indexed alone: the uniques and lookups go through the parent.
    workspace = WorkspaceKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    journey = TenantForeignKey(Journey, on_delete=models.CASCADE, related_name="steps")
    key = models.SlugField(max_length=40)
    kind = models.CharField(max_length=20, choices=StepKind.choices)
    name = models.CharField(max_length=200, blank=True, default="")
    config = models.JSONField(default=dict, blank=True)
    position = models.PositiveIntegerField(default=0)
    removed_at = models.DateTimeField(null=True, blank=True)
    # Counters, added to by the workers in the transaction that moved the contacts.
    entered = models.PositiveBigIntegerField(default=0)
    exited = models.PositiveBigIntegerField(default=0)
    converted = models.PositiveBigIntegerField(default=0)
    # Random split and A/B send steps: contacts assigned per path/variant label so far,
    # which keeps every share within one contact of its weight.
    assigned = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["journey", "key", "workspace"],
                condition=Q(removed_at__isnull=True),
                name="journey_step_key_ws_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.kind})"


class EnrolmentStatus(models.TextChoices):
    ACTIVE = "active", "In the journey"
    HOLDOUT = "holdout", "Held out (no messages; measured on the goal)"
    COMPLETED = "completed", "Completed"
    EXITED = "exited", "Exited"
    CONVERTED = "converted", "Reached the goal"


IN_JOURNEY = (EnrolmentStatus.ACTIVE, EnrolmentStatus.HOLDOUT)


class JourneyEnrolment(models.Model):
    """A contact's pass through a journey: where it is and when that step is due."""

    workspace = WorkspaceKey(Workspace, on_delete=models.CASCADE, related_name="+")
    journey = TenantForeignKey(Journey, on_delete=models.CASCADE, related_name="enrolments")
    contact = TenantForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    # None with status active: entered, not yet started (the first run places it).
    # Steps are never deleted but with their journey (a removed step is kept, marked).
    step = TenantForeignKey(
        JourneyStep, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    status = models.CharField(
        max_length=16, choices=EnrolmentStatus.choices, default=EnrolmentStatus.ACTIVE
    )
    due_at = models.DateTimeField(default=timezone.now)
    # What let it in: "transition:<id>", "event:<id>", "segment:<date-time>",
    # "date:<yyyy-mm-dd>", "survey:<response id>", "api:<key>"; unique per journey, so
    # a trigger counts once.
    trigger_key = models.CharField(max_length=120)
    entered_at = models.DateTimeField(default=timezone.now)
    step_entered_at = models.DateTimeField(default=timezone.now)
    goal_until = models.DateTimeField(null=True, blank=True)
    converted_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    exit_reason = models.CharField(max_length=60, blank=True, default="")
    # Set while parked at a wait (or a webhook retry): when the wait ends. `due_at` may
    # be brought forward (a goal, an exit, an awaited event); the wait still ends here.
    resume_at = models.DateTimeField(null=True, blank=True)
    # Webhook retries: attempts at the current step.
    attempts = models.PositiveSmallIntegerField(default=0)
    # Labels chosen at splits and A/B steps, {step key: label}.
    path = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            # The workspace last in each (issue 20): lookups by journey keep the index.
            models.UniqueConstraint(
                fields=["journey", "trigger_key", "workspace"],
                name="journey_enrolment_trigger_ws_unique",
            ),
            models.UniqueConstraint(
                fields=["journey", "contact", "workspace"],
                condition=Q(status__in=["active", "holdout"]),
                name="journey_enrolment_one_active_ws",
            ),
        ]
        indexes = [
            # Led by workspace_id: the claim's skip scan finds the workspaces with due
            # rows and reads each one's oldest (campaigns/journeys/claims.py).
            models.Index(
                fields=["workspace", "due_at", "id"],
                name="journey_enrolment_due_per_ws",
                condition=Q(status__in=["active", "holdout"]),
            ),
            models.Index(fields=["contact", "journey"], name="journey_enrolment_contact"),
            models.Index(fields=["journey", "status"], name="journey_enrolment_status"),
        ]

    def __str__(self) -> str:
        return f"{self.contact_id} in {self.journey_id} ({self.status})"


class JourneySegmentMember(models.Model):
    """Segment triggers: who was in the segment at the last look, so that a contact
    enters when it joins, not while it stays."""

    # Its parent's workspace, carried so that the table distributes by workspace
    # (issue 20); not indexed alone: the uniques and lookups go through the parent.
    workspace = WorkspaceKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    journey = TenantForeignKey(Journey, on_delete=models.CASCADE, related_name="+")
    contact = TenantForeignKey(Contact, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["journey", "contact", "workspace"], name="journey_member_ws_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contact_id} in segment of {self.journey_id}"


class JourneyScanMark(models.Model):
    """How far a scan trigger (browse abandonment) has looked for this journey: views
    whose window closed at or before `scanned_until` were judged. The scan locks this
    row (FOR UPDATE SKIP LOCKED) and moves it in the transaction that enrols, so two
    workers never judge one window and a retried run starts where the last one ended."""

    workspace = WorkspaceKey(Workspace, on_delete=models.CASCADE, related_name="+")
    journey = TenantForeignKey(Journey, on_delete=models.CASCADE, related_name="+")
    scanned_until = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "journey"], name="journey_scan_mark_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.journey_id} scanned until {self.scanned_until}"
