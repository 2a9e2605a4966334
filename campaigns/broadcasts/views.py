"""Dashboard pages for broadcasts: the list with headline numbers, the editor with a
live audience count (htmx), and the schedule / pause / resume / cancel buttons."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from campaigns.broadcasts import definition, services
from campaigns.broadcasts import selectors as selectors_broadcasts
from campaigns.broadcasts.audience import audience_count, segment_counts
from campaigns.models import Broadcast, ScheduleKind, WinnerMetric
from catalog.attribution import product_performance
from config.errors import DomainError
from contacts.models import Channel, Segment
from contacts.selectors import contacts_search, event_names
from lifecycle.models import Stage
from lifecycle.selectors import stage_counts
from messaging import selectors
from messaging.services.previews import template_preview
from workspaces.dashboard import WorkspaceRequest, workspace_view

# The broadcast's own fields on the dashboard's form; an A/B test's variants, pool and
# wait come from their own inputs (`_variants_posted`).
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


VARIANT_LABELS = ("A", "B", "C")


def _send_at(request: WorkspaceRequest, prefix: str = "send") -> str:
    """The date and time pickers, read on the workspace's clock, as an instant."""
    day, time = request.POST.get(f"{prefix}_date", ""), request.POST.get(f"{prefix}_time", "")
    if not day:
        return request.POST.get("send_at", "") if prefix == "send" else ""
    try:
        local = dt.datetime.combine(
            dt.date.fromisoformat(day), dt.time.fromisoformat(time or "09:00")
        )
    except ValueError:
        return f"{day}T{time}"  # the definition's check names the field
    return local.replace(tzinfo=zoneinfo.ZoneInfo(request.workspace.time_zone)).isoformat()


def _variants_posted(request: WorkspaceRequest) -> list[dict[str, Any]]:
    if not request.POST.get("ab_enabled"):
        return []
    rows = []
    for index, label in enumerate(VARIANT_LABELS):
        template_id = request.POST.get(f"variant_template_{index}", "")
        subject = request.POST.get(f"variant_subject_{index}", "").strip()
        send_at = _send_at(request, f"variant_send_{index}")
        # A and B always take part (empty: the content step's template and subject);
        # C only when something of it is chosen.
        if index >= 2 and not (template_id or subject or send_at):
            continue
        rows.append(
            {
                "label": label,
                "template_id": template_id,
                "subject": subject,
                "send_at": send_at,
                "weight": request.POST.get(f"variant_weight_{index}", "1") or "1",
                "is_default": index == 0,
            }
        )
    return rows


def _posted(request: WorkspaceRequest) -> dict[str, Any]:
    data: dict[str, Any] = {f: request.POST.get(f, "") for f in SCALARS}
    for field in LISTS:
        data[field] = [v for v in request.POST.getlist(field) if v]
    data["send_at"] = _send_at(request)
    data["variants"] = _variants_posted(request)
    data["winner_metric"] = request.POST.get("winner_metric") or "clicks"
    data["conversion_event"] = request.POST.get("conversion_event", "")
    data["conversion_window_days"] = request.POST.get("conversion_window_days") or "7"
    if data["variants"]:
        data["template_id"] = data["variants"][0]["template_id"] or data["template_id"]
        data["test_pool_percent"] = request.POST.get("test_pool_percent", "0") or "0"
        data["winner_wait_hours"] = request.POST.get("winner_wait_hours", "4") or "4"
    else:
        data["test_pool_percent"] = "0"
    return data


def _values(broadcast: Broadcast | None) -> dict[str, Any]:
    if broadcast is None:
        return {
            "channel": Channel.EMAIL,
            "schedule": ScheduleKind.NOW,
            "test_pool_percent": 20,
            "winner_wait_hours": 4,
            "winner_metric": "clicks",
            "conversion_window_days": 7,
            "variants": [],
            **{f: [] for f in LISTS},
        }
    values: dict[str, Any] = {f: getattr(broadcast, f) for f in SCALARS}
    values.update({f: getattr(broadcast, f) for f in LISTS})
    values["test_pool_percent"] = broadcast.test_pool_percent or 20
    values["winner_wait_hours"] = broadcast.winner_wait_hours
    for field in ("winner_metric", "conversion_event", "conversion_window_days"):
        values[field] = getattr(broadcast, field)
    zone = zoneinfo.ZoneInfo(broadcast.workspace.time_zone)
    values["variants"] = [
        {
            "label": v.label,
            "template_id": v.template_id,
            "subject": v.subject,
            "weight": v.weight,
            "send_date": v.send_at.astimezone(zone).date() if v.send_at else None,
            "send_time": v.send_at.astimezone(zone).time() if v.send_at else None,
        }
        for v in broadcast.variants.order_by("label")
    ]
    if broadcast.send_at:
        local = broadcast.send_at.astimezone(zoneinfo.ZoneInfo(broadcast.workspace.time_zone))
        values["send_date"], values["send_time"] = local.date(), local.time()
    return values


def _choices(request: WorkspaceRequest) -> dict[str, Any]:
    counts = stage_counts(workspace=request.workspace)
    stages = list(
        Stage.objects.filter(workspace=request.workspace, archived_at__isnull=True).order_by(
            "is_default", "position"
        )
    )
    for stage in stages:
        stage.contact_count = counts.get(stage.pk, 0)  # type: ignore[attr-defined]
    return {
        "segments": Segment.objects.filter(workspace=request.workspace).order_by("name"),
        "stages": stages,
        "variant_slots": list(enumerate(VARIANT_LABELS)),
        "metrics": WinnerMetric.choices,
        "event_names": event_names(workspace=request.workspace),
        "purchase_events": ", ".join(request.workspace.purchase_event_names),
        "templates": selectors.templates_for_workspace(workspace=request.workspace),
        "channels": Channel.choices,
        "schedules": [
            (ScheduleKind.NOW.value, "Now"),
            (ScheduleKind.AT.value, "At a date and time"),
            (ScheduleKind.LOCAL.value, "At a time on each contact's own clock"),
            (ScheduleKind.BEST.value, "At each contact's best time, within 24 hours of the date"),
        ],
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
    performance = []
    if broadcast is not None:
        performance = product_performance(
            workspace=request.workspace,
            origin_kind="broadcast",
            origin_ids=[broadcast.pk],
            window_days=broadcast.conversion_window_days,
        )
    return render(
        request,
        "campaigns/broadcast_edit.html",
        {
            "broadcast": broadcast,
            "values": values,
            "errors": errors,
            "product_performance": performance,
            "product_performance_days": broadcast.conversion_window_days if broadcast else 7,
            **_choices(request),
        },
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


@workspace_view()
def broadcast_segment_counts(request: WorkspaceRequest) -> JsonResponse:
    """The audience pickers' segment counts, loaded after the page (one pass over the
    contacts for every segment), so a slow segment never holds the editor up."""
    counts = segment_counts(workspace=request.workspace)
    return JsonResponse({"counts": {str(pk): n for pk, n in counts.items()}})


@workspace_view(write_methods_role="viewer")
def broadcast_preview(request: WorkspaceRequest) -> HttpResponse:
    """The content step's preview: the chosen template rendered as a contact found by
    email or name (the first match), or as a sample contact."""
    template = selectors.template_get(
        workspace=request.workspace, template_id=request.POST.get("template_id", "")
    )
    if template is None:
        return render(request, "campaigns/_broadcast_preview.html", {"missing": True})
    query = request.POST.get("preview_as", "").strip()
    contact = (
        contacts_search(workspace=request.workspace, q=query).order_by("-id").first()
        if query
        else None
    )
    context: dict[str, Any] = {"channel": template.channel, "contact": contact, "query": query}
    try:
        context["rendered"] = template_preview(template=template, contact=contact)
    except DomainError as exc:
        context["errors"] = exc.fields or {"body": [exc.message]}
    return render(request, "campaigns/_broadcast_preview.html", context)


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
