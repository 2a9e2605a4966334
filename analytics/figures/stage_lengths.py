"""Time in stage read from the stay lengths (StayLength) instead of every stay: counts
and histogram buckets are sums of its rows; a percentile (PostgreSQL's
`percentile_cont`, as the definition in stages.py) is found in two steps: the sums
say which whole number of days (ended stays) or which day of entry (open stays) holds
the ranks it interpolates between, then only the stays of that stage, period and day
are read, through an index, for the exact values. The result is the same number the
definition gives (the tests compare them on random data)."""

from __future__ import annotations

import datetime as dt
import math
import zoneinfo
from typing import Any

from analytics.figures.common import Period, fetch

_DAYS = "extract(epoch FROM left_at - entered_at) / 86400"


def _ranks(n: int, fraction: float) -> tuple[int, int, float]:
    """percentile_cont's two row offsets (0-based) and the weight of the second."""
    position = fraction * (n - 1)
    return math.floor(position), math.ceil(position), position - math.floor(position)


def _locate(counts: list[tuple[Any, int]], rank: int) -> tuple[Any, int]:
    """The key of the bucket (in key order) holding the 0-based rank, and the rank
    inside it."""
    seen = 0
    for key, n in counts:
        if rank < seen + n:
            return key, rank - seen
        seen += n
    raise ValueError("rank beyond the counts")


def _percentile(
    counts: list[tuple[Any, int]], fraction: float, value_at: Any, descending: bool = False
) -> float:
    n = sum(c for _, c in counts)
    first, second, weight = _ranks(n, fraction)
    values = []
    for rank in (first, second):
        key, offset = _locate(counts, n - 1 - rank if descending else rank)
        values.append(float(value_at(key, offset)))
    low, high = values
    return low + (high - low) * weight  # as float8_lerp


def ended_stays(
    workspace_id: int, period: Period, time_zone: str, histogram: list[tuple[int, int | None]]
) -> dict[int, tuple[Any, ...]]:
    """Per stage id: (stays ended in the period, median days, p90 days, histogram
    counts...) as the definition's `past` rows."""
    rows = fetch(
        "SELECT stage_id, days, sum(stays) FROM analytics_staylength WHERE workspace_id = %s "
        "AND NOT open AND day BETWEEN %s AND %s GROUP BY 1, 2 HAVING sum(stays) <> 0 "
        "ORDER BY 1, 2",
        [workspace_id, period.start, period.end],
    )
    tz = zoneinfo.ZoneInfo(time_zone)
    start = dt.datetime.combine(period.start, dt.time(), tzinfo=tz)
    end = dt.datetime.combine(period.end + dt.timedelta(days=1), dt.time(), tzinfo=tz)
    by_stage: dict[int, list[tuple[int, int]]] = {}
    for stage_id, days, n in rows:
        by_stage.setdefault(stage_id, []).append((days, int(n)))
    out: dict[int, tuple[Any, ...]] = {}
    for stage_id, counts in by_stage.items():

        def value_at(days: int, offset: int, stage_id: int = stage_id) -> Any:
            return fetch(
                f"SELECT ({_DAYS})::float8 FROM analytics_stay WHERE stage_id = %s "
                f"AND left_at IS NOT NULL AND floor({_DAYS})::int = %s "
                f"AND left_at >= %s AND left_at < %s ORDER BY 1 OFFSET %s LIMIT 1",
                [stage_id, days, start, end, offset],
            )[0][0]

        buckets = [
            sum(n for d, n in counts if d >= low and (high is None or d < high))
            for low, high in histogram
        ]
        out[stage_id] = (
            sum(n for _, n in counts),
            _percentile(counts, 0.5, value_at),
            _percentile(counts, 0.9, value_at),
            *buckets,
        )
    return out


def open_stays(workspace_id: int, time_zone: str, now: dt.datetime) -> dict[int, tuple[Any, ...]]:
    """Per stage id: (open stays, median age in days at `now`)."""
    rows = fetch(
        "SELECT stage_id, day, sum(stays) FROM analytics_staylength WHERE workspace_id = %s "
        "AND open GROUP BY 1, 2 HAVING sum(stays) <> 0 ORDER BY 1, 2",
        [workspace_id],
    )
    tz = zoneinfo.ZoneInfo(time_zone)
    by_stage: dict[int, list[tuple[dt.date, int]]] = {}
    for stage_id, day, n in rows:
        by_stage.setdefault(stage_id, []).append((day, int(n)))
    out: dict[int, tuple[Any, ...]] = {}
    for stage_id, counts in by_stage.items():

        def value_at(day: dt.date, offset: int, stage_id: int = stage_id) -> Any:
            return fetch(
                "SELECT (extract(epoch FROM %s - entered_at) / 86400)::float8 "
                "FROM analytics_stay WHERE stage_id = %s AND left_at IS NULL "
                "AND entered_at >= %s AND entered_at < %s ORDER BY entered_at OFFSET %s LIMIT 1",
                [
                    now,
                    stage_id,
                    dt.datetime.combine(day, dt.time(), tzinfo=tz),
                    dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=tz),
                    offset,
                ],
            )[0][0]

        # ages ascending are entry times descending: rank r of the ages is rank n-1-r
        # of the entries
        out[stage_id] = (sum(n for _, n in counts), _percentile(counts, 0.5, value_at, True))
    return out
