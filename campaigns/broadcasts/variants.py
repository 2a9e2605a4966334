"""A broadcast's A/B variants as a request states them, checked: each may have its own
template (else the broadcast's), subject line (email; personalised like a template's)
and send time (an instant; a test of send time), a weight, and exactly one is the
default. Problems are reported under `variants` as `<label>: <reason>`."""

from __future__ import annotations

from typing import Any

from campaigns.broadcasts.parsing import instant, whole_number
from campaigns.models import Broadcast, ScheduleKind
from contacts.models import Channel
from messaging.models import Template
from messaging.sandbox import TemplateError, compile_template

SHAPE = "a list of {label, template_id, subject, send_at, weight, is_default, best_time}"
SUBJECT_MAX = 500


def _template(broadcast: Broadcast, raw: Any, label: str, errors: dict[str, list[str]]) -> Any:
    """The variant's template; None when it names none (it then takes the broadcast's)."""
    if raw in (None, ""):
        return None
    found: dict[str, list[str]] = {}
    template_id = whole_number(raw, "variants", found, low=1)
    template = (
        Template.objects.filter(workspace=broadcast.workspace, pk=template_id).first()
        if template_id
        else None
    )
    if template is None:
        errors["variants"] = [f"{label}: no such template"]
    return template


def _subject(broadcast: Broadcast, raw: Any, label: str, errors: dict[str, list[str]]) -> str:
    if raw in (None, ""):
        return ""
    if not isinstance(raw, str):
        errors["variants"] = [f"{label}: subject must be text"]
        return ""
    subject = " ".join(raw.split())
    if len(subject) > SUBJECT_MAX:
        errors["variants"] = [f"{label}: subject is longer than {SUBJECT_MAX} characters"]
    elif broadcast.channel != Channel.EMAIL:
        errors["variants"] = [f"{label}: a subject line is for email only"]
    else:
        try:
            compile_template(subject, field="subject", html_mode=False)
        except TemplateError as exc:
            errors["variants"] = [f"{label}: subject: {exc.reason}"]
    return subject


def _one(broadcast: Broadcast, index: int, item: Any, errors: dict[str, list[str]]) -> Any:
    if not isinstance(item, dict):
        errors["variants"] = [f"{index}: an object"]
        return None
    label = str(item.get("label") or chr(ord("A") + index))[:20]
    template = _template(broadcast, item.get("template_id"), label, errors)
    found: dict[str, list[str]] = {}
    weight = whole_number(item.get("weight", 1), "weight", found, low=1)
    if weight is None:
        errors["variants"] = [f"{label}: weight must be a whole number of at least 1"]
    send_at = instant(item.get("send_at"), "send_at", found)
    if "send_at" in found:
        errors["variants"] = [f"{label}: send_at must be an ISO 8601 instant with a UTC offset"]
    subject = _subject(broadcast, item.get("subject"), label, errors)
    if "variants" in errors:
        return None
    return {
        "label": label,
        "template": template,
        "subject": subject,
        "send_at": send_at,
        "weight": weight,
        "is_default": bool(item.get("is_default")),
        "best_time": bool(item.get("best_time")),
    }


def parse_variants(
    broadcast: Broadcast, raw: Any, errors: dict[str, list[str]]
) -> list[dict[str, Any]]:
    """The variants of a request body (call after the broadcast's channel and template
    are applied); a variant without a template gets the broadcast's."""
    if raw in (None, ""):
        return []
    if not isinstance(raw, list):
        errors["variants"] = [SHAPE]
        return []
    parsed = []
    for index, item in enumerate(raw):
        variant = _one(broadcast, index, item, errors)
        if variant is None:
            return []
        parsed.append(variant)
    fallback = broadcast.template if broadcast.template_id else None
    for variant in parsed:
        if variant["template"] is None:
            if fallback is None:
                errors["variants"] = [f"{variant['label']}: choose a template"]
                return []
            variant["template"] = fallback
    return parsed


def variant_errors(broadcast: Broadcast, variants: list[dict[str, Any]]) -> dict[str, list[str]]:
    """What is wrong with the variants as a whole (given each one parsed)."""
    labels = [v["label"] for v in variants]
    reason = ""
    if len(variants) < 2:
        reason = "an A/B test needs at least two variants"
    elif len(set(labels)) != len(labels):
        reason = "labels must differ"
    elif sum(1 for v in variants if v["is_default"]) != 1:
        reason = "exactly one variant is the default"
    elif any(v["template"].channel != broadcast.channel for v in variants):
        reason = f"every variant needs a {broadcast.channel} template"
    elif broadcast.schedule == ScheduleKind.BEST and any(v["best_time"] for v in variants):
        reason = (
            "best_time on a variant tests it against the schedule; "
            "with schedule best every variant already goes at the best time"
        )
    elif any(v["best_time"] and v["send_at"] for v in variants):
        reason = "a variant goes at its best time or at its own send_at, not both"
    elif any(v["send_at"] for v in variants) and broadcast.schedule not in (
        ScheduleKind.NOW,
        ScheduleKind.AT,
    ):
        reason = (
            "a variant's own send_at tests it against a broadcast sent now or at a time; "
            "local and best-time schedules set each contact's time"
        )
    return {"variants": [reason]} if reason else {}
