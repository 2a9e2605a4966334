"""Reads of journeys shared by the dashboard and the API."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet

from campaigns.journeys.steps import STEP_TYPES
from campaigns.models import IN_JOURNEY, EnrolmentStatus, Journey, JourneyEnrolment, JourneyStep
from messaging.models import Message, Origin
from workspaces.models import Workspace


def with_totals(queryset: QuerySet[Journey]) -> QuerySet[Journey]:
    """The list's headline numbers in one grouped query: entered, active (in the
    journey, not held out) and converted, as `journey_totals` counts them."""
    return queryset.annotate(
        n_entered=Count("enrolments"),
        n_active=Count("enrolments", filter=Q(enrolments__status=EnrolmentStatus.ACTIVE)),
        n_converted=Count("enrolments", filter=Q(enrolments__converted_at__isnull=False)),
    )


def journeys_for_workspace(*, workspace: Workspace) -> QuerySet[Journey]:
    return with_totals(Journey.objects.filter(workspace=workspace)).order_by("-id")


def journey_get(*, workspace: Workspace, journey_id: object) -> Journey | None:
    try:
        pk = int(str(journey_id))
    except ValueError:
        return None
    return Journey.objects.filter(workspace=workspace, pk=pk).select_related("workspace").first()


def journey_edit_impact(*, journey: Journey, data: dict[str, Any]) -> dict[str, Any]:
    """What saving `data` (the journey's fields as the form would save them) would do
    to the contacts inside it, before it is saved: per step removed, whose kind
    changes or whose settings change, the contacts there now; and whether the trigger,
    goal or exit rule change (a new goal or exit rule applies to everyone inside).

    Reads only; `services.journey_update` says what actually happens (see its module
    docstring): a removed step's contacts leave, or move to `move_removed_to`."""
    current = list(journey.steps.filter(removed_at__isnull=True).order_by("position"))
    there = dict(
        JourneyEnrolment.objects.filter(journey=journey, status__in=IN_JOURNEY)
        .values_list("step_id")
        .annotate(n=Count("id"))
        .values_list("step_id", "n")
    )
    steps = data.get("steps")
    wanted = (
        {s.get("key"): s for s in steps if isinstance(s, dict) and isinstance(s.get("key"), str)}
        if isinstance(steps, list)
        else None
    )
    changes: list[dict[str, Any]] = []
    if wanted is not None:
        for step in current:
            new = wanted.get(step.key)
            if new is None:
                change = "removed"
            elif new.get("kind") != step.kind:
                change = "kind_changed"
            elif (
                _config_changed(step, new.get("config")) or str(new.get("name") or "") != step.name
            ):
                change = "changed"
            else:
                continue
            changes.append(
                {
                    "key": step.key,
                    "name": step.name,
                    "kind": step.kind,
                    "change": change,
                    "contacts": there.get(step.pk, 0),
                }
            )
        known = {s.key for s in current}
        changes.extend(
            {
                "key": key,
                "name": str(s.get("name") or ""),
                "kind": s.get("kind"),
                "change": "added",
                "contacts": 0,
            }
            for key, s in wanted.items()
            if key not in known
        )
    return {
        "inside": sum(there.values()),
        "steps": changes,
        "trigger_changed": "trigger" in data and data["trigger"] != journey.trigger,
        "goal_changed": "goal" in data and data["goal"] != journey.goal,
        "exit_changed": "exit_rule" in data and data["exit_rule"] != journey.exit_rule,
        "move_removed_to": data.get("move_removed_to") or None,
    }


def journey_variant_numbers(*, journey: Journey) -> dict[str, dict[int, dict[str, int]]]:
    """Per A/B send step key, per template: sent, opened, clicked (one grouped query;
    a variant is known by its template, which the step's variants name)."""
    steps = {
        s.pk: s.key
        for s in journey.steps.filter(removed_at__isnull=True)
        if isinstance(s.config, dict) and s.config.get("variants")
    }
    if not steps:
        return {}
    rows = (
        Message.objects.filter(
            workspace_id=journey.workspace_id,
            origin_kind=Origin.JOURNEY_STEP,
            origin_id__in=list(steps),
        )
        .values("origin_id", "template_id")
        .annotate(
            sent=Count("id", filter=Q(sent_at__isnull=False)),
            opened=Count("id", filter=Q(opened_at__isnull=False)),
            clicked=Count("id", filter=Q(clicked_at__isnull=False)),
        )
    )
    out: dict[str, dict[int, dict[str, int]]] = {}
    for row in rows:
        numbers = {k: row[k] for k in ("sent", "opened", "clicked")}
        key = steps.get(row["origin_id"] or 0)
        if key is not None:
            out.setdefault(key, {})[row["template_id"]] = numbers
    return out


def _config_changed(step: JourneyStep, new: Any) -> bool:
    """Whether the settings mean something else (one meaning may be spelt two ways)."""
    if not isinstance(new, dict):
        return bool(new) or bool(step.config)
    kind = STEP_TYPES.get(step.kind)
    if kind is None:
        return new != step.config
    return kind.canonical(new) != kind.canonical(step.config)
