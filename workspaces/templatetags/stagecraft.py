"""Template filters the dashboard shares."""

from __future__ import annotations

import datetime as dt

from django import template

register = template.Library()


@register.filter
def duration(value: dt.timedelta | None) -> str:
    """A timedelta in its largest whole unit: "3 days", "5 hours", "12 minutes"."""
    if value is None:
        return ""
    seconds = int(value.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return "less than a minute"
