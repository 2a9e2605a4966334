"""make bench-mixed: the mixed load of a shop and its marketers on the app served as
`make run` serves it — gunicorn with 2 processes x 4 threads, a Celery worker with
2 processes, and beat — for DURATION seconds (default 120).

Two workspaces of CONTACTS contacts each (default 2,000, with EVENTS_PER_CONTACT
events each over the past year, default 300, their summaries, stages and rollups),
built with COPY in their own database (`stagecraft_bench_mixed`): engaged customers,
so that a 1,000-event batch meets most of them and the engine's work per contact is
real, as in issue 12. Then, at RATE requests a second in all (default 150, arrivals
at random like independent clients, half to each workspace):

  40%  single events (POST /events/: page views, 10% purchases, some creating contacts)
       and one 1,000-event batch every BATCH_EVERY seconds (default 2)
   3%  contact creates, 4% updates (PATCH), 3% batch upserts of 10 contacts
  10%  contact lists (a page, a search, a sync page), 17% contact reads
   6%  segment previews, 10% analytics reports, 7% stage lists (with counts)

Requests are sent on schedule whether earlier ones have answered or not (an open
loop), so a stall shows as latency, measured from the moment a request was due.
Every event carries an idempotency key; afterwards every accepted event and every
created contact is looked for in the database.

Prints one JSON object as its last line: requests_per_s (answered, over the run),
target_per_s, ingest_p95_ms (events and contact writes), read_p95_ms (everything
else), errors (HTTP >= 400 or no answer), lost, per-route figures, the longest
engine lag after the load, and lock waits seen in PostgreSQL while it ran."""

from __future__ import annotations

import datetime as dt
import json
import random
import threading
import time
from collections import defaultdict
from typing import Any

from bench.common import (
    ROOT,
    WebServer,
    bench_env,
    cpu_seconds_by_process,
    django_setup,
    fresh_database,
    machine,
    migrate,
    report,
)
from bench.mixed_load import (
    BATCH_EVERY,
    CONTACTS,
    DATABASE,
    DURATION,
    INGEST,
    RATE,
    SEED,
    WEB_THREADS,
    WEB_WORKERS,
    WORKERS,
    Done,
    Shop,
    build_shop,
    drive,
    log,
    planned_request,
    schedule,
)


class LockWatch:
    """Samples PostgreSQL twice a second: backends waiting for a lock, how long the
    oldest of them has waited, and what the active backends wait on."""

    def __init__(self, url: str) -> None:
        self.url = url.replace("postgres://", "postgresql://", 1)
        self.samples: list[int] = []
        self.longest = 0.0
        self.waits: dict[str, int] = defaultdict(int)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self.stopped.wait(0.5):
                row = conn.execute(
                    "SELECT count(*), coalesce(max(extract(epoch FROM now() - query_start)), 0) "
                    "FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'"
                ).fetchone()
                assert row is not None
                self.samples.append(int(row[0]))
                self.longest = max(self.longest, float(row[1]))
                for kind, event in conn.execute(
                    "SELECT coalesce(wait_event_type, 'CPU'), coalesce(wait_event, '') "
                    "FROM pg_stat_activity WHERE datname = current_database() "
                    "AND state = 'active' AND pid <> pg_backend_pid()"
                ).fetchall():
                    self.waits[f"{kind}:{event}"] += 1

    def __enter__(self) -> LockWatch:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.thread.join()


# -- the run --------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def lost_after(done: list[Done]) -> dict[str, int]:
    """Accepted events and created contacts that are not in the database."""
    from django.db import connection

    accepted_keys: list[str] = []
    created: list[int] = []
    for d in done:
        if d.status not in (200, 201, 202):
            continue
        body = json.loads(d.body)
        if d.route in ("event", "event_batch"):
            refused = {error["index"] for error in body.get("errors", [])}
            accepted_keys += [k for i, k in enumerate(d.keys) if i not in refused]
        elif d.route == "contact_create":
            created.append(body["id"])
        elif d.route == "contact_upsert":
            created += [r["id"] for r in body["results"] if r["status"] == "created"]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM contacts_event WHERE idempotency_key = ANY(%s)", [accepted_keys]
        )
        events_found = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM contacts_contact WHERE id = ANY(%s)", [created])
        contacts_found = cursor.fetchone()[0]
    return {
        "events_accepted": len(accepted_keys),
        "events_lost": len(accepted_keys) - events_found,
        "contacts_created": len(created),
        "contacts_lost": len(created) - contacts_found,
    }


def engine_drained_after(timeout: float = 300) -> float:
    """Seconds until no contact is left marked for the engine."""
    from django.db import connection

    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM contacts_contactmark")
            if cursor.fetchone()[0] == 0:
                break
        time.sleep(0.5)
    return time.perf_counter() - started


def drift_after(shops: list[Shop]) -> dict[str, Any] | None:
    """Every summary and rollup of both workspaces against the raw data (the drift
    check, counting only), once the engine is quiet. None on code without the check:
    the benchmark also runs against older code, to compare."""
    try:
        from analytics.services import drift_check
    except ImportError:
        return None
    from workspaces.models import Workspace

    checks = [
        drift_check(
            workspace=Workspace.objects.get(pk=shop.workspace_id), sample=None, repair=False
        )
        for shop in shops
    ]
    return {
        "rows_checked": sum(c.rows_checked for c in checks),
        "rows_differing": sum(c.rows_differing for c in checks),
        "tables": [c.tables for c in checks if c.rows_differing],
    }


def main() -> None:
    url = fresh_database(DATABASE)
    django_setup(url)
    log("migrating the bench database")
    migrate()
    from tests.processes import Beat, Worker, purge_broker

    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    shops = [
        build_shop("shop-a", "Europe/Berlin", SEED, now),
        build_shop("shop-b", "America/New_York", SEED + 1, now),
    ]
    from django.db import connection

    with connection.cursor() as cursor:
        for table in ("contacts_eventsummary", "lifecycle_contactstage", "analytics_customerfacts"):
            cursor.execute(f"VACUUM ANALYZE {table}")
    connection.close()

    purge_broker()
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    env = bench_env(url)
    worker = Worker(concurrency=WORKERS, log=results / "mixed-worker.log").start(env=env)
    beat = Beat(log=results / "mixed-beat.log").start(env=env)
    server = WebServer(url, workers=WEB_WORKERS, threads=WEB_THREADS)
    try:
        host = f"127.0.0.1:{server.port}"
        warm = [
            planned_request(random.Random(n), "stage_list", shops[n % 2], host) for n in range(16)
        ]
        drive(server.port, warm)  # every web process imports and connects first
        planned = schedule(shops, host)
        log(f"{len(planned)} requests over {DURATION:.0f}s ({len(planned) / DURATION:.0f}/s)")
        cpu_before = cpu_seconds_by_process()
        with LockWatch(url) as locks:
            done = drive(server.port, planned)
        cpu_after = cpu_seconds_by_process()
        drained_s = engine_drained_after()
        drift = drift_after(shops)
    finally:
        server.stop()
        beat.stop()
        worker.stop()

    elapsed = max(DURATION, max(d.finished for d in done))
    by_route: dict[str, list[Done]] = defaultdict(list)
    for d in done:
        by_route[d.route].append(d)
    routes = {
        route: {
            "requests": len(items),
            "errors": sum(1 for d in items if d.status == 0 or d.status >= 400),
            "p50_ms": round(percentile([d.latency for d in items], 50) * 1000, 1),
            "p95_ms": round(percentile([d.latency for d in items], 95) * 1000, 1),
            "max_ms": round(max(d.latency for d in items) * 1000, 1),
        }
        for route, items in sorted(by_route.items())
    }
    statuses: dict[int, int] = defaultdict(int)
    for d in done:
        statuses[d.status] += 1
    lost = lost_after(done)
    cpu = {k: round(cpu_after.get(k, 0) - cpu_before.get(k, 0), 1) for k in sorted(cpu_after)}
    report(
        {
            "requests_per_s": round(len(done) / elapsed, 1),
            "target_per_s": RATE + 1 / BATCH_EVERY,
            "ingest_p95_ms": round(
                percentile([d.latency for d in done if d.route in INGEST], 95) * 1000, 1
            ),
            "read_p95_ms": round(
                percentile([d.latency for d in done if d.route not in INGEST], 95) * 1000, 1
            ),
            "errors": sum(1 for d in done if d.status == 0 or d.status >= 400),
            "lost": lost["events_lost"] + lost["contacts_lost"],
            "benchmark": "mixed",
            "contacts_per_workspace": CONTACTS,
            "duration_s": DURATION,
            "requests": len(done),
            "statuses": dict(sorted(statuses.items())),
            "routes": routes,
            "engine_drained_after_s": round(drained_s, 1),
            "drift_after": drift,
            "lock_waiting_backends_max": max(locks.samples, default=0),
            "lock_waiting_backends_mean": round(sum(locks.samples) / max(1, len(locks.samples)), 2),
            "lock_wait_longest_s": round(locks.longest, 1),
            "active_backends_by_wait": dict(sorted(locks.waits.items(), key=lambda kv: -kv[1])),
            "cpu_seconds": {k: v for k, v in cpu.items() if v > 0.1},
            **lost,
            "machine": machine(),
        }
    )


if __name__ == "__main__":
    main()
