"""make bench-analytics: the analytics figures at scale.

Builds (COPY) a workspace of CONTACTS contacts (default 1,000,000) who signed up over
the past year, with ~10 events each (page views, trials, carts, purchases with revenue,
referrals), an acquisition source, a year of stage history as the default stages'
rules would have written it, and monthly spend per source. The data set is kept in
its own database (`stagecraft_bench_analytics`) and reused by the next run when
REUSE=1 and it has the same size.

It adds ANSWERS (default 1,000,000) answers to an NPS and a CSAT survey
(bench/survey_data.py). Then it times:
  rollup_rebuild_s   every rollup of the workspace recomputed from scratch (empty
                     rollups: what a new data set or a first rebuild costs)
  rollup_rebuild_again_s  the same rebuild again over the rows it wrote (what the
                     nightly task does: only rows that differ are written)
  per API endpoint   the first request (cold: the figures are computed, the cache of
                     figures having been cleared) and REQUESTS more (warm: served from
                     the figures cache, as a dashboard is between recomputations),
                     by gunicorn as in production; p50 and p95 in milliseconds
  per dashboard page the same, with a signed-in session
funnel_ms and cohorts_ms are the cold (computed) times of those two API calls;
survey_report_computed_ms is the cold time of a survey's results over a year (always
computed), survey_nps_served_ms the p95 of its results over 90 days;
max_api_p95_ms the slowest warm p95 over all API endpoints, max_page_p95_ms over all
pages; max_api_cold_ms and max_page_cold_ms the slowest computation. Every API call
is also timed filtered by source (`<name>_by_source`), as the dashboard's filter bar
offers it.

Prints one JSON object as its last line."""

from __future__ import annotations

import datetime as dt
import os
import statistics
import time
import urllib.request
from http.cookiejar import CookieJar
from typing import Any

from bench.analytics_data import CONTACTS, build, log
from bench.common import (
    WebServer,
    base_database_url,
    django_setup,
    fresh_database,
    machine,
    migrate,
    report,
    with_database,
)
from bench.survey_data import ANSWERS, build_answers, survey_urls

REQUESTS = int(os.environ.get("REQUESTS", "20"))
REUSE = os.environ.get("REUSE", "") == "1"
WEB_WORKERS = int(os.environ.get("WEB_WORKERS", "2"))
# Several checkouts benchmarking at once on one server each name their own database.
DATABASE = os.environ.get("BENCH_ANALYTICS_DATABASE", "stagecraft_bench_analytics")
PASSWORD = "bench-analytics-password"  # a throwaway bench user
EMAIL = "bench-analyst@example.com"


def database_exists(url: str) -> bool:
    import psycopg

    try:
        psycopg.connect(url.replace("postgres://", "postgresql://", 1)).close()
    except psycopg.OperationalError:
        return False
    return True


def existing(workspace_slug: str) -> dict[str, int] | None:
    """The counts of a data set already built by an earlier run, if it is this size."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('bench_built') IS NOT NULL")
        if not cursor.fetchone()[0]:
            return None  # an earlier build did not finish
        cursor.execute(
            "SELECT w.id, (SELECT count(*) FROM contacts_contact c WHERE c.workspace_id = w.id),"
            " (SELECT count(*) FROM contacts_event e WHERE e.workspace_id = w.id),"
            " (SELECT count(*) FROM lifecycle_stagetransition t WHERE t.workspace_id = w.id)"
            " FROM workspaces_workspace w WHERE w.slug = %s",
            [workspace_slug],
        )
        row = cursor.fetchone()
    if not row or row[1] != CONTACTS:
        return None
    return {"events": row[2], "transitions": row[3]}


# -- timing ------------------------------------------------------------------------------


def timed_requests(opener: Any, url: str, headers: dict[str, str]) -> dict[str, float]:
    """One cold request, then REQUESTS warm ones; milliseconds."""
    timings = []
    for _ in range(REQUESTS + 1):
        request = urllib.request.Request(url, headers=headers)  # noqa: S310 (local server)
        started = time.perf_counter()
        with opener.open(request, timeout=120) as response:
            response.read()
            if response.status != 200:
                raise RuntimeError(f"{url}: {response.status}")
        timings.append((time.perf_counter() - started) * 1000)
    warm = sorted(timings[1:])
    return {
        "cold_ms": round(timings[0], 1),
        "p50_ms": round(statistics.median(warm), 1),
        "p95_ms": round(warm[max(0, int(len(warm) * 0.95 + 0.5) - 1)], 1),
    }


def main() -> None:
    url = with_database(base_database_url(), DATABASE)
    fresh = not (REUSE and database_exists(url))
    if fresh:
        url = fresh_database(DATABASE)
    django_setup(url)
    log("migrating the bench database")
    migrate()
    from django.db import connection

    from analytics.cache import figures_changed
    from analytics.rollups import REBUILT_TABLES, rollups_rebuild
    from analytics.services import drift_check
    from analytics.services.clv import clv_fit
    from contacts.services import event_summaries_rebuild
    from lifecycle.selectors import stages_for_workspace
    from workspaces.models import Membership, User, Workspace
    from workspaces.services import Actor, api_key_create, workspace_provision

    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    counts = None if fresh else existing("bench")
    if counts is None:
        if not fresh:  # an unfinished or other-sized data set: start again
            connection.close()
            fresh_database(DATABASE)
            migrate()
        workspace, _ = workspace_provision(slug="bench", name="Bench")
        stages = {s.key: s.pk for s in stages_for_workspace(workspace=workspace)}
        counts = build(workspace.pk, stages, now)
    else:
        log("reusing the data set built by an earlier run")
        workspace = Workspace.objects.get(slug="bench")

    ids = bench_surveys(workspace, now)
    # The contacts' event summaries, as the engine would have left them: rules and the
    # drift check read them.
    started = time.perf_counter()
    event_summaries_rebuild(workspace_id=workspace.pk)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE contacts_eventsummary")
    log(f"event summaries built in {time.perf_counter() - started:.1f}s")
    log("rebuilding the rollups from scratch")
    with connection.cursor() as cursor:  # empty, also when REUSE kept an earlier run's
        cursor.execute(f"TRUNCATE {', '.join(REBUILT_TABLES)}")
    rollup_rebuild_s = rollups_rebuild(workspace_id=workspace.pk)
    with connection.cursor() as cursor:
        for table in ("stageflowday", "stay", "customerfacts", "contactmonth", "cohortcell"):
            cursor.execute(f"VACUUM ANALYZE analytics_{table}")
    log(f"rollups rebuilt in {rollup_rebuild_s:.1f}s")
    # What the nightly task does: the same rebuild over the rollups it finds kept.
    rollup_rebuild_again_s = rollups_rebuild(workspace_id=workspace.pk)
    log(f"rollups rebuilt again (nightly, over kept rows) in {rollup_rebuild_again_s:.1f}s")
    started = time.perf_counter()
    model = clv_fit(workspace=workspace)
    clv_fit_s = time.perf_counter() - started
    log(f"CLV fitted on {model.customers} customers and applied in {clv_fit_s:.1f}s")
    with connection.cursor() as cursor:
        # What autovacuum does after the fit rewrote every customer's facts (this
        # machine's PostgreSQL runs without it): a filter's contacts come from the
        # facts' index alone only where the visibility map says so.
        cursor.execute("VACUUM analytics_customerfacts")

    user, _ = User.objects.get_or_create(email=EMAIL)
    user.set_password(PASSWORD)
    user.save()
    Membership.objects.get_or_create(user=user, workspace=workspace, defaults={"role": "owner"})
    _, secret = api_key_create(
        workspace=workspace, name="bench", actor=Actor(system="bench"), rate_limit_per_minute=10**8
    )
    today = now.date()
    period = f"start={today - dt.timedelta(days=89)}&end={today}"
    year = f"start={today - dt.timedelta(days=364)}&end={today}"
    api = {
        "funnel": f"/api/v1/analytics/funnel/?{period}",
        "flow": f"/api/v1/analytics/flow/?{period}",
        "conversion": f"/api/v1/analytics/conversion/?{period}",
        "time_in_stage": f"/api/v1/analytics/time-in-stage/?{period}",
        "cohorts": f"/api/v1/analytics/cohorts/?{year}",
        "churn": f"/api/v1/analytics/churn/?{year}&granularity=month",
        "overview": f"/api/v1/analytics/overview/?{period}",
        "acquisition": f"/api/v1/analytics/acquisition/?{year}&granularity=month",
        "clv": "/api/v1/analytics/clv/",
        "clv_model": "/api/v1/analytics/clv/model/",
    }
    # Every report the contact filters apply to, filtered by source as the dashboard's
    # filter bar does (issue 19: every filter combination the UI offers).
    for name in [name for name in api if name != "clv_model"]:
        api[f"{name}_by_source"] = api[name] + ("&" if "?" in api[name] else "?") + "source=ads"
    pages = {
        "overview_page": f"/w/bench/analytics/?{period}",
        "funnel_page": f"/w/bench/analytics/funnel/?{period}",
        "flow_page": f"/w/bench/analytics/flow/?{period}",
        "conversion_page": f"/w/bench/analytics/conversion/?{period}",
        "time_in_stage_page": f"/w/bench/analytics/time-in-stage/?{period}",
        "cohorts_page": f"/w/bench/analytics/cohorts/?{year}",
        "churn_page": f"/w/bench/analytics/churn/?{year}",
        "acquisition_page": f"/w/bench/analytics/acquisition/?{year}",
        "clv_page": "/w/bench/analytics/clv/",
    }
    surveys = survey_urls(ids, today, "bench")
    api |= surveys["api"]
    pages |= surveys["pages"]
    connection.close()
    server = WebServer(url, workers=WEB_WORKERS)
    results: dict[str, dict[str, float]] = {}
    try:
        opener = urllib.request.build_opener()
        headers = {"Authorization": f"Bearer {secret}", "Accept": "application/json"}
        for _ in range(4 * WEB_WORKERS):  # every worker process imports and connects first
            timed_requests(opener, server.url + "/api/v1/stages/", headers)
        for name, path in api.items():
            figures_changed(workspace_id=workspace.pk)  # the first request computes
            results[name] = timed_requests(opener, server.url + path, headers)
            log(f"{name}: {results[name]}")
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
        login(browser, server.url)
        for name, path in pages.items():
            figures_changed(workspace_id=workspace.pk)
            results[name] = timed_requests(browser, server.url + path, {})
            log(f"{name}: {results[name]}")
    finally:
        server.stop()
    log("comparing every summary and rollup with the raw data (drift check, all)")
    drift = drift_check(workspace=workspace, sample=None, repair=False)
    log(f"drift check: {drift.rows_differing} of {drift.rows_checked} rows differ")
    report(
        {
            "benchmark": "analytics",
            "drift_rows_checked": drift.rows_checked,
            "drift_rows_differing": drift.rows_differing,
            "drift_check_all_s": round(drift.seconds, 1),
            "contacts": CONTACTS,
            "events": counts["events"],
            "transitions": counts["transitions"],
            "funnel_ms": results["funnel"]["cold_ms"],
            "cohorts_ms": results["cohorts"]["cold_ms"],
            "max_api_p95_ms": max(results[name]["p95_ms"] for name in api),
            "max_api_cold_ms": max(results[name]["cold_ms"] for name in api),
            "max_page_cold_ms": max(results[name]["cold_ms"] for name in pages),
            "max_page_p95_ms": max(results[name]["p95_ms"] for name in pages),
            "answers": ANSWERS,
            # Survey figures are computed on every request (from the survey rollups).
            "survey_report_computed_ms": results["survey_results_year"]["cold_ms"],
            "survey_nps_served_ms": results["survey_results_quarter"]["p95_ms"],
            "survey_report_page_ms": results["survey_report_page"]["p95_ms"],
            "rollup_rebuild_s": round(rollup_rebuild_s, 1),
            "rollup_rebuild_again_s": round(rollup_rebuild_again_s, 1),
            "clv_fit_s": round(clv_fit_s, 1),
            "requests": results,
            "machine": machine(),
        }
    )


def bench_surveys(workspace: Any, now: dt.datetime) -> dict[str, int]:
    """The NPS and CSAT surveys with ANSWERS answers, built once per data set."""
    from django.db.models import Min

    from contacts.models import Contact
    from lifecycle.selectors import stages_for_workspace
    from surveys.models import Survey

    found = dict(Survey.objects.filter(workspace=workspace).values_list("name", "pk"))
    if "Bench NPS" in found and "Bench CSAT" in found:
        return {"nps_survey": found["Bench NPS"], "csat_survey": found["Bench CSAT"]}
    first = Contact.objects.filter(workspace=workspace).aggregate(first=Min("pk"))["first"]
    started = time.perf_counter()
    ids = build_answers(
        workspace_id=workspace.pk,
        first_contact_id=first,
        contacts=CONTACTS,
        stages=[(s.pk, s.name) for s in stages_for_workspace(workspace=workspace)],
        now=now,
    )
    log(f"{ANSWERS} survey answers copied in {time.perf_counter() - started:.1f}s")
    return ids


def login(opener: Any, base: str, email: str = EMAIL, password: str = PASSWORD) -> None:
    """Sign in through the login form (CSRF cookie first), as a browser would."""
    import re
    import urllib.parse

    with opener.open(base + "/login/", timeout=30) as response:
        page = response.read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    if token is None:
        raise RuntimeError("no CSRF token on the login page")
    data = urllib.parse.urlencode(
        {"username": email, "password": password, "csrfmiddlewaretoken": token[1]}
    ).encode()
    request = urllib.request.Request(  # noqa: S310 (local server)
        base + "/login/", data=data, headers={"Referer": base + "/login/"}
    )
    with opener.open(request, timeout=30) as response:
        if "/login/" in response.url:
            raise RuntimeError("bench login failed")


if __name__ == "__main__":
    main()
