"""Dashboard pages for broadcasts: the list with headline numbers, the editor with a
live audience count (htmx), and the schedule / pause / resume / cancel buttons."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from campaigns.broadcasts import definition, services
from campaigns.broadcasts import selectors as selectors_broadcasts
from campaigns.broadcasts.audience import audience_count
from campaigns.models import Broadcast, ScheduleKind
from config.errors import DomainError
from contacts.models import Channel, Segment
from lifecycle.models import Stage
from messaging import selectors
from workspaces.dashboard import WorkspaceRequest, workspace_view

# The broadcast's own fields on the dashboard's form (an A/B test's pool and wait are
# set over the API).
SCALARS = tuple(
    f for f in definition.SCALARS if f not in ("test_pool_percent", "winner_wait_hours")
)
LISTS = definition.ID_LISTS
ACTIONS = {
    "schedule": services.broadcast_schedule,
    "pause": services.broadcast_pause,
    "resume": services.broadcast_resume,
    "cancel": services.broadcast_cancel,
}


def _broadcast_or_404(request: WorkspaceRequest, broadcast_id: int) -> Broadcast:
    broadcast = selectors_broadcasts.broadcast_get(
        workspace=request.workspace, broadcast_id=broadcast_id
    )
    if broadcast is None:
        raise Http404("No such broadcast.")
    return broadcast


def _posted(request: WorkspaceRequest) -> dict[str, Any]:
    data: dict[str, Any] = {f: request.POST.get(f, "") for f in SCALARS}
    for field in LISTS:
        data[field] = [v for v in request.POST.getlist(field) if v]
    return data


def _values(broadcast: Broadcast | None) -> dict[str, Any]:
    if broadcast is None:
        return {"channel": Channel.EMAIL, "schedule": ScheduleKind.NOW, **{f: [] for f in LISTS}}
    values: dict[str, Any] = {f: getattr(broadcast, f) for f in SCALARS}
    values.update({f: getattr(broadcast, f) for f in LISTS})
    return values


def _choices(request: WorkspaceRequest) -> dict[str, Any]:
    return {
        "segments": Segment.objects.filter(workspace=request.workspace).order_by("name"),
        "stages": Stage.objects.filter(
            workspace=request.workspace, archived_at__isnull=True
        ).order_by("position"),
        "templates": selectors.templates_for_workspace(workspace=request.workspace),
        "channels": Channel.choices,
        "schedules": ScheduleKind.choices,
    }


@workspace_view()
def broadcast_list(request: WorkspaceRequest) -> HttpResponse:
    rows = selectors_broadcasts.broadcasts_for_workspace(workspace=request.workspace, limit=200)
    return render(request, "campaigns/broadcast_list.html", {"broadcasts": rows})


@workspace_view()
def broadcast_edit(request: WorkspaceRequest, broadcast_id: int | None = None) -> HttpResponse:
    broadcast = _broadcast_or_404(request, broadcast_id) if broadcast_id is not None else None
    values = _values(broadcast)
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        values = _posted(request)
        try:
            if broadcast is None:
                broadcast = services.broadcast_create(
                    workspace=request.workspace, data=values, actor=request.actor
                )
            else:
                services.broadcast_update(broadcast=broadcast, data=values, actor=request.actor)
            messages.success(request, f"Broadcast “{broadcast.name}” saved.")
            return redirect(
                "campaigns:broadcast-edit", slug=request.workspace.slug, broadcast_id=broadcast.pk
            )
        except DomainError as exc:
            errors = exc.fields or {"name": [exc.message]}
    return render(
        request,
        "campaigns/broadcast_edit.html",
        {"broadcast": broadcast, "values": values, "errors": errors, **_choices(request)},
    )


@workspace_view(write_methods_role="viewer")
def broadcast_audience_panel(request: WorkspaceRequest) -> HttpResponse:
    """The editor's live audience count (htmx, on every change of the audience)."""
    data = _posted(request)
    try:
        audience = definition.audience_validate(
            workspace=request.workspace,
            data={
                "channel": data["channel"] if data["channel"] in Channel.values else Channel.EMAIL,
                **{f: [int(v) for v in data[f] if str(v).isdigit()] for f in LISTS},
            },
        )
        count: int | None = audience_count(workspace=request.workspace, audience=audience)
    except DomainError:
        count = None
    return render(request, "campaigns/_broadcast_audience.html", {"count": count})


@require_POST
@workspace_view()
def broadcast_action(request: WorkspaceRequest, broadcast_id: int, action: str) -> HttpResponse:
    broadcast = _broadcast_or_404(request, broadcast_id)
    service = ACTIONS.get(action)
    if service is None:
        raise Http404("No such action.")
    try:
        service(broadcast=broadcast, actor=request.actor)
        messages.success(request, f"Broadcast “{broadcast.name}”: {broadcast.status}.")
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect(
        "campaigns:broadcast-edit", slug=request.workspace.slug, broadcast_id=broadcast.pk
    )
