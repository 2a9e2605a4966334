"""Referrals end to end on real PostgreSQL: a friend signs up with a code over the API,
converts on a qualifying purchase taken in by the lifecycle engine, and both sides are
paid when the refund hold ends; a refund during the hold cancels the rewards; a
conversion happens once whatever is replayed; the per-month limit holds; fraud
guards flag and a flagged referral pays nothing until approved."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from loyalty.models import LedgerEntry, Referral, ReferralStatus
from loyalty.services import order_reverse, reward_codes_add, reward_create
from loyalty.services.referrals import referral_code_ensure, referral_settings_update
from loyalty.services.referrals_conversion import referrals_for_refreshed
from loyalty.services.referrals_payout import referral_review, referrals_release_due
from tests.factories import ContactFactory, StageFactory
from tests.loyalty.helpers import ACTOR, balance, ingest, purchase

pytestmark = pytest.mark.django_db

CONTACTS = "/api/v1/contacts/"
LATER = dt.timedelta(days=15)


def _programme(ws, **data):
    return referral_settings_update(
        workspace=ws,
        data={
            "enabled": True,
            "referrer_points": 500,
            "friend_points": 200,
            "min_amount": "20",
            "hold_days": 14,
            **data,
        },
        actor=ACTOR,
    )


def _signup(api, code, **fields):
    response = api.post(CONTACTS, {**fields, "referred_by": code}, format="json")
    assert response.status_code == 201, response.json()
    return Referral.objects.get(referred_id=response.json()["id"])


def _referrer(ws, **fields):
    contact = ContactFactory.create(workspace=ws, **fields)
    code = referral_code_ensure(contact=contact)
    assert code is not None
    return contact, code.code


def test_referral_converts_on_a_qualifying_purchase_and_pays_both_sides_after_the_hold(ws, api):
    _programme(ws)
    ann, code = _referrer(ws, email="ann@example.com")
    referral = _signup(api, code, email="bob@example.net")
    assert referral.referrer_id == ann.pk and referral.status == ReferralStatus.PENDING
    friend = referral.referred

    ingest(ws, purchase(friend, "19.99", properties={"order_id": "A-0"}))  # below the minimum
    referral.refresh_from_db()
    assert referral.status == ReferralStatus.PENDING and referral.converted_at is None

    ingest(ws, purchase(friend, "30.00", properties={"order_id": "A-1"}))
    referral.refresh_from_db()
    assert referral.status == ReferralStatus.HELD and referral.order_id == "A-1"
    assert referral.converted_at is not None
    assert referral.hold_until == referral.converted_at + dt.timedelta(days=14)
    assert referrals_release_due() == 0  # the hold has not ended: nothing is written
    assert balance(ann) == 0 and balance(friend) == 0

    assert referrals_release_due(now=timezone.now() + LATER) == 1
    referral.refresh_from_db()
    assert referral.status == ReferralStatus.PAID
    assert balance(ann) == 500 and balance(friend) == 200
    keys = set(LedgerEntry.objects.filter(workspace=ws).values_list("idempotency_key", flat=True))
    assert keys == {f"referral:{referral.pk}:referrer", f"referral:{referral.pk}:friend"}
    # Run again (a second beat, a retry): nothing more is paid.
    assert referrals_release_due(now=timezone.now() + LATER) == 0
    assert balance(ann) == 500 and balance(friend) == 200


def test_purchase_outside_the_window_does_not_convert(ws, api):
    _programme(ws, within_days=30)
    _, code = _referrer(ws)
    signed_up = (timezone.now() - dt.timedelta(days=31)).date().isoformat()
    referral = _signup(api, code, email="late@example.net", signed_up_at=signed_up)
    ingest(ws, purchase(referral.referred, "50"))
    referral.refresh_from_db()
    assert referral.converted_at is None


def test_refund_during_the_hold_cancels_the_held_reward(ws, api):
    _programme(ws)
    ann, code = _referrer(ws)
    referral = _signup(api, code, email="refunder@example.net")
    friend = referral.referred
    ingest(ws, purchase(friend, "40", properties={"order_id": "R-1"}))
    ingest(ws, purchase(friend, "-40", properties={"order_id": "R-1"}))
    referral.refresh_from_db()
    assert referral.status == ReferralStatus.REVERSED and referral.reversed_at
    referrals_release_due(now=timezone.now() + LATER)
    assert balance(ann) == 0 and balance(friend) == 0
    assert not LedgerEntry.objects.filter(idempotency_key__startswith="referral:").exists()


def test_refund_of_another_order_does_not_cancel(ws, api):
    _programme(ws)
    ann, code = _referrer(ws)
    referral = _signup(api, code, email="keeper@example.net")
    friend = referral.referred
    ingest(ws, purchase(friend, "40", properties={"order_id": "K-1"}))
    ingest(ws, purchase(friend, "25", properties={"order_id": "K-2"}))
    ingest(ws, purchase(friend, "-25", properties={"order_id": "K-2"}))
    referrals_release_due(now=timezone.now() + LATER)
    referral.refresh_from_db()
    assert referral.status == ReferralStatus.PAID and balance(ann) == 500


def test_order_reversed_over_the_api_during_the_hold_cancels_at_release(ws, api):
    from loyalty.services import programme_update  # noqa: PLC0415 - points must be earned to reverse

    programme_update(workspace=ws, data={"enabled": True}, actor=ACTOR)
    _programme(ws)
    ann, code = _referrer(ws)
    referral = _signup(api, code, email="api-refund@example.net")
    ingest(ws, purchase(referral.referred, "40", properties={"order_id": "V-1"}))
    order_reverse(workspace=ws, order_id="V-1", data={}, actor=ACTOR)
    referrals_release_due(now=timezone.now() + LATER)
    referral.refresh_from_db()
    assert referral.status == ReferralStatus.REVERSED and balance(ann) == 0


def test_refund_after_the_hold_keeps_the_rewards(ws, api):
    _programme(ws, hold_days=0)
    ann, code = _referrer(ws)
    referral = _signup(api, code, email="after@example.net")
    friend = referral.referred
    ingest(ws, purchase(friend, "40", properties={"order_id": "H-1"}))
    referrals_release_due(now=timezone.now() + dt.timedelta(seconds=5))
    ingest(ws, purchase(friend, "-40", properties={"order_id": "H-1"}))
    referral.refresh_from_db()
    assert referral.status == ReferralStatus.PAID and balance(ann) == 500


def test_conversion_happens_once_under_replay(ws, api):
    _programme(ws)
    ann, code = _referrer(ws)
    referral = _signup(api, code, email="twice@example.net")
    friend = referral.referred
    first = purchase(friend, "30", properties={"order_id": "O-1"}, idempotency_key="o-1")
    ingest(ws, first)
    ingest(ws, first)  # the shop sends it again
    ingest(ws, purchase(friend, "60", properties={"order_id": "O-2"}))  # a later order
    referral.refresh_from_db()
    converted_at = referral.converted_at
    referrals_for_refreshed([friend.pk])  # the hook offered the contact again
    referrals_for_refreshed([friend.pk])
    referral.refresh_from_db()
    assert referral.converted_at == converted_at and referral.order_id == "O-1"
    for _ in range(3):
        referrals_release_due(now=timezone.now() + LATER)
    assert balance(ann) == 500 and balance(friend) == 200
    assert LedgerEntry.objects.filter(contact=ann).count() == 1


def test_per_referrer_monthly_limit(ws, api):
    _programme(ws, monthly_limit=1)
    ann, code = _referrer(ws)
    first = _signup(api, code, email="f1@example.net")
    second = _signup(api, code, email="f2@example.net")
    ingest(ws, purchase(first.referred, "30"))
    ingest(ws, purchase(second.referred, "30"))
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.referrer_rewarded and not second.referrer_rewarded
    assert second.details["referrer_over_limit"] == 1
    referrals_release_due(now=timezone.now() + LATER)
    assert balance(ann) == 500  # one referrer reward this month
    assert balance(first.referred) == 200 and balance(second.referred) == 200  # friends both


def test_reward_from_the_catalogue_is_issued_with_a_code(ws, api):
    reward = reward_create(
        workspace=ws,
        data={"name": "10% off", "kind": "discount_code", "points_cost": 300},
        actor=ACTOR,
    )
    reward_codes_add(reward=reward, data={"codes": ["FRIEND-1"]}, actor=ACTOR)
    _programme(ws, friend_points=0, friend_reward_id=reward.pk)
    _ann, code = _referrer(ws)
    referral = _signup(api, code, email="coded@example.net")
    ingest(ws, purchase(referral.referred, "30"))
    referrals_release_due(now=timezone.now() + LATER)
    referral.refresh_from_db()
    assert referral.status == ReferralStatus.PAID and "friend_redemption" in referral.details
    assert balance(referral.referred) == 0  # earned the cost and spent it on the reward
    entry = LedgerEntry.objects.get(contact=referral.referred, kind="redeem")
    assert entry.points == -300
    from loyalty.models import Redemption  # noqa: PLC0415

    assert Redemption.objects.get(contact=referral.referred).code == "FRIEND-1"


@pytest.mark.parametrize(
    ("friend", "detail"),
    [
        ({"email": "Ann+promo@Example.com"}, "email"),
        ({"email": "other@example.net", "attributes": {"payment_fingerprint": "fp-9"}}, "payment"),
    ],
)
def test_self_referral_is_flagged_and_pays_nothing_until_approved(ws, api, friend, detail):
    _programme(ws)
    ann, code = _referrer(ws, email="ann@example.com", attributes={"payment_fingerprint": "fp-9"})
    referral = _signup(api, code, **friend)
    assert referral.status == ReferralStatus.FLAGGED
    assert referral.flags[0]["reason"] == "self_referral" and detail in referral.flags[0]["detail"]
    ingest(ws, purchase(referral.referred, "30"))
    referral.refresh_from_db()
    assert referral.status == ReferralStatus.FLAGGED and referral.converted_at is not None
    referrals_release_due(now=timezone.now() + LATER)
    assert balance(ann) == 0
    referral_review(referral=referral, approve=True, actor=ACTOR)
    referrals_release_due(now=timezone.now() + LATER)
    assert balance(ann) == 500


def test_payment_fingerprint_of_the_referrer_at_conversion_is_flagged(ws, api):
    _programme(ws)
    ann, code = _referrer(ws, email="ann@example.com")
    ingest(ws, purchase(ann, "10", properties={"payment_fingerprint": "card-77"}))
    referral = _signup(api, code, email="mule@example.net")
    assert referral.status == ReferralStatus.PENDING
    ingest(ws, purchase(referral.referred, "30", properties={"payment_fingerprint": "card-77"}))
    referral.refresh_from_db()
    assert referral.status == ReferralStatus.FLAGGED
    assert referral.flags == [
        {"reason": "self_referral", "detail": "paid with the referrer's payment fingerprint"}
    ]
    referral_review(referral=referral, approve=False, actor=ACTOR)
    referrals_release_due(now=timezone.now() + LATER)
    referral.refresh_from_db()
    assert referral.status == ReferralStatus.REJECTED and balance(ann) == 0


def test_loops_are_flagged(ws, api):
    _programme(ws)
    _ann, ann_code = _referrer(ws, email="ann@example.com")
    bob = _signup(api, ann_code, email="bob@example.net").referred
    bob_code = referral_code_ensure(contact=bob)
    assert bob_code is not None
    # Ann again, under another address of hers, through Bob's link: A → B → A.
    back = _signup(api, bob_code.code, email="ann+2@example.com")
    assert back.status == ReferralStatus.FLAGGED
    assert [f["reason"] for f in back.flags] == ["loop"]
    # A → B → C → A: a longer cycle.
    cid = _signup(api, bob_code.code, email="cid@example.net").referred
    cid_code = referral_code_ensure(contact=cid)
    assert cid_code is not None
    cycle = _signup(api, cid_code.code, email="a.n.n@example.com", phone="")
    assert cycle.status == ReferralStatus.PENDING  # another mailbox: not Ann
    around = _signup(api, cid_code.code, email="ann+3@example.com")
    assert [f["reason"] for f in around.flags] == ["loop"]


def test_disposable_email_domain_is_flagged(ws, api):
    _programme(ws)
    _, code = _referrer(ws)
    referral = _signup(api, code, email="throwaway@mailinator.com")
    assert referral.status == ReferralStatus.FLAGGED
    assert referral.flags[0]["reason"] == "disposable_email"
    fine = _signup(api, code, email="real@example.net")
    assert fine.status == ReferralStatus.PENDING


def test_many_signups_from_one_address_are_flagged(ws, api, client):
    _programme(ws, signup_url="https://shop.example/join?src=mail")
    _, code = _referrer(ws)
    tokens = []
    for _ in range(4):
        page = client.get(f"/r/{code}/", REMOTE_ADDR="203.0.113.9", HTTP_USER_AGENT="Phone/1")
        assert page.status_code == 200 and not page.cookies
        signup = page.context["signup"]
        assert signup.startswith("https://shop.example/join?src=mail&ref=")
        tokens.append(signup.split("ref=", 1)[1])
    other = client.get(f"/r/{code}/", REMOTE_ADDR="198.51.100.4").context["signup"]
    referrals = [
        _signup(api, token.replace("%3A", ":"), email=f"burst{i}@example.net")
        for i, token in enumerate(tokens)
    ]
    assert [r.status for r in referrals[:3]] == [ReferralStatus.PENDING] * 3
    assert referrals[3].status == ReferralStatus.FLAGGED
    assert referrals[3].flags[0]["reason"] == "ip_burst"
    assert referrals[0].visit is not None and referrals[0].visit.user_agent == "Phone/1"
    assert "203.0.113.9" not in referrals[0].ip_hash
    elsewhere = _signup(api, other.split("ref=", 1)[1].replace("%3A", ":"), email="x@example.net")
    assert elsewhere.status == ReferralStatus.PENDING


def test_unknown_code_or_bad_token_is_a_400_naming_referred_by(ws, api, outsider):
    _programme(ws)
    _programme(outsider.workspace)
    _, theirs = _referrer(outsider.workspace)
    for value in ("ZZZZZZZZZZ", "not-a-token", theirs, 42):
        response = api.post(
            CONTACTS, {"email": "x@example.net", "referred_by": value}, format="json"
        )
        assert response.status_code == 400, value
        assert "referred_by" in response.json()["error"]["fields"]
    assert not Referral.objects.exists()


def test_programme_off_ignores_referred_by(ws, api):
    _programme(ws)
    _, code = _referrer(ws)
    referral_settings_update(workspace=ws, data={"enabled": False}, actor=ACTOR)
    response = api.post(CONTACTS, {"email": "x@example.net", "referred_by": code}, format="json")
    assert response.status_code == 201
    assert not Referral.objects.exists()


def test_codes_only_for_chosen_stages(ws):
    from lifecycle.models import ContactStage  # noqa: PLC0415

    advocates = StageFactory.create(workspace=ws, key="advocate")
    _programme(ws, stage_ids=[advocates.pk])
    outside = ContactFactory.create(workspace=ws)
    assert referral_code_ensure(contact=outside) is None
    inside = ContactFactory.create(workspace=ws)
    ContactStage.objects.create(contact=inside, workspace=ws, stage=advocates)
    code = referral_code_ensure(contact=inside)
    assert code is not None and len(code.code) == 10
    assert not set(code.code) & set("01OIL")
    assert referral_code_ensure(contact=inside) == code


def test_erasing_either_side_takes_the_referral_with_it(ws, api):
    from contacts.services.erasure import contact_erase  # noqa: PLC0415

    _programme(ws)
    ann, code = _referrer(ws)
    kept = _signup(api, code, email="kept@example.net")
    gone = _signup(api, code, email="gone@example.net")
    contact_erase(contact=gone.referred, actor=ACTOR)
    assert list(Referral.objects.values_list("pk", flat=True)) == [kept.pk]
    contact_erase(contact=ann, actor=ACTOR)
    assert not Referral.objects.exists()


def test_a_stage_rule_on_converted_referrals_moves_the_referrer(ws, api):
    from lifecycle.models import ContactStage  # noqa: PLC0415

    advocate = StageFactory.create(
        workspace=ws, key="advocate", rule={"referrals_converted": {"gte": 2}, "within_days": 365}
    )
    StageFactory.create(workspace=ws, key="everyone", is_default=True, rule=None)
    _programme(ws)
    ann, code = _referrer(ws)
    first = _signup(api, code, email="s1@example.net")
    second = _signup(api, code, email="s2@example.net")
    ingest(ws, purchase(first.referred, "30"))
    assert ContactStage.objects.get(contact=ann).stage_id != advocate.pk
    ingest(ws, purchase(second.referred, "30"))  # the friend's event; Ann moves
    assert ContactStage.objects.get(contact=ann).stage_id == advocate.pk
