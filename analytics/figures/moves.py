"""The moves per local day between stages that the funnel, flow, churn and overview
sum: the rollup (StageFlowDay) unfiltered, its rows by source and signup month
(StageFlowGroupDay) for those filters, and for a segment the dispatched moves of its
contacts (the definition, which the tests compare the rollups with). A report reads
the filtered moves once (`moves_read_once`) and each figure takes its days."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from analytics.figures.common import Filters, fetch
from workspaces.models import Workspace

Flow = tuple[dt.date, int | None, int, int]  # (local day, from, to, moves)

# Inside `moves_read_once`: the filtered reads of moves a computation has made, by
# workspace and filter, every day kept.
_moves_read: ContextVar[dict[tuple[Any, ...], list[Flow]] | None] = ContextVar(
    "stage_moves_read", default=None
)


@contextmanager
def moves_read_once() -> Iterator[None]:
    """Within: the moves of the contacts a filter keeps are read once, for every day,
    and each figure takes the days it wants from that read. A filtered read costs the
    same whatever days it keeps (it joins every move of the kept contacts first), and a
    report asks for it up to three times (the overview: its figures, the funnel, the
    flow). The rollup's unfiltered reads are cheap and not kept."""
    token = _moves_read.set({})
    try:
        yield
    finally:
        _moves_read.reset(token)


def day_moves(
    workspace: Workspace, filters: Filters, since: dt.date | None, until: dt.date
) -> list[Flow]:
    """(day, from, to, moves) for local days in [since, until]."""
    read = _moves_read.get()
    if not filters or read is None:
        return _flows_read(workspace, filters, since, until)
    segment = filters.segment.pk if filters.segment else None
    key = (workspace.pk, workspace.time_zone, segment, filters.source, filters.signup_month)
    if key not in read:
        read[key] = _flows_read(workspace, filters, None, dt.date.max)
    return [row for row in read[key] if row[0] <= until and (since is None or row[0] >= since)]


def _flows_read(
    workspace: Workspace, filters: Filters, since: dt.date | None, until: dt.date
) -> list[Flow]:
    if not filters:
        return fetch(
            "SELECT day, from_stage_id, to_stage_id, moves FROM analytics_stageflowday "
            "WHERE workspace_id = %s AND day <= %s AND (%s::date IS NULL OR day >= %s) "
            "AND moves <> 0",
            [workspace.pk, until, since, since],
        )
    if filters.segment is None:
        return flows_of_groups(workspace, filters, since, until)
    return flows_of_kept(workspace, filters, since, until)


def flows_of_groups(
    workspace: Workspace, filters: Filters, since: dt.date | None, until: dt.date
) -> list[Flow]:
    """The moves of a source's or signup month's contacts: sums of the moves by group
    (analytics/rollups/flow_groups.py), the same rows as flows_of_kept."""
    where, params = filters.group_sql()
    return fetch(
        "SELECT day, from_stage_id, to_stage_id, sum(moves) FROM analytics_stageflowgroupday "
        f"WHERE workspace_id = %s AND day <= %s AND (%s::date IS NULL OR day >= %s) {where}"
        "GROUP BY 1, 2, 3 HAVING sum(moves) <> 0",
        [workspace.pk, until, since, since, *params],
    )


def flows_of_kept(
    workspace: Workspace, filters: Filters, since: dt.date | None, until: dt.date
) -> list[Flow]:
    """The definition: the dispatched moves of the contacts the filters keep."""
    condition, params = filters.contacts_sql(workspace)
    return fetch(
        f"SELECT (at AT TIME ZONE %s)::date AS day, from_stage_id, to_stage_id, count(*) "
        f"FROM lifecycle_stagetransition WHERE workspace_id = %s AND {condition} "
        # as the rollup: only the moves the stage.changed hooks have seen
        f"AND notified_at IS NOT NULL AND (at AT TIME ZONE %s)::date <= %s "
        f"AND (%s::date IS NULL OR (at AT TIME ZONE %s)::date >= %s) GROUP BY 1, 2, 3",
        [
            workspace.time_zone,
            workspace.pk,
            *params,
            workspace.time_zone,
            until,
            since,
            workspace.time_zone,
            since,
        ],
    )
