"""Points spent on a reward (`POST /loyalty/contacts/{id}/redeem/`, for the shop's
checkout), issuing one code of its pool exactly once.

1. Lock the contact's balance (the ledger's first lock): a retry with the same
   idempotency key returns the first redemption.
2. Lock the reward's row: redemptions of one reward run one at a time, so its stock,
   the contact's limit and its pool are read and changed by one writer.
3. Take the oldest unissued code, spend the points (a redeem entry), write the
   redemption, mark the code issued to it (a conditional update that must change one
   row) and count the stock down, all in this transaction."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from config.errors import Conflict, field_errors
from contacts.models import Contact
from loyalty.hooks import REWARD_REDEEMED, LoyaltyNews, loyalty_news_notify
from loyalty.models import EntryKind, Redemption, Reward, RewardCode, RewardKind, SourceKind
from loyalty.services.checks import Errors, unknown, whole
from loyalty.services.ledger import MAX_POINTS, balance_lock, entry_append
from loyalty.services.points import idempotency_key_check
from workspaces.services import Actor, audit_record


def _unavailable(reason: str) -> Conflict:
    return Conflict(reason, fields={"reward_id": [reason]})


def _reward_checked(contact: Contact, reward_id: int) -> Reward:
    reward = (
        Reward.objects.select_for_update()
        .filter(workspace_id=contact.workspace_id, pk=reward_id)
        .first()
    )
    if reward is None:
        raise field_errors({"reward_id": ["no such reward"]})
    if not reward.active:
        raise _unavailable("this reward is switched off")
    if reward.stock is not None and reward.stock <= 0:
        raise _unavailable("this reward is out of stock")
    if reward.per_contact_limit is not None:
        had = Redemption.objects.filter(
            workspace_id=contact.workspace_id, contact=contact, reward=reward
        ).count()
        if had >= reward.per_contact_limit:
            raise _unavailable(f"at most {reward.per_contact_limit} per contact")
    return reward


@transaction.atomic
def reward_redeem(
    *, contact: Contact, data: dict[str, Any], actor: Actor
) -> tuple[Redemption, bool]:
    """Spend the contact's points on the reward; returns the redemption and whether it
    is new (False: the idempotency key was redeemed before, nothing spent again)."""
    errors: Errors = {}
    unknown(data, ("reward_id", "idempotency_key"), errors)
    reward_id = whole(data.get("reward_id"), "reward_id", errors, low=1, high=2**63 - 1)
    key = idempotency_key_check(data.get("idempotency_key"), errors)
    if errors:
        raise field_errors(errors)
    assert reward_id is not None and key is not None
    balance = balance_lock(workspace_id=contact.workspace_id, contact_id=contact.pk)
    existing = Redemption.objects.filter(
        workspace_id=contact.workspace_id, idempotency_key=key
    ).first()
    if existing is not None:
        if existing.contact_id != contact.pk or existing.reward_id != reward_id:
            raise Conflict(
                "This idempotency key was used for another redemption.",
                fields={"idempotency_key": ["used for another redemption"]},
            )
        return existing, False
    reward = _reward_checked(contact, reward_id)
    code = None
    if reward.kind == RewardKind.DISCOUNT_CODE:
        code = (
            RewardCode.objects.filter(
                workspace_id=contact.workspace_id, reward=reward, issued_at__isnull=True
            )
            .order_by("id")
            .select_for_update(skip_locked=True)
            .first()
        )
        if code is None:
            raise _unavailable("no codes are left for this reward")
    posted = entry_append(
        balance=balance,
        kind=EntryKind.REDEEM,
        points=-min(reward.points_cost, MAX_POINTS),
        idempotency_key=f"redeem:{key}",
        source_kind=SourceKind.REWARD,
        source_id=str(reward.pk),
        reason=reward.name,
    )
    now = timezone.now()
    redemption = Redemption.objects.create(
        workspace_id=contact.workspace_id,
        contact=contact,
        reward=reward,
        points=reward.points_cost,
        entry=posted.entry,
        code=code.code if code else "",
        idempotency_key=key,
        created_at=now,
    )
    if code is not None:
        taken = RewardCode.objects.filter(pk=code.pk, issued_at__isnull=True).update(
            issued_at=now, redemption=redemption
        )
        assert taken == 1, "the reward's lock makes this redemption the code's only taker"
    if reward.stock is not None:
        Reward.objects.filter(pk=reward.pk).update(stock=F("stock") - 1)
    audit_record(
        workspace=contact.workspace,
        action="loyalty.reward_redeemed",
        actor=actor,
        object_type="contact",
        object_id=contact.pk,
        details={"reward": reward.pk, "redemption": redemption.pk, "points": reward.points_cost},
    )
    loyalty_news_notify(
        [
            LoyaltyNews(
                kind=REWARD_REDEEMED,
                workspace_id=contact.workspace_id,
                contact_id=contact.pk,
                key=f"redemption:{redemption.pk}",
                at=now,
                points=reward.points_cost,
                reward_id=reward.pk,
            )
        ]
    )
    return redemption, True
