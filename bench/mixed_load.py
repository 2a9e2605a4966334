"""The mixed load of bench/mixed.py: its settings (environment variables), the shops
it builds, and the timed plan of requests it sends and the answers it keeps."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import random
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from bench.common import (
    copy_contacts,
)
from bench.loadgen import build_request, read_response
from bench.sweep_data import contact_events, event_row

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
                        event_row(workspace.pk, first_id + i, name, moment, revenue, properties)
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


def planned_request(rng: random.Random, route: str, shop: Shop, host: str) -> Planned:
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
            request = planned_request(rng, route, rng.choice(shops), host)
            request.at = moment
            planned.append(request)
            moment += rng.expovariate(RATE * share)
    moment = BATCH_EVERY / 2
    while moment < DURATION:
        request = planned_request(rng, "event_batch", rng.choice(shops), host)
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


def drive(
    port: int, planned: list[Planned], *, started: list[dt.datetime] | None = None
) -> list[Done]:
    """Send every planned request at its moment; `started`, when given, receives the
    wall-clock moment the plan's zero stands for."""
    done: list[Done] = []

    async def main() -> None:
        pool: asyncio.Queue = asyncio.Queue()
        for _ in range(CONNECTIONS):
            pool.put_nowait(await asyncio.open_connection("127.0.0.1", port))
        start = time.perf_counter() + 0.5
        if started is not None:
            started.append(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=0.5))
        await asyncio.gather(*(_send(pool, port, p, start, done) for p in planned))
        while not pool.empty():
            _, writer = pool.get_nowait()
            writer.close()

    asyncio.run(main())
    return done
