"""The contact page's loyalty panel: points, tier and the way to the next, the latest
entries, and the member page's link (to send or open)."""

from __future__ import annotations

from django.http import Http404, HttpResponse
from django.shortcuts import render

from contacts.selectors import contact_get
from loyalty import selectors, tokens
from loyalty.selectors_member import standing_for
from workspaces.dashboard import WorkspaceRequest, workspace_view

SHOWN = 5


@workspace_view()
def contact_loyalty_panel(request: WorkspaceRequest, contact_id: int) -> HttpResponse:
    contact = contact_get(workspace=request.workspace, contact_id=contact_id)
    if contact is None:
        raise Http404("No such contact.")
    entries = list(selectors.entries_for_contact(contact=contact).order_by("-id")[:SHOWN])
    return render(
        request,
        "loyalty/_contact_loyalty.html",
        {
            "contact": contact,
            "standing": standing_for(contact=contact),
            "entries": entries,
            "member_url": tokens.member_url(
                workspace_id=contact.workspace_id, contact_id=contact.pk
            ),
        },
    )
