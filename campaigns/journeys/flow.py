"""A journey in words and as a flow, for the dashboard's builder page.

The steps form a graph without cycles (journey_definition.py). `journey_flow` lays it
out as nested blocks that HTML can draw top to bottom: a chain of boxes, and at a
branch, a split or a wait-for, one column per outcome side by side, joined again below
at the first step every column reaches. A step reached a second way is drawn once; the
other way ends in a "continues at" marker."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from campaigns.journeys.loyalty_trigger import LOYALTY_KINDS, loyalty_trigger_words
from campaigns.journeys.product_triggers import browse_trigger_words, product_trigger_words
from campaigns.journeys.referral_trigger import referral_trigger_words
from campaigns.journeys.steps import STEP_TYPES
from campaigns.journeys.steps.base import Names, properties_words
from campaigns.journeys.survey_trigger import survey_trigger_words
from campaigns.models import Journey, StepKind, TriggerKind
from contacts.rules.describe import describe


def trigger_words(trigger: Any, names: Names) -> str:
    if not isinstance(trigger, dict):
        return "No trigger"
    kind = trigger.get("kind")
    if kind == TriggerKind.STAGE_ENTERED:
        return f"Enters stage {names.of('stages', trigger.get('stage_id'))}"
    if kind == TriggerKind.STAGE_EXITED:
        return f"Leaves stage {names.of('stages', trigger.get('stage_id'))}"
    if kind == TriggerKind.EVENT:
        return f"Performs “{trigger.get('event')}”{properties_words(trigger.get('properties'))}"
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
    if kind == TriggerKind.SURVEY_ANSWERED:
        return survey_trigger_words(trigger, names)
    if kind in LOYALTY_KINDS:
        return loyalty_trigger_words(trigger, names)
    if kind == TriggerKind.REFERRAL_CONVERTED:
        return referral_trigger_words(trigger)
    if kind == TriggerKind.BROWSE_ABANDONED:
        return browse_trigger_words(trigger)
    if kind in (TriggerKind.BACK_IN_STOCK, TriggerKind.PRICE_DROP):
        return product_trigger_words(trigger)
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
        what = f"performs “{event.get('name')}”{properties_words(event.get('properties'))}"
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


class _Layout:
    """Walks the steps once, drawing each step where it is first reached."""

    def __init__(
        self, steps: list[dict[str, Any]], counts: dict[str, dict[str, Any]], names: Names
    ) -> None:
        self.by_key = {s["key"]: s for s in steps}
        self.order = {s["key"]: i for i, s in enumerate(steps)}
        self.counts, self.names = counts, names
        self.kind_labels = dict(StepKind.choices)
        self.reach: dict[str, set[str]] = {}
        self.drawn: set[str] = set()

    def reachable(self, key: str) -> set[str]:
        """The steps reachable from `key`, itself included."""
        if key not in self.reach:
            self.reach[key] = {key}
            step = self.by_key[key]
            for nxt in STEP_TYPES[step["kind"]].successors(step.get("config") or {}):
                if nxt is not None and nxt in self.by_key:
                    self.reach[key] |= self.reachable(nxt)
        return self.reach[key]

    def box(self, step: dict[str, Any]) -> Box:
        return Box(
            key=step["key"],
            kind=step["kind"],
            kind_label=self.kind_labels.get(step["kind"], step["kind"]),
            name=step.get("name") or "",
            words=STEP_TYPES[step["kind"]].describe(step.get("config") or {}, self.names),
            counts=self.counts.get(step["key"], {}),
        )

    def join(self, targets: list[Any], stop: str | None) -> str | None:
        """The first step (in list order) that every outcome reaches, else `stop`."""
        known = [t for t in targets if isinstance(t, str) and t in self.by_key]
        if not known or len(known) != len(targets):
            return stop
        common = set.intersection(*(self.reachable(t) for t in known))
        return min(common, key=self.order.__getitem__) if common else stop

    def chain(self, start: Any, stop: str | None) -> list[Item]:
        items: list[Item] = []
        key = start
        while True:
            if key is None or key not in self.by_key:
                items.append(Item("end"))
                return items
            if key == stop:
                return items
            if key in self.drawn:
                items.append(Item("goto", target=key))
                return items
            self.drawn.add(key)
            step = self.by_key[key]
            config = step.get("config") or {}
            outcomes = STEP_TYPES[step["kind"]].outcomes(config, self.counts.get(key, {}))
            if step["kind"] == StepKind.EXIT or outcomes is None:
                items.append(Item("step", self.box(step)))
                if step["kind"] == StepKind.EXIT:
                    return items
                key = config.get("next")
                continue
            join = self.join([t for _, _, t in outcomes], stop)
            columns = [Column(label, detail, self.chain(t, join)) for label, detail, t in outcomes]
            items.append(Item("step", self.box(step), columns))
            if join is None or join == stop:
                # Each column ran to the end of its path or to the outer join.
                return items
            key = join


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
    if not steps:
        return [], []
    layout = _Layout(steps, counts, names)
    layout.reachable(steps[0]["key"])
    flow = layout.chain(steps[0]["key"], None)
    apart: list[Item] = []
    for step in steps:
        if step["key"] not in layout.drawn:
            apart.extend(layout.chain(step["key"], None))
    return flow, apart
