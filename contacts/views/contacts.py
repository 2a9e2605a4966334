"""Dashboard pages for contacts and CSV imports. Thin: selectors in, services out."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from config.errors import DomainError, Forbidden
from config.pagination import keyset_page
from contacts import selectors, services
from contacts.models import Contact, EmailStatus, Event, SmsStatus
from contacts.panels import CONTACT_COLUMNS, CONTACT_PANELS
from contacts.services.saved_views import (
    saved_view_can_remove,
    saved_view_create,
    saved_view_delete,
    saved_views_visible,
)
from contacts.validation import clean_contact
from contacts.views.exports import export_status_context
from workspaces.dashboard import WorkspaceRequest, workspace_view
from workspaces.models import Role

PAGE_SIZE = 50
COUNT_CAP = 10_000


def _capped_count(queryset: QuerySet[Contact]) -> tuple[int, bool]:
    """Exact up to COUNT_CAP, else 'more than': a count must not cost a full scan."""
    count = queryset.order_by()[: COUNT_CAP + 1].count()
    return min(count, COUNT_CAP), count > COUNT_CAP


SORTS = {
    "newest": (["-id"], "Newest first"),
    "oldest": (["id"], "Oldest first"),
    "updated": (["-updated_at", "-id"], "Recently updated"),
}


def _list_filters(request: WorkspaceRequest) -> dict[str, str]:
    params = request.GET
    filters = selectors.contact_list_filters(params)
    filters["sort"] = params.get("sort", "") if params.get("sort") in SORTS else "newest"
    return filters


def _list_queryset(request: WorkspaceRequest, filters: dict[str, str]) -> QuerySet[Contact]:
    return selectors.contacts_listed(workspace=request.workspace, filters=filters)


def _view_query(filters: dict[str, str]) -> str:
    return urlencode(
        {k: v for k, v in filters.items() if v and not (k == "sort" and v == "newest")}
    )


@workspace_view()
def contact_list(request: WorkspaceRequest) -> HttpResponse:
    filters = _list_filters(request)
    queryset = _list_queryset(request, filters)
    keys = SORTS[filters["sort"]][0]
    listed = queryset.select_related(*(c.related for c in CONTACT_COLUMNS))
    try:
        rows, next_cursor = keyset_page(
            listed, keys=keys, cursor=request.GET.get("cursor"), limit=PAGE_SIZE
        )
    except DomainError:
        rows, next_cursor = keyset_page(listed, keys=keys, cursor=None, limit=PAGE_SIZE)
    count, more = _capped_count(queryset)
    query = {key: value for key, value in filters.items() if value and key != "sort"}
    context = {
        "rows": [
            {"contact": c, "cells": [column.cell(c) for column in CONTACT_COLUMNS]} for c in rows
        ],
        "columns": [
            {"key": c.key, "title": c.title, "choices": c.choices(request.workspace)}
            for c in CONTACT_COLUMNS
        ],
        "next_cursor": next_cursor,
        "count": count,
        "count_more": more,
        "filters": filters,
        "filtered": bool(query),
        "query": urlencode({**query, "sort": filters["sort"]}),
        "sorts": [(key, label) for key, (_, label) in SORTS.items()],
        "saved_views": [
            (view, saved_view_can_remove(view=view, membership=request.membership))
            for view in saved_views_visible(membership=request.membership)
        ],
        "current_query": _view_query(filters),
        "is_first_page": not request.GET.get("cursor"),
        "email_statuses": EmailStatus.choices,
        "sms_statuses": SmsStatus.choices,
        # A big list is exported by a worker (with progress), whoever asks (viewers
        # included: an export is a read), never streamed from the request.
        "export_in_background": more or count > settings.CONTACTS_EXPORT_INLINE_MAX,
    }
    if request.headers.get("HX-Request"):
        context["oob_export_button"] = True
        return render(request, "contacts/_contact_rows.html", context)
    return render(
        request, "contacts/contact_list.html", {**context, **export_status_context(request)}
    )


# A run of at least this many events of one name without revenue (page views, product
# views) shows as one line of the activity feed that opens to list them.
RUN_MIN = 3


def activity_items(events: list[Event]) -> list[dict[str, Any]]:
    """The feed's lines: single events, and runs of the same event name collapsed."""
    items: list[dict[str, Any]] = []
    run: list[Event] = []

    def flush() -> None:
        if len(run) >= RUN_MIN:
            items.append({"run": list(run), "name": run[0].name, "count": len(run)})
        else:
            items.extend({"event": e} for e in run)
        run.clear()

    for event in events:
        if run and (event.name != run[0].name or event.revenue is not None):
            flush()
        if event.revenue is not None:
            items.append({"event": event})
        else:
            run.append(event)
    flush()
    return items


@require_POST
@workspace_view(write_methods_role=Role.VIEWER)
def saved_view_save(request: WorkspaceRequest) -> HttpResponse:
    """Save the list's current filters under a name (the form sends the filters), for
    the member alone or shared with the team. Viewers may keep views of their own."""
    keys = _list_filters(request).keys()
    filters = {key: request.POST.get(key, "") for key in keys}
    if filters.get("sort") == "newest":
        filters["sort"] = ""  # the default: a view saved without it matches the plain list
    try:
        view = saved_view_create(
            membership=request.membership,
            name=request.POST.get("name", ""),
            filters=filters,
            allowed=keys,
            shared=request.POST.get("shared") == "on",
            actor=request.actor,
        )
        whose = "shared with the team" if view.shared else "for you"
        messages.success(request, f"View “{view.name}” saved {whose}.")
    except DomainError as exc:
        messages.error(request, exc.message)
    query = _view_query(filters)
    return redirect(f"{reverse('contacts:contacts', args=[request.workspace.slug])}?{query}")


@require_POST
@workspace_view(write_methods_role=Role.VIEWER)
def saved_view_remove(request: WorkspaceRequest, view_id: int) -> HttpResponse:
    view = saved_views_visible(membership=request.membership).filter(pk=view_id).first()
    if view is None:  # another member's own view is not there for this one
        raise Http404("No such view.")
    try:
        saved_view_delete(view=view, membership=request.membership, actor=request.actor)
    except Forbidden as exc:
        raise PermissionDenied(exc.message) from None
    messages.success(request, f"View “{view.name}” removed.")
    return redirect("contacts:contacts", slug=request.workspace.slug)


@workspace_view()
def contact_detail(request: WorkspaceRequest, contact_id: int) -> HttpResponse:
    contact = selectors.contact_get(workspace=request.workspace, contact_id=contact_id)
    if contact is None:
        raise Http404("No such contact.")
    names = selectors.event_names_for_contact(contact=contact)
    chosen = request.GET.get("event", "")
    events_qs = selectors.events_for_contact(contact=contact)
    if chosen:
        events_qs = events_qs.filter(name=chosen)
    keys = ["-occurred_at", "-id"]
    try:
        events, next_cursor = keyset_page(
            events_qs, keys=keys, cursor=request.GET.get("cursor"), limit=PAGE_SIZE
        )
    except DomainError:
        events, next_cursor = keyset_page(events_qs, keys=keys, cursor=None, limit=PAGE_SIZE)
    context = {
        "contact": contact,
        "items": activity_items(events),
        "event_names": names,
        "chosen_event": chosen,
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
@workspace_view()
def contact_signup_set(request: WorkspaceRequest, contact_id: int) -> HttpResponse:
    """Set when the contact signed up: a date, and a time of day if known, both in the
    workspace's time zone (what a marketer reads off another system's screen)."""
    contact = selectors.contact_get(workspace=request.workspace, contact_id=contact_id)
    if contact is None:
        raise Http404("No such contact.")
    day, clock = request.POST.get("signed_up_on", "").strip(), request.POST.get("time", "").strip()
    value: str = day
    if day and clock:
        try:
            local = dt.datetime.fromisoformat(f"{day}T{clock}")
            value = local.replace(tzinfo=ZoneInfo(request.workspace.time_zone)).isoformat()
        except ValueError:
            value = f"{day} {clock}"  # refused below with the reason
    data, errors = clean_contact(
        {"signed_up_at": value}, partial=True, zone=request.workspace.time_zone
    )
    if errors:
        messages.error(request, f"Signed up: {errors['signed_up_at'][0]}.")
    else:
        services.contact_update(contact=contact, data=data, actor=request.actor, source="dashboard")
        messages.success(request, "Signup date saved; the stage history is being recomputed.")
    return redirect("contacts:contact-detail", slug=request.workspace.slug, contact_id=contact.pk)


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
def contact_export(request: WorkspaceRequest) -> HttpResponseBase:
    """The list as CSV, streamed: only a list of at most CONTACTS_EXPORT_INLINE_MAX
    contacts; a bigger one goes back to the list, whose button has a worker write it."""
    queryset = _list_queryset(request, _list_filters(request))
    limit = settings.CONTACTS_EXPORT_INLINE_MAX
    if queryset.order_by()[: limit + 1].count() > limit:
        messages.info(
            request,
            f"This list has more than {limit:,} contacts: Export CSV has it written in "
            "the background, with its progress here.",
        )
        url = reverse("contacts:contacts", kwargs={"slug": request.workspace.slug})
        return redirect(f"{url}?{request.GET.urlencode()}" if request.GET else url)
    response = StreamingHttpResponse(
        services.contacts_csv_rows(queryset), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = (
        f'attachment; filename="{request.workspace.slug}-contacts.csv"'
    )
    return response
