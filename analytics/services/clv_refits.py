"""A CLV refit asked for on the dashboard: queued, run by a worker, its live status on
the CLV page (the fit takes from a second to a minute; the request never waits)."""

from __future__ import annotations

import datetime as dt
import logging

from django.utils import timezone

from analytics.models import ClvRefit
from analytics.services.clv import clv_fit
from config.errors import DomainError
from config.jobs import UserJobs
from workspaces.models import Workspace

logger = logging.getLogger(__name__)

# A refit not finished in 15 minutes is taken to have died with its worker: the page
# stops waiting for it and a new one may be asked for. A finished refit is reported on
# the page for 10 minutes.
REFITS = UserJobs(
    model=ClvRefit,
    task="analytics.clv_refit",
    stale=dt.timedelta(minutes=15),
    recent=dt.timedelta(minutes=10),
    task_args=lambda refit: (refit.workspace_id, refit.pk),
)


def clv_refit_request(*, workspace: Workspace, requested_by: str = "") -> ClvRefit:
    """Queue a refit, or return the one already queued or running."""
    return REFITS.request(workspace=workspace, requested_by=requested_by)


def clv_refit_run(*, refit_id: int) -> ClvRefit | None:
    """Run a queued refit (once: a second delivery of the task finds it taken)."""
    if not REFITS.claim(refit_id):
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
    return REFITS.shown(workspace=workspace)
