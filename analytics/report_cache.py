"""A report's figures, kept in the cache under the workspace's figures version for up to
ANALYTICS_CACHE_SECONDS for the same parameters — but served only while they are known
to be true: younger than FRESH_SECONDS (15 s), or computed after the last data the
workspace's rollups took in, with no change waiting for the engine."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from analytics.cache import FRESH_SECONDS, data_changed_at, figures_version, figures_viewed
from analytics.figures.moves import moves_read_once
from analytics.figures.surveys import SurveyQuery, survey_results
from analytics.report_query import Query
from analytics.reports import REPORTS, Report
from workspaces.models import Workspace


def _changes_waiting(workspace_id: int) -> bool:
    """Whether a change to one of the workspace's contacts is accepted but not yet in
    its rollups (a mark the engine has not finished): two index probes."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM contacts_contactmark WHERE workspace_id = %s "
            "AND claimed_at IS NULL) OR EXISTS (SELECT 1 FROM contacts_contactmark "
            "WHERE claimed_at IS NOT NULL AND workspace_id = %s)",
            [workspace_id, workspace_id],
        )
        return bool(cursor.fetchone()[0])


def _still_true(data: dict[str, Any], workspace_id: int) -> bool:
    """A cached figure is served when it is at most FRESH_SECONDS old, or when nothing
    has reached the workspace's data since it was computed (the rollups took nothing
    in, and nothing accepted is waiting for the engine: raw-read figures would differ)."""
    computed = parse_datetime(str(data.get("computed_at", "")))
    if computed is None:
        return False
    if timezone.now() - computed <= dt.timedelta(seconds=FRESH_SECONDS):
        return True
    return data_changed_at(workspace_id=workspace_id) < computed and not _changes_waiting(
        workspace_id
    )


def _computed(compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    # The time the computation starts: everything committed before it is in the figures
    # — or, for figures read from sums taken earlier (`data_as_of`: the CLV sums), then.
    started = timezone.now()
    data = compute()
    as_of = parse_datetime(str(data.get("data_as_of") or ""))
    taken = min(started, as_of) if as_of is not None else started
    return {**data, "computed_at": taken.isoformat()}


def figures(report: Report, query: Query, *, refresh: bool = False) -> dict[str, Any]:
    """The report's figures with `computed_at`, from the cache while still true (see the
    module's docstring). A rollup rebuild, a CLV fit or a spend change makes the
    workspace's figures be computed afresh (`figures_changed`); `refresh` computes them
    now (the warming task, ahead of the cached ones expiring)."""
    key = f"{report.key}:{query.cache_key()}"

    def compute() -> dict[str, Any]:
        with moves_read_once():
            return report.compute(query)

    return cached(query.workspace.pk, key, compute, refresh=refresh)


def cached(
    workspace_id: int, key: str, compute: Callable[[], dict[str, Any]], *, refresh: bool = False
) -> dict[str, Any]:
    """Figures under `key` with `computed_at`, from the cache while still true, else
    computed now and kept (the rule of every report; see the module's docstring)."""
    seconds = settings.ANALYTICS_CACHE_SECONDS
    if seconds <= 0:
        return _computed(compute)
    if not refresh:
        figures_viewed(workspace_id=workspace_id)
    version = figures_version(workspace_id=workspace_id)
    full_key = f"analytics:{workspace_id}:{version}:{key}"
    data: dict[str, Any] | None = None if refresh else cache.get(full_key)
    if data is not None and not _still_true(data, workspace_id):
        data = None
    if data is None:
        data = _computed(compute)
        cache.set(full_key, data, seconds)
    return data


def survey_figures(q: SurveyQuery) -> dict[str, Any]:
    """A survey's results (analytics/figures/surveys.py) under the same rule, keyed by
    the survey, the query and whether its segment is read from its rollups."""
    segment = q.filters.segment
    ready = segment.members_ready if segment is not None else None
    described = json.dumps([q.survey.pk, q.echo(), ready], sort_keys=True)
    key = "survey:" + hashlib.sha256(described.encode()).hexdigest()
    return cached(q.workspace.pk, key, lambda: survey_results(q))


def figures_warm(*, workspace: Workspace) -> int:
    """Compute every report's default view (what the dashboard opens on) afresh."""
    for report in REPORTS.values():
        figures(report, report.query({}, workspace=workspace), refresh=True)
    return len(REPORTS)
