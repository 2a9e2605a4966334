"""A journey in words and as a flow, for the dashboard's builder page.

The steps form a graph without cycles (journey_definition.py). `journey_flow` lays it
out as nested blocks that HTML can draw top to bottom: a chain of boxes, and at a
branch, a split or a wait-for, one column per outcome side by side, joined again below
at the first step every column reaches. A step reached a second way is drawn once; the
other way ends in a "continues at" marker."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from campaigns.journeys.definition import DURATION_UNITS, successors
from campaigns.models import Journey, StepKind, TriggerKind
from contacts.models import Segment
from contacts.rules.describe import describe
from lifecycle.models import Stage
from messaging.models import Template
from workspaces.models import Workspace

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
FORKS = (StepKind.BRANCH, StepKind.SPLIT, StepKind.WAIT_FOR)


@dataclass
class Names:
    """Names of the stages, segments and templates a page mentions (one query each)."""

    stages: dict[int, str] = field(default_factory=dict)
    segments: dict[int, str] = field(default_factory=dict)
    templates: dict[int, str] = field(default_factory=dict)

    @classmethod
    def load(
        cls, workspace: Workspace, triggers: Iterable[Any], steps: Iterable[Any] = ()
    ) -> Names:
        stage_ids, segment_ids, template_ids = set(), set(), set()
        for trigger in triggers:
            if isinstance(trigger, dict):
                stage_ids.add(trigger.get("stage_id"))
                segment_ids.add(trigger.get("segment_id"))
        for step in steps:
            config = step.get("config") if isinstance(step, dict) else None
            if not isinstance(config, dict):
                continue
            stage_ids.add(config.get("stage_id"))
            template_ids.add(config.get("template_id"))
            for variant in config.get("variants") or []:
                if isinstance(variant, dict):
                    template_ids.add(variant.get("template_id"))

        def ints(values: set[Any]) -> list[int]:
            return [v for v in values if isinstance(v, int) and not isinstance(v, bool)]

        def named(model: Any, ids: set[Any]) -> dict[int, str]:
            if not ints(ids):
                return {}
            rows = model.objects.filter(workspace=workspace, pk__in=ints(ids))
            return dict(rows.values_list("pk", "name"))

        return cls(
            stages=named(Stage, stage_ids),
            segments=named(Segment, segment_ids),
            templates=named(Template, template_ids),
        )

    def of(self, kind: str, pk: Any) -> str:
        name = getattr(self, kind).get(pk) if isinstance(pk, int) else None
        return f"“{name}”" if name else f"#{pk} (missing)"


def _properties(properties: Any) -> str:
    if not isinstance(properties, dict) or not properties:
        return ""
    return " where " + ", ".join(f"{k} = {v}" for k, v in properties.items())


def _duration(value: Any) -> str:
    if not isinstance(value, dict):
        return "?"
    parts = []
    for unit in DURATION_UNITS:
        amount = value.get(unit)
        if amount:
            shown = int(amount) if float(amount).is_integer() else amount
            parts.append(f"{shown} {unit[:-1] if shown == 1 else unit}")
    return " ".join(parts) or "0 seconds"


def trigger_words(trigger: Any, names: Names) -> str:
    if not isinstance(trigger, dict):
        return "No trigger"
    kind = trigger.get("kind")
    if kind == TriggerKind.STAGE_ENTERED:
        return f"Enters stage {names.of('stages', trigger.get('stage_id'))}"
    if kind == TriggerKind.STAGE_EXITED:
        return f"Leaves stage {names.of('stages', trigger.get('stage_id'))}"
    if kind == TriggerKind.EVENT:
        return f"Performs “{trigger.get('event')}”{_properties(trigger.get('properties'))}"
    if kind == TriggerKind.SEGMENT_JOINED:
        return f"Joins segment {names.of('segments', trigger.get('segment_id'))}"
    if kind == TriggerKind.DATE:
        attribute, offset = trigger.get("attribute"), int(trigger.get("offset_days") or 0)
        when = (
            f"{-offset} day{'s' if offset != -1 else ''} before"
            if offset < 0
            else f"{offset} day{'s' if offset != 1 else ''} after"
            if offset > 0
            else "on"
        )
        every = " every year" if trigger.get("annual") else ""
        return f"{when[0].upper()}{when[1:]} {attribute}{every}"
    if kind == TriggerKind.MANUAL:
        return "Added by the API or by hand"
    return "No trigger"


def goal_words(journey: Journey) -> str:
    goal = journey.goal
    if not isinstance(goal, dict):
        return "No goal"
    if "rule" in goal:
        what = f"matches {describe(goal['rule'])}"
    else:
        event = goal.get("event") or {}
        what = f"performs “{event.get('name')}”{_properties(event.get('properties'))}"
    return f"Converts when the contact {what} within {journey.goal_days} days of entering"


def exit_words(journey: Journey) -> list[str]:
    out = []
    if journey.exit_rule is not None:
        out.append(f"matches {describe(journey.exit_rule)}")
    if journey.exit_on_stage_left:
        out.append("leaves the trigger's stage")
    if journey.exit_on_unsubscribe:
        out.append("unsubscribes from a channel the journey sends on")
    return out


def reentry_words(journey: Journey) -> str:
    if journey.reentry == "cooldown":
        return f"Again after {journey.reentry_days} days"
    return str(journey.get_reentry_display())


def step_words(kind: str, config: dict[str, Any], names: Names) -> list[str]:
    """The step's settings in words, one line each (outcomes are drawn as columns)."""
    if kind in (StepKind.SEND_EMAIL, StepKind.SEND_SMS):
        variants = config.get("variants") or []
        lines = (
            [
                f"{v.get('label')}: {names.of('templates', v.get('template_id'))}"
                f" (weight {v.get('weight', 1)})"
                for v in variants
                if isinstance(v, dict)
            ]
            if variants
            else [f"Template {names.of('templates', config.get('template_id'))}"]
        )
        if config.get("best_time"):
            lines.append("at the contact's best time within 24 h")
        return lines
    if kind == StepKind.WAIT:
        return [f"for {_duration(config.get('duration'))}"]
    if kind == StepKind.WAIT_UNTIL:
        days = config.get("days_of_week") or []
        on = ", ".join(WEEKDAYS[d] for d in days if isinstance(d, int) and 0 <= d <= 6)
        return [
            f"until {config.get('time')} in the contact's time zone" + (f", on {on}" if on else "")
        ]
    if kind == StepKind.WAIT_FOR:
        if "event" in config:
            event = config.get("event") or {}
            what = f"event “{event.get('name')}”{_properties(event.get('properties'))}"
        else:
            what = f"rule: {describe(config.get('rule'))}"
        return [f"for {what}", f"at most {_duration(config.get('timeout'))}"]
    if kind == StepKind.BRANCH:
        return [f"if {describe(config.get('rule'))}"]
    if kind == StepKind.SPLIT:
        return ["at random, by weight"]
    if kind == StepKind.UPDATE_ATTRIBUTE:
        if config.get("value") is None:
            return [f"remove {config.get('attribute')}"]
        return [f"set {config.get('attribute')} = {config.get('value')!r}"]
    if kind == StepKind.MOVE_STAGE:
        pin = config.get("pin_days")
        return [f"to {names.of('stages', config.get('stage_id'))}"] + (
            [f"kept there for {pin} days"] if pin else []
        )
    if kind == StepKind.WEBHOOK:
        return [f"POST {config.get('url')}"]
    if kind == StepKind.EXIT:
        return ["leave the journey"]
    return []


@dataclass
class Box:
    key: str
    kind: str
    kind_label: str
    name: str
    words: list[str]
    counts: dict[str, Any]


@dataclass
class Column:
    label: str
    detail: str
    items: list[Item]


@dataclass
class Item:
    """One thing in a chain: a step box (with columns when it forks), a marker that
    the path continues at a step drawn elsewhere, or the end of the path."""

    type: str  # "step", "goto", "end"
    box: Box | None = None
    columns: list[Column] = field(default_factory=list)
    target: str = ""


def _outcomes(
    kind: str, config: dict[str, Any], counts: dict[str, Any]
) -> list[tuple[str, str, Any]]:
    """(label, detail, next key) per outcome of a forking step."""
    if kind == StepKind.BRANCH:
        return [("yes", "matches", config.get("yes")), ("no", "does not match", config.get("no"))]
    if kind == StepKind.WAIT_FOR:
        return [
            ("matched", "before the timeout", config.get("next")),
            ("timed out", "after the timeout", config.get("timeout_next")),
        ]
    paths = [p for p in config.get("paths") or [] if isinstance(p, dict)]
    total = sum(int(p.get("weight") or 0) for p in paths) or 1
    assigned = counts.get("assigned") or {}
    out = []
    for p in paths:
        share = round(100 * int(p.get("weight") or 0) / total)
        out.append(
            (
                str(p.get("label")),
                f"{share}% · {assigned.get(p.get('label'), 0)} assigned",
                p.get("next"),
            )
        )
    return out


def journey_flow(
    steps: list[dict[str, Any]], counts: dict[str, dict[str, Any]], names: Names
) -> tuple[list[Item], list[Item]]:
    """The flow from the first step, and the steps it never reaches (drawn apart).

    1. Reach: for each step, the set of steps reachable from it (itself included).
    2. Walk the chain from the entry; at a fork, the join is the first step (in the
       order the steps are listed) that every outcome reaches; each outcome's column is
       walked up to the join, and the chain goes on from the join below the columns.
    3. A step already drawn becomes a "continues at" marker; a path with no next step
       ends in an end marker."""
    by_key = {s["key"]: s for s in steps}
    order = {s["key"]: i for i, s in enumerate(steps)}
    kind_labels = dict(StepKind.choices)
    reach: dict[str, set[str]] = {}

    def reachable(key: str) -> set[str]:
        if key not in reach:
            reach[key] = {key}
            step = by_key[key]
            for nxt in successors(step["kind"], step.get("config") or {}):
                if nxt is not None and nxt in by_key:
                    reach[key] |= reachable(nxt)
        return reach[key]

    drawn: set[str] = set()

    def box(step: dict[str, Any]) -> Box:
        return Box(
            key=step["key"],
            kind=step["kind"],
            kind_label=kind_labels.get(step["kind"], step["kind"]),
            name=step.get("name") or "",
            words=step_words(step["kind"], step.get("config") or {}, names),
            counts=counts.get(step["key"], {}),
        )

    def chain(start: Any, stop: str | None) -> list[Item]:
        items: list[Item] = []
        key = start
        while True:
            if key is None or key not in by_key:
                items.append(Item("end"))
                return items
            if key == stop:
                return items
            if key in drawn:
                items.append(Item("goto", target=key))
                return items
            drawn.add(key)
            step = by_key[key]
            config = step.get("config") or {}
            if step["kind"] == StepKind.EXIT:
                items.append(Item("step", box(step)))
                return items
            if step["kind"] not in FORKS:
                items.append(Item("step", box(step)))
                key = config.get("next")
                continue
            outcomes = _outcomes(step["kind"], config, counts.get(key, {}))
            targets = [t for _, _, t in outcomes]
            known = [t for t in targets if isinstance(t, str) and t in by_key]
            common = (
                set.intersection(*(reachable(t) for t in known))
                if known and len(known) == len(targets)
                else set()
            )
            join = min(common, key=order.__getitem__) if common else stop
            columns = [Column(label, detail, chain(t, join)) for label, detail, t in outcomes]
            items.append(Item("step", box(step), columns))
            if join is None or join == stop:
                # Each column ran to the end of its path or to the outer join.
                return items
            key = join

    if not steps:
        return [], []
    reachable(steps[0]["key"])
    flow = chain(steps[0]["key"], None)
    apart: list[Item] = []
    for step in steps:
        if step["key"] not in drawn:
            apart.extend(chain(step["key"], None))
    return flow, apart
