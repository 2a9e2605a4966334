"""The contact page's journeys panel: the journeys a contact is in or went through, and
where it is in each."""

from __future__ import annotations

from django.http import Http404, HttpResponse
from django.shortcuts import render

from campaigns.models import IN_JOURNEY, JourneyEnrolment
from contacts.selectors import contact_get
from workspaces.dashboard import WorkspaceRequest, workspace_view

SHOWN = 10


@workspace_view()
def contact_journeys_panel(request: WorkspaceRequest, contact_id: int) -> HttpResponse:
    contact = contact_get(workspace=request.workspace, contact_id=contact_id)
    if contact is None:
        raise Http404("No such contact.")
    enrolments = list(
        JourneyEnrolment.objects.filter(workspace=request.workspace, contact=contact)
        .select_related("journey", "step")
        .order_by("-entered_at", "-pk")[:SHOWN]
    )
    return render(
        request,
        "campaigns/_contact_journeys.html",
        {"contact": contact, "enrolments": enrolments, "in_journey": [s.value for s in IN_JOURNEY]},
    )
