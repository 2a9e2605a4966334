"""An independent evaluator of the rule language's event nodes, written from
docs/rules.md over plain Python rows: what a rule says about a contact at a moment,
from the events that had happened by then. The as_of compiler and the what-if funnel
are checked against it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class Row:
    name: str
    at: dt.datetime
    revenue: Decimal | None
    properties: dict[str, Any]


def _passes(value: Any, cmp: dict[str, Any]) -> bool:
    ops = {
        "eq": lambda a, b: a == b,
        "neq": lambda a, b: a != b,
        "gt": lambda a, b: a > b,
        "gte": lambda a, b: a >= b,
        "lt": lambda a, b: a < b,
        "lte": lambda a, b: a <= b,
    }
    return all(ops[op](value, Decimal(str(bound))) for op, bound in cmp.items())


def _recent(moment: dt.datetime, recency: dict[str, int], now: dt.datetime) -> bool:
    ((kind, days),) = recency.items()
    edge = now - dt.timedelta(days=days)
    return moment < edge if kind == "older_than_days" else moment >= edge


def matches(
    rule: dict[str, Any],
    events: list[Row],
    now: dt.datetime,
    purchase_names: tuple[str, ...] = ("purchase",),
) -> bool:
    """Does a contact with these events match `rule` at `now`? Events after `now`
    have not happened yet."""
    seen = [e for e in events if e.at <= now]
    if "all" in rule:
        return all(matches(r, events, now, purchase_names) for r in rule["all"])
    if "any" in rule:
        return any(matches(r, events, now, purchase_names) for r in rule["any"])
    if "not" in rule:
        return not matches(rule["not"], events, now, purchase_names)
    if "within_days" in rule:
        seen = [e for e in seen if e.at >= now - dt.timedelta(days=rule["within_days"])]
    if "event" in rule:
        mine = [e for e in seen if e.name == rule["event"]]
        for condition in rule.get("where", []):
            mine = [
                e
                for e in mine
                if condition["op"] == "eq"
                and e.properties.get(condition["property"]) == condition["value"]
            ]
        if not _passes(Decimal(len(mine)), rule.get("count", {"gte": 1})):
            return False
        for key, pick in (("first", min), ("last", max)):
            if key in rule and (not mine or not _recent(pick(e.at for e in mine), rule[key], now)):
                return False
        return True
    purchases = [e for e in seen if e.name in purchase_names and e.revenue is not None]
    if "purchases" in rule:
        return _passes(Decimal(len(purchases)), rule["purchases"])
    if "revenue" in rule:
        return _passes(
            sum((e.revenue or Decimal(0) for e in purchases), Decimal(0)), rule["revenue"]
        )
    raise ValueError(f"the oracle does not know {rule}")


def stage_of(
    stages: list[tuple[str, dict[str, Any] | None]], events: list[Row], now: dt.datetime
) -> str:
    """The first stage, in order, whose rule matches; else the default (rule None)."""
    for key, rule in stages:
        if rule is not None and matches(rule, events, now):
            return key
    return next(key for key, rule in stages if rule is None)
