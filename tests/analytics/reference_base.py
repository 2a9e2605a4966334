"""The independent computation of the analytics figures, part one: the world's
calendar (Pacific/Auckland), rounding and bucketing in plain Python, and the raw rows."""

from __future__ import annotations

import datetime as dt
import math
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from analytics.figures.common import Period
from workspaces.models import Workspace

TZ_NAME = "Pacific/Auckland"
TZ = zoneinfo.ZoneInfo(TZ_NAME)
CENT = Decimal("0.01")
MARCH = Period(dt.date(2024, 3, 1), dt.date(2024, 3, 31))
NOW = dt.datetime(2024, 4, 15, 12, 0, tzinfo=TZ)
# The forward path of the default stages (evaluation order reversed, churn stages out).
PATH = ["subscriber", "lead", "customer", "repeat", "loyal", "advocate"]
# The default stages in evaluation order.
ORDER = ["advocate", "loyal", "lapsed", "at_risk", "repeat", "customer", "lead", "subscriber"]
HISTOGRAM = [(0, 1), (1, 7), (7, 30), (30, 90), (90, 180), (180, None)]


def local(y: int, m: int, d: int, h: int = 12, mi: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, h, mi, tzinfo=TZ)


# --- independent definitions --------------------------------------------------------


def money(value: Decimal) -> str:
    """To the cent. Half a cent rounds to the even cent (Decimal's default, banker's
    rounding): the figures do so, and nothing in the issue asks for another rule."""
    return str(value.quantize(CENT, rounding=ROUND_HALF_EVEN))


def plain(value: Any) -> Any:
    """Rates compared as numbers whatever their Python type (a rate computed from a
    SQL sum comes back as a Decimal)."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def pct_cont(values: list[float], p: float) -> float | None:
    """PostgreSQL's percentile_cont: linear interpolation between closest ranks."""
    if not values:
        return None
    s = sorted(values)
    pos = p * (len(s) - 1)
    lo, hi = math.floor(pos), math.ceil(pos)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def r3(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def days_between(a: dt.datetime, b: dt.datetime) -> float:
    return (b - a).total_seconds() / 86400


def month_start(day: dt.date) -> dt.date:
    return dt.date(day.year, day.month, 1)


def next_month(day: dt.date) -> dt.date:
    return dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)


def months_apart(a: dt.date, b: dt.date) -> int:
    return (b.year - a.year) * 12 + b.month - a.month


def bucket_of(day: dt.date, granularity: str) -> dt.date:
    if granularity == "month":
        return month_start(day)
    if granularity == "week":
        return day - dt.timedelta(days=day.isoweekday() - 1)
    return day


def bucket_list(start: dt.date, end: dt.date, granularity: str) -> list[dt.date]:
    out: list[dt.date] = []
    day = start
    while day <= end:
        if bucket_of(day, granularity) not in out:
            out.append(bucket_of(day, granularity))
        day += dt.timedelta(days=1)
    return out


def period_instants(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    return (
        dt.datetime.combine(start, dt.time(), tzinfo=TZ),
        dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=TZ),
    )


def rows(queryset: Iterable[Any]) -> list[dict[str, Any]]:
    return [dict(row) for row in queryset]


@dataclass
class RawData:
    """The raw rows of one workspace (loaded by figures_world.Raw.load)."""

    ws: Workspace
    stage_key: dict[int, str]
    contacts: dict[int, dict[str, Any]]
    events: list[dict[str, Any]]
    transitions: list[dict[str, Any]]
    spend: list[dict[str, Any]] = field(default_factory=list)

    # who the filters keep
    def source(self, cid: int) -> str:
        return str(self.contacts[cid]["attributes"].get("signup_source", ""))

    def signup_month(self, cid: int) -> dt.date:
        return month_start(self.contacts[cid]["signed_up_at"].astimezone(TZ).date())

    def kept(
        self, plan: str | None = None, source: str | None = None, month: dt.date | None = None
    ) -> set[int]:
        return {
            cid
            for cid, c in self.contacts.items()
            if (plan is None or c["attributes"].get("plan") == plan)
            and (source is None or self.source(cid) == source)
            and (month is None or self.signup_month(cid) == month)
        }

    def everyone(self) -> set[int]:
        return set(self.contacts)
