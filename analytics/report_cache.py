"""A report's figures, computed once per ANALYTICS_CACHE_SECONDS for the same
parameters and kept in the cache under the workspace's figures version."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from analytics.cache import figures_version, figures_viewed
from analytics.report_query import Query
from analytics.reports import REPORTS, Report
from workspaces.models import Workspace


def figures(report: Report, query: Query, *, refresh: bool = False) -> dict[str, Any]:
    """The report's figures, computed once per ANALYTICS_CACHE_SECONDS for the same
    parameters: a dashboard shows the same figures to everyone who opens it in that
    time, each with `computed_at`. A rollup rebuild, a CLV fit or a spend change makes
    the workspace's figures be computed afresh (`figures_changed`); `refresh` computes
    them now (the warming task, ahead of the cached ones expiring)."""
    seconds = settings.ANALYTICS_CACHE_SECONDS
    if seconds <= 0:
        return {**report.compute(query), "computed_at": timezone.now().isoformat()}
    workspace_id = query.workspace.pk
    if not refresh:
        figures_viewed(workspace_id=workspace_id)
    version = figures_version(workspace_id=workspace_id)
    key = f"analytics:{workspace_id}:{version}:{report.key}:{query.cache_key()}"
    data: dict[str, Any] | None = None if refresh else cache.get(key)
    if data is None:
        data = {**report.compute(query), "computed_at": timezone.now().isoformat()}
        cache.set(key, data, seconds)
    return data


def figures_warm(*, workspace: Workspace) -> int:
    """Compute every report's default view (what the dashboard opens on) afresh."""
    for report in REPORTS.values():
        figures(report, report.query({}, workspace=workspace), refresh=True)
    return len(REPORTS)
