"""make bench-ingest: events over HTTP into the real app on PostgreSQL, served by
granian (production's server) and by gunicorn, side by side.

Builds a workspace of CONTACTS contacts (default 100,000) with COPY, serves the app
with each of SERVERS in turn (DEBUG off; default "granian,gunicorn", the first is the
one reported at the top level), then drives POST /api/v1/events/ from a load
generator on the same machine:
  - batch: {"batch": [...1000 events...]} per request for BATCH_SECONDS (first round);
  - single: one event per request for SINGLE_SECONDS, in each of ROUNDS rounds
    (default 2) that take the servers in turn; the median round is reported.
Events name their contact by external_id (most), id, or a new email (which creates the
contact), 10% are purchases with revenue, a third carry an idempotency key. Afterwards
the database is checked: every accepted event is there once.

Prints one JSON object as its last line."""

from __future__ import annotations

import contextlib
import json
import os
import random
import statistics
import time
import uuid

from bench.common import (
    WebServer,
    bench_env,  # noqa: F401 - re-exported for other benchmarks
    cpu_ms_per,
    cpu_seconds_by_process,
    django_setup,
    fresh_database,
    machine,
    migrate,
    report,
)
from bench.loadgen import build_request, run

CONTACTS = int(os.environ.get("CONTACTS", "100000"))
BATCH_SECONDS = float(os.environ.get("BATCH_SECONDS", "20"))
SINGLE_SECONDS = float(os.environ.get("SINGLE_SECONDS", "20"))
WEB_WORKERS = int(os.environ.get("WEB_WORKERS", "4"))
WEB_THREADS = int(os.environ.get("WEB_THREADS", "4"))
# The servers measured side by side, the first being the one reported at the top
# level (production's); each round serves single events with each in turn.
SERVERS = os.environ.get("SERVERS", "granian,gunicorn").split(",")
ROUNDS = int(os.environ.get("ROUNDS", "2"))


def log(message: str) -> None:
    print(f"[bench-ingest] {message}", flush=True)


def build_workspace() -> tuple[int, str, int]:
    from django.db import connection

    from workspaces.models import Workspace
    from workspaces.services import Actor, api_key_create

    workspace = Workspace.objects.create(name="Bench", slug="bench")
    _, secret = api_key_create(
        workspace=workspace,
        name="bench",
        actor=Actor(system="bench"),
        rate_limit_per_minute=100_000_000,
    )
    started = time.perf_counter()
    with connection.cursor() as cursor:
        copy_sql = (
            "COPY contacts_contact (workspace_id, email, external_id, first_name, last_name, "
            "time_zone, locale, attributes, email_status, email_status_at, "
            "email_status_source, sms_status, sms_status_at, sms_status_source, created_at, "
            "updated_at) FROM STDIN"
        )
        with cursor.cursor.copy(copy_sql) as copy:
            now = "2026-01-01 00:00:00+00"
            for i in range(CONTACTS):
                copy.write_row(
                    (
                        workspace.pk,
                        f"person{i}@example.com",
                        f"ext-{i}",
                        "Bench",
                        f"Person {i}",
                        "UTC",
                        "en-US",
                        '{"plan": "pro"}',
                        "subscribed",
                        now,
                        "bench",
                        "never_subscribed",
                        now,
                        "bench",
                        now,
                        now,
                    )
                )
        cursor.execute("ANALYZE contacts_contact")
        cursor.execute(
            "SELECT min(id) FROM contacts_contact WHERE workspace_id = %s", [workspace.pk]
        )
        first_id = cursor.fetchone()[0]
    log(f"{CONTACTS} contacts copied in {time.perf_counter() - started:.1f}s")
    return workspace.pk, secret, first_id


def event(rng: random.Random, first_id: int) -> dict:
    roll = rng.random()
    contact: dict[str, object]
    if roll < 0.8:
        contact = {"external_id": f"ext-{rng.randrange(CONTACTS)}"}
    elif roll < 0.95:
        contact = {"id": first_id + rng.randrange(CONTACTS)}
    else:
        contact = {"email": f"new-{uuid.uuid4().hex[:16]}@example.com"}
    item: dict = {
        "contact": contact,
        "name": "page_view",
        "properties": {"path": rng.choice(["/", "/shop", "/blog", "/pricing"])},
    }
    if rng.random() < 0.1:
        item.update(
            name="purchase",
            revenue=f"{rng.uniform(5, 200):.2f}",
            # `items` is the purchase's line items (a list) since the catalogue came: a
            # count under that name is refused, so the count has a name of its own.
            properties={"order_id": uuid.uuid4().hex[:12], "item_count": rng.randint(1, 4)},
        )
    if rng.random() < 0.33:
        item["idempotency_key"] = uuid.uuid4().hex
    return item


def phase(
    server: WebServer, secret: str, first_id: int, *, batch: int, seconds: float, connections: int
) -> tuple[dict, int]:
    rng = random.Random(batch)
    host = f"127.0.0.1:{server.port}"

    def make() -> bytes:
        events = [event(rng, first_id) for _ in range(batch)]
        body = json.dumps({"batch": events} if batch > 1 else events[0]).encode()
        return build_request("/api/v1/events/", body, secret, host)

    # Single-event requests are prepared before the clock starts, so that the load
    # generator spends its share of the machine sending, not building JSON.
    prepared = [make() for _ in range(int(seconds * 3000))] if batch == 1 else []
    queue = iter(prepared)
    deadline = time.perf_counter() + seconds

    def next_request() -> bytes | None:
        if time.perf_counter() > deadline:
            return None
        return next(queue, None) if prepared else make()

    cpu_before = cpu_seconds_by_process()
    outcome = run("127.0.0.1", server.port, next_request, connections=connections, keep_bodies=True)
    cpu_after = cpu_seconds_by_process()
    accepted = 0
    for body in outcome.bodies:
        with contextlib.suppress(ValueError):  # an error page: counted by its status
            accepted += json.loads(body).get("accepted", 0)
    stats = {
        "requests": outcome.requests,
        "errors": outcome.errors,
        "statuses": outcome.statuses,
        "seconds": round(outcome.elapsed, 2),
        "p50_ms": round(outcome.percentile(50) * 1000, 1),
        "p95_ms": round(outcome.percentile(95) * 1000, 1),
        "accepted": accepted,
        "cpu_ms_per_request": cpu_ms_per(cpu_before, cpu_after, outcome.requests),
    }
    return stats, accepted


def measure(
    kind: str, url: str, secret: str, first_id: int, *, batch_seconds: float
) -> tuple[dict, dict, int]:
    """One server's batch phase (when batch_seconds) and single phase; the events
    accepted in all, warm-up included (the loss check counts every one)."""
    server = WebServer(url, workers=WEB_WORKERS, threads=WEB_THREADS, kind=kind)
    try:
        # Warm up: every worker process connects and imports everything once.
        _, warm_accepted = phase(
            server, secret, first_id, batch=10, seconds=2, connections=WEB_WORKERS
        )
        batch: dict = {}
        batch_accepted = 0
        if batch_seconds:
            log(f"{kind}: batch phase, {batch_seconds}s of 1000-event requests")
            batch, batch_accepted = phase(
                server,
                secret,
                first_id,
                batch=1000,
                seconds=batch_seconds,
                connections=WEB_WORKERS + 2,
            )
        log(f"{kind}: single phase, {SINGLE_SECONDS}s of one-event requests")
        single, single_accepted = phase(
            server,
            secret,
            first_id,
            batch=1,
            seconds=SINGLE_SECONDS,
            connections=WEB_WORKERS * WEB_THREADS * 2,
        )
    finally:
        server.stop()
    return batch, single, warm_accepted + batch_accepted + single_accepted


def main() -> None:
    url = fresh_database("stagecraft_bench_ingest")
    django_setup(url)
    log("migrating the bench database")
    migrate()
    workspace_id, secret, first_id = build_workspace()
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM contacts_event")
        before = cursor.fetchone()[0]
    # The servers take turns, ROUNDS times, so that a change in the machine's other
    # load falls on both alike.
    runs: dict[str, list[tuple[dict, dict]]] = {kind: [] for kind in SERVERS}
    accepted = 0
    for round_ in range(ROUNDS):
        for kind in SERVERS:
            batch, single, got = measure(
                kind, url, secret, first_id, batch_seconds=BATCH_SECONDS if round_ == 0 else 0
            )
            runs[kind].append((batch, single))
            accepted += got
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM contacts_event")
        recorded = cursor.fetchone()[0] - before
        cursor.execute(
            "SELECT count(*) FROM contacts_contact WHERE workspace_id = %s", [workspace_id]
        )
        contacts_after = cursor.fetchone()[0]
    by_server = {
        kind: {
            "batch_events_per_s": round(items[0][0]["accepted"] / items[0][0]["seconds"]),
            "single_requests_per_s": round(
                statistics.median(s["requests"] / s["seconds"] for _, s in items)
            ),
            "single_rounds": [round(s["requests"] / s["seconds"]) for _, s in items],
            "batch": items[0][0],
            "single": items[-1][1],
        }
        for kind, items in runs.items()
    }
    default = by_server[SERVERS[0]]
    result = {
        "benchmark": "ingest",
        "server": SERVERS[0],
        "contacts": CONTACTS,
        "contacts_after": contacts_after,
        "web_workers": WEB_WORKERS,
        "batch_events_per_s": default["batch_events_per_s"],
        "single_requests_per_s": default["single_requests_per_s"],
        "by_server": by_server,
        "events_accepted": accepted,
        "events_recorded": recorded,
        "lost": max(0, accepted - recorded),
        "machine": machine(),
    }
    log("done")
    report(result)


if __name__ == "__main__":
    main()
