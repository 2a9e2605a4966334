"""A rebuild of the rollups asked for on the dashboard (an owner or admin doubting a
figure, or after a change of definitions): queued, run by a worker, its live status on
the analytics overview. The rebuild is one transaction, so progress is told by time:
seconds so far against how long the workspace's last rebuild took."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.utils import timezone

from analytics.models import AnalyticsSettings, RollupRebuild
from analytics.rollups import rollups_rebuild
from config.jobs import UserJobs
from workspaces.models import Workspace

logger = logging.getLogger(__name__)

# A rebuild not finished in 30 minutes is taken to have died with its worker: the page
# stops waiting for it and a new one may be asked for. A finished rebuild is reported on
# the page for 10 minutes.
REBUILDS = UserJobs(
    model=RollupRebuild,
    task="analytics.rollup_rebuild_run",
    stale=dt.timedelta(minutes=30),
    recent=dt.timedelta(minutes=10),
)


def rollup_rebuild_request(
    *, workspace: Workspace, requested_by: str = "", after_change: bool = False
) -> RollupRebuild:
    """Queue a rebuild, or return the one already queued or running. `after_change`:
    the definitions changed (the reporting settings), so a rebuild already running,
    which read them before, does not do: only one still waiting for a worker."""
    if after_change:
        return REBUILDS.request(
            workspace=workspace,
            requested_by=requested_by,
            same=lambda rebuild: rebuild.started_at is None,
        )
    return REBUILDS.request(workspace=workspace, requested_by=requested_by)


def rollup_rebuild_run(*, rebuild_id: int) -> RollupRebuild | None:
    """Run a queued rebuild (once: a second delivery of the task finds it taken). It
    counts as the workspace's daily rebuild, so the nightly one is not repeated."""
    if not REBUILDS.claim(rebuild_id):
        return None
    rebuild = RollupRebuild.objects.get(pk=rebuild_id)
    try:
        rebuild.seconds = rollups_rebuild(workspace_id=rebuild.workspace_id)
    except Exception:
        rebuild.error = "The rebuild failed on our side; it has been logged."
        logger.exception("analytics.rollup_rebuild_failed rebuild=%s", rebuild_id)
    else:
        AnalyticsSettings.objects.update_or_create(
            workspace_id=rebuild.workspace_id, defaults={"rollups_rebuilt_at": rebuild.started_at}
        )
    rebuild.finished_at = timezone.now()
    rebuild.save(update_fields=["seconds", "error", "finished_at"])
    return rebuild


@dataclass(frozen=True)
class RebuildStatus:
    rebuild: RollupRebuild
    # Seconds the workspace's last finished rebuild took: the progress bar's length.
    expected_seconds: float | None

    @property
    def running(self) -> bool:
        return self.rebuild.finished_at is None

    def elapsed_seconds(self, now: dt.datetime) -> float:
        started = self.rebuild.started_at
        return (now - started).total_seconds() if started else 0.0


def rollup_rebuild_status(*, workspace: Workspace) -> RebuildStatus | None:
    """The rebuild to show: one queued or running, or one finished in the last
    minutes; with how long the last finished one took."""
    latest = REBUILDS.shown(workspace=workspace)
    if latest is None:
        return None
    previous = (
        RollupRebuild.objects.filter(workspace=workspace, seconds__isnull=False)
        .exclude(pk=latest.pk)
        .order_by("-requested_at")
        .values_list("seconds", flat=True)
        .first()
    )
    return RebuildStatus(rebuild=latest, expected_seconds=previous)
