"""Period rollups (analytics/models_periods.py): purchase days per contact and the
order, active-day and acquisition counts summed from the per-contact rows.

They are kept the way the cohort cells are. The engine's refresh of some contacts
(customers.py) recomputes their facts, months and purchase days from their raw rows
and returns what the new rows contribute minus what the replaced rows did; the sums
are moved by that difference, each table in one statement in key order, after the
cohort cells, so two refreshes never deadlock. An erasure takes a contact's
contribution out; the rebuild recomputes everything from the raw data (active days
from the events in one ordered pass: the day of a contact's event before the first
event of a day is its previous active day).

The difference rows share the cohort cells' shape, tagged in `basis`:
(workspace_id, basis, cohort, month, source, size, active, purchasing, revenue) with
- `acquisition`: cohort = signup day, month = first purchase day, size = contacts;
- `active`: cohort = day, month = previous active day, size = contacts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection

KINDS = ("acquisition", "active")


def acquisition_contribution(facts: str, sign: str = "", where: str = "true") -> str:
    """What the facts rows of `facts` contribute to AcquisitionDay (tagged rows)."""
    return f"""
SELECT f.workspace_id, 'acquisition' AS basis,
       (f.signup_at AT TIME ZONE aw.time_zone)::date AS cohort,
       (f.first_purchase_at AT TIME ZONE aw.time_zone)::date AS month, f.source,
       {sign}count(*) AS size, 0 AS active, 0 AS purchasing, 0::numeric AS revenue
FROM {facts} f JOIN workspaces_workspace aw ON aw.id = f.workspace_id
WHERE {where}
GROUP BY 1, 3, 4, 5
"""


def active_contribution(months: str, sign: str = "", where: str = "true") -> str:
    """What the month rows of `months` contribute to ActiveDay (tagged rows): each
    active day (a bit of active_days) with the contact's previous active day."""
    return f"""
SELECT workspace_id, 'active' AS basis, day AS cohort, previous AS month, '' AS source,
       {sign}count(*) AS size, 0 AS active, 0 AS purchasing, 0::numeric AS revenue
FROM (
    SELECT m.workspace_id, m.month + (i - 1) AS day,
           lag(m.month + (i - 1)) OVER (PARTITION BY m.contact_id ORDER BY m.month + (i - 1))
               AS previous
    FROM {months} m CROSS JOIN generate_series(1, 31) AS i
    WHERE {where} AND m.active_days & (1 << (i - 1)) <> 0
) d
GROUP BY 1, 3, 4
"""


_ACQUISITION_APPLY = """
INSERT INTO analytics_acquisitionday AS a
    (workspace_id, signup_day, first_purchase_day, source, contacts)
SELECT * FROM unnest(%s::bigint[], %s::date[], %s::date[], %s::text[], %s::int[])
ON CONFLICT (workspace_id, signup_day, first_purchase_day, source)
DO UPDATE SET contacts = a.contacts + EXCLUDED.contacts
"""
_ACTIVE_APPLY = """
INSERT INTO analytics_activeday AS a (workspace_id, day, previous_day, contacts)
SELECT * FROM unnest(%s::bigint[], %s::date[], %s::date[], %s::int[])
ON CONFLICT (workspace_id, day, previous_day)
DO UPDATE SET contacts = a.contacts + EXCLUDED.contacts
"""


def tagged_apply(cursor: Any, rows: Sequence[Sequence[Any]]) -> None:
    """Move AcquisitionDay and ActiveDay by tagged difference rows, which come in key
    order (ORDER BY workspace, basis, cohort, month, source: NULLs last, as the keys)."""
    acquisition = [(r[0], r[2], r[3], r[4], r[5]) for r in rows if r[1] == "acquisition" and r[5]]
    active = [(r[0], r[2], r[3], r[5]) for r in rows if r[1] == "active" and r[5]]
    for sql, values in ((_ACQUISITION_APPLY, acquisition), (_ACTIVE_APPLY, active)):
        if values:
            cursor.execute(sql, [list(column) for column in zip(*values, strict=True)])


# --- purchase days and orders ------------------------------------------------------------

_PURCHASE_DAYS = """
SELECT contact_id, workspace_id, day,
       lag(day) OVER w AS previous_day, lag(day, 2) OVER w AS previous2_day,
       purchases, revenue
FROM (
    SELECT e.contact_id, e.workspace_id, (e.occurred_at AT TIME ZONE w.time_zone)::date AS day,
           count(*) AS purchases, sum(e.revenue) AS revenue
    FROM contacts_event e JOIN workspaces_workspace w ON w.id = e.workspace_id
    WHERE {events} AND e.name = ANY(w.purchase_event_names) AND e.revenue IS NOT NULL
    GROUP BY 1, 2, 3
) d
WINDOW w AS (PARTITION BY contact_id ORDER BY day)
"""
_PURCHASE_COLUMNS = "contact_id, workspace_id, day, previous_day, previous2_day, purchases, revenue"

# Replace some contacts' purchase days by what their events give now and return how
# the order sums change (new rows minus replaced ones), in key order. One statement,
# as the facts' refresh: the rows written and the change come from one reading.
_REFRESH_SQL = f"""
WITH fresh AS MATERIALIZED ({_PURCHASE_DAYS.format(events="e.contact_id = ANY(%(ids)s)")}),
old AS MATERIALIZED (
    SELECT {_PURCHASE_COLUMNS} FROM analytics_purchaseday WHERE contact_id = ANY(%(ids)s)),
written AS (
    INSERT INTO analytics_purchaseday AS p ({_PURCHASE_COLUMNS})
    SELECT {_PURCHASE_COLUMNS} FROM fresh ORDER BY contact_id, day
    ON CONFLICT (contact_id, day, workspace_id) DO UPDATE SET
        previous_day = EXCLUDED.previous_day, previous2_day = EXCLUDED.previous2_day,
        purchases = EXCLUDED.purchases, revenue = EXCLUDED.revenue
    WHERE (p.previous_day, p.previous2_day, p.purchases, p.revenue) IS DISTINCT FROM
          (EXCLUDED.previous_day, EXCLUDED.previous2_day, EXCLUDED.purchases, EXCLUDED.revenue)
),
gone AS (
    DELETE FROM analytics_purchaseday p WHERE p.contact_id = ANY(%(ids)s)
    AND NOT EXISTS (SELECT 1 FROM fresh n WHERE n.contact_id = p.contact_id AND n.day = p.day)
),
change AS (
    SELECT workspace_id, day, previous_day, previous2_day, 1 AS orders, purchases, revenue
    FROM fresh
    UNION ALL
    SELECT workspace_id, day, previous_day, previous2_day, -1, -purchases, -revenue FROM old
)
SELECT workspace_id, day, previous_day, previous2_day, sum(orders), sum(purchases), sum(revenue)
FROM change GROUP BY 1, 2, 3, 4
HAVING (sum(orders), sum(purchases), sum(revenue)) <> (0, 0, 0)
ORDER BY 1, 2, 3, 4
"""

_ORDERS_APPLY = """
INSERT INTO analytics_orderday AS o
    (workspace_id, day, previous_day, previous2_day, orders, purchases, revenue)
SELECT * FROM unnest(%s::bigint[], %s::date[], %s::date[], %s::date[], %s::int[], %s::int[],
                     %s::numeric[])
ON CONFLICT (workspace_id, day, previous_day, previous2_day) DO UPDATE SET
    orders = o.orders + EXCLUDED.orders, purchases = o.purchases + EXCLUDED.purchases,
    revenue = o.revenue + EXCLUDED.revenue
"""

_ORDERS_SUM = """
SELECT workspace_id, day, previous_day, previous2_day, {sign}count(*), {sign}sum(purchases),
       {sign}sum(revenue)
FROM analytics_purchaseday WHERE {where}
GROUP BY 1, 2, 3, 4
"""


def _orders_apply(cursor: Any, rows: Sequence[Sequence[Any]]) -> None:
    if rows:
        cursor.execute(_ORDERS_APPLY, [list(column) for column in zip(*rows, strict=True)])


def purchase_days_refresh(cursor: Any, contact_ids: list[int]) -> None:
    """Replace these contacts' purchase days and move the order sums by the change
    (after the cohort cells: the shared rows are always taken in the same order)."""
    cursor.execute(_REFRESH_SQL, {"ids": contact_ids})
    _orders_apply(cursor, cursor.fetchall())


def period_rollups_erase(cursor: Any, contact_id: int) -> None:
    """Take an erased contact out of the acquisition, active-day and order sums and
    delete its purchase days (before its facts and months are deleted)."""
    acquisition = acquisition_contribution("analytics_customerfacts", "-", "f.contact_id = %s")
    active = active_contribution("analytics_contactmonth", "-", "m.contact_id = %s")
    cursor.execute(
        f"SELECT * FROM ({acquisition} UNION ALL {active}) c ORDER BY 1, 2, 3, 4, 5",
        [contact_id, contact_id],
    )
    tagged_apply(cursor, cursor.fetchall())
    cursor.execute(
        _ORDERS_SUM.format(sign="-", where="contact_id = %s") + " ORDER BY 1, 2, 3, 4",
        [contact_id],
    )
    _orders_apply(cursor, cursor.fetchall())
    cursor.execute("DELETE FROM analytics_purchaseday WHERE contact_id = %s", [contact_id])


# --- rebuild ---------------------------------------------------------------------------

# Active days from the events in one ordered pass: for the first event of each local
# day, the day of the event before it is the previous active day.
_ACTIVE_FROM_EVENTS = """
SELECT workspace_id, day, previous, count(*)
FROM (
    SELECT e.workspace_id, (e.occurred_at AT TIME ZONE w.time_zone)::date AS day,
           lag((e.occurred_at AT TIME ZONE w.time_zone)::date)
               OVER (PARTITION BY e.contact_id ORDER BY e.occurred_at) AS previous
    FROM contacts_event e JOIN workspaces_workspace w ON w.id = e.workspace_id
    WHERE {where}
) d
WHERE previous IS DISTINCT FROM day
GROUP BY 1, 2, 3
"""


def purchase_days_rebuild(*, workspace_id: int) -> None:
    """Recompute a workspace's purchase days from its events, and the order sums
    from them."""
    params = [workspace_id]
    with connection.cursor() as cursor:
        for table in ("purchaseday", "orderday"):
            cursor.execute(f"DELETE FROM analytics_{table} WHERE workspace_id = %s", params)
        cursor.execute(
            f"INSERT INTO analytics_purchaseday ({_PURCHASE_COLUMNS}) "
            + _PURCHASE_DAYS.format(events="e.workspace_id = %s"),
            params,
        )
        cursor.execute(
            "INSERT INTO analytics_orderday (workspace_id, day, previous_day, previous2_day, "
            "orders, purchases, revenue) " + _ORDERS_SUM.format(sign="", where="workspace_id = %s"),
            params,
        )


def active_days_rebuild(*, workspace_id: int) -> None:
    """Recompute a workspace's active-day counts from its events alone."""
    params = [workspace_id]
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM analytics_activeday WHERE workspace_id = %s", params)
        cursor.execute(
            "INSERT INTO analytics_activeday (workspace_id, day, previous_day, contacts) "
            + _ACTIVE_FROM_EVENTS.format(where="e.workspace_id = %s"),
            params,
        )


def acquisition_days_rebuild(*, workspace_id: int) -> None:
    """Recompute a workspace's acquisition counts from its (freshly rebuilt) facts."""
    params = [workspace_id]
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM analytics_acquisitionday WHERE workspace_id = %s", params)
        cursor.execute(
            "INSERT INTO analytics_acquisitionday (workspace_id, signup_day, first_purchase_day, "
            "source, contacts) SELECT workspace_id, cohort, month, source, size FROM ("
            + acquisition_contribution("analytics_customerfacts", where="f.workspace_id = %s")
            + ") c",
            params,
        )


# --- the drift check -------------------------------------------------------------------

# Each sum against what it sums (rows written in the same transaction, so exact at any
# moment): the expected rows, the stored rows, both (workspace, key..., counts...).
_SUMS: dict[str, tuple[str, str, str]] = {
    "analytics_orderday": (
        _ORDERS_SUM.format(sign="", where="workspace_id = %(ws)s"),
        "SELECT workspace_id, day, previous_day, previous2_day, orders::bigint, "
        "purchases::bigint, revenue FROM analytics_orderday WHERE workspace_id = %(ws)s "
        "AND (orders, purchases, revenue) <> (0, 0, 0)",
        "workspace_id, day, previous_day, previous2_day, orders, purchases, revenue",
    ),
    "analytics_acquisitionday": (
        "SELECT workspace_id, cohort AS signup_day, month AS first_purchase_day, source, "
        "size AS contacts FROM ("
        + acquisition_contribution("analytics_customerfacts", where="f.workspace_id = %(ws)s")
        + ") c",
        "SELECT workspace_id, signup_day, first_purchase_day, source::text, contacts::bigint "
        "FROM analytics_acquisitionday WHERE workspace_id = %(ws)s AND contacts <> 0",
        "workspace_id, signup_day, first_purchase_day, source, contacts",
    ),
    "analytics_activeday": (
        "SELECT workspace_id, cohort AS day, month AS previous_day, size AS contacts FROM ("
        + active_contribution("analytics_contactmonth", where="m.workspace_id = %(ws)s")
        + ") c",
        "SELECT workspace_id, day, previous_day, contacts::bigint FROM analytics_activeday "
        "WHERE workspace_id = %(ws)s AND contacts <> 0",
        "workspace_id, day, previous_day, contacts",
    ),
}


_KEYS = {
    "analytics_orderday": "day, previous_day, previous2_day",
    "analytics_acquisitionday": "signup_day, first_purchase_day, source",
    "analytics_activeday": "day, previous_day",
}


def period_sums_compare(*, workspace_id: int, every: bool = True) -> dict[str, tuple[int, int]]:
    """Per sum table: (rows compared, rows differing) against the rows it sums. The
    active days (every month row's days expanded) only when `every` (a check of all)."""
    out = {}
    with connection.cursor() as cursor:
        for table, (expected, stored, _) in _SUMS.items():
            keys = _KEYS[table]
            if table == "analytics_activeday" and not every:
                continue
            cursor.execute(
                f"WITH expected AS ({expected}), stored AS ({stored}), "
                "differing AS ((SELECT * FROM expected EXCEPT SELECT * FROM stored) "
                "UNION ALL (SELECT * FROM stored EXCEPT SELECT * FROM expected)) "
                "SELECT (SELECT count(*) FROM expected), "
                f"(SELECT count(*) FROM (SELECT DISTINCT {keys} FROM differing) d)",
                {"ws": workspace_id},
            )
            checked, differing = cursor.fetchone()
            out[table] = (int(checked), int(differing))
    return out


def period_sums_recompute(*, workspace_id: int) -> None:
    """Write the sums again from the rows they sum. The caller holds the workspace's
    rollups exclusively."""
    with connection.cursor() as cursor:
        for table, (expected, _, columns) in _SUMS.items():
            cursor.execute(f"DELETE FROM {table} WHERE workspace_id = %(ws)s", {"ws": workspace_id})
            cursor.execute(f"INSERT INTO {table} ({columns}) {expected}", {"ws": workspace_id})


# A settled contact's purchase days against its events (the contacts among %(ids)s
# with no mark: the engine refreshes a marked one).
_PURCHASE_DAYS_COMPARE = f"""
WITH settled AS (
    SELECT c.id FROM contacts_contact c
    WHERE c.workspace_id = %(ws)s AND c.id = ANY(%(ids)s)
      AND NOT EXISTS (SELECT 1 FROM contacts_contactmark m
                      WHERE m.contact_id = c.id AND m.workspace_id = %(ws)s)
), fresh AS ({_PURCHASE_DAYS.format(events="e.contact_id IN (SELECT id FROM settled)")}),
stored AS (
    SELECT {_PURCHASE_COLUMNS} FROM analytics_purchaseday
    WHERE workspace_id = %(ws)s AND contact_id IN (SELECT id FROM settled)),
differing AS ((SELECT * FROM fresh EXCEPT SELECT * FROM stored)
              UNION (SELECT * FROM stored EXCEPT SELECT * FROM fresh))
SELECT (SELECT count(*) FROM (SELECT contact_id, day FROM fresh
                              UNION SELECT contact_id, day FROM stored) k),
       (SELECT count(*) FROM (SELECT DISTINCT contact_id, day FROM differing) d),
       ARRAY(SELECT DISTINCT contact_id FROM differing ORDER BY 1)
"""


def purchase_days_compare(
    *, workspace_id: int, contact_ids: Sequence[int]
) -> tuple[int, int, list[int]]:
    """Compare these contacts' purchase days with their events: (rows compared, rows
    differing, the contacts that differ)."""
    with connection.cursor() as cursor:
        cursor.execute(_PURCHASE_DAYS_COMPARE, {"ws": workspace_id, "ids": sorted(contact_ids)})
        checked, differing, contacts = cursor.fetchone()
    return int(checked), int(differing), list(contacts)


def purchase_days_orphans(*, workspace_id: int) -> list[int]:
    """Contacts that are gone but still have purchase days."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT ARRAY(SELECT DISTINCT p.contact_id FROM analytics_purchaseday p "
            "WHERE p.workspace_id = %s AND NOT EXISTS "
            "(SELECT 1 FROM contacts_contact c WHERE c.id = p.contact_id) ORDER BY 1)",
            [workspace_id],
        )
        return list(cursor.fetchone()[0])
