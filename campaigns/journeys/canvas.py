"""What the journey canvas (static/js/journey-canvas.js) needs, as one JSON island on
the builder page: the steps being edited, the server's errors on them by path, the
per-step numbers, and the choices its forms offer (templates, stages, surveys, step kinds).

The canvas writes the steps back into the form's hidden `steps` field, which the
server checks exactly as before (definition.py); nothing here is a second format."""

from __future__ import annotations

import json
from typing import Any

from django.urls import reverse

from campaigns.models import Journey, JourneyStatus, StepKind
from lifecycle.models import Stage
from messaging.models import Template
from surveys.models import Survey
from workspaces.models import Workspace

# Error paths the canvas shows on a step or above the flow; the others have a place
# in the form (trigger, goal, exit, policy).
STEP_PATHS = ("steps", "entry_key")


def rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def with_rates(row: dict[str, Any]) -> dict[str, Any]:
    """A step's counts with its open and click rates as percentages to show (a
    dash before anything is sent), for the server-drawn flow."""
    if "sent" not in row:
        return row
    shown = {}
    for name, part in (("open_rate", "opened"), ("click_rate", "clicked")):
        value = rate(row[part], row["sent"])
        shown[name] = "\u2013" if value is None else f"{round(100 * value, 1):g}%"
    return {**row, **shown}


def step_numbers(
    counts: list[dict[str, Any]], variants: dict[str, dict[int, dict[str, int]]]
) -> dict[str, dict[str, Any]]:
    """Per current step key: entered, waiting, exited, converted, and for a send,
    sent with open and click rates (of those sent); A/B and split assignments; per A/B
    variant's template, sent with open and click rates."""
    out: dict[str, dict[str, Any]] = {}
    for row in counts:
        if row["removed"]:
            continue
        numbers = {k: row[k] for k in ("entered", "waiting", "exited", "converted")}
        if "sent" in row:
            numbers.update(
                sent=row["sent"],
                open_rate=rate(row["opened"], row["sent"]),
                click_rate=rate(row["clicked"], row["sent"]),
            )
        if row.get("assigned"):
            numbers["assigned"] = row["assigned"]
        if row["key"] in variants:
            numbers["templates"] = {
                str(template_id): {
                    "sent": n["sent"],
                    "open_rate": rate(n["opened"], n["sent"]),
                    "click_rate": rate(n["clicked"], n["sent"]),
                }
                for template_id, n in variants[row["key"]].items()
            }
        if row.get("winner", {}).get("label"):
            numbers["winner"] = row["winner"]["label"]
        out[row["key"]] = numbers
    return out


def parsed_steps(text: str) -> list[Any]:
    """The steps the form holds (as posted, after a refused save), else none."""
    try:
        steps = json.loads(text or "[]")
    except json.JSONDecodeError:
        return []
    return steps if isinstance(steps, list) else []


def canvas_data(
    *,
    workspace: Workspace,
    journey: Journey | None,
    steps_text: str,
    errors: dict[str, list[str]],
    counts: list[dict[str, Any]],
    variants: dict[str, dict[int, dict[str, int]]],
    templates: list[Template],
    stages: list[Stage],
) -> dict[str, Any]:
    slug = workspace.slug
    live = journey is not None and journey.status in (JourneyStatus.LIVE, JourneyStatus.PAUSED)
    return {
        "steps": parsed_steps(steps_text),
        "errors": {p: r for p, r in errors.items() if p.startswith(STEP_PATHS)},
        # A draft has had no one through it: no numbers to show yet.
        "numbers": step_numbers(counts, variants) if journey and journey.live_since else {},
        "kinds": [[value, str(label)] for value, label in StepKind.choices],
        "templates": [
            {
                "id": t.pk,
                "name": t.name,
                "channel": t.channel,
                "url": reverse(
                    "messaging:template-edit", kwargs={"slug": slug, "template_id": t.pk}
                ),
            }
            for t in templates
        ],
        "stages": [{"id": s.pk, "name": s.name} for s in stages],
        "surveys": [
            {"id": pk, "name": name}
            for pk, name in Survey.objects.filter(workspace=workspace)
            .order_by("name")
            .values_list("pk", "name")
        ],
        "surveys_url": reverse("surveys:survey-new", kwargs={"slug": slug}),
        "catalog_url": reverse("contacts:rule-catalog", kwargs={"slug": slug}),
        "impact_url": (
            reverse("campaigns:journey-impact", kwargs={"slug": slug, "journey_id": journey.pk})
            if live and journey is not None
            else ""
        ),
    }
