"""Claiming the outbox's due rows for the workers (step 1 of dispatch.py's send path).

`messages_claim` (beat, every second): `SELECT … FOR UPDATE SKIP LOCKED` due scheduled
rows and `sending` rows whose lease ran out (their worker died), within the workspace
and provider rate limits; mark them `sending` with a lease and attempts + 1 in the same
transaction; after commit `message_dispatch_due` hands (id, attempt) pairs to workers
in chunks (`messaging.send_messages`).

Fair across workspaces: a claim first finds the workspaces with due rows (a skip scan
of the claim index, one probe per workspace), then takes an equal share of its batch
from each, one workspace at a time (`WHERE workspace_id = X`, the form Citus routes to
one shard), and gives what a workspace left unused to the others. A workspace holds at
most MESSAGING_WORKSPACE_MAX_IN_FLIGHT messages in flight, so its backlog in the broker
(which hands tasks out first in, first out) stays a few seconds long: a million-message
broadcast cannot keep a small workspace's welcome email waiting behind it. And a
workspace with little to send (at most MESSAGING_PROMPT_BACKLOG leased and claimed) has
its tasks published on the prompt queue, which workers read turn about with the
default queue: its message never waits in the broker behind another's backlog."""

from __future__ import annotations

import logging
import random
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone

from config.db import workspaces_with
from config.queue import PROMPT_QUEUE, publish
from config.redis import get_redis
from contacts.models import Channel
from messaging.models import Message, MessageStatus, MessagingSettings

logger = logging.getLogger(__name__)

Claim = tuple[int, int]  # (message id, attempt)

# Take up to ARGV[1] tokens from a fixed window of ARGV[2]; returns how many were taken.
_TAKE_SCRIPT = """
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local granted = math.min(tonumber(ARGV[1]), math.max(0, tonumber(ARGV[2]) - used))
if granted > 0 then
  redis.call('INCRBY', KEYS[1], granted)
  redis.call('EXPIRE', KEYS[1], ARGV[3])
end
return granted
"""


def _rate_take(key: str, wanted: int, limit: int, window: int) -> int:
    """Tokens granted from a fixed window shared by every process through Redis."""
    if limit <= 0 or wanted <= 0:
        return wanted
    now = int(timezone.now().timestamp())
    bucket = f"msgrate:{key}:{now // window}"
    return int(get_redis().eval(_TAKE_SCRIPT, 1, bucket, wanted, limit, window + 5))


def _workspace_limits(workspace_ids: Iterable[int]) -> dict[int, int]:
    custom = dict(
        MessagingSettings.objects.filter(
            workspace_id__in=list(workspace_ids), rate_limit_per_minute__gt=0
        ).values_list("workspace_id", "rate_limit_per_minute")
    )
    default = settings.MESSAGING_WORKSPACE_RATE_PER_MINUTE
    return {ws: custom.get(ws, default) for ws in workspace_ids}


# Each workspace with a row that may be claimed now: a skip scan of
# message_due_per_workspace (one index probe per workspace; config/db.py).
_QUEUED = "status IN ('scheduled', 'sending')"
_CLAIMABLE = "due_at <= %(now)s AND (status = 'scheduled' OR lease_until < %(now)s)"

# After (due_at, id) = `after`: a second helping must not take the first again (SKIP
# LOCKED skips other transactions' locks, not this one's).
_CLAIM_SQL = """
SELECT id, workspace_id, channel, status, attempts - deferrals, due_at
FROM campaigns_message
WHERE workspace_id = %(ws)s
  AND status IN ('scheduled', 'sending') AND due_at <= %(now)s
  AND (status = 'scheduled' OR lease_until < %(now)s)
  AND (due_at, id) > (%(after_due)s, %(after_id)s)
ORDER BY due_at, id
LIMIT %(limit)s
FOR UPDATE SKIP LOCKED
"""


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _in_flight(workspace_ids: list[int], now: datetime) -> dict[int, int]:
    rows = (
        Message.objects.filter(
            workspace_id__in=workspace_ids, status=MessageStatus.SENDING, lease_until__gte=now
        )
        .values_list("workspace_id")
        .annotate(n=Count("id"))
    )
    return {int(ws): int(n) for ws, n in rows}


def _fair_rows(cursor: Any, now: datetime, limit: int) -> tuple[list[tuple], dict[int, int]]:
    """Up to `limit` claimable rows, locked: equal shares per workspace with due rows,
    then what some left unused to those that had more."""
    workspaces = workspaces_with(
        table="campaigns_message", where=_QUEUED, ready=_CLAIMABLE, params={"now": now}
    )
    if not workspaces:
        return [], {}
    random.shuffle(workspaces)  # no workspace is always first to the provider limits
    flying = _in_flight(workspaces, now)
    room = {
        ws: max(0, settings.MESSAGING_WORKSPACE_MAX_IN_FLIGHT - flying.get(ws, 0))
        for ws in workspaces
    }
    rows: list[tuple] = []
    after: dict[int, tuple[datetime, int]] = dict.fromkeys(workspaces, (_EPOCH, 0))
    hungry = [ws for ws in workspaces if room[ws] > 0]
    while hungry and len(rows) < limit:
        share = max(1, (limit - len(rows)) // len(hungry))
        still: list[int] = []
        for ws in hungry:
            wanted = min(share, room[ws], limit - len(rows))
            if wanted <= 0:
                continue
            after_due, after_id = after[ws]
            cursor.execute(
                _CLAIM_SQL,
                {
                    "ws": ws,
                    "now": now,
                    "limit": wanted,
                    "after_due": after_due,
                    "after_id": after_id,
                },
            )
            got = cursor.fetchall()
            if got:
                after[ws] = (got[-1][5], got[-1][0])
            rows += got
            room[ws] -= len(got)
            if len(got) == wanted and room[ws] > 0:
                still.append(ws)  # it has more: it may take what others left
        hungry = still
    return rows, flying


def messages_claim(*, limit: int | None = None) -> list[Claim]:
    """Claim up to `limit` due messages; see the module docstring, step 1."""
    return [claim for claims in _claim(limit).values() for claim in claims.claims]


@dataclass
class WorkspaceClaims:
    claims: list[Claim]
    in_flight_before: int  # the workspace's rows already leased when these were claimed


def _claim(limit: int | None) -> dict[int, WorkspaceClaims]:
    """Claim up to `limit` due messages, by workspace."""
    limit = limit or settings.MESSAGING_CLAIM_BATCH
    now = timezone.now()
    lease_until = now + timedelta(seconds=settings.MESSAGING_LEASE_SECONDS)
    with transaction.atomic(), connection.cursor() as cursor:
        rows, flying = _fair_rows(cursor, now, limit)
        if not rows:
            return {}
        # A row whose lease ran out after its last allowed attempt is given up on.
        exhausted = [
            r[0] for r in rows if r[3] == "sending" and r[4] >= settings.MESSAGING_MAX_ATTEMPTS
        ]
        if exhausted:
            Message.objects.filter(pk__in=exhausted).update(
                status=MessageStatus.FAILED,
                status_reason="gave up: the worker stopped during every attempt",
                lease_until=None,
            )
        candidates = [r for r in rows if r[0] not in set(exhausted)]
        chosen = _within_rate_limits(candidates)
        if not chosen:
            return {}
        cursor.execute(
            """
            UPDATE campaigns_message
            SET status = 'sending', lease_until = %s, attempts = attempts + 1
            WHERE id = ANY(%s)
            RETURNING id, attempts, workspace_id
            """,
            [lease_until, chosen],
        )
        grouped: dict[int, WorkspaceClaims] = {}
        for message_id, attempt, workspace_id in sorted(cursor.fetchall()):
            group = grouped.setdefault(
                workspace_id, WorkspaceClaims([], flying.get(workspace_id, 0))
            )
            group.claims.append((int(message_id), int(attempt)))
        return grouped


def _within_rate_limits(rows: list[tuple]) -> list[int]:
    by_workspace: dict[int, list[tuple]] = defaultdict(list)
    for row in rows:
        by_workspace[row[1]].append(row)
    limits = _workspace_limits(by_workspace)
    allowed: list[tuple] = []
    for workspace_id, items in by_workspace.items():
        granted = _rate_take(f"ws:{workspace_id}", len(items), limits[workspace_id], 60)
        allowed.extend(items[:granted])
    chosen: list[int] = []
    for channel, per_second in (
        (Channel.EMAIL, settings.MESSAGING_EMAIL_RATE_PER_SECOND),
        (Channel.SMS, settings.MESSAGING_SMS_RATE_PER_SECOND),
    ):
        items = [r for r in allowed if r[2] == channel]
        granted = _rate_take(f"provider:{channel}", len(items), per_second, 1)
        chosen.extend(r[0] for r in items[:granted])
    return chosen


def message_dispatch_due(*, max_messages: int | None = None) -> int:
    """Claim due messages in batches and hand them to workers; returns how many."""
    budget = max_messages or settings.MESSAGING_DISPATCH_MAX
    # Claim no more than workers hold in flight: a row waiting in the broker past its
    # lease would be claimed again and spend an attempt for nothing.
    in_flight = Message.objects.filter(
        status=MessageStatus.SENDING, lease_until__gte=timezone.now()
    ).count()
    budget = min(budget, settings.MESSAGING_MAX_IN_FLIGHT - in_flight)
    chunk = settings.MESSAGING_TASK_CHUNK
    total = 0
    while total < budget:
        grouped = _claim(min(settings.MESSAGING_CLAIM_BATCH, budget - total))
        if not grouped:
            break
        claimed = 0
        for group in grouped.values():
            claims = group.claims
            claimed += len(claims)
            # A workspace with little to send (a welcome email, a journey step) goes on
            # the prompt queue, which workers read turn about with the default one, so
            # it never waits behind another workspace's broadcast in the broker.
            small = group.in_flight_before + len(claims) <= settings.MESSAGING_PROMPT_BACKLOG
            for start in range(0, len(claims), chunk):
                publish(
                    "messaging.send_messages",
                    [list(c) for c in claims[start : start + chunk]],
                    queue=PROMPT_QUEUE if small else None,
                )
        total += claimed
        if claimed < settings.MESSAGING_CLAIM_BATCH:
            break
    if total:
        logger.info("campaigns.dispatched count=%s", total)
    return total
