"""Contacts exports written by a worker: start one, its live status on the contacts
page, and the file's download (members of the workspace only; anyone else gets 404)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.http import FileResponse, Http404, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from contacts import selectors, services
from workspaces.dashboard import WorkspaceRequest, workspace_view
from workspaces.models import Role


# First: an outsider gets 404 whatever the method. Viewers may start one too: an
# export only reads, as the streamed CSV of a small list does.
@workspace_view(write_methods_role=Role.VIEWER)
@require_POST
def contact_export_start(request: WorkspaceRequest) -> HttpResponse:
    """Queue an export of the contacts the list shows with the posted filters; the
    contacts page shows its progress, then the download link."""
    params = QueryDict(request.POST.get("querystring", ""))
    filters = {k: v for k, v in selectors.contact_list_filters(params).items() if v}
    query = QueryDict(mutable=True)
    query.update(filters)
    services.contact_export_request(
        workspace=request.workspace,
        query=query.urlencode(),
        requested_by=request.user.get_username(),
    )
    url = reverse("contacts:contacts", kwargs={"slug": request.workspace.slug})
    return redirect(f"{url}?{params.urlencode()}" if params else url)


def export_status_context(request: WorkspaceRequest) -> dict[str, object]:
    export = services.contact_export_status(workspace=request.workspace)
    return {
        "export": export,
        "export_running": export is not None and export.finished_at is None,
    }


@workspace_view()
def contact_export_status_panel(request: WorkspaceRequest) -> HttpResponse:
    """The contacts page's live status of an export (htmx polls it while one runs)."""
    return render(request, "contacts/_export.html", export_status_context(request))


@workspace_view()
def contact_export_download(request: WorkspaceRequest, token: str) -> FileResponse:
    export = services.contact_export_for_download(workspace=request.workspace, token=token)
    if export is None:
        raise Http404("No such export.")
    zone = ZoneInfo(request.workspace.time_zone)
    stamp = timezone.localtime(export.requested_at, zone).strftime("%Y%m%d-%H%M")
    return FileResponse(
        export.file.open("rb"),
        as_attachment=True,
        filename=f"{request.workspace.slug}-contacts-{stamp}.csv",
        content_type="text/csv; charset=utf-8",
    )
