"""A referral converts on the friend's qualifying purchase, and a refund of that
purchase during the hold cancels its rewards (docs/loyalty.md "Referrals").

`referrals_for_refreshed` is an `on_contacts_refreshed` hook (registered after
earning): it runs in the lifecycle engine's transaction with the contacts whose events
were just taken in, so whatever it records is as durable as the marks consumed.

1. Refunds first: a held (or flagged, converted) referral of these friends whose
   qualifying order was refunded before `hold_until` is reversed.
2. Conversion: each pending or flagged referral of these friends not yet converted
   looks for the friend's first qualifying purchase (name, amount, window from the
   signup). The referrers' code rows are locked in referrer id order, so the monthly
   limit is counted by one writer per referrer; the conversion is a conditional
   update (`converted_at IS NULL`) that only one writer wins, so a replayed event or a
   retried batch converts once. What each side is due is recorded with it
   (`details`), paid by `referral_release` when the hold ends."""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo
from collections import defaultdict
from typing import Any

from django.db import connection
from django.utils import timezone

from contacts.models import Contact, Event
from contacts.services.marks import contacts_mark_changed
from loyalty.hooks_referrals import referrals_converted_notify
from loyalty.models import (
    EntryKind,
    LedgerEntry,
    Referral,
    ReferralCode,
    ReferralSettings,
    ReferralStatus,
)
from loyalty.services.referrals_fraud import conversion_flags

logger = logging.getLogger(__name__)

OPEN = (ReferralStatus.PENDING, ReferralStatus.FLAGGED)
# Statuses whose referrer reward counts against the monthly limit.
COUNTED = (ReferralStatus.HELD, ReferralStatus.PAID, ReferralStatus.FLAGGED)


def referrals_for_refreshed(contact_ids: list[int], since: object = None) -> None:
    if not contact_ids:
        return
    # Only the contacts of workspaces whose programme is on (one statement; nothing
    # more for the engine's batches elsewhere), then their referrals through the
    # (workspace, referred) unique index.
    by_workspace: dict[int, list[int]] = defaultdict(list)
    for pk, workspace_id in Contact.objects.filter(
        pk__in=contact_ids,
        workspace_id__in=ReferralSettings.objects.filter(enabled=True).values("workspace_id"),
    ).values_list("pk", "workspace_id"):
        by_workspace[workspace_id].append(pk)
    for workspace_id, ids in sorted(by_workspace.items()):
        settings = ReferralSettings.objects.get(workspace_id=workspace_id)
        referrals = list(
            Referral.objects.filter(workspace_id=workspace_id, referred_id__in=ids)
            .filter(status__in=[*OPEN, ReferralStatus.HELD])
            .select_related("referrer", "referred", "workspace")
            .order_by("referrer_id", "id")
        )
        reversed_ = referrals_refund_check(
            referrals=[r for r in referrals if r.converted_at is not None]
        )
        converted = referrals_convert(
            settings=settings, referrals=[r for r in referrals if r.converted_at is None]
        )
        # The referrers' `referrals_converted` changed: the engine evaluates them next
        # (a new mark; the ones this run consumed are its own).
        contacts_mark_changed(contact_ids={r.referrer_id for r in [*reversed_, *converted]})
        referrals_converted_notify(converted)


def _refunded(referral: Referral) -> bool:
    """Was the qualifying order refunded before the hold ended? A negative revenue for
    the order (any negative revenue of the friend, for an order without an id), or
    the order reversed over the API."""
    assert referral.converted_at is not None and referral.hold_until is not None
    events = Event.objects.filter(
        workspace_id=referral.workspace_id,
        contact_id=referral.referred_id,
        revenue__lt=0,
        occurred_at__gte=referral.converted_at,
        occurred_at__lt=referral.hold_until,
    )
    if referral.order_id:
        events = events.filter(properties__order_id=referral.order_id)
    if events.exists():
        return True
    return bool(referral.order_id) and (
        LedgerEntry.objects.filter(
            workspace_id=referral.workspace_id,
            contact_id=referral.referred_id,
            order_id=referral.order_id,
            kind=EntryKind.REVERSE,
            created_at__lt=referral.hold_until,
        ).exists()
    )


def referrals_refund_check(*, referrals: list[Referral]) -> list[Referral]:
    """Reverse the held (or flagged) converted referrals whose order was refunded
    within the hold; returns those reversed."""
    reversed_: list[Referral] = []
    now = timezone.now()
    for referral in referrals:
        if referral.status not in (ReferralStatus.HELD, ReferralStatus.FLAGGED):
            continue
        if referral.converted_at is None or not _refunded(referral):
            continue
        won = Referral.objects.filter(
            pk=referral.pk, status=referral.status, paid_at__isnull=True
        ).update(status=ReferralStatus.REVERSED, reversed_at=now)
        if won:
            referral.status, referral.reversed_at = ReferralStatus.REVERSED, now
            reversed_.append(referral)
            logger.info(
                "loyalty.referral_reversed workspace=%s referral=%s order=%s",
                referral.workspace_id,
                referral.pk,
                referral.order_id,
            )
    return reversed_


_FIRST_PURCHASES_SQL = """
SELECT DISTINCT ON (r.id) r.id, e.id
FROM loyalty_referral r
JOIN contacts_contact c ON c.id = r.referred_id
JOIN contacts_event e ON e.contact_id = r.referred_id AND e.workspace_id = r.workspace_id
WHERE r.workspace_id = %(ws)s AND r.id = ANY(%(ids)s)
  AND e.name = ANY(%(names)s) AND e.revenue > 0 AND e.revenue >= %(min)s
  AND e.occurred_at >= LEAST(c.signed_up_at, r.created_at)
  AND (%(days)s::int IS NULL OR e.occurred_at
       < LEAST(c.signed_up_at, r.created_at) + make_interval(days => %(days)s::int))
ORDER BY r.id, e.occurred_at, e.id
"""


def _qualifying_events(settings: ReferralSettings, referrals: list[Referral]) -> dict[int, Event]:
    """Referral id -> the friend's first qualifying purchase, for all of them in one
    statement (the events' (contact, name, occurred_at) index)."""
    if not referrals:
        return {}
    names = (
        [settings.qualifying_event]
        if settings.qualifying_event
        else list(referrals[0].workspace.purchase_event_names)
    )
    with connection.cursor() as cursor:
        cursor.execute(
            _FIRST_PURCHASES_SQL,
            {
                "ws": settings.workspace_id,
                "ids": [r.pk for r in referrals],
                "names": names,
                "min": settings.min_amount,
                "days": settings.within_days,
            },
        )
        pairs = dict(cursor.fetchall())
    events = Event.objects.in_bulk(list(pairs.values()))
    return {referral_id: events[event_id] for referral_id, event_id in pairs.items()}


def _month(moment: dt.datetime, zone_name: str) -> tuple[dt.datetime, dt.datetime]:
    """The calendar month of `moment` in the workspace's time zone."""
    zone = zoneinfo.ZoneInfo(zone_name or "UTC")
    local = moment.astimezone(zone)
    start = dt.datetime(local.year, local.month, 1, tzinfo=zone)
    end = dt.datetime(local.year + (local.month == 12), local.month % 12 + 1, 1, tzinfo=zone)
    return start, end


def _referrer_under_limit(settings: ReferralSettings, referral: Referral, at: dt.datetime) -> bool:
    if settings.monthly_limit is None:
        return True
    start, end = _month(at, referral.workspace.time_zone)
    rewarded = Referral.objects.filter(
        workspace_id=referral.workspace_id,
        referrer_id=referral.referrer_id,
        referrer_rewarded=True,
        status__in=COUNTED,
        converted_at__gte=start,
        converted_at__lt=end,
    ).count()
    return rewarded < settings.monthly_limit


def _due(settings: ReferralSettings, side: str) -> dict[str, Any]:
    points = getattr(settings, f"{side}_points")
    reward_id = getattr(settings, f"{side}_reward_id")
    return {"points": points, "reward_id": reward_id} if points or reward_id else {}


def referrals_convert(*, settings: ReferralSettings, referrals: list[Referral]) -> list[Referral]:
    """Convert the referrals whose friend made a qualifying purchase; returns those
    this call converted."""
    events = _qualifying_events(settings, referrals)
    found = [(r, events[r.pk]) for r in referrals if r.pk in events]
    if not found:
        return []
    referrer_ids = sorted({r.referrer_id for r, _ in found})
    # One writer per referrer from here (the monthly limit), in id order.
    list(
        ReferralCode.objects.select_for_update()
        .filter(workspace_id=settings.workspace_id, contact_id__in=referrer_ids)
        .order_by("contact_id")
    )
    converted: list[Referral] = []
    for referral, event in found:
        assert event is not None
        flags = list(referral.flags) + conversion_flags(
            referral=referral, properties=event.properties or {}
        )
        referrer_due = _due(settings, "referrer")
        over_limit = bool(referrer_due) and not _referrer_under_limit(
            settings, referral, event.occurred_at
        )
        if over_limit:
            referrer_due = {}
        friend_due = _due(settings, "friend")
        if flags:
            status = ReferralStatus.FLAGGED
        elif referrer_due or friend_due:
            status = ReferralStatus.HELD
        else:
            status = ReferralStatus.CONVERTED
        order_id = (event.properties or {}).get("order_id")
        details = {
            **referral.details,
            "referrer": referrer_due,
            "friend": friend_due,
            "revenue": str(event.revenue),
        }
        if over_limit:
            details["referrer_over_limit"] = settings.monthly_limit
        values = {
            "status": status,
            "flags": flags,
            "converted_at": event.occurred_at,
            "conversion_event_id": event.pk,
            "order_id": order_id[:200] if isinstance(order_id, str) else "",
            "hold_until": event.occurred_at + dt.timedelta(days=settings.hold_days),
            "referrer_rewarded": bool(referrer_due),
            "friend_rewarded": bool(friend_due),
            "details": details,
        }
        won = Referral.objects.filter(
            pk=referral.pk, converted_at__isnull=True, status__in=OPEN
        ).update(**values)
        if not won:
            continue
        for key, value in values.items():
            setattr(referral, key, value)
        converted.append(referral)
        logger.info(
            "loyalty.referral_converted workspace=%s referral=%s status=%s",
            referral.workspace_id,
            referral.pk,
            status,
        )
    return converted
