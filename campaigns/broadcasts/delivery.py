"""A scheduled broadcast on its way out: recipients into the outbox, scheduled →
sending → sent; the A/B winner is judged in campaigns/broadcasts/experiment.py.

Materialisation (`broadcast_materialise`, a Celery task, safe to run twice):

1. Plan in PostgreSQL (campaigns/broadcasts/plan.py): resolve the audience in SQL
   (campaigns/broadcasts/audience.py) and number it in a deterministic hash order
   (md5 of the broadcast id and contact id).
2. Cut the recipients of this phase: with variants and a test pool, the first
   `test_pool_percent` of that order, split by weight (cut points rounded, so each
   arm is exact to within one contact); with variants and no pool, everyone, split;
   after a winner is chosen, everyone (those already in the outbox are skipped).
3. Compute each due time: the instant (`now`, `at`); the local wall time in the
   contact's zone (`local`; its time zone, else its phone region's single zone, else
   the workspace's); or the contact's best hour within 24 h of `send_at`
   (`best`, campaigns/send_time.py, also for an A/B arm with `best_time`); an A/B arm
   with its own `send_at` at that instant; never earlier than now; then spread by the
   throttle. The remainder after an A/B winner goes now (at its best time within 24 h
   when the winner is a best-time arm; at the winning arm's time of day when the arms
   had times of their own, see `remainder_time`). A variant's subject line goes on
   the message row and replaces the template's when it is rendered.
4. Insert in chunks (`CAMPAIGNS_BROADCAST_CHUNK`) of the plan (in due order with a
   throttle, else by contact id), one INSERT … SELECT each, with ON CONFLICT DO
   NOTHING on the idempotency key `broadcast:<id>:<contact id>`: a contact in several
   included segments, or a second run after a crash, never makes a second message.
   Each chunk holds the broadcast's status lock (shared), so a pause (rows inserted
   `held`) or a cancel (stop) is seen between chunks. `CAMPAIGNS_BROADCAST_PARALLEL`
   chunks go in at once, each on its own connection (`_insert_plan`).
5. Record the recipient count, the first due time and, for a test, when to judge it.

The worker never holds the audience in memory: at 1M contacts it stays flat (see
docs/campaigns.md, "Materialisation at scale").
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Iterator
from queue import Queue

from django.conf import settings
from django.db import connection, connections, transaction
from django.db.models import Count, Exists, Min, OuterRef, Q
from django.utils import timezone

from campaigns.broadcasts.experiment import broadcast_decide_winner
from campaigns.broadcasts.plan import (
    PLAN_TABLE,
    Arm,
    broadcast_audience,
    plan_build,
    plan_drop,
)
from campaigns.models import Broadcast, BroadcastStatus
from config.ids import UUID7_SQL
from config.queue import publish
from messaging.models import Message, MessageStatus, Origin

__all__ = [
    "broadcast_audience",
    "broadcast_materialise",
    "broadcast_status_lock",
    "broadcasts_advance",
]

logger = logging.getLogger(__name__)

ACTIVE = (BroadcastStatus.SCHEDULED, BroadcastStatus.SENDING, BroadcastStatus.PAUSED)

# Every NOT NULL column of the outbox row, as Message's field defaults would fill it;
# the chunk's recipients arrive as arrays read from the plan (`_plan_chunks`).
_INSERT = f"""
INSERT INTO {Message._meta.db_table} (workspace_id, contact_id, channel, template_id,
    idempotency_key, uuid, is_test, status, status_reason, due_at, attempts, error,
    provider, provider_message_id, to_address, subject, body_html, body_text,
    sms_segments, links, created_at, transactional, deferrals, origin_kind, origin_id,
    variant_id)
SELECT %(workspace)s, p.contact_id, %(channel)s, a.template_id,
    %(key_prefix)s || p.contact_id, {UUID7_SQL}, false, %(status)s, '', p.due, 0, '',
    '', '', '', a.subject, '', '', 0, '[]'::jsonb, %(now)s, false, 0, %(origin)s,
    %(broadcast)s, a.variant_id
FROM unnest(%(contacts)s::bigint[], %(arms)s::int[], %(dues)s::timestamptz[])
    WITH ORDINALITY AS p(contact_id, arm, due, n)
JOIN unnest(%(templates)s::bigint[], %(variants)s::bigint[], %(subjects)s::text[])
    WITH ORDINALITY AS a(template_id, variant_id, subject, arm) ON a.arm = p.arm + 1
ORDER BY p.n
ON CONFLICT DO NOTHING
"""

# advisory-lock namespaces: a broadcast's status changes against its chunk inserts;
# one materialisation of a broadcast at a time
_STATUS_LOCK_SPACE = 7401
_MATERIALISE_LOCK_SPACE = 7402

# One chunk of the plan: contact ids, arm indexes and due times, in plan order.
Chunk = tuple[list[int], list[int], list[dt.datetime]]


def broadcast_status_lock(broadcast_id: int, *, shared: bool = False) -> None:
    """Held to the end of the transaction. Chunk inserts take it shared, several at
    once; pause, resume and cancel take it alone, so a status change waits for the
    chunks in flight and every chunk after it sees the new status (a pause's rows go
    in held). PostgreSQL queues advisory locks fairly: chunks that keep coming never
    starve a waiting pause, as they would a row lock taken FOR UPDATE behind FOR SHARE."""
    function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {function}(%s, %s)", [_STATUS_LOCK_SPACE, broadcast_id])


def _insert_chunk(broadcast_id: int, arms: list[Arm], chunk: Chunk) -> bool:
    """Insert one chunk of the plan under the broadcast's status lock (shared); False
    once it is cancelled."""
    contacts, arm_indexes, dues = chunk
    with transaction.atomic():
        broadcast_status_lock(broadcast_id, shared=True)
        broadcast = Broadcast.objects.only("workspace_id", "channel", "status").get(pk=broadcast_id)
        if broadcast.status not in ACTIVE:
            return False
        status = (
            MessageStatus.HELD
            if broadcast.status == BroadcastStatus.PAUSED
            else MessageStatus.SCHEDULED
        )
        with connection.cursor() as cursor:
            cursor.execute(
                _INSERT,
                {
                    "workspace": broadcast.workspace_id,
                    "channel": broadcast.channel,
                    "key_prefix": broadcast.key_for(0)[:-1],  # "broadcast:<id>:"
                    "status": status,
                    "now": timezone.now(),
                    "origin": Origin.BROADCAST,
                    "broadcast": broadcast_id,
                    "templates": [arm.template_id for arm in arms],
                    "variants": [arm.variant_id for arm in arms],
                    "subjects": [arm.subject for arm in arms],
                    "contacts": contacts,
                    "arms": arm_indexes,
                    "dues": dues,
                },
            )
    return True


def _plan_chunks(recipients: int) -> Iterator[Chunk]:
    """The plan in chunks of CAMPAIGNS_BROADCAST_CHUNK rows, in `seq` order: one chunk
    in memory at a time (plus those being inserted)."""
    size = settings.CAMPAIGNS_BROADCAST_CHUNK
    with connection.cursor() as cursor:
        for start in range(0, recipients, size):
            cursor.execute(
                f"""SELECT contact_id, arm, due FROM {PLAN_TABLE}
                WHERE seq >= %s AND seq < %s ORDER BY seq""",
                [start, start + size],
            )
            rows = cursor.fetchall()
            yield [row[0] for row in rows], [row[1] for row in rows], [row[2] for row in rows]


def _heartbeat(broadcast_id: int) -> None:
    # Outside the chunks' transactions: one row two chunks both updated would make
    # the second wait for the first.
    Broadcast.objects.filter(pk=broadcast_id).update(materialise_heartbeat=timezone.now())


def _insert_plan(broadcast_id: int, arms: list[Arm], recipients: int) -> bool:
    """Every chunk of the plan into the outbox; False once the broadcast is cancelled.

    The inserts are PostgreSQL's work (index entries, foreign-key checks at commit),
    so CAMPAIGNS_BROADCAST_PARALLEL chunks go in at once, each in a thread with its own
    connection and transaction, while this thread reads the next chunk from the plan
    (a temporary table only its own session sees). Chunks are disjoint and each is
    idempotent, so their commit order does not matter. Inside a caller's transaction
    (tests) they run in it, one after another."""
    parallel = settings.CAMPAIGNS_BROADCAST_PARALLEL
    chunks = _plan_chunks(recipients)
    if parallel <= 1 or connection.in_atomic_block:
        for chunk in chunks:
            if not _insert_chunk(broadcast_id, arms, chunk):
                return False
            _heartbeat(broadcast_id)
        return True
    return _insert_in_threads(broadcast_id, arms, chunks, parallel)


def _insert_in_threads(
    broadcast_id: int, arms: list[Arm], chunks: Iterator[Chunk], parallel: int
) -> bool:
    stop = threading.Event()
    errors: list[BaseException] = []
    # A chunk per thread being inserted, one waiting here, one being read: bounded.
    queue: Queue[Chunk | None] = Queue(maxsize=1)

    def inserter() -> None:
        # One connection per thread for all its chunks, closed when it ends.
        try:
            while (chunk := queue.get()) is not None:
                if stop.is_set():
                    continue
                try:
                    if not _insert_chunk(broadcast_id, arms, chunk):
                        stop.set()
                except BaseException as error:  # re-raised below, in the caller's thread
                    errors.append(error)
                    stop.set()
        finally:
            connections.close_all()

    threads: list[threading.Thread] = []
    try:
        for _ in range(parallel):
            # daemon: a worker process that must exit is never held by a stuck thread
            threads.append(threading.Thread(target=inserter, daemon=True))
            threads[-1].start()
        for chunk in chunks:
            if stop.is_set():
                break
            queue.put(chunk)
            _heartbeat(broadcast_id)
    except BaseException:
        stop.set()  # the chunks already handed over are skipped
        raise
    finally:
        for _ in threads:
            queue.put(None)
        for thread in threads:
            thread.join()
        for error in errors[1:]:
            logger.error("campaigns.broadcast_chunk_failed broadcast=%s: %r", broadcast_id, error)
    if errors:
        raise errors[0]
    return not stop.is_set()


def _materialising(broadcast_id: int) -> bool:
    """Take the broadcast's materialisation lock for this session (released in
    `broadcast_materialise`'s end, or with the connection when a worker dies): False
    when another run holds it, e.g. a restart after a heartbeat that only looked
    stale. Two runs never insert at once."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_try_advisory_lock(%s, %s)", [_MATERIALISE_LOCK_SPACE, broadcast_id]
        )
        return bool(cursor.fetchone()[0])


def broadcast_materialise(*, broadcast_id: int, now: dt.datetime | None = None) -> int:
    """Put the recipients of the current phase into the outbox; returns how many
    messages the broadcast has afterwards. See the module docstring. `now` is the
    moment the plan is computed for (tests pin it)."""
    broadcast = (
        Broadcast.objects.select_related("workspace", "template").filter(pk=broadcast_id).first()
    )
    if broadcast is None or broadcast.status not in ACTIVE or broadcast.materialised_at:
        return 0
    if not _materialising(broadcast_id):
        logger.info("campaigns.broadcast_materialise_running broadcast=%s", broadcast_id)
        return 0
    try:
        arms, summary = plan_build(broadcast, now=now or timezone.now())
        if not _insert_plan(broadcast_id, arms, summary.recipients):
            logger.info("campaigns.broadcast_materialise_stopped broadcast=%s", broadcast_id)
            return 0
    finally:
        plan_drop()
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_unlock(%s, %s)", [_MATERIALISE_LOCK_SPACE, broadcast_id]
            )
    with transaction.atomic():
        broadcast = Broadcast.objects.select_for_update().get(pk=broadcast_id)
        if broadcast.status not in ACTIVE:
            return 0
        messages = broadcast.messages
        figures = messages.aggregate(total=Count("id"), first=Min("due_at"))
        fields: dict[str, object] = {
            "recipient_count": figures["total"],
            "materialised_at": timezone.now(),
        }
        if broadcast.first_due_at is None:
            fields["first_due_at"] = figures["first"] or timezone.now()
        if summary.testing and summary.last_due is not None:
            fields["winner_due_at"] = summary.last_due + dt.timedelta(
                hours=broadcast.winner_wait_hours
            )
        Broadcast.objects.filter(pk=broadcast_id).update(**fields)
    logger.info(
        "campaigns.broadcast_materialised broadcast=%s messages=%s", broadcast_id, figures["total"]
    )
    return int(figures["total"])


# --- progress -----------------------------------------------------------------------


def broadcasts_advance() -> dict[str, int]:
    """Beat, every few seconds: restart stalled materialisations, move scheduled →
    sending when the first message is due, judge A/B tests that have waited, and mark
    broadcasts sent once every message is sent, failed or suppressed."""

    now = timezone.now()
    done = {"restarted": 0, "sending": 0, "judged": 0, "sent": 0}
    stale = now - dt.timedelta(seconds=settings.CAMPAIGNS_MATERIALISE_STALL_SECONDS)
    for broadcast_id in Broadcast.objects.filter(
        Q(materialise_heartbeat__isnull=True) | Q(materialise_heartbeat__lt=stale),
        status__in=ACTIVE,
        materialised_at__isnull=True,
    ).values_list("pk", flat=True):
        taken = Broadcast.objects.filter(
            Q(materialise_heartbeat__isnull=True) | Q(materialise_heartbeat__lt=stale),
            pk=broadcast_id,
        ).update(materialise_heartbeat=now)
        if taken:
            publish("campaigns.broadcast_materialise", broadcast_id)
            done["restarted"] += 1
    done["sending"] = Broadcast.objects.filter(
        status=BroadcastStatus.SCHEDULED, materialised_at__isnull=False, first_due_at__lte=now
    ).update(status=BroadcastStatus.SENDING, updated_at=now)
    for broadcast_id in Broadcast.objects.filter(
        status=BroadcastStatus.SENDING,
        winner_variant__isnull=True,
        winner_due_at__lte=now,
        test_pool_percent__gt=0,
    ).values_list("pk", flat=True):
        if broadcast_decide_winner(broadcast_id=broadcast_id):
            done["judged"] += 1
    unfinished = Message.objects.filter(
        origin_kind=Origin.BROADCAST,
        origin_id=OuterRef("pk"),
        status__in=[MessageStatus.SCHEDULED, MessageStatus.SENDING, MessageStatus.HELD],
    )
    done["sent"] = (
        Broadcast.objects.filter(status=BroadcastStatus.SENDING, materialised_at__isnull=False)
        .filter(Q(winner_due_at__isnull=True) | Q(winner_variant__isnull=False))
        .exclude(Exists(unfinished))
        .update(status=BroadcastStatus.SENT, finished_at=now, updated_at=now)
    )
    return done
