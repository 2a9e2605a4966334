"""Claiming the outbox's due rows for the workers (step 1 of dispatch.py's send path).

`messages_claim` (beat, every second): `SELECT … FOR UPDATE SKIP LOCKED` due scheduled
rows and `sending` rows whose lease ran out (their worker died), within the workspace
and provider rate limits; mark them `sending` with a lease and attempts + 1 in the same
transaction; after commit `message_dispatch_due` hands (id, attempt) pairs to workers
in chunks (`messaging.send_messages`)."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from config.queue import publish
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


def messages_claim(*, limit: int | None = None) -> list[Claim]:
    """Claim up to `limit` due messages; see the module docstring, step 1."""
    limit = limit or settings.MESSAGING_CLAIM_BATCH
    now = timezone.now()
    lease_until = now + timedelta(seconds=settings.MESSAGING_LEASE_SECONDS)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT id, workspace_id, channel, status, attempts - deferrals
            FROM campaigns_message
            WHERE status IN ('scheduled', 'sending') AND due_at <= %s
              AND (status = 'scheduled' OR lease_until < %s)
            ORDER BY due_at, id
            LIMIT %s
            FOR UPDATE SKIP LOCKED
            """,
            [now, now, limit],
        )
        rows = cursor.fetchall()
        if not rows:
            return []
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
            return []
        cursor.execute(
            """
            UPDATE campaigns_message
            SET status = 'sending', lease_until = %s, attempts = attempts + 1
            WHERE id = ANY(%s)
            RETURNING id, attempts
            """,
            [lease_until, chosen],
        )
        return [(int(r[0]), int(r[1])) for r in cursor.fetchall()]


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
        claims = messages_claim(limit=min(settings.MESSAGING_CLAIM_BATCH, budget - total))
        if not claims:
            break
        total += len(claims)
        for start in range(0, len(claims), chunk):
            publish("messaging.send_messages", [list(c) for c in claims[start : start + chunk]])
        if len(claims) < settings.MESSAGING_CLAIM_BATCH:
            break
    if total:
        logger.info("campaigns.dispatched count=%s", total)
    return total
