"""make bench-journey: CONTACTS contacts (default 1,000,000) entering a three-step
journey (send email → wait → send email), advanced by WORKERS real Celery workers
(default 2), with this process acting as beat (one advance task a second, as the
beat schedule does).

  entry_s      the contacts join the trigger segment (an attribute flips for all of
               them) and the segment scan enrols every one: set-based, one pass
  steps_per_s  step advancements (a contact completing a step: 3 per contact) per
               second of worker time, over both phases: everyone's first two steps
               when all are due at once, then the last step
  p95_lag_s    between a contact's due time and its step having run (its message
               in the outbox), with the waits ending at LAG_RATE contacts a second
               (default 5,000, the throughput target): how late a due step runs
               when the load is steady rather than a one-off backlog

Duplicates (two messages for one contact and step) and contacts left behind are
counted. Prints one JSON object as its last line."""

from __future__ import annotations

import datetime as dt
import os
import time
from typing import Any

from bench.common import (
    ROOT,
    bench_env,
    cpu_ms_per,
    cpu_seconds_by_process,
    django_setup,
    fresh_database,
    machine,
    migrate,
    report,
)

CONTACTS = int(os.environ.get("CONTACTS", "1000000"))
WORKERS = int(os.environ.get("WORKERS", "2"))
LAG_RATE = int(os.environ.get("LAG_RATE", "5000"))
DB = "stagecraft_bench_journey"


def log(message: str) -> None:
    print(f"[bench-journey] {message}", flush=True)


def drain(label: str, until: Any, timeout: float = 3600) -> float:
    """Beat's part: an advance task a second until `until()`; returns seconds."""
    from campaigns.tasks import journeys_advance_task

    started = time.perf_counter()
    while not until():
        tick = time.monotonic()
        journeys_advance_task.delay()
        if time.perf_counter() - started > timeout:
            raise RuntimeError(f"{label}: not done after {timeout} s")
        time.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))
    return time.perf_counter() - started


def main() -> None:
    url = fresh_database(DB)
    django_setup(url)
    migrate()
    from django.db import connection
    from django.utils import timezone

    from bench.send import build_contacts
    from campaigns.journeys.segment_trigger import segment_scan
    from campaigns.journeys.services import (
        journey_create,
        journey_pause,
        journey_resume,
        journey_schedule,
    )
    from campaigns.models import JourneyEnrolment
    from contacts.models import Segment
    from messaging.models import Message
    from messaging.services import template_create
    from tests.processes import Worker, purge_broker
    from workspaces.services import Actor, workspace_provision

    actor = Actor(system="bench")
    workspace, _ = workspace_provision(slug="bench", name="Bench Coffee")
    template = template_create(
        workspace=workspace,
        data={
            "name": "Welcome",
            "channel": "email",
            "subject": "Welcome, {{ first_name }}",
            "from_email": "news@bench.example",
            "body": "<p>Hi {{ first_name }}</p>",
        },
        actor=actor,
    )
    log(f"building {CONTACTS} contacts")
    build_contacts(workspace.pk, CONTACTS)
    segment = Segment.objects.create(
        workspace=workspace, name="members", rule={"attr": "member", "op": "eq", "value": True}
    )
    journey = journey_create(
        workspace=workspace,
        data={
            "name": "Welcome series",
            "trigger": {"kind": "segment_joined", "segment_id": segment.pk},
            "exit_on_unsubscribe": False,
            "steps": [
                {
                    "key": "welcome",
                    "kind": "send_email",
                    "config": {"template_id": template.pk, "next": "pause"},
                },
                {
                    "key": "pause",
                    "kind": "wait",
                    "config": {"duration": {"days": 1}, "next": "tips"},
                },
                {"key": "tips", "kind": "send_email", "config": {"template_id": template.pk}},
            ],
        },
        actor=actor,
    )
    journey = journey_schedule(journey=journey, actor=actor)

    log("entry: every contact joins the segment")
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE contacts_contact SET attributes = attributes || '{\"member\": true}'"
        )
        cursor.execute("ANALYZE contacts_contact")
    started = time.perf_counter()
    entered = segment_scan(journey)
    entry_s = time.perf_counter() - started
    log(f"entry: {entered} enrolments in {entry_s:.1f}s")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE campaigns_journeyenrolment")

    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    worker_env = {**bench_env(url), "LOG_LEVEL": "WARNING", "JOURNEY_PUMP_SECONDS": "20"}
    os.environ.update(bench_env(url))
    purge_broker()
    worker = Worker(concurrency=WORKERS, log=ROOT / "bench" / "results" / "journey-worker.log")
    worker.start(env=worker_env)
    try:
        # Polled every second: existence on the due index, not a count of a million rows.
        def nothing_due() -> bool:
            return not JourneyEnrolment.objects.filter(
                status__in=["active", "holdout"], due_at__lte=timezone.now()
            ).exists()

        cpu_before = cpu_seconds_by_process()
        log("phase 1: everyone's welcome email and the start of the wait, all due at once")
        phase1_s = drain("phase 1", nothing_due)
        cpu_mid = cpu_seconds_by_process()
        log(f"phase 1: {2 * entered} steps in {phase1_s:.1f}s")

        # The waits end at LAG_RATE a second, in id order, from a moment far enough
        # ahead that rewriting a million due times is over before the first: the
        # journey is paused meanwhile, so no worker starts on a half-written schedule.
        journey_pause(journey=journey, actor=actor)
        base = timezone.now() + dt.timedelta(seconds=max(20.0, 150.0 * entered / 1_000_000))
        with connection.cursor() as cursor:
            cursor.execute(
                """CREATE TABLE bench_due AS
                   SELECT id, %s::timestamptz
                              + (row_number() OVER (ORDER BY id)) * interval '1 second' / %s
                              AS due
                   FROM campaigns_journeyenrolment WHERE journey_id = %s""",
                [base, LAG_RATE, journey.pk],
            )
            cursor.execute("CREATE UNIQUE INDEX ON bench_due (id)")
            cursor.execute(
                """UPDATE campaigns_journeyenrolment e SET due_at = d.due, resume_at = d.due
                   FROM bench_due d WHERE d.id = e.id"""
            )
            cursor.execute("ANALYZE campaigns_journeyenrolment")
        ahead = (base - timezone.now()).total_seconds()
        log(f"phase 2: schedule written, {ahead:.0f}s before the first wait ends")
        if ahead < 0:
            raise RuntimeError("the schedule took longer to write than the margin; raise it")
        journey_resume(journey=journey, actor=actor)
        inside = JourneyEnrolment.objects.filter(journey=journey, status__in=["active"])
        log(f"phase 2: the waits end at {LAG_RATE}/s; the follow-up email")
        phase2_s = drain("phase 2", lambda: not inside.exists())
        cpu_after = cpu_seconds_by_process()
        peak_rss = worker.peak_rss_mb()
    finally:
        worker.stop()

    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (
                   ORDER BY extract(epoch FROM m.created_at - d.due)),
                      max(extract(epoch FROM m.created_at - d.due))
               FROM campaigns_message m
               JOIN campaigns_journeystep s
                 ON m.origin_kind = 'journey_step' AND s.id = m.origin_id AND s.key = 'tips'
               JOIN bench_due d ON m.idempotency_key = 'journey:' || d.id || ':' || s.id"""
        )
        (p50, p95, p99), max_lag = cursor.fetchone()
        cursor.execute(
            """SELECT count(*) - count(DISTINCT (contact_id, origin_id))
               FROM campaigns_message"""
        )
        duplicates = cursor.fetchone()[0]
    messages = Message.objects.count()
    done = JourneyEnrolment.objects.filter(journey=journey, status="completed").count()
    left_behind = entered - done
    steps = 3 * entered
    # Phase 2 is paced by the due times (LAG_RATE), so throughput is phase 1's rate
    # (two steps per contact, all due at once) — the backlog case.
    steps_per_s = 2 * entered / phase1_s
    result = {
        "benchmark": "journey",
        "contacts": entered,
        "entry_s": round(entry_s, 2),
        "steps": steps,
        "steps_per_s": round(steps_per_s),
        "phase1_s": round(phase1_s, 1),
        "phase2_s": round(phase2_s, 1),
        "lag_rate_per_s": LAG_RATE,
        "p50_lag_s": round(float(p50), 3),
        "p95_lag_s": round(float(p95), 3),
        "p99_lag_s": round(float(p99), 3),
        "max_lag_s": round(float(max_lag), 3),
        "messages": messages,
        "duplicates": duplicates,
        "left_behind": left_behind,
        "workers": WORKERS,
        "worker_peak_rss_mb": round(peak_rss, 1),
        "cpu_ms_per_step_phase1": cpu_ms_per(cpu_before, cpu_mid, 2 * entered),
        "cpu_ms_per_step_phase2": cpu_ms_per(cpu_mid, cpu_after, entered),
        "machine": machine(),
    }
    report(result)


if __name__ == "__main__":
    main()
