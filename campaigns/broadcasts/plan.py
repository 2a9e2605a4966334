"""A broadcast's plan (who gets which arm, due when) built in PostgreSQL, so the
worker's memory does not grow with the audience (1M contacts: see docs/campaigns.md,
"Materialisation at scale").

The plan lives in two temporary tables of the worker's database session:
`broadcast_plan_audience` (the audience in hash order) and `broadcast_plan` (one row
per recipient of this phase with its arm and due time, numbered in due order with a
throttle, else in contact id order). The
outbox rows are then inserted from `broadcast_plan` in ranges of `seq`
(campaigns/broadcasts/delivery.py).

1. One CREATE TABLE … AS SELECT writes the audience with its position in the hash order
   (`row_number() OVER (ORDER BY md5(broadcast:<id>:<contact id>), id)`), its own
   time zone and its phone.
2. Zones: the distinct `time_zone` values are checked in Python (`zone_info`); only
   contacts without a valid one are read back (by position, in chunks) to resolve
   their phone region's zone or the workspace's (`contact_zone`).
3. Arms are bands of positions (`split_counts` over the test pool or everyone), so an
   arm is a range join, not a list per contact.
4. Best time (schedule `best`, or an arm with `best_time`): the contacts of those
   bands are read in chunks of `send_time.CHUNK` and their instants written back; the
   workspace prior is computed once.
5. Due times: per zone once (local wall time), an arm's own instant, now for a
   winner's remainder, or the best time; then the throttle. The throttle's sequential
   rule (each due is max(its base, previous due + interval), in (base, position)
   order) unrolls to `due_k = k·I + max_{j≤k}(base_j - j·I)`, a running max: one
   window function over the whole plan, exact to the microsecond like the Python
   loop it replaces (`audience.throttled`). Without a throttle the plan is numbered
   by contact id, the cheapest order to insert into the outbox.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import CharField, F, Func, UUIDField, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from campaigns.broadcasts.audience import Audience, audience_contacts, split_counts
from campaigns.models import Broadcast, BroadcastVariant, ScheduleKind
from campaigns.send_time import CHUNK as BEST_CHUNK
from campaigns.send_time import send_times_for, workspace_prior
from config.db import local_settings
from contacts.zones import contact_zone, local_instant, zone_info

AUDIENCE_TABLE = "broadcast_plan_audience"
PLAN_TABLE = "broadcast_plan"
# Contacts read back into Python at a time (zone fallback).
READ_CHUNK = 20_000


@dataclass(frozen=True)
class Arm:
    template_id: int | None
    variant_id: int | None
    # Sent at each contact's best time rather than by the broadcast's schedule.
    best_time: bool = False
    subject: str = ""
    # Sent at this instant rather than by the broadcast's schedule.
    send_at: dt.datetime | None = None


@dataclass(frozen=True)
class Band:
    """Positions [start, end) of the hash order that get `arm`."""

    arm: Arm
    start: int
    end: int


@dataclass(frozen=True)
class PlanSummary:
    recipients: int  # rows in the plan (this phase)
    last_due: dt.datetime | None
    testing: bool  # a test pool: a remainder will follow


def broadcast_audience(broadcast: Broadcast) -> Audience:
    return Audience(
        channel=broadcast.channel,
        include_segment_ids=broadcast.include_segment_ids,
        include_stage_ids=broadcast.include_stage_ids,
        exclude_segment_ids=broadcast.exclude_segment_ids,
        exclude_stage_ids=broadcast.exclude_stage_ids,
    )


def _arm(variant: BroadcastVariant, send_at: dt.datetime | None) -> Arm:
    return Arm(variant.template_id, variant.pk, variant.best_time, variant.subject, send_at)


def remainder_time(
    broadcast: Broadcast, variants: list[BroadcastVariant], winner: BroadcastVariant
) -> dt.datetime | None:
    """When the rest of the audience gets the winner of a test of send time: the
    winning arm's time of day on the workspace's clock, at its first occurrence after
    the winner was due (so a re-run after a crash picks the same instant). None when
    no arm has a time of its own: the rest go at once."""
    chosen = winner.send_at or broadcast.send_at
    if chosen is None or not any(v.send_at for v in variants):
        return None
    zone = zoneinfo.ZoneInfo(broadcast.workspace.time_zone)
    after = broadcast.winner_due_at or timezone.now()
    wall = chosen.astimezone(zone).timetz().replace(tzinfo=None)
    day = after.astimezone(zone).date()
    while True:  # combined per day, so a DST change keeps the wall-clock time
        candidate = dt.datetime.combine(day, wall, tzinfo=zone)
        if candidate > after:
            return candidate
        day += dt.timedelta(days=1)


def phase_bands(broadcast: Broadcast, total: int) -> tuple[list[Band], bool]:
    """The arm of each band of the first positions of the hash order (of `total`),
    and whether this is the test phase (a remainder will follow)."""
    variants = list(broadcast.variants.order_by("label"))
    if broadcast.winner_variant_id is not None:
        winner = next(v for v in variants if v.pk == broadcast.winner_variant_id)
        return [Band(_arm(winner, remainder_time(broadcast, variants, winner)), 0, total)], False
    if not variants:
        return [Band(Arm(broadcast.template_id, None), 0, total)], False
    testing = broadcast.is_ab_test and broadcast.test_pool_percent < 100
    pool = (total * broadcast.test_pool_percent * 2 + 100) // 200 if testing else total
    bands: list[Band] = []
    start = 0
    for variant, share in zip(
        variants, split_counts(pool, [v.weight for v in variants]), strict=True
    ):
        bands.append(Band(_arm(variant, variant.send_at), start, start + share))
        start += share
    return bands, testing


def base_due(broadcast: Broadcast, time_zone: str, now: dt.datetime) -> dt.datetime:
    if broadcast.schedule == ScheduleKind.LOCAL:
        assert broadcast.local_date is not None and broadcast.local_time is not None
        when = local_instant(
            broadcast.local_date, broadcast.local_time, time_zone, broadcast.workspace.time_zone
        )
    else:
        when = broadcast.send_at or now
    # A local time already past where the contact is (or an instant in the past) is
    # sent as soon as possible rather than dropped.
    return max(when, now)


def plan_drop() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {AUDIENCE_TABLE}, {PLAN_TABLE}")


@contextmanager
def _bulk_settings(cursor: Any) -> Iterator[None]:
    """For the statements inside: the plan reads and sorts the whole audience. Rules
    that test a stage or a segment are semi-joins PostgreSQL tends to underestimate
    (7,812 rows estimated for 1.2M), and it then probes contacts one index lookup at a
    time: 34 s at 1M against 3.3 s for the hash join it picks without nested loops. A
    sort of 1M rows also fits in 64 MB instead of spilling to disk. The settings are
    put back afterwards."""
    with local_settings(cursor, enable_nestloop="off", work_mem="64MB"):
        yield


def _write_audience(broadcast: Broadcast) -> int:
    """Step 1; returns the audience's size."""
    # The md5 as a uuid sorts in the same order as its hex text (the order
    # audience.hash_ordered gives: same length, digits before a-f in every collation)
    # but compares 16 bytes instead of 32 characters through the collation.
    digest = Cast(
        Func(
            Concat(Value(f"broadcast:{broadcast.pk}:"), Cast(F("pk"), CharField())),
            function="md5",
        ),
        UUIDField(),
    )
    queryset = (
        audience_contacts(workspace=broadcast.workspace, audience=broadcast_audience(broadcast))
        .annotate(_order=digest)
        .values_list("pk", "time_zone", "phone", "_order")
        .order_by()
    )
    sql, params = queryset.query.sql_with_params()
    with transaction.atomic(), connection.cursor() as cursor, _bulk_settings(cursor):
        # CREATE TABLE AS (not INSERT … SELECT) so the audience query may run in
        # parallel workers.
        cursor.execute(
            f"""CREATE TEMP TABLE {AUDIENCE_TABLE} AS
            SELECT row_number() OVER (ORDER BY a.h, a.id) - 1 AS pos, a.id AS contact_id,
                a.tz::text AS tz, a.phone::text AS phone, NULL::text AS zone,
                NULL::timestamptz AS best_due
            FROM ({sql}) AS a(id, tz, phone, h)""",  # the queryset's own SQL, with params
            params,
        )
        count = cursor.rowcount
        cursor.execute(f"CREATE UNIQUE INDEX ON {AUDIENCE_TABLE} (pos)")
        cursor.execute(f"ANALYZE {AUDIENCE_TABLE}")
    return int(count)


def _resolve_zones(workspace_zone: str) -> list[str]:
    """Step 2: fill `zone` for contacts without a valid zone of their own; returns
    every valid `time_zone` value of the audience (theirs is their zone)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT DISTINCT tz FROM {AUDIENCE_TABLE}")
        values = [row[0] for row in cursor.fetchall()]
        valid = [value for value in values if value and zone_info(value) is not None]
        last = -1
        while True:
            cursor.execute(
                f"""SELECT pos, contact_id, phone FROM {AUDIENCE_TABLE}
                WHERE pos > %s AND NOT (tz = ANY(%s::text[])) ORDER BY pos LIMIT %s""",
                [last, valid, READ_CHUNK],
            )
            rows = cursor.fetchall()
            if not rows:
                return valid
            last = rows[-1][0]
            cursor.execute(
                f"""UPDATE {AUDIENCE_TABLE} t SET zone = z.zone
                FROM unnest(%s::bigint[], %s::text[]) AS z(pos, zone) WHERE t.pos = z.pos""",
                [
                    [row[0] for row in rows],
                    [contact_zone("", phone, workspace_zone) for _, _, phone in rows],
                ],
            )


_ZONE = "COALESCE(t.zone, t.tz)"


def _best_times(
    broadcast: Broadcast, ranges: Sequence[tuple[int, int]], after: dt.datetime
) -> None:
    """Step 4: `best_due` for the positions in `ranges`, a chunk at a time."""
    workspace = broadcast.workspace
    prior = workspace_prior(workspace=workspace)
    with connection.cursor() as cursor:
        for start, end in ranges:
            for chunk_start in range(start, end, BEST_CHUNK):
                cursor.execute(
                    f"""SELECT t.pos, t.contact_id, {_ZONE} FROM {AUDIENCE_TABLE} t
                    WHERE t.pos >= %s AND t.pos < %s""",
                    [chunk_start, min(end, chunk_start + BEST_CHUNK)],
                )
                rows = cursor.fetchall()
                zoned = [(int(pk), str(zone)) for _, pk, zone in rows]
                best = send_times_for(workspace=workspace, zoned=zoned, after=after, prior=prior)
                # Written back by position, the temporary table's one index.
                cursor.execute(
                    f"""UPDATE {AUDIENCE_TABLE} t SET best_due = b.due
                    FROM unnest(%s::bigint[], %s::timestamptz[]) AS b(pos, due)
                    WHERE t.pos = b.pos""",
                    [
                        [pos for pos, pk, _ in rows if pk in best],
                        [best[pk] for _, pk, _ in rows if pk in best],
                    ],
                )


def plan_build(broadcast: Broadcast, *, now: dt.datetime) -> tuple[list[Arm], PlanSummary]:
    """Steps 1-5: (re)create the temporary tables; returns the arms (their index is
    `broadcast_plan.arm`) and a summary. Nothing is written to the outbox."""
    plan_drop()
    total = _write_audience(broadcast)
    valid = _resolve_zones(broadcast.workspace.time_zone)
    bands, testing = phase_bands(broadcast, total)
    winner_phase = broadcast.winner_variant_id is not None
    best_everyone = broadcast.schedule == ScheduleKind.BEST
    best_ranges = [(b.start, b.end) for b in bands if best_everyone or b.arm.best_time]
    if best_ranges:
        # Within 24 h of the broadcast's time, or of the winner's decision.
        after = now if winner_phase else max(broadcast.send_at or now, now)
        _best_times(broadcast, best_ranges, after)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SELECT DISTINCT zone FROM {AUDIENCE_TABLE} WHERE zone IS NOT NULL")
        zones = sorted(set(valid) | {row[0] for row in cursor.fetchall()})
        zone_due = [base_due(broadcast, zone, now) for zone in zones]
        # Arms without a time of their own follow the schedule (or go now after a winner).
        arm_due = [
            max(b.arm.send_at, now) if b.arm.send_at is not None else now if winner_phase else None
            for b in bands
        ]
        interval_us = 0
        if broadcast.throttle_per_hour:
            interval = dt.timedelta(seconds=3600 / broadcast.throttle_per_hour)
            interval_us = interval // dt.timedelta(microseconds=1)
        based = f"""
            SELECT t.pos, t.contact_id, b.arm,
                COALESCE(t.best_due, b.due, z.due) AS base
            FROM {AUDIENCE_TABLE} t
            JOIN unnest(%(starts)s::bigint[], %(ends)s::bigint[], %(dues)s::timestamptz[])
                WITH ORDINALITY AS b(start_pos, end_pos, due, arm)
                ON t.pos >= b.start_pos AND t.pos < b.end_pos
            LEFT JOIN unnest(%(zones)s::text[], %(zone_dues)s::timestamptz[]) AS z(zone, due)
                ON z.zone = {_ZONE}"""
        ordered = f"""
            SELECT row_number() OVER (ORDER BY base, pos) - 1 AS seq, contact_id,
                arm::int - 1 AS arm, base
            FROM ({based}) AS based"""
        if not interval_us:
            # Without a throttle the order is free: contact id order keeps the
            # outbox's inserts local (its contact and idempotency-key indexes and the
            # foreign-key checks on contacts walk forward instead of jumping around).
            ordered = f"""
                SELECT row_number() OVER (ORDER BY contact_id) - 1 AS seq, contact_id,
                    arm::int - 1 AS arm, base
                FROM ({based}) AS based"""
        if interval_us:
            due = (
                "seq * %(step)s * interval '1 microsecond' + max(base - seq * %(step)s"
                " * interval '1 microsecond') OVER (ORDER BY seq ROWS UNBOUNDED PRECEDING)"
            )
        else:
            due = "base"
        with _bulk_settings(cursor):
            cursor.execute(
                f"""CREATE TEMP TABLE {PLAN_TABLE} AS
                SELECT seq, contact_id, arm, {due} AS due FROM ({ordered}) AS ordered""",
                {
                    "starts": [b.start for b in bands],
                    "ends": [b.end for b in bands],
                    "dues": arm_due,
                    "zones": zones,
                    "zone_dues": zone_due,
                    "step": interval_us,
                },
            )
        cursor.execute(f"CREATE UNIQUE INDEX ON {PLAN_TABLE} (seq)")
        cursor.execute(f"ANALYZE {PLAN_TABLE}")
        cursor.execute(f"SELECT count(*), max(due) FROM {PLAN_TABLE}")
        recipients, last_due = cursor.fetchone() or (0, None)
    return [b.arm for b in bands], PlanSummary(int(recipients), last_due, testing)
