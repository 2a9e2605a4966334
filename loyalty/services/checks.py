"""Checks of the values the loyalty services take, each refused with the field and
the reason (the API's 400)."""

from __future__ import annotations

from typing import Any

Errors = dict[str, list[str]]


def whole(value: Any, field: str, errors: Errors, *, low: int, high: int) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        errors[field] = ["must be a whole number"]
        return None
    if not low <= value <= high:
        errors[field] = [f"must be between {low} and {high}"]
        return None
    return value


def text(value: Any, field: str, errors: Errors, *, limit: int, required: bool) -> str | None:
    if not isinstance(value, str) or "\x00" in value:
        errors[field] = ["must be text"]
        return None
    value = value.strip()
    if required and not value:
        errors[field] = ["must not be blank"]
        return None
    if len(value) > limit:
        errors[field] = [f"at most {limit} characters"]
        return None
    return value


def unknown(data: dict[str, Any], allowed: set[str] | tuple[str, ...], errors: Errors) -> None:
    for key in sorted(set(data) - set(allowed)):
        errors[key] = ["unknown field"]
