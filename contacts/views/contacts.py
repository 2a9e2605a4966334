"""Dashboard pages for contacts and CSV imports. Thin: selectors in, services out."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import QuerySet
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from config.errors import DomainError
from config.pagination import keyset_page
from contacts import selectors, services
from contacts.models import Contact, EmailStatus, SmsStatus
from contacts.panels import CONTACT_PANELS
from workspaces.dashboard import WorkspaceRequest, workspace_view
from workspaces.models import Role

PAGE_SIZE = 50
COUNT_CAP = 10_000


def _capped_count(queryset: QuerySet[Contact]) -> tuple[int, bool]:
    """Exact up to COUNT_CAP, else 'more than': a count must not cost a full scan."""
    count = queryset.order_by()[: COUNT_CAP + 1].count()
    return min(count, COUNT_CAP), count > COUNT_CAP


@workspace_view()
def contact_list(request: WorkspaceRequest) -> HttpResponse:
    params = request.GET
    filters = {
        "q": params.get("q", ""),
        "email_status": params.get("email_status") or None,
        "sms_status": params.get("sms_status") or None,
    }
    queryset = selectors.contacts_search(workspace=request.workspace, **filters)  # type: ignore[arg-type]
    try:
        rows, next_cursor = keyset_page(
            queryset, keys=["-id"], cursor=params.get("cursor"), limit=PAGE_SIZE
        )
    except DomainError:
        rows, next_cursor = keyset_page(queryset, keys=["-id"], cursor=None, limit=PAGE_SIZE)
    count, more = _capped_count(queryset)
    context = {
        "contacts": rows,
        "next_cursor": next_cursor,
        "count": count,
        "count_more": more,
        "filters": filters,
        "is_first_page": not params.get("cursor"),
        "email_statuses": EmailStatus.choices,
        "sms_statuses": SmsStatus.choices,
    }
    template = (
        "contacts/_contact_rows.html"
        if request.headers.get("HX-Request")
        else ("contacts/contact_list.html")
    )
    return render(request, template, context)


@workspace_view()
def contact_detail(request: WorkspaceRequest, contact_id: int) -> HttpResponse:
    contact = selectors.contact_get(workspace=request.workspace, contact_id=contact_id)
    if contact is None:
        raise Http404("No such contact.")
    events, next_cursor = keyset_page(
        selectors.events_for_contact(contact=contact),
        keys=["-occurred_at", "-id"],
        cursor=request.GET.get("cursor"),
        limit=PAGE_SIZE,
    )
    context = {
        "contact": contact,
        "events": events,
        "next_cursor": next_cursor,
        "consent_history": selectors.consent_history(contact=contact)[:20],
        "attributes": sorted((contact.attributes or {}).items()),
        "main_panels": [p for p in CONTACT_PANELS if p.column == "main"],
        "side_panels": [p for p in CONTACT_PANELS if p.column == "side"],
    }
    if request.headers.get("HX-Request"):
        return render(request, "contacts/_timeline.html", context)
    return render(request, "contacts/contact_detail.html", context)


@require_POST
@workspace_view(write_methods_role=Role.ADMIN)
def contact_erase(request: WorkspaceRequest, contact_id: int) -> HttpResponse:
    contact = selectors.contact_get(workspace=request.workspace, contact_id=contact_id)
    if contact is None:
        raise Http404("No such contact.")
    services.contact_erase(contact=contact, actor=request.actor)
    messages.success(request, f"Contact {contact_id} was erased.")
    return redirect("contacts:contacts", slug=request.workspace.slug)


@workspace_view()
def contact_export(request: WorkspaceRequest) -> StreamingHttpResponse:
    queryset = selectors.contacts_search(
        workspace=request.workspace,
        q=request.GET.get("q", ""),
        email_status=request.GET.get("email_status") or None,
        sms_status=request.GET.get("sms_status") or None,
    )
    response = StreamingHttpResponse(
        services.contacts_csv_rows(queryset), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = (
        f'attachment; filename="{request.workspace.slug}-contacts.csv"'
    )
    return response
