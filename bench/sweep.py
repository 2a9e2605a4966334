"""make bench-sweep: the lifecycle engine at scale.

Builds a synthetic workspace (CONTACTS contacts, default 1,000,000, with ~10 events
each, the default stages) with COPY, derives the event summaries, then times, with
real Celery worker processes (WORKERS, default 2) running the sweep's chunks:

  sweep_all_s     the first sweep: every contact enters a stage (and gets its due
                  moment: lifecycle/services/due.py)
  due_none_s      a due run when nothing is due
  due_10pct_s     the due run DAYS_LATER days on (default 21): ~10% move, on time
                  (the set-based statement); due_10pct_replayed_s the same run late
                  (replayed, every move dated at its boundary)
  safety_sweep_moved  a periodic (safety) sweep right after it: what it moves (0)
  boundary_lag_p95_s  due runs every LIFECYCLE_DUE_SECONDS (15) of a simulated clock
                  for LAG_HOURS (2): p95 of boundary → stage change (bench/sweep_due.py)
  sweep_10pct_s   instead, a full sweep DAYS_LATER days on: the same ~10% move
  sweep_none_s    the same sweep again: nothing moves
  floor_sql_s     the 10% sweep as one hand-written SQL statement on the same tables
  segment_count_s counting a typical segment
  naive_per_contact_s  a per-contact ORM loop (load events, decide, save) on a 10k
                  sample, per contact; engine_per_contact_s is the 10% sweep per contact

Prints one JSON object as its last line."""

from __future__ import annotations

import datetime as dt
import os
import time
from typing import Any

from bench.common import (
    BENCH_DB,
    ROOT,
    bench_env,
    database_from_template,
    django_setup,
    fresh_database,
    machine,
    migrate,
    report,
)
from bench.sweep_data import CONTACTS, build, log
from bench.sweep_due import LAG_HOURS, TICK_SECONDS, boundary_lag, due_rows, due_run

WORKERS = int(os.environ.get("WORKERS", "2"))
DAYS_LATER = int(os.environ.get("DAYS_LATER", "21"))
NAIVE_SAMPLE = int(os.environ.get("NAIVE_SAMPLE", "10000"))


def run_sweep(workspace: Any, now: dt.datetime, reason: str = "bench") -> tuple[float, int]:
    """A sweep through the Celery workers; (seconds, contacts moved)."""
    from django.db import transaction

    from lifecycle.services import sweep_start

    started = time.perf_counter()
    with transaction.atomic():
        run = sweep_start(workspace=workspace, reason=reason, now=now)
    while True:
        run.refresh_from_db()
        if run.finished_at is not None:
            break
        time.sleep(0.01)
    return time.perf_counter() - started, run.contacts_changed


FLOOR_SQL = """
WITH stats AS (
    SELECT c.id,
        p.count AS purchases, p.last_at AS last_purchase,
        r.last_at AS last_referral, t.last_at AS last_trial, a.last_at AS last_cart,
        (SELECT count(*) FROM contacts_event e WHERE e.contact_id = c.id AND e.name = 'page_view'
           AND e.occurred_at >= %(d30)s) AS views_30
    FROM contacts_contact c
    LEFT JOIN contacts_eventsummary p ON p.contact_id = c.id AND p.name = 'purchase'
    LEFT JOIN contacts_eventsummary r ON r.contact_id = c.id AND r.name = 'referral_sent'
    LEFT JOIN contacts_eventsummary t ON t.contact_id = c.id AND t.name = 'trial_started'
    LEFT JOIN contacts_eventsummary a ON a.contact_id = c.id AND a.name = 'cart_abandoned'
    WHERE c.workspace_id = %(ws)s
), computed AS (
    SELECT id, CASE
        WHEN last_referral >= %(d180)s AND last_purchase >= %(d90)s THEN %(advocate)s
        WHEN purchases >= 4 AND last_purchase >= %(d60)s THEN %(loyal)s
        WHEN last_purchase < %(d180)s THEN %(lapsed)s
        WHEN last_purchase < %(d90)s THEN %(at_risk)s
        WHEN purchases >= 2 THEN %(repeat)s
        WHEN purchases >= 1 THEN %(customer)s
        WHEN last_trial >= %(d60)s OR last_cart >= %(d60)s OR views_30 >= 5 THEN %(lead)s
        ELSE %(subscriber)s END AS new_stage
    FROM stats
), moved AS (
    UPDATE lifecycle_contactstage cs SET stage_id = c.new_stage, entered_at = %(now)s
    FROM computed c, lifecycle_contactstage old
    WHERE cs.contact_id = c.id AND old.contact_id = c.id AND cs.stage_id <> c.new_stage
    RETURNING cs.contact_id, old.stage_id AS old_stage, c.new_stage
)
INSERT INTO lifecycle_stagetransition
    (workspace_id, contact_id, from_stage_id, to_stage_id, at, cause, rule_version, reason)
SELECT %(ws)s, contact_id, old_stage, new_stage, %(now)s, 'rule', 1, 'floor' FROM moved
"""


def floor_sweep(workspace: Any, stages: dict[str, int], now: dt.datetime) -> tuple[float, int]:
    from django.db import connection, transaction

    params: dict[str, Any] = {"ws": workspace.pk, "now": now, **stages}
    for days in (30, 60, 90, 180):
        params[f"d{days}"] = now - dt.timedelta(days=days)
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")
        cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute(FLOOR_SQL, params)
        moved = cursor.rowcount
    return time.perf_counter() - started, moved


def naive_sweep(workspace: Any, stages: dict[str, int], now: dt.datetime) -> float:
    """What a straightforward per-contact ORM implementation does, on a sample."""
    from django.db import transaction

    from contacts.models import Contact, Event
    from lifecycle.models import ContactStage, StageTransition

    def decide(events: list[Event]) -> str:
        purchases = sorted(e.occurred_at for e in events if e.name == "purchase")
        last = purchases[-1] if purchases else None
        recent = [
            e
            for e in events
            if e.name == "referral_sent" and e.occurred_at >= now - dt.timedelta(days=180)
        ]
        if recent and last and last >= now - dt.timedelta(days=90):
            return "advocate"
        if len(purchases) >= 4 and last and last >= now - dt.timedelta(days=60):
            return "loyal"
        if last and last < now - dt.timedelta(days=180):
            return "lapsed"
        if last and last < now - dt.timedelta(days=90):
            return "at_risk"
        if len(purchases) >= 2:
            return "repeat"
        if purchases:
            return "customer"
        lead = [
            e
            for e in events
            if (
                e.name in ("trial_started", "cart_abandoned")
                and e.occurred_at >= now - dt.timedelta(days=60)
            )
        ]
        views = [
            e
            for e in events
            if e.name == "page_view" and e.occurred_at >= now - dt.timedelta(days=30)
        ]
        return "lead" if lead or len(views) >= 5 else "subscriber"

    sample = list(Contact.objects.filter(workspace=workspace).order_by("?")[:NAIVE_SAMPLE])
    started = time.perf_counter()
    for contact in sample:
        with transaction.atomic():
            events = list(Event.objects.filter(contact=contact))
            stage_id = stages[decide(events)]
            state = ContactStage.objects.select_for_update().get(contact=contact)
            if state.stage_id != stage_id:
                StageTransition.objects.create(
                    workspace=workspace,
                    contact=contact,
                    from_stage_id=state.stage_id,
                    to_stage_id=stage_id,
                    at=now,
                    cause="rule",
                    reason="naive",
                )
                state.stage_id, state.entered_at = stage_id, now
                state.save(update_fields=["stage", "entered_at"])
    return (time.perf_counter() - started) / len(sample)


_snapshot_state: dict[str, int] = {}


def snapshot(create: bool) -> None:
    """Save or restore contact stages, so the floor runs from the same state."""
    from django.db import connection

    with connection.cursor() as cursor:
        if create:
            cursor.execute("DROP TABLE IF EXISTS bench_stage_snapshot")
            cursor.execute(
                "CREATE TABLE bench_stage_snapshot AS SELECT * FROM lifecycle_contactstage"
            )
            cursor.execute("DROP TABLE IF EXISTS bench_due_snapshot")
            cursor.execute("CREATE TABLE bench_due_snapshot AS SELECT * FROM lifecycle_contactdue")
            cursor.execute("SELECT coalesce(max(id), 0) FROM lifecycle_stagetransition")
            _snapshot_state["max_transition"] = cursor.fetchone()[0]
        else:
            cursor.execute(
                "DELETE FROM lifecycle_stagetransition WHERE id > %s",
                [_snapshot_state["max_transition"]],
            )
            cursor.execute("TRUNCATE lifecycle_contactstage")
            cursor.execute("INSERT INTO lifecycle_contactstage SELECT * FROM bench_stage_snapshot")
            cursor.execute("ANALYZE lifecycle_contactstage")
            cursor.execute("TRUNCATE lifecycle_contactdue")
            cursor.execute("INSERT INTO lifecycle_contactdue SELECT * FROM bench_due_snapshot")
            cursor.execute("ANALYZE lifecycle_contactdue")


# SWEEP_BUILD_ONLY=1 builds the data set (contacts, events, summaries) into BENCH_DB
# and stops, keeping it; SWEEP_TEMPLATE=<that database> then starts each run from a
# copy of it instead of building again (an hour at 1M contacts on a loaded VM).
BUILD_ONLY = os.environ.get("SWEEP_BUILD_ONLY") == "1"
TEMPLATE = os.environ.get("SWEEP_TEMPLATE", "")
# DUE_REPLAYED=0 skips timing the late (replayed) due run, the longest part at 1M.
REPLAYED = os.environ.get("DUE_REPLAYED", "1") == "1"


def prepare() -> tuple[str, Any, dt.datetime, int]:
    """The bench database with its data: (url, workspace, build moment, events)."""
    url = database_from_template(TEMPLATE) if TEMPLATE else None
    if url is not None:
        django_setup(url)
        log(f"copied from {TEMPLATE}; migrating")
        migrate()
        from django.db import connection

        from workspaces.models import Workspace

        with connection.cursor() as cursor:
            cursor.execute("SELECT now_at, events FROM bench_sweep_meta")
            now, events = cursor.fetchone()
        return url, Workspace.objects.get(slug="bench"), now, int(events)
    url = fresh_database()
    django_setup(url)
    log("migrating the bench database")
    migrate()
    from django.db import connection

    from contacts.services import event_summaries_rebuild
    from workspaces.services import workspace_provision

    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    workspace, _ = workspace_provision(slug="bench", name="Bench")
    events = build(workspace.pk, now)
    started = time.perf_counter()
    summaries = event_summaries_rebuild(workspace_id=workspace.pk)
    with connection.cursor() as cursor:
        # What autovacuum does after a bulk load: statistics, and the visibility map
        # that lets rule sub-queries be index-only scans.
        cursor.execute("VACUUM ANALYZE contacts_eventsummary")
        cursor.execute("CREATE TABLE bench_sweep_meta (now_at timestamptz, events bigint)")
        cursor.execute("INSERT INTO bench_sweep_meta VALUES (%s, %s)", [now, events])
    log(f"{summaries} event summaries derived in {time.perf_counter() - started:.1f}s")
    return url, workspace, now, events


def main() -> None:
    url, workspace, now, events = prepare()
    if BUILD_ONLY:
        log(f"built; SWEEP_TEMPLATE={BENCH_DB} runs from a copy of it")
        return
    from django.db import connection

    from contacts.rules import contacts_matching, matching_count
    from lifecycle.selectors import stages_for_workspace
    from tests.processes import Worker  # a real Celery worker process, as in the tests

    stages = {s.key: s.pk for s in stages_for_workspace(workspace=workspace)}

    worker = Worker(concurrency=WORKERS, log=ROOT / "bench" / "results" / "sweep-worker.log")
    os.environ.update(bench_env(url))
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    worker.start(env={"DJANGO_SETTINGS_MODULE": "config.settings", "DATABASE_URL": url})
    peak_rss = 0.0
    try:
        log("sweep: every contact enters a stage")
        sweep_all_s, moved_all = run_sweep(workspace, now)
        log(f"  {sweep_all_s:.1f}s, {moved_all} moved")
        peak_rss = max(peak_rss, worker.peak_rss_mb())
        with connection.cursor() as cursor:
            # What autovacuum does after the bulk of the first sweep's writes.
            cursor.execute("ANALYZE lifecycle_contactstage")
            cursor.execute("ANALYZE lifecycle_stagetransition")
            cursor.execute("VACUUM ANALYZE lifecycle_contactdue")
        rows = due_rows(workspace)
        log(f"due run: nothing due ({rows} contacts have a due moment)")
        due_none_s, due_none_evaluated, _ = due_run(workspace, now)
        later = now + dt.timedelta(days=DAYS_LATER)
        snapshot(create=True)
        log(f"due run: {DAYS_LATER} days later")
        due_10pct_s, due_10pct_evaluated, due_10pct_moved = due_run(workspace, later)
        log(f"  {due_10pct_s:.1f}s, {due_10pct_evaluated} evaluated, {due_10pct_moved} moved")
        log("safety sweep after it (periodic: what it moves, the due runs missed)")
        safety_s, safety_moved = run_sweep(workspace, later, reason="periodic")
        log(f"  {safety_s:.1f}s, {safety_moved} moved")
        log(f"due runs every {TICK_SECONDS:g}s of the clock for {LAG_HOURS:g}h: boundary lag")
        lag_p95, lag_moves = boundary_lag(workspace, later)
        log(f"  p95 {lag_p95}s over {lag_moves} moves")
        snapshot(create=False)
        due_exact_s: float | None = None
        due_exact_moved: int | None = None
        if REPLAYED:
            log(f"due run: {DAYS_LATER} days later, every due contact late (replayed)")
            due_exact_s, _, due_exact_moved = due_run(workspace, later, exact=True)
            log(f"  {due_exact_s:.1f}s, {due_exact_moved} moved")
            snapshot(create=False)
        log(f"sweep: {DAYS_LATER} days later")
        sweep_10pct_s, moved_10pct = run_sweep(workspace, later)
        peak_rss = max(peak_rss, worker.peak_rss_mb())
        log("sweep: the same again")
        sweep_none_s, moved_none = run_sweep(workspace, later)
        peak_rss = max(peak_rss, worker.peak_rss_mb())
    finally:
        worker.stop()
    snapshot(create=False)
    log("floor: the 10% sweep as one hand-written statement")
    floor_s, moved_floor = floor_sweep(workspace, stages, later)
    rule = {
        "all": [
            {"attr": "plan", "op": "eq", "value": "pro"},
            {"event": "purchase", "count": {"gte": 2}},
            {"event": "purchase", "last": {"older_than_days": 30}},
        ]
    }
    started = time.perf_counter()
    segment_count = matching_count(contacts_matching(rule, workspace=workspace, now=later))
    segment_count_s = time.perf_counter() - started
    log(f"naive per-contact loop on {NAIVE_SAMPLE} contacts")
    naive_s = naive_sweep(workspace, stages, later)
    engine_per_contact = sweep_10pct_s / CONTACTS
    report(
        {
            "benchmark": "sweep",
            "contacts": CONTACTS,
            "events": events,
            "workers": WORKERS,
            "sweep_all_s": round(sweep_all_s, 3),
            "sweep_all_changed": moved_all,
            "due_rows": rows,
            "due_none_s": round(due_none_s, 3),
            "due_none_evaluated": due_none_evaluated,
            "due_10pct_s": round(due_10pct_s, 3),
            "due_10pct_evaluated": due_10pct_evaluated,
            "due_10pct_changed": due_10pct_moved,
            "due_10pct_replayed_s": None if due_exact_s is None else round(due_exact_s, 3),
            "due_10pct_replayed_changed": due_exact_moved,
            "safety_sweep_s": round(safety_s, 3),
            "safety_sweep_moved": safety_moved,
            "boundary_lag_p95_s": None if lag_p95 is None else round(lag_p95, 3),
            "boundary_lag_moves": lag_moves,
            "sweep_10pct_s": round(sweep_10pct_s, 3),
            "sweep_10pct_changed": moved_10pct,
            "sweep_none_s": round(sweep_none_s, 3),
            "sweep_none_changed": moved_none,
            "floor_sql_s": round(floor_s, 3),
            "floor_sql_changed": moved_floor,
            "segment_count_s": round(segment_count_s, 3),
            "segment_count": segment_count,
            "naive_per_contact_s": round(naive_s, 6),
            "engine_per_contact_s": round(engine_per_contact, 9),
            "speedup_vs_naive": round(naive_s / engine_per_contact),
            "peak_worker_rss_mb": round(peak_rss, 1),
            "machine": machine(),
        }
    )


if __name__ == "__main__":
    main()
