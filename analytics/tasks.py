"""Celery tasks of analytics: thin, take ids, safe to run twice."""

from __future__ import annotations

import datetime as dt
import logging

from celery import shared_task
from django.conf import settings

from analytics import services
from analytics.cache import workspaces_viewed
from analytics.report_cache import figures_warm as warm
from analytics.rollups import rollups_rebuild
from analytics.rollups.clv_summary import clv_summaries_due, clv_summary_refresh
from analytics.rollups.loyalty import loyalty_rollups_recent, workspaces_with_programme
from analytics.rollups.surveys import survey_sends_recent, workspaces_with_surveys
from config.errors import Conflict
from lifecycle.services import sweep_start
from workspaces.models import Workspace

logger = logging.getLogger(__name__)


@shared_task(name="analytics.nightly_due")
def nightly_due() -> dict[str, list[int]]:
    """Hand out the rebuilds and refits that are due (beat, every few minutes)."""
    rebuilds = services.rebuilds_due(every=dt.timedelta(seconds=settings.ANALYTICS_REBUILD_SECONDS))
    fits = services.clv_fits_due(every=dt.timedelta(seconds=settings.ANALYTICS_CLV_REFIT_SECONDS))
    for workspace_id in rebuilds:
        rebuild.delay(workspace_id)
    for workspace_id in fits:
        clv_refit.delay(workspace_id)
    return {"rebuilds": rebuilds, "clv_fits": fits}


@shared_task(name="analytics.survey_sends_refresh")
def survey_sends_refresh() -> list[int]:
    """Recount the survey messages sent yesterday and today in every workspace with
    surveys (beat, every minute): a recount, so a lost or repeated run is harmless."""
    workspace_ids = workspaces_with_surveys()
    for workspace_id in workspace_ids:
        survey_sends_recent(workspace_id=workspace_id)
    return workspace_ids


@shared_task(name="analytics.loyalty_rollups_refresh")
def loyalty_rollups_refresh() -> list[int]:
    """Recompute yesterday's and today's loyalty rollups in every workspace with a
    programme (beat, every minute): a recomputation, so a lost or repeated run is
    harmless (analytics/rollups/loyalty.py)."""
    workspace_ids = workspaces_with_programme()
    for workspace_id in workspace_ids:
        loyalty_rollups_recent(workspace_id=workspace_id)
    return workspace_ids


@shared_task(name="analytics.clv_summaries_refresh")
def clv_summaries_refresh() -> list[int]:
    """Recompute the CLV sums of every workspace whose data changed since they were
    taken (beat, every minute): a recomputation, so a lost or repeated run is harmless."""
    workspace_ids = clv_summaries_due()
    for workspace_id in workspace_ids:
        clv_summary_refresh(workspace_id=workspace_id)
    return workspace_ids


@shared_task(name="analytics.drift_check_due")
def drift_check_due() -> list[int]:
    """Hand out the drift checks that are due (beat, every few minutes)."""
    due = services.drift_checks_due(
        every=dt.timedelta(seconds=settings.ANALYTICS_DRIFT_CHECK_SECONDS)
    )
    for workspace_id in due:
        drift_check.delay(workspace_id)
    return due


@shared_task(name="analytics.drift_check", acks_late=True)
def drift_check(workspace_id: int) -> int | None:
    """Compare a sample of the workspace's derived rows with the raw data and repair
    what differs; returns the rows that differed. Safe to run twice."""
    workspace = Workspace.objects.filter(pk=workspace_id).first()
    if workspace is None:
        return None
    return services.drift_check(
        workspace=workspace, sample=settings.ANALYTICS_DRIFT_SAMPLE
    ).rows_differing


@shared_task(name="analytics.figures_warm")
def figures_warm() -> list[int]:
    """Hand out the warming of the workspaces whose figures were viewed in the last day
    (beat, a little more often than the figures expire)."""
    if settings.ANALYTICS_CACHE_SECONDS <= 0:
        return []
    ids = workspaces_viewed(list(Workspace.objects.values_list("pk", flat=True)))
    for workspace_id in ids:
        figures_warm_workspace.delay(workspace_id)
    return ids


@shared_task(name="analytics.figures_warm_workspace", expires=200)
def figures_warm_workspace(workspace_id: int) -> int:
    workspace = Workspace.objects.filter(pk=workspace_id).first()
    return warm(workspace=workspace) if workspace else 0


@shared_task(name="analytics.rebuild", acks_late=True)
def rebuild(workspace_id: int) -> float:
    return rollups_rebuild(workspace_id=workspace_id)


@shared_task(name="analytics.rollup_rebuild_run", acks_late=True)
def rollup_rebuild_run(rebuild_id: int) -> float | None:
    """A rebuild asked for on the dashboard; a second delivery finds it taken."""
    rebuild = services.rollup_rebuild_run(rebuild_id=rebuild_id)
    return rebuild.seconds if rebuild is not None else None


@shared_task(name="analytics.clv_refit", acks_late=True)
def clv_refit(workspace_id: int, refit_id: int | None = None) -> int | None:
    """Refit as of today and write the predictions (the nightly refit, or one asked
    for on the dashboard: `refit_id`); rules that read them are evaluated again."""

    workspace = Workspace.objects.filter(pk=workspace_id).first()
    if workspace is None:
        return None
    if refit_id is not None:
        refit = services.clv_refit_run(refit_id=refit_id)
        model = refit.model if refit is not None else None
        if model is None:
            return None
    else:
        try:
            model = services.clv_fit(workspace=workspace)
        except Conflict as error:
            logger.info("analytics.clv_not_fitted workspace=%s reason=%s", workspace_id, error)
            return None
    if services.predictions_in_use(workspace=workspace):
        sweep_start(workspace=workspace, reason="CLV predictions refitted")
    return model.pk
