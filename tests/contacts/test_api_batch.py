"""POST /api/v1/contacts/batch/: upserts, one result per item, valid items kept."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from contacts.models import Contact
from contacts.services import contacts_upsert
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/contacts/batch/"


def test_creates_updates_and_reports_each_item(api, ws):
    existing = ContactFactory.create(
        workspace=ws, email="old@example.com", external_id="e-1", first_name="Old"
    )
    unchanged = ContactFactory.create(workspace=ws, email="same@example.com", first_name="Same")
    response = api.post(
        URL,
        {
            "contacts": [
                {"external_id": "e-1", "first_name": "Renamed"},
                {"email": "new@example.com", "attributes": {"plan": "pro"}},
                {"email": "bad-email"},
                {"email": "same@example.com", "first_name": "Same"},
                {"first_name": "No identifier"},
            ]
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    statuses = [r["status"] for r in body["results"]]
    assert statuses == ["updated", "created", "error", "unchanged", "error"]
    assert (body["created"], body["updated"], body["unchanged"], body["errors"]) == (1, 1, 1, 2)
    assert body["results"][0]["id"] == existing.pk
    assert body["results"][3]["id"] == unchanged.pk
    assert "email" in body["results"][2]["errors"]
    assert body["results"][4]["errors"] == {"email": ["give external_id or email to match on"]}
    existing.refresh_from_db()
    assert existing.first_name == "Renamed"
    assert Contact.objects.get(email="new@example.com").attributes == {"plan": "pro"}


def test_matches_by_external_id_before_email(api, ws):
    contact = ContactFactory.create(workspace=ws, email="a@example.com", external_id="crm-7")
    body = api.post(
        URL, {"contacts": [{"external_id": "crm-7", "email": "b@example.com"}]}, format="json"
    ).json()
    assert body["results"][0] == {"index": 0, "status": "updated", "id": contact.pk}
    contact.refresh_from_db()
    assert contact.email == "b@example.com"


def test_identifier_owned_by_another_contact_fails_only_that_item(api, ws):
    ContactFactory.create(workspace=ws, email="owner@example.com", external_id="x-1")
    body = api.post(
        URL,
        {
            "contacts": [
                {"external_id": "x-2", "email": "owner@example.com"},
                {"external_id": "x-3", "email": "fine@example.com"},
            ]
        },
        format="json",
    ).json()
    assert body["results"][0]["status"] == "error"
    assert "belongs to another contact" in body["results"][0]["errors"]["email"][0]
    assert body["results"][1]["status"] == "created"


def test_repeated_key_in_one_batch_merges_in_order(api, ws):
    body = api.post(
        URL,
        {
            "contacts": [
                {"email": "twice@example.com", "first_name": "First"},
                {"email": "twice@example.com", "last_name": "Second"},
            ]
        },
        format="json",
    ).json()
    assert [r["status"] for r in body["results"]] == ["created", "updated"]
    assert body["results"][0]["id"] == body["results"][1]["id"]
    contact = Contact.objects.get(email="twice@example.com")
    assert (contact.first_name, contact.last_name) == ("First", "Second")


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({"contacts": []}, "must not be empty"),
        ({"contacts": "x"}, "must be a list"),
        ({"people": []}, "must be a list"),
        ({"contacts": [{"email": f"u{i}@example.com"} for i in range(1001)]}, "at most 1000"),
    ],
)
def test_envelope_errors(api, payload, reason):
    response = api.post(URL, payload, format="json")
    assert response.status_code == 400
    assert reason in response.json()["error"]["fields"]["contacts"][0]
    assert Contact.objects.count() == 0


def test_exactly_1000_items_are_accepted(api):
    body = api.post(
        URL, {"contacts": [{"email": f"u{i}@example.com"} for i in range(1000)]}, format="json"
    ).json()
    assert body["created"] == 1000


@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_with_the_same_new_email_create_one_contact(ws):
    """Two writers race to create the same contact; one creates, the other updates."""
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def write(name: str) -> None:
        try:
            barrier.wait()
            result = contacts_upsert(
                workspace=ws,
                source="test",
                items=[{"email": "race@example.com", "first_name": name}],
            )
            outcomes.append(result[0].status)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(n,)) for n in ("A", "B")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Contact.objects.filter(email="race@example.com").count() == 1
    assert sorted(outcomes) in (["created", "updated"], ["created", "unchanged"])


def test_outsider_batch_never_touches_our_contacts(ws, outsider_api):
    ours = ContactFactory.create(workspace=ws, email="mine@example.com", first_name="Mine")
    body = outsider_api.post(
        URL, {"contacts": [{"email": "mine@example.com", "first_name": "Stolen"}]}, format="json"
    ).json()
    assert body["results"][0]["status"] == "created"
    ours.refresh_from_db()
    assert ours.first_name == "Mine"
