"""A plain-Python evaluator of the rule language, written only for the tests.

It reads raw events (never the summaries), so agreeing with it proves the SQL
compiler, the summaries and the set/point scopes all mean what the language says."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

MISSING = object()


@dataclass
class RContact:
    id: int
    fields: dict[str, Any]
    attributes: dict[str, Any]
    stage_key: str | None = None
    stage_entered_at: dt.datetime | None = None


@dataclass
class REvent:
    contact_id: int
    name: str
    occurred_at: dt.datetime
    properties: dict[str, Any] = field(default_factory=dict)
    revenue: Decimal | None = None


@dataclass
class World:
    now: dt.datetime
    contacts: list[RContact]
    events: list[REvent]
    segments: dict[int, dict[str, Any]]
    purchase_names: list[str]

    def events_of(self, contact_id: int) -> list[REvent]:
        return [e for e in self.events if e.contact_id == contact_id]


def moment(value: str) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def json_eq(a: Any, b: Any) -> bool:
    """PostgreSQL jsonb equality: numbers by value, booleans and strings by type."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return Decimal(str(a)) == Decimal(str(b))
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_eq(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def as_moment(value: Any) -> dt.datetime | None:
    if not isinstance(value, str) or len(value) < 10 or not value[:4].isdigit():
        return None
    try:
        return moment(value)
    except ValueError:
        return None


def compare(value: Any, cmp: dict[str, Any]) -> bool:
    ops = {
        "eq": lambda v, x: v == x,
        "neq": lambda v, x: v != x,
        "gt": lambda v, x: v > x,
        "gte": lambda v, x: v >= x,
        "lt": lambda v, x: v < x,
        "lte": lambda v, x: v <= x,
    }
    return all(ops[key](value, Decimal(str(x))) for key, x in cmp.items())


def date_op(value: dt.datetime | None, op: str, arg: Any, now: dt.datetime) -> bool:
    if op == "exists":
        return (value is not None) == (arg is not False)
    if value is None:
        return False
    if op == "before":
        return value < moment(arg)
    if op == "after":
        return value > moment(arg)
    if op == "within_last_days":
        return now - dt.timedelta(days=arg) <= value <= now
    if op == "more_than_days_ago":
        return value < now - dt.timedelta(days=arg)
    raise ValueError(op)


def json_op(value: Any, op: str, arg: Any, now: dt.datetime) -> bool:
    present = value is not MISSING and value is not None
    if op == "exists":
        return present == (arg is not False)
    if op in ("is_true", "is_false"):
        return present and value is (op == "is_true")
    if op == "eq":
        return present and json_eq(value, arg)
    if op == "neq":
        return not (present and json_eq(value, arg))
    if op == "in":
        return present and any(json_eq(value, item) for item in arg)
    if not present:
        return False
    if op == "contains":
        if isinstance(value, str):
            return arg.lower() in value.lower()
        if isinstance(value, list):
            return any(json_eq(item, arg) for item in value)
        return False
    if op == "starts_with":
        return isinstance(value, str) and value.lower().startswith(arg.lower())
    if op in ("gt", "gte", "lt", "lte"):
        return is_number(value) and compare(Decimal(str(value)), {op: arg})
    return date_op(as_moment(value), op, arg, now)


def text_op(value: str | None, op: str, arg: Any, *, lower: bool = False) -> bool:
    if op == "exists":
        return bool(value) == (arg is not False)
    if op == "eq":
        return value is not None and value == (arg.lower() if lower else arg)
    if op == "neq":
        return not (value is not None and value == (arg.lower() if lower else arg))
    if op == "in":
        return value is not None and value in [a.lower() if lower else a for a in arg]
    if value is None:
        return False
    if op == "contains":
        return arg.lower() in value.lower()
    if op == "starts_with":
        return value.lower().startswith(arg.lower())
    raise ValueError(op)


def window(events: list[REvent], node: dict[str, Any], now: dt.datetime) -> list[REvent]:
    if "within_days" in node:
        events = [
            e for e in events if e.occurred_at >= now - dt.timedelta(days=node["within_days"])
        ]
    if "between" in node:
        start, end = (moment(b) for b in node["between"])
        events = [e for e in events if start <= e.occurred_at < end]
    return events


def _field(rule: dict[str, Any], contact: RContact, now: dt.datetime) -> bool:
    name, op = rule["field"], rule["op"]
    arg: Any = rule.get("value")
    if name in ("created_at", "updated_at"):
        return date_op(contact.fields[name], op, arg, now)
    if name == "stage":
        if op == "in":
            return contact.stage_key in arg
        return (contact.stage_key == arg) == (op == "eq")
    if name == "days_in_stage":
        days = (
            None
            if contact.stage_entered_at is None
            else Decimal((now - contact.stage_entered_at).total_seconds()) / 86400
        )
        if op == "exists":
            return (days is not None) == (arg is not False)
        if op == "neq":
            return not (days is not None and compare(days, {"eq": arg}))
        if op == "in":
            return days is not None and any(compare(days, {"eq": a}) for a in arg)
        return days is not None and compare(days, {op: arg})
    return text_op(contact.fields.get(name), op, arg, lower=name == "email")


def _event(rule: dict[str, Any], contact: RContact, world: World, now: dt.datetime) -> bool:
    events = [e for e in world.events_of(contact.id) if e.name == rule["event"]]
    events = window(events, rule, now)
    for condition in rule.get("where", []):
        events = [
            e
            for e in events
            if json_op(
                e.properties.get(condition["property"], MISSING),
                condition["op"],
                condition.get("value"),
                now,
            )
        ]
    if not compare(Decimal(len(events)), rule.get("count", {"gte": 1})):
        return False
    for key, pick in (("first", min), ("last", max)):
        if key in rule:
            if not events:
                return False
            at = pick(e.occurred_at for e in events)
            ((kind, days),) = rule[key].items()
            edge = now - dt.timedelta(days=days)
            if (at < edge) != (kind == "older_than_days"):
                return False
    return True


def _purchases(rule: dict[str, Any], contact: RContact, world: World, now: dt.datetime) -> bool:
    purchases = [
        e
        for e in world.events_of(contact.id)
        if e.name in world.purchase_names and e.revenue is not None
    ]
    purchases = window(purchases, rule, now)
    if "revenue" in rule:
        total = sum((e.revenue or Decimal(0) for e in purchases), Decimal(0))
        return compare(total, rule["revenue"])
    return compare(Decimal(len(purchases)), rule["purchases"])


def evaluate(
    rule: dict[str, Any], contact: RContact, world: World, stack: tuple[int, ...] = ()
) -> bool:
    now = world.now
    if "all" in rule:
        return all(evaluate(child, contact, world, stack) for child in rule["all"])
    if "any" in rule:
        return any(evaluate(child, contact, world, stack) for child in rule["any"])
    if "not" in rule:
        return not evaluate(rule["not"], contact, world, stack)
    if "field" in rule:
        return _field(rule, contact, now)
    if "attr" in rule:
        value = contact.attributes.get(rule["attr"], MISSING)
        return json_op(value, rule["op"], rule.get("value"), now)
    if "event" in rule:
        return _event(rule, contact, world, now)
    if "revenue" in rule or "purchases" in rule:
        return _purchases(rule, contact, world, now)
    if "segment" in rule:
        segment_id = rule["segment"]
        if segment_id not in world.segments or segment_id in stack:
            return False
        return evaluate(world.segments[segment_id], contact, world, (*stack, segment_id))
    raise ValueError(f"unknown rule {rule}")


def matching(rule: dict[str, Any], world: World) -> set[int]:
    return {c.id for c in world.contacts if evaluate(rule, c, world)}
