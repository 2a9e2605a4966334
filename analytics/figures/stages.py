"""Stage figures: the funnel on any day, entries and exits per bucket, the flow
between stages, conversion between consecutive stages, and time in stage.

Unfiltered, they read the rollups (StageFlowDay, Stay, their sums). Filtered, the
moves by source and signup month (moves.py), or a segment's members' moves, and the
stay rows of the contacts kept."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from django.utils import timezone

from analytics.figures.common import NO_FILTERS, Filters, Period, bucket_start, buckets, fetch
from analytics.figures.conversion_days import (
    conversion_from_days,
    conversion_of_kept,
    conversion_rows_current,
)
from analytics.figures.moves import day_moves
from analytics.figures.stage_lengths import Counts, ended_stays, kept_stays, open_stays
from analytics.models import AnalyticsSettings
from lifecycle.models import Stage
from lifecycle.selectors import stages_for_workspace
from workspaces.models import Workspace

DAY = 86400.0


def _stage_rows(workspace: Workspace) -> list[Stage]:
    return list(stages_for_workspace(workspace=workspace))


def stage_counts_on(
    workspace: Workspace, days: list[dt.date], filters: Filters = NO_FILTERS
) -> dict[dt.date, dict[int, int]]:
    """Contacts in each stage (by id) at the end of each of these local days: the moves
    up to the last of them, summed once in day order."""
    wanted = sorted(set(days))
    if not wanted:
        return {}
    flows = sorted(day_moves(workspace, filters, None, wanted[-1]), key=lambda row: row[0])
    counts: dict[int, int] = {}
    out: dict[dt.date, dict[int, int]] = {}
    i = 0
    for day in wanted:
        while i < len(flows) and flows[i][0] <= day:
            _, from_stage, to_stage, moves = flows[i]
            counts[to_stage] = counts.get(to_stage, 0) + moves
            if from_stage is not None:
                counts[from_stage] = counts.get(from_stage, 0) - moves
            i += 1
        out[day] = dict(counts)
    return out


def funnel(
    *, workspace: Workspace, as_of: dt.date, filters: Filters = NO_FILTERS
) -> list[dict[str, Any]]:
    """Contacts in each stage at the end of the local day `as_of`."""
    counts = stage_counts_on(workspace, [as_of], filters)[as_of]
    return [
        {"stage": s.key, "name": s.name, "colour": s.colour, "contacts": counts.get(s.pk, 0)}
        for s in _stage_rows(workspace)
    ]


def movement(
    *, workspace: Workspace, period: Period, granularity: str, filters: Filters = NO_FILTERS
) -> list[dict[str, Any]]:
    """Entries into and exits out of each stage per bucket."""
    stages = _stage_rows(workspace)
    table = {(bucket, s.pk): [0, 0] for bucket in buckets(period, granularity) for s in stages}
    for day, from_stage, to_stage, moves in day_moves(workspace, filters, period.start, period.end):
        bucket = bucket_start(day, granularity)
        if (bucket, to_stage) in table:
            table[(bucket, to_stage)][0] += moves
        if from_stage is not None and (bucket, from_stage) in table:
            table[(bucket, from_stage)][1] += moves
    return [
        {
            "bucket": bucket.isoformat(),
            "stage": s.key,
            "entries": table[(bucket, s.pk)][0],
            "exits": table[(bucket, s.pk)][1],
        }
        for bucket in buckets(period, granularity)
        for s in stages
    ]


def flow(
    *, workspace: Workspace, period: Period, filters: Filters = NO_FILTERS
) -> list[dict[str, Any]]:
    """Who moved where in the period: moves per (from, to); from None is a first entry."""
    keys = {s.pk: s.key for s in Stage.objects.filter(workspace=workspace)}
    totals: dict[tuple[int | None, int], int] = {}
    for _, from_stage, to_stage, moves in day_moves(workspace, filters, period.start, period.end):
        totals[(from_stage, to_stage)] = totals.get((from_stage, to_stage), 0) + moves
    return sorted(
        (
            {"from": keys.get(f) if f else None, "to": keys[t], "moves": n}
            for (f, t), n in totals.items()
            if n
        ),
        key=lambda row: (-row["moves"], row["from"] or "", row["to"]),
    )


def funnel_path(workspace: Workspace) -> list[Stage]:
    """The forward path of the lifecycle for conversion figures: the evaluation order
    reversed (the default stage first), without the churn stages."""
    settings = AnalyticsSettings.objects.filter(workspace=workspace).first()
    churn = {
        settings.churned_stage_key if settings else "lapsed",
        settings.at_risk_stage_key if settings else "at_risk",
    }
    return [s for s in reversed(_stage_rows(workspace)) if s.key not in churn]


def _stays_sql(workspace: Workspace, filters: Filters) -> tuple[str, list[Any]]:
    """Stays of the contacts the filters keep (the rollup when unfiltered)."""
    if not filters:
        return "SELECT * FROM analytics_stay WHERE workspace_id = %s", [workspace.pk]
    condition, params = filters.contacts_sql(workspace)
    return (
        "SELECT contact_id, to_stage_id AS stage_id, at AS entered_at, "
        "lead(at) OVER (PARTITION BY contact_id ORDER BY at, id) AS left_at "
        f"FROM lifecycle_stagetransition WHERE workspace_id = %s AND {condition}",
        [workspace.pk, *params],
    )


_CONVERSION_SQL = """
WITH pairs AS (
    SELECT * FROM unnest(%(here)s::bigint[], %(next)s::bigint[]) AS p(here, next)
),
entered AS (  -- entries into `here` that fall in the period
    SELECT p.here, p.next, x.contact_id, x.{at} AS at, x.{id} AS id
    FROM pairs p JOIN {table} x ON x.workspace_id = %(workspace)s AND x.{stage} = p.here
         AND x.{at} >= %(start)s AND x.{at} < %(end)s
    WHERE {condition}
),
firsts AS (  -- ... that were the contact's first-ever entry into it
    SELECT e.* FROM entered e WHERE NOT EXISTS (
        SELECT 1 FROM {table} y
        WHERE y.contact_id = e.contact_id AND y.{stage} = e.here
          AND (y.{at}, y.{id}) < (e.at, e.id))
),
took AS (  -- days from there to the first entry into `next` at or after it
    SELECT f.here, extract(epoch FROM min(y.{at}) - f.at) / 86400 AS days
    FROM firsts f
    LEFT JOIN {table} y ON y.contact_id = f.contact_id AND y.{stage} = f.next AND y.{at} >= f.at
    GROUP BY f.here, f.contact_id, f.at
)
SELECT here, count(*), count(days),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY days),
       percentile_cont(0.9) WITHIN GROUP (ORDER BY days)
FROM took GROUP BY here
"""


def conversion(
    *,
    workspace: Workspace,
    period: Period,
    filters: Filters = NO_FILTERS,
    use_rollups: bool = True,
) -> list[dict[str, Any]]:
    """For each pair of consecutive stages on the forward path: of the contacts whose
    first-ever entry into the first stage fell in the period, how many entered the next
    one at or after it (by now), and how long that took (median and p90 days).

    One statement for all pairs, written as joins so that PostgreSQL can hash them
    when a period has many entrants (and use the indexes when it has few). Unfiltered
    it reads the stays rollup, with filters the transitions of the contacts kept (both
    carry every entry). While the stays were written for the current path, the
    first-entry counts instead, or with filters the kept contacts' first entries
    (conversion_days.py)."""
    path = funnel_path(workspace)
    pairs = list(itertools.pairwise(path))
    if not pairs:
        return []
    start, end = period.bounds(workspace.time_zone)
    ids = [(a.pk, b.pk) for a, b in pairs]
    if use_rollups and conversion_rows_current(workspace.pk):
        if filters.segment is not None:
            kept = filters.contacts_sql(workspace)
            found = conversion_of_kept(workspace.pk, (start, end), ids, kept)
        else:  # the first-entry counts, or by group
            sums = Counts.of("analytics_conversionday", "conversion", filters)
            found = conversion_from_days(workspace.pk, period, (start, end), ids, sums)
    else:
        found = _conversion_raw(workspace, filters, pairs, start, end)
    rows = []
    for here, nxt in pairs:
        entered, converted, median, p90 = found.get(here.pk, (0, 0, None, None))
        rows.append(
            {
                "from": here.key,
                "to": nxt.key,
                "entered": entered,
                "converted": converted,
                "rate": round(converted / entered, 4) if entered else None,
                "median_days": round(float(median), 3) if median is not None else None,
                "p90_days": round(float(p90), 3) if p90 is not None else None,
            }
        )
    return rows


def _conversion_raw(
    workspace: Workspace,
    filters: Filters,
    pairs: list[tuple[Stage, Stage]],
    start: dt.datetime,
    end: dt.datetime,
) -> dict[int, tuple[Any, ...]]:
    """The definition: per first stage, (entered, converted, median, p90) from the
    stays (or the filtered contacts' transitions)."""
    params: dict[str, Any] = {
        "here": [a.pk for a, _ in pairs],
        "next": [b.pk for _, b in pairs],
        "workspace": workspace.pk,
        "start": start,
        "end": end,
    }
    if filters:
        condition, condition_params = filters.contacts_sql(workspace, "x.contact_id")
        # the filter's SQL uses %s placeholders; name them for this statement
        for i, value in enumerate(condition_params):
            condition = condition.replace("%s", f"%(f{i})s", 1)
            params[f"f{i}"] = value
        names = {"table": "lifecycle_stagetransition", "stage": "to_stage_id", "at": "at"}
        names |= {"id": "id", "condition": condition}
    else:
        names = {"table": "analytics_stay", "stage": "stage_id", "at": "entered_at"}
        names |= {"id": "transition_id", "condition": "true"}
    return {
        here: (entered, converted, median, p90)
        for here, entered, converted, median, p90 in fetch(_CONVERSION_SQL.format(**names), params)
    }


HISTOGRAM = [(0, 1), (1, 7), (7, 30), (30, 90), (90, 180), (180, None)]


def time_in_stage(
    *,
    workspace: Workspace,
    period: Period,
    filters: Filters = NO_FILTERS,
    now: dt.datetime | None = None,
    use_rollups: bool = True,
) -> list[dict[str, Any]]:
    """Per stage: stays that ended in the period (count, median and p90 days, and a
    histogram), and stays still open now (count and median age in days)."""

    now = now or timezone.now()
    if not use_rollups:
        past, current = _time_in_stage_raw(workspace, period, filters, now)
    elif filters.segment is not None:
        past, current = kept_stays(workspace, period, filters, now, HISTOGRAM)
    else:  # the same figures from the stay lengths, or by group (stage_lengths.py)
        sums = Counts.of("analytics_staylength", "length", filters)
        past = ended_stays(workspace.pk, period, workspace.time_zone, HISTOGRAM, sums)
        current = open_stays(workspace.pk, workspace.time_zone, now, sums)
    out = []
    for stage in _stage_rows(workspace):
        ended = past.get(stage.pk)
        open_ = current.get(stage.pk)
        out.append(
            {
                "stage": stage.key,
                "name": stage.name,
                "ended": ended[0] if ended else 0,
                "median_days": round(float(ended[1]), 3) if ended else None,
                "p90_days": round(float(ended[2]), 3) if ended else None,
                "histogram": {
                    (f"{low}-{high}d" if high else f"{low}d+"): (ended[3 + i] if ended else 0)
                    for i, (low, high) in enumerate(HISTOGRAM)
                },
                "current": open_[0] if open_ else 0,
                "current_median_days": round(float(open_[1]), 3) if open_ else None,
            }
        )
    return out


def _time_in_stage_raw(
    workspace: Workspace, period: Period, filters: Filters, now: dt.datetime
) -> tuple[dict[int, Any], dict[int, Any]]:
    """The definition: percentiles over the stays themselves."""
    start, end = period.bounds(workspace.time_zone)
    stays, params = _stays_sql(workspace, filters)
    buckets_sql = ", ".join(
        f"count(*) FILTER (WHERE days >= {low}" + (f" AND days < {high})" if high else ")")
        for low, high in HISTOGRAM
    )
    past = {
        row[0]: row[1:]
        for row in fetch(
            f"""
            WITH stays AS ({stays}),
            ended AS (SELECT stage_id, extract(epoch FROM left_at - entered_at) / 86400 AS days
                      FROM stays WHERE left_at >= %s AND left_at < %s)
            SELECT stage_id, count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY days),
                   percentile_cont(0.9) WITHIN GROUP (ORDER BY days), {buckets_sql}
            FROM ended GROUP BY stage_id
            """,
            [*params, start, end],
        )
    }
    current = {
        row[0]: row[1:]
        for row in fetch(
            f"""
            WITH stays AS ({stays})
            SELECT stage_id, count(*),
                   percentile_cont(0.5) WITHIN GROUP (
                       ORDER BY extract(epoch FROM %s - entered_at) / 86400)
            FROM stays WHERE left_at IS NULL GROUP BY stage_id
            """,
            [*params, now],
        )
    }
    return past, current
