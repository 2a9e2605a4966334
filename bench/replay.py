"""make bench-replay: stage history in event time at scale (issue 15).

Builds bench-sweep's data set (CONTACTS contacts, default 1,000,000, a year of ~10
events each, with COPY), then times:

  replay_s        replaying every contact's year from the beginning (THREADS threads,
                  default 2, each replaying chunks of CHUNK contacts in one statement)
  replay_s_per_contact
  day_by_day_sample_s_per_contact
                  the obvious alternative on a sample (SAMPLE contacts, default 200):
                  for each day of the year, recompute the sample's summaries as of
                  that day and evaluate its stages with the engine (rolled back)
  late_event_p95_s
                  from accepting a late purchase (in the middle of a contact's year)
                  to its replayed history being written, while a load thread ingests
                  LOAD_EPS events a second (default 300) and an engine thread drains
                  the marks as the Celery task does (LATE samples, default 40)

Prints one JSON object as its last line."""

from __future__ import annotations

import datetime as dt
import os
import random
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.common import django_setup, fresh_database, machine, migrate, report
from bench.sweep_data import CONTACTS, build, log

THREADS = int(os.environ.get("THREADS", "2"))
CHUNK = int(os.environ.get("CHUNK", "20000"))
SAMPLE = int(os.environ.get("SAMPLE", "200"))
LATE = int(os.environ.get("LATE", "40"))
LOAD_EPS = int(os.environ.get("LOAD_EPS", "300"))


def replay_everyone(workspace: Any, now: dt.datetime) -> tuple[float, int]:
    from django.db import connection

    from contacts.models import Contact
    from lifecycle.services import stages_replay

    ids = list(
        Contact.objects.filter(workspace=workspace).order_by("pk").values_list("pk", flat=True)
    )
    chunks = [ids[i : i + CHUNK] for i in range(0, len(ids), CHUNK)]

    def run(chunk: list[int]) -> int:
        try:
            return stages_replay(workspace=workspace, since=dict.fromkeys(chunk), now=now)
        finally:
            connection.close()

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        written = sum(pool.map(run, chunks))
    return time.perf_counter() - started, written


def day_by_day(workspace: Any, now: dt.datetime) -> float:
    """The sample replayed one day at a time through the engine, then rolled back."""
    from django.db import connection, transaction

    from contacts.models import Contact
    from contacts.rules import Scope
    from contacts.services import event_summaries_rebuild
    from lifecycle.services import stages_evaluate

    sample = list(
        Contact.objects.filter(workspace=workspace)
        .order_by("?")
        .values_list("pk", flat=True)[:SAMPLE]
    )
    started = time.perf_counter()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "DELETE FROM lifecycle_stagetransition WHERE contact_id = ANY(%s)", [sample]
            )
            cursor.execute(
                "DELETE FROM lifecycle_contactstage WHERE contact_id = ANY(%s)", [sample]
            )
        for days in range(365, -1, -1):
            moment = now - dt.timedelta(days=days)
            event_summaries_rebuild(workspace_id=workspace.pk, as_of=moment, contact_ids=sample)
            stages_evaluate(workspace=workspace, scope=Scope.of(sample), now=moment)
        elapsed = time.perf_counter() - started
        transaction.set_rollback(True)
    return elapsed / len(sample)


def late_events(workspace: Any) -> list[float]:
    """Seconds from accepting each late purchase to its contact's replay being done."""
    from django.db import connection
    from django.utils import timezone

    from contacts.models import Contact
    from contacts.services import events_ingest
    from lifecycle.services import marked_contacts_evaluate

    ids = list(Contact.objects.filter(workspace=workspace).values_list("pk", flat=True))
    rng = random.Random(15)
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            batch = [
                {"contact": {"id": rng.choice(ids)}, "name": "page_view"}
                for _ in range(LOAD_EPS // 10)
            ]
            events_ingest(workspace=workspace, items=batch)
            time.sleep(0.1)
        connection.close()

    def engine() -> None:
        while not stop.is_set():
            if not marked_contacts_evaluate(limit=2000):
                time.sleep(0.05)
        connection.close()

    threads = [threading.Thread(target=load), threading.Thread(target=engine)]
    for thread in threads:
        thread.start()
    lags = []
    try:
        for _ in range(LATE):
            contact_id = rng.choice(ids)
            moment = timezone.now() - dt.timedelta(days=rng.randint(30, 300))
            accepted = time.perf_counter()
            result = events_ingest(
                workspace=workspace,
                items=[
                    {
                        "contact": {"id": contact_id},
                        "name": "purchase",
                        "revenue": "25.00",
                        "occurred_at": moment.isoformat(),
                    }
                ],
            )
            assert result.accepted == 1
            with connection.cursor() as cursor:
                while True:
                    cursor.execute(
                        "SELECT EXISTS (SELECT 1 FROM contacts_contactmark WHERE contact_id = %s)",
                        [contact_id],
                    )
                    if not cursor.fetchone()[0]:
                        break
                    time.sleep(0.01)
            lags.append(time.perf_counter() - accepted)
            time.sleep(0.2)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    return lags


def main() -> None:
    url = fresh_database()
    django_setup(url)
    log("migrating the bench database")
    migrate()
    from django.db import connection

    from contacts.services import event_summaries_rebuild
    from lifecycle.models import StageTransition
    from workspaces.services import workspace_provision

    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    workspace, _ = workspace_provision(slug="bench", name="Bench")
    events = build(workspace.pk, now)
    event_summaries_rebuild(workspace_id=workspace.pk)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE contacts_eventsummary")

    log(f"replay: {CONTACTS} contacts, {events} events, {THREADS} threads")
    replay_s, written = replay_everyone(workspace, now)
    log(f"replayed in {replay_s:.1f}s, {written} moves")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE lifecycle_stagetransition")
        cursor.execute("VACUUM ANALYZE lifecycle_contactstage")
    log(f"day by day on a sample of {SAMPLE}")
    per_contact_daily = day_by_day(workspace, now)
    log("late events under load")
    # Moves from the replay are history: mark them handed on, as the dispatch would.
    StageTransition.objects.filter(workspace=workspace).update(notified_at=now)
    lags = late_events(workspace)
    lags.sort()
    report(
        {
            "bench": "replay",
            "machine": machine(),
            "contacts": CONTACTS,
            "events": events,
            "moves_written": written,
            "replay_s": round(replay_s, 1),
            "replay_s_per_contact": round(replay_s / CONTACTS, 7),
            "day_by_day_sample_s_per_contact": round(per_contact_daily, 4),
            "speedup": round(per_contact_daily / (replay_s / CONTACTS), 1),
            "late_event_p50_s": round(statistics.median(lags), 3),
            "late_event_p95_s": round(lags[int(len(lags) * 0.95) - 1], 3),
            "load_events_per_s": LOAD_EPS,
        }
    )


if __name__ == "__main__":
    main()
