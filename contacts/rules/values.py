"""What a single value in a rule may be: numbers, moments, days, text, and the value
checks each comparison operator makes (validation.py walks the rule and calls these)."""

from __future__ import annotations

import datetime as dt
from typing import Any

MAX_LIST = 500
MAX_DAYS = 36_500


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def parse_moment(value: Any) -> dt.datetime | None:
    """An ISO date ("2026-01-31", midnight UTC) or date-time; None if it is neither."""
    if not isinstance(value, str):
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _days_problem(value: Any) -> str | None:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= MAX_DAYS:
        return f"must be a whole number of days from 1 to {MAX_DAYS}"
    return None


def _moment_problem(value: Any) -> str | None:
    if parse_moment(value) is None:
        return "must be an ISO date or date-time, e.g. 2026-01-31"
    return None


def _text_problem(value: Any) -> str | None:
    return None if isinstance(value, str) and value else "must be a non-empty string"


# Operators that take one value of their own kind, whatever the field.
SINGLE_VALUE = {
    "within_last_days": _days_problem,
    "more_than_days_ago": _days_problem,
    "before": _moment_problem,
    "after": _moment_problem,
    "contains": _text_problem,
    "starts_with": _text_problem,
}


def item_problem(item: Any, op: str, kind: str, choices: list[str] | None) -> str | None:
    """What is wrong with one value compared by `op` on a field of `kind`, if anything."""
    if op in ("gt", "gte", "lt", "lte") or kind == "number":
        if not is_number(item):
            return "must be a number"
    elif kind == "attribute":
        if not (isinstance(item, str | bool) or is_number(item)):
            return "must be a string, number or true/false"
    elif not isinstance(item, str):
        return "must be a string"
    if choices is not None and item not in choices:
        return f"'{item}' is not one of {', '.join(choices)}"
    return None
