"""What every figure takes: a period of local days, a bucket size, and filters."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection

from config.errors import InvalidInput
from contacts.models import Segment
from contacts.selectors import segment_member_ids_sql
from workspaces.models import Workspace

GRANULARITIES = ("day", "week", "month")


def fetch(sql: str, params: Any) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


@dataclass(frozen=True)
class Period:
    """Local calendar days [start, end], both included, in the workspace's time zone."""

    start: dt.date
    end: dt.date

    def bounds(self, time_zone: str) -> tuple[dt.datetime, dt.datetime]:
        """The period as [from, to) instants."""
        tz = zoneinfo.ZoneInfo(time_zone)
        start = dt.datetime.combine(self.start, dt.time(), tzinfo=tz)
        end = dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time(), tzinfo=tz)
        return start, end

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Period:
        """The period of the same length just before this one (for "change vs")."""
        return Period(self.start - dt.timedelta(days=self.days), self.start - dt.timedelta(days=1))


@dataclass(frozen=True)
class Filters:
    segment: Segment | None = None
    source: str | None = None
    signup_month: dt.date | None = None

    def __bool__(self) -> bool:
        return bool(self.segment or self.source is not None or self.signup_month)

    def contacts_sql(
        self, workspace: Workspace, column: str = "contact_id"
    ) -> tuple[str, list[Any]]:
        """A SQL condition on a contact id column: the contacts the filters keep."""
        parts: list[str] = []
        params: list[Any] = []
        if self.segment is not None:
            # Stored members when built for the current rule, the rule live otherwise.
            sql, segment_params = segment_member_ids_sql(self.segment)
            parts.append(f"{column} IN ({sql})")
            params.extend(segment_params)
        if self.source is not None or self.signup_month is not None:
            conditions = ["workspace_id = %s"]
            params_here: list[Any] = [workspace.pk]
            if self.source is not None:
                conditions.append("source = %s")
                params_here.append(self.source)
            if self.signup_month is not None:
                conditions.append("signup_month = %s")
                params_here.append(self.signup_month)
            parts.append(
                f"{column} IN (SELECT contact_id FROM analytics_customerfacts "
                f"WHERE {' AND '.join(conditions)})"
            )
            params.extend(params_here)
        return " AND ".join(parts) or "true", params

    def group_sql(self, month_column: str = "signup_month") -> tuple[str, list[Any]]:
        """AND-conditions (each led by AND) on a rollup kept by source and signup month
        (the month in `month_column`), with their parameters; "" when neither is set."""
        where, params = "", list[Any]()
        if self.source is not None:
            where += "AND source = %s "
            params.append(self.source)
        if self.signup_month is not None:
            where += f"AND {month_column} = %s "
            params.append(self.signup_month)
        return where, params


NO_FILTERS = Filters()


def parse_period(params: Any, *, today: dt.date, default_days: int = 90) -> Period:
    """start and end (ISO dates) from query parameters; by default the last 90 days."""
    errors: dict[str, list[str]] = {}
    values: dict[str, dt.date] = {}
    for key in ("start", "end"):
        raw = params.get(key)
        if raw:
            try:
                values[key] = dt.date.fromisoformat(raw)
            except ValueError:
                errors[key] = ["must be a date, YYYY-MM-DD"]
    if errors:
        raise InvalidInput("The period is not valid.", fields=errors)
    end = values.get("end", today)
    start = values.get("start", end - dt.timedelta(days=default_days - 1))
    if start > end:
        raise InvalidInput("start is after end.", fields={"start": ["must not be after end"]})
    if (end - start).days > 3660:
        raise InvalidInput("The period is too long.", fields={"start": ["at most ten years"]})
    return Period(start, end)


def parse_granularity(params: Any, default: str = "week") -> str:
    value = params.get("granularity") or default
    if value not in GRANULARITIES:
        raise InvalidInput(
            "Unknown granularity.", fields={"granularity": [f"one of {', '.join(GRANULARITIES)}"]}
        )
    return str(value)


def parse_filters(params: Any, *, workspace: Workspace) -> Filters:
    segment = None
    signup_month = None
    if params.get("segment"):
        try:
            segment = Segment.objects.filter(workspace=workspace, pk=int(params["segment"])).first()
        except ValueError:
            segment = None
        if segment is None:
            raise InvalidInput("No such segment.", fields={"segment": ["unknown segment"]})
    if params.get("signup_month"):
        try:
            signup_month = dt.date.fromisoformat(f"{params['signup_month'][:7]}-01")
        except ValueError:
            raise InvalidInput(
                "signup_month must be YYYY-MM.", fields={"signup_month": ["must be YYYY-MM"]}
            ) from None
    source = params.get("source")
    return Filters(
        segment=segment,
        source=source if source is not None and source != "" else None,
        signup_month=signup_month,
    )


def bucket_start(day: dt.date, granularity: str) -> dt.date:
    if granularity == "month":
        return day.replace(day=1)
    if granularity == "week":
        return day - dt.timedelta(days=day.weekday())  # ISO weeks start on Monday
    return day


def buckets(period: Period, granularity: str) -> list[dt.date]:
    """The start of every bucket that overlaps the period, in order."""
    found: list[dt.date] = []
    day = period.start
    while day <= period.end:
        start = bucket_start(day, granularity)
        if not found or found[-1] != start:
            found.append(start)
        day += dt.timedelta(days=1)
    return found


CENT = Decimal("0.01")


def money(value: Any) -> str:
    """An amount as the API shows it: a string with two decimals."""
    return str(Decimal(value or 0).quantize(CENT))
