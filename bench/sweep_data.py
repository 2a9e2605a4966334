"""The data set of bench/sweep.py (and bench/mixed.py's shops): a year of page views,
trials, carts, purchases and referrals per contact, written in bulk."""

from __future__ import annotations

import datetime as dt
import os
import random
import time
from decimal import Decimal
from typing import Any

from bench.common import (
    copy_contacts,
)

CONTACTS = int(os.environ.get("CONTACTS", "1000000"))
SEED = 11


def log(message: str) -> None:
    print(f"[bench-sweep] {message}", flush=True)


def event_row(
    workspace_id: int, contact_id: int, name: str, moment: Any, revenue: Any, properties: str
) -> tuple:
    """One contacts_event row for COPY (the columns the benchmarks copy in)."""
    currency = "USD" if revenue is not None else ""
    return (workspace_id, contact_id, name, properties, revenue, currency, moment, moment)


PAGES = ["/", "/shop", "/pricing", "/blog", "/brew-guides"]


def contact_events(rng: random.Random, now: dt.datetime, signup: dt.datetime) -> list[tuple]:
    """(name, occurred_at, revenue, properties) for one synthetic contact."""
    span = max(1.0, (now - signup).total_seconds() / 86400)

    def at(after_days: float = 0.0) -> dt.datetime:
        offset = after_days + rng.random() * max(0.0, span - after_days)
        return min(now, signup + dt.timedelta(days=offset))

    events: list[tuple] = [("signed_up", signup, None, '{"form": "footer"}')]
    roll = rng.random()
    views = rng.randint(2, 9)
    purchases: list[dt.datetime] = []
    if roll < 0.36:  # subscriber
        pass
    elif roll < 0.58:  # lead
        views += rng.randint(3, 12)
        if rng.random() < 0.5:
            events.append(("trial_started", at(), None, "{}"))
        if rng.random() < 0.6:
            events.append(("cart_abandoned", at(), None, '{"items": 2}'))
    elif roll < 0.74:  # one purchase
        purchases = [at()]
    elif roll < 0.86:  # repeat
        first = at()
        purchases = [
            first + dt.timedelta(days=rng.randint(15, 60) * k) for k in range(rng.randint(2, 4))
        ]
    elif roll < 0.93:  # loyal
        first = signup + dt.timedelta(days=rng.random() * 20)
        step = rng.randint(20, 35)
        purchases = [first + dt.timedelta(days=step * k) for k in range(14)]
        if rng.random() < 0.5:
            events.append(("referral_sent", at(30), None, '{"channel": "link"}'))
    else:  # lapsed
        first = signup + dt.timedelta(days=rng.random() * 10)
        purchases = [
            first + dt.timedelta(days=rng.randint(10, 40) * k) for k in range(rng.randint(1, 3))
        ]
        cutoff = now - dt.timedelta(days=rng.randint(80, 250))
        purchases = [p for p in purchases if p <= cutoff]
    for _ in range(views):
        events.append(("page_view", at(), None, '{"path": "/shop"}'))
    for moment in purchases:
        if moment <= now:
            events.append(
                ("purchase", moment, Decimal(rng.randint(900, 12000)) / 100, '{"items": 1}')
            )
    return events


def build(workspace_id: int, now: dt.datetime) -> int:
    """COPY the contacts and their events; returns the number of events."""
    from django.db import connection

    rng = random.Random(SEED)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        for index in ("event_contact_name_time", "event_ws_name_time"):
            cursor.execute(f"DROP INDEX IF EXISTS {index}")
        plans = ["free", "free", "basic", "pro"]
        first_id, signups = copy_contacts(
            cursor,
            workspace_id=workspace_id,
            count=CONTACTS,
            rng=rng,
            now=now,
            attributes=lambda i: {"plan": plans[i % 4], "country": "US"},
        )
        log(f"{CONTACTS} contacts copied in {time.perf_counter() - started:.1f}s")
        started = time.perf_counter()
        events = 0
        with cursor.cursor.copy(
            "COPY contacts_event (workspace_id, contact_id, name, properties, revenue, currency, "
            "occurred_at, received_at) FROM STDIN"
        ) as copy:
            for i, signup in enumerate(signups):
                for name, moment, revenue, properties in contact_events(rng, now, signup):
                    copy.write_row(
                        event_row(workspace_id, first_id + i, name, moment, revenue, properties)
                    )
                    events += 1
        log(f"{events} events copied in {time.perf_counter() - started:.1f}s")
        started = time.perf_counter()
        cursor.execute(
            "CREATE INDEX event_contact_name_time ON contacts_event "
            "(contact_id, name, occurred_at) INCLUDE (workspace_id)"
        )
        cursor.execute(
            "CREATE INDEX event_ws_name_time ON contacts_event (workspace_id, name, occurred_at)"
        )
        cursor.execute("VACUUM ANALYZE contacts_contact")
        cursor.execute("VACUUM ANALYZE contacts_event")
        log(f"event indexes built in {time.perf_counter() - started:.1f}s")
    return events


# -- timed work ---------------------------------------------------------------------------
