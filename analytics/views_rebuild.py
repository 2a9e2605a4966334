"""The analytics overview's "Rebuild figures" (owners and admins): queue a rebuild of
the rollups from the raw data and show its live status until the page refreshes."""

from __future__ import annotations

import math

from django.http import HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from analytics import services
from workspaces.dashboard import WorkspaceRequest, workspace_view
from workspaces.models import Role


@workspace_view(min_role=Role.ADMIN, write_methods_role=Role.ADMIN)  # first: outsiders 404
@require_POST
def rollup_rebuild(request: WorkspaceRequest) -> HttpResponse:
    services.rollup_rebuild_request(
        workspace=request.workspace, requested_by=request.user.get_username()
    )
    url = reverse("analytics:analytics", kwargs={"slug": request.workspace.slug})
    querystring = QueryDict(request.POST.get("querystring", "")).urlencode()
    return redirect(f"{url}?{querystring}" if querystring else url)


@workspace_view(min_role=Role.ADMIN)
def rollup_rebuild_status_panel(request: WorkspaceRequest) -> HttpResponse:
    """The overview's live status of a rebuild (htmx polls it while one runs)."""
    status = services.rollup_rebuild_status(workspace=request.workspace)
    now = timezone.now()
    running = status is not None and status.running
    context: dict[str, object] = {"status": status, "running": running}
    if status is not None and status.expected_seconds:
        # A bar against the last rebuild's time, held short of full until it is done.
        expected = max(1, math.ceil(status.expected_seconds))
        context["bar_max"] = expected
        context["bar_value"] = min(int(status.elapsed_seconds(now)), expected * 95 // 100)
    context["elapsed"] = int(status.elapsed_seconds(now)) if status is not None else 0
    response = render(request, "analytics/_rollup_rebuild.html", context)
    if not running and request.GET.get("poll"):
        response["HX-Refresh"] = "true"  # it finished while polled: show the new figures
    return response
