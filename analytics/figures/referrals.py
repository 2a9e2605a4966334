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
as they are; customers and revenue come from `analytics_customerfacts`."""

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
_CUSTOMERS_SQL = """
SELECT count(*) FROM analytics_customerfacts
WHERE workspace_id = %(ws)s AND first_purchase_at < %(end)s
"""
# Every customer now, and the referred ones among them (a friend counts once, however
# many referral rows name it; rejected referrals do not make a referred customer).
_VALUE_SQL = """
WITH referred AS (
    SELECT DISTINCT referred_id AS contact_id FROM loyalty_referral
    WHERE workspace_id = %(ws)s AND status <> %(rejected)s
)
SELECT (f.contact_id IN (SELECT contact_id FROM referred)) AS is_referred,
       count(*), coalesce(sum(f.revenue), 0), avg(f.predicted_clv)
FROM analytics_customerfacts f
WHERE f.workspace_id = %(ws)s AND f.first_purchase_at IS NOT NULL
GROUP BY 1
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
    customers = int(fetch(_CUSTOMERS_SQL, params)[0][0])
    value = {bool(row[0]): row[1:] for row in fetch(_VALUE_SQL, params)}
    ref_n, ref_revenue, ref_clv = value.get(True, (0, 0, None))
    other_n, other_revenue, other_clv = value.get(False, (0, 0, None))
    return {
        "invites": int(invites),
        "flagged": int(flagged),
        "referrers": int(referrers),
        "conversions": int(conversions),
        "customers": customers,
        "referral_rate": _ratio(int(referrers), customers),
        "viral_coefficient": _ratio(int(conversions), int(referrers)),
        "referred_customers": int(ref_n),
        "referred_revenue": _money(ref_revenue),
        "referred_avg_revenue": _money(Decimal(ref_revenue) / ref_n) if ref_n else None,
        "other_avg_revenue": _money(Decimal(other_revenue) / other_n) if other_n else None,
        "referred_avg_clv": _money(ref_clv),
        "other_avg_clv": _money(other_clv),
    }
