"""Dashboard pages for journeys: the list with headline numbers, and the builder (the
canvas of steps with their numbers, the settings form, the schedule / pause / resume /
cancel buttons and "add contacts"), and what a live journey's edit would affect."""

from __future__ import annotations

import re
from typing import Any

from django.contrib import messages
from django.db.models import Q
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from campaigns.journeys import selectors as selectors_journeys
from campaigns.journeys import services
from campaigns.journeys.canvas import canvas_data, with_rates
from campaigns.journeys.flow import (
    exit_words,
    goal_words,
    journey_flow,
    reentry_words,
    trigger_words,
)
from campaigns.journeys.form import form_data, form_values, posted_values, steps_of
from campaigns.journeys.steps.base import Names
from campaigns.journeys.survey_trigger import CATEGORIES
from campaigns.models import Journey, Reentry, TriggerKind
from config.errors import DomainError
from contacts.selectors import contacts_for_workspace, segments_for_workspace
from lifecycle.models import Stage
from loyalty.models import Reward, Tier
from messaging import selectors
from surveys.models import Survey
from workspaces.dashboard import WorkspaceRequest, workspace_view

ACTIONS = {
    "schedule": services.journey_schedule,
    "pause": services.journey_pause,
    "resume": services.journey_resume,
    "cancel": services.journey_cancel,
}
# Which part of the form an error path belongs to (the first prefix that matches).
SECTIONS = (
    ("trigger", "trigger"),
    ("steps", "steps"),
    ("entry_key", "steps"),
    ("goal", "goal"),
    ("exit", "exit"),
    ("reentry", "reentry"),
    ("holdout", "holdout"),
    ("move_removed_to", "move"),
    ("name", "name"),
    ("description", "name"),
)
LIVE_EDIT_NOTICE = (
    "Contacts already inside keep their place on every step that keeps its key and "
    "kind; new settings apply from their next run there (someone already waiting keeps "
    "their time). A step removed, or whose kind changes, takes its contacts out of the "
    "journey, unless you choose a step to move them to (they run it at once). A new "
    "trigger or re-entry policy applies to entries from now on; a new goal or exit rule "
    "applies to everyone inside from their next run."
)


def _journey_or_404(request: WorkspaceRequest, journey_id: int) -> Journey:
    journey = selectors_journeys.journey_get(workspace=request.workspace, journey_id=journey_id)
    if journey is None:
        raise Http404("No such journey.")
    return journey


def _by_section(errors: dict[str, list[str]]) -> dict[str, list[str]]:
    """{"steps": ["steps[2].config.template_id: no such template in this workspace"]}."""
    out: dict[str, list[str]] = {}
    for path, reasons in errors.items():
        section = next((s for prefix, s in SECTIONS if path.startswith(prefix)), "other")
        out.setdefault(section, []).extend(f"{path}: {reason}" for reason in reasons)
    return out


def _choices(request: WorkspaceRequest) -> dict[str, Any]:
    templates = list(selectors.templates_for_workspace(workspace=request.workspace))
    stages = list(
        Stage.objects.filter(workspace=request.workspace, archived_at__isnull=True).order_by(
            "position"
        )
    )
    return {
        "stages": stages,
        "segments": segments_for_workspace(workspace=request.workspace).order_by("name"),
        "templates": templates,
        "trigger_kinds": TriggerKind.choices,
        "surveys": Survey.objects.filter(workspace=request.workspace).order_by("name"),
        "answer_categories": [(key, c.label) for key, c in CATEGORIES.items()],
        "tiers": Tier.objects.filter(workspace=request.workspace).order_by("threshold"),
        "rewards": Reward.objects.filter(workspace=request.workspace).order_by("name"),
        "tier_directions": [("", "Either way"), ("up", "Up"), ("down", "Down")],
        "reentries": Reentry.choices,
    }


def _overview(journey: Journey, counts: list[dict[str, Any]]) -> dict[str, Any]:
    """The builder's picture of a saved journey: flow, summary and numbers."""
    steps = steps_of(journey)
    names = Names.load(journey.workspace, [journey.trigger], steps)
    current = {c["key"]: with_rates(c) for c in counts if not c["removed"]}
    flow, apart = journey_flow(steps, current, names)
    return {
        "flow": flow,
        "apart": apart,
        "removed_steps": [c for c in counts if c["removed"] and c["entered"]],
        "totals": services.journey_totals(journey),
        "summary": {
            "trigger": trigger_words(journey.trigger, names),
            "goal": goal_words(journey),
            "exits": exit_words(journey),
            "reentry": reentry_words(journey),
        },
        "step_keys": [s["key"] for s in steps],
    }


@workspace_view()
def journey_list(request: WorkspaceRequest) -> HttpResponse:
    rows = list(selectors_journeys.journeys_for_workspace(workspace=request.workspace)[:200])
    names = Names.load(request.workspace, [j.trigger for j in rows])
    for journey in rows:
        journey.trigger_text = trigger_words(journey.trigger, names)  # type: ignore[attr-defined]
    return render(request, "campaigns/journey_list.html", {"journeys": rows})


@workspace_view()
def journey_edit(request: WorkspaceRequest, journey_id: int | None = None) -> HttpResponse:
    journey = _journey_or_404(request, journey_id) if journey_id is not None else None
    values = form_values(journey)
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        values = posted_values(request.POST)
        data, errors = form_data(values)
        if not errors:
            try:
                if journey is None:
                    journey = services.journey_create(
                        workspace=request.workspace, data=data, actor=request.actor
                    )
                    messages.success(request, f"Journey “{journey.name}” saved as a draft.")
                else:
                    journey, moved = services.journey_update(
                        journey=journey, data=data, actor=request.actor
                    )
                    messages.success(
                        request,
                        f"Journey “{journey.name}” saved."
                        + (
                            f" Contacts on removed steps: {moved['moved']} moved, "
                            f"{moved['exited']} taken out."
                            if any(moved.values())
                            else ""
                        ),
                    )
                return redirect(
                    "campaigns:journey-edit", slug=request.workspace.slug, journey_id=journey.pk
                )
            except DomainError as exc:
                errors = exc.fields or {"other": [exc.message]}
        if journey is not None:
            journey.refresh_from_db()
    choices = _choices(request)
    counts = services.journey_step_counts(journey) if journey is not None else []
    context: dict[str, Any] = {
        "journey": journey,
        "values": values,
        "errors": _by_section(errors),
        "live_edit_notice": LIVE_EDIT_NOTICE,
        "canvas": canvas_data(
            workspace=request.workspace,
            journey=journey,
            steps_text=values["steps"],
            errors=errors,
            counts=counts,
            variants=(
                selectors_journeys.journey_variant_numbers(journey=journey) if journey else {}
            ),
            templates=choices["templates"],
            stages=choices["stages"],
        ),
        **choices,
    }
    if journey is not None:
        context.update(_overview(journey, counts))
    return render(request, "campaigns/journey_edit.html", context)


@require_POST
@workspace_view()
def journey_impact(request: WorkspaceRequest, journey_id: int) -> JsonResponse:
    """Before a live journey's edit is saved: how many contacts each change affects
    (the builder posts its form here as the marketer edits; nothing is saved)."""
    journey = _journey_or_404(request, journey_id)
    data, _ = form_data(posted_values(request.POST))
    return JsonResponse(selectors_journeys.journey_edit_impact(journey=journey, data=data))


@require_POST
@workspace_view()
def journey_action(request: WorkspaceRequest, journey_id: int, action: str) -> HttpResponse:
    journey = _journey_or_404(request, journey_id)
    service = ACTIONS.get(action)
    if service is None:
        raise Http404("No such action.")
    try:
        journey = service(journey=journey, actor=request.actor)
        messages.success(request, f"Journey “{journey.name}”: {journey.get_status_display()}.")
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("campaigns:journey-edit", slug=request.workspace.slug, journey_id=journey.pk)


@require_POST
@workspace_view()
def journey_contacts_add(request: WorkspaceRequest, journey_id: int) -> HttpResponse:
    """The "add contacts" form: ids and emails, separated by commas, spaces or new lines."""
    journey = _journey_or_404(request, journey_id)
    words = [w for w in re.split(r"[\s,;]+", request.POST.get("contacts", "")) if w]
    ids = [int(w) for w in words if w.isdigit()]
    emails = [w.lower() for w in words if "@" in w]
    found = dict(
        contacts_for_workspace(workspace=request.workspace)
        .filter(Q(pk__in=ids) | Q(email__in=emails))
        .values_list("pk", "email")[:10_000]
    )
    known = {str(pk) for pk in found} | {e.lower() for e in found.values() if e}
    unknown = sum(1 for w in set(words) if w.lower() not in known)
    try:
        added = services.journey_contacts_add(
            journey=journey, contact_ids=list(found), actor=request.actor
        )
        messages.success(
            request,
            f"{added} contact{'s' if added != 1 else ''} entered the journey"
            + (
                f"; {len(found) - added} already inside or not let in again"
                if len(found) > added
                else ""
            )
            + (f"; {unknown} not found" if unknown > 0 else "")
            + ".",
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("campaigns:journey-edit", slug=request.workspace.slug, journey_id=journey.pk)
