"""Contacts over the REST API: create, read, update, erase, list, search, paging."""

from __future__ import annotations

import pytest

from contacts.models import ConsentChange, Contact, Event, Suppression
from contacts.services.contacts import value_hash
from tests.factories import ContactFactory, EventFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/contacts/"


def test_create_returns_201_with_every_field(api, ws):
    response = api.post(
        URL,
        {
            "email": "  Ada@Example.COM ",
            "phone": "+14155550123",
            "external_id": "u-1",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "time_zone": "Europe/London",
            "locale": "en_GB",
            "attributes": {"plan": "pro", "seats": 3},
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["email"] == "ada@example.com"
    assert body["phone"] == "+14155550123"
    assert body["locale"] == "en-GB"
    assert body["attributes"] == {"plan": "pro", "seats": 3}
    assert body["email_status"] == "subscribed"
    assert body["sms_status"] == "never_subscribed"
    assert set(body) == {
        "id",
        "email",
        "phone",
        "external_id",
        "first_name",
        "last_name",
        "time_zone",
        "locale",
        "attributes",
        "email_status",
        "sms_status",
        "signed_up_at",
        "created_at",
        "updated_at",
    }
    assert Contact.objects.get(pk=body["id"]).workspace == ws


def test_create_conflicts_on_existing_email_or_external_id(api, ws):
    ContactFactory.create(workspace=ws, email="taken@example.com", external_id="x1")
    response = api.post(URL, {"email": "TAKEN@example.com"}, format="json")
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "conflict"
    assert "email" in error["fields"]
    response = api.post(URL, {"external_id": "x1"}, format="json")
    assert response.status_code == 409
    assert "external_id" in response.json()["error"]["fields"]


def test_same_email_in_another_workspace_is_fine(api, outsider):
    ContactFactory.create(workspace=outsider.workspace, email="shared@example.com")
    assert api.post(URL, {"email": "shared@example.com"}, format="json").status_code == 201


@pytest.mark.parametrize(
    ("payload", "field", "reason"),
    [
        ({"email": "not-an-email"}, "email", "not a valid email"),
        ({"email": "a@b.co", "phone": "4155550123"}, "phone", "E.164"),
        ({"email": "a@b.co", "phone": "+1 000"}, "phone", "not"),
        ({"email": "a@b.co", "time_zone": "Mars/Olympus"}, "time_zone", "IANA"),
        ({"email": "a@b.co", "attributes": "plan=pro"}, "attributes", "must be an object"),
        ({"email": "a@b.co", "attributes": {"1bad": 1}}, "attributes", "attribute name"),
        ({"email": "a@b.co", "email_status": "maybe"}, "email_status", "not one of"),
        ({"email": 42}, "email", "must be a string"),
        ({"email": "a@b.co", "favourite_colour": "red"}, "favourite_colour", "unknown field"),
        ({"first_name": "Nobody"}, "non_field_errors", "at least one of"),
    ],
)
def test_bad_input_names_the_field_and_reason(api, payload, field, reason):
    response = api.post(URL, payload, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert field in error["fields"], error
    assert reason in " ".join(error["fields"][field])
    assert Contact.objects.count() == 0


def test_malformed_json_is_a_parse_error(api):
    response = api.generic("POST", URL, '{"email": "a@b.co",', content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"


def test_body_must_be_an_object(api):
    response = api.post(URL, [{"email": "a@b.co"}], format="json")
    assert response.status_code == 400
    assert "JSON object" in response.json()["error"]["message"]


def test_retrieve_update_and_attribute_merge(api, ws):
    contact = ContactFactory.create(workspace=ws, attributes={"plan": "free", "seats": 1})
    response = api.patch(
        f"{URL}{contact.pk}/",
        {
            "first_name": "Grace",
            "attributes": {"plan": "pro", "seats": None, "team": "ops"},
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["attributes"] == {"plan": "pro", "team": "ops"}
    assert api.get(f"{URL}{contact.pk}/").json()["first_name"] == "Grace"


def test_update_to_another_contacts_email_is_409(api, ws):
    ContactFactory.create(workspace=ws, email="one@example.com")
    other = ContactFactory.create(workspace=ws, email="two@example.com")
    response = api.patch(f"{URL}{other.pk}/", {"email": "one@example.com"}, format="json")
    assert response.status_code == 409


def test_update_cannot_remove_the_last_identifier(api, ws):
    contact = ContactFactory.create(workspace=ws, email="only@example.com")
    response = api.patch(f"{URL}{contact.pk}/", {"email": None}, format="json")
    assert response.status_code == 400
    contact.refresh_from_db()
    assert contact.email == "only@example.com"


def test_consent_change_is_recorded_with_source(api, ws):
    contact = ContactFactory.create(workspace=ws)
    api.patch(f"{URL}{contact.pk}/", {"email_status": "unsubscribed"}, format="json")
    change = ConsentChange.objects.get(contact=contact)
    assert (change.channel, change.status, change.source) == ("email", "unsubscribed", "api")
    contact.refresh_from_db()
    assert contact.email_status_source == "api"


def test_delete_erases_personal_data_and_keeps_a_hashed_suppression(api, ws):
    contact = ContactFactory.create(
        workspace=ws, email="gone@example.com", phone="+14155550100", email_status="bounced"
    )
    EventFactory.create(contact=contact)
    response = api.delete(f"{URL}{contact.pk}/")
    assert response.status_code == 204
    assert not Contact.objects.filter(pk=contact.pk).exists()
    assert not Event.objects.filter(contact_id=contact.pk).exists()
    suppressions = {(s.channel, s.value_hash, s.reason) for s in Suppression.objects.all()}
    assert ("email", value_hash("email", "gone@example.com"), "bounced") in suppressions
    assert ("sms", value_hash("sms", "+14155550100"), "erased") in suppressions
    # The address comes back through an integration: it starts suppressed, not subscribed.
    again = api.post(URL, {"email": "gone@example.com"}, format="json").json()
    assert again["email_status"] == "bounced"
    assert api.get(f"{URL}{contact.pk}/").status_code == 404


def test_list_filters_and_search(api, ws):
    ContactFactory.create(
        workspace=ws,
        email="ada@lovelace.org",
        first_name="Ada",
        last_name="Lovelace",
        external_id="c-1",
    )
    ContactFactory.create(
        workspace=ws,
        email="grace@navy.mil",
        first_name="Grace",
        last_name="Hopper",
        email_status="unsubscribed",
    )
    ContactFactory.create(
        workspace=ws,
        email="alan@bletchley.uk",
        first_name="Alan",
        last_name="Turing",
        phone="+447911123456",
    )

    def emails(**params):
        response = api.get(URL, params)
        assert response.status_code == 200, response.json()
        return {c["email"] for c in response.json()["results"]}

    assert emails(email="ADA@lovelace.org") == {"ada@lovelace.org"}
    assert emails(external_id="c-1") == {"ada@lovelace.org"}
    assert emails(email_status="unsubscribed") == {"grace@navy.mil"}
    assert emails(q="hop") == {"grace@navy.mil"}
    assert emails(q="lovelace") == {"ada@lovelace.org"}
    assert emails(q="navy") == {"grace@navy.mil"}
    assert emails(q="ada love") == {"ada@lovelace.org"}
    assert emails(q="+4479") == {"alan@bletchley.uk"}
    assert emails(q="c-1") == {"ada@lovelace.org"}
    assert emails(q="zzz") == set()
    assert emails(q="'); drop table x; --") == set()


def test_cursor_pagination_walks_every_contact_once(api, ws):
    ids = {ContactFactory.create(workspace=ws).pk for _ in range(7)}
    seen: list[int] = []
    url = f"{URL}?limit=3"
    while url:
        body = api.get(url).json()
        seen += [c["id"] for c in body["results"]]
        url = body["next"]
    assert sorted(seen, reverse=True) == seen
    assert set(seen) == ids and len(seen) == 7


def test_updated_since_pages_in_update_order(api, ws):
    first, second = ContactFactory.create(workspace=ws), ContactFactory.create(workspace=ws)
    api.patch(f"{URL}{first.pk}/", {"first_name": "Later"}, format="json")
    first.refresh_from_db()
    body = api.get(URL, {"updated_since": second.updated_at.isoformat(), "limit": 1}).json()
    assert [c["id"] for c in body["results"]] == [second.pk]
    body = api.get(body["next"]).json()
    assert [c["id"] for c in body["results"]] == [first.pk]


def test_bad_cursor_and_limit_are_400(api):
    assert api.get(URL, {"cursor": "nonsense!"}).status_code == 400
    assert api.get(URL, {"limit": 0}).status_code == 400
    assert api.get(URL, {"limit": "ten"}).status_code == 400
    assert api.get(URL, {"updated_since": "yesterday"}).status_code == 400


def test_list_query_count_is_constant(api, ws, django_assert_max_num_queries):
    for _ in range(30):
        ContactFactory.create(workspace=ws)
    with django_assert_max_num_queries(4):
        assert len(api.get(URL, {"limit": 30}).json()["results"]) == 30


def test_contact_events_are_listed_newest_first(api, ws):
    contact = ContactFactory.create(workspace=ws)
    old = EventFactory.ago(3, contact=contact, name="signed_up")
    new = EventFactory.ago(1, contact=contact, name="purchase", revenue="12.50", currency="EUR")
    body = api.get(f"{URL}{contact.pk}/events/").json()
    assert [e["id"] for e in body["results"]] == [new.pk, old.pk]
    assert body["results"][0]["revenue"] == "12.50"


def test_export_neutralises_formula_cells(api, ws):
    ContactFactory.create(
        workspace=ws,
        email="x@example.com",
        first_name="=HYPERLINK(1)",
        last_name="@SUM(A1)",
        attributes={"note": "+cmd", "plan": "pro"},
    )
    response = api.get(f"{URL}export/")
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode()
    header, row = text.strip().splitlines()
    assert header.split(",")[-2:] == ["attributes.note", "attributes.plan"]
    assert "'=HYPERLINK(1)" in row and "'@SUM(A1)" in row and "'+cmd" in row


def test_outsider_cannot_see_or_touch_our_contacts(api, ws, outsider_api):
    contact = ContactFactory.create(workspace=ws)
    for method in ("get", "patch", "delete"):
        response = getattr(outsider_api, method)(f"{URL}{contact.pk}/", {}, format="json")
        assert response.status_code == 404, method
    assert outsider_api.get(f"{URL}{contact.pk}/events/").status_code == 404
    assert outsider_api.get(URL).json()["results"] == []
    assert Contact.objects.filter(pk=contact.pk).exists()


def test_requests_without_a_valid_key_are_401(client, ws):
    assert client.get(URL).status_code == 401
    response = client.get(URL, HTTP_AUTHORIZATION="Bearer sc_wrong")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"
    assert client.get(URL, HTTP_AUTHORIZATION="Token abc").status_code == 401


def test_nul_characters_in_filters_are_refused_by_name(api, ws):
    ContactFactory.create(workspace=ws, email="ada@example.com")
    for params in ({"q": "ada\x00"}, {"email": "a\x00@b.co"}, {"external_id": "\x00"}):
        response = api.get(URL, params)
        assert response.status_code == 400, params
        assert list(response.json()["error"]["fields"]) == list(params)
