"""Loyalty figures, from the loyalty rollups (analytics/rollups/loyalty.py; nothing
per member is read: the "now" figures are as of beat's last refresh, up to a minute):

- members: contacts with a balance row (every contact with a ledger entry), now;
  `new_members` per bucket and in the period; `members` per bucket is the count at the
  bucket's end (new members summed from the first day);
- active members: distinct contacts who earned or redeemed in the period (or bucket),
  exact for any run of days, from the gaps between each member's active days;
- points issued (earned), redeemed, expired, reversed (taken back by refunds) as
  positive numbers, adjusted as a signed net; redemptions: redeem entries;
- redemption rate: points redeemed / points issued in the same period, a fraction
  rounded half up to 4 decimals (0.4250 is 42.5%; none when nothing was issued). A
  flow ratio, not the share of a cohort's points ever spent: points issued before the
  period and redeemed in it count;
- outstanding points: the sum of every balance now (as of the rollups' last refresh, up
  to a minute, like every loyalty figure); liability: outstanding points times
  the programme's value per point, in the workspace's currency, a Decimal rounded half
  up to the cent once, at the end;
- tiers: members per tier now (contacts with a tier row; "" is below every tier), and
  tier moves in the period per (from, to) and per bucket, with up/down by the current
  thresholds of the names.

The rollups know no contact's segment or source, so the report takes no such filter."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from analytics.figures.common import Filters, Period, bucket_start, buckets, fetch
from analytics.figures.referrals import referral_figures
from analytics.report_query import Query
from config.errors import InvalidInput
from workspaces.models import Workspace

CENT = Decimal("0.01")
_FLOWS = ("issued", "redeemed", "expired", "reversed", "adjusted", "redemptions", "new_members")

_SERIES_SQL = """
SELECT date_trunc(%s, day::timestamp)::date AS bucket,
       sum(issued), sum(redeemed), sum(expired), sum(reversed), sum(adjusted),
       sum(redemptions), sum(new_members)
FROM analytics_loyaltyday
WHERE workspace_id = %s AND day >= %s AND day <= %s
GROUP BY 1 ORDER BY 1
"""
# Distinct active members of each bucket and of the period, exact, from the gaps
# between members' active days (analytics_loyaltyactivegap): a member active in [a, b] is
# counted on its first active day there, the one whose previous active day is before a.
_ACTIVE_SQL = """
SELECT bucket,
       sum(members) FILTER (WHERE previous IS NULL OR previous < greatest(bucket, %(start)s)),
       sum(members) FILTER (WHERE previous IS NULL OR previous < %(start)s)
FROM (SELECT date_trunc(%(grain)s, day::timestamp)::date AS bucket, previous, members
      FROM analytics_loyaltyactivegap
      WHERE workspace_id = %(ws)s AND day >= %(start)s AND day <= %(end)s) a
GROUP BY bucket
"""
_MEMBERS_BEFORE_SQL = """
SELECT coalesce(sum(new_members), 0) FROM analytics_loyaltyday
WHERE workspace_id = %s AND day < %s
"""
# One statement (the overview's card adds one query): the programme's switch and rate,
# and the members and outstanding points as of the loyalty rollups' last refresh (up to
# a minute: analytics_loyaltyoutstanding, recomputed from the balance rows).
_NOW_SQL = """
SELECT (SELECT enabled FROM loyalty_programme WHERE workspace_id = %(ws)s),
       (SELECT value_per_point FROM loyalty_programme WHERE workspace_id = %(ws)s),
       coalesce((SELECT members FROM analytics_loyaltyoutstanding
                 WHERE workspace_id = %(ws)s), 0),
       coalesce((SELECT outstanding FROM analytics_loyaltyoutstanding
                 WHERE workspace_id = %(ws)s), 0)
"""
# Members per tier now, as of the loyalty rollups' last refresh (up to a minute).
_TIERS_SQL = """
SELECT name, threshold, members FROM analytics_loyaltytiermembers
WHERE workspace_id = %s ORDER BY threshold, name
"""
_MOVES_SQL = """
SELECT grouping(bucket) = 0, bucket, from_name, to_name, sum(moves)
FROM (SELECT date_trunc(%s, day::timestamp)::date AS bucket, from_name, to_name, moves
      FROM analytics_loyaltytiermoveday
      WHERE workspace_id = %s AND day >= %s AND day <= %s) m
GROUP BY GROUPING SETS ((from_name, to_name), (bucket, from_name, to_name))
ORDER BY 1, 2, 3, 4
"""


def reject_filters(filters: Filters) -> None:
    """400 naming the filter: the loyalty figures are not kept per contact group."""
    for field, value in (
        ("segment", filters.segment),
        ("source", filters.source),
        ("signup_month", filters.signup_month),
    ):
        if value is not None:
            raise InvalidInput(
                "The loyalty report is not filtered by contacts.",
                fields={field: ["the loyalty report takes no contact filter"]},
            )


def rate(part: int, whole: int) -> float | None:
    if not whole:
        return None
    return float((Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001"), ROUND_HALF_UP))


def liability(*, workspace: Workspace) -> dict[str, Any]:
    """Members and outstanding points now, and what the points are worth."""
    enabled, per_point, members, outstanding = fetch(_NOW_SQL, {"ws": workspace.pk})[0]
    per_point = Decimal("0.0100") if per_point is None else per_point
    value = (Decimal(int(outstanding)) * Decimal(per_point)).quantize(CENT, ROUND_HALF_UP)
    return {
        "enabled": bool(enabled),
        "members": int(members),
        "outstanding_points": int(outstanding),
        "value_per_point": str(per_point),
        "liability": str(value),
        "currency": workspace.currency,
    }


def _tier_kind(names: dict[str, int], src: str, dst: str) -> str:
    low, high = names.get(src, -1), names.get(dst, -1)
    return "up" if high > low else "down" if high < low else "same"


def loyalty_for_query(q: Query) -> dict[str, Any]:
    """The report for a parsed query: a contact filter is a 400, then the figures."""
    reject_filters(q.filters)
    return loyalty_report(workspace=q.workspace, period=q.period, granularity=q.granularity)


def loyalty_report(*, workspace: Workspace, period: Period, granularity: str) -> dict[str, Any]:
    ws, grain = workspace.pk, granularity
    window = [grain, ws, period.start, period.end]
    by_bucket: dict[Any, dict[str, Any]] = {
        day: {"bucket": day.isoformat(), **dict.fromkeys(_FLOWS, 0), "active_members": 0}
        for day in buckets(period, grain)
    }
    for bucket, *values in fetch(_SERIES_SQL, window):
        by_bucket[bucket].update(zip(_FLOWS, (int(v) for v in values), strict=True))
    active = 0
    bounds = {"grain": grain, "ws": ws, "start": period.start, "end": period.end}
    for bucket, in_bucket, in_period in fetch(_ACTIVE_SQL, bounds):
        by_bucket[bucket]["active_members"] = int(in_bucket or 0)
        active += int(in_period or 0)
    members = int(fetch(_MEMBERS_BEFORE_SQL, [ws, period.start])[0][0])
    for row in by_bucket.values():
        members += row["new_members"]
        row["members"] = members
        row["redemption_rate"] = rate(row["redeemed"], row["issued"])
    totals = {key: sum(row[key] for row in by_bucket.values()) for key in _FLOWS}
    tiers = [
        {"tier": name, "threshold": None if t < 0 else t, "members": int(n)}
        for name, t, n in fetch(_TIERS_SQL, [ws])
    ]
    thresholds = {row["tier"]: row["threshold"] or 0 for row in tiers if row["tier"]}
    moves: list[dict[str, Any]] = []
    moves_by_bucket: list[dict[str, Any]] = []
    for per_bucket, bucket, src, dst, n in fetch(_MOVES_SQL, window):
        row = {"from": src, "to": dst, "moves": int(n), "kind": _tier_kind(thresholds, src, dst)}
        if per_bucket:
            moves_by_bucket.append({"bucket": bucket_start(bucket, grain).isoformat(), **row})
        else:
            moves.append(row)
    return {
        "totals": {
            **totals,
            "active_members": active,
            "redemption_rate": rate(totals["redeemed"], totals["issued"]),
        },
        "now": liability(workspace=workspace),
        "series": list(by_bucket.values()),
        "tiers": tiers,
        "tier_moves": moves,
        "tier_moves_by_bucket": moves_by_bucket,
        "referrals": referral_figures(workspace=workspace, period=period),
    }


TABLE_COLUMNS = {
    "series": [
        *("bucket", "members", "new_members", "active_members", "issued", "redeemed"),
        *("expired", "reversed", "adjusted", "redemptions", "redemption_rate"),
    ],
    "tiers": ["tier", "threshold", "members"],
    "tier_moves": ["from", "to", "kind", "moves"],
}


def loyalty_tables(data: dict[str, Any]) -> list[tuple[str, str, list[dict[str, Any]], list[str]]]:
    now = data["now"]
    figures = [
        {"figure": key, "value": value}
        for key, value in {**data["totals"], **now}.items()
        if key != "enabled"  # a switch, not a figure
    ]
    return [
        ("figures", "Loyalty figures (period, and now)", figures, ["figure", "value"]),
        ("series", "Points and members per bucket", data["series"], TABLE_COLUMNS["series"]),
        ("tiers", "Members per tier now", data["tiers"], TABLE_COLUMNS["tiers"]),
        ("tier_moves", "Tier moves in the period", data["tier_moves"], TABLE_COLUMNS["tier_moves"]),
        (
            "referrals",
            "Referral figures (period; revenue and CLV now)",
            [{"figure": key, "value": value} for key, value in data["referrals"].items()],
            ["figure", "value"],
        ),
    ]
