"""The nightly work of a workspace: rebuild its rollups from the raw data (so any
drift of the incremental updates lasts a day at most) and refit its CLV models.
Beat asks every few minutes what is due; a conditional update claims each job, so two
beats or a restarted one never start it twice."""

from __future__ import annotations

import datetime as dt
import logging

from django.db.models import Q
from django.utils import timezone

from analytics.models import AnalyticsSettings
from analytics.rules import uses_predictions
from contacts.models import Segment
from lifecycle.models import Stage
from workspaces.models import Workspace

logger = logging.getLogger(__name__)


def _claim(field: str, every: dt.timedelta, now: dt.datetime) -> list[int]:
    for workspace in Workspace.objects.filter(analytics_settings__isnull=True):
        AnalyticsSettings.objects.get_or_create(workspace=workspace)
    due: list[int] = []
    stale = Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__lt": now - every})
    for workspace_id in AnalyticsSettings.objects.filter(stale).values_list(
        "workspace_id", flat=True
    ):
        # Claimed only if nobody claimed it since we looked.
        if AnalyticsSettings.objects.filter(stale, workspace_id=workspace_id).update(
            **{field: now}
        ):
            due.append(workspace_id)
    return due


def rebuilds_due(*, every: dt.timedelta, now: dt.datetime | None = None) -> list[int]:
    """Claim the workspaces whose rollups were last rebuilt more than `every` ago."""
    return _claim("rollups_rebuilt_at", every, now or timezone.now())


def clv_fits_due(*, every: dt.timedelta, now: dt.datetime | None = None) -> list[int]:
    return _claim("clv_fitted_at", every, now or timezone.now())


def predictions_in_use(*, workspace: Workspace) -> bool:
    """Does a stage or segment rule read the CLV predictions (so a refit must move
    contacts)?"""
    rules = [
        *Stage.objects.filter(workspace=workspace, archived_at__isnull=True).values_list(
            "rule", flat=True
        ),
        *Segment.objects.filter(workspace=workspace).values_list("rule", flat=True),
    ]
    return any(uses_predictions(rule) for rule in rules)
