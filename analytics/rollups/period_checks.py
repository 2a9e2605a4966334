"""The drift check of the period rollups (periods.py, period_groups.py) and the answer
sums (answer_groups.py): each sum against the rows it sums, and the purchase days and
answer rows against the events and answers."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection

from analytics.rollups.answer_groups import (
    CONTACT_COLUMNS,
    CONTACT_ROWS,
    GROUP_COLUMNS,
    GROUP_ROWS,
    UNSETTLED,
)
from analytics.rollups.period_groups import FACTS_GROUPS, order_rows_sql
from analytics.rollups.periods import (
    ACTIVE_GROUP_COLUMNS,
    ORDER_GROUP_COLUMNS,
    ORDERS_SUM,
    PURCHASE_COLUMNS,
    PURCHASE_DAYS,
    acquisition_contribution,
    active_contribution,
)

# --- the drift check -------------------------------------------------------------------

# Each sum against what it sums (rows written in the same transaction, so exact at any
# moment): the expected rows, the stored rows, both (workspace, key..., counts...).
_SUMS: dict[str, tuple[str, str, str]] = {
    "analytics_orderday": (
        ORDERS_SUM.format(sign="", where="workspace_id = %(ws)s"),
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


_SUMS["analytics_ordergroupday"] = (
    order_rows_sql("p.workspace_id = %(ws)s"),
    "SELECT workspace_id, day, previous_day, previous2_day, source::text, signup_month, "
    "orders::bigint, purchases::bigint, revenue FROM analytics_ordergroupday "
    "WHERE workspace_id = %(ws)s AND (orders, purchases, revenue) <> (0, 0, 0)",
    ORDER_GROUP_COLUMNS,
)
_SUMS["analytics_activegroupday"] = (
    "SELECT workspace_id, source, group_month AS signup_month, cohort AS day, month AS "
    "previous_day, size AS contacts FROM ("
    + active_contribution(
        "analytics_contactmonth",
        where="m.workspace_id = %(ws)s",
        groups=FACTS_GROUPS,
    )
    + ") c",
    "SELECT workspace_id, source::text, signup_month, day, previous_day, contacts::bigint "
    "FROM analytics_activegroupday WHERE workspace_id = %(ws)s AND contacts <> 0",
    ACTIVE_GROUP_COLUMNS,
)
_SUMS["analytics_answergroupday"] = (
    GROUP_ROWS.format(
        sign="",
        rows="(SELECT * FROM analytics_contactanswerday WHERE workspace_id = %(ws)s)",
    ),
    "SELECT workspace_id, survey_id, source::text, signup_month, day, score, answers::bigint "
    "FROM analytics_answergroupday WHERE workspace_id = %(ws)s AND answers <> 0",
    GROUP_COLUMNS,
)
_KEYS = {
    "analytics_orderday": "day, previous_day, previous2_day",
    "analytics_acquisitionday": "signup_day, first_purchase_day, source",
    "analytics_activeday": "day, previous_day",
    "analytics_ordergroupday": "day, previous_day, previous2_day, source, signup_month",
    "analytics_activegroupday": "source, signup_month, day, previous_day",
    "analytics_answergroupday": "survey_id, source, signup_month, day, score",
}
_EVERY_ONLY = ("analytics_activeday", "analytics_activegroupday")  # every month expanded


def period_sums_compare(*, workspace_id: int, every: bool = True) -> dict[str, tuple[int, int]]:
    """Per sum table: (rows compared, rows differing) against the rows it sums. The
    active days (every month row's days expanded) only when `every` (a check of all)."""
    out = {}
    with connection.cursor() as cursor:
        for table, (expected, stored, _) in _SUMS.items():
            keys = _KEYS[table]
            if table in _EVERY_ONLY and not every:
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


# A settled contact's rows of `table` against what `fresh` (of the contacts in
# `settled`) gives: the contacts among %(ids)s with no mark (the engine refreshes a
# marked one), nor any in `{pending}`.
_SETTLED_COMPARE = """
WITH settled AS (
    SELECT c.id FROM contacts_contact c
    WHERE c.workspace_id = %(ws)s AND c.id = ANY(%(ids)s)
      AND NOT EXISTS (SELECT 1 FROM contacts_contactmark m
                      WHERE m.contact_id = c.id AND m.workspace_id = %(ws)s)
      AND c.id NOT IN ({pending})
), fresh AS ({fresh}),
stored AS (
    SELECT {columns} FROM {table}
    WHERE workspace_id = %(ws)s AND contact_id IN (SELECT id FROM settled)),
differing AS ((SELECT * FROM fresh EXCEPT SELECT * FROM stored)
              UNION (SELECT * FROM stored EXCEPT SELECT * FROM fresh))
SELECT (SELECT count(*) FROM (SELECT {key} FROM fresh UNION SELECT {key} FROM stored) k),
       (SELECT count(*) FROM (SELECT DISTINCT {key} FROM differing) d),
       ARRAY(SELECT DISTINCT contact_id FROM differing ORDER BY 1)
"""
_SETTLED = "IN (SELECT id FROM settled)"


def _settled_compare(
    workspace_id: int,
    contact_ids: Sequence[int],
    *,
    fresh: str,
    table: str,
    columns: str,
    key: str,
    pending: str = "SELECT NULL::bigint WHERE false",
) -> tuple[int, int, list[int]]:
    """(rows compared, rows differing, the contacts that differ)."""
    sql = _SETTLED_COMPARE.format(
        fresh=fresh, table=table, columns=columns, key=key, pending=pending
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, {"ws": workspace_id, "ids": sorted(contact_ids)})
        checked, differing, contacts = cursor.fetchone()
    return int(checked), int(differing), list(contacts)


def purchase_days_compare(
    *, workspace_id: int, contact_ids: Sequence[int]
) -> tuple[int, int, list[int]]:
    """Compare these contacts' purchase days with their events: (rows compared, rows
    differing, the contacts that differ)."""
    return _settled_compare(
        workspace_id,
        contact_ids,
        fresh=PURCHASE_DAYS.format(events=f"e.contact_id {_SETTLED}"),
        table="analytics_purchaseday",
        columns=PURCHASE_COLUMNS,
        key="contact_id, day",
    )


def answer_rows_compare(
    *, workspace_id: int, contact_ids: Sequence[int]
) -> tuple[int, int, list[int]]:
    """Compare these contacts' answer rows with their answers (answer_groups.py)."""
    return _settled_compare(
        workspace_id,
        contact_ids,
        fresh=CONTACT_ROWS.format(where=f"r.contact_id {_SETTLED}"),
        table="analytics_contactanswerday",
        columns=CONTACT_COLUMNS,
        key="contact_id, survey_id, day, score",
        pending=UNSETTLED,  # answers the engine is yet to be told of
    )


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
