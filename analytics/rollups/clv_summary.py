"""The CLV report's sums (ClvSummary): every contact's facts — revenue to date,
predicted CLV, probability alive, orders — summed per signup month, source, the stage
the contact is in now, and predicted-CLV bucket.

They are recomputed whole, not kept per change: they depend on the facts (the engine's
refresh) and on each contact's current stage (the engine's evaluation and manual
moves), two writers that never hold each other's rows. A recomputation reads both in
one snapshot: ~1M facts rows in one grouped pass. It runs with every rollup rebuild,
after a CLV fit writes its predictions, and from beat every minute for a workspace
whose data changed since (`analytics.clv_summaries_refresh`), so the report is at
most about a minute behind the facts. The report says when the sums were taken
(`data_as_of`), and a cached report counts as computed then (report_cache.py)."""

from __future__ import annotations

from django.db import connection, transaction

from analytics.cache import data_changed_at

CLV_BUCKETS = [0, 25, 50, 100, 250, 500, 1000]
_LOCK_SPACE = 7203  # advisory-lock namespace: one recomputation per workspace at a time


def _bucket_sql() -> str:
    """The histogram bucket (index into CLV_BUCKETS) of a facts row `f` with a
    prediction; none without one or below the first bound."""
    whens = " ".join(
        f"WHEN f.predicted_clv >= {low} THEN {i}"
        for i, low in reversed(list(enumerate(CLV_BUCKETS)))
    )
    return f"CASE WHEN f.probability_alive IS NULL THEN NULL {whens} END"


_SUMS = f"""
SELECT f.workspace_id, f.signup_month, f.source, cs.stage_id, {_bucket_sql()} AS bucket,
       count(*) FILTER (WHERE f.purchases > 0),
       coalesce(sum(f.revenue) FILTER (WHERE f.purchases > 0), 0),
       count(f.probability_alive),
       coalesce(sum(f.predicted_clv) FILTER (WHERE f.probability_alive IS NOT NULL), 0),
       count(*) FILTER (WHERE f.probability_alive < 0.5),
       coalesce(sum(f.probability_alive::numeric), 0),
       count(*) FILTER (WHERE f.probability_alive IS NOT NULL AND f.orders = 1)
FROM analytics_customerfacts f
LEFT JOIN lifecycle_contactstage cs ON cs.contact_id = f.contact_id
WHERE f.workspace_id = %(ws)s
GROUP BY 1, 2, 3, 4, 5
HAVING count(*) FILTER (WHERE f.purchases > 0 OR f.probability_alive IS NOT NULL) > 0
"""
_COLUMNS = (
    "workspace_id, signup_month, source, stage_id, bucket, customers, revenue, predicted, "
    "predicted_clv, probably_gone, probability_alive_sum, bought_once"
)


def clv_summary_refresh(*, workspace_id: int) -> None:
    """Recompute a workspace's CLV sums from its facts and current stages (in a short
    transaction of its own when called outside one)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_LOCK_SPACE, workspace_id])
        cursor.execute(
            "DELETE FROM analytics_clvsummary WHERE workspace_id = %(ws)s", {"ws": workspace_id}
        )
        # a moment before the sums' statement takes its snapshot: they see everything
        # committed before it
        cursor.execute("SELECT clock_timestamp()")
        taken = cursor.fetchone()[0]
        cursor.execute(
            f"INSERT INTO analytics_clvsummary ({_COLUMNS}) {_SUMS}", {"ws": workspace_id}
        )
        cursor.execute(
            "INSERT INTO analytics_clvsummarystate (workspace_id, refreshed_at) VALUES (%s, %s) "
            "ON CONFLICT (workspace_id) DO UPDATE SET refreshed_at = EXCLUDED.refreshed_at",
            [workspace_id, taken],
        )


def clv_summaries_due() -> list[int]:
    """Workspaces whose sums exist and whose data changed since they were taken."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT workspace_id, refreshed_at FROM analytics_clvsummarystate")
        rows = cursor.fetchall()
    return [ws for ws, at in rows if data_changed_at(workspace_id=ws) > at]
