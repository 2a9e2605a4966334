"""The referral figures' customers (analytics_referralcustomerday): customers by the
local day of their first purchase, all and referred, with their revenue to date and
predicted CLV. Recomputed whole from analytics_customerfacts and loyalty_referral (which
stay the definition) with the loyalty rollups — every minute by beat and in the rebuild
— since revenue and predictions are "now" and change for any customer: one pass over
the workspace's customer facts, so the report reads a row per day instead."""

from __future__ import annotations

from typing import Any

from loyalty.models import ReferralStatus

_CUSTOMER_DAYS_SQL = """
WITH referred AS (
    SELECT DISTINCT referred_id FROM loyalty_referral
    WHERE workspace_id = %(ws)s AND status <> %(rejected)s
)
INSERT INTO analytics_referralcustomerday (workspace_id, day, customers, referred, revenue,
    referred_revenue, predicted, predicted_clv, referred_predicted, referred_predicted_clv)
SELECT %(ws)s, (f.first_purchase_at AT TIME ZONE %(tz)s)::date,
       count(*), count(r.referred_id), sum(f.revenue),
       coalesce(sum(f.revenue) FILTER (WHERE r.referred_id IS NOT NULL), 0),
       count(f.predicted_clv), coalesce(sum(f.predicted_clv), 0),
       count(f.predicted_clv) FILTER (WHERE r.referred_id IS NOT NULL),
       coalesce(sum(f.predicted_clv) FILTER (WHERE r.referred_id IS NOT NULL), 0)
FROM analytics_customerfacts f
LEFT JOIN referred r ON r.referred_id = f.contact_id
WHERE f.workspace_id = %(ws)s AND f.first_purchase_at IS NOT NULL
GROUP BY 2 ORDER BY 2
"""


def referral_customer_days_refresh(cursor: Any, *, workspace_id: int, tz_name: str) -> None:
    """Every day of the workspace again, in the caller's transaction (which holds the
    workspace's loyalty lock)."""
    cursor.execute(
        "DELETE FROM analytics_referralcustomerday WHERE workspace_id = %s", [workspace_id]
    )
    params = {"ws": workspace_id, "tz": tz_name, "rejected": ReferralStatus.REJECTED.value}
    cursor.execute(_CUSTOMER_DAYS_SQL, params)
