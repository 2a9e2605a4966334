"""make bench-latency: how soon an event shows as a stage change, and a stage change as
a journey entry, while batch ingest holds RATE events a second (default 5,000) for
DURATION seconds (default 120), on the app served as `make run` serves it (gunicorn
2 x 4, a Celery worker with 2 processes, beat).

One workspace of CONTACTS contacts (default 20,000, EVENTS_PER_CONTACT events each
over the past year, default 50), built as bench-mixed builds its shops, with a live
journey that starts when a contact enters the "customer" stage. The load is batches
of BATCH_SIZE events (default 1,000) sent open-loop on a fixed clock: page views and
10% purchases of the other contacts, plus SAMPLES (default 200) probes spread evenly
over the run — the first purchase of a contact that has never bought (in the
subscriber or lead stage), which the default rules move to "customer".

For each probe: `event_to_stage` is from the moment its batch was due to the first
time a reader polling PostgreSQL every 0.2 s sees the contact in "customer", and
`journey_entry` to the first time it sees the contact enrolled in the journey
(committed and visible, as a dashboard would show it; the poll adds up to 0.2 s).

Prints one JSON object as its last line: events_per_s (accepted events over the
time the batches took), event_to_stage_p95_s (target <= 1.0), journey_entry_p95_s
(target <= 2.0), lost (accepted events not in the database, 0), probes that never
moved or never entered, the batches' p95 latency and errors."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import threading
import time
import uuid
from typing import Any

# The data set is bench-mixed's shop at a size where 5,000 events a second meet a
# contact every few seconds; bench.mixed_load reads these when imported.
os.environ.setdefault("CONTACTS", "20000")
os.environ.setdefault("EVENTS_PER_CONTACT", "50")

from bench.common import (
    ROOT,
    WebServer,
    bench_env,
    django_setup,
    fresh_database,
    machine,
    migrate,
    report,
)
from bench.loadgen import build_request
from bench.mixed import engine_drained_after, lost_after, percentile
from bench.mixed_load import (
    CONTACTS,
    SEED,
    WEB_THREADS,
    WEB_WORKERS,
    WORKERS,
    Planned,
    Shop,
    build_shop,
    drive,
)

RATE = float(os.environ.get("RATE", "5000"))
DURATION = float(os.environ.get("DURATION", "120"))
BATCH_SIZE = int(os.environ.get("BATCH_SIZE", "1000"))
SAMPLES = int(os.environ.get("SAMPLES", "200"))
DATABASE = os.environ.get("BENCH_LATENCY_DATABASE", "stagecraft_bench_latency")


def log(message: str) -> None:
    print(f"[bench-latency] {message}", flush=True)


def probes(shop: Shop, count: int) -> list[int]:
    """Contacts that have never bought and sit in a stage a first purchase leaves for
    "customer" (one who has sent a referral becomes an advocate instead)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT cs.contact_id FROM lifecycle_contactstage cs
                 JOIN lifecycle_stage s ON s.id = cs.stage_id
                WHERE cs.workspace_id = %s AND s.key IN ('subscriber', 'lead')
                  AND NOT EXISTS (SELECT 1 FROM contacts_event e
                                   WHERE e.workspace_id = cs.workspace_id
                                     AND e.contact_id = cs.contact_id
                                     AND e.name IN ('purchase', 'referral_sent'))
                ORDER BY md5(cs.contact_id::text) LIMIT %s""",
            [shop.workspace_id, count],
        )
        return [row[0] for row in cursor.fetchall()]


def stage_journey(shop: Shop) -> int:
    """A live journey entered on the customer stage: one long wait, so an entry is
    the only thing measured (no message leaves)."""
    from campaigns.journeys.services import journey_create, journey_schedule
    from lifecycle.models import Stage
    from workspaces.models import Workspace
    from workspaces.services import Actor

    actor = Actor(system="bench")
    workspace = Workspace.objects.get(pk=shop.workspace_id)
    customer = Stage.objects.get(workspace=workspace, key="customer")
    journey = journey_create(
        workspace=workspace,
        data={
            "name": "New customer",
            "trigger": {"kind": "stage_entered", "stage_id": customer.pk},
            "steps": [{"key": "later", "kind": "wait", "config": {"duration": {"days": 30}}}],
        },
        actor=actor,
    )
    return journey_schedule(journey=journey, actor=actor).pk


def schedule(shop: Shop, host: str, sampled: list[int]) -> tuple[list[Planned], dict[int, float]]:
    """Every batch with the moment it is due, and each probe's batch moment."""
    rng = random.Random(SEED)
    excluded = set(sampled)
    others = [shop.first_id + i for i in range(CONTACTS) if shop.first_id + i not in excluded]
    every = BATCH_SIZE / RATE
    batches = int(DURATION / every)
    probe_at: dict[int, float] = {}
    planned: list[Planned] = []
    for n in range(batches):
        at = n * every
        items: list[dict[str, Any]] = []
        # Probes go evenly over the run, one batch each at most.
        while len(probe_at) < len(sampled) and len(probe_at) * batches <= n * len(sampled):
            contact_id = sampled[len(probe_at)]
            probe_at[contact_id] = at
            items.append(_event(rng, contact_id, purchase=True))
        while len(items) < BATCH_SIZE:
            items.append(_event(rng, rng.choice(others), purchase=rng.random() < 0.1))
        rng.shuffle(items)
        body = json.dumps({"batch": items}).encode()
        request = build_request("/api/v1/events/", body, shop.secret, host, "POST")
        planned.append(Planned(at, "event_batch", request, [i["idempotency_key"] for i in items]))
    return planned, probe_at


def _event(rng: random.Random, contact_id: int, *, purchase: bool) -> dict[str, Any]:
    item: dict[str, Any] = {
        "contact": {"id": contact_id},
        "name": "page_view",
        "properties": {"path": rng.choice(["/", "/shop", "/blog", "/pricing"])},
        "idempotency_key": uuid.UUID(int=rng.getrandbits(128)).hex,
    }
    if purchase:
        item.update(name="purchase", revenue=f"{rng.uniform(5, 200):.2f}")
    return item


class Watch:
    """Polls PostgreSQL every POLL seconds, as a dashboard reader would, for the
    first moment each probe is seen in "customer" and seen enrolled in the journey
    (what a user sees, committed; not a row's own timestamp)."""

    POLL = 0.2

    def __init__(self, url: str, *, workspace_id: int, journey_id: int, ids: list[int]) -> None:
        self.url = url.replace("postgres://", "postgresql://", 1)
        self.workspace_id, self.journey_id, self.ids = workspace_id, journey_id, ids
        self.moved: dict[int, dt.datetime] = {}
        self.entered: dict[int, dt.datetime] = {}
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self.stopped.wait(self.POLL):
                seen = dt.datetime.now(dt.UTC)
                for (cid,) in conn.execute(
                    """SELECT cs.contact_id FROM lifecycle_contactstage cs
                         JOIN lifecycle_stage s ON s.id = cs.stage_id
                        WHERE cs.workspace_id = %s AND s.key = 'customer'
                          AND cs.contact_id = ANY(%s)""",
                    [self.workspace_id, [i for i in self.ids if i not in self.moved]],
                ).fetchall():
                    self.moved[cid] = seen
                for (cid,) in conn.execute(
                    """SELECT contact_id FROM campaigns_journeyenrolment
                        WHERE journey_id = %s AND contact_id = ANY(%s)""",
                    [self.journey_id, [i for i in self.ids if i not in self.entered]],
                ).fetchall():
                    self.entered[cid] = seen

    def wait(self, timeout: float) -> None:
        """Until every probe is seen moved and enrolled, or timeout seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.moved) == len(self.ids) and len(self.entered) == len(self.ids):
                break
            time.sleep(self.POLL)

    def __enter__(self) -> Watch:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.thread.join()


def main() -> None:
    url = fresh_database(DATABASE)
    django_setup(url)
    log("migrating the bench database")
    migrate()
    from django.db import connection

    from tests.processes import Beat, Worker, purge_broker

    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    shop = build_shop("latency", "Europe/Berlin", SEED, now)
    with connection.cursor() as cursor:
        for table in ("contacts_eventsummary", "lifecycle_contactstage", "contacts_event"):
            cursor.execute(f"VACUUM ANALYZE {table}")
        # Every other table the set-up wrote (the sweep's moves and due moments, the
        # rollups) too: where autovacuum is off, as on the development VM, the planner
        # took lifecycle_stagetransition for nearly empty and the replay probed it by
        # workspace and time for each contact (8.6 s instead of 0.8 s a claim).
        cursor.execute("ANALYZE")
    sampled = probes(shop, SAMPLES)
    journey_id = stage_journey(shop)
    log(f"{len(sampled)} probes; journey {journey_id} listens for the customer stage")
    connection.close()

    purge_broker()
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    env = bench_env(url)
    # The server first (it stops itself if it does not start), then the worker and beat
    # inside the try, so nothing is left running when any of them does not start.
    server = WebServer(url, workers=WEB_WORKERS, threads=WEB_THREADS)
    worker = Worker(concurrency=WORKERS, log=results / "latency-worker.log")
    beat = Beat(log=results / "latency-beat.log")
    try:
        worker.start(env=env, timeout=120)
        beat.start(env=env, timeout=120)
        host = f"127.0.0.1:{server.port}"
        planned, probe_at = schedule(shop, host, sampled)
        drive(
            server.port,
            [
                Planned(
                    0.0, "warm", build_request("/api/v1/stages/", b"", shop.secret, host, "GET")
                )
                for _ in range(16)
            ],
        )
        log(f"{len(planned)} batches of {BATCH_SIZE} over {DURATION:.0f}s ({RATE:.0f} events/s)")
        started: list[dt.datetime] = []
        with Watch(
            url, workspace_id=shop.workspace_id, journey_id=journey_id, ids=sampled
        ) as watch:
            done = drive(server.port, planned, started=started)
            watch.wait(timeout=120)
        drained_s = engine_drained_after()
        sent = {cid: started[0] + dt.timedelta(seconds=at) for cid, at in probe_at.items()}
        moved = {cid: (at - sent[cid]).total_seconds() for cid, at in watch.moved.items()}
        entered = {cid: (at - sent[cid]).total_seconds() for cid, at in watch.entered.items()}
    finally:
        server.stop()
        beat.stop()
        worker.stop()

    lost = lost_after(done)
    held_s = max(DURATION, max(d.finished for d in done))
    report(
        {
            "events_per_s": round(lost["events_accepted"] / held_s, 1),
            "target_events_per_s": RATE,
            "event_to_stage_p95_s": round(percentile(list(moved.values()), 95), 3),
            "event_to_stage_p50_s": round(percentile(list(moved.values()), 50), 3),
            "journey_entry_p95_s": round(percentile(list(entered.values()), 95), 3),
            "journey_entry_p50_s": round(percentile(list(entered.values()), 50), 3),
            "lost": lost["events_lost"],
            "probes": len(sent),
            "probes_not_moved": len(sent) - len(moved),
            "probes_not_entered": len(sent) - len(entered),
            "batch_p95_ms": round(percentile([d.latency for d in done], 95) * 1000, 1),
            "batch_errors": sum(1 for d in done if d.status == 0 or d.status >= 400),
            "engine_drained_after_s": round(drained_s, 1),
            "benchmark": "latency",
            "contacts": CONTACTS,
            "duration_s": DURATION,
            **lost,
            "machine": machine(),
        }
    )


if __name__ == "__main__":
    main()
