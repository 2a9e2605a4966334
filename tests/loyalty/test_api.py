"""Loyalty over the API: the programme's settings, a contact's points and history,
adjustments, rewards and their codes, redemptions, order reversals; bad input is a
400 naming the field; an outsider gets 404s."""

from __future__ import annotations

import pytest

from loyalty.models import LedgerEntry, PointsBalance, Reward, RewardCode
from tests.factories import ContactFactory
from tests.loyalty.helpers import balance, ingest, purchase

pytestmark = pytest.mark.django_db

URL = "/api/v1/loyalty/"


def _setup_programme(api, **data):
    response = api.patch(f"{URL}programme/", {"enabled": True, **data}, format="json")
    assert response.status_code == 200, response.json()
    return response.json()


def test_programme_settings_round_trip(api):
    assert api.get(f"{URL}programme/").json()["enabled"] is False
    body = _setup_programme(
        api,
        points_per_unit="2.5",
        event_points={"review": 50},
        multipliers=[
            {
                "name": "Black Friday",
                "factor": "3",
                "starts_at": "2026-11-27T00:00:00Z",
                "ends_at": "2026-11-28T00:00:00Z",
            }
        ],
        daily_cap=1000,
    )
    assert body["points_per_unit"] == "2.50" and body["event_points"] == {"review": 50}
    assert body["multipliers"][0]["factor"] == "3.00" and body["enabled_at"]
    assert body["daily_cap"] == 1000
    assert api.get(f"{URL}programme/").json() == body
    assert (body["expiry_months"], body["expiry_reminder_days"], body["tier_grace_days"]) == (
        None,
        None,
        0,
    )
    changed = api.patch(
        f"{URL}programme/",
        {"expiry_months": 18, "expiry_reminder_days": 30, "tier_grace_days": 14},
        format="json",
    ).json()
    assert (changed["expiry_months"], changed["expiry_reminder_days"]) == (18, 30)
    assert changed["tier_grace_days"] == 14
    assert (body["tier_basis"], body["tier_window_days"]) == ("points", 365)
    spend = api.patch(
        f"{URL}programme/", {"tier_basis": "spend", "tier_window_days": 180}, format="json"
    ).json()
    assert (spend["tier_basis"], spend["tier_window_days"]) == ("spend", 180)
    off = api.patch(f"{URL}programme/", {"expiry_months": None}, format="json").json()
    assert off["expiry_months"] is None and off["expiry_reminder_days"] == 30


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"points_per_unit": 2}, "points_per_unit"),
        ({"points_per_unit": "10000.01"}, "points_per_unit"),
        ({"points_per_unit": "1.234"}, "points_per_unit"),
        ({"event_points": {"review": 0}}, "event_points.review"),
        ({"event_points": ["review"]}, "event_points"),
        ({"daily_cap": 0}, "daily_cap"),
        ({"enabled": "yes"}, "enabled"),
        ({"colour": "red"}, "colour"),
        ({"expiry_months": 0}, "expiry_months"),
        ({"expiry_months": 121}, "expiry_months"),
        ({"expiry_reminder_days": "7"}, "expiry_reminder_days"),
        ({"expiry_months": 1, "expiry_reminder_days": 30}, "expiry_reminder_days"),
        ({"tier_grace_days": None}, "tier_grace_days"),
        ({"tier_grace_days": -1}, "tier_grace_days"),
        ({"tier_basis": "visits"}, "tier_basis"),
        ({"tier_window_days": 0}, "tier_window_days"),
        ({"tier_window_days": 1096}, "tier_window_days"),
        ({"tier_window_days": "90"}, "tier_window_days"),
        (
            {
                "multipliers": [
                    {
                        "name": "x",
                        "factor": "2",
                        "starts_at": "2026-11-28T00:00:00Z",
                        "ends_at": "2026-11-27T00:00:00Z",
                    }
                ]
            },
            "multipliers[0].ends_at",
        ),
        (
            {"multipliers": [{"name": "x", "factor": "11", "starts_at": "", "ends_at": ""}]},
            "multipliers[0].factor",
        ),
    ],
)
def test_bad_programme_settings_are_a_400_naming_the_field(api, body, field):
    response = api.patch(f"{URL}programme/", body, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["error"]["fields"]


def test_a_purchase_over_the_api_shows_as_points_and_history(api, ws):
    _setup_programme(api)
    contact = ContactFactory.create(workspace=ws)
    sent = api.post(
        "/api/v1/events/",
        {
            "contact": {"id": contact.pk},
            "name": "purchase",
            "revenue": "42.50",
            "properties": {"order_id": "A-1"},
            "idempotency_key": "order-A-1",
        },
        format="json",
    )
    assert sent.status_code == 202
    ingest(ws)  # the engine takes the event in
    points = api.get(f"{URL}contacts/{contact.pk}/").json()
    assert (points["balance"], points["earned_total"], points["redeemed_total"]) == (42, 42, 0)
    history = api.get(f"{URL}contacts/{contact.pk}/entries/").json()
    entry = history["results"][0]
    assert (entry["kind"], entry["points"], entry["order_id"], entry["source_kind"]) == (
        "earn",
        42,
        "A-1",
        "order",
    )
    assert entry["details"]["revenue"] == "42.50"


def test_a_contact_without_points_has_a_zero_balance(api, ws):
    contact = ContactFactory.create(workspace=ws)
    body = api.get(f"{URL}contacts/{contact.pk}/").json()
    assert body == {
        "contact_id": contact.pk,
        "balance": 0,
        "earned_total": 0,
        "redeemed_total": 0,
        "updated_at": None,
        "tier": None,
        "tier_since": None,
        "points_in_window": 0,
        "tier_basis": "points",
    }
    assert not PointsBalance.objects.exists()


def test_adjust_is_idempotent_and_never_overdraws(api, ws):
    contact = ContactFactory.create(workspace=ws)
    url = f"{URL}contacts/{contact.pk}/adjust/"
    first = api.post(
        url, {"points": 30, "reason": "goodwill", "idempotency_key": "t1"}, format="json"
    )
    assert first.status_code == 201 and first.json()["balance_after"] == 30
    again = api.post(
        url, {"points": 30, "reason": "goodwill", "idempotency_key": "t1"}, format="json"
    )
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    over = api.post(url, {"points": -31, "reason": "oops", "idempotency_key": "t2"}, format="json")
    assert over.status_code == 409
    assert over.json()["error"]["fields"] == {"points": ["more than the balance (30)"]}
    bad = api.post(url, {"points": "5", "reason": "", "idempotency_key": ""}, format="json")
    assert bad.status_code == 400
    assert set(bad.json()["error"]["fields"]) == {"points", "reason", "idempotency_key"}
    assert balance(contact) == 30


def test_rewards_codes_and_a_redemption(api, ws):
    created = api.post(
        f"{URL}rewards/",
        {"name": "10% off", "kind": "discount_code", "points_cost": 100, "per_contact_limit": 1},
        format="json",
    )
    assert created.status_code == 201, created.json()
    reward = created.json()
    assert (reward["codes_available"], reward["redeemed"], reward["stock"]) == (0, 0, None)
    codes_url = f"{URL}rewards/{reward['id']}/codes/"
    assert api.post(codes_url, {"generate": 3}, format="json").json() == {
        "added": 3,
        "duplicates": 0,
    }
    assert api.post(codes_url, {"codes": ["SHOP-1", "SHOP-1"]}, format="json").json() == {
        "added": 1,
        "duplicates": 1,
    }
    assert api.post(codes_url, {"codes": ["x"], "generate": 1}, format="json").status_code == 400
    contact = ContactFactory.create(workspace=ws)
    api.post(
        f"{URL}contacts/{contact.pk}/adjust/",
        {"points": 250, "reason": "welcome", "idempotency_key": "w"},
        format="json",
    )
    redeem_url = f"{URL}contacts/{contact.pk}/redeem/"
    redeemed = api.post(
        redeem_url, {"reward_id": reward["id"], "idempotency_key": "checkout-9"}, format="json"
    )
    assert redeemed.status_code == 201, redeemed.json()
    body = redeemed.json()
    assert body["balance"] == 150 and body["points"] == 100 and body["reward_name"] == "10% off"
    assert RewardCode.objects.get(code=body["code"]).redemption_id == body["id"]
    retried = api.post(
        redeem_url, {"reward_id": reward["id"], "idempotency_key": "checkout-9"}, format="json"
    )
    assert retried.status_code == 200 and retried.json()["code"] == body["code"]
    limited = api.post(
        redeem_url, {"reward_id": reward["id"], "idempotency_key": "checkout-10"}, format="json"
    )
    assert limited.status_code == 409
    assert "reward_id" in limited.json()["error"]["fields"]
    listed = api.get(f"{URL}rewards/").json()["results"]
    assert [(r["codes_available"], r["redeemed"]) for r in listed] == [(3, 1)]
    assert api.delete(f"{URL}rewards/{reward['id']}/").status_code == 409
    assert (
        api.patch(f"{URL}rewards/{reward['id']}/", {"active": False}, format="json").json()[
            "active"
        ]
        is False
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "discount_code", "points_cost": 1}, "name"),
        ({"name": "A", "kind": "voucher", "points_cost": 1}, "kind"),
        ({"name": "A", "kind": "custom", "points_cost": 0}, "points_cost"),
        ({"name": "A", "kind": "custom", "points_cost": 5, "stock": -1}, "stock"),
        (
            {"name": "A", "kind": "custom", "points_cost": 5, "per_contact_limit": 0},
            "per_contact_limit",
        ),
        ({"name": "A", "kind": "custom", "points_cost": 5, "size": "L"}, "size"),
    ],
)
def test_bad_rewards_are_a_400_naming_the_field(api, body, field):
    response = api.post(f"{URL}rewards/", body, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["error"]["fields"]
    assert not Reward.objects.exists()


def test_reversing_an_order_over_the_api(api, ws):
    _setup_programme(api)
    contact = ContactFactory.create(workspace=ws)
    ingest(ws, purchase(contact, "80", properties={"order_id": "R/1 x"}))
    url = f"{URL}orders/R%2F1%20x/reverse/"
    # A slash in an order id cannot travel in a path: such orders are reversed by a
    # refund event instead.
    assert api.post(url, {}, format="json").status_code == 404
    ingest(ws, purchase(contact, "20", properties={"order_id": "R-2"}))
    reversed_ = api.post(f"{URL}orders/R-2/reverse/", {"reason": "returned"}, format="json")
    assert reversed_.status_code == 201, reversed_.json()
    assert reversed_.json()["points"] == -20
    assert reversed_.json()["entries"][0]["reason"] == "returned"
    again = api.post(f"{URL}orders/R-2/reverse/", {}, format="json")
    assert again.status_code == 200 and again.json()["points"] == -20
    assert api.post(f"{URL}orders/unknown/reverse/", {}, format="json").status_code == 404
    assert balance(contact) == 80


def test_an_outsider_gets_404s_and_sees_none_of_ours(api, ws, outsider, outsider_api):
    contact = ContactFactory.create(workspace=ws)
    _setup_programme(api)
    ingest(ws, purchase(contact, "50", properties={"order_id": "O-1"}))
    reward = api.post(
        f"{URL}rewards/", {"name": "Tote", "kind": "free_item", "points_cost": 10}, format="json"
    ).json()
    for method, url, body in [
        ("get", f"{URL}contacts/{contact.pk}/", None),
        ("get", f"{URL}contacts/{contact.pk}/entries/", None),
        (
            "post",
            f"{URL}contacts/{contact.pk}/adjust/",
            {"points": 5, "reason": "x", "idempotency_key": "k"},
        ),
        (
            "post",
            f"{URL}contacts/{contact.pk}/redeem/",
            {"reward_id": reward["id"], "idempotency_key": "k"},
        ),
        ("get", f"{URL}rewards/{reward['id']}/", None),
        ("patch", f"{URL}rewards/{reward['id']}/", {"active": False}),
        ("delete", f"{URL}rewards/{reward['id']}/", None),
        ("post", f"{URL}rewards/{reward['id']}/codes/", {"generate": 1}),
        ("post", f"{URL}orders/O-1/reverse/", {}),
    ]:
        response = getattr(outsider_api, method)(url, body, format="json")
        assert response.status_code == 404, (method, url, response.status_code)
    assert outsider_api.get(f"{URL}rewards/").json()["results"] == []
    assert outsider_api.get(f"{URL}programme/").json()["enabled"] is False
    # Their own contact cannot redeem our reward either: it is not in their catalogue.
    theirs = ContactFactory.create(workspace=outsider.workspace)
    refused = outsider_api.post(
        f"{URL}contacts/{theirs.pk}/redeem/",
        {"reward_id": reward["id"], "idempotency_key": "k"},
        format="json",
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["fields"] == {"reward_id": ["no such reward"]}
    assert balance(contact) == 50 and Reward.objects.get().active
    assert LedgerEntry.objects.filter(kind="reverse").count() == 0


def test_tiers_over_the_api_and_a_contact_tier(api, ws, outsider_api):
    _setup_programme(api)
    silver = api.post(
        f"{URL}tiers/",
        {"name": "Silver", "threshold": 100, "benefits": "Early access"},
        format="json",
    )
    assert silver.status_code == 201, silver.json()
    assert silver.json()["members"] == 0 and silver.json()["multiplier"] == "1.00"
    assert (
        api.post(f"{URL}tiers/", {"name": "Other", "threshold": 100}, format="json").status_code
        == 409
    )
    bad = api.post(
        f"{URL}tiers/", {"name": "", "threshold": "a lot", "multiplier": 2}, format="json"
    )
    assert bad.status_code == 400
    assert set(bad.json()["error"]["fields"]) == {"name", "threshold", "multiplier"}
    contact = ContactFactory.create(workspace=ws)
    ingest(ws, purchase(contact, "120"))
    points = api.get(f"{URL}contacts/{contact.pk}/").json()
    assert (points["tier"], points["points_in_window"]) == ("Silver", 120)
    changes = api.get(f"{URL}contacts/{contact.pk}/tier-changes/").json()["results"]
    assert [(c["from_name"], c["to_name"], c["cause"]) for c in changes] == [
        ("", "Silver", "earned")
    ]
    tier_url = f"{URL}tiers/{silver.json()['id']}/"
    assert api.get(tier_url).json()["members"] == 1
    assert (
        api.patch(tier_url, {"benefits": "Free shipping"}, format="json").json()["benefits"]
        == "Free shipping"
    )
    assert outsider_api.get(tier_url).status_code == 404
    assert outsider_api.delete(tier_url).status_code == 404
    assert outsider_api.get(f"{URL}contacts/{contact.pk}/tier-changes/").status_code == 404
    assert outsider_api.get(f"{URL}tiers/").json()["results"] == []
    # Deleting a tier with members moves them to the tier below (none here).
    assert api.delete(tier_url).status_code == 204
    assert api.get(f"{URL}contacts/{contact.pk}/").json()["tier"] is None
    changes = api.get(f"{URL}contacts/{contact.pk}/tier-changes/").json()["results"]
    assert (changes[0]["from_name"], changes[0]["to_name"], changes[0]["cause"]) == (
        "Silver",
        "",
        "removed",
    )


def test_a_tier_multiplier_over_the_api(api, ws):
    _setup_programme(api)
    made = api.post(
        f"{URL}tiers/", {"name": "VIP", "threshold": 0, "multiplier": "2.5"}, format="json"
    ).json()
    assert made["multiplier"] == "2.50"
    assert api.get(f"{URL}tiers/{made['id']}/").json()["multiplier"] == "2.50"
    contact = ContactFactory.create(workspace=ws)
    ingest(ws, purchase(contact, "10"))  # enters VIP (threshold 0) with 10
    ingest(ws, purchase(contact, "10"))  # earns 10 times 2.5
    assert balance(contact) == 35
