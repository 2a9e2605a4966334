"""Tiers by points or by spend over the window the workspace sets, at the window's
edges; the grace period with spend; deleting a tier moves its members down."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction
from django.utils import timezone

from config.errors import InvalidInput
from loyalty import hooks
from loyalty.models import ContactTier, EntryKind, SourceKind, TierChange
from loyalty.selectors_member import standing_for
from loyalty.services import (
    balance_lock,
    entry_append,
    programme_update,
    tier_create,
    tier_delete,
    tiers_review,
)
from tests.factories import ContactFactory
from tests.loyalty.helpers import ACTOR, ingest, programme, purchase

pytestmark = pytest.mark.django_db


def _tiers(ws):
    return (
        tier_create(workspace=ws, data={"name": "Silver", "threshold": 100}, actor=ACTOR),
        tier_create(workspace=ws, data={"name": "Gold", "threshold": 500}, actor=ACTOR),
    )


def _tier_name(contact) -> str | None:
    row = ContactTier.objects.filter(contact=contact).select_related("tier").first()
    return row.tier.name if row and row.tier else None


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


def _bought(ws, contact, revenue: str, at: dt.datetime, name: str = "purchase", **props):
    ingest(
        ws,
        {
            **purchase(contact, revenue, properties=props),
            "name": name,
            "occurred_at": at.isoformat(),
        },
    )


def test_a_window_the_workspace_sets_counts_to_the_second(ws):
    _tiers(ws)
    programme(ws, tier_window_days=30)
    contact = ContactFactory.create(workspace=ws)
    earned = timezone.now() - dt.timedelta(days=1)
    _earn_at(contact, 600, earned, "gold")
    assert tiers_review(workspace_id=ws.pk, now=earned + dt.timedelta(days=1)) == 1
    assert _tier_name(contact) == "Gold"
    # The window is (now - 30 days, now]: a second before the points are 30 days old
    # they count; at 30 days they do not.
    edge = earned + dt.timedelta(days=30)
    assert tiers_review(workspace_id=ws.pk, now=edge - dt.timedelta(seconds=1)) == 0
    assert _tier_name(contact) == "Gold"
    assert tiers_review(workspace_id=ws.pk, now=edge) == 1
    assert _tier_name(contact) is None


def test_spend_reaches_tiers_floored_and_refunds_wait_for_the_review(ws):
    _tiers(ws)
    programme(ws, tier_basis="spend", points_per_unit="0.5")
    contact = ContactFactory.create(workspace=ws)
    now = timezone.now()
    _bought(ws, contact, "99.99", now, order_id="A")
    assert _tier_name(contact) is None  # 99.99 spent: below 100
    _bought(ws, contact, "0.01", now, order_id="B")
    assert _tier_name(contact) == "Silver"  # 100.00 spent; only 49 points earned
    _bought(ws, contact, "400", now, order_id="C")
    assert _tier_name(contact) == "Gold"
    standing = standing_for(contact=contact)
    assert (standing.points_in_window, standing.by_spend, standing.next_tier) == (500, True, None)
    _bought(ws, contact, "-0.01", now, order_id="C")
    assert _tier_name(contact) == "Gold"  # earning never moves down
    assert tiers_review(workspace_id=ws.pk) == 1
    assert _tier_name(contact) == "Silver"  # 499.99 spent
    assert ContactTier.objects.get(contact=contact).points_in_window == 499


def test_spend_counts_purchases_from_before_the_programme_and_only_purchases(ws):
    _tiers(ws)
    buyer, donor = ContactFactory.create_batch(2, workspace=ws)
    now = timezone.now()
    _bought(ws, buyer, "150", now - dt.timedelta(days=200))
    _bought(ws, buyer, "900", now - dt.timedelta(days=366))  # out of the 12 months
    _bought(ws, donor, "700", now - dt.timedelta(days=10), name="donation")
    programme(ws, tier_basis="spend")
    assert tiers_review(workspace_id=ws.pk, now=now) == 1
    assert (_tier_name(buyer), _tier_name(donor)) == ("Silver", None)
    # Two years' window: the old purchase counts too.
    programme_update(workspace=ws, data={"tier_window_days": 730}, actor=ACTOR)
    assert tiers_review(workspace_id=ws.pk, now=now) == 1
    assert _tier_name(buyer) == "Gold"
    standing = standing_for(contact=buyer)
    assert standing.points_in_window == 1050 and standing.rule.window_label == "24 months"


def test_spend_downgrade_waits_for_the_grace_period(ws):
    _tiers(ws)
    contact = ContactFactory.create(workspace=ws)
    start = timezone.now()
    bought = start - dt.timedelta(days=364)
    _bought(ws, contact, "600", bought)
    programme(ws, tier_basis="spend", tier_grace_days=10)
    assert tiers_review(workspace_id=ws.pk, now=start) == 1
    assert _tier_name(contact) == "Gold"
    # The purchase is 365 days old a day later: out of the window, grace starts.
    out = bought + dt.timedelta(days=365)
    assert tiers_review(workspace_id=ws.pk, now=out - dt.timedelta(seconds=1)) == 0
    assert ContactTier.objects.get(contact=contact).below_since is None
    assert tiers_review(workspace_id=ws.pk, now=out) == 0
    assert ContactTier.objects.get(contact=contact).below_since == out
    end = out + dt.timedelta(days=10)
    assert tiers_review(workspace_id=ws.pk, now=end - dt.timedelta(seconds=1)) == 0
    assert tiers_review(workspace_id=ws.pk, now=end) == 1
    assert _tier_name(contact) is None
    causes = list(TierChange.objects.filter(contact=contact).values_list("to_name", "cause"))
    assert causes == [("Gold", "review"), ("", "review")]


def test_programme_refuses_a_bad_basis_or_window(ws):
    with pytest.raises(InvalidInput) as refused:
        programme(ws, tier_basis="visits", tier_window_days=0)
    assert set(refused.value.fields) == {"tier_basis", "tier_window_days"}
    with pytest.raises(InvalidInput):
        programme(ws, tier_window_days=1096)


def test_deleting_a_tier_moves_its_members_to_the_tier_below(ws):
    silver, gold = _tiers(ws)
    contacts = ContactFactory.create_batch(3, workspace=ws)
    now = timezone.now()
    for i, contact in enumerate(contacts):
        _earn_at(contact, [600, 700, 150][i], now, f"e{i}")
    tiers_review(workspace_id=ws.pk, now=now)
    seen: list[hooks.LoyaltyNews] = []
    hooks.on_loyalty_news(seen.extend)
    try:
        assert tier_delete(tier=gold, actor=ACTOR) == 2
    finally:
        hooks._hooks.remove(seen.extend)
    assert [_tier_name(c) for c in contacts] == ["Silver", "Silver", "Silver"]
    assert [(n.contact_id, n.up, n.tier_id) for n in seen] == [
        (contacts[0].pk, False, silver.pk),
        (contacts[1].pk, False, silver.pk),
    ]
    moved = TierChange.objects.filter(cause="removed").order_by("contact_id")
    assert [(m.from_name, m.to_name, m.points_in_window) for m in moved] == [
        ("Gold", "Silver", 600),
        ("Gold", "Silver", 700),
    ]
    # The lowest tier: its members are in no tier.
    assert tier_delete(tier=silver, actor=ACTOR) == 3
    assert [_tier_name(c) for c in contacts] == [None, None, None]
