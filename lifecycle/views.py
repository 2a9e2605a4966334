"""Dashboard pages: stages (order, counts, rules) and a contact's stage panel."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from config.errors import DomainError
from contacts.rules.describe import describe
from contacts.selectors import contact_get
from lifecycle import selectors, services
from lifecycle.models import Cause, Stage, StageTransition
from workspaces.dashboard import WorkspaceRequest, workspace_view
from workspaces.models import Role


def _stage_or_404(request: WorkspaceRequest, stage_id: int) -> Stage:
    stage = selectors.stage_get(workspace=request.workspace, key_or_id=stage_id)
    if stage is None:
        raise Http404("No such stage.")
    return stage


@workspace_view()
def stage_list(request: WorkspaceRequest) -> HttpResponse:
    stages = list(selectors.stages_for_workspace(workspace=request.workspace))
    counts = selectors.stage_counts(workspace=request.workspace)
    total = sum(counts.values()) or 1
    rows = [
        {
            "stage": stage,
            "count": counts.get(stage.pk, 0),
            "share": round(100 * counts.get(stage.pk, 0) / total, 1),
            "rule": describe(stage.rule) if stage.rule else "every contact no stage above claims",
        }
        for stage in stages
    ]
    return render(
        request, "lifecycle/stage_list.html", {"rows": rows, "total": sum(counts.values())}
    )


@require_POST
@workspace_view(write_methods_role=Role.ADMIN)
def stage_move(request: WorkspaceRequest, stage_id: int) -> HttpResponse:
    """Move a stage up or down in the evaluation order."""
    stage = _stage_or_404(request, stage_id)
    keys = [
        s.key
        for s in selectors.stages_for_workspace(workspace=request.workspace)
        if not s.is_default
    ]
    if stage.key in keys:
        index = keys.index(stage.key)
        other = index - 1 if request.POST.get("direction") == "up" else index + 1
        if 0 <= other < len(keys):
            keys[index], keys[other] = keys[other], keys[index]
            services.stages_reorder(workspace=request.workspace, keys=keys, actor=request.actor)
            messages.success(request, f"“{stage.name}” moved; contacts are being evaluated again.")
    return redirect("lifecycle:stages", slug=request.workspace.slug)


@workspace_view(write_methods_role=Role.ADMIN)
def stage_edit(request: WorkspaceRequest, stage_id: int | None = None) -> HttpResponse:
    stage = _stage_or_404(request, stage_id) if stage_id is not None else None
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {
        "key": stage.key if stage else "",
        "name": stage.name if stage else "",
        "colour": stage.colour if stage else "#0d6efd",
        "description": stage.description if stage else "",
        "rule": json.dumps(stage.rule if stage and stage.rule else {"all": []}),
    }
    if request.method == "POST":
        values = {key: request.POST.get(key, "") for key in values}
        data: dict[str, Any] = {k: values[k] for k in ("name", "colour", "description")}
        if stage is None:
            data["key"] = values["key"]
        if not (stage and stage.is_default):
            try:
                data["rule"] = json.loads(values["rule"])
            except ValueError as exc:
                errors = {"rule": [f"is not JSON ({exc})"]}
        if not errors:
            try:
                if stage is None:
                    stage = services.stage_create(
                        workspace=request.workspace, data=data, actor=request.actor
                    )
                else:
                    stage = services.stage_update(stage=stage, data=data, actor=request.actor)
                messages.success(
                    request, f"Stage “{stage.name}” saved; contacts are being evaluated again."
                )
                return redirect("lifecycle:stages", slug=request.workspace.slug)
            except DomainError as exc:
                errors = exc.fields or {"stage": [exc.message]}
    return render(
        request, "lifecycle/stage_edit.html", {"stage": stage, "values": values, "errors": errors}
    )


@require_POST
@workspace_view(write_methods_role=Role.ADMIN)
def stage_remove(request: WorkspaceRequest, stage_id: int) -> HttpResponse:
    stage = _stage_or_404(request, stage_id)
    try:
        moved = services.stage_archive(stage=stage, actor=request.actor)
        messages.success(
            request,
            f"Stage “{stage.name}” removed; {moved} contacts moved by the other stages' rules.",
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("lifecycle:stages", slug=request.workspace.slug)


@require_POST
@workspace_view(write_methods_role=Role.ADMIN)
def stage_make_default(request: WorkspaceRequest, stage_id: int) -> HttpResponse:
    stage = services.stage_make_default(stage=_stage_or_404(request, stage_id), actor=request.actor)
    messages.success(request, f"“{stage.name}” is now the default stage.")
    return redirect("lifecycle:stages", slug=request.workspace.slug)


# Within this of each other, a move's two times are one: only "happened" is shown.
RECORDED_APART = dt.timedelta(minutes=1)
_CAUSE_WORDS: dict[str, str] = {
    Cause.RULE: "Rule",
    Cause.MANUAL: "Manual",
    Cause.API: "API",
    Cause.IMPORT: "Import",
}


def cause_in_words(transition: StageTransition) -> str:
    """What moved the contact, for the audit view: the rule with the event that
    triggered it, a manual move with who made it, the API, an import."""
    words = _CAUSE_WORDS.get(transition.cause, transition.cause)
    if transition.cause == Cause.RULE and transition.event_name:
        return f"{words} — on event “{transition.event_name}”"
    if transition.cause == Cause.MANUAL and transition.actor_user is not None:
        return f"{words}, by {transition.actor_user.email}"
    return words


@workspace_view()
def contact_stage_panel(request: WorkspaceRequest, contact_id: int) -> HttpResponse:
    """The contact page's lifecycle panel: where it is, since when, the history with
    the time spent in each stage, and (for marketers) a manual move."""
    contact = contact_get(workspace=request.workspace, contact_id=contact_id)
    if contact is None:
        raise Http404("No such contact.")
    error = ""
    if request.method == "POST":
        action = request.POST.get("action", "move")
        try:
            if action == "unpin":
                services.contact_stage_unpin(contact=contact, actor=request.actor)
            else:
                stage = selectors.stage_get(
                    workspace=request.workspace, key_or_id=request.POST.get("stage", "")
                )
                if stage is None:
                    raise DomainError("Choose a stage.")
                until = request.POST.get("pinned_until") or None
                pinned_until = (
                    dt.datetime.combine(dt.date.fromisoformat(until), dt.time(), tzinfo=dt.UTC)
                    if until
                    else None
                )
                services.contact_stage_set(
                    contact=contact,
                    stage=stage,
                    actor=request.actor,
                    reason=request.POST.get("reason", ""),
                    pin=request.POST.get("pin") != "no",
                    pinned_until=pinned_until,
                )
        except (DomainError, ValueError) as exc:
            error = getattr(exc, "message", str(exc))
    now = timezone.now()
    state = selectors.contact_stage(contact_id=contact.pk)
    history = list(selectors.transitions_for_contact(contact_id=contact.pk)[:50])
    stays: list[dict[str, Any]] = []
    left_at: dt.datetime | None = None
    for transition in history:  # newest first: each stay ends where the newer one began
        stays.append(
            {
                "transition": transition,
                "left_at": left_at,
                "duration": (left_at or now) - transition.at,
                "cause": cause_in_words(transition),
                # Learned later than it happened (an import, a late event): say both.
                "recorded_later": abs(transition.recorded_at - transition.at) > RECORDED_APART,
            }
        )
        left_at = transition.at
    return render(
        request,
        "lifecycle/_contact_stage.html",
        {
            "contact": contact,
            "state": state,
            "pinned": state.is_pinned(now) if state else False,
            "days_in_stage": (now - state.entered_at).days if state else None,
            "stays": stays,
            "stages": selectors.stages_for_workspace(workspace=request.workspace),
            "error": error,
        },
    )
