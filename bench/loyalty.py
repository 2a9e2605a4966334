"""make bench-loyalty: the loyalty programme at scale.

Builds (COPY, then INSERT ... SELECT generate_series) a workspace of MEMBERS contacts
(default 1,000,000), each a member, with ENTRIES ledger entries (default 10,000,000)
over the past year and a balance row each (bench/loyalty_data.py), rebuilds the loyalty
rollups (`rollup_rebuild_s`), then measures, in-process:

  ingest_overhead_pct   a 1000-event purchase batch (1000 contacts, each once) through
                        events_ingest and the lifecycle engine (which earns the points
                        when the programme runs), median of RUNS batches with the
                        programme on against RUNS with it off (same shape, fresh contacts
                        each batch, never ones an earlier run of a kept data set sent
                        events for; runs alternated; the database is analysed after
                        the warm-up pair, as autovacuum would): (on - off) / off in %
  balance_p95_ms        loyalty.selectors.balance_for (what the balance API reads) for
                        SAMPLE random members: p95 (the selector, not HTTP)
  liability_ms          analytics.figures.loyalty.liability (members, outstanding points
                        and their value), median of 5, nothing cached (it reads the
                        balance rows every time)
  loyalty_report_ms     the whole loyalty report (loyalty_report: flows, members, active
                        members, liability, tiers and moves, referral figures) computed,
                        nothing cached: the slowest of the periods the page offers (365
                        days by month, 90 by week, 30 by day, and a 200-day period that
                        starts and ends mid-month by week), median of 5 each; per period
                        in `loyalty_report_by_period_ms` (`report_ms` is the year's)
  referral_report_ms    analytics.figures.referrals.referral_figures alone, the slowest of
                        the same periods
  worst_gaps            the report over 365 days (by month, week, day) of a second
                        workspace whose active-member rollup holds every (day, previous
                        day) pair of a year, the most a year of history can hold (the
                        bench's ledger spaces each member's entries evenly: few pairs,
                        `active_gaps_rows`)
  rollup_recent_ms      beat's minutely recomputation of yesterday and today
                        (loyalty_rollups_recent), median of 3
  concurrent_redeem_duplicates
                        THREADS threads redeem a discount-code reward whose pool has
                        CODES codes left, each for a different contact: codes handed out
                        more than once, or redemptions beyond the pool (must be 0)

The data set also has REFERRALS referrals (default 50,000) from REFERRERS referrers
(20,000), customer facts for every member (60% customers) and three tiers with a tier row
and a move per member (bench/loyalty_data.py).

DATABASE (default stagecraft_bench_loyalty) is dropped and created, unless REUSE=1 and it
holds a finished data set of this size: then the data is kept (the rollups are rebuilt
every run). PARTS=report measures only the rollup rebuild and the reports. Prints one JSON
object as its last line."""

from __future__ import annotations

import datetime as dt
import os
import random
import statistics
import threading
import time
from typing import Any

from bench.analytics import database_exists
from bench.common import (
    base_database_url,
    copy_contacts,
    django_setup,
    fresh_database,
    machine,
    migrate,
    report,
    with_database,
)
from bench.loyalty_data import build_ledger, build_programme_figures
from bench.loyalty_reports import gap_rows, log, median_ms, reports, worst_gaps

MEMBERS = int(os.environ.get("MEMBERS", "1000000"))
ENTRIES = int(os.environ.get("ENTRIES", str(MEMBERS * 10)))
DATABASE = os.environ.get("DATABASE", "stagecraft_bench_loyalty")
RUNS = int(os.environ.get("RUNS", "5"))
BATCH = int(os.environ.get("BATCH", "1000"))
SAMPLE = int(os.environ.get("SAMPLE", "2000"))
THREADS = int(os.environ.get("THREADS", "16"))
CODES = int(os.environ.get("CODES", "3"))
REFERRALS = int(os.environ.get("REFERRALS", "50000"))
REFERRERS = int(os.environ.get("REFERRERS", "20000"))
REUSE = os.environ.get("REUSE", "") == "1"
PARTS = os.environ.get("PARTS", "all")
NONCE = str(int(time.time()))  # keys and names unique per run, so a kept data set reruns


def _untouched_contacts(count: int) -> int:
    """The offset of `count` members no earlier run of this data set has sent events
    for (REUSE=1 keeps the data: a member that earned before may cross a tier, and
    the engine has more to do for it), from the first half of the members (the last
    ones are the referrals' friends and the redemption race's members)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS bench_ingested (upto bigint)")
        cursor.execute("SELECT coalesce(max(upto), 0) FROM bench_ingested")
        offset = cursor.fetchone()[0]
        if offset + count > MEMBERS // 2:
            offset = 0  # every untouched member used: start again
        cursor.execute("INSERT INTO bench_ingested VALUES (%s)", [offset + count])
    return int(offset)


def _ingest_overhead(workspace: Any, first_id: int) -> dict[str, Any]:
    from django.db import connection

    from contacts.services.events import events_ingest
    from lifecycle.services import marked_contacts_evaluate
    from loyalty.services import programme_update
    from workspaces.services import Actor

    actor = Actor(system="bench")
    timings: dict[bool, list[float]] = {True: [], False: []}
    batches = RUNS * 2 + 2  # the first pair warms caches and plans
    untouched = first_id + _untouched_contacts(batches * BATCH)
    for run in range(batches):
        # Pairs alternate which side goes first (on-off, off-on, ...), so that a drift
        # over the run weighs on both sides alike.
        enabled = (run % 2 == 0) == ((run // 2) % 2 == 0)
        programme_update(workspace=workspace, data={"enabled": enabled}, actor=actor)
        start = untouched + run * BATCH  # fresh contacts each batch
        items = [
            {
                "contact": {"id": start + k},
                "name": "purchase",
                "revenue": f"{10 + k % 90}.{k % 100:02d}",
                "idempotency_key": f"bench-{NONCE}-{run}-{k}",
                "properties": {"order_id": f"o-{NONCE}-{run}-{k}"},
            }
            for k in range(BATCH)
        ]
        started = time.perf_counter()
        result = events_ingest(workspace=workspace, items=items)
        assert not result.errors, result.errors[:3]
        while marked_contacts_evaluate(limit=2000):
            pass
        took = (time.perf_counter() - started) * 1000
        if run >= 2:
            timings[enabled].append(took)
        log(f"batch {run} programme {'on' if enabled else 'off'}: {took:.0f} ms")
        if run == 1:
            # What autovacuum does once tables grow (this server runs without it): the
            # events, marks, stages and transitions tables were analysed empty, and
            # with those statistics the stage replay probes every transition for each
            # contact, so both sides grew by seconds a batch and buried what is compared.
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        # Each batch inserts and deletes a thousand marks: autovacuum would keep that
        # small, hot table clean; without it each claim reads past the dead rows of
        # every earlier batch (both sides grew by a third over twenty batches).
        with connection.cursor() as cursor:
            cursor.execute("VACUUM contacts_contactmark")
    on, off = statistics.median(timings[True]), statistics.median(timings[False])
    return {
        "on_ms": round(on, 1),
        "off_ms": round(off, 1),
        "pct": round((on - off) / off * 100, 1),
    }


def _balance_p95(workspace: Any, first_id: int) -> float:
    from contacts.models import Contact
    from loyalty.selectors import balance_for

    rng = random.Random(9)
    timings = []
    for _ in range(SAMPLE):
        contact = Contact(pk=first_id + rng.randrange(MEMBERS), workspace_id=workspace.pk)
        started = time.perf_counter()
        balance_for(contact=contact)
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return round(timings[int(len(timings) * 0.95) - 1], 2)


def _concurrent_redeem(workspace: Any, first_id: int) -> dict[str, int]:
    from django.db import connection

    from config.errors import DomainError
    from contacts.models import Contact
    from loyalty.models import Redemption
    from loyalty.services import reward_codes_add, reward_create
    from loyalty.services.redemptions import reward_redeem
    from workspaces.services import Actor

    actor = Actor(system="bench")
    reward = reward_create(
        workspace=workspace,
        data={"name": f"Bench 10% off {NONCE}", "kind": "discount_code", "points_cost": 100},
        actor=actor,
    )
    reward_codes_add(reward=reward, data={"generate": CODES}, actor=actor)
    # Members near the end of the range: their balances (from the ledger) cover the cost.
    contacts = list(
        Contact.objects.filter(pk__gte=first_id + MEMBERS - THREADS - 1).order_by("pk")[:THREADS]
    )
    barrier = threading.Barrier(len(contacts))
    outcome = {"redeemed": 0, "refused": 0}
    lock = threading.Lock()

    def redeem(contact: Any) -> None:
        try:
            barrier.wait()
            reward_redeem(
                contact=contact,
                data={"reward_id": reward.pk, "idempotency_key": f"race-{NONCE}-{contact.pk}"},
                actor=actor,
            )
            with lock:
                outcome["redeemed"] += 1
        except DomainError:
            with lock:
                outcome["refused"] += 1
        finally:
            connection.close()

    threads = [threading.Thread(target=redeem, args=(c,)) for c in contacts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    codes = list(Redemption.objects.filter(reward=reward).values_list("code", flat=True))
    duplicates = len(codes) - len(set(codes)) + max(0, len(codes) - CODES)
    return {**outcome, "duplicates": duplicates, "codes": CODES, "threads": len(contacts)}


def _build(workspace: Any, now: dt.datetime) -> tuple[int, float]:
    """The data set: contacts, ledger, balances, facts, tiers, referrals; its first
    contact id and how long the ledger took."""
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        first_id, _ = copy_contacts(
            cursor,
            workspace_id=workspace.pk,
            count=MEMBERS,
            rng=random.Random(5),
            now=now,
            attributes=lambda i: {},
        )
    log(f"{MEMBERS} contacts copied in {time.perf_counter() - started:.1f}s")
    started = time.perf_counter()
    with connection.cursor() as cursor:
        build_ledger(
            cursor,
            workspace_id=workspace.pk,
            first_id=first_id,
            members=MEMBERS,
            entries=ENTRIES,
            now=now,
        )
        build_s = time.perf_counter() - started
        log(f"ledger and balances built in {build_s:.1f}s")
        build_programme_figures(
            cursor,
            workspace_id=workspace.pk,
            first_id=first_id,
            members=MEMBERS,
            referrals=REFERRALS,
            referrers=REFERRERS,
            customer_share=60,
            now=now,
        )
        cursor.execute(
            "VACUUM ANALYZE loyalty_ledgerentry, loyalty_pointsbalance, loyalty_referral, "
            "loyalty_contacttier, loyalty_tierchange, analytics_customerfacts"
        )
        cursor.execute("CREATE TABLE bench_built_v2 (first_id bigint, build_s float)")
        cursor.execute("INSERT INTO bench_built_v2 VALUES (%s, %s)", [first_id, build_s])
    log(f"facts, tiers and referrals built in {time.perf_counter() - started - build_s:.1f}s")
    return first_id, build_s


def _kept() -> tuple[Any, int, float] | None:
    """The workspace of a finished data set of this size, if there is one."""
    from django.db import connection

    from workspaces.models import Workspace

    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('bench_built_v2') IS NOT NULL")
        if not cursor.fetchone()[0]:
            return None
        cursor.execute("SELECT first_id, build_s FROM bench_built_v2")
        first_id, build_s = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM loyalty_pointsbalance")
        if cursor.fetchone()[0] != MEMBERS:
            return None
    return Workspace.objects.get(slug="bench"), first_id, build_s


def main() -> None:
    url = with_database(base_database_url(), DATABASE)
    if not (REUSE and database_exists(url)):
        url = fresh_database(DATABASE)
    django_setup(url)
    log("migrating")
    migrate()
    from django.db import connection

    from analytics.rollups.loyalty import loyalty_rollups_rebuild, loyalty_rollups_recent
    from loyalty.services import programme_update
    from workspaces.services import Actor, workspace_provision

    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    kept = _kept() if REUSE else None
    if kept is None:
        if REUSE:  # an unfinished or other-sized data set: start again
            connection.close()
            fresh_database(DATABASE)
            migrate()
        workspace, _ = workspace_provision(slug="bench", name="Bench")
        programme_update(
            workspace=workspace,
            data={"enabled": True, "points_per_unit": "1", "value_per_point": "0.01"},
            actor=Actor(system="bench"),
        )
        first_id, build_s = _build(workspace, now)
    else:
        workspace, first_id, build_s = kept
        log("reusing the data set")
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM loyalty_ledgerentry")
        entries = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM loyalty_referral")
        referrals = cursor.fetchone()[0]
    started = time.perf_counter()
    loyalty_rollups_rebuild(workspace_id=workspace.pk)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    rebuild_s = time.perf_counter() - started
    log(f"loyalty rollups rebuilt (and the database vacuumed) in {rebuild_s:.1f}s")
    recent_ms = median_ms(lambda: loyalty_rollups_recent(workspace_id=workspace.pk), runs=3)
    log(f"beat's refresh of yesterday and today {recent_ms} ms")
    figures = reports(workspace, now.date())
    log(f"reports: {figures}")
    figures["active_gaps_rows"] = gap_rows(workspace.pk)
    figures["worst_gaps"] = worst_gaps(now.date())
    log(f"every (day, previous) pair of a year: {figures['worst_gaps']}")
    result: dict[str, Any] = {
        "benchmark": "loyalty",
        "members": MEMBERS,
        "ledger_entries": entries,
        "referrals": referrals,
    }
    if PARTS == "all":
        balance_ms = _balance_p95(workspace, first_id)
        log(f"balance_for p95 {balance_ms} ms")
        ingest = _ingest_overhead(workspace, first_id)
        log(f"ingest: {ingest}")
        redeem = _concurrent_redeem(workspace, first_id)
        log(f"concurrent redemptions: {redeem}")
        result.update(
            {
                "ingest_overhead_pct": ingest["pct"],
                "ingest_batch_ms": {"on": ingest["on_ms"], "off": ingest["off_ms"]},
                "balance_p95_ms": balance_ms,
                "balance_measured": "loyalty.selectors.balance_for, in-process",
                "concurrent_redeem_duplicates": redeem["duplicates"],
                "concurrent_redeem": redeem,
            }
        )
    report(
        {
            **result,
            **figures,
            "ledger_build_s": round(build_s, 1),
            "rollup_rebuild_s": round(rebuild_s, 1),
            "rollup_recent_ms": recent_ms,
            "machine": machine(),
        }
    )


if __name__ == "__main__":
    main()
