"""Dashboard pages for segments and the rule builder's catalog and live preview."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from config.errors import DomainError
from config.pagination import keyset_page
from contacts import selectors, services
from contacts.rules import CATALOG_EXTRAS, FIELDS, contacts_matching, matching_count, rule_errors
from contacts.rules.describe import describe
from contacts.rules.registry import ATTRIBUTE_OPS, OPS_BY_KIND
from workspaces.dashboard import WorkspaceRequest, workspace_view

SAMPLE = 8


@workspace_view()
def rule_catalog(request: WorkspaceRequest) -> JsonResponse:
    """What the rule builder offers: fields with their operators and choices, the
    attribute and event names in use, the segments."""
    workspace = request.workspace
    return JsonResponse(
        {
            "fields": [
                {
                    "name": spec.name,
                    "label": spec.label,
                    "kind": spec.kind,
                    "choices": spec.choices(workspace) if spec.choices else None,
                }
                for spec in FIELDS.values()
            ],
            "ops": {
                **{kind: list(ops) for kind, ops in OPS_BY_KIND.items()},
                "attribute": list(ATTRIBUTE_OPS),
            },
            "attributes": selectors.attribute_names(workspace=workspace),
            "events": selectors.event_names(workspace=workspace),
            "segments": [
                {"id": s.pk, "name": s.name}
                for s in selectors.segments_for_workspace(workspace=workspace)
            ],
            **{key: value for extra in CATALOG_EXTRAS for key, value in extra(workspace).items()},
        }
    )


def _parse_rule(raw: str) -> tuple[Any, dict[str, list[str]]]:
    try:
        return json.loads(raw or "null"), {}
    except ValueError as exc:
        return None, {"rule": [f"is not JSON ({exc})"]}


@workspace_view(write_methods_role="viewer")
def rule_preview(request: WorkspaceRequest) -> HttpResponse:
    """The live count and sample under the rule builder (htmx, on every change)."""
    rule, errors = _parse_rule(request.POST.get("rule", ""))
    segment_id = request.POST.get("segment_id")
    if not errors:
        errors = rule_errors(
            rule, workspace=request.workspace, segment_id=int(segment_id) if segment_id else None
        )
    context: dict[str, Any] = {"errors": errors}
    if not errors:
        matching = contacts_matching(rule, workspace=request.workspace, validate=False)
        context.update(
            count=matching_count(matching),
            sample=matching.order_by("-pk")[:SAMPLE],
            description=describe(rule),
        )
    return render(request, "contacts/_rule_preview.html", context)


@workspace_view()
def segment_list(request: WorkspaceRequest) -> HttpResponse:
    segments = [
        {"segment": s, "description": describe(s.rule)}
        for s in selectors.segments_for_workspace(workspace=request.workspace)
    ]
    return render(request, "contacts/segment_list.html", {"segments": segments})


@workspace_view()
def segment_edit(request: WorkspaceRequest, segment_id: int | None = None) -> HttpResponse:
    segment = None
    if segment_id is not None:
        segment = selectors.segment_get(workspace=request.workspace, segment_id=segment_id)
        if segment is None:
            raise Http404("No such segment.")
    errors: dict[str, list[str]] = {}
    values = {
        "name": segment.name if segment else "",
        "description": segment.description if segment else "",
        "rule": json.dumps(segment.rule if segment else {"all": []}),
    }
    if request.method == "POST":
        values = {key: request.POST.get(key, "") for key in values}
        rule, errors = _parse_rule(values["rule"])
        if not errors:
            data = {"name": values["name"], "description": values["description"], "rule": rule}
            try:
                if segment is None:
                    segment = services.segment_create(
                        workspace=request.workspace, data=data, actor=request.actor
                    )
                else:
                    segment = services.segment_update(
                        segment=segment, data=data, actor=request.actor
                    )
                messages.success(request, f"Segment “{segment.name}” saved.")
                return redirect(
                    "contacts:segment-contacts", slug=request.workspace.slug, segment_id=segment.pk
                )
            except DomainError as exc:
                errors = exc.fields or {"rule": [exc.message]}
    return render(
        request,
        "contacts/segment_edit.html",
        {"segment": segment, "values": values, "errors": errors},
    )


@workspace_view()
def segment_contacts(request: WorkspaceRequest, segment_id: int) -> HttpResponse:
    segment = selectors.segment_get(workspace=request.workspace, segment_id=segment_id)
    if segment is None:
        raise Http404("No such segment.")
    matching = contacts_matching(segment.rule, workspace=request.workspace, validate=False)
    try:
        rows, next_cursor = keyset_page(
            matching, keys=["-id"], cursor=request.GET.get("cursor"), limit=50
        )
    except DomainError:
        rows, next_cursor = keyset_page(matching, keys=["-id"], cursor=None, limit=50)
    return render(
        request,
        "contacts/segment_contacts.html",
        {
            "segment": segment,
            "description": describe(segment.rule),
            "contacts": rows,
            "next_cursor": next_cursor,
            "count": selectors.segment_count(segment),
            "is_first_page": not request.GET.get("cursor"),
        },
    )


@workspace_view()
def segment_count(request: WorkspaceRequest, segment_id: int) -> HttpResponse:
    """How many contacts a segment holds now, for the segment list (loaded by htmx row by
    row, so a slow rule never holds up the page)."""
    segment = selectors.segment_get(workspace=request.workspace, segment_id=segment_id)
    if segment is None:
        raise Http404("No such segment.")
    count = selectors.segment_count(segment)
    return render(request, "contacts/_segment_count.html", {"segment": segment, "count": count})


@require_POST
@workspace_view()
def segment_delete(request: WorkspaceRequest, segment_id: int) -> HttpResponse:
    segment = selectors.segment_get(workspace=request.workspace, segment_id=segment_id)
    if segment is None:
        raise Http404("No such segment.")
    try:
        services.segment_delete(segment=segment, actor=request.actor)
        messages.success(request, f"Segment “{segment.name}” deleted.")
    except DomainError as exc:
        messages.error(request, "; ".join(r for rs in exc.fields.values() for r in rs))
        return redirect(
            "contacts:segment-contacts", slug=request.workspace.slug, segment_id=segment.pk
        )
    return redirect("contacts:segments", slug=request.workspace.slug)
