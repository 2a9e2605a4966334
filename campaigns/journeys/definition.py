"""Checking a journey's definition: trigger, steps, goal and exit rule. Every error is
reported with its path ("steps[2].config.template_id") and reason, all at once.

Steps form a graph without cycles: each names its successors by key ("next"; "yes" /
"no" for a branch; "timeout_next" for wait_for; "paths[].next" for a split). A missing
successor (null) ends the journey there ("completed")."""

from __future__ import annotations

import re
from typing import Any

from campaigns.journeys.loyalty_trigger import LOYALTY_KINDS, loyalty_trigger_check
from campaigns.journeys.product_triggers import PRODUCT_LOOKBACK_DAYS, browse_trigger_check
from campaigns.journeys.referral_trigger import referral_trigger_check
from campaigns.journeys.steps import STEP_TYPES
from campaigns.journeys.steps.base import Checker
from campaigns.journeys.survey_trigger import survey_trigger_check
from campaigns.models import StepKind, TriggerKind
from contacts.models import Segment
from workspaces.models import Workspace

KEY_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
MAX_STEPS = 100


def _trigger(c: Checker, trigger: Any) -> None:
    if not isinstance(trigger, dict) or trigger.get("kind") not in TriggerKind.values:
        c.add("trigger.kind", f"must be one of {', '.join(TriggerKind.values)}")
        return
    kind = trigger["kind"]
    if kind in (TriggerKind.STAGE_ENTERED, TriggerKind.STAGE_EXITED):
        c.stage("trigger.stage_id", trigger.get("stage_id"))
    elif kind == TriggerKind.EVENT:
        event = trigger.get("event")
        if not isinstance(event, str) or not event.strip():
            c.add("trigger.event", "must name an event")
        if not isinstance(trigger.get("properties", {}), dict):
            c.add("trigger.properties", "must be an object of property values")
    elif kind == TriggerKind.SEGMENT_JOINED:
        segment_id = trigger.get("segment_id")
        if not Segment.objects.filter(
            pk=segment_id if isinstance(segment_id, int) else -1, workspace=c.workspace
        ).exists():
            c.add("trigger.segment_id", "no such segment in this workspace")
    elif kind == TriggerKind.SURVEY_ANSWERED:
        survey_trigger_check(c, trigger)
    elif kind in LOYALTY_KINDS:
        loyalty_trigger_check(c, trigger)
    elif kind == TriggerKind.REFERRAL_CONVERTED:
        referral_trigger_check(c, trigger)
    elif kind in (TriggerKind.BACK_IN_STOCK, TriggerKind.PRICE_DROP):
        _product_trigger(c, trigger)
    elif kind == TriggerKind.DATE:
        _date_trigger(c, trigger)
    elif kind == TriggerKind.BROWSE_ABANDONED:
        browse_trigger_check(c, trigger)


def _product_trigger(c: Checker, trigger: dict[str, Any]) -> None:
    days = trigger.get("lookback_days", PRODUCT_LOOKBACK_DAYS)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 90:
        c.add("trigger.lookback_days", "must be a whole number of days from 1 to 90")


def _date_trigger(c: Checker, trigger: dict[str, Any]) -> None:
    attribute = trigger.get("attribute")
    if not isinstance(attribute, str) or not re.fullmatch(r"[A-Za-z0-9_]{1,64}", attribute):
        c.add("trigger.attribute", "must be an attribute name (letters, digits, _)")
    offset = trigger.get("offset_days", 0)
    if isinstance(offset, bool) or not isinstance(offset, int) or abs(offset) > 366:
        c.add("trigger.offset_days", "must be a whole number from -366 to 366")
    if not isinstance(trigger.get("annual", False), bool):
        c.add("trigger.annual", "must be true or false")


def _step(c: Checker, i: int, step: Any, keys: dict[str, int]) -> list[Any] | None:
    """Check steps[i]; returns its successors, or None when it cannot be checked
    further. Its key goes into `keys`."""
    path = f"steps[{i}]"
    if not isinstance(step, dict):
        c.add(path, "must be an object")
        return None
    key, kind, config = step.get("key"), step.get("kind"), step.get("config", {})
    if not isinstance(key, str) or not KEY_RE.fullmatch(key):
        c.add(f"{path}.key", "must be 1-40 of a-z, 0-9, _ and -, starting with a letter or digit")
        return None
    if key in keys:
        c.add(f"{path}.key", f"repeats steps[{keys[key]}]")
        return None
    keys[key] = i
    if kind not in StepKind.values:
        c.add(f"{path}.kind", f"must be one of {', '.join(StepKind.values)}")
        return None
    if not isinstance(config, dict):
        c.add(f"{path}.config", "must be an object")
        return None
    step_type = STEP_TYPES[kind]
    step_type.validate(c, f"{path}.config", config)
    return [s for s in step_type.successors(config) if s is not None]


def _first_loop(graph: dict[str, list[str]]) -> str | None:
    """A step on a cycle, if any (depth-first, colours): a contact must always reach
    an end."""
    state: dict[str, int] = {}

    def visit(key: str) -> bool:
        state[key] = 1
        for target in graph.get(key, []):
            if state.get(target) == 1 or (state.get(target) is None and not visit(target)):
                return False
        state[key] = 2
        return True

    return next((key for key in graph if state.get(key) is None and not visit(key)), None)


def _steps(c: Checker, steps: Any, entry_key: Any) -> None:
    if not isinstance(steps, list) or not 1 <= len(steps) <= MAX_STEPS:
        c.add("steps", f"must list 1 to {MAX_STEPS} steps")
        return
    keys: dict[str, int] = {}
    graph: dict[str, list[str]] = {}
    for i, step in enumerate(steps):
        nexts = _step(c, i, step, keys)
        if nexts is not None:
            graph[step["key"]] = nexts
    for key, nexts in graph.items():
        for target in nexts:
            # A successor named by anything but a string (an object, a list) names no step.
            if not isinstance(target, str) or target not in keys:
                c.add(f"steps[{keys[key]}].config", f"goes to unknown step {target!r}")
    if entry_key not in (None, "") and (not isinstance(entry_key, str) or entry_key not in keys):
        c.add("entry_key", "no step has this key")
    if c.errors:
        return
    looped = _first_loop(graph)
    if looped is not None:
        c.add(f"steps[{keys[looped]}]", "is part of a loop; steps must not lead back")


def definition_errors(workspace: Workspace, data: dict[str, Any]) -> dict[str, list[str]]:
    """Errors in the fields of `data` that describe the journey (only those present)."""
    c = Checker(workspace)
    if "trigger" in data:
        _trigger(c, data["trigger"])
    if "steps" in data:
        _steps(c, data["steps"], data.get("entry_key"))
    goal = data.get("goal")
    if goal is not None:
        if not isinstance(goal, dict) or len(set(goal) & {"rule", "event"}) != 1:
            c.add("goal", 'must be {"rule": ...} or {"event": {...}}, or null')
        elif "rule" in goal:
            c.rule("goal.rule", goal["rule"])
        else:
            c.event("goal.event", goal["event"])
    if data.get("exit_rule") is not None:
        c.rule("exit_rule", data["exit_rule"])
    if "goal_days" in data:
        c.positive_int("goal_days", data["goal_days"], high=365)
    if "holdout_percent" in data:
        c.positive_int("holdout_percent", data["holdout_percent"], low=0, high=50)
    if "reentry_days" in data:
        c.positive_int("reentry_days", data["reentry_days"], low=0, high=3650)
    return c.errors
