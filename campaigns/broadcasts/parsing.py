"""Reading a broadcast's fields from a request body: whole numbers and instants,
each problem added to `errors` under its field with the reason."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from config.query import utc_offset_problem


def whole_number(
    value: Any, field: str, errors: dict[str, list[str]], *, low: int = 0
) -> int | None:
    """A whole number of at least `low`, given as a number or text; None for no value."""
    if value in (None, ""):
        return None
    if isinstance(value, bool):
        errors[field] = ["must be a whole number"]
        return None
    try:
        number = int(str(value))
    except ValueError:
        errors[field] = ["must be a whole number"]
        return None
    if number < low:
        errors[field] = [f"must be at least {low}"]
        return None
    if number >= 2**63:  # beyond PostgreSQL's bigint
        errors[field] = ["is too large"]
        return None
    return number


def instant(value: Any, field: str, errors: dict[str, list[str]]) -> dt.datetime | None:
    """An ISO 8601 instant with a UTC offset (or a datetime); None for no value."""
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        moment: dt.datetime | None = value
    else:
        try:
            moment = parse_datetime(str(value))
        except ValueError:  # well formed but not a moment, e.g. 12:99
            moment = None
    if moment is None or timezone.is_naive(moment) or utc_offset_problem(moment):
        errors[field] = ["an ISO 8601 instant with a UTC offset"]
        return None
    return moment
