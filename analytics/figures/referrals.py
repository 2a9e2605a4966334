"""Referral figures for the loyalty report (docs/analytics.md#referrals).

For the period (workspace-local days, as every figure):
- `invites`: friends who signed up with a referral code, rejected ones aside;
  `flagged`: those of them waiting for review;
- `referrers`: distinct contacts whose code brought those friends;
- `conversions`: referrals that converted in the period, rejected and reversed aside;
- `referral_rate`: referrers ÷ customers (contacts who had bought by the period's end);
- `viral_coefficient`: conversions ÷ referrers — new customers from referrals per
  contact who referred in the period.
Now (not by period), from the per-contact facts: `referred_customers` and their
`referred_revenue`, average revenue and predicted CLV of a referred customer against
every other customer.

The referral rows are few next to contacts (one per referred friend), so they are read
as they are; customers, their revenue and CLV come from analytics_referralcustomerday
(customers by day of first purchase, recomputed from analytics_customerfacts with the
loyalty rollups: up to a minute behind, like them)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from analytics.figures.common import Period, fetch
from loyalty.models import ReferralStatus
from workspaces.models import Workspace

CENT = Decimal("0.01")

_PERIOD_SQL = """
SELECT count(*) FILTER (WHERE created_at >= %(start)s AND created_at < %(end)s
                        AND status <> %(rejected)s),
       count(*) FILTER (WHERE created_at >= %(start)s AND created_at < %(end)s
                        AND status = %(flagged)s),
       count(DISTINCT referrer_id) FILTER (WHERE created_at >= %(start)s
                        AND created_at < %(end)s AND status <> %(rejected)s),
       count(*) FILTER (WHERE converted_at >= %(start)s AND converted_at < %(end)s
                        AND status NOT IN (%(rejected)s, %(reversed)s))
FROM loyalty_referral
WHERE workspace_id = %(ws)s
"""
# Customers by the period's end, and now: all of them and the referred (a friend counts
# once; rejected referrals do not make a referred customer), from the rollup by day of
# first purchase (analytics/rollups/referrals.py); the others are the difference.
_CUSTOMERS_SQL = """
SELECT coalesce(sum(customers) FILTER (WHERE day <= %(last_day)s), 0),
       coalesce(sum(customers), 0), coalesce(sum(revenue), 0),
       coalesce(sum(predicted), 0), coalesce(sum(predicted_clv), 0),
       coalesce(sum(referred), 0), coalesce(sum(referred_revenue), 0),
       coalesce(sum(referred_predicted), 0), coalesce(sum(referred_predicted_clv), 0)
FROM analytics_referralcustomerday
WHERE workspace_id = %(ws)s
"""


def _ratio(part: int, whole: int) -> float | None:
    if not whole:
        return None
    return float((Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001"), ROUND_HALF_UP))


def _money(value: Any) -> str | None:
    return None if value is None else str(Decimal(value).quantize(CENT, ROUND_HALF_UP))


def referral_figures(*, workspace: Workspace, period: Period) -> dict[str, Any]:
    start, end = period.bounds(workspace.time_zone)
    params = {
        "ws": workspace.pk,
        "start": start,
        "end": end,
        "rejected": ReferralStatus.REJECTED.value,
        "reversed": ReferralStatus.REVERSED.value,
        "flagged": ReferralStatus.FLAGGED.value,
    }
    invites, flagged, referrers, conversions = fetch(_PERIOD_SQL, params)[0]
    params["last_day"] = period.end
    customers, all_n, all_revenue, all_clv_n, all_clv, *referred = (
        Decimal(v) for v in fetch(_CUSTOMERS_SQL, params)[0]
    )
    ref_n, ref_revenue, ref_clv_n, ref_clv = referred
    other_n, other_revenue = all_n - ref_n, all_revenue - ref_revenue
    other_clv_n, other_clv = all_clv_n - ref_clv_n, all_clv - ref_clv
    return {
        "invites": int(invites),
        "flagged": int(flagged),
        "referrers": int(referrers),
        "conversions": int(conversions),
        "customers": int(customers),
        "referral_rate": _ratio(int(referrers), int(customers)),
        "viral_coefficient": _ratio(int(conversions), int(referrers)),
        "referred_customers": int(ref_n),
        "referred_revenue": _money(ref_revenue),
        "referred_avg_revenue": _money(ref_revenue / ref_n) if ref_n else None,
        "other_avg_revenue": _money(other_revenue / other_n) if other_n else None,
        "referred_avg_clv": _money(ref_clv / ref_clv_n) if ref_clv_n else None,
        "other_avg_clv": _money(other_clv / other_clv_n) if other_clv_n else None,
    }
