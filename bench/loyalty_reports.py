"""The loyalty report's timings for bench/loyalty.py: the whole report and the referral
figures over the periods the page offers, and the worst case of the active-member
rollup for a year of history."""

from __future__ import annotations

import datetime as dt
import statistics
import time
from typing import Any


def log(message: str) -> None:
    print(f"[bench-loyalty] {message}", flush=True)


def median_ms(function: Any, runs: int = 5) -> float:
    """Median of `runs` calls after one to warm up, in milliseconds."""
    timings = []
    for _ in range(runs + 1):
        started = time.perf_counter()
        function()
        timings.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(timings[1:]), 1)


def gap_rows(workspace_id: int) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM analytics_loyaltyactivegap WHERE workspace_id = %s",
            [workspace_id],
        )
        return int(cursor.fetchone()[0])


def reports(workspace: Any, today: dt.date) -> dict[str, Any]:
    """The whole report and the referral figures over the periods the page offers."""
    from analytics.figures.common import Period
    from analytics.figures.loyalty import liability, loyalty_report
    from analytics.figures.referrals import referral_figures

    mid = today - dt.timedelta(days=today.day + 9)  # mid-month, ~200 days
    periods = {
        "365d_month": (Period(today - dt.timedelta(days=364), today), "month"),
        "90d_week": (Period(today - dt.timedelta(days=89), today), "week"),
        "30d_day": (Period(today - dt.timedelta(days=29), today), "day"),
        "200d_midmonth_week": (Period(mid - dt.timedelta(days=199), mid), "week"),
    }
    whole: dict[str, float] = {}
    referrals: dict[str, float] = {}
    for name, (period, grain) in periods.items():
        whole[name] = median_ms(
            lambda p=period, g=grain: loyalty_report(workspace=workspace, period=p, granularity=g)
        )
        referrals[name] = median_ms(
            lambda p=period: referral_figures(workspace=workspace, period=p)
        )
        log(f"{name}: report {whole[name]} ms, referrals {referrals[name]} ms")
    return {
        "liability_ms": median_ms(lambda: liability(workspace=workspace)),
        "report_ms": whole["365d_month"],
        "loyalty_report_ms": max(whole.values()),
        "loyalty_report_by_period_ms": whole,
        "referral_report_ms": max(referrals.values()),
        "referral_report_by_period_ms": referrals,
    }


_FULL_GAPS_SQL = """
INSERT INTO analytics_loyaltyactivegap (workspace_id, day, previous, members)
SELECT %(ws)s, d::date, p::date,
       1 + (extract(doy FROM d)::int * 7 + coalesce(extract(doy FROM p)::int, 0)) %% 50
FROM generate_series(%(low)s::date, %(high)s::date, '1 day') AS d
CROSS JOIN LATERAL (SELECT NULL::date AS p UNION ALL
    SELECT generate_series(%(low)s::date, d - interval '1 day', '1 day')) q
"""


def worst_gaps(today: dt.date) -> dict[str, Any]:
    """The bench's ledger spaces each member's entries evenly, so its members' gaps take
    few (day, previous) pairs. The worst a year of history can give is every pair: a
    second workspace gets all of them (~67,000 rows) and its report is timed."""
    from django.db import connection

    from analytics.figures.common import Period
    from analytics.figures.loyalty import loyalty_report
    from workspaces.models import Workspace
    from workspaces.services import workspace_provision

    gaps = Workspace.objects.filter(slug="bench-gaps").first()
    if gaps is None:  # not kept from an earlier run (REUSE=1)
        gaps, _ = workspace_provision(slug="bench-gaps", name="Bench gaps")
    low = today - dt.timedelta(days=364)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM analytics_loyaltyactivegap WHERE workspace_id = %s", [gaps.pk])
        cursor.execute(_FULL_GAPS_SQL, {"ws": gaps.pk, "low": low, "high": today})
        cursor.execute("ANALYZE analytics_loyaltyactivegap")
        cursor.execute(
            "SELECT count(*) FROM analytics_loyaltyactivegap WHERE workspace_id = %s", [gaps.pk]
        )
        rows = cursor.fetchone()[0]
    timings = {
        grain: median_ms(
            lambda g=grain: loyalty_report(workspace=gaps, period=Period(low, today), granularity=g)
        )
        for grain in ("month", "week", "day")
    }
    return {"rows": rows, "report_365d_ms": timings}
