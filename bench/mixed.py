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

import asyncio
import datetime as dt
import json
import os
import random
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from bench.common import (
    ROOT,
    Gunicorn,
    bench_env,
    copy_contacts,
    cpu_seconds_by_process,
    django_setup,
    fresh_database,
    machine,
    migrate,
    report,
)
from bench.loadgen import build_request, read_response
from bench.sweep import contact_events

CONTACTS = int(os.environ.get("CONTACTS", "2000"))
# A year of a shop's customers: a few purchases and trials, and page views.
EVENTS_PER_CONTACT = int(os.environ.get("EVENTS_PER_CONTACT", "300"))
DURATION = float(os.environ.get("DURATION", "120"))
RATE = float(os.environ.get("RATE", "150"))
BATCH_EVERY = float(os.environ.get("BATCH_EVERY", "2"))
BATCH_SIZE = int(os.environ.get("BATCH_SIZE", "1000"))
WEB_WORKERS = int(os.environ.get("WEB_WORKERS", "2"))
WEB_THREADS = int(os.environ.get("WEB_THREADS", "4"))
WORKERS = int(os.environ.get("WORKERS", "2"))
CONNECTIONS = int(os.environ.get("CONNECTIONS", "128"))
DATABASE = "stagecraft_bench_mixed"
SEED = 23
SOURCES = ["organic", "ads", "referral", "social", "partner"]

# Shares of RATE per route; the batches come on top, on their own clock.
MIX = {
    "event": 0.40,
    "contact_create": 0.03,
    "contact_update": 0.04,
    "contact_upsert": 0.03,
    "contact_list": 0.10,
    "contact_read": 0.17,
    "segment_preview": 0.06,
    "analytics": 0.10,
    "stage_list": 0.07,
}
INGEST = {"event", "event_batch", "contact_create", "contact_update", "contact_upsert"}
RULES = [
    {"event": "purchase", "count": {"gte": 2}},
    {"all": [{"attr": "plan", "op": "eq", "value": "pro"}, {"event": "page_view"}]},
    {"revenue": {"gte": 100}, "within_days": 365},
    {
        "any": [
            {"event": "trial_started", "within_days": 60},
            {"attr": "plan", "op": "eq", "value": "basic"},
        ]
    },
    {"not": {"event": "purchase", "within_days": 90}},
]


def log(message: str) -> None:
    print(f"[bench-mixed] {message}", flush=True)


# -- the data set ---------------------------------------------------------------------


@dataclass
class Shop:
    workspace_id: int
    slug: str
    secret: str
    first_id: int
    reports: list[str] = field(default_factory=list)


def build_shop(slug: str, time_zone: str, seed: int, now: dt.datetime) -> Shop:
    """A workspace with CONTACTS contacts and their events, summaries, stages and
    rollups, as if the engine and a sweep had seen them all."""
    from django.db import connection

    from analytics.models import AnalyticsSettings
    from analytics.rollups import rollups_rebuild
    from contacts.services import event_summaries_rebuild
    from lifecycle.models import SweepRun
    from lifecycle.services import sweep_now
    from workspaces.services import Actor, api_key_create, workspace_provision

    rng = random.Random(seed)
    workspace, _ = workspace_provision(slug=slug, name=slug.title(), time_zone=time_zone)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        first_id, signups = copy_contacts(
            cursor,
            workspace_id=workspace.pk,
            count=CONTACTS,
            rng=rng,
            now=now,
            attributes=lambda i: {
                "plan": ["free", "basic", "pro"][i % 3],
                "signup_source": SOURCES[min(int(rng.expovariate(0.8)), 4)],
            },
        )
        events = 0
        with cursor.cursor.copy(
            "COPY contacts_event (workspace_id, contact_id, name, properties, revenue, "
            "currency, occurred_at, received_at) FROM STDIN"
        ) as copy:
            for i, signup in enumerate(signups):
                history = contact_events(rng, now, signup)
                span = (now - signup).total_seconds()
                history += [
                    ("page_view", signup + dt.timedelta(seconds=span * rng.random()), None, "{}")
                    for _ in range(max(0, EVENTS_PER_CONTACT - len(history)))
                ]
                for name, moment, revenue, properties in history:
                    copy.write_row(
                        (
                            workspace.pk,
                            first_id + i,
                            name,
                            properties,
                            revenue,
                            "USD" if revenue is not None else "",
                            moment,
                            moment,
                        )
                    )
                    events += 1
        cursor.execute("ANALYZE contacts_contact")
        cursor.execute("ANALYZE contacts_event")
    event_summaries_rebuild(workspace_id=workspace.pk)
    sweep_now(workspace=workspace)
    SweepRun.objects.create(workspace=workspace, reason="bench set-up", finished_at=now)
    # The set-up's moves count as dispatched (journeys and webhooks have nothing to do
    # with them), so that the rebuild counts them in the flows.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE lifecycle_stagetransition SET notified_at = now() WHERE workspace_id = %s",
            [workspace.pk],
        )
    rollups_rebuild(workspace_id=workspace.pk)
    # The nightly work was just done by hand: beat does not start it again at once.
    AnalyticsSettings.objects.update_or_create(
        workspace=workspace, defaults={"rollups_rebuilt_at": now, "clv_fitted_at": now}
    )
    _, secret = api_key_create(
        workspace=workspace, name="bench", actor=Actor(system="bench"), rate_limit_per_minute=10**8
    )
    log(f"{slug}: {CONTACTS} contacts, {events} events in {time.perf_counter() - started:.0f}s")
    today = now.date()
    period = f"start={today - dt.timedelta(days=89)}&end={today}"
    year = f"start={today - dt.timedelta(days=364)}&end={today}"
    reports = [
        f"/api/v1/analytics/overview/?{period}",
        f"/api/v1/analytics/funnel/?{period}",
        f"/api/v1/analytics/flow/?{period}",
        f"/api/v1/analytics/conversion/?{period}",
        f"/api/v1/analytics/cohorts/?{year}",
        f"/api/v1/analytics/churn/?{year}&granularity=month",
        f"/api/v1/analytics/acquisition/?{year}&granularity=month",
        "/api/v1/analytics/clv/",
    ]
    return Shop(workspace.pk, slug, secret, first_id, reports)


# -- the schedule ---------------------------------------------------------------------


@dataclass
class Planned:
    at: float  # seconds after the start
    route: str
    request: bytes
    keys: list[str] = field(default_factory=list)  # idempotency keys it sends


@dataclass
class Done:
    route: str
    status: int
    latency: float
    finished: float
    body: bytes
    keys: list[str]


def _event(rng: random.Random, shop: Shop) -> dict[str, Any]:
    roll = rng.random()
    contact: dict[str, Any]
    if roll < 0.8:
        contact = {"external_id": f"ext-{rng.randrange(CONTACTS)}"}
    elif roll < 0.95:
        contact = {"id": shop.first_id + rng.randrange(CONTACTS)}
    else:
        contact = {"email": f"new-{uuid.UUID(int=rng.getrandbits(128)).hex[:16]}@example.com"}
    item: dict[str, Any] = {
        "contact": contact,
        "name": "page_view",
        "properties": {"path": rng.choice(["/", "/shop", "/blog", "/pricing"])},
        "idempotency_key": uuid.UUID(int=rng.getrandbits(128)).hex,
    }
    if rng.random() < 0.1:
        item.update(name="purchase", revenue=f"{rng.uniform(5, 200):.2f}")
    return item


def _request(rng: random.Random, route: str, shop: Shop, host: str) -> Planned:
    def make(method: str, path: str, body: Any = None, keys: list[str] | None = None) -> Planned:
        data = b"" if body is None else json.dumps(body).encode()
        return Planned(0.0, route, build_request(path, data, shop.secret, host, method), keys or [])

    some_contact = shop.first_id + rng.randrange(CONTACTS)
    if route == "event":
        item = _event(rng, shop)
        return make("POST", "/api/v1/events/", item, [item["idempotency_key"]])
    if route == "event_batch":
        items = [_event(rng, shop) for _ in range(BATCH_SIZE)]
        return make(
            "POST", "/api/v1/events/", {"batch": items}, [i["idempotency_key"] for i in items]
        )
    if route == "contact_create":
        email = f"made-{uuid.UUID(int=rng.getrandbits(128)).hex[:16]}@example.com"
        body = {"email": email, "first_name": "New", "attributes": {"signup_source": "ads"}}
        return make("POST", "/api/v1/contacts/", body)
    if route == "contact_update":
        body = {"attributes": {"plan": rng.choice(["free", "basic", "pro"])}}
        return make("PATCH", f"/api/v1/contacts/{some_contact}/", body)
    if route == "contact_upsert":
        contacts: list[dict[str, Any]] = [
            {
                "external_id": f"ext-{rng.randrange(CONTACTS)}",
                "attributes": {"plan": rng.choice(["free", "basic", "pro"])},
            }
            for _ in range(7)
        ]
        contacts += [
            {"email": f"up-{uuid.UUID(int=rng.getrandbits(128)).hex[:16]}@example.com"}
            for _ in range(3)
        ]
        return make("POST", "/api/v1/contacts/batch/", {"contacts": contacts})
    if route == "contact_list":
        query = rng.choice(
            ["limit=50", f"q=c{rng.randrange(1000)}&limit=20", "updated_since=2020-01-01T00:00:00Z"]
        )
        return make("GET", f"/api/v1/contacts/?{query}")
    if route == "contact_read":
        return make("GET", f"/api/v1/contacts/{some_contact}/")
    if route == "segment_preview":
        return make("POST", "/api/v1/segments/preview/", {"rule": rng.choice(RULES)})
    if route == "analytics":
        return make("GET", rng.choice(shop.reports))
    assert route == "stage_list", route
    return make("GET", "/api/v1/stages/")


def schedule(shops: list[Shop], host: str) -> list[Planned]:
    """Every request of the run with the moment it is due: Poisson arrivals per
    route, the batches on their own clock, each to a workspace at random."""
    rng = random.Random(SEED)
    planned: list[Planned] = []
    for route, share in MIX.items():
        moment = rng.expovariate(RATE * share)
        while moment < DURATION:
            request = _request(rng, route, rng.choice(shops), host)
            request.at = moment
            planned.append(request)
            moment += rng.expovariate(RATE * share)
    moment = BATCH_EVERY / 2
    while moment < DURATION:
        request = _request(rng, "event_batch", rng.choice(shops), host)
        request.at = moment
        planned.append(request)
        moment += BATCH_EVERY
    return sorted(planned, key=lambda p: p.at)


# -- the open-loop client -------------------------------------------------------------


async def _send(
    pool: asyncio.Queue, port: int, planned: Planned, start: float, done: list[Done]
) -> None:
    await asyncio.sleep(max(0.0, start + planned.at - time.perf_counter()))
    reader, writer = await pool.get()
    status, body = 0, b""
    try:
        for attempt in range(2):
            try:
                writer.write(planned.request)
                await writer.drain()
                status, body, closing = await asyncio.wait_for(read_response(reader), 120)
                if closing:
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                break
            except (asyncio.IncompleteReadError, ConnectionError):
                # An idle keep-alive connection the server closed: once more on a new one.
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                if attempt:
                    raise
    except (TimeoutError, asyncio.IncompleteReadError, ConnectionError, OSError):
        status = 0
        writer.close()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    finally:
        pool.put_nowait((reader, writer))
    finished = time.perf_counter()
    done.append(
        Done(
            planned.route,
            status,
            finished - start - planned.at,
            finished - start,
            body,
            planned.keys,
        )
    )


def drive(port: int, planned: list[Planned]) -> list[Done]:
    done: list[Done] = []

    async def main() -> None:
        pool: asyncio.Queue = asyncio.Queue()
        for _ in range(CONNECTIONS):
            pool.put_nowait(await asyncio.open_connection("127.0.0.1", port))
        start = time.perf_counter() + 0.5
        await asyncio.gather(*(_send(pool, port, p, start, done) for p in planned))
        while not pool.empty():
            _, writer = pool.get_nowait()
            writer.close()

    asyncio.run(main())
    return done


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
    server = Gunicorn(url, workers=WEB_WORKERS, threads=WEB_THREADS)
    try:
        host = f"127.0.0.1:{server.port}"
        warm = [_request(random.Random(n), "stage_list", shops[n % 2], host) for n in range(16)]
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
