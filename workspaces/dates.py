"""Dates as the dashboard shows them: one format per locale, chosen in the workspace's
settings (`Workspace.date_locale`) or by a member for themselves
(`Membership.date_locale`, which wins), used by every page through the `when` filter
(workspaces/templatetags/stagecraft.py).

The locale of the request being answered is activated by `workspace_view` for its
duration, the way Django activates a time zone: a page outside a workspace (the
invitation page) uses the default. Only the format changes: the time zone stays what
each page chooses (the value as given, or converted with `|timezone`)."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from contextvars import ContextVar

from django.db import models
from django.utils import dateformat, timezone


class DateLocale(models.TextChoices):
    EN_GB = "en-GB", "English (UK): 5 Dec 2026, 14:30"
    EN_US = "en-US", "English (US): Dec 5, 2026, 2:30 PM"
    DE_DE = "de-DE", "German: 05.12.2026, 14:30"
    FR_FR = "fr-FR", "French: 05/12/2026 14:30"
    ISO = "iso", "ISO 8601: 2026-12-05 14:30"


DEFAULT = DateLocale.EN_GB

# Per locale, per style: a Django date format. Styles: a date, a moment (`datetime`,
# the default), a moment to the second, a moment this year (`short`), a time of day
# (to the minute or the second), a month.
FORMATS: dict[str, dict[str, str]] = {
    DateLocale.EN_GB: {
        "date": "j M Y",
        "datetime": "j M Y, H:i",
        "seconds": "j M Y, H:i:s",
        "short": "j M, H:i",
        "time": "H:i",
        "time_seconds": "H:i:s",
        "month": "M Y",
    },
    DateLocale.EN_US: {
        "date": "M j, Y",
        "datetime": "M j, Y, g:i A",
        "seconds": "M j, Y, g:i:s A",
        "short": "M j, g:i A",
        "time": "g:i A",
        "time_seconds": "g:i:s A",
        "month": "M Y",
    },
    DateLocale.DE_DE: {
        "date": "d.m.Y",
        "datetime": "d.m.Y, H:i",
        "seconds": "d.m.Y, H:i:s",
        "short": "d.m., H:i",
        "time": "H:i",
        "time_seconds": "H:i:s",
        "month": "m.Y",
    },
    DateLocale.FR_FR: {
        "date": "d/m/Y",
        "datetime": "d/m/Y H:i",
        "seconds": "d/m/Y H:i:s",
        "short": "d/m H:i",
        "time": "H:i",
        "time_seconds": "H:i:s",
        "month": "m/Y",
    },
    DateLocale.ISO: {
        "date": "Y-m-d",
        "datetime": "Y-m-d H:i",
        "seconds": "Y-m-d H:i:s",
        "short": "m-d H:i",
        "time": "H:i",
        "time_seconds": "H:i:s",
        "month": "Y-m",
    },
}
STYLES = tuple(FORMATS[DEFAULT])

_current: ContextVar[str] = ContextVar("date_locale", default=DEFAULT)


@contextlib.contextmanager
def date_locale_active(locale: str) -> Iterator[None]:
    """Dates formatted in `locale` (an unknown one: the default) inside the block."""
    token = _current.set(locale if locale in FORMATS else DEFAULT)
    try:
        yield
    finally:
        _current.reset(token)


def date_locale_current() -> str:
    """The locale dates are being formatted in (scripts that draw dates read it from
    the page: `<html data-date-locale>`)."""
    return _current.get()


def format_when(
    value: dt.datetime | dt.date | None, style: str = "datetime", locale: str | None = None
) -> str:
    """`value` in the active (or given) locale's format of `style`; "" for none. A
    date without a time of day is shown as a date whatever the style asks."""
    if value is None or value == "":
        return ""
    formats = FORMATS.get(locale or _current.get(), FORMATS[DEFAULT])
    if not isinstance(value, dt.datetime):
        if not isinstance(value, dt.date):
            return str(value)
        return dateformat.format(value, formats["month" if style == "month" else "date"])
    if timezone.is_naive(value):
        value = timezone.make_aware(value, dt.UTC)
    return dateformat.format(value, formats.get(style, formats["datetime"]))
