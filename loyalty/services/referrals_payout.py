"""Paying a referral's rewards when its hold ends, and a person's review of a flagged
referral (docs/loyalty.md "Referrals").

Rewards are written to the ledger only when the hold ends (not written and then
reversed): nothing a friend refunds within the hold was ever spendable.

`referral_release` (beat, through `referrals_release_due`), in one transaction:
1. Lock the balances of both sides (the ledger's first lock, contact id order), then
   the referral's row; a referral no longer held (paid, reversed by a refund,
   rejected) is left alone, so two runs pay once.
2. Check the refund once more (an order reversed over the API, a refund the engine
   has not yet offered): refunded before `hold_until`, the referral is reversed.
3. Each side due points gets an earn entry keyed `referral:<id>:<side>`; a side due a
   reward of the catalogue gets its points cost as an earn entry
   (`referral:<id>:<side>:reward`) spent at once on the reward (a redemption keyed
   `referral-<id>-<side>`, issuing a code once). A reward that cannot be issued then
   (off, out of stock, over its limit) leaves the points with the contact."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

from config.errors import Conflict, DomainError
from contacts.models import Contact
from contacts.services.marks import contacts_mark_changed
from loyalty.models import EntryKind, PointsBalance, Referral, ReferralStatus, Reward, SourceKind
from loyalty.services.ledger import balances_lock, entry_append
from loyalty.services.redemptions import reward_redeem
from loyalty.services.referrals_conversion import referrals_refund_check
from workspaces.services import Actor, audit_record

logger = logging.getLogger(__name__)

SYSTEM = Actor(system="referrals")
RELEASE_BATCH = 500


def _pay_side(referral: Referral, side: str, contact: Contact, balance: PointsBalance) -> None:
    due: dict[str, Any] = referral.details.get(side) or {}
    source = f"referral:{referral.pk}"
    if due.get("points"):
        entry_append(
            balance=balance,
            kind=EntryKind.EARN,
            points=int(due["points"]),
            idempotency_key=f"{source}:{side}",
            source_kind=SourceKind.SYSTEM,
            source_id=source,
            reason=f"referral reward ({side})",
        )
    reward_id = due.get("reward_id")
    reward = (
        Reward.objects.filter(workspace_id=referral.workspace_id, pk=reward_id).first()
        if reward_id
        else None
    )
    if reward is None:
        return
    entry_append(
        balance=balance,
        kind=EntryKind.EARN,
        points=reward.points_cost,
        idempotency_key=f"{source}:{side}:reward",
        source_kind=SourceKind.SYSTEM,
        source_id=source,
        reason=f"referral reward ({side}): {reward.name}"[:500],
    )
    try:
        with transaction.atomic():
            redemption, _ = reward_redeem(
                contact=contact,
                data={"reward_id": reward.pk, "idempotency_key": f"referral-{referral.pk}-{side}"},
                actor=SYSTEM,
            )
    except DomainError as exc:
        referral.details[f"{side}_reward_not_issued"] = exc.message
    else:
        referral.details[f"{side}_redemption"] = redemption.pk


@transaction.atomic
def referral_release(*, referral_id: int, now: dt.datetime | None = None) -> str:
    """Pay a held referral whose hold has ended; returns its status after."""
    now = now or timezone.now()
    row = (
        Referral.objects.filter(pk=referral_id)
        .values("workspace_id", "referrer_id", "referred_id")
        .first()
    )
    if row is None:
        return "gone"
    balances = balances_lock(
        workspace_id=row["workspace_id"], contact_ids=[row["referrer_id"], row["referred_id"]]
    )
    referral = (
        Referral.objects.select_for_update(of=("self",))
        .select_related("referrer", "referred", "workspace")
        .filter(pk=referral_id, status=ReferralStatus.HELD, hold_until__lte=now)
        .first()
    )
    if referral is None:
        return "not due"
    if referrals_refund_check(referrals=[referral]):
        contacts_mark_changed(contact_ids=[referral.referrer_id])  # one conversion fewer
        return ReferralStatus.REVERSED
    if referral.referrer_rewarded:
        _pay_side(referral, "referrer", referral.referrer, balances[referral.referrer_id])
    if referral.friend_rewarded:
        _pay_side(referral, "friend", referral.referred, balances[referral.referred_id])
    Referral.objects.filter(pk=referral.pk).update(
        status=ReferralStatus.PAID, paid_at=now, details=referral.details
    )
    logger.info(
        "loyalty.referral_paid workspace=%s referral=%s", referral.workspace_id, referral.pk
    )
    return ReferralStatus.PAID


def referrals_release_due(*, now: dt.datetime | None = None) -> int:
    """Pay every held referral whose hold has ended (beat); returns how many were
    looked at. Each is its own transaction; safe to run twice."""
    now = now or timezone.now()
    ids = list(
        Referral.objects.filter(status=ReferralStatus.HELD, hold_until__lte=now)
        .order_by("hold_until", "id")
        .values_list("pk", flat=True)[:RELEASE_BATCH]
    )
    for pk in ids:
        referral_release(referral_id=pk, now=now)
    return len(ids)


@transaction.atomic
def referral_review(*, referral: Referral, approve: bool, actor: Actor) -> Referral:
    """A person's decision on a flagged referral. Approved, it goes on as if it had not
    been flagged (held until its hold ends if it converted, else pending); rejected,
    it never pays. Only a flagged referral can be reviewed (409 otherwise)."""
    now = timezone.now()
    if approve:
        if referral.converted_at is None:
            status = ReferralStatus.PENDING
        elif referral.referrer_rewarded or referral.friend_rewarded:
            status = ReferralStatus.HELD
        else:
            status = ReferralStatus.CONVERTED
    else:
        status = ReferralStatus.REJECTED
    who = actor.label
    won = Referral.objects.filter(pk=referral.pk, status=ReferralStatus.FLAGGED).update(
        status=status, reviewed_at=now, reviewed_by=who[:200]
    )
    if not won:
        raise Conflict(
            "Only a referral waiting for review can be approved or rejected.",
            fields={"status": [f"is {referral.status}, not flagged"]},
        )
    contacts_mark_changed(contact_ids=[referral.referrer_id])  # its referral counts changed
    audit_record(
        workspace=referral.workspace,
        action="loyalty.referral_approved" if approve else "loyalty.referral_rejected",
        actor=actor,
        object_type="loyalty_referral",
        object_id=referral.pk,
        details={"flags": [f["reason"] for f in referral.flags]},
    )
    referral.refresh_from_db()
    return referral
