"""Loyalty rollups: the ledger per local day (LoyaltyDay), members active on a day by
their previous active day (LoyaltyActiveGap) and tier moves per day
(LoyaltyTierMoveDay); and, recomputed whole each time, the "now" tables: members per
tier (LoyaltyTierMembers), members and outstanding points (LoyaltyOutstanding) and the
referral figures' customers (ReferralCustomerDay, rollups/referrals.py). The ledger
(loyalty_ledgerentry), the moves (loyalty_tierchange), the tier and balance rows and
the customer facts stay the definition.

Kept by recomputation, not addition: beat recomputes the last two local days of every
workspace with a programme every minute (`loyalty_rollups_recent`), and the nightly
rebuild every day. Loyalty offers no hook for its entries, and a day recomputed from the
ledger is exact however often it runs. An entry is filed under the local day of its
`occurred_at` (the event's time), so a late event older than yesterday, or an erased
contact's entries, show in the report after the next rebuild (nightly or on demand).

A member is a contact with a ledger entry (so with a balance row); it is new on the day
of its first entry. Active: it earned or redeemed that day (expiry, reversal and
adjustment are things done to it, not by it)."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from django.db import connection, transaction

from analytics.cache import data_changed
from analytics.rollups.referrals import referral_customer_days_refresh

_LOCK = 7207  # advisory-lock namespace: one workspace's loyalty rollups

_DAYS_SQL = """
WITH e AS (
    SELECT contact_id, kind, points, (occurred_at AT TIME ZONE %(tz)s)::date AS day
    FROM loyalty_ledgerentry
    WHERE workspace_id = %(ws)s AND occurred_at >= %(low)s
), firsts AS (
    SELECT e.day, count(DISTINCT e.contact_id) AS n
    FROM e
    WHERE NOT EXISTS (
        SELECT 1 FROM loyalty_ledgerentry p
        WHERE p.workspace_id = %(ws)s AND p.contact_id = e.contact_id
          AND p.occurred_at < (e.day::timestamp AT TIME ZONE %(tz)s))
    GROUP BY e.day
), sums AS (
    SELECT day,
           coalesce(sum(points) FILTER (WHERE kind = 'earn'), 0) AS issued,
           coalesce(-sum(points) FILTER (WHERE kind = 'redeem'), 0) AS redeemed,
           coalesce(-sum(points) FILTER (WHERE kind = 'expire'), 0) AS expired,
           coalesce(-sum(points) FILTER (WHERE kind = 'reverse'), 0) AS reversed,
           coalesce(sum(points) FILTER (WHERE kind = 'adjust'), 0) AS adjusted,
           count(*) FILTER (WHERE kind = 'redeem') AS redemptions,
           count(DISTINCT contact_id) FILTER (WHERE kind IN ('earn', 'redeem')) AS active
    FROM e GROUP BY day
)
INSERT INTO analytics_loyaltyday (workspace_id, day, issued, redeemed, expired, reversed,
                                  adjusted, redemptions, new_members, active)
SELECT %(ws)s, s.day, s.issued, s.redeemed, s.expired, s.reversed, s.adjusted,
       s.redemptions, coalesce(f.n, 0), s.active
FROM sums s LEFT JOIN firsts f ON f.day = s.day
ORDER BY s.day
"""

# The rebuild: every contact's first day from one pass, not a probe per entry.
_DAYS_ALL_SQL = _DAYS_SQL.replace(
    """    SELECT e.day, count(DISTINCT e.contact_id) AS n
    FROM e
    WHERE NOT EXISTS (
        SELECT 1 FROM loyalty_ledgerentry p
        WHERE p.workspace_id = %(ws)s AND p.contact_id = e.contact_id
          AND p.occurred_at < (e.day::timestamp AT TIME ZONE %(tz)s))
    GROUP BY e.day""",
    """    SELECT day, count(*) AS n
    FROM (SELECT contact_id, min(day) AS day FROM e GROUP BY contact_id) c
    GROUP BY day""",
)

# Each member's active local days (it earned or redeemed), each with the one before it
# (none for its first), counted per (day, previous). The recent days' refresh finds the
# day before its window in the ledger, from the contact-keyed ledger index alone (it
# includes occurred_at and kind: loyalty's ledger_contact_entries).
_ACTIVE_DAYS = """
SELECT DISTINCT contact_id, (occurred_at AT TIME ZONE %(tz)s)::date AS day
FROM loyalty_ledgerentry
WHERE workspace_id = %(ws)s AND occurred_at >= %(low)s AND kind IN ('earn', 'redeem')
"""
_GAPS_SQL = f"""
WITH d AS ({_ACTIVE_DAYS}), g AS (
    SELECT contact_id, day, lag(day) OVER (PARTITION BY contact_id ORDER BY day) AS previous
    FROM d
)
INSERT INTO analytics_loyaltyactivegap (workspace_id, day, previous, members)
SELECT %(ws)s, day, coalesce(previous, (
           SELECT (max(p.occurred_at) AT TIME ZONE %(tz)s)::date
           FROM loyalty_ledgerentry p
           WHERE p.workspace_id = %(ws)s AND p.contact_id = g.contact_id
             AND p.kind IN ('earn', 'redeem') AND p.occurred_at < %(low)s)),
       count(*)
FROM g GROUP BY 2, 3 ORDER BY 2, 3
"""
# The rebuild reads every day: nothing before it.
_GAPS_ALL_SQL = f"""
WITH d AS ({_ACTIVE_DAYS})
INSERT INTO analytics_loyaltyactivegap (workspace_id, day, previous, members)
SELECT %(ws)s, day, previous, count(*)
FROM (SELECT day, lag(day) OVER (PARTITION BY contact_id ORDER BY day) AS previous
      FROM d) g
GROUP BY 2, 3 ORDER BY 2, 3
"""

# Members per tier now, whole (a tier row changes at any time, not on a day).
_TIER_MEMBERS_SQL = """
INSERT INTO analytics_loyaltytiermembers (workspace_id, name, threshold, members)
SELECT %(ws)s, coalesce(t.name, ''), coalesce(t.threshold, -1), count(*)
FROM loyalty_contacttier c LEFT JOIN loyalty_tier t ON t.id = c.tier_id
WHERE c.workspace_id = %(ws)s
GROUP BY 2, 3 ORDER BY 2, 3
"""

# Members and outstanding points now, whole, from the balance rows.
_OUTSTANDING_SQL = """
INSERT INTO analytics_loyaltyoutstanding (workspace_id, members, outstanding)
SELECT %(ws)s, count(*), coalesce(sum(balance), 0)
FROM loyalty_pointsbalance WHERE workspace_id = %(ws)s
"""

_MOVES_SQL = """
INSERT INTO analytics_loyaltytiermoveday (workspace_id, day, from_name, to_name, moves)
SELECT %(ws)s, (at AT TIME ZONE %(tz)s)::date, from_name, to_name, count(*)
FROM loyalty_tierchange
WHERE workspace_id = %(ws)s AND at >= %(low)s
GROUP BY 2, 3, 4
ORDER BY 2, 3, 4
"""


def _time_zone(workspace_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT time_zone FROM workspaces_workspace WHERE id = %s", [workspace_id])
        return str(cursor.fetchone()[0])


def loyalty_rollups_refresh(*, workspace_id: int, since: dt.date | None = None) -> None:
    """Recompute the local days from `since` (every day when None), in one transaction
    holding the workspace's loyalty lock (two refreshes never interleave)."""
    tz_name = _time_zone(workspace_id)
    start = dt.date(1970, 1, 1) if since is None else since
    params: dict[str, Any] = {
        "ws": workspace_id,
        "tz": tz_name,
        "low": dt.datetime.combine(start, dt.time(), tzinfo=zoneinfo.ZoneInfo(tz_name)),
    }
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_LOCK, workspace_id])
        for table in ("loyaltyday", "loyaltyactivegap", "loyaltytiermoveday"):
            cursor.execute(
                f"DELETE FROM analytics_{table} WHERE workspace_id = %s AND day >= %s",
                [workspace_id, start],
            )
        cursor.execute(_DAYS_ALL_SQL if since is None else _DAYS_SQL, params)
        cursor.execute(_GAPS_ALL_SQL if since is None else _GAPS_SQL, params)
        cursor.execute(_MOVES_SQL, params)
        cursor.execute(
            "DELETE FROM analytics_loyaltytiermembers WHERE workspace_id = %s", [workspace_id]
        )
        cursor.execute(_TIER_MEMBERS_SQL, params)
        cursor.execute(
            "DELETE FROM analytics_loyaltyoutstanding WHERE workspace_id = %s", [workspace_id]
        )
        cursor.execute(_OUTSTANDING_SQL, params)
        referral_customer_days_refresh(cursor, workspace_id=workspace_id, tz_name=tz_name)
        data_changed(workspace_ids={workspace_id})


def loyalty_rollups_recent(*, workspace_id: int) -> None:
    """Beat: the workspace's yesterday and today (local)."""
    today = dt.datetime.now(zoneinfo.ZoneInfo(_time_zone(workspace_id))).date()
    loyalty_rollups_refresh(workspace_id=workspace_id, since=today - dt.timedelta(days=1))


def loyalty_rollups_rebuild(*, workspace_id: int) -> None:
    loyalty_rollups_refresh(workspace_id=workspace_id, since=None)


def workspaces_with_programme() -> list[int]:
    """Workspaces with a points or referral programme running, or with a ledger to
    report (one switched off keeps its history)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT workspace_id FROM loyalty_programme WHERE enabled "
            "UNION SELECT workspace_id FROM loyalty_referralsettings WHERE enabled "
            "UNION SELECT DISTINCT workspace_id FROM analytics_loyaltyday ORDER BY 1"
        )
        return [row[0] for row in cursor.fetchall()]
