"""make bench-surveys: the survey report at scale, on its own (bench-analytics times the
same endpoints on its full data set of contacts with a year of events).

Builds (COPY) a workspace of CONTACTS contacts (default 1,000,000, no events) and
ANSWERS answers (default 1,000,000) to an NPS and a CSAT survey over the past year,
rebuilds the rollups (`survey_rollup_rebuild_s`), then times:

  survey_report_computed_ms   survey_results for the NPS survey over 365 days by month,
                              in-process (the figures the API and the page show; they
                              are not cached, every request computes them)
  survey_segment_computed_ms  survey_results for the NPS survey over 365 days by month
                              filtered by a segment of a third of the contacts (plan =
                              pro), its members stored (built in segment_members_build_s,
                              which keeps the segment's survey rollups as members join) and
                              read from its rollups (survey_segment_rollup_rows)
  survey_segment_live_ms      the same with the segment read from its rule live (before
                              the members are built)
  survey_overview_computed_ms NPS and CSAT of the overview's cards, in-process (90 days
                              and the 90 before)
  survey_nps_served_ms        GET /api/v1/surveys/{id}/results/ over 90 days through
                              gunicorn: p95 of REQUESTS requests
  per endpoint and page       cold and warm p50/p95 (ms) through gunicorn

DATABASE (default stagecraft_bench_surveys) is dropped and created. Prints one JSON
object as its last line."""

from __future__ import annotations

import datetime as dt
import os
import random
import statistics
import time
import urllib.request
from http.cookiejar import CookieJar
from typing import Any

from bench.analytics import login, timed_requests
from bench.common import (
    WebServer,
    copy_contacts,
    django_setup,
    fresh_database,
    machine,
    migrate,
    report,
)
from bench.survey_data import ANSWERS, build_answers, survey_urls

CONTACTS = int(os.environ.get("CONTACTS", "1000000"))
DATABASE = os.environ.get("DATABASE", "stagecraft_bench_surveys")
REQUESTS = int(os.environ.get("REQUESTS", "20"))
EMAIL, PASSWORD = "bench-surveys@example.com", "bench-surveys-password"  # throwaway


def log(message: str) -> None:
    print(f"[bench-surveys] {message}", flush=True)


def _timed(function: Any, runs: int = 5) -> float:
    """The median of `runs` in-process calls, in ms (the first warms the plan cache)."""
    timings = []
    for _ in range(runs + 1):
        started = time.perf_counter()
        function()
        timings.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(timings[1:]), 1)


def _segment_figures(workspace: Any, survey: Any, year: Any) -> dict[str, Any]:
    """The report filtered by a segment of a third of the contacts: live, then from
    the stored members (built here as the worker would), with the plan logged."""
    from django.db import connection

    from analytics.figures.common import Filters
    from analytics.figures.surveys import SurveyQuery, survey_results
    from contacts.models import Segment
    from contacts.services import segment_create, segment_members_build
    from workspaces.services import Actor

    segment = segment_create(
        workspace=workspace,
        data={"name": "Pro plan", "rule": {"attr": "plan", "op": "eq", "value": "pro"}},
        actor=Actor(system="bench"),
    )
    query = SurveyQuery(workspace, survey, year, "month", None, Filters(segment=segment))
    live = _timed(lambda: survey_results(query), runs=2)
    started = time.perf_counter()
    segment_members_build(segment_id=segment.pk)
    build_s = round(time.perf_counter() - started, 1)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE contacts_segmentmember")
        cursor.execute("VACUUM ANALYZE analytics_surveysegmentanswerday")
    segment = Segment.objects.get(pk=segment.pk)
    query = SurveyQuery(workspace, survey, year, "month", None, Filters(segment=segment))
    stored = _timed(lambda: survey_results(query))
    log(
        f"segment of {segment.member_count} members built in {build_s}s; "
        f"report live {live} ms, stored {stored} ms"
    )
    start, end = year.start, year.end
    with connection.cursor() as cursor:
        cursor.execute(
            "EXPLAIN (ANALYZE, BUFFERS) SELECT score, sum(answers) "
            "FROM analytics_surveysegmentanswerday WHERE workspace_id = %s AND segment_id = %s "
            "AND survey_id = %s AND day >= %s AND day <= %s GROUP BY 1",
            [workspace.pk, segment.pk, survey.pk, start, end],
        )
        for (line,) in cursor.fetchall():
            log(f"  {line}")
        cursor.execute(
            "SELECT count(*) FROM analytics_surveysegmentanswerday WHERE segment_id = %s",
            [segment.pk],
        )
        rollup_rows = cursor.fetchone()[0]
    log(f"segment rollup rows: {rollup_rows}")
    return {
        "segment_members": segment.member_count,
        "segment_members_build_s": build_s,
        "survey_segment_live_ms": live,
        "survey_segment_computed_ms": stored,
        "survey_segment_rollup_rows": rollup_rows,
    }


def main() -> None:
    url = fresh_database(DATABASE)
    django_setup(url)
    log("migrating")
    migrate()
    from django.db import connection

    from analytics.figures.common import NO_FILTERS, Period
    from analytics.figures.surveys import SurveyQuery, survey_overview, survey_results
    from analytics.rollups.surveys import survey_rollups_rebuild
    from lifecycle.selectors import stages_for_workspace
    from surveys.models import Survey
    from workspaces.models import Membership, User
    from workspaces.services import Actor, api_key_create, workspace_provision

    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    workspace, _ = workspace_provision(slug="bench", name="Bench")
    stages = [(s.pk, s.name) for s in stages_for_workspace(workspace=workspace)]
    started = time.perf_counter()
    with connection.cursor() as cursor:
        first_id, _ = copy_contacts(
            cursor,
            workspace_id=workspace.pk,
            count=CONTACTS,
            rng=random.Random(5),
            now=now,
            attributes=lambda i: {"plan": ["free", "basic", "pro"][i % 3]},
        )
    log(f"{CONTACTS} contacts copied in {time.perf_counter() - started:.1f}s")
    started = time.perf_counter()
    ids = build_answers(
        workspace_id=workspace.pk,
        first_contact_id=first_id,
        contacts=CONTACTS,
        stages=stages,
        now=now,
    )
    log(f"{ANSWERS} answers copied in {time.perf_counter() - started:.1f}s")
    started = time.perf_counter()
    survey_rollups_rebuild(workspace_id=workspace.pk)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE analytics_surveyanswerday")
        cursor.execute("SELECT count(*) FROM analytics_surveyanswerday")
        rollup_rows = cursor.fetchone()[0]
    rebuild_s = time.perf_counter() - started
    log(f"survey rollups rebuilt in {rebuild_s:.1f}s: {rollup_rows} rows")

    today = now.date()
    survey = Survey.objects.get(pk=ids["nps_survey"])
    year = Period(today - dt.timedelta(days=364), today)
    quarter = Period(today - dt.timedelta(days=89), today)
    computed = _timed(
        lambda: survey_results(SurveyQuery(workspace, survey, year, "month", None, NO_FILTERS))
    )
    overview = _timed(
        lambda: survey_overview(workspace=workspace, period=quarter, filters=NO_FILTERS)
    )
    log(f"survey_results (365 days): {computed} ms; overview cards: {overview} ms")
    segment_figures = _segment_figures(workspace, survey, year)

    user, _ = User.objects.get_or_create(email=EMAIL)
    user.set_password(PASSWORD)
    user.save()
    Membership.objects.get_or_create(user=user, workspace=workspace, defaults={"role": "owner"})
    _, secret = api_key_create(
        workspace=workspace, name="bench", actor=Actor(system="bench"), rate_limit_per_minute=10**8
    )
    urls = survey_urls(ids, today, "bench")
    connection.close()
    results: dict[str, dict[str, float]] = {}
    server = WebServer(url, workers=2)
    try:
        opener = urllib.request.build_opener()
        headers = {"Authorization": f"Bearer {secret}", "Accept": "application/json"}
        for _ in range(8):
            timed_requests(opener, server.url + "/api/v1/stages/", headers)
        for name, path in urls["api"].items():
            results[name] = timed_requests(opener, server.url + path, headers)
            log(f"{name}: {results[name]}")
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
        login(browser, server.url, EMAIL, PASSWORD)
        for name, path in urls["pages"].items():
            results[name] = timed_requests(browser, server.url + path, {})
            log(f"{name}: {results[name]}")
    finally:
        server.stop()
    report(
        {
            "benchmark": "surveys",
            "contacts": CONTACTS,
            "answers": ANSWERS,
            "survey_rollup_rows": rollup_rows,
            "survey_rollup_rebuild_s": round(rebuild_s, 1),
            "survey_report_computed_ms": computed,
            "survey_overview_computed_ms": overview,
            **segment_figures,
            "survey_nps_served_ms": results["survey_results_quarter"]["p95_ms"],
            "survey_report_page_p95_ms": results["survey_report_page"]["p95_ms"],
            "requests": results,
            "machine": machine(),
        }
    )


if __name__ == "__main__":
    main()
