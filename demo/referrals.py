"""The demo's referral programme: a year of friends brought by customers' links. Some
loyal customers shared their link; about one contact in twelve signed up through one
(the referral dated at the friend's signup). A friend whose first purchase of $20 or
more came within 30 days converted the referral; rewards (200 points to the referrer,
100 to the friend) were paid when the 14-day hold ended, or are still held. A few
referrals from one address wait for review. Written in bulk like the demo's ledger:
the demo's history happened before the programme was switched on."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from analytics.rollups.loyalty import loyalty_rollups_rebuild
from contacts.models import Contact, Event
from loyalty.models import Referral, ReferralCode, ReferralStatus
from loyalty.services.ledger import balance_lock, balance_save, entry_append
from loyalty.services.referrals import code_generate, referral_settings_update
from workspaces.models import Workspace
from workspaces.services import Actor

ACTOR = Actor(system="seed_demo")
HOLD = dt.timedelta(days=14)
WITHIN = dt.timedelta(days=30)
MIN_AMOUNT = Decimal("20")
REFERRER_POINTS, FRIEND_POINTS = 200, 100


def _first_qualifying(workspace: Workspace) -> dict[int, tuple[int, dt.datetime]]:
    """Each contact's first purchase of at least MIN_AMOUNT: (event id, when)."""
    first: dict[int, tuple[int, dt.datetime]] = {}
    for event_id, contact_id, at in (
        Event.objects.filter(workspace=workspace, name="purchase", revenue__gte=MIN_AMOUNT)
        .order_by("contact_id", "occurred_at", "pk")
        .values_list("pk", "contact_id", "occurred_at")
    ):
        first.setdefault(contact_id, (event_id, at))
    return first


def _pay(referral: Referral, contact_id: int, points: int, side: str, at: dt.datetime) -> None:
    balance = balance_lock(workspace_id=referral.workspace_id, contact_id=contact_id)
    entry_append(
        balance=balance,
        kind="earn",
        points=points,
        idempotency_key=f"referral:{referral.pk}:{side}",
        source_kind="system",
        source_id=f"referral:{referral.pk}",
        reason=f"referral reward ({side})",
        occurred_at=at,
    )
    balance_save(balance)


def demo_referrals_seed(*, workspace: Workspace, seed: int) -> int:
    """Returns the referrals written."""
    rng = random.Random(seed + 29)
    now = timezone.now()
    referral_settings_update(
        workspace=workspace,
        data={
            "enabled": True,
            "qualifying_event": "purchase",
            "min_amount": "20.00",
            "within_days": WITHIN.days,
            "referrer_points": REFERRER_POINTS,
            "friend_points": FRIEND_POINTS,
            "hold_days": HOLD.days,
            "monthly_limit": 10,
        },
        actor=ACTOR,
    )
    first = _first_qualifying(workspace)
    contacts = list(
        Contact.objects.filter(workspace=workspace)
        .order_by("signed_up_at", "pk")
        .values_list("pk", "signed_up_at")
    )
    # Advocates: customers, a few of whom share a lot (a long tail, as in life).
    customers = [pk for pk, _ in contacts if pk in first]
    advocates = rng.sample(customers, min(60, len(customers)))
    weights = [rng.paretovariate(1.3) for _ in advocates]
    codes = {
        pk: ReferralCode(workspace=workspace, contact_id=pk, code=code_generate())
        for pk in advocates
    }
    ReferralCode.objects.bulk_create(codes.values())
    referrals: list[Referral] = []
    for friend, signed_up in contacts:
        if friend in codes or rng.random() > 1 / 12:
            continue
        referrer = rng.choices(advocates, weights)[0]
        status, converted, event_id = ReferralStatus.PENDING, None, None
        bought = first.get(friend)
        if bought and signed_up <= bought[1] <= signed_up + WITHIN:
            event_id, converted = bought
            status = ReferralStatus.PAID if converted + HOLD <= now else ReferralStatus.HELD
        flags: list[dict[str, str]] = []
        if rng.random() < 0.03 and status == ReferralStatus.PENDING:
            status = ReferralStatus.FLAGGED
            flags = [{"reason": "ip_burst", "detail": "4 signups from one address in an hour"}]
        referrals.append(
            Referral(
                workspace=workspace,
                referrer_id=referrer,
                referred_id=friend,
                code=codes[referrer].code,
                status=status,
                flags=flags,
                created_at=signed_up,
                converted_at=converted,
                conversion_event_id=event_id,
                hold_until=converted + HOLD if converted else None,
                referrer_rewarded=status == ReferralStatus.PAID,
                friend_rewarded=status == ReferralStatus.PAID,
                paid_at=converted + HOLD if status == ReferralStatus.PAID and converted else None,
                # What each side is owed, as the conversion records it (the release of a
                # held referral pays from here).
                details={
                    "referrer": {"points": REFERRER_POINTS},
                    "friend": {"points": FRIEND_POINTS},
                }
                if converted
                else {},
            )
        )
    Referral.objects.bulk_create(referrals)
    with transaction.atomic():
        for referral in referrals:
            if referral.status == ReferralStatus.PAID and referral.paid_at is not None:
                _pay(referral, referral.referrer_id, REFERRER_POINTS, "referrer", referral.paid_at)
                _pay(referral, referral.referred_id, FRIEND_POINTS, "friend", referral.paid_at)
    loyalty_rollups_rebuild(workspace_id=workspace.pk)
    return len(referrals)
