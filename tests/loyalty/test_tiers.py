"""Tiers by points earned over the last 12 months: earning moves contacts up at once,
the daily review moves them either way, and every move is recorded with its cause."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction
from django.utils import timezone

from config.errors import Conflict, InvalidInput
from loyalty import hooks
from loyalty.models import ContactTier, EntryKind, LedgerEntry, SourceKind, TierChange
from loyalty.services import (
    balance_lock,
    entry_append,
    reward_create,
    reward_redeem,
    tier_create,
    tier_delete,
    tier_update,
    tiers_review,
    tiers_review_due,
)
from tests.factories import ContactFactory
from tests.loyalty.helpers import ACTOR, ingest, programme, purchase

pytestmark = pytest.mark.django_db


@pytest.fixture
def news():
    seen: list[hooks.LoyaltyNews] = []

    def collect(batch):
        seen.extend(batch)

    hooks.on_loyalty_news(collect)
    yield seen
    hooks._hooks.remove(collect)


def _tiers(ws):
    return (
        tier_create(workspace=ws, data={"name": "Silver", "threshold": 100}, actor=ACTOR),
        tier_create(
            workspace=ws,
            data={"name": "Gold", "threshold": 500, "benefits": "Free shipping"},
            actor=ACTOR,
        ),
    )


def _tier_name(contact) -> str | None:
    row = ContactTier.objects.filter(contact=contact).select_related("tier").first()
    return row.tier.name if row and row.tier else None


def _moves(contact) -> list[tuple[str, str, str]]:
    return list(
        TierChange.objects.filter(contact=contact)
        .order_by("id")
        .values_list("from_name", "to_name", "cause")
    )


def test_earning_moves_up_and_a_refund_waits_for_the_review(ws):
    _tiers(ws)
    programme(ws)
    contact = ContactFactory.create(workspace=ws)
    ingest(ws, purchase(contact, "99", properties={"order_id": "A"}))
    assert _tier_name(contact) is None
    ingest(ws, purchase(contact, "50", properties={"order_id": "B"}))
    assert _tier_name(contact) == "Silver"
    ingest(ws, purchase(contact, "400", properties={"order_id": "C"}))
    assert _tier_name(contact) == "Gold"
    ingest(ws, purchase(contact, "-400", properties={"order_id": "C"}))
    assert _tier_name(contact) == "Gold"  # earning never moves a contact down
    assert tiers_review(workspace_id=ws.pk) == 1
    assert _tier_name(contact) == "Silver"
    assert tiers_review(workspace_id=ws.pk) == 0  # run twice, moves nobody again
    assert _moves(contact) == [
        ("", "Silver", "earned"),
        ("Silver", "Gold", "earned"),
        ("Gold", "Silver", "review"),
    ]
    assert ContactTier.objects.get(contact=contact).points_in_window == 149


def test_points_older_than_twelve_months_no_longer_count(ws):
    _tiers(ws)
    contact = ContactFactory.create(workspace=ws)
    now = timezone.now()
    with transaction.atomic():
        balance = balance_lock(workspace_id=ws.pk, contact_id=contact.pk)
        entry_append(
            balance=balance,
            kind=EntryKind.EARN,
            points=600,
            idempotency_key="old",
            source_kind=SourceKind.SYSTEM,
            occurred_at=now - dt.timedelta(days=300),
        )
    assert tiers_review_due(now=now) == 1
    assert _tier_name(contact) == "Gold"
    # 66 days later the points are 366 days old: out of the window.
    assert tiers_review(workspace_id=ws.pk, now=now + dt.timedelta(days=66)) == 1
    assert _tier_name(contact) is None
    assert _moves(contact)[-1] == ("Gold", "", "review")


def test_tier_input_and_deleting_a_tier_with_members(ws):
    silver, _ = _tiers(ws)
    with pytest.raises(Conflict):
        tier_create(workspace=ws, data={"name": "Bronze", "threshold": 100}, actor=ACTOR)
    with pytest.raises(InvalidInput) as refused:
        tier_create(workspace=ws, data={"name": " ", "threshold": -1, "x": 1}, actor=ACTOR)
    assert set(refused.value.fields) == {"name", "threshold", "x"}
    contact = ContactFactory.create(workspace=ws)
    with transaction.atomic():
        balance = balance_lock(workspace_id=ws.pk, contact_id=contact.pk)
        entry_append(
            balance=balance,
            kind=EntryKind.EARN,
            points=150,
            idempotency_key="e",
            source_kind=SourceKind.SYSTEM,
        )
    tiers_review(workspace_id=ws.pk)
    assert tier_delete(tier=silver, actor=ACTOR) == 1  # its member moves out of tiers
    assert _tier_name(contact) is None


def test_a_workspace_with_a_programme_can_be_deleted(ws):
    _tiers(ws)
    programme(ws)
    contact = ContactFactory.create(workspace=ws)
    ingest(ws, purchase(contact, "600"))
    reward = reward_create(
        workspace=ws, data={"name": "Tote", "kind": "free_item", "points_cost": 10}, actor=ACTOR
    )
    reward_redeem(
        contact=contact, data={"reward_id": reward.pk, "idempotency_key": "k"}, actor=ACTOR
    )
    assert _tier_name(contact) == "Gold"
    ws.delete()
    assert not ContactTier.objects.exists() and not TierChange.objects.exists()


def _earn_at(contact, points: int, at: dt.datetime, key: str) -> None:
    with transaction.atomic():
        entry_append(
            balance=balance_lock(workspace_id=contact.workspace_id, contact_id=contact.pk),
            kind=EntryKind.EARN,
            points=points,
            idempotency_key=key,
            source_kind=SourceKind.SYSTEM,
            occurred_at=at,
        )


def test_downgrade_waits_for_the_grace_period_and_upgrades_do_not(ws):
    _tiers(ws)
    programme(ws, tier_grace_days=30)
    contact = ContactFactory.create(workspace=ws)
    start = timezone.now()
    _earn_at(contact, 600, start - dt.timedelta(days=360), "old-gold")
    # Upgrade at once at the review.
    assert tiers_review(workspace_id=ws.pk, now=start) == 1
    assert _tier_name(contact) == "Gold"
    # Day 6: the 600 points left the 12 months; a review finds the contact below Gold.
    day6 = start + dt.timedelta(days=6)
    assert tiers_review(workspace_id=ws.pk, now=day6) == 0
    row = ContactTier.objects.get(contact=contact)
    assert row.tier is not None and row.tier.name == "Gold" and row.below_since == day6
    # Still in grace a second before 30 days have run.
    end = day6 + dt.timedelta(days=30)
    assert tiers_review(workspace_id=ws.pk, now=end - dt.timedelta(seconds=1)) == 0
    assert _tier_name(contact) == "Gold"
    assert tiers_review(workspace_id=ws.pk, now=end) == 1
    assert _tier_name(contact) is None
    assert _moves(contact) == [("", "Gold", "review"), ("Gold", "", "review")]


def test_reaching_the_tier_again_in_grace_clears_it(ws):
    _tiers(ws)
    programme(ws, tier_grace_days=10)
    contact = ContactFactory.create(workspace=ws)
    start = timezone.now()
    _earn_at(contact, 150, start - dt.timedelta(days=364), "old")
    assert tiers_review(workspace_id=ws.pk, now=start) == 1  # Silver
    day2 = start + dt.timedelta(days=2)
    assert tiers_review(workspace_id=ws.pk, now=day2) == 0
    assert ContactTier.objects.get(contact=contact).below_since == day2
    _earn_at(contact, 120, day2, "new")
    assert tiers_review(workspace_id=ws.pk, now=day2 + dt.timedelta(days=1)) == 0
    assert ContactTier.objects.get(contact=contact).below_since is None
    # Well past the first grace period: still Silver, since it came back.
    assert tiers_review(workspace_id=ws.pk, now=day2 + dt.timedelta(days=20)) == 0
    assert _tier_name(contact) == "Silver"


def test_tier_multiplier_multiplies_earning_floored_once(ws, news):
    silver, _ = _tiers(ws)
    tier_update(tier=silver, data={"multiplier": "1.5"}, actor=ACTOR)
    programme(ws)
    contact = ContactFactory.create(workspace=ws)
    ingest(ws, purchase(contact, "100", properties={"order_id": "A"}))  # 100, into Silver
    ingest(ws, purchase(contact, "33.33", properties={"order_id": "B"}))  # 33.33 * 1.5 = 49.995
    earned = list(
        LedgerEntry.objects.filter(contact=contact, kind=EntryKind.EARN)
        .order_by("id")
        .values_list("points", flat=True)
    )
    assert earned == [100, 49]
    assert [n.kind for n in news] == ["points_earned", "tier_changed", "points_earned"]
    assert news[1].up and news[1].tier_id == silver.pk and news[1].key.startswith("tier:")
    with pytest.raises(InvalidInput) as caught:
        tier_update(tier=silver, data={"multiplier": "11"}, actor=ACTOR)
    assert "multiplier" in caught.value.fields
