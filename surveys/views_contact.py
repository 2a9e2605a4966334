"""The contact page's surveys panel: the contact's latest answers with their score,
category, comment and the stage they were in."""

from __future__ import annotations

from django.http import Http404, HttpResponse
from django.shortcuts import render

from contacts.selectors import contact_get
from surveys.selectors_contact import answers_for_contact
from workspaces.dashboard import WorkspaceRequest, workspace_view

SHOWN = 10


@workspace_view()
def contact_surveys_panel(request: WorkspaceRequest, contact_id: int) -> HttpResponse:
    contact = contact_get(workspace=request.workspace, contact_id=contact_id)
    if contact is None:
        raise Http404("No such contact.")
    answers = list(answers_for_contact(contact=contact)[: SHOWN + 1])
    return render(
        request,
        "surveys/_contact_surveys.html",
        {"contact": contact, "answers": answers[:SHOWN], "more": len(answers) > SHOWN},
    )
