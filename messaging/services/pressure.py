"""Contact pressure, applied by the dispatcher to the messages it is about to send:
frequency caps per workspace and channel, and quiet hours in the contact's local time.

Transactional and test messages bypass both. A message held back is never lost: it is
either deferred (back to `scheduled` with a later `due_at`) or, by a cap's `skip`
policy, suppressed; both write the reason on the message.

1. Quiet hours: if the contact's local time (its time zone, else its phone number's
   region when that has one zone, else the workspace's; `contact_zone`) is inside the
   window, defer to the window's end on the local clock (DST-aware).
2. Caps: count the contact's marketing messages on the channel sent within the period,
   plus those other workers are sending right now and those sent earlier in this
   batch. At the cap: skip, or defer until the oldest counted send leaves the window.
   Counting in-flight rows errs on the safe side: two workers racing for the same
   contact may both defer, never both send over the cap.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from contacts.models import Channel
from contacts.zones import contact_zone, local_instant
from messaging.models import CapPolicy, Message, MessageStatus, SendingPolicy


@dataclass(frozen=True)
class Policy:
    cap_messages: int | None = None
    cap_period: dt.timedelta = dt.timedelta(days=7)
    cap_policy: str = CapPolicy.DEFER
    quiet: tuple[dt.time, dt.time] | None = None


@dataclass(frozen=True)
class HoldBack:
    reason: str
    defer_to: dt.datetime | None  # None: skip (suppress)


def _default_quiet(channel: str) -> tuple[dt.time, dt.time] | None:
    raw = settings.CAMPAIGNS_SMS_QUIET_HOURS if channel == Channel.SMS else ""
    if not raw:
        return None
    start, end = raw.split("-")
    return dt.time.fromisoformat(start.strip()), dt.time.fromisoformat(end.strip())


def policies_for(workspace_ids: set[int]) -> dict[tuple[int, str], Policy]:
    rows = {
        (p.workspace_id, p.channel): p
        for p in SendingPolicy.objects.filter(workspace_id__in=workspace_ids)
    }
    out: dict[tuple[int, str], Policy] = {}
    for workspace_id in workspace_ids:
        for channel in Channel.values:
            row = rows.get((workspace_id, channel))
            if row is None:
                out[(workspace_id, channel)] = Policy(quiet=_default_quiet(channel))
                continue
            out[(workspace_id, channel)] = Policy(
                cap_messages=row.cap_messages,
                cap_period=dt.timedelta(hours=row.cap_period_hours),
                cap_policy=row.cap_policy,
                quiet=(row.quiet_start, row.quiet_end) if row.quiet_hours_enabled else None,
            )
    return out


def _zone_name(message: Message) -> str:
    assert message.contact is not None
    contact = message.contact
    return contact_zone(contact.time_zone, contact.phone, message.workspace.time_zone)


def quiet_until(
    now: dt.datetime, window: tuple[dt.time, dt.time], zone_name: str
) -> dt.datetime | None:
    """When quiet hours end if `now` is inside them on the zone's clock, else None."""
    start, end = window
    local = now.astimezone(zoneinfo.ZoneInfo(zone_name))
    t = local.time().replace(tzinfo=None)
    if start == end:
        return None
    wraps = start > end  # e.g. 21:00-08:00 spans midnight
    inside = (t >= start or t < end) if wraps else (start <= t < end)
    if not inside:
        return None
    day = local.date() if t < end else local.date() + dt.timedelta(days=1)
    return max(local_instant(day, end, zone_name, "UTC"), now + dt.timedelta(seconds=1))


def _fmt(window: tuple[dt.time, dt.time]) -> str:
    return f"{window[0]:%H:%M}-{window[1]:%H:%M}"


def hold_backs(messages: list[Message], *, now: dt.datetime | None = None) -> dict[int, HoldBack]:
    """For each message that may not go now, why and until when (see the docstring)."""
    now = now or timezone.now()
    subject = [m for m in messages if not m.is_test and not m.transactional and m.contact_id]
    if not subject:
        return {}
    policies = policies_for({m.workspace_id for m in subject})
    out: dict[int, HoldBack] = {}
    capped: list[Message] = []
    for m in subject:
        policy = policies[(m.workspace_id, m.channel)]
        if policy.quiet is not None:
            zone = _zone_name(m)
            until = quiet_until(now, policy.quiet, zone)
            if until is not None:
                out[m.pk] = HoldBack(
                    reason=f"deferred: quiet hours {_fmt(policy.quiet)} ({zone})", defer_to=until
                )
                continue
        if policy.cap_messages is not None:
            capped.append(m)
    out.update(_cap_hold_backs(capped, policies, now, batch_ids={m.pk for m in messages}))
    return out


def _cap_hold_backs(
    messages: list[Message],
    policies: dict[tuple[int, str], Policy],
    now: dt.datetime,
    *,
    batch_ids: set[int],
) -> dict[int, HoldBack]:
    out: dict[int, HoldBack] = {}
    by_key: dict[tuple[int, str], list[Message]] = defaultdict(list)
    for m in messages:
        by_key[(m.workspace_id, m.channel)].append(m)
    for (workspace_id, channel), group in by_key.items():
        policy = policies[(workspace_id, channel)]
        assert policy.cap_messages is not None
        since = now - policy.cap_period
        history: dict[int, list[dt.datetime]] = defaultdict(list)
        rows = (
            Message.objects.filter(
                workspace_id=workspace_id,
                channel=channel,
                contact_id__in={m.contact_id for m in group},
                transactional=False,
                is_test=False,
            )
            .filter(
                Q(sent_at__gte=since) | (Q(status=MessageStatus.SENDING) & ~Q(pk__in=batch_ids))
            )
            .values_list("contact_id", "sent_at")
        )
        for contact_id, sent_at in rows:
            history[contact_id].append(sent_at or now)
        for m in group:
            assert m.contact_id is not None
            sent = sorted(history[m.contact_id], reverse=True)
            if len(sent) < policy.cap_messages:
                history[m.contact_id].append(now)  # counts against the next in this batch
                continue
            hours = int(policy.cap_period.total_seconds() // 3600)
            cap = f"frequency cap: {policy.cap_messages} {channel} per {hours} h"
            if policy.cap_policy == CapPolicy.SKIP or policy.cap_messages == 0:
                out[m.pk] = HoldBack(reason=f"skipped: {cap}", defer_to=None)
            else:
                frees_at = sent[policy.cap_messages - 1] + policy.cap_period
                out[m.pk] = HoldBack(
                    reason=f"deferred: {cap}",
                    defer_to=max(frees_at, now + dt.timedelta(seconds=1)),
                )
    return out


def hold_back_apply(message: Message, hold: HoldBack) -> None:
    """Write the decision; only the current claim's holder can."""
    claimed = Message.objects.filter(
        pk=message.pk, status=MessageStatus.SENDING, attempts=message.attempts
    )
    if hold.defer_to is None:
        claimed.update(
            status=MessageStatus.SUPPRESSED, status_reason=hold.reason[:200], lease_until=None
        )
    else:
        claimed.update(
            status=MessageStatus.SCHEDULED,
            status_reason=hold.reason[:200],
            due_at=hold.defer_to,
            lease_until=None,
            deferrals=F("deferrals") + 1,
        )
