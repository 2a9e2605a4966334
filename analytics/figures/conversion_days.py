"""Conversion read from the first-entry counts (ConversionDay) instead of every stay:
entries and conversions are sums of its rows; a percentile of the days it took (as
PostgreSQL's `percentile_cont` in the definition, stages.py) is found as in
stage_lengths.py: the sums say which whole number of days holds the ranks it
interpolates between, then only that stage's first entries of the period with that
whole number of days are read, through an index on that expression (migration
analytics/0018), for the exact values. The result is the definition's number (the
tests compare them)."""

from __future__ import annotations

from typing import Any

from analytics.figures.common import Period, fetch
from analytics.figures.stage_lengths import Counts, _offsets_sql, _percentiles
from analytics.rollups.conversion import path_of

_DAYS = "extract(epoch FROM converted_at - entered_at) / 86400"
FIRST_ENTRIES = Counts("analytics_conversionday")


def conversion_rows_current(workspace_id: int) -> bool:
    """Whether the counts were written for the current funnel path: no stage has rows
    under another next stage than the path's now (none for a stage off the path or
    last on it). A stays refresh writes the path it reads, so such rows mean the
    stages or churn settings changed since and a rebuild has not written them again.
    A few index probes per stage (the unique index leads with stage and next stage)."""
    path = path_of(workspace_id)
    if not path:
        return True
    # one EXISTS per stage with its own constants, so each is an index probe (as a
    # join over the path the planner hashes every count row instead)
    probes: list[str] = []
    params: list[Any] = []
    row = "SELECT 1 FROM analytics_conversionday WHERE workspace_id = %s AND stage_id = %s "
    for stage, next_stage in path:
        if next_stage is None:
            probes.append(f"EXISTS ({row}AND next_stage_id IS NOT NULL AND contacts <> 0)")
            params += [workspace_id, stage]
        else:
            for test in ("IS NULL", "< %s", "> %s"):
                probes.append(f"EXISTS ({row}AND next_stage_id {test} AND contacts <> 0)")
                params += [workspace_id, stage] + ([] if test == "IS NULL" else [next_stage])
    stale = fetch(f"SELECT {' OR '.join(probes)}", params)[0][0]
    return not stale and _built(workspace_id)


def _built(workspace_id: int) -> bool:
    """A workspace with stays has first entries: no counts at all there means they were
    never written (only a workspace without stays may have none)."""
    if fetch(
        "SELECT 1 FROM analytics_conversionday WHERE workspace_id = %s LIMIT 1", [workspace_id]
    ):
        return True
    return not fetch("SELECT 1 FROM analytics_stay WHERE workspace_id = %s LIMIT 1", [workspace_id])


def conversion_from_days(
    workspace_id: int,
    period: Period,
    bounds: tuple[Any, Any],
    pairs: list[tuple[int, int]],
    sums: Counts = FIRST_ENTRIES,
) -> dict[int, tuple[int, int, float | None, float | None]]:
    """Per first stage of a pair: (entered, converted, median days, p90 days), from the
    first-entry counts or those by group (`sums`: stage_lengths.Counts)."""
    rows_sql, rows_params = sums.rows("stage_id, next_stage_id, day, days, contacts", workspace_id)
    rows = fetch(
        f"SELECT stage_id, days, sum(contacts) FROM {rows_sql} "
        "WHERE (stage_id, next_stage_id) IN "
        "(SELECT * FROM unnest(%s::bigint[], %s::bigint[])) AND day BETWEEN %s AND %s "
        "GROUP BY 1, 2 HAVING sum(contacts) <> 0 ORDER BY 1, 2",
        [*rows_params, [a for a, _ in pairs], [b for _, b in pairs], period.start, period.end],
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
                "WHERE stage_id = %s AND first_entry AND converted_at IS NOT NULL "
                f"AND floor({_DAYS})::int = %s AND entered_at >= %s AND entered_at < %s "
                f"AND {sums.kept}"
            )
            params = [stage_id, days, start, end, *sums.kept_params, offsets]
            return dict(fetch(_offsets_sql(inner), params))

        median, p90 = _percentiles(converted, (0.5, 0.9), value_at) if converted else (None, None)
        out[stage_id] = (entered, sum(n for _, n in converted), median, p90)
    return out


def conversion_of_kept(
    workspace_id: int, bounds: tuple[Any, Any], pairs: list[tuple[int, int]], kept: tuple[str, list]
) -> dict[int, tuple[int, int, float | None, float | None]]:
    """The same for the contacts a filter (`kept`: its condition on contact_id and its
    parameters) keeps, from their first entries' stay rows in one pass, which carry
    the next stage and the conversion (while written for the current path)."""
    condition, params = kept
    start, end = bounds
    rows = fetch(
        f"SELECT stage_id, count(*), count(converted_at), "
        f"percentile_cont(0.5) WITHIN GROUP (ORDER BY {_DAYS}), "
        f"percentile_cont(0.9) WITHIN GROUP (ORDER BY {_DAYS}) "
        "FROM analytics_stay WHERE workspace_id = %s AND first_entry "
        "AND (stage_id, next_stage_id) IN (SELECT * FROM unnest(%s::bigint[], %s::bigint[])) "
        f"AND entered_at >= %s AND entered_at < %s AND {condition} GROUP BY 1",
        [workspace_id, [a for a, _ in pairs], [b for _, b in pairs], start, end, *params],
    )
    return {stage: (int(n), int(done), median, p90) for stage, n, done, median, p90 in rows}
