"""Rollups that make a period's figures cheap at any day range (issue 19): counts per
day (and per pair or triple of days) from which distinct counts over any run of days
come out exact, without reading individual contacts, stays or purchases.

- PurchaseDay: per contact and local day with a purchase (an order): its purchases
  and revenue, and the contact's two previous order days. The definition rows of
  OrderDay, kept per contact so that a refresh knows what a contact contributed.
- OrderDay: the purchase days summed per (day, previous order day, the one before):
  orders, purchases, revenue. A contact bought in [s, e] iff one of its order days d
  in [s, e] has no previous order day on or after s, and it is a repeat customer of
  [s, e] iff the second of its order days in [s, e] has its previous in [s, d) and
  the one before that earlier than s: each counted once, by one row.
- ActiveDay: per (day, previous active day) how many contacts had an event on `day`
  and their previous event day before it was `previous` (the active days of
  ContactMonth, in pairs): contacts active in [s, e] are the rows with day in [s, e]
  and previous before s (or none).
- AcquisitionDay: contacts per (signup day, first purchase day, source): new contacts,
  new customers and both, per source (and month of signup: that of the signup day).
- StageFlowGroupDay: StageFlowDay's moves per day by the moving contacts' source and
  signup month (rollups/flow_groups.py), for the filters of those two.
- StayLength: stays per stage: ended ones per (local day they ended, whole days they
  lasted), open ones per (local day they began); exact counts and histogram buckets,
  and where a percentile falls, so that only that day's stays are read for its exact
  value.

Every day is a local day in the workspace's time zone."""

from __future__ import annotations

from django.db import models

from config.fields import TenantForeignKey, WorkspaceKey
from lifecycle.models import Stage
from workspaces.models import Workspace

_DERIVED: dict = {"on_delete": models.DO_NOTHING, "db_constraint": False}


class PurchaseDay(models.Model):
    contact_id = models.BigIntegerField()
    workspace = models.ForeignKey(Workspace, related_name="+", db_index=False, **_DERIVED)
    day = models.DateField()
    previous_day = models.DateField(null=True, blank=True)
    previous2_day = models.DateField(null=True, blank=True)
    purchases = models.IntegerField(default=0)
    revenue = models.DecimalField(max_digits=16, decimal_places=2, default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["contact_id", "day", "workspace"], name="purchase_day_ws_unique"
            ),
        ]
        indexes = [models.Index(fields=["workspace", "day"], name="purchase_day_ws")]

    def __str__(self) -> str:
        return f"{self.contact_id} bought on {self.day}"


class OrderDay(models.Model):
    workspace = models.ForeignKey(Workspace, related_name="+", db_index=False, **_DERIVED)
    day = models.DateField()
    previous_day = models.DateField(null=True, blank=True)
    previous2_day = models.DateField(null=True, blank=True)
    orders = models.IntegerField(default=0)
    purchases = models.IntegerField(default=0)
    revenue = models.DecimalField(max_digits=18, decimal_places=2, default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "day", "previous_day", "previous2_day"],
                name="order_day_unique",
                nulls_distinct=False,
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day}: {self.orders} orders"


class ActiveDay(models.Model):
    workspace = models.ForeignKey(Workspace, related_name="+", db_index=False, **_DERIVED)
    day = models.DateField()
    previous_day = models.DateField(null=True, blank=True)
    contacts = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "day", "previous_day"],
                name="active_day_unique",
                nulls_distinct=False,
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day}: {self.contacts} active"


class AcquisitionDay(models.Model):
    workspace = models.ForeignKey(Workspace, related_name="+", db_index=False, **_DERIVED)
    signup_day = models.DateField()
    first_purchase_day = models.DateField(null=True, blank=True)
    source = models.CharField(max_length=200, default="")
    contacts = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "signup_day", "first_purchase_day", "source"],
                name="acquisition_day_unique",
                nulls_distinct=False,
            ),
        ]
        indexes = [  # a source filter's rows from the index alone
            models.Index(
                fields=["workspace", "source"],
                include=["signup_day", "first_purchase_day", "contacts"],
                name="acquisition_day_source",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.signup_day} {self.source}: {self.contacts}"


class StayLength(models.Model):
    workspace = models.ForeignKey(Workspace, related_name="+", db_index=False, **_DERIVED)
    stage = TenantForeignKey(Stage, on_delete=models.CASCADE, related_name="+", db_index=False)
    open = models.BooleanField(help_text="open stays: day is the day it began, days 0")
    day = models.DateField(help_text="the local day the stay ended (open: began)")
    days = models.IntegerField(help_text="whole days it lasted (floor)")
    stays = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "stage", "open", "day", "days"], name="stay_length_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"stage {self.stage_id} {self.day} {self.days}d x{self.stays}"


class ConversionDay(models.Model):
    """First-ever entries into a stage per (stage, the funnel's next stage when the stay
    was written, local day of the entry, whole days until the contact first entered the
    next stage at or after it — null when it has not): the conversion figures' counts,
    and where a percentile falls, so that only that day's entries are read for its
    exact value (as StayLength for time in stage). A stage off the path, or last on it,
    has no next stage; rows whose (stage, next stage) is not the current path's say
    the stays were written for another path (the figures then read the stays)."""

    workspace = models.ForeignKey(Workspace, related_name="+", db_index=False, **_DERIVED)
    stage_id = models.BigIntegerField()
    next_stage_id = models.BigIntegerField(null=True, blank=True)
    day = models.DateField(help_text="the local day of the first entry")
    days = models.IntegerField(null=True, blank=True, help_text="whole days to the next stage")
    contacts = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "stage_id", "next_stage_id", "day", "days"],
                name="conversion_day_unique",
                nulls_distinct=False,
            ),
        ]

    def __str__(self) -> str:
        return f"{self.stage_id}->{self.next_stage_id} {self.day} {self.days}d x{self.contacts}"


class ChurnCover(models.Model):
    """Stays per stage by the local days they count their contact as a customer in the
    stage at the day's start: from `from_day` (Stay.cover_from) to `to_day`, the day
    the stay ended (none: open). Customers in a stage at the start of day D are the
    sum of the rows with from_day <= D <= to_day (customers.py `customers_at`)."""

    workspace = models.ForeignKey(Workspace, related_name="+", db_index=False, **_DERIVED)
    stage_id = models.BigIntegerField()
    from_day = models.DateField()
    to_day = models.DateField(null=True, blank=True)
    stays = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "stage_id", "from_day", "to_day"],
                name="churn_cover_unique",
                nulls_distinct=False,
            ),
        ]

    def __str__(self) -> str:
        return f"stage {self.stage_id} {self.from_day}..{self.to_day} x{self.stays}"


class StageFlowGroupDay(models.Model):
    """StageFlowDay by the moving contacts' source and signup month (their facts): the
    moves of the contacts a source or signup-month filter keeps are sums over these
    rows (analytics/rollups/flow_groups.py). A move of a contact without facts yet
    counts under no source and no month, which no filter keeps, as the definition."""

    workspace = WorkspaceKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    day = models.DateField()
    from_stage = TenantForeignKey(
        Stage, null=True, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    to_stage = TenantForeignKey(Stage, on_delete=models.CASCADE, related_name="+", db_index=False)
    source = models.CharField(max_length=200, default="", blank=True)
    signup_month = models.DateField(null=True, blank=True)
    moves = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "day", "from_stage", "to_stage", "source", "signup_month"],
                name="stage_flow_group_day_unique",
                nulls_distinct=False,
            ),
        ]
        indexes = [  # a filter's days from the index alone, as StayGroupCount's
            models.Index(
                fields=["workspace", "source", "day"],
                include=["from_stage", "to_stage", "signup_month", "moves"],
                name="flow_group_source_day",
            ),
            models.Index(
                fields=["workspace", "signup_month", "day"],
                include=["from_stage", "to_stage", "source", "moves"],
                name="flow_group_month_day",
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.day} {self.source}/{self.signup_month} {self.from_stage_id}->{self.to_stage_id}"
        )


_STAY_COUNT_COLUMNS = ["stage", "open", "next_stage_id", "days", "until", "stays"]
_ORDER_COLUMNS = ["previous_day", "previous2_day", "orders", "purchases", "revenue"]


class StayGroupCount(models.Model):
    """The three stay counts (StayLength, ConversionDay, ChurnCover) by the stays'
    contacts' source and signup month (their facts): what time in stage, conversion
    and churn read filtered by those two (analytics/rollups/stay_groups.py) instead of
    every stay of the contacts kept. `kind` says which count a row belongs to, and so
    which key columns it uses: "length" (open, day it ended or began, days), "conversion"
    (next stage, day of the first entry, days to convert), "cover" (from day, until).
    A stay of a contact without facts yet counts under no source and no month, which
    no filter keeps, as the definition."""

    workspace = WorkspaceKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    kind = models.CharField(max_length=10)
    source = models.CharField(max_length=200, default="", blank=True)
    signup_month = models.DateField(null=True, blank=True)
    stage = TenantForeignKey(Stage, on_delete=models.CASCADE, related_name="+", db_index=False)
    open = models.BooleanField(null=True, blank=True)
    next_stage_id = models.BigIntegerField(null=True, blank=True)
    day = models.DateField()
    days = models.IntegerField(null=True, blank=True)
    until = models.DateField(null=True, blank=True)
    stays = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=[
                    *("workspace", "kind", "source", "signup_month", "stage", "open"),
                    *("next_stage_id", "day", "days", "until"),
                ],
                name="stay_group_count_unique",
                nulls_distinct=False,
            ),
        ]
        # A filter's rows of a period from the index alone (a source, or a signup month
        # without one), not every day of the group's rows from the table.
        indexes = [
            models.Index(
                fields=["workspace", "kind", "source", "day"],
                include=[*_STAY_COUNT_COLUMNS, "signup_month"],
                name="stay_group_source_day",
            ),
            models.Index(
                fields=["workspace", "kind", "signup_month", "day"],
                include=[*_STAY_COUNT_COLUMNS, "source"],
                name="stay_group_month_day",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.source}/{self.signup_month} stage {self.stage_id} {self.day}"


class OrderGroupDay(models.Model):
    """OrderDay by the buying contacts' source and signup month (their facts): the
    orders of the contacts a source or signup-month filter keeps are sums over these
    rows (analytics/rollups/period_groups.py)."""

    workspace = models.ForeignKey(Workspace, related_name="+", db_index=False, **_DERIVED)
    source = models.CharField(max_length=200, default="", blank=True)
    signup_month = models.DateField(null=True, blank=True)
    day = models.DateField()
    previous_day = models.DateField(null=True, blank=True)
    previous2_day = models.DateField(null=True, blank=True)
    orders = models.IntegerField(default=0)
    purchases = models.IntegerField(default=0)
    revenue = models.DecimalField(max_digits=18, decimal_places=2, default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=[
                    *("workspace", "source", "signup_month", "day"),
                    *("previous_day", "previous2_day"),
                ],
                name="order_group_day_unique",
                nulls_distinct=False,
            ),
        ]
        indexes = [  # as StayGroupCount's
            models.Index(
                fields=["workspace", "source", "day"],
                include=[*_ORDER_COLUMNS, "signup_month"],
                name="order_group_source_day",
            ),
            models.Index(
                fields=["workspace", "signup_month", "day"],
                include=[*_ORDER_COLUMNS, "source"],
                name="order_group_month_day",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.source}/{self.signup_month}: {self.orders} orders"


class ActiveGroupDay(models.Model):
    """ActiveDay by the contacts' source and signup month (their facts): the active
    contacts a source or signup-month filter keeps are sums over these rows
    (analytics/rollups/period_groups.py)."""

    workspace = models.ForeignKey(Workspace, related_name="+", db_index=False, **_DERIVED)
    source = models.CharField(max_length=200, default="", blank=True)
    signup_month = models.DateField(null=True, blank=True)
    day = models.DateField()
    previous_day = models.DateField(null=True, blank=True)
    contacts = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "source", "signup_month", "day", "previous_day"],
                name="active_group_day_unique",
                nulls_distinct=False,
            ),
        ]
        indexes = [  # as StayGroupCount's
            models.Index(
                fields=["workspace", "source", "day"],
                include=["previous_day", "contacts", "signup_month"],
                name="active_group_source_day",
            ),
            models.Index(
                fields=["workspace", "signup_month", "day"],
                include=["previous_day", "contacts", "source"],
                name="active_group_month_day",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.source}/{self.signup_month}: {self.contacts} active"
