"""Checking a journey's definition: trigger, steps, goal and exit rule. Every error is
reported with its path ("steps[2].config.template_id") and reason, all at once.

Steps form a graph without cycles: each names its successors by key ("next"; "yes" /
"no" for a branch; "timeout_next" for wait_for; "paths[].next" for a split). A missing
successor (null) ends the journey there ("completed")."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from campaigns.models import StepKind, TriggerKind
from config import outbound
from contacts.models import Channel, Segment
from contacts.rules.validation import rule_errors
from lifecycle.models import Stage
from messaging.models import Template
from workspaces.models import Workspace

KEY_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
MAX_STEPS = 100
DURATION_UNITS = ("days", "hours", "minutes", "seconds")
MAX_WAIT = dt.timedelta(days=730)


def duration(value: dict[str, Any]) -> dt.timedelta:
    return dt.timedelta(**{unit: float(value.get(unit, 0)) for unit in DURATION_UNITS})


def successors(kind: str, config: dict[str, Any]) -> list[str | None]:
    if kind == StepKind.BRANCH:
        return [config.get("yes"), config.get("no")]
    if kind == StepKind.SPLIT:
        paths = config.get("paths")
        return (
            [p.get("next") for p in paths if isinstance(p, dict)] if isinstance(paths, list) else []
        )
    if kind == StepKind.WAIT_FOR:
        return [config.get("next"), config.get("timeout_next")]
    if kind == StepKind.EXIT:
        return []
    return [config.get("next")]


@dataclass
class Checker:
    workspace: Workspace
    errors: dict[str, list[str]] = field(default_factory=dict)

    def add(self, path: str, reason: str) -> None:
        self.errors.setdefault(path, []).append(reason)

    def rule(self, path: str, rule: Any) -> None:
        for sub, reasons in rule_errors(rule, workspace=self.workspace).items():
            self.errors.setdefault(f"{path}.{sub}" if sub != "rule" else path, []).extend(reasons)

    def positive_int(self, path: str, value: Any, *, low: int = 1, high: int = 10**9) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.add(path, f"must be a whole number from {low} to {high}")

    def duration(self, path: str, value: Any) -> None:
        if not isinstance(value, dict) or not value or set(value) - set(DURATION_UNITS):
            self.add(path, "must be an object of days, hours, minutes, seconds")
            return
        for unit, amount in value.items():
            if isinstance(amount, bool) or not isinstance(amount, int | float) or amount < 0:
                self.add(f"{path}.{unit}", "must be a number of zero or more")
                return
        if not dt.timedelta(0) < duration(value) <= MAX_WAIT:
            self.add(path, "must be more than zero and at most two years")

    def event(self, path: str, value: Any) -> None:
        if not isinstance(value, dict) or not isinstance(value.get("name"), str):
            self.add(path, 'must be {"name": ..., "properties": {...}}')
            return
        if not value["name"].strip():
            self.add(f"{path}.name", "must not be blank")
        if not isinstance(value.get("properties", {}), dict):
            self.add(f"{path}.properties", "must be an object of property values")

    def stage(self, path: str, value: Any) -> None:
        if not Stage.objects.filter(
            pk=value if isinstance(value, int) else -1,
            workspace=self.workspace,
            archived_at__isnull=True,
        ).exists():
            self.add(path, "no such stage in this workspace")


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
    elif kind == TriggerKind.DATE:
        attribute = trigger.get("attribute")
        if not isinstance(attribute, str) or not re.fullmatch(r"[A-Za-z0-9_]{1,64}", attribute):
            c.add("trigger.attribute", "must be an attribute name (letters, digits, _)")
        offset = trigger.get("offset_days", 0)
        if isinstance(offset, bool) or not isinstance(offset, int) or abs(offset) > 366:
            c.add("trigger.offset_days", "must be a whole number from -366 to 366")
        if not isinstance(trigger.get("annual", False), bool):
            c.add("trigger.annual", "must be true or false")


def _step_config(c: Checker, path: str, kind: str, config: dict[str, Any]) -> None:
    if kind in (StepKind.SEND_EMAIL, StepKind.SEND_SMS):
        channel = Channel.EMAIL if kind == StepKind.SEND_EMAIL else Channel.SMS
        variants = config.get("variants")
        arms = variants if isinstance(variants, list) and variants else [config]
        if variants is not None and not (isinstance(variants, list) and len(variants) >= 2):
            c.add(f"{path}.variants", "must list at least two variants, or be left out")
            return
        seen: set[Any] = set()
        for i, arm in enumerate(arms):
            apath = f"{path}.variants[{i}]" if arms is variants else path
            if not isinstance(arm, dict):
                c.add(apath, "must be an object")
                continue
            template_id = arm.get("template_id")
            template = Template.objects.filter(
                pk=template_id if isinstance(template_id, int) else -1, workspace=c.workspace
            ).first()
            if template is None:
                c.add(f"{apath}.template_id", "no such template in this workspace")
            elif template.channel != channel:
                c.add(f"{apath}.template_id", f"is not an {channel} template")
            if arms is variants:
                label = arm.get("label")
                if not isinstance(label, str) or not label or label in seen:
                    c.add(f"{apath}.label", "must be a unique, non-empty label")
                seen.add(label)
                c.positive_int(f"{apath}.weight", arm.get("weight", 1), high=1000)
        winner = config.get("winner")
        if winner is not None:
            if not isinstance(winner, dict) or not variants:
                c.add(f"{path}.winner", 'needs variants, and is {"pool", "wait_hours", "metric"}')
            else:
                c.positive_int(f"{path}.winner.pool", winner.get("pool"), low=2, high=10**7)
                c.positive_int(f"{path}.winner.wait_hours", winner.get("wait_hours", 24), high=720)
                if winner.get("metric", "clicks") not in ("clicks", "conversions"):
                    c.add(f"{path}.winner.metric", "must be clicks or conversions")
        if not isinstance(config.get("best_time", False), bool):
            c.add(f"{path}.best_time", "must be true or false")
    elif kind == StepKind.WAIT:
        c.duration(f"{path}.duration", config.get("duration"))
    elif kind == StepKind.WAIT_UNTIL:
        try:
            dt.time.fromisoformat(str(config.get("time")))
        except ValueError:
            c.add(f"{path}.time", "must be a time of day, HH:MM")
        days = config.get("days_of_week", [])
        if not isinstance(days, list) or any(
            isinstance(d, bool) or not isinstance(d, int) or not 0 <= d <= 6 for d in days
        ):
            c.add(f"{path}.days_of_week", "must list days 0 (Monday) to 6 (Sunday)")
    elif kind == StepKind.WAIT_FOR:
        has_event, has_rule = "event" in config, "rule" in config
        if has_event == has_rule:
            c.add(path, "must wait for either an event or a rule")
        elif has_event:
            c.event(f"{path}.event", config["event"])
        else:
            c.rule(f"{path}.rule", config["rule"])
        c.duration(f"{path}.timeout", config.get("timeout"))
    elif kind == StepKind.BRANCH:
        c.rule(f"{path}.rule", config.get("rule"))
    elif kind == StepKind.SPLIT:
        paths = config.get("paths")
        if not isinstance(paths, list) or not 2 <= len(paths) <= 10:
            c.add(f"{path}.paths", "must list 2 to 10 paths")
            return
        labels = [p.get("label") if isinstance(p, dict) else None for p in paths]
        for i, p in enumerate(paths):
            if not isinstance(labels[i], str) or not labels[i] or labels.count(labels[i]) > 1:
                c.add(f"{path}.paths[{i}].label", "must be a unique, non-empty label")
            c.positive_int(f"{path}.paths[{i}].weight", p.get("weight") if p else None, high=1000)
    elif kind == StepKind.UPDATE_ATTRIBUTE:
        attribute = config.get("attribute")
        if not isinstance(attribute, str) or not re.fullmatch(r"[A-Za-z0-9_]{1,64}", attribute):
            c.add(f"{path}.attribute", "must be an attribute name (letters, digits, _)")
        if "value" not in config:
            c.add(f"{path}.value", "is required (null removes the attribute)")
    elif kind == StepKind.MOVE_STAGE:
        c.stage(f"{path}.stage_id", config.get("stage_id"))
        if config.get("pin_days") is not None:
            c.positive_int(f"{path}.pin_days", config.get("pin_days"), high=3650)
    elif kind == StepKind.WEBHOOK:
        error = webhook_url_error(config.get("url"))
        if error:
            c.add(f"{path}.url", error)


def webhook_url_error(url: Any) -> str:
    """Why this URL may not be called, or "": not http(s), or a host that is not a
    public address (config/outbound.py). The step checks again when it calls, and
    connects to the address it checked."""
    return outbound.url_error(url)


def _steps(c: Checker, steps: Any, entry_key: Any) -> None:
    if not isinstance(steps, list) or not 1 <= len(steps) <= MAX_STEPS:
        c.add("steps", f"must list 1 to {MAX_STEPS} steps")
        return
    keys: dict[str, int] = {}
    graph: dict[str, list[str]] = {}
    for i, step in enumerate(steps):
        path = f"steps[{i}]"
        if not isinstance(step, dict):
            c.add(path, "must be an object")
            continue
        key, kind, config = step.get("key"), step.get("kind"), step.get("config", {})
        if not isinstance(key, str) or not KEY_RE.fullmatch(key):
            c.add(
                f"{path}.key", "must be 1-40 of a-z, 0-9, _ and -, starting with a letter or digit"
            )
            continue
        if key in keys:
            c.add(f"{path}.key", f"repeats steps[{keys[key]}]")
            continue
        keys[key] = i
        if kind not in StepKind.values:
            c.add(f"{path}.kind", f"must be one of {', '.join(StepKind.values)}")
            continue
        if not isinstance(config, dict):
            c.add(f"{path}.config", "must be an object")
            continue
        _step_config(c, f"{path}.config", kind, config)
        graph[key] = [s for s in successors(kind, config) if s is not None]
    for key, nexts in graph.items():
        for target in nexts:
            # A successor named by anything but a string (an object, a list) names no step.
            if not isinstance(target, str) or target not in keys:
                c.add(f"steps[{keys[key]}].config", f"goes to unknown step {target!r}")
    if entry_key not in (None, "") and (not isinstance(entry_key, str) or entry_key not in keys):
        c.add("entry_key", "no step has this key")
    if c.errors:
        return
    # No cycles: a contact must always reach an end (depth-first, colours).
    state: dict[str, int] = {}

    def visit(key: str) -> bool:
        state[key] = 1
        for target in graph.get(key, []):
            if state.get(target) == 1 or (state.get(target) is None and not visit(target)):
                return False
        state[key] = 2
        return True

    for key in graph:
        if state.get(key) is None and not visit(key):
            c.add(f"steps[{keys[key]}]", "is part of a loop; steps must not lead back")
            return


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
