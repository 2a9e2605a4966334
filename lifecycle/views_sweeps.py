"""The stages page's live status of a re-evaluation: after a rule or stage-order change
every contact is evaluated again, in chunks that workers run; this shows how far it is
(htmx polls it while it runs) and, once done, how many contacts moved."""

from __future__ import annotations

import datetime as dt

from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone

from lifecycle.models import SweepRun
from workspaces.dashboard import WorkspaceRequest, workspace_view

# A finished sweep is reported for this long after it ends.
RECENT = dt.timedelta(minutes=10)


@workspace_view()
def sweep_status(request: WorkspaceRequest) -> HttpResponse:
    run = (
        SweepRun.objects.filter(workspace=request.workspace)
        .exclude(reason=SweepRun.DUE_RULES_NONE)
        .order_by("-started_at")
        .first()
    )
    running = run is not None and run.finished_at is None
    recent = (
        run is not None
        and run.finished_at is not None
        and (timezone.now() - run.finished_at < RECENT)
    )
    response = render(
        request,
        "lifecycle/_sweep_status.html",
        {"run": run if running or recent else None, "running": running},
    )
    if not running and request.GET.get("poll"):
        response["HX-Refresh"] = "true"  # it finished while polled: show the new counts
    return response
