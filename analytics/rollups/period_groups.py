"""The order and active-day sums by the contacts' source and signup month
(OrderGroupDay, ActiveGroupDay): what the overview's and the revenue figures' orders
and active contacts read for a source or signup-month filter instead of the kept
contacts' purchase days and months (the definition, still read for a segment).

Each contact's purchase days and active days count in the workspace's sums
(periods.py) and once more here under its group in the facts, (source, signup
month), or none without facts yet. Only the engine's facts refresh (and an erasure,
and the rebuild) writes a contact's purchase days and months, so only it moves these:

- orders: the purchase days a refresh replaces and writes count under the group the
  facts say now (written earlier in the transaction); before that, the purchase days
  of a contact whose group changed are moved from the old group to the new
  (`order_groups_regroup`, read before they are replaced);
- active days: the refresh statement counts the active days it replaces and writes
  under the group the facts said before it (so all of a contact's days stay under
  one group), then `active_groups_regroup` moves every active day of a contact whose
  group changed from the old group to the new, read from the months just written.

Each difference is applied with the workspace's sum it goes with, in one statement,
in key order (periods.py `tagged_apply`, `orders_apply`). The rebuild counts them from
the raw rows: the active days from the events with each contact's group as the facts
derive it from the contact row (on the second connection, where the facts being
rebuilt are not visible), the orders from the purchase days and the facts."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from analytics.rollups.stay_groups import CHANGED, changed_params

_ORDER_KEY = "workspace_id, source, signup_month, day, previous_day, previous2_day"
_ORDERS_APPLY = f"""
INSERT INTO analytics_ordergroupday AS o ({_ORDER_KEY}, orders, purchases, revenue)
SELECT * FROM unnest(%s::bigint[], %s::text[], %s::date[], %s::date[], %s::date[], %s::date[],
                     %s::int[], %s::int[], %s::numeric[])
ON CONFLICT ({_ORDER_KEY}) DO UPDATE SET
    orders = o.orders + EXCLUDED.orders, purchases = o.purchases + EXCLUDED.purchases,
    revenue = o.revenue + EXCLUDED.revenue
"""
_ACTIVE_KEY = "workspace_id, source, signup_month, day, previous_day"
_ACTIVE_APPLY = f"""
INSERT INTO analytics_activegroupday AS a ({_ACTIVE_KEY}, contacts)
SELECT * FROM unnest(%s::bigint[], %s::text[], %s::date[], %s::date[], %s::date[], %s::int[])
ON CONFLICT ({_ACTIVE_KEY}) DO UPDATE SET contacts = a.contacts + EXCLUDED.contacts
"""


def in_key_order(rows: Iterable[tuple]) -> list[tuple]:
    """Rows sorted by their key columns (all but the counts: the caller's tuples end
    with them) with NULLs last, as a unique index orders them."""
    return sorted(rows, key=lambda row: tuple((v is None, v) for v in row))


def _summed(rows: Iterable[Sequence[Any]], width: int) -> list[tuple]:
    """Rows with the same first `width` columns added up (the rest are counts), the
    rows that add up to nothing left out, in key order."""
    sums: dict[tuple, list[Any]] = {}
    for row in rows:
        key, counts = tuple(row[:width]), list(row[width:])
        if key in sums:
            sums[key] = [a + b for a, b in zip(sums[key], counts, strict=True)]
        else:
            sums[key] = counts
    return in_key_order((*key, *counts) for key, counts in sums.items() if any(counts))


def active_groups_apply(cursor: Any, rows: Iterable[Sequence[Any]]) -> None:
    """Move ActiveGroupDay by (workspace, source, month, day, previous, contacts) rows."""
    summed = _summed(rows, 5)
    if summed:
        cursor.execute(_ACTIVE_APPLY, [list(column) for column in zip(*summed, strict=True)])


def order_groups_apply(cursor: Any, rows: Iterable[Sequence[Any]]) -> None:
    """Move OrderGroupDay by (workspace, day, previous, previous but one, source, month,
    orders, purchases, revenue) rows."""
    keyed = ((r[0], r[4], r[5], r[1], r[2], r[3], r[6], r[7], r[8]) for r in rows)
    summed = _summed(keyed, 6)
    if summed:
        cursor.execute(_ORDERS_APPLY, [list(column) for column in zip(*summed, strict=True)])


# What purchase days `p` (of `{where}`) count in the order sums under their contact's
# group in `{groups}` (a FROM item `g`), times `{sign}`: rows (workspace, day, previous,
# previous but one, source, month, orders, purchases, revenue).
ORDER_ROWS = """
SELECT p.workspace_id, p.day, p.previous_day, p.previous2_day, {source} AS source,
       {month} AS signup_month, {sign}count(*) AS orders, {sign}sum(p.purchases) AS purchases,
       {sign}sum(p.revenue) AS revenue
FROM analytics_purchaseday p LEFT JOIN {groups} ON g.contact_id = p.contact_id
WHERE {where}
GROUP BY 1, 2, 3, 4, 5, 6
"""
FACTS_GROUPS = "analytics_customerfacts g"  # the groups in the facts now
_NOW = {"source": "coalesce(g.source, '')", "month": "g.signup_month", "groups": FACTS_GROUPS}


def order_rows_sql(where: str, sign: str = "") -> str:
    """ORDER_ROWS under the groups the facts say now."""
    return ORDER_ROWS.format(**_NOW, sign=sign, where=where)


def order_groups_regroup(
    cursor: Any, contact_ids: Sequence[int], before: dict[int, tuple[str, Any]]
) -> list[tuple]:
    """The order difference that moves the purchase days of the contacts whose group
    changed from the group `before` to the facts' now (read before the purchase days
    are replaced: they are the ones counted)."""
    changed = f"p.contact_id IN (SELECT contact_id FROM {CHANGED} c)"
    old = f"(SELECT contact_id, old_source AS source, old_month AS signup_month FROM {CHANGED} c) g"
    then = ORDER_ROWS.format(
        source="g.source", month="g.signup_month", groups=old, sign="-", where=changed
    )
    cursor.execute(
        f"{order_rows_sql(changed)} UNION ALL {then}", changed_params(contact_ids, before)
    )
    return [tuple(row) for row in cursor.fetchall()]


# A contact's group as its facts derive it from the contact row (customers.py
# _FACTS_SELECT): for the rebuild of the active days from the events alone.
CONTACT_GROUPS = """(
    SELECT c.id AS contact_id,
           left(coalesce(c.attributes ->> coalesce(s.source_attribute, 'signup_source'), ''), 200)
               AS source,
           date_trunc('month', c.signed_up_at AT TIME ZONE w.time_zone)::date AS signup_month
    FROM contacts_contact c JOIN workspaces_workspace w ON w.id = c.workspace_id
    LEFT JOIN analytics_analyticssettings s ON s.workspace_id = c.workspace_id
    WHERE c.workspace_id = %(ws)s
) g"""
