"""Lifetime value: historic (what customers spent, by stage and in total) and
predicted (the fitted BG/NBD and Gamma-Gamma models, per contact, in buckets).

Without a segment filter both read the CLV sums (ClvSummary, rollups/clv_summary.py:
the facts summed per signup month, source, current stage and bucket, recomputed
within about a minute of a change) once they have been taken; the definitions below
read every contact's facts and stage (`use_rollups=False`, and with a segment)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from analytics.figures.clv_sums import historic_from_sums, predicted_from_sums, sums_apply
from analytics.figures.common import (
    NO_FILTERS,
    Filters,
    fetch,
    money,
)
from analytics.rollups.clv_summary import CLV_BUCKETS
from workspaces.models import Workspace


def clv_historic(
    *, workspace: Workspace, filters: Filters = NO_FILTERS, use_rollups: bool = True
) -> dict[str, Any]:
    """Revenue to date per customer (contacts with a purchase), by signup cohort and by
    current stage."""
    if use_rollups and sums_apply(workspace.pk, filters):
        by_cohort, by_stage, total = historic_from_sums(workspace.pk, filters)
    else:
        by_cohort, by_stage, total = _historic_raw(workspace, filters)

    def row(key: str, label: Any, customers: int, revenue: Any) -> dict[str, Any]:
        return {
            key: label,
            "customers": customers,
            "revenue": money(revenue),
            "revenue_per_customer": money(Decimal(revenue) / customers) if customers else None,
        }

    return {
        "customers": total[0],
        "revenue": money(total[1]),
        "revenue_per_customer": money(Decimal(total[1]) / total[0]) if total[0] else None,
        "by_cohort": [row("cohort", c.isoformat()[:7], n, r) for c, n, r in by_cohort],
        "by_stage": [row("stage", k, n, r) for k, n, r in by_stage],
    }


def _historic_raw(workspace: Workspace, filters: Filters) -> tuple[list, list, tuple]:
    """The definition: (cohort rows, stage rows, total) from every customer's facts."""
    condition, params = filters.contacts_sql(workspace, "f.contact_id")
    by_cohort = fetch(
        f"SELECT f.signup_month, count(*), sum(f.revenue) FROM analytics_customerfacts f "
        f"WHERE f.workspace_id = %s AND f.purchases > 0 AND {condition} GROUP BY 1 ORDER BY 1",
        [workspace.pk, *params],
    )
    by_stage = fetch(
        f"SELECT s.key, count(*), sum(f.revenue) FROM analytics_customerfacts f "
        f"LEFT JOIN lifecycle_contactstage cs ON cs.contact_id = f.contact_id "
        f"LEFT JOIN lifecycle_stage s ON s.id = cs.stage_id "
        f"WHERE f.workspace_id = %s AND f.purchases > 0 AND {condition} GROUP BY 1 ORDER BY 1",
        [workspace.pk, *params],
    )
    total = fetch(
        f"SELECT count(*), coalesce(sum(f.revenue), 0) FROM analytics_customerfacts f "
        f"WHERE f.workspace_id = %s AND f.purchases > 0 AND {condition}",
        [workspace.pk, *params],
    )[0]
    return by_cohort, by_stage, total


def clv_predicted(
    *, workspace: Workspace, filters: Filters = NO_FILTERS, use_rollups: bool = True
) -> dict[str, Any]:
    """The applied fit's predictions: customers with one, predicted 12-month revenue in
    total and per customer, how many are probably gone (P(alive) < 0.5), by current
    stage, and a histogram of predicted CLV."""
    if use_rollups and sums_apply(workspace.pk, filters):
        rows = predicted_from_sums(workspace.pk, filters)
    else:
        rows = _predicted_raw(workspace, filters)
    customers = sum(r[1] for r in rows)
    total = sum((Decimal(r[2]) for r in rows), Decimal(0))
    histogram = [sum(r[6 + i] for r in rows) for i in range(len(CLV_BUCKETS))]
    return {
        "customers": customers,
        "predicted_revenue": money(total),
        "predicted_clv_per_customer": money(total / customers) if customers else None,
        "probably_gone": sum(r[3] for r in rows),
        # BG/NBD lets a customer drop out only after a repeat purchase: one who bought
        # once is never "probably gone" by it, however long ago (see the CLV page)
        "bought_once": sum(r[5] for r in rows),
        "by_stage": [
            {
                "stage": key,
                "customers": n,
                "predicted_revenue": money(revenue),
                "predicted_clv_per_customer": money(Decimal(revenue) / n) if n else None,
                "probably_gone": gone,
                "mean_probability_alive": round(float(alive), 4) if alive is not None else None,
                "bought_once": once,
            }
            for key, n, revenue, gone, alive, once, *_ in rows
        ],
        "histogram": [
            {"from": low, "to": high, "customers": histogram[i]}
            for i, (low, high) in enumerate(zip(CLV_BUCKETS, [*CLV_BUCKETS[1:], None], strict=True))
        ],
    }


def _predicted_raw(workspace: Workspace, filters: Filters) -> list[tuple[Any, ...]]:
    """The definition: per current stage key (stage, customers, predicted revenue,
    probably gone, mean probability alive, bought once, bucket counts...). The mean is
    taken in numeric, exact for the fit's probabilities (rounded to 6 places), so it
    does not depend on the order the values are added in."""
    condition, params = filters.contacts_sql(workspace, "f.contact_id")
    bucket_sql = ", ".join(
        f"count(*) FILTER (WHERE f.predicted_clv >= {low}"
        + (f" AND f.predicted_clv < {high})" if high is not None else ")")
        for low, high in zip(CLV_BUCKETS, [*CLV_BUCKETS[1:], None], strict=True)
    )
    rows = fetch(
        f"""
        SELECT s.key, count(*), coalesce(sum(f.predicted_clv), 0),
               count(*) FILTER (WHERE f.probability_alive < 0.5),
               avg(f.probability_alive::numeric), count(*) FILTER (WHERE f.orders = 1), {bucket_sql}
        FROM analytics_customerfacts f
        LEFT JOIN lifecycle_contactstage cs ON cs.contact_id = f.contact_id
        LEFT JOIN lifecycle_stage s ON s.id = cs.stage_id
        WHERE f.workspace_id = %s AND f.probability_alive IS NOT NULL AND {condition}
        GROUP BY 1 ORDER BY 1
        """,
        [workspace.pk, *params],
    )
    return rows
