"""Rules in words, for lists and summaries in the dashboard ("purchases ≥ 4 and last
purchase within 60 days")."""

from __future__ import annotations

from typing import Any

from contacts.models import Segment
from contacts.rules.registry import CONDITIONS, FIELDS

_OPS = {
    "eq": "is",
    "neq": "is not",
    "in": "is one of",
    "contains": "contains",
    "starts_with": "starts with",
    "gt": ">",
    "gte": "≥",
    "lt": "<",
    "lte": "≤",
    "before": "before",
    "after": "after",
    "within_last_days": "within the last",
    "more_than_days_ago": "more than",
    "is_true": "is true",
    "is_false": "is false",
}
_CMP = {"eq": "=", "neq": "≠", "gt": ">", "gte": "≥", "lt": "<", "lte": "≤"}


def _value(op: str, value: Any) -> str:
    if op in ("within_last_days",):
        return f"{value} days"
    if op == "more_than_days_ago":
        return f"{value} days ago"
    if op == "exists":
        return ""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value) if value is not None else ""


def _condition(op: str, value: Any) -> str:
    if op == "exists":
        return "is set" if value is not False else "is not set"
    return f"{_OPS.get(op, op)} {_value(op, value)}".strip()


def _cmp(cmp: dict[str, Any]) -> str:
    return " and ".join(f"{_CMP[k]} {v}" for k, v in cmp.items())


def _window(node: dict[str, Any]) -> str:
    if "within_days" in node:
        return f" in the last {node['within_days']} days"
    if "between" in node:
        return f" between {node['between'][0]} and {node['between'][1]}"
    return ""


def _event(rule: dict[str, Any]) -> str:
    name = rule["event"]
    parts = []
    cmp = rule.get("count")
    if cmp:
        parts.append(f"{name} {_cmp(cmp)} times{_window(rule)}")
    elif "first" not in rule and "last" not in rule:
        parts.append(f"did {name}{_window(rule)}")
    for key in ("first", "last"):
        if key in rule:
            ((kind, days),) = rule[key].items()
            when = (
                f"more than {days} days ago"
                if kind == "older_than_days"
                else (f"within {days} days")
            )
            parts.append(f"{key} {name} {when}")
    if rule.get("where"):
        parts.append(
            "where "
            + " and ".join(
                f"{w['property']} {_condition(w['op'], w.get('value'))}" for w in rule["where"]
            )
        )
    return " and ".join(parts)


def describe(rule: Any, depth: int = 0) -> str:
    if not isinstance(rule, dict):
        return "?"
    if "all" in rule or "any" in rule:
        key = "all" if "all" in rule else "any"
        parts = [describe(child, depth + 1) for child in rule[key]]
        if not parts:
            return "everyone" if key == "all" else "no one"
        text = (" and " if key == "all" else " or ").join(parts)
        return f"({text})" if depth and len(parts) > 1 else text
    if "not" in rule:
        return f"not {describe(rule['not'], depth + 1)}"
    if "field" in rule:
        spec = FIELDS.get(rule["field"])
        label = spec.label.lower() if spec else rule["field"]
        return f"{label} {_condition(rule.get('op', ''), rule.get('value'))}"
    if "attr" in rule:
        return f"{rule['attr']} {_condition(rule.get('op', ''), rule.get('value'))}"
    if "event" in rule:
        return _event(rule)
    if "revenue" in rule:
        return f"revenue {_cmp(rule['revenue'])}{_window(rule)}"
    if "purchases" in rule:
        return f"purchases {_cmp(rule['purchases'])}{_window(rule)}"
    if "segment" in rule:
        name = Segment.objects.filter(pk=rule["segment"]).values_list("name", flat=True).first()
        return f"in segment “{name or rule['segment']}”"
    condition = next((CONDITIONS[k] for k in rule if k in CONDITIONS), None)
    if condition is not None and condition.describe is not None:
        return condition.describe(rule)
    key = next(iter(rule))
    return f"{key} {rule[key]}"
