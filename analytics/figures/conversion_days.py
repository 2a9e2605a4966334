"""Conversion read from the first-entry counts (ConversionDay) instead of every stay:
entries and conversions are sums of its rows; a percentile of the days it took (as
PostgreSQL's `percentile_cont` in the definition, stages.py) is found as in
stage_lengths.py: the sums say which whole number of days holds the ranks it
interpolates between, then only that stage's first entries of the period with that
whole number of days are read, through the (workspace, stage, entered_at) index, for
the exact values. The result is the definition's number (the tests compare them)."""

from __future__ import annotations

from typing import Any

from analytics.figures.common import Period, fetch
from analytics.figures.stage_lengths import _offsets_sql, _percentiles

_DAYS = "extract(epoch FROM converted_at - entered_at) / 86400"


def conversion_rows_current(workspace_id: int, pairs: list[tuple[int, int]]) -> bool:
    """Whether the counts were written for this funnel path: every (stage, next stage)
    they hold is a pair of it, or a stage with no next one that is not first of a pair
    (a stays refresh writes the path it reads, so rows of another path mean the stages
    or churn settings changed since and a rebuild has not written them again)."""
    firsts = {here for here, _ in pairs}
    keys = fetch(
        "SELECT DISTINCT stage_id, next_stage_id FROM analytics_conversionday "
        "WHERE workspace_id = %s AND contacts <> 0",
        [workspace_id],
    )
    allowed = set(pairs)
    return all(
        (stage, next_stage) in allowed if next_stage is not None else stage not in firsts
        for stage, next_stage in keys
    ) and _built(workspace_id, keys)


def _built(workspace_id: int, keys: list[tuple[Any, ...]]) -> bool:
    """A workspace with stays has first entries: no counts at all there means they were
    never written (only a workspace without stays may have none)."""
    if keys:
        return True
    return not fetch("SELECT 1 FROM analytics_stay WHERE workspace_id = %s LIMIT 1", [workspace_id])


def conversion_from_days(
    workspace_id: int, period: Period, bounds: tuple[Any, Any], pairs: list[tuple[int, int]]
) -> dict[int, tuple[int, int, float | None, float | None]]:
    """Per first stage of a pair: (entered, converted, median days, p90 days)."""
    rows = fetch(
        "SELECT stage_id, days, sum(contacts) FROM analytics_conversionday "
        "WHERE workspace_id = %s AND (stage_id, next_stage_id) IN "
        "(SELECT * FROM unnest(%s::bigint[], %s::bigint[])) AND day BETWEEN %s AND %s "
        "GROUP BY 1, 2 HAVING sum(contacts) <> 0 ORDER BY 1, 2",
        [workspace_id, [a for a, _ in pairs], [b for _, b in pairs], period.start, period.end],
    )
    start, end = bounds
    by_stage: dict[int, list[tuple[int | None, int]]] = {}
    for stage_id, days, n in rows:
        by_stage.setdefault(stage_id, []).append((days, int(n)))
    out: dict[int, tuple[int, int, float | None, float | None]] = {}
    for stage_id, counts in by_stage.items():
        converted = [(days, n) for days, n in counts if days is not None]
        entered = sum(n for _, n in counts)

        def value_at(days: int, offsets: list[int], stage_id: int = stage_id) -> Any:
            inner = (
                f"SELECT ({_DAYS})::float8 AS v, ({_DAYS})::float8 AS o FROM analytics_stay "
                "WHERE workspace_id = %s AND stage_id = %s AND first_entry "
                "AND entered_at >= %s AND entered_at < %s AND converted_at IS NOT NULL "
                f"AND floor({_DAYS})::int = %s"
            )
            return dict(
                fetch(_offsets_sql(inner), [workspace_id, stage_id, start, end, days, offsets])
            )

        median, p90 = _percentiles(converted, (0.5, 0.9), value_at) if converted else (None, None)
        out[stage_id] = (entered, sum(n for _, n in converted), median, p90)
    return out
