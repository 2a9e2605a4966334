"""The periodic work of a workspace: rebuild its rollups from the raw data once a day
(a backstop, and how a change of definitions — time zone, purchase names, source
attribute — reaches every row), refit its CLV models, and check a sample of its
derived rows against the raw data every hour (analytics/services/drift.py).
Beat asks every few minutes what is due; a conditional update claims each job, so two
beats or a restarted one never start it twice."""

from __future__ import annotations

import datetime as dt
import logging

from django.db import connection
from django.utils import timezone

from analytics.models import AnalyticsSettings
from analytics.rules import uses_predictions
from contacts.models import Segment
from lifecycle.models import Stage
from workspaces.models import Workspace

logger = logging.getLogger(__name__)


def _claim(field: str, every: dt.timedelta, now: dt.datetime) -> list[int]:
    """Claim, in one statement, every workspace whose `field` is older than `every`:
    a row updated by one beat no longer matches for another."""
    assert field in ("rollups_rebuilt_at", "clv_fitted_at", "drift_checked_at")
    AnalyticsSettings.objects.bulk_create(
        [
            AnalyticsSettings(workspace_id=pk)
            for pk in Workspace.objects.filter(analytics_settings__isnull=True).values_list(
                "pk", flat=True
            )
        ],
        ignore_conflicts=True,
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE analytics_analyticssettings SET {field} = %s "
            f"WHERE {field} IS NULL OR {field} < %s RETURNING workspace_id",
            [now, now - every],
        )
        return sorted(row[0] for row in cursor.fetchall())


def rebuilds_due(*, every: dt.timedelta, now: dt.datetime | None = None) -> list[int]:
    """Claim the workspaces whose rollups were last rebuilt more than `every` ago."""
    return _claim("rollups_rebuilt_at", every, now or timezone.now())


def drift_checks_due(*, every: dt.timedelta, now: dt.datetime | None = None) -> list[int]:
    """Claim the workspaces whose derived rows were last compared with the raw data
    more than `every` ago."""
    return _claim("drift_checked_at", every, now or timezone.now())


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
