"""Rewards and their codes: the catalogue, code pools, and redemptions that issue a
code exactly once, also when many redeem at the same moment (real PostgreSQL)."""

from __future__ import annotations

import re
import threading

import pytest
from django.db import connection

from config.errors import Conflict, InvalidInput
from contacts.services.erasure import contact_erase
from loyalty.models import EntryKind, LedgerEntry, Redemption, Reward, RewardCode
from loyalty.services import (
    points_adjust,
    reward_codes_add,
    reward_create,
    reward_delete,
    reward_redeem,
    reward_update,
)
from loyalty.services.message_codes import message_code_assign
from tests.factories import ContactFactory
from tests.loyalty.helpers import ACTOR, balance

pytestmark = pytest.mark.django_db


def _reward(ws, **data):
    return reward_create(
        workspace=ws,
        data={"name": "10% off", "kind": "discount_code", "points_cost": 50, **data},
        actor=ACTOR,
    )


def _member(ws, points: int):
    contact = ContactFactory.create(workspace=ws)
    points_adjust(
        contact=contact,
        data={"points": points, "reason": "welcome", "idempotency_key": f"w{contact.pk}"},
        actor=ACTOR,
    )
    return contact


def _redeem(contact, reward, key):
    return reward_redeem(
        contact=contact, data={"reward_id": reward.pk, "idempotency_key": key}, actor=ACTOR
    )


def test_generated_codes_are_unique_and_from_the_unambiguous_alphabet(ws):
    reward = _reward(ws)
    assert reward_codes_add(
        reward=reward, data={"generate": 500, "prefix": "vip-"}, actor=ACTOR
    ) == {
        "added": 500,
        "duplicates": 0,
    }
    codes = list(RewardCode.objects.values_list("code", flat=True))
    assert len(set(codes)) == 500
    assert all(
        re.fullmatch(r"VIP-[A-HJKMNP-Z2-9]{4}-[A-HJKMNP-Z2-9]{4}-[A-HJKMNP-Z2-9]{4}", c)
        for c in codes
    )


def test_uploaded_codes_skip_the_ones_already_there(ws):
    reward = _reward(ws)
    assert reward_codes_add(reward=reward, data={"codes": ["A1", "B2"]}, actor=ACTOR) == {
        "added": 2,
        "duplicates": 0,
    }
    assert reward_codes_add(reward=reward, data={"codes": ["B2", "C3", "C3"]}, actor=ACTOR) == {
        "added": 1,
        "duplicates": 2,
    }
    with pytest.raises(InvalidInput) as refused:
        reward_codes_add(reward=reward, data={"codes": ["ok", "", 5]}, actor=ACTOR)
    assert set(refused.value.fields) == {"codes[1]", "codes[2]"}
    free = reward_create(
        workspace=ws, data={"name": "Tote", "kind": "free_item", "points_cost": 10}, actor=ACTOR
    )
    with pytest.raises(Conflict):
        reward_codes_add(reward=free, data={"generate": 1}, actor=ACTOR)


def test_a_redemption_spends_points_issues_a_code_and_counts_stock_down(ws):
    reward = _reward(ws, stock=5)
    reward_codes_add(reward=reward, data={"codes": ["FIRST", "SECOND"]}, actor=ACTOR)
    contact = _member(ws, 120)
    redemption, created = _redeem(contact, reward, "order-1")
    assert created and redemption.code == "FIRST" and redemption.points == 50
    assert balance(contact) == 70
    assert RewardCode.objects.get(code="FIRST").redemption_id == redemption.pk
    reward.refresh_from_db()
    assert reward.stock == 4
    again, created = _redeem(contact, reward, "order-1")  # the checkout retries
    assert not created and again.pk == redemption.pk and again.code == "FIRST"
    assert balance(contact) == 70
    entry = LedgerEntry.objects.get(kind=EntryKind.REDEEM)
    assert (entry.points, entry.reason, entry.source_id) == (-50, "10% off", str(reward.pk))


def test_refusals_spend_nothing_and_issue_no_code(ws):
    reward = _reward(ws, per_contact_limit=1)
    reward_codes_add(reward=reward, data={"generate": 3}, actor=ACTOR)
    poor = _member(ws, 49)
    with pytest.raises(Conflict) as refused:
        _redeem(poor, reward, "p-1")
    assert "points" in refused.value.fields
    rich = _member(ws, 500)
    _redeem(rich, reward, "r-1")
    with pytest.raises(Conflict) as refused:
        _redeem(rich, reward, "r-2")
    assert refused.value.fields == {"reward_id": ["at most 1 per contact"]}
    reward_update(reward=reward, data={"active": False}, actor=ACTOR)
    with pytest.raises(Conflict):
        _redeem(_member(ws, 500), reward, "x-1")
    assert RewardCode.objects.filter(issued_at__isnull=False).count() == 1
    assert balance(poor) == 49 and balance(rich) == 450
    with pytest.raises(InvalidInput) as invalid:
        reward_redeem(contact=rich, data={"reward_id": 10**9, "idempotency_key": "k"}, actor=ACTOR)
    assert invalid.value.fields == {"reward_id": ["no such reward"]}


def test_a_reward_without_codes_or_stock_left_is_unavailable(ws):
    reward = _reward(ws)
    with pytest.raises(Conflict) as refused:
        _redeem(_member(ws, 100), reward, "a")
    assert refused.value.fields == {"reward_id": ["no codes are left for this reward"]}
    tote = reward_create(
        workspace=ws,
        data={"name": "Tote", "kind": "free_item", "points_cost": 10, "stock": 1},
        actor=ACTOR,
    )
    member = _member(ws, 100)
    assert _redeem(member, tote, "t1")[0].code == ""
    with pytest.raises(Conflict):
        _redeem(member, tote, "t2")
    assert balance(member) == 90


def test_a_redeemed_reward_is_switched_off_not_deleted(ws):
    reward = _reward(ws)
    reward_codes_add(reward=reward, data={"generate": 1}, actor=ACTOR)
    _redeem(_member(ws, 100), reward, "a")
    with pytest.raises(Conflict):
        reward_delete(reward=reward, actor=ACTOR)
    assert Reward.objects.filter(pk=reward.pk).exists()
    with pytest.raises(Conflict) as refused:
        reward_update(reward=reward, data={"kind": "custom"}, actor=ACTOR)
    assert "kind" in refused.value.fields
    unused = reward_create(
        workspace=ws, data={"name": "Unused", "kind": "custom", "points_cost": 5}, actor=ACTOR
    )
    reward_delete(reward=unused, actor=ACTOR)
    assert not Reward.objects.filter(pk=unused.pk).exists()


def _race(workers: int, work) -> list[str]:
    barrier = threading.Barrier(workers)
    outcomes: list[str] = []

    def run(n: int) -> None:
        try:
            barrier.wait()
            redemption, created = work(n)
            outcomes.append(f"{'new' if created else 'again'}:{redemption.code}")
        except Conflict as refused:
            outcomes.append(f"refused:{next(iter(refused.fields))}")
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(outcomes)


@pytest.mark.django_db(transaction=True)
def test_the_last_code_is_issued_once_under_concurrent_redemptions(ws):
    reward = _reward(ws)
    reward_codes_add(reward=reward, data={"codes": ["LAST-ONE"]}, actor=ACTOR)
    members = [_member(ws, 100) for _ in range(6)]
    outcomes = _race(6, lambda n: _redeem(members[n], reward, f"k{n}"))
    assert outcomes == ["new:LAST-ONE"] + ["refused:reward_id"] * 5
    assert Redemption.objects.count() == 1
    assert sorted(balance(m) for m in members) == [50] + [100] * 5


@pytest.mark.django_db(transaction=True)
def test_one_contact_redeeming_at_once_never_overdraws_or_shares_a_code(ws):
    reward = _reward(ws, points_cost=30)
    reward_codes_add(reward=reward, data={"generate": 10}, actor=ACTOR)
    member = _member(ws, 100)
    outcomes = _race(6, lambda n: _redeem(member, reward, f"k{n}"))
    issued = [o.split(":", 1)[1] for o in outcomes if o.startswith("new:")]
    assert len(issued) == 3 and len(set(issued)) == 3
    assert outcomes.count("refused:points") == 3
    assert balance(member) == 10
    assert RewardCode.objects.filter(issued_at__isnull=False).count() == 3


@pytest.mark.django_db(transaction=True)
def test_the_same_key_sent_at_once_redeems_once(ws):
    reward = _reward(ws)
    reward_codes_add(reward=reward, data={"generate": 5}, actor=ACTOR)
    member = _member(ws, 500)
    outcomes = _race(4, lambda n: _redeem(member, reward, "checkout-42"))
    codes = {o.split(":", 1)[1] for o in outcomes}
    assert len(codes) == 1 and sum(o.startswith("new:") for o in outcomes) == 1
    assert balance(member) == 450 and Redemption.objects.count() == 1


def test_erasing_a_member_takes_its_points_and_redemptions_but_not_the_code_pool(ws):
    reward = _reward(ws)
    reward_codes_add(reward=reward, data={"codes": ["GONE", "LEFT"]}, actor=ACTOR)
    member = _member(ws, 100)
    _redeem(member, reward, "a")
    contact_erase(contact=member, actor=ACTOR)
    assert not LedgerEntry.objects.exists() and not Redemption.objects.exists()
    issued = RewardCode.objects.get(code="GONE")
    assert issued.redemption_id is None and issued.issued_at is not None  # never reissued
    assert RewardCode.objects.filter(issued_at__isnull=True).count() == 1


@pytest.mark.django_db(transaction=True)
def test_one_message_rendered_at_once_gets_one_code(ws):
    """Two workers rendering the same message (a lease that ran out) give it one code;
    another message gets another."""
    reward = _reward(ws)
    reward_codes_add(reward=reward, data={"generate": 5}, actor=ACTOR)
    contact = ContactFactory.create(workspace=ws)
    codes: list[str] = []
    barrier = threading.Barrier(4)

    def render(n: int) -> None:
        try:
            barrier.wait()
            codes.append(
                message_code_assign(
                    workspace_id=ws.pk,
                    contact_id=contact.pk,
                    reward_id=reward.pk,
                    message_id=900 if n < 3 else 901,
                )
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=render, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(codes) == 4 and len(set(codes)) == 2
    assert RewardCode.objects.filter(issued_at__isnull=False).count() == 2
