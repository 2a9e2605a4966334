"""The journey form as the dashboard posts it: text fields and flags, read into the
input `journey_create` / `journey_update` take (the steps come from the canvas's hidden
field as JSON, the goal and exit rules from the rule builders'), and back."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from django.http import QueryDict

from campaigns.journeys.loyalty_trigger import LOYALTY_KINDS
from campaigns.journeys.product_triggers import DEFAULT_HOURS, PRODUCT_LOOKBACK_DAYS
from campaigns.models import Journey, Reentry, TriggerKind

TEXT_FIELDS = (
    "name",
    "description",
    "trigger_kind",
    "trigger_stage_id",
    "trigger_segment_id",
    "trigger_event",
    "trigger_properties",
    "trigger_attribute",
    "trigger_offset_days",
    "trigger_survey_id",
    "trigger_answer",
    "trigger_score_min",
    "trigger_score_max",
    "trigger_tier_id",
    "trigger_direction",
    "trigger_min_points",
    "trigger_reward_id",
    "trigger_side",
    "trigger_hours",
    "trigger_lookback_days",
    "goal_kind",
    "goal_event",
    "goal_properties",
    "goal_rule",
    "goal_days",
    "exit_rule",
    "reentry",
    "reentry_days",
    "holdout_percent",
    "steps",
)
FLAGS = ("trigger_annual", "exit_on_stage_left", "exit_on_unsubscribe")


def _dumps(value: Any) -> str:
    return "" if value is None else json.dumps(value, indent=2, ensure_ascii=False)


def steps_of(journey: Journey) -> list[dict[str, Any]]:
    return [
        {"key": s.key, "kind": s.kind, **({"name": s.name} if s.name else {}), "config": s.config}
        for s in journey.steps.filter(removed_at__isnull=True)
    ]


def form_values(journey: Journey | None) -> dict[str, Any]:
    """The form's fields as text, as a POST would send them."""
    if journey is None:
        return {
            "trigger_kind": TriggerKind.MANUAL,
            "goal_kind": "",
            "goal_days": "7",
            "reentry": Reentry.ONCE,
            "reentry_days": "0",
            "holdout_percent": "0",
            "exit_on_unsubscribe": True,
            "trigger_hours": str(DEFAULT_HOURS),
            "trigger_lookback_days": str(PRODUCT_LOOKBACK_DAYS),
            "steps": "[]",
        }
    trigger, goal = journey.trigger, journey.goal or {}
    event = goal.get("event") or {}
    return {
        "name": journey.name,
        "description": journey.description,
        "trigger_kind": trigger.get("kind", ""),
        "trigger_stage_id": str(trigger.get("stage_id", "")),
        "trigger_segment_id": str(trigger.get("segment_id", "")),
        "trigger_event": trigger.get("event", ""),
        "trigger_properties": _dumps(trigger.get("properties") or None),
        "trigger_attribute": trigger.get("attribute", ""),
        "trigger_offset_days": str(trigger.get("offset_days", 0)),
        "trigger_annual": bool(trigger.get("annual")),
        **_survey_values(trigger),
        "trigger_tier_id": str(trigger.get("tier_id") or ""),
        "trigger_direction": trigger.get("direction") or "",
        "trigger_min_points": str(trigger.get("min_points") or ""),
        "trigger_reward_id": str(trigger.get("reward_id") or ""),
        "trigger_side": trigger.get("side", "referrer"),
        "trigger_hours": str(trigger.get("hours", DEFAULT_HOURS)),
        "trigger_lookback_days": str(trigger.get("lookback_days", PRODUCT_LOOKBACK_DAYS)),
        "goal_kind": "rule" if "rule" in goal else "event" if "event" in goal else "",
        "goal_event": event.get("name", ""),
        "goal_properties": _dumps(event.get("properties") or None),
        "goal_rule": _dumps(goal.get("rule")),
        "goal_days": str(journey.goal_days),
        "exit_rule": _dumps(journey.exit_rule),
        "exit_on_stage_left": journey.exit_on_stage_left,
        "exit_on_unsubscribe": journey.exit_on_unsubscribe,
        "reentry": journey.reentry,
        "reentry_days": str(journey.reentry_days),
        "holdout_percent": str(journey.holdout_percent),
        "steps": _dumps(steps_of(journey)),
    }


def _survey_values(trigger: dict[str, Any]) -> dict[str, str]:
    """A survey trigger's fields: "which answers" is a category, a score range or any."""
    low, high = trigger.get("score_min"), trigger.get("score_max")
    answer = trigger.get("category") or ("range" if low is not None or high is not None else "")
    return {
        "trigger_survey_id": str(trigger.get("survey_id") or ""),
        "trigger_answer": answer,
        "trigger_score_min": "" if low is None else str(low),
        "trigger_score_max": "" if high is None else str(high),
    }


def _survey_trigger(values: dict[str, Any]) -> dict[str, Any]:
    survey = values["trigger_survey_id"]
    trigger: dict[str, Any] = {"survey_id": _number(survey) if survey else None}
    answer = values["trigger_answer"]
    if answer == "range":
        for key in ("score_min", "score_max"):
            if values[f"trigger_{key}"]:
                trigger[key] = _number(values[f"trigger_{key}"])
    elif answer:
        trigger["category"] = answer
    return trigger


def _loyalty_trigger(kind: str, values: dict[str, Any]) -> dict[str, Any]:
    """A loyalty trigger's fields: empty choices mean any."""

    def optional(field: str) -> Any:
        return _number(values[field]) if values[field] else None

    if kind == TriggerKind.TIER_CHANGED:
        return {"tier_id": optional("trigger_tier_id"), "direction": values["trigger_direction"]}
    if kind == TriggerKind.POINTS_EARNED:
        return {"min_points": optional("trigger_min_points")}
    if kind == TriggerKind.REWARD_REDEEMED:
        return {"reward_id": optional("trigger_reward_id")}
    return {}


def posted_values(post: QueryDict) -> dict[str, Any]:
    values: dict[str, Any] = {k: post.get(k, "").strip() for k in TEXT_FIELDS}
    for flag in FLAGS:
        values[flag] = post.get(flag) == "on"
    values["move_removed_to"] = post.get("move_removed_to", "")
    return values


def _number(text: str) -> Any:
    """A whole number, or the text itself for the service to refuse by name."""
    return int(text) if re.fullmatch(r"-?\d{1,9}", text) else text


def _trigger(values: dict[str, Any], parsed: Callable[[str, str], Any]) -> dict[str, Any]:
    """The trigger from its form fields (`parsed` reads a JSON field, noting errors)."""
    kind = values["trigger_kind"]
    trigger: dict[str, Any] = {"kind": kind}
    if kind in (TriggerKind.STAGE_ENTERED, TriggerKind.STAGE_EXITED):
        trigger["stage_id"] = _number(values["trigger_stage_id"])
    elif kind == TriggerKind.SEGMENT_JOINED:
        trigger["segment_id"] = _number(values["trigger_segment_id"])
    elif kind == TriggerKind.EVENT:
        trigger["event"] = values["trigger_event"]
        properties = parsed("trigger_properties", "trigger.properties")
        if properties:
            trigger["properties"] = properties
    elif kind == TriggerKind.SURVEY_ANSWERED:
        trigger.update(_survey_trigger(values))
    elif kind in LOYALTY_KINDS:
        trigger.update(_loyalty_trigger(kind, values))
    elif kind == TriggerKind.REFERRAL_CONVERTED:
        trigger["side"] = values["trigger_side"] or "referrer"
    elif kind == TriggerKind.BROWSE_ABANDONED:
        trigger["hours"] = _number(values["trigger_hours"] or str(DEFAULT_HOURS))
    elif kind in (TriggerKind.BACK_IN_STOCK, TriggerKind.PRICE_DROP):
        trigger["lookback_days"] = _number(
            values["trigger_lookback_days"] or str(PRODUCT_LOOKBACK_DAYS)
        )
    elif kind == TriggerKind.DATE:
        trigger["attribute"] = values["trigger_attribute"]
        trigger["offset_days"] = _number(values["trigger_offset_days"] or "0")
        trigger["annual"] = values["trigger_annual"]
    return trigger


def form_data(values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The service's input from the form, and errors in JSON the service never sees."""
    errors: dict[str, list[str]] = {}

    def parsed(field: str, path: str) -> Any:
        text = values[field]
        if not text:
            return None
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            errors[path] = [f"is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"]
            return None

    trigger = _trigger(values, parsed)
    goal: dict[str, Any] | None = None
    if values["goal_kind"] == "event":
        event: dict[str, Any] = {"name": values["goal_event"]}
        properties = parsed("goal_properties", "goal.event.properties")
        if properties:
            event["properties"] = properties
        goal = {"event": event}
    elif values["goal_kind"] == "rule":
        goal = {"rule": parsed("goal_rule", "goal.rule")}
    data = {
        "name": values["name"],
        "description": values["description"],
        "trigger": trigger,
        "goal": goal,
        "goal_days": _number(values["goal_days"]),
        "exit_rule": parsed("exit_rule", "exit_rule"),
        "exit_on_stage_left": values["exit_on_stage_left"],
        "exit_on_unsubscribe": values["exit_on_unsubscribe"],
        "reentry": values["reentry"],
        "reentry_days": _number(values["reentry_days"] or "0"),
        "holdout_percent": _number(values["holdout_percent"] or "0"),
        "steps": parsed("steps", "steps"),
    }
    if data["steps"] is None and "steps" not in errors:
        errors["steps"] = ["is required (a JSON list of steps)"]
    if values.get("move_removed_to"):
        data["move_removed_to"] = values["move_removed_to"]
    return data, errors
