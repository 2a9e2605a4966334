"""Referrals over the API: the settings, the list and one referral, approving and
rejecting a flagged one, a contact's code, link and counts; bad input is a 400 naming
the field; an outsider gets 404s."""

from __future__ import annotations

import pytest

from loyalty.models import Referral, ReferralStatus
from tests.factories import ContactFactory, StageFactory
from tests.loyalty.helpers import ingest, purchase

pytestmark = pytest.mark.django_db

URL = "/api/v1/loyalty/"


def _enable(api, **data):
    body = {"enabled": True, "referrer_points": 100, "friend_points": 50, **data}
    response = api.patch(f"{URL}referral-settings/", body, format="json")
    assert response.status_code == 200, response.json()
    return response.json()


def _code(api, contact):
    response = api.get(f"/api/v1/contacts/{contact.pk}/referral/")
    assert response.status_code == 200, response.json()
    return response.json()


def test_settings_round_trip(ws, api):
    assert api.get(f"{URL}referral-settings/").json()["enabled"] is False
    stage = StageFactory.create(workspace=ws)
    body = _enable(
        api,
        stage_ids=[stage.pk],
        qualifying_event="order_completed",
        min_amount="25.50",
        within_days=60,
        hold_days=30,
        monthly_limit=5,
        signup_url="https://shop.example/signup",
    )
    assert body["min_amount"] == "25.50" and body["stage_ids"] == [stage.pk]
    assert body["monthly_limit"] == 5 and body["hold_days"] == 30
    assert api.get(f"{URL}referral-settings/").json() == body


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"enabled": "yes"}, "enabled"),
        ({"min_amount": 25}, "min_amount"),
        ({"min_amount": "1.234"}, "min_amount"),
        ({"hold_days": 400}, "hold_days"),
        ({"monthly_limit": 0}, "monthly_limit"),
        ({"referrer_points": -1}, "referrer_points"),
        ({"friend_reward_id": 999999}, "friend_reward_id"),
        ({"stage_ids": [999999]}, "stage_ids"),
        ({"stage_ids": "all"}, "stage_ids"),
        ({"signup_url": "javascript:alert(1)"}, "signup_url"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_settings_are_a_400_naming_the_field(api, body, field):
    response = api.patch(f"{URL}referral-settings/", body, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["error"]["fields"]


def test_contact_referral_code_link_and_counts(ws, api):
    ann = ContactFactory.create(workspace=ws)
    assert _code(api, ann)["code"] is None  # programme off: no code
    _enable(api)
    first = _code(api, ann)
    assert first["code"] and first["link"].endswith(f"/r/{ws.pk}/{first['code']}/")
    assert _code(api, ann)["code"] == first["code"]  # made once
    created = api.post(
        "/api/v1/contacts/",
        {"email": "friend@example.net", "referred_by": first["code"].lower()},
        format="json",
    )
    assert created.status_code == 201
    friend = Referral.objects.get().referred
    ingest(ws, purchase(friend, "10"))
    counts = _code(api, ann)
    assert (counts["sent"], counts["converted"], counts["paid"], counts["flagged"]) == (1, 1, 0, 0)
    assert _code(api, friend)["referred_by"] == ann.pk


def _component(schema, operation):
    ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    return schema["components"]["schemas"][ref.rsplit("/", 1)[-1]]


def test_referred_by_is_a_documented_field_of_contact_creation(ws, api):
    """The OpenAPI schema lists `referred_by` as a field of a contact's creation (not only
    in prose), and a body built from the schema's fields links the referral; the
    update's body, which does not take it, does not list it."""
    schema = api.get("/api/schema/", {"format": "json"}).json()
    contacts = schema["paths"]["/api/v1/contacts/"]["post"]
    create = _component(schema, contacts)
    field = create["properties"]["referred_by"]
    assert field["type"] == "string" and field["nullable"] is True
    assert "referral code" in field["description"] and field["maxLength"] == 1000
    assert create["additionalProperties"] is False  # so it is listed, not tolerated
    update = _component(schema, schema["paths"]["/api/v1/contacts/{contact_id}/"]["patch"])
    assert "referred_by" not in update["properties"]
    batch = _component(schema, schema["paths"]["/api/v1/contacts/batch/"]["post"])
    assert "ContactCreateRequest" in batch["properties"]["contacts"]["description"]

    _enable(api)
    ann = ContactFactory.create(workspace=ws, email="ann@example.com")
    body = {"email": "friend@example.net", "referred_by": _code(api, ann)["code"]}
    assert set(body) <= set(create["properties"])
    assert api.post("/api/v1/contacts/", body, format="json").status_code == 201
    assert Referral.objects.get().referrer_id == ann.pk
    friend = Referral.objects.get().referred
    refused = api.patch(f"/api/v1/contacts/{friend.pk}/", {"referred_by": "X"}, format="json")
    assert refused.status_code == 400 and "referred_by" in refused.json()["error"]["fields"]


def test_list_filter_one_approve_reject(ws, api):
    _enable(api)
    ann = ContactFactory.create(workspace=ws, email="ann@example.com")
    code = _code(api, ann)["code"]
    for email in ("ann+1@example.com", "ann+2@example.com", "fine@example.net"):
        api.post("/api/v1/contacts/", {"email": email, "referred_by": code}, format="json")
    flagged = api.get(f"{URL}referrals/?status=flagged").json()["results"]
    assert len(flagged) == 2 and flagged[0]["flags"][0]["reason"] == "self_referral"
    assert len(api.get(f"{URL}referrals/?referrer_id={ann.pk}").json()["results"]) == 3
    one = api.get(f"{URL}referrals/{flagged[0]['id']}/").json()
    assert one == flagged[0]
    approved = api.post(f"{URL}referrals/{flagged[0]['id']}/approve/")
    assert approved.status_code == 200 and approved.json()["status"] == ReferralStatus.PENDING
    assert approved.json()["reviewed_by"]
    rejected = api.post(f"{URL}referrals/{flagged[1]['id']}/reject/")
    assert rejected.json()["status"] == ReferralStatus.REJECTED
    again = api.post(f"{URL}referrals/{flagged[1]['id']}/approve/")
    assert again.status_code == 409 and "status" in again.json()["error"]["fields"]
    bad = api.get(f"{URL}referrals/?status=nope")
    assert bad.status_code == 400 and "status" in bad.json()["error"]["fields"]


def test_outsider_gets_404s(ws, api, outsider_api):
    _enable(api)
    ann = ContactFactory.create(workspace=ws, email="ann@example.com")
    code = _code(api, ann)["code"]
    api.post(
        "/api/v1/contacts/", {"email": "ann+x@example.com", "referred_by": code}, format="json"
    )
    referral = Referral.objects.get()
    assert outsider_api.get(f"{URL}referrals/{referral.pk}/").status_code == 404
    assert outsider_api.post(f"{URL}referrals/{referral.pk}/approve/").status_code == 404
    assert outsider_api.post(f"{URL}referrals/{referral.pk}/reject/").status_code == 404
    assert outsider_api.get(f"/api/v1/contacts/{ann.pk}/referral/").status_code == 404
    assert outsider_api.get(f"{URL}referrals/").json()["results"] == []
    assert outsider_api.get(f"{URL}referrals/?referrer_id={ann.pk}").json()["results"] == []
    # Their signup cannot use our code either.
    theirs = outsider_api.post(
        "/api/v1/contacts/", {"email": "z@example.net", "referred_by": code}, format="json"
    )
    assert theirs.status_code == 400 and "referred_by" in theirs.json()["error"]["fields"]
    referral.refresh_from_db()
    assert referral.status == ReferralStatus.FLAGGED


def test_list_and_review_page_queries_do_not_grow_with_rows(
    ws, api, owner, django_assert_max_num_queries
):
    _enable(api)
    ann = ContactFactory.create(workspace=ws, email="ann@example.com")
    code = _code(api, ann)["code"]
    for n in range(12):
        body = {"email": f"ann+{n}@example.com", "referred_by": code}
        api.post("/api/v1/contacts/", body, format="json")
    with django_assert_max_num_queries(8):
        assert len(api.get(f"{URL}referrals/").json()["results"]) == 12
    with django_assert_max_num_queries(12):
        page = owner.web.get(f"/w/{ws.slug}/referrals/review/")
    assert page.content.count(b"self_referral") == 12
