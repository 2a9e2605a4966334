"""Time in stage read from the stay lengths (StayLength) instead of every stay: counts
and histogram buckets are sums of its rows; a percentile (PostgreSQL's
`percentile_cont`, as the definition in stages.py) is found in two steps: the sums
say which whole number of days (ended stays) or which day of entry (open stays) holds
the ranks it interpolates between, then only the stays of that stage, period and day
are read, through an index, for the exact values. The result is the same number the
definition gives (the tests compare them on random data). With a contact filter,
`kept_stays` reads the kept contacts' stay rows instead, in one pass; with a source
or signup-month filter (no segment), `Counts.of` reads the same counts by group
(StayGroupCount) and the exact values from the kept contacts' stays of one bucket."""

from __future__ import annotations

import datetime as dt
import math
import zoneinfo
from dataclasses import dataclass
from typing import Any

from analytics.figures.common import Filters, Period, fetch
from workspaces.models import Workspace

_DAYS = "extract(epoch FROM left_at - entered_at) / 86400"


@dataclass(frozen=True)
class Counts:
    """Where a figure's stay counts come from: the whole workspace's table (`table`,
    its rows of the workspace), or the counts by group of a source or signup-month
    filter (`kind` rows of StayGroupCount), with the condition on the stay rows that
    keeps the same contacts' stays when their exact values are read."""

    table: str
    where: str = ""
    params: tuple[Any, ...] = ()
    kept: str = "true"
    kept_params: tuple[Any, ...] = ()

    @classmethod
    def of(cls, table: str, kind: str, filters: Filters) -> Counts:
        if not filters:
            return cls(table)
        assert filters.segment is None, "a segment has no counts by group"
        where, params = filters.group_sql()
        # the stays carry their contact's group, as these rows count them
        return cls(
            "analytics_staygroupcount", f"AND kind = %s {where}", (kind, *params),
            f"true {where}", tuple(params),
        )  # fmt: skip

    def rows(self, columns: str, workspace_id: int) -> tuple[str, list[Any]]:
        """FROM-item SQL and parameters: the workspace's rows with `columns` (named as
        in the whole workspace's table)."""
        if self.table == "analytics_staygroupcount":
            names = [_GROUP_NAMES.get(c, c) for c in columns.split(", ")]
            columns = ", ".join(names)
        return (
            f"(SELECT {columns} FROM {self.table} WHERE workspace_id = %s {self.where}) c",
            [workspace_id, *self.params],
        )


# The columns of the whole workspace's counts as StayGroupCount names them.
_GROUP_NAMES = {
    "from_day": "day AS from_day",  # ChurnCover
    "to_day": "until AS to_day",
    "contacts": "stays AS contacts",  # ConversionDay
}


LENGTHS = Counts("analytics_staylength")


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


def _percentiles(
    counts: list[tuple[Any, int]],
    fractions: tuple[float, ...],
    values_at: Any,
    descending: bool = False,
) -> list[float]:
    """percentile_cont at each fraction: the ranks located in the counts, then each
    bucket's values read once (`values_at(key, offsets)` -> {offset: value})."""
    n = sum(c for _, c in counts)
    wanted: dict[Any, set[int]] = {}
    located = []
    for fraction in fractions:
        first, second, weight = _ranks(n, fraction)
        pair = []
        for rank in (first, second):
            key, offset = _locate(counts, n - 1 - rank if descending else rank)
            wanted.setdefault(key, set()).add(offset)
            pair.append((key, offset))
        located.append((pair, weight))
    found = {key: values_at(key, sorted(offsets)) for key, offsets in wanted.items()}
    out = []
    for ((k1, o1), (k2, o2)), weight in located:
        low, high = float(found[k1][o1]), float(found[k2][o2])
        out.append(low + (high - low) * weight)  # as float8_lerp
    return out


def _offsets_sql(inner: str) -> str:
    """The values at some 0-based offsets of `inner` (value, order) in order."""
    return (
        f"SELECT r, v FROM (SELECT v, row_number() OVER (ORDER BY o) - 1 AS r FROM ({inner}) x) y "
        "WHERE r = ANY(%s)"
    )


def ended_stays(
    workspace_id: int,
    period: Period,
    time_zone: str,
    histogram: list[tuple[int, int | None]],
    sums: Counts = LENGTHS,
) -> dict[int, tuple[Any, ...]]:
    """Per stage id: (stays ended in the period, median days, p90 days, histogram
    counts...) as the definition's `past` rows."""
    rows_sql, rows_params = sums.rows("stage_id, open, day, days, stays", workspace_id)
    rows = fetch(
        f"SELECT stage_id, days, sum(stays) FROM {rows_sql} "
        "WHERE NOT open AND day BETWEEN %s AND %s GROUP BY 1, 2 HAVING sum(stays) <> 0 "
        "ORDER BY 1, 2",
        [*rows_params, period.start, period.end],
    )
    tz = zoneinfo.ZoneInfo(time_zone)
    start = dt.datetime.combine(period.start, dt.time(), tzinfo=tz)
    end = dt.datetime.combine(period.end + dt.timedelta(days=1), dt.time(), tzinfo=tz)
    by_stage: dict[int, list[tuple[int, int]]] = {}
    for stage_id, days, n in rows:
        by_stage.setdefault(stage_id, []).append((days, int(n)))
    out: dict[int, tuple[Any, ...]] = {}
    for stage_id, counts in by_stage.items():

        def value_at(days: int, offsets: list[int], stage_id: int = stage_id) -> Any:
            inner = (
                f"SELECT ({_DAYS})::float8 AS v, ({_DAYS})::float8 AS o FROM analytics_stay "
                f"WHERE stage_id = %s AND left_at IS NOT NULL AND floor({_DAYS})::int = %s "
                f"AND left_at >= %s AND left_at < %s AND {sums.kept}"
            )
            params = [stage_id, days, start, end, *sums.kept_params, offsets]
            return dict(fetch(_offsets_sql(inner), params))

        buckets = [
            sum(n for d, n in counts if d >= low and (high is None or d < high))
            for low, high in histogram
        ]
        out[stage_id] = (
            sum(n for _, n in counts),
            *_percentiles(counts, (0.5, 0.9), value_at),
            *buckets,
        )
    return out


def open_stays(
    workspace_id: int, time_zone: str, now: dt.datetime, sums: Counts = LENGTHS
) -> dict[int, tuple[Any, ...]]:
    """Per stage id: (open stays, median age in days at `now`)."""
    rows_sql, rows_params = sums.rows("stage_id, open, day, stays", workspace_id)
    rows = fetch(
        f"SELECT stage_id, day, sum(stays) FROM {rows_sql} "
        "WHERE open GROUP BY 1, 2 HAVING sum(stays) <> 0 ORDER BY 1, 2",
        rows_params,
    )
    tz = zoneinfo.ZoneInfo(time_zone)
    by_stage: dict[int, list[tuple[dt.date, int]]] = {}
    for stage_id, day, n in rows:
        by_stage.setdefault(stage_id, []).append((day, int(n)))
    out: dict[int, tuple[Any, ...]] = {}
    for stage_id, counts in by_stage.items():

        def value_at(day: dt.date, offsets: list[int], stage_id: int = stage_id) -> Any:
            inner = (
                "SELECT (extract(epoch FROM %s - entered_at) / 86400)::float8 AS v, "
                "entered_at AS o FROM analytics_stay WHERE stage_id = %s AND left_at IS NULL "
                f"AND entered_at >= %s AND entered_at < %s AND {sums.kept}"
            )
            return dict(
                fetch(
                    _offsets_sql(inner),
                    [
                        now,
                        stage_id,
                        dt.datetime.combine(day, dt.time(), tzinfo=tz),
                        dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=tz),
                        *sums.kept_params,
                        offsets,
                    ],
                )
            )

        # ages ascending are entry times descending: rank r of the ages is rank n-1-r
        # of the entries
        out[stage_id] = (
            sum(n for _, n in counts),
            *_percentiles(counts, (0.5,), value_at, descending=True),
        )
    return out


def kept_stays(
    workspace: Workspace,
    period: Period,
    filters: Filters,
    now: dt.datetime,
    histogram: list[tuple[int, int | None]],
) -> tuple[dict[int, Any], dict[int, Any]]:
    """Time in stage of the contacts a filter keeps: (ended stays, open stays) as
    ended_stays and open_stays give them, in one pass over their stay rows (not a
    window over every move of theirs, as the definition)."""
    start, end = period.bounds(workspace.time_zone)
    condition, params = filters.contacts_sql(workspace)
    ended = "FILTER (WHERE NOT open)"
    buckets_sql = ", ".join(
        f"count(*) FILTER (WHERE NOT open AND days >= {low}"
        + (f" AND days < {high})" if high else ")")
        for low, high in histogram
    )
    past, current = {}, {}
    for stage_id, ended_count, median, p90, *rest in fetch(
        f"""
        SELECT stage_id, count(*) {ended},
               percentile_cont(0.5) WITHIN GROUP (ORDER BY days) {ended},
               percentile_cont(0.9) WITHIN GROUP (ORDER BY days) {ended}, {buckets_sql},
               count(*) FILTER (WHERE open),
               percentile_cont(0.5) WITHIN GROUP (ORDER BY age) FILTER (WHERE open)
        FROM (SELECT stage_id, left_at IS NULL AS open,
                     extract(epoch FROM left_at - entered_at) / 86400 AS days,
                     extract(epoch FROM %s - entered_at) / 86400 AS age
              FROM analytics_stay
              WHERE workspace_id = %s AND (left_at IS NULL OR left_at >= %s AND left_at < %s)
                AND {condition}) s
        GROUP BY stage_id
        """,
        [now, workspace.pk, start, end, *params],
    ):
        *histogram, open_count, open_median = rest
        if ended_count:
            past[stage_id] = (ended_count, median, p90, *histogram)
        if open_count:
            current[stage_id] = (open_count, open_median)
    return past, current
