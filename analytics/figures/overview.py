"""The overview's key figures for a period, each with its value over the period of the
same length just before it, and the change."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from analytics.figures.common import NO_FILTERS, Filters, Period, fetch
from analytics.figures.customers import (
    _stage_keys,
    customers_at,
    revenue_metrics,
    revenue_metrics_of,
)
from analytics.figures.moves import day_moves
from analytics.figures.period_sums import acquisition_sums_apply, new_contacts_from_sums
from analytics.figures.stages import stage_counts_on
from lifecycle.models import Stage
from workspaces.models import Workspace


def _period_figures(
    workspace: Workspace,
    period: Period,
    filters: Filters,
    use_rollups: bool = True,
    purchases: dict[str, Any] | None = None,
) -> dict[str, Any]:
    start, end = period.bounds(workspace.time_zone)
    condition, params = filters.contacts_sql(workspace)
    # Signup is the contact's signed_up_at (the facts' signup_at). The first-purchase
    # rate is over the period's new contacts: those of them whose first purchase also
    # fell in the period, so it can never exceed 1 (new customers who signed up
    # earlier are counted in new_customers, not in the rate).
    if use_rollups and acquisition_sums_apply(filters):
        new_contacts, new_customers, new_contacts_bought = new_contacts_from_sums(
            workspace.pk, period, filters
        )
    else:
        new_contacts, new_customers, new_contacts_bought = _new_contacts_raw(
            workspace, period, filters
        )
    churned_key, _ = _stage_keys(workspace)
    churned_id = (
        Stage.objects.filter(workspace=workspace, key=churned_key)
        .values_list("pk", flat=True)
        .first()
    )
    counts = stage_counts_on(workspace, [period.end], filters)
    churned = 0
    if churned_id is not None and use_rollups:
        # dispatched moves into the churned stage: the flows count exactly those (for a
        # filter, the kept contacts' moves the report reads once for every figure)
        churned = sum(
            moves
            for _, _, to_stage, moves in day_moves(workspace, filters, period.start, period.end)
            if to_stage == churned_id
        )
    elif churned_id is not None:
        churned = fetch(
            "SELECT count(*) FROM lifecycle_stagetransition WHERE workspace_id = %s "
            f"AND to_stage_id = %s AND at >= %s AND at < %s AND notified_at IS NOT NULL "
            f"AND {condition}",
            [workspace.pk, churned_id, start, end, *params],
        )[0][0]
    customers_at_start = customers_at(workspace, [start], churned_id, filters, use_rollups)[0]
    if purchases is None:
        purchases = revenue_metrics(
            workspace=workspace, period=period, filters=filters, use_rollups=use_rollups
        )
    return {
        "contacts": sum(counts[period.end].values()),
        "new_contacts": new_contacts,
        "new_customers": new_customers,
        "first_purchase_rate": round(new_contacts_bought / new_contacts, 4)
        if new_contacts
        else None,
        "churned": int(churned),
        "churn_rate": round(churned / customers_at_start, 4) if customers_at_start > 0 else None,
        "revenue": purchases["revenue"],
        "orders": purchases["orders"],
        "average_order_value": purchases["average_order_value"],
        "repeat_purchase_rate": purchases["repeat_purchase_rate"],
        "purchase_frequency": purchases["purchase_frequency"],
        "arpu": purchases["arpu"],
    }


def _new_contacts_raw(
    workspace: Workspace, period: Period, filters: Filters
) -> tuple[int, int, int]:
    """The definition: new contacts, new customers and both, from the facts."""
    start, end = period.bounds(workspace.time_zone)
    condition, params = filters.contacts_sql(workspace)
    new_contacts, new_customers, new_contacts_bought = fetch(
        "SELECT count(*) FILTER (WHERE signup_at >= %s AND signup_at < %s), "
        "count(*) FILTER (WHERE first_purchase_at >= %s AND first_purchase_at < %s), "
        "count(*) FILTER (WHERE signup_at >= %s AND signup_at < %s "
        "AND first_purchase_at >= %s AND first_purchase_at < %s) "
        "FROM analytics_customerfacts WHERE workspace_id = %s "
        f"AND (signup_at >= %s OR first_purchase_at >= %s) AND {condition}",
        [start, end, start, end, start, end, start, end, workspace.pk, start, start, *params],
    )[0]
    return int(new_contacts), int(new_customers), int(new_contacts_bought)


def _change(value: Any, previous: Any) -> float | None:
    """The relative change, rounded to 4 places; none when either value is missing or
    the previous one is 0 (a percentage of nothing means nothing: see `_is_new`)."""
    if value is None or previous is None:
        return None
    now, then = Decimal(str(value)), Decimal(str(previous))
    if then == 0:
        return None
    return round(float((now - then) / abs(then)), 4)


def _is_new(value: Any, previous: Any) -> bool:
    """Whether the figure is there now and was nothing before (previous 0 or none):
    the dashboard says "new" instead of a percentage."""
    if value is None or Decimal(str(value)) == 0:
        return False
    return previous is None or Decimal(str(previous)) == 0


def overview(
    *,
    workspace: Workspace,
    period: Period,
    filters: Filters = NO_FILTERS,
    use_rollups: bool = True,
) -> dict[str, Any]:
    before = period.previous()
    earlier, later = None, None
    if filters.segment is not None and use_rollups:  # its contacts' rows read once for both
        earlier, later = revenue_metrics_of(workspace, [before, period], filters)
    current = _period_figures(workspace, period, filters, use_rollups, later)
    previous = _period_figures(workspace, before, filters, use_rollups, earlier)
    return {
        key: {
            "value": value,
            "previous": previous[key],
            "change": _change(value, previous[key]),
            "new": _is_new(value, previous[key]),
        }
        for key, value in current.items()
    }
