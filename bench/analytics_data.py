"""The data set of bench/analytics.py: a year of events for every contact and the
stage history the default stages' rules give them, built in bulk."""

from __future__ import annotations

import bisect
import datetime as dt
import os
import random
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bench.common import (
    copy_contacts,
)
from bench.sweep_data import contact_events, event_row

CONTACTS = int(os.environ.get("CONTACTS", "1000000"))
DAY = dt.timedelta(days=1)
SOURCES = ["organic", "ads", "referral", "social", "partner"]
SEED = 17


def log(message: str) -> None:
    print(f"[bench-analytics] {message}", flush=True)


def _last(moments: list[dt.datetime], t: dt.datetime) -> dt.datetime | None:
    i = bisect.bisect_right(moments, t)
    return moments[i - 1] if i else None


@dataclass
class _Moments:
    """A contact's event moments by kind, sorted."""

    purchases: list[dt.datetime]
    referrals: list[dt.datetime]
    leads: list[dt.datetime]
    views: list[dt.datetime]

    def stage_at(self, t: dt.datetime) -> str:
        bought = bisect.bisect_right(self.purchases, t)
        last_purchase = self.purchases[bought - 1] if bought else None
        referral = _last(self.referrals, t)
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
        lead = _last(self.leads, t)
        if lead and t - lead <= 60 * DAY:
            return "lead"
        recent = bisect.bisect_right(self.views, t) - bisect.bisect_left(self.views, t - 30 * DAY)
        return "lead" if recent >= 5 else "subscriber"

    def instants(self, signup: dt.datetime) -> set[dt.datetime]:
        """Every moment the stage can change: each event, and each lapse of a window."""
        second = dt.timedelta(seconds=1)
        instants = {signup}
        for moment in self.purchases:
            instants.update((moment, moment + 60 * DAY + second, moment + 90 * DAY + second))
            instants.add(moment + 180 * DAY + second)
        for moment in self.referrals:
            instants.update((moment, moment + 180 * DAY + second))
        for moment in self.leads:
            instants.update((moment, moment + 60 * DAY + second))
        for moment in self.views:
            instants.update((moment, moment + 30 * DAY + second))
        return instants


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
    contact = _Moments(
        purchases=by_name.get("purchase", []),
        referrals=by_name.get("referral_sent", []),
        leads=sorted(by_name.get("trial_started", []) + by_name.get("cart_abandoned", [])),
        views=by_name.get("page_view", []),
    )
    history: list[tuple[dt.datetime, str]] = []
    for moment in sorted(m for m in contact.instants(signup) if signup <= m <= now):
        stage = contact.stage_at(moment)
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
                        event_row(workspace_id, first_id + i, name, moment, revenue, properties)
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
            "(contact_id, name, occurred_at) INCLUDE (workspace_id)",
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
