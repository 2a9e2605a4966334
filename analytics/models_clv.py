"""The lifetime-value figures' sums (analytics/rollups/clv_summary.py): the customer
facts summed per signup month, source, current stage and predicted-CLV bucket, so the
CLV report reads a few thousand rows instead of every contact's facts and stage."""

from __future__ import annotations

from django.db import models

from workspaces.models import Workspace

_DERIVED: dict = {"on_delete": models.DO_NOTHING, "db_constraint": False}


class ClvSummary(models.Model):
    workspace = models.ForeignKey(Workspace, related_name="+", db_index=False, **_DERIVED)
    signup_month = models.DateField()
    source = models.CharField(max_length=200, default="")
    stage_id = models.BigIntegerField(null=True, blank=True, help_text="none: no stage")
    bucket = models.IntegerField(
        null=True, blank=True, help_text="predicted-CLV histogram bucket; none: no prediction"
    )
    customers = models.IntegerField(default=0, help_text="contacts with a purchase")
    revenue = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    predicted = models.IntegerField(default=0, help_text="contacts with a prediction")
    predicted_clv = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    probably_gone = models.IntegerField(default=0)
    # exact: the fit writes probabilities rounded to 6 places (services/clv.py)
    probability_alive_sum = models.DecimalField(max_digits=24, decimal_places=6, default=0)
    bought_once = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "signup_month", "source", "stage_id", "bucket"],
                name="clv_summary_unique",
                nulls_distinct=False,
            ),
        ]

    def __str__(self) -> str:
        return f"{self.signup_month} {self.source} stage {self.stage_id}: {self.customers}"


class ClvSummaryState(models.Model):
    """When a workspace's sums were last computed (none yet: the figures read the
    facts)."""

    workspace = models.OneToOneField(
        Workspace, primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    refreshed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"CLV sums of {self.workspace_id} at {self.refreshed_at:%Y-%m-%d %H:%M:%S}"
