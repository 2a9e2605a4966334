"""The contact page's messages panel: what the contact was sent, and what it opened
and clicked."""

from __future__ import annotations

from django.db.models import Count, Q
from django.http import Http404, HttpResponse
from django.shortcuts import render

from contacts.selectors import contact_get
from messaging.models import Message, MessageStatus
from workspaces.dashboard import WorkspaceRequest, workspace_view

SHOWN = 10


@workspace_view()
def contact_messages_panel(request: WorkspaceRequest, contact_id: int) -> HttpResponse:
    contact = contact_get(workspace=request.workspace, contact_id=contact_id)
    if contact is None:
        raise Http404("No such contact.")
    messages = Message.objects.filter(workspace=request.workspace, contact=contact, is_test=False)
    totals = messages.aggregate(
        sent=Count("pk", filter=Q(sent_at__isnull=False)),
        opened=Count("pk", filter=Q(opened_at__isnull=False)),
        clicked=Count("pk", filter=Q(clicked_at__isnull=False)),
    )
    recent = list(
        messages.select_related("template")
        .order_by("-id")
        .only(
            "pk",
            "channel",
            "subject",
            "status",
            "created_at",
            "sent_at",
            "opened_at",
            "clicked_at",
            "bounced_at",
            "unsubscribed_at",
            "origin_kind",
            "template__name",
        )[:SHOWN]
    )
    return render(
        request,
        "messaging/_contact_messages.html",
        {
            "contact": contact,
            "recent": recent,
            "totals": totals,
            "statuses": dict(MessageStatus.choices),
        },
    )
