"""Cohort retention: contacts grouped by signup or first-purchase month, and what each
cohort still does (active, buying, revenue) month by month, from the CohortCell rollup."""

from __future__ import annotations

import datetime as dt
from typing import Any

from analytics.figures.common import (
    NO_FILTERS,
    Filters,
    fetch,
    money,
)
from analytics.models import CohortCell
from workspaces.models import Workspace


def _months_between(first: dt.date, later: dt.date) -> int:
    return (later.year - first.year) * 12 + later.month - first.month


def cohorts(
    *,
    workspace: Workspace,
    start_month: dt.date,
    end_month: dt.date,
    basis: str = CohortCell.Basis.SIGNUP,
    filters: Filters = NO_FILTERS,
) -> list[dict[str, Any]]:
    """For each cohort month: its size and, for each month after (offset 0 = the
    cohort's own month), how many were active, how many bought, and revenue."""
    # The cohort cells are per source: a segment, or a signup month of first-purchase
    # cohorts, reads the contacts' facts. A signup month of signup cohorts is one cohort.
    signup_cohort = basis == CohortCell.Basis.SIGNUP
    if filters.segment is not None or (filters.signup_month is not None and not signup_cohort):
        rows = _cohorts_of_contacts(workspace, start_month, end_month, basis, filters)
    else:
        where, group = filters.group_sql(month_column="cohort")
        params: list[Any] = [workspace.pk, basis, start_month, end_month, *group]
        rows = fetch(
            f"""
            SELECT cohort, month, sum(size), sum(active), sum(purchasing), sum(revenue)
            FROM analytics_cohortcell
            WHERE workspace_id = %s AND basis = %s AND cohort BETWEEN %s AND %s {where}
            GROUP BY cohort, month ORDER BY cohort, month
            """,
            params,
        )
    table: dict[dt.date, dict[str, Any]] = {}
    for cohort, month, size, active, purchasing, revenue in rows:
        entry = table.setdefault(
            cohort, {"cohort": cohort.isoformat()[:7], "size": 0, "months": {}}
        )
        entry["size"] += size
        if active or purchasing or revenue:
            entry["months"][_months_between(cohort, month)] = {
                "active": active,
                "purchasing": purchasing,
                "revenue": money(revenue),
            }
    out = []
    for cohort in sorted(table):
        entry = table[cohort]
        size = entry["size"]
        span = _months_between(cohort, end_month.replace(day=1))
        entry["months"] = [
            {
                **entry["months"].get(offset, {"active": 0, "purchasing": 0, "revenue": "0.00"}),
                "offset": offset,
                "active_share": round(entry["months"].get(offset, {}).get("active", 0) / size, 4)
                if size
                else None,
                "purchasing_share": round(
                    entry["months"].get(offset, {}).get("purchasing", 0) / size, 4
                )
                if size
                else None,
            }
            for offset in range(0, max(span, 0) + 1)
        ]
        if size:
            out.append(entry)
    return out


def _cohorts_of_contacts(
    workspace: Workspace, start_month: dt.date, end_month: dt.date, basis: str, filters: Filters
) -> list[tuple[Any, ...]]:
    """The cohort table of the contacts the filters keep, from their facts and months."""
    condition, params = filters.contacts_sql(workspace, "f.contact_id")
    cohort = "f.signup_month" if basis == CohortCell.Basis.SIGNUP else "f.first_purchase_month"
    return fetch(
        f"""
        WITH f AS (SELECT * FROM analytics_customerfacts f
                   WHERE f.workspace_id = %s AND {condition}
                     AND {cohort} BETWEEN %s AND %s)
        SELECT {cohort}, {cohort}, count(*), 0, 0, 0 FROM f GROUP BY 1
        UNION ALL
        SELECT {cohort}, m.month, 0, count(*) FILTER (WHERE m.events > 0),
               count(*) FILTER (WHERE m.purchases > 0), sum(m.revenue)
        FROM f JOIN analytics_contactmonth m ON m.contact_id = f.contact_id
        WHERE m.month >= {cohort} GROUP BY 1, 2
        """,
        [workspace.pk, *params, start_month, end_month],
    )
