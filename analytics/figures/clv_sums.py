"""The CLV figures read from the CLV sums (ClvSummary): the same rows as the
definitions in clv.py, summed from a few thousand rows per workspace instead of every
contact's facts (the tests compare them). The sums keep the signup month and source,
so they serve those filters too; a segment never."""

from __future__ import annotations

import datetime as dt
from typing import Any

from analytics.figures.common import Filters, fetch
from analytics.rollups.clv_summary import CLV_BUCKETS


def sums_taken_at(workspace_id: int, filters: Filters) -> dt.datetime | None:
    """When the sums that answer these filters were taken: none when they cannot (a
    segment filter) or have not been taken yet."""
    if filters.segment is not None:
        return None
    rows = fetch(
        "SELECT refreshed_at FROM analytics_clvsummarystate WHERE workspace_id = %s",
        [workspace_id],
    )
    return rows[0][0] if rows else None


def sums_apply(workspace_id: int, filters: Filters) -> bool:
    return sums_taken_at(workspace_id, filters) is not None


def _where(workspace_id: int, filters: Filters) -> tuple[str, list[Any]]:
    parts: list[str] = ["c.workspace_id = %s"]
    params: list[Any] = [workspace_id]
    if filters.source is not None:
        parts.append("c.source = %s")
        params.append(filters.source)
    if filters.signup_month is not None:
        parts.append("c.signup_month = %s")
        params.append(filters.signup_month)
    return " AND ".join(parts), params


def historic_from_sums(
    workspace_id: int, filters: Filters
) -> tuple[list[tuple[dt.date, int, Any]], list[tuple[Any, int, Any]], tuple[int, Any]]:
    """(cohort rows, stage rows, total) as the definition's."""
    where, params = _where(workspace_id, filters)
    by_cohort = fetch(
        f"SELECT c.signup_month, sum(c.customers)::int, sum(c.revenue) FROM analytics_clvsummary c "
        f"WHERE {where} GROUP BY 1 HAVING sum(c.customers) > 0 ORDER BY 1",
        params,
    )
    by_stage = fetch(
        "SELECT s.key, sum(c.customers)::int, sum(c.revenue) FROM analytics_clvsummary c "
        f"LEFT JOIN lifecycle_stage s ON s.id = c.stage_id WHERE {where} "
        "GROUP BY 1 HAVING sum(c.customers) > 0 ORDER BY 1",
        params,
    )
    customers = sum(n for _, n, _ in by_cohort)
    revenue = sum((r for _, _, r in by_cohort), start=0)
    return by_cohort, by_stage, (customers, revenue)


def predicted_from_sums(workspace_id: int, filters: Filters) -> list[tuple[Any, ...]]:
    """Per current stage key: (stage, customers, predicted revenue, probably gone, mean
    probability alive, bought once, bucket counts...) as the definition's rows."""
    where, params = _where(workspace_id, filters)
    buckets = ", ".join(
        f"sum(c.predicted) FILTER (WHERE c.bucket = {i})::int" for i in range(len(CLV_BUCKETS))
    )
    rows = fetch(
        f"""
        SELECT s.key, sum(c.predicted)::int, sum(c.predicted_clv), sum(c.probably_gone)::int,
               sum(c.probability_alive_sum) / sum(c.predicted), sum(c.bought_once)::int,
               {buckets}
        FROM analytics_clvsummary c LEFT JOIN lifecycle_stage s ON s.id = c.stage_id
        WHERE {where} GROUP BY 1 HAVING sum(c.predicted) > 0 ORDER BY 1
        """,
        params,
    )
    return [(*row[:6], *(n or 0 for n in row[6:])) for row in rows]
