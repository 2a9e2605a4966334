"""Template filters the dashboard shares."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from django import template

from workspaces.dates import date_locale_current, format_when

register = template.Library()


@register.filter(expects_localtime=True)
def when(value: dt.datetime | dt.date | None, style: str = "datetime") -> str:
    """A date or moment in the workspace's date format (workspaces/dates.py): styles
    "datetime" (the default), "date", "seconds", "short" (no year), "time",
    "time_seconds". Like `date`, it shows an aware moment in the active time zone
    unless `|timezone` chose one."""
    return format_when(value, style)


@register.simple_tag
def date_locale() -> str:
    """The active date locale, for `<html data-date-locale>` (charts format their
    date axes with it)."""
    return date_locale_current()


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


# Symbols shown before the amount; other currencies show their ISO code after it.
CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CAD": "CA$", "AUD": "A$"}
NO_DECIMALS = {"JPY", "KRW", "ISK", "CLP", "VND"}


@register.filter
def money(value: Decimal | float | int | str | None, currency: str = "USD") -> str:
    """An amount with its currency, grouped: "$1,234.50", "1,234.50 SEK", "¥1,235"."""
    if value is None or value == "":
        return "—"
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    code = (currency or "").upper()
    places = 0 if code in NO_DECIMALS else 2
    sign = "-" if amount < 0 else ""
    text = f"{abs(amount):,.{places}f}"
    symbol = CURRENCY_SYMBOLS.get(code)
    return f"{sign}{symbol}{text}" if symbol else f"{sign}{text} {code}".strip()


@register.filter
def percent(value: float | None, places: int = 0) -> str:
    """A share 0..1 as a percentage: 0.1234 → "12%"."""
    if value is None:
        return "—"
    return f"{100 * float(value):.{int(places)}f}%"


@register.filter
def short_properties(value: object, limit: int = 80) -> str:
    """An event's properties in one short line: "url: /beans · ref: mail"."""
    if not isinstance(value, dict):
        return ""
    text = " · ".join(
        f"{key}: {item}" for key, item in value.items() if not isinstance(item, dict | list)
    )
    return text if len(text) <= limit else text[: limit - 1] + "…"
