"""Rollups kept current by workers, so that dashboard figures never scan raw events,
and the few inputs analytics needs from marketers (spend per source). Every rollup is
derived: `analytics/rollups/` can rebuild it from contacts, events and transitions,
which stay the definition the tests compare with."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from config.fields import TenantForeignKey, WorkspaceKey
from contacts.models import Contact
from lifecycle.models import Stage
from workspaces.models import Workspace


class AnalyticsSettings(models.Model):
    """What the figures mean in a workspace."""

    workspace = models.OneToOneField(
        Workspace, primary_key=True, on_delete=models.CASCADE, related_name="analytics_settings"
    )
    churned_stage_key = models.SlugField(max_length=40, default="lapsed")
    at_risk_stage_key = models.SlugField(max_length=40, default="at_risk")
    source_attribute = models.CharField(
        max_length=64,
        default="signup_source",
        help_text="The contact attribute that names how a contact was acquired.",
    )
    # When the nightly work last started (claimed by a conditional update, so two beats
    # never start it twice).
    rollups_rebuilt_at = models.DateTimeField(null=True, blank=True)
    clv_fitted_at = models.DateTimeField(null=True, blank=True)
    drift_checked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"analytics settings of {self.workspace_id}"


class StageFlowDay(models.Model):
    """Moves between stages per day (in the workspace's time zone). Entries into and
    exits out of a stage, and its size on any day, are sums over these rows."""

    workspace = WorkspaceKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    day = models.DateField()
    from_stage = TenantForeignKey(
        Stage, null=True, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    to_stage = TenantForeignKey(Stage, on_delete=models.CASCADE, related_name="+", db_index=False)
    moves = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "day", "from_stage", "to_stage"],
                name="stage_flow_day_unique",
                nulls_distinct=False,
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.from_stage_id}->{self.to_stage_id} x{self.moves}"


# Rollup rows point at contacts without a database constraint: they are derived data,
# and an FK check would lock the contact row (KEY SHARE) inside the engine's
# transaction for nothing. Erasure takes a contact's rows out (hook), and the nightly
# rebuild recomputes everything from the raw data.
# The big derived tables (a row per stay, contact, contact-month) keep no foreign-key
# constraints: a rebuild writes millions of rows, and checking each reference at commit
# took 39 s of a 145 s rebuild at 1M contacts. They are derived: rebuilt from the
# tables they point at, and cleared when a contact, stage or workspace is deleted
# (analytics.rollups.on_*_deleted).
_DERIVED: dict = {"on_delete": models.DO_NOTHING, "db_constraint": False}


class Stay(models.Model):
    """One contact's time in one stage: from a transition to the next (open while the
    contact is still there)."""

    contact = models.ForeignKey(Contact, related_name="+", db_index=False, **_DERIVED)
    workspace = models.ForeignKey(Workspace, related_name="+", db_index=False, **_DERIVED)
    stage = models.ForeignKey(Stage, related_name="+", db_index=False, **_DERIVED)
    transition_id = models.BigIntegerField(help_text="the move that began it")
    entered_at = models.DateTimeField()
    left_at = models.DateTimeField(null=True, blank=True)
    # For conversion (ConversionDay): whether this is the contact's first-ever entry
    # into the stage, and for such an entry the next stage of the funnel path when the
    # stay was written and the contact's first entry into it at or after this one.
    first_entry = models.BooleanField(default=False, db_default=False)
    next_stage_id = models.BigIntegerField(null=True, blank=True)
    converted_at = models.DateTimeField(null=True, blank=True)
    # For churn (ChurnCover): the first local day at whose start this stay counts its
    # contact as a customer in the stage (after the day it began and the contact's
    # first purchase); none while the contact has not bought.
    cover_from = models.DateField(null=True, blank=True)
    # The contact's group in its facts (rollups/stay_groups.py keeps it with the counts
    # by group): a source or signup-month filter reads a percentile's bucket of stays
    # from the partial indexes below, which carry it, without the facts.
    source = models.CharField(max_length=200, default="", blank=True)
    signup_month = models.DateField(null=True, blank=True)

    class Meta:
        constraints = [
            # Unique with the workspace (issue 20), the transition first.
            models.UniqueConstraint(
                fields=["transition_id", "workspace"], name="stay_transition_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["contact", "entered_at"], name="stay_contact"),
            models.Index(fields=["workspace", "stage", "entered_at"], name="stay_ws_stage_entered"),
            models.Index(fields=["workspace", "stage", "left_at"], name="stay_ws_stage_left"),
        ]

    def __str__(self) -> str:
        return f"{self.contact_id} in {self.stage_id} from {self.entered_at:%Y-%m-%d}"


class CustomerFacts(models.Model):
    """Per contact: how it was acquired and what it bought, for cohorts, repeat
    purchase and lifetime value; predicted values are written by the CLV fit."""

    contact = models.OneToOneField(Contact, primary_key=True, related_name="+", **_DERIVED)
    workspace = models.ForeignKey(Workspace, related_name="+", db_index=False, **_DERIVED)
    signup_at = models.DateTimeField()
    signup_month = models.DateField()
    source = models.CharField(max_length=200, default="")
    first_purchase_at = models.DateTimeField(null=True, blank=True)
    first_purchase_month = models.DateField(null=True, blank=True)
    last_purchase_at = models.DateTimeField(null=True, blank=True)
    orders = models.IntegerField(default=0, help_text="purchase days")
    purchases = models.IntegerField(default=0)
    revenue = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    predicted_clv = models.DecimalField(max_digits=16, decimal_places=2, null=True, blank=True)
    probability_alive = models.FloatField(null=True, blank=True)
    expected_purchases = models.FloatField(null=True, blank=True)

    class Meta:
        indexes = [
            # The contacts a source or signup-month filter keeps, from the index alone.
            models.Index(
                fields=["workspace", "signup_month", "source"],
                include=["contact"],
                name="facts_ws_cohort",
            ),
            models.Index(
                fields=["workspace", "source"], include=["contact"], name="facts_ws_source"
            ),
            models.Index(fields=["workspace", "first_purchase_at"], name="facts_ws_first_purchase"),
            models.Index(fields=["workspace", "signup_at"], name="facts_ws_signup"),
        ]

    def __str__(self) -> str:
        return f"facts of {self.contact_id}"


class ContactMonth(models.Model):
    """A contact's activity in one calendar month (workspace time zone)."""

    contact = models.ForeignKey(Contact, related_name="+", db_index=False, **_DERIVED)
    workspace = models.ForeignKey(Workspace, related_name="+", db_index=False, **_DERIVED)
    month = models.DateField()
    events = models.IntegerField(default=0)
    purchases = models.IntegerField(default=0)
    revenue = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    # Bit d-1 is set when the contact had any event on local day d of the month: which
    # days it was active, so "active in a period" is exact for any run of days (a period
    # rarely starts on the 1st) without a row per contact and day.
    active_days = models.IntegerField(default=0, help_text="bit d-1: any event on day d")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["contact", "month", "workspace"], name="contact_month_ws_unique"
            ),
        ]
        indexes = [models.Index(fields=["workspace", "month"], name="contact_month_ws")]

    def __str__(self) -> str:
        return f"{self.contact_id} {self.month:%Y-%m}"


class CohortCell(models.Model):
    """For a cohort (contacts who signed up, or first bought, in a month) and a later
    month: how many were active, how many bought, and the revenue — per acquisition
    source, so a source filter is a sum over fewer rows. `month` equal to the cohort
    month with `size` set carries the cohort's size."""

    class Basis(models.TextChoices):
        SIGNUP = "signup", "Signup month"
        FIRST_PURCHASE = "first_purchase", "First purchase month"

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    basis = models.CharField(max_length=16, choices=Basis.choices)
    cohort = models.DateField()
    month = models.DateField()
    source = models.CharField(max_length=200, default="")
    size = models.IntegerField(default=0)
    active = models.IntegerField(default=0)
    purchasing = models.IntegerField(default=0)
    revenue = models.DecimalField(max_digits=16, decimal_places=2, default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "basis", "cohort", "month", "source"],
                name="cohort_cell_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.basis} {self.cohort:%Y-%m} @ {self.month:%Y-%m} ({self.source})"


class DriftCheck(models.Model):
    """One comparison of a workspace's derived rows (event summaries and rollups) with
    what its raw rows give (analytics/services/drift.py). The target is zero rows
    differing; this is how we know."""

    class Scope(models.TextChoices):
        SAMPLE = "sample", "A sample of contacts"
        ALL = "all", "Every contact"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    checked_at = models.DateTimeField(default=timezone.now)
    scope = models.CharField(max_length=8, choices=Scope.choices)
    contacts_checked = models.IntegerField(default=0)
    rows_checked = models.IntegerField(default=0)
    rows_differing = models.IntegerField(default=0)
    rows_repaired = models.IntegerField(
        default=0,
        help_text="differing rows repaired, or queued for the engine (summaries, facts, months)",
    )
    repair = models.BooleanField(default=True, help_text="whether differences were repaired")
    tables = models.JSONField(default=dict, help_text="per table: rows checked and differing")
    seconds = models.FloatField(default=0.0)

    class Meta:
        indexes = [models.Index(fields=["workspace", "-checked_at"], name="drift_ws_checked")]

    def __str__(self) -> str:
        return f"drift check of {self.workspace_id}: {self.rows_differing}/{self.rows_checked}"


class Spend(models.Model):
    """What a marketer spent on an acquisition source in a month, for CAC."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    source = models.CharField(max_length=200)
    month = models.DateField()
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "source", "month"], name="spend_unique"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="spend_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.source} {self.month:%Y-%m}: {self.amount}"


class ClvModel(models.Model):
    """A fit of BG/NBD and Gamma-Gamma to a workspace's purchases up to `as_of`."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    as_of = models.DateField()
    r = models.FloatField()
    alpha = models.FloatField()
    a = models.FloatField()
    b = models.FloatField()
    p = models.FloatField(null=True, blank=True)
    q = models.FloatField(null=True, blank=True)
    gamma = models.FloatField(null=True, blank=True)
    log_likelihood = models.FloatField(help_text="of the BG/NBD fit")
    gamma_gamma_log_likelihood = models.FloatField(null=True, blank=True)
    customers = models.IntegerField(help_text="customers with a purchase up to as_of")
    repeat_customers = models.IntegerField(default=0)
    horizon_weeks = models.FloatField(default=52.0)
    fit_seconds = models.FloatField()
    fitted_at = models.DateTimeField(default=timezone.now)
    applied = models.BooleanField(
        default=False, help_text="its predictions are on the contacts (a fit as of today)"
    )
    holdout = models.JSONField(
        null=True,
        blank=True,
        help_text="for a fit as of a past date: predicted and actual purchases since then",
    )

    class SpendModel(models.TextChoices):
        GAMMA_GAMMA = "gamma_gamma", "Gamma-Gamma"
        SHRUNK_MEAN = "shrunk_mean", "Own mean order value shrunk to the population mean"
        NONE = "", "None (too few repeat customers)"

    spend_model = models.CharField(
        max_length=16,
        choices=SpendModel.choices,
        blank=True,
        default=SpendModel.GAMMA_GAMMA,
        help_text="how the value of a future order is predicted",
    )
    spend_model_reason = models.TextField(
        blank=True, default="", help_text="why the Gamma-Gamma fit was not used, in words"
    )
    population_mean_order = models.DecimalField(
        max_digits=16,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="the mean repeat order value the shrunk-mean estimate pulls towards",
    )
    backtest = models.JSONField(
        null=True,
        blank=True,
        help_text="for an applied fit: the same model refitted on the data up to a past day, "
        "its predicted purchases since then against the actual ones",
    )

    class Meta:
        indexes = [models.Index(fields=["workspace", "-fitted_at"], name="clv_ws_fitted")]

    def __str__(self) -> str:
        return f"CLV fit of {self.workspace_id} as of {self.as_of}"


class ClvRefit(models.Model):
    """A refit of the CLV models asked for on the dashboard, run by a worker; kept for
    the page's live status ("waiting for a worker", "refitting for 12 s", done, failed)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    requested_by = models.CharField(max_length=254, blank=True, default="")
    requested_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    model = TenantForeignKey(
        "ClvModel", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    error = models.TextField(blank=True, default="")

    class Meta:
        indexes = [
            models.Index(fields=["workspace", "-requested_at"], name="clvrefit_ws_requested")
        ]

    def __str__(self) -> str:
        return f"CLV refit {self.pk} of {self.workspace_id}"


class RollupRebuild(models.Model):
    """A rebuild of the workspace's rollups from the raw data asked for on the
    dashboard by an owner or admin, run by a worker; kept for the page's live status
    and, once finished, as the estimate of how long the next one takes."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    requested_by = models.CharField(max_length=254, blank=True, default="")
    requested_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    seconds = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["workspace", "-requested_at"], name="rebuild_ws_requested")]

    def __str__(self) -> str:
        return f"Rollup rebuild {self.pk} of {self.workspace_id}"


import analytics.models_periods  # noqa: E402,F401 - registers PurchaseDay … StayLength
from analytics.models_clv import ClvSummary, ClvSummaryState  # noqa: E402,F401
from analytics.models_loyalty import LoyaltyActiveGap, LoyaltyDay, LoyaltyTierMoveDay  # noqa: E402,F401
from analytics.models_surveys import (  # noqa: E402,F401
    AnswerGroupDay,
    ContactAnswerDay,
    SurveyAnswerDay,
    SurveySegmentAnswerDay,
    SurveySegmentSendDay,
    SurveySendDay,
)
