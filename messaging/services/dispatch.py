"""The outbox dispatcher: claim due rows, re-check, render, send, record.

States: scheduled → sending → sent | failed | suppressed (then delivered | bounced
from webhooks). Each step is a conditional UPDATE that only the holder of the
current claim (`attempts`) can win. What happens when a process dies between any two
steps is written down in docs/messaging.md.

1. `messages_claim` (beat, every second): `SELECT … FOR UPDATE SKIP LOCKED` due
   scheduled rows and `sending` rows whose lease ran out (their worker died), within
   the workspace and provider rate limits; mark them `sending` with a lease and
   attempts + 1 in the same transaction; after commit hand (id, attempt) pairs to
   workers in chunks.
2. `messages_send` (worker): load the rows still claimed by that attempt; suppress
   those that may not go (contact gone, consent, suppression list); render the rest
   once (stored on the row, so a retry sends the same content with the same ids);
   hand them to the provider; record each result the moment it is known.
"""

from __future__ import annotations

import logging
import os
import random
import signal
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from config.db import bound_cursor
from contacts.models import Channel, EmailStatus, SmsStatus, Suppression
from contacts.services import consent_set, suppression_add, value_hash
from messaging.models import Message, MessageStatus, MessagingSettings
from messaging.providers import Outgoing, Result, provider_for
from messaging.services.claims import Claim
from messaging.services.outgoing import messages_render, outgoing
from messaging.services.pressure import hold_back_apply, hold_backs

logger = logging.getLogger(__name__)


def _crash_point(name: str) -> None:
    """Fault injection for the crash tests (MESSAGING_CRASH_AT); off unless set."""
    if name != settings.MESSAGING_CRASH_AT:
        return
    marker = Path(settings.MESSAGING_CRASH_MARKER)
    try:
        marker.touch(exist_ok=False)
    except FileExistsError:
        return
    os.killpg(os.getpgid(0), signal.SIGKILL)


def retry_delay(attempt: int, retry_after: float | None) -> float:
    """Exponential backoff with full jitter, never sooner than the provider asked."""
    base = settings.MESSAGING_RETRY_BASE_SECONDS * (2 ** max(0, attempt - 1))
    delay = random.uniform(base / 2, base)
    delay = min(delay, settings.MESSAGING_RETRY_MAX_SECONDS)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


def _record_sent(sent: list[tuple[Message, str]]) -> None:
    """Mark messages sent, in one statement; only the current claim's holder can."""
    if not sent:
        return
    with bound_cursor() as cursor:
        cursor.execute(
            """
            UPDATE campaigns_message AS m
            SET status = 'sent', sent_at = now(), lease_until = NULL, error = '',
                provider_message_id = u.provider_message_id
            FROM unnest(%s::bigint[], %s::integer[], %s::text[])
                 AS u(id, attempts, provider_message_id)
            WHERE m.id = u.id AND m.attempts = u.attempts AND m.status = 'sending'
            """,
            [
                [m.pk for m, _ in sent],
                [m.attempts for m, _ in sent],
                [provider_id[:200] for _, provider_id in sent],
            ],
        )


def _finish(message: Message, attempt: int, result: Result) -> None:
    """Record one provider result; only the current claim's holder can."""
    claimed = Message.objects.filter(pk=message.pk, status=MessageStatus.SENDING, attempts=attempt)
    now = timezone.now()
    if result.ok:
        _record_sent([(message, result.provider_message_id)])
        return
    tries = attempt - message.deferrals  # deferrals were claims, not tries
    if result.transient and tries < settings.MESSAGING_MAX_ATTEMPTS:
        claimed.update(
            status=MessageStatus.SCHEDULED,
            due_at=now + timedelta(seconds=retry_delay(tries, result.retry_after)),
            lease_until=None,
            error=result.error,
        )
        logger.info("campaigns.send_retry message=%s attempt=%s", message.pk, attempt)
        return
    reason = "provider refused the recipient" if result.invalid_recipient else "provider error"
    if result.transient:
        reason = f"gave up after {tries} attempts"
    claimed.update(
        status=MessageStatus.FAILED,
        status_reason=reason,
        lease_until=None,
        error=result.error,
    )
    logger.info("campaigns.send_failed message=%s error=%s", message.pk, result.error[:200])
    if result.invalid_recipient and message.contact is not None:
        _suppress_recipient(message)


def _suppress_recipient(message: Message) -> None:
    contact = message.contact
    assert contact is not None
    if message.channel == Channel.SMS:
        consent_set(
            contact=contact, channel=Channel.SMS, status=SmsStatus.INVALID, source="provider"
        )
        reason = Suppression.Reason.INVALID
    else:
        consent_set(
            contact=contact, channel=Channel.EMAIL, status=EmailStatus.BOUNCED, source="provider"
        )
        reason = Suppression.Reason.BOUNCED
    suppression_add(
        workspace=contact.workspace,
        channel=message.channel,
        value=message.to_address,
        reason=reason,
    )


def _why_not(message: Message, suppressed: set[tuple[str, str]]) -> str:
    """Why this message may not go now, or "" if it may."""
    contact = message.contact
    if message.is_test:
        return ""
    if contact is None:
        return "the contact was erased"
    if message.template_id is None and not message.to_address:
        return "the template was deleted"
    if message.channel == Channel.EMAIL:
        if not contact.email:
            return "the contact has no email address"
        if contact.email_status != EmailStatus.SUBSCRIBED:
            return f"email consent: {contact.email_status}"
        if (Channel.EMAIL, value_hash(Channel.EMAIL, contact.email)) in suppressed:
            return "the address is on the suppression list"
    else:
        if not contact.phone:
            return "the contact has no phone number"
        if contact.sms_status != SmsStatus.SUBSCRIBED:
            return f"SMS consent: {contact.sms_status}"
        if (Channel.SMS, value_hash(Channel.SMS, contact.phone)) in suppressed:
            return "the number is on the suppression list"
    return ""


def _suppression_hits(messages: list[Message]) -> set[tuple[str, str]]:
    wanted: dict[int, set[str]] = defaultdict(set)
    for m in messages:
        if m.contact is None:
            continue
        value = m.contact.email if m.channel == Channel.EMAIL else m.contact.phone
        if value:
            wanted[m.workspace_id].add(value_hash(m.channel, value))
    hits: set[tuple[str, str]] = set()
    for workspace_id, hashes in wanted.items():
        rows = Suppression.objects.filter(
            workspace_id=workspace_id, value_hash__in=hashes
        ).values_list("channel", "value_hash")
        hits.update(rows)
    return hits


def _renew_leases(claims: list[Claim]) -> list[int]:
    """Take the rows this task still holds, with a fresh lease from now.

    A task may wait in the broker longer than the lease it was claimed with; its rows
    may meanwhile have been claimed again (attempts moved on), and then this task must
    not touch them. The UPDATE is conditional on the attempt and serialised with the
    claimer's row locks, so exactly one of the two holds each row afterwards."""
    if not claims:
        return []
    lease_until = timezone.now() + timedelta(seconds=settings.MESSAGING_LEASE_SECONDS)
    with bound_cursor() as cursor:
        cursor.execute(
            """
            UPDATE campaigns_message SET lease_until = %s
            WHERE status = 'sending'
              AND (id, attempts) IN (SELECT * FROM unnest(%s::bigint[], %s::integer[]))
            RETURNING id
            """,
            [lease_until, [c[0] for c in claims], [c[1] for c in claims]],
        )
        return [int(row[0]) for row in cursor.fetchall()]


def messages_send(*, claims: list[Claim]) -> dict[str, int]:
    """Send the claimed messages; see the module docstring, step 2. Safe to run twice:
    a claim that is no longer current (sent meanwhile, or re-claimed after its lease)
    is skipped."""
    held = _renew_leases(claims)
    messages = list(
        Message.objects.filter(pk__in=held)
        .select_related("contact", "template", "workspace")
        .order_by("id")
    )
    counts = {"sent": 0, "suppressed": 0, "retry": 0, "failed": 0, "skipped": 0, "deferred": 0}
    counts["skipped"] = len(claims) - len(messages)
    if not messages:
        return counts
    suppressed = _suppression_hits(messages)
    sendable: list[Message] = []
    for m in messages:
        reason = _why_not(m, suppressed)
        if reason:
            Message.objects.filter(
                pk=m.pk, status=MessageStatus.SENDING, attempts=m.attempts
            ).update(status=MessageStatus.SUPPRESSED, status_reason=reason, lease_until=None)
            counts["suppressed"] += 1
        else:
            sendable.append(m)
    # Frequency caps and quiet hours (messaging/services/pressure.py): deferred or
    # skipped, with the reason on the message.
    held_back = hold_backs(sendable)
    for m in sendable:
        if m.pk in held_back:
            hold_back_apply(m, held_back[m.pk])
            counts["deferred" if held_back[m.pk].defer_to else "suppressed"] += 1
    sendable = [m for m in sendable if m.pk not in held_back]
    sendable, render_failures = messages_render(sendable)
    counts["failed"] += render_failures
    _crash_point("after_render")
    senders = {
        s.workspace_id: s
        for s in MessagingSettings.objects.filter(
            workspace_id__in={m.workspace_id for m in sendable}
        )
    }
    by_id = {m.pk: m for m in sendable}
    for channel in (Channel.EMAIL, Channel.SMS):
        batch = [outgoing(m, senders.get(m.workspace_id)) for m in sendable if m.channel == channel]
        if not batch:
            continue

        provider = provider_for(channel)
        # Providers that answer for a whole batch at once (HTTP, sandbox) are recorded
        # in one statement; SMTP and Twilio answer per message and are recorded per
        # message, so a crash can leave at most the one in flight unrecorded.
        batched = getattr(provider, "answers_per_batch", False)
        sent_now: list[tuple[Message, str]] = []

        def on_result(
            item: Outgoing,
            result: Result,
            batched: bool = batched,
            sent_now: list[tuple[Message, str]] = sent_now,
        ) -> None:
            _crash_point("after_provider")
            message = by_id[item.message_id]
            if result.ok and batched:
                sent_now.append((message, result.provider_message_id))
            else:
                _finish(message, message.attempts, result)
            if result.ok:
                counts["sent"] += 1
            elif (
                result.transient
                and message.attempts - message.deferrals < settings.MESSAGING_MAX_ATTEMPTS
            ):
                counts["retry"] += 1
            else:
                counts["failed"] += 1
            if not batched:
                _crash_point("after_record")

        provider.send(batch, on_result)
        _record_sent(sent_now)
        if batched:
            _crash_point("after_record")
    return counts


def messages_pending_count(*, workspace_id: int | None = None) -> int:
    """Messages not yet sent, failed or suppressed (a run is finished only at 0)."""
    queryset = Message.objects.filter(status__in=[MessageStatus.SCHEDULED, MessageStatus.SENDING])
    if workspace_id is not None:
        queryset = queryset.filter(workspace_id=workspace_id)
    return queryset.count()
