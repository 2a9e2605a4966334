"""make bench-analytics: the analytics figures at scale.

Builds (COPY) a workspace of CONTACTS contacts (default 1,000,000) who signed up over
the past year, with ~10 events each (page views, trials, carts, purchases with revenue,
referrals), an acquisition source, a year of stage history as the default stages'
rules would have written it, and monthly spend per source. The data set is kept in
its own database (`stagecraft_bench_analytics`) and reused by the next run when
REUSE=1 and it has the same size.

Then it times:
  rollup_rebuild_s   every rollup of the workspace recomputed from scratch (what the
                     nightly task does)
  per API endpoint   the first request (cold: the figures are computed, the cache of
                     figures having been cleared) and REQUESTS more (warm: served from
                     the figures cache, as a dashboard is between recomputations),
                     by gunicorn as in production; p50 and p95 in milliseconds
  per dashboard page the same, with a signed-in session
funnel_ms and cohorts_ms are the cold (computed) times of those two API calls;
max_api_p95_ms the slowest warm p95 over all API endpoints, max_page_p95_ms over all
pages; max_api_cold_ms and max_page_cold_ms the slowest computation.

Prints one JSON object as its last line."""

from __future__ import annotations

import bisect
import datetime as dt
import os
import random
import statistics
import time
import urllib.request
from decimal import Decimal
from http.cookiejar import CookieJar
from typing import Any

from bench.common import (
    Gunicorn,
    base_database_url,
    copy_contacts,
    django_setup,
    fresh_database,
    machine,
    migrate,
    report,
    with_database,
)
from bench.sweep import contact_events

CONTACTS = int(os.environ.get("CONTACTS", "1000000"))
REQUESTS = int(os.environ.get("REQUESTS", "20"))
REUSE = os.environ.get("REUSE", "") == "1"
WEB_WORKERS = int(os.environ.get("WEB_WORKERS", "2"))
DATABASE = "stagecraft_bench_analytics"
SOURCES = ["organic", "ads", "referral", "social", "partner"]
PASSWORD = "bench-analytics-password"  # a throwaway bench user
EMAIL = "bench-analyst@example.com"
SEED = 17
DAY = dt.timedelta(days=1)


def log(message: str) -> None:
    print(f"[bench-analytics] {message}", flush=True)


# -- a year of stage history ------------------------------------------------------------


def stage_history(
    events: list[tuple], signup: dt.datetime, now: dt.datetime
) -> list[tuple[dt.datetime, str]]:
    """The moves the default stages' rules (lifecycle/defaults.py) make for a contact
    with these events, evaluated at every moment its stage can change: each event and
    each time a "within N days" condition lapses."""
    by_name: dict[str, list[dt.datetime]] = {}
    for name, moment, _, _ in events:
        by_name.setdefault(name, []).append(moment)
    for moments in by_name.values():
        moments.sort()
    purchases = by_name.get("purchase", [])
    referrals = by_name.get("referral_sent", [])
    leads = sorted(by_name.get("trial_started", []) + by_name.get("cart_abandoned", []))
    views = by_name.get("page_view", [])

    def last(moments: list[dt.datetime], t: dt.datetime) -> dt.datetime | None:
        i = bisect.bisect_right(moments, t)
        return moments[i - 1] if i else None

    def stage_at(t: dt.datetime) -> str:
        bought = bisect.bisect_right(purchases, t)
        last_purchase = purchases[bought - 1] if bought else None
        referral = last(referrals, t)
        recent_purchase = last_purchase and t - last_purchase <= 90 * DAY
        if referral and recent_purchase and t - referral <= 180 * DAY:
            return "advocate"
        if bought >= 4 and last_purchase and t - last_purchase <= 60 * DAY:
            return "loyal"
        if last_purchase and t - last_purchase > 180 * DAY:
            return "lapsed"
        if last_purchase and t - last_purchase > 90 * DAY:
            return "at_risk"
        if bought >= 2:
            return "repeat"
        if bought:
            return "customer"
        lead = last(leads, t)
        if lead and t - lead <= 60 * DAY:
            return "lead"
        recent = bisect.bisect_right(views, t) - bisect.bisect_left(views, t - 30 * DAY)
        return "lead" if recent >= 5 else "subscriber"

    instants = {signup}
    second = dt.timedelta(seconds=1)
    for moment in purchases:
        instants.update((moment, moment + 60 * DAY + second, moment + 90 * DAY + second))
        instants.add(moment + 180 * DAY + second)
    for moment in referrals:
        instants.update((moment, moment + 180 * DAY + second))
    for moment in leads:
        instants.update((moment, moment + 60 * DAY + second))
    for moment in views:
        instants.update((moment, moment + 30 * DAY + second))
    history: list[tuple[dt.datetime, str]] = []
    for moment in sorted(m for m in instants if signup <= m <= now):
        stage = stage_at(moment)
        if not history or history[-1][1] != stage:
            history.append((moment, stage))
    return history


def build(workspace_id: int, stages: dict[str, int], now: dt.datetime) -> dict[str, int]:
    """COPY contacts, events, stage history and spend; returns the counts."""
    from django.db import connection

    rng = random.Random(SEED)
    started = time.perf_counter()
    counts = {"events": 0, "transitions": 0}
    with connection.cursor() as cursor:
        for index in (
            "event_contact_name_time",
            "event_ws_name_time",
            "transition_contact_at",
            "transition_ws_at",
            "transition_unnotified",
        ):
            cursor.execute(f"DROP INDEX IF EXISTS {index}")

        def attributes(i: int) -> dict[str, Any]:
            source = SOURCES[min(int(rng.expovariate(0.8)), 4)]
            return {
                "plan": ["free", "basic", "pro"][i % 3],
                "country": "US",
                "signup_source": source,
            }

        first_id, signups = copy_contacts(
            cursor,
            workspace_id=workspace_id,
            count=CONTACTS,
            rng=rng,
            now=now,
            attributes=attributes,
        )
        log(f"{CONTACTS} contacts copied in {time.perf_counter() - started:.1f}s")
        started = time.perf_counter()
        current: list[tuple[int, int, dt.datetime]] = []
        events_copy = cursor.cursor.copy(
            "COPY contacts_event (workspace_id, contact_id, name, properties, revenue, "
            "currency, occurred_at, received_at) FROM STDIN"
        )
        with events_copy as copy:
            histories = []
            for i, signup in enumerate(signups):
                events = contact_events(rng, now, signup)
                events.append(("page_view", signup + (now - signup) * rng.random(), None, "{}"))
                for name, moment, revenue, properties in events:
                    copy.write_row(
                        (
                            workspace_id,
                            first_id + i,
                            name,
                            properties,
                            revenue,
                            "USD" if revenue is not None else "",
                            moment,
                            moment,
                        )
                    )
                counts["events"] += len(events)
                histories.append(stage_history(events, signup, now))
        log(f"{counts['events']} events copied in {time.perf_counter() - started:.1f}s")
        started = time.perf_counter()
        with cursor.cursor.copy(
            "COPY lifecycle_stagetransition (workspace_id, contact_id, from_stage_id, "
            "to_stage_id, at, cause, rule_version, reason, notified_at) FROM STDIN"
        ) as copy:
            for i, history in enumerate(histories):
                previous = None
                for moment, key in history:
                    copy.write_row(
                        (
                            workspace_id,
                            first_id + i,
                            previous,
                            stages[key],
                            moment,
                            "rule",
                            1,
                            "",
                            moment,
                        )
                    )
                    previous = stages[key]
                counts["transitions"] += len(history)
                current.append((first_id + i, previous, history[-1][0]))  # type: ignore[arg-type]
        with cursor.cursor.copy(
            "COPY lifecycle_contactstage (contact_id, workspace_id, stage_id, entered_at, "
            "pinned) FROM STDIN"
        ) as copy:
            for contact_id, stage_id, entered_at in current:
                copy.write_row((contact_id, workspace_id, stage_id, entered_at, False))
        log(f"{counts['transitions']} transitions copied in {time.perf_counter() - started:.1f}s")
        started = time.perf_counter()
        month = (now - dt.timedelta(days=365)).date().replace(day=1)
        while month <= now.date():
            for source in SOURCES[1:]:
                cursor.execute(
                    "INSERT INTO analytics_spend (workspace_id, month, source, amount, updated_at) "
                    "VALUES (%s, %s, %s, %s, now())",
                    [workspace_id, month, source, Decimal(rng.randint(2000, 20000))],
                )
            month = (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        for sql in (
            "CREATE INDEX event_contact_name_time ON contacts_event "
            "(contact_id, name, occurred_at)",
            "CREATE INDEX event_ws_name_time ON contacts_event (workspace_id, name, occurred_at)",
            "CREATE INDEX transition_contact_at ON lifecycle_stagetransition (contact_id, at)",
            "CREATE INDEX transition_ws_at ON lifecycle_stagetransition (workspace_id, at)",
            "CREATE INDEX transition_unnotified ON lifecycle_stagetransition (workspace_id, id) "
            "WHERE notified_at IS NULL",
        ):
            cursor.execute(sql)
        for table in (
            "contacts_contact",
            "contacts_event",
            "lifecycle_stagetransition",
            "lifecycle_contactstage",
        ):
            cursor.execute(f"VACUUM ANALYZE {table}")
        log(f"indexes built in {time.perf_counter() - started:.1f}s")
        cursor.execute("CREATE TABLE bench_built (contacts integer)")  # reusable from here
        cursor.execute("INSERT INTO bench_built VALUES (%s)", [CONTACTS])
    return counts


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
    from analytics.rollups import rollups_rebuild
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

    # The contacts' event summaries, as the engine would have left them: rules and the
    # drift check read them.
    started = time.perf_counter()
    event_summaries_rebuild(workspace_id=workspace.pk)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE contacts_eventsummary")
    log(f"event summaries built in {time.perf_counter() - started:.1f}s")
    log("rebuilding the rollups from scratch")
    rollup_rebuild_s = rollups_rebuild(workspace_id=workspace.pk)
    with connection.cursor() as cursor:
        for table in ("stageflowday", "stay", "customerfacts", "contactmonth", "cohortcell"):
            cursor.execute(f"VACUUM ANALYZE analytics_{table}")
    log(f"rollups rebuilt in {rollup_rebuild_s:.1f}s")
    started = time.perf_counter()
    model = clv_fit(workspace=workspace)
    clv_fit_s = time.perf_counter() - started
    log(f"CLV fitted on {model.customers} customers and applied in {clv_fit_s:.1f}s")

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
        "funnel_by_source": f"/api/v1/analytics/funnel/?{period}&source=ads",
        "conversion_by_source": f"/api/v1/analytics/conversion/?{period}&source=ads",
    }
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
    connection.close()
    server = Gunicorn(url, workers=WEB_WORKERS)
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
            "rollup_rebuild_s": round(rollup_rebuild_s, 1),
            "clv_fit_s": round(clv_fit_s, 1),
            "requests": results,
            "machine": machine(),
        }
    )


def login(opener: Any, base: str) -> None:
    """Sign in through the login form (CSRF cookie first), as a browser would."""
    import re
    import urllib.parse

    with opener.open(base + "/login/", timeout=30) as response:
        page = response.read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    if token is None:
        raise RuntimeError("no CSRF token on the login page")
    data = urllib.parse.urlencode(
        {"username": EMAIL, "password": PASSWORD, "csrfmiddlewaretoken": token[1]}
    ).encode()
    request = urllib.request.Request(  # noqa: S310 (local server)
        base + "/login/", data=data, headers={"Referer": base + "/login/"}
    )
    with opener.open(request, timeout=30) as response:
        if "/login/" in response.url:
            raise RuntimeError("bench login failed")


if __name__ == "__main__":
    main()
