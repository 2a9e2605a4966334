"""A CLV refit asked for on the dashboard: queued, run by a worker, its live status on
the CLV page (the fit takes from a second to a minute; the request never waits)."""

from __future__ import annotations

import datetime as dt
import logging

from django.db import transaction
from django.utils import timezone

from analytics.models import ClvRefit
from analytics.services.clv import clv_fit
from config.errors import DomainError
from config.queue import enqueue
from workspaces.models import Workspace

logger = logging.getLogger(__name__)

# A refit not finished in this long is taken to have died with its worker: the page
# stops waiting for it and a new one may be asked for.
STALE = dt.timedelta(minutes=15)
# A finished refit is reported on the page for this long.
RECENT = dt.timedelta(minutes=10)


def clv_refit_request(*, workspace: Workspace, requested_by: str = "") -> ClvRefit:
    """Queue a refit, or return the one already queued or running."""
    with transaction.atomic():
        pending = _pending(workspace)
        if pending is not None:
            return pending
        refit = ClvRefit.objects.create(workspace=workspace, requested_by=requested_by[:254])
        transaction.on_commit(lambda: _send(refit))
    return refit


def _send(refit: ClvRefit) -> None:
    if not enqueue("analytics.clv_refit", refit.workspace_id, refit.pk):
        ClvRefit.objects.filter(pk=refit.pk, started_at__isnull=True).update(
            finished_at=timezone.now(),
            error="The background workers could not be reached; try again in a minute.",
        )


def _pending(workspace: Workspace) -> ClvRefit | None:
    return (
        ClvRefit.objects.filter(
            workspace=workspace,
            finished_at__isnull=True,
            requested_at__gte=timezone.now() - STALE,
        )
        .order_by("-requested_at")
        .first()
    )


def clv_refit_run(*, refit_id: int) -> ClvRefit | None:
    """Run a queued refit (once: a second delivery of the task finds it taken)."""
    now = timezone.now()
    if not ClvRefit.objects.filter(pk=refit_id, started_at__isnull=True).update(started_at=now):
        return None
    refit = ClvRefit.objects.select_related("workspace").get(pk=refit_id)
    try:
        model = clv_fit(workspace=refit.workspace)
    except DomainError as error:
        refit.error = error.message
    except Exception:
        refit.error = "The refit failed on our side; it has been logged."
        logger.exception("analytics.clv_refit_failed refit=%s", refit_id)
    else:
        refit.model = model
    refit.finished_at = timezone.now()
    refit.save(update_fields=["error", "model", "finished_at"])
    return refit


def clv_refit_status(*, workspace: Workspace) -> ClvRefit | None:
    """The refit to show: one queued or running, or one finished in the last minutes."""
    latest = ClvRefit.objects.filter(workspace=workspace).order_by("-requested_at").first()
    if latest is None:
        return None
    now = timezone.now()
    if latest.finished_at is None:
        return latest if latest.requested_at >= now - STALE else None
    return latest if latest.finished_at >= now - RECENT else None
