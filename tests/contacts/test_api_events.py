"""POST /api/v1/events/: single and batch ingest, idempotency, contact resolution."""

from __future__ import annotations

import datetime as dt
import random
import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from contacts.models import Contact, ContactMark, Event
from contacts.services import events_ingest
from tests.factories import ContactFactory
from workspaces.services import Actor, api_key_create

pytestmark = pytest.mark.django_db

URL = "/api/v1/events/"


def test_single_event_by_email_creates_the_contact(api, ws):
    response = api.post(
        URL,
        {
            "contact": {"email": "New@Example.com"},
            "name": "signed_up",
            "properties": {"form": "footer"},
        },
        format="json",
    )
    assert response.status_code == 202, response.json()
    assert response.json() == {
        "accepted": 1,
        "duplicates": 0,
        "rejected": 0,
        "contacts_created": 1,
        "errors": [],
    }
    contact = Contact.objects.get(workspace=ws, email="new@example.com")
    event = Event.objects.get(contact=contact)
    assert (event.name, event.properties) == ("signed_up", {"form": "footer"})
    assert ContactMark.objects.filter(contact=contact).exists()


def test_event_by_id_and_external_id(api, ws):
    ws.currency = "EUR"
    ws.save(update_fields=["currency"])
    contact = ContactFactory.create(workspace=ws, external_id="crm-1")
    body = api.post(
        URL,
        {
            "batch": [
                {"contact": {"id": contact.pk}, "name": "page_view"},
                {
                    "contact": {"external_id": "crm-1"},
                    "name": "purchase",
                    "revenue": 19.99,
                    "currency": "eur",
                    "occurred_at": "2026-01-02T03:04:05+01:00",
                },
                {"contact": {"external_id": "crm-2"}, "name": "page_view"},
            ]
        },
        format="json",
    ).json()
    assert (body["accepted"], body["contacts_created"]) == (3, 1)
    purchase = Event.objects.get(contact=contact, name="purchase")
    assert purchase.revenue == Decimal("19.99")
    assert purchase.currency == "EUR"
    assert purchase.occurred_at == dt.datetime(2026, 1, 2, 2, 4, 5, tzinfo=dt.UTC)
    assert Contact.objects.filter(workspace=ws, external_id="crm-2").exists()


def test_revenue_without_currency_takes_the_workspace_currency(api, ws):
    api.post(
        URL,
        {"contact": {"email": "a@example.com"}, "name": "purchase", "revenue": "5"},
        format="json",
    )
    assert Event.objects.get().currency == ws.currency


def test_idempotency_key_records_an_event_once(api, ws):
    event = {
        "contact": {"email": "a@example.com"},
        "name": "purchase",
        "revenue": "10.00",
        "idempotency_key": "order-1",
    }
    assert api.post(URL, event, format="json").json()["duplicates"] == 0
    assert api.post(URL, event, format="json").json()["duplicates"] == 1
    body = api.post(
        URL,
        {
            "batch": [
                event,
                dict(event, idempotency_key="order-2"),
                dict(event, idempotency_key="order-2"),
            ]
        },
        format="json",
    ).json()
    assert (body["accepted"], body["duplicates"]) == (3, 2)
    assert Event.objects.count() == 2


def test_batch_keeps_valid_items_and_reports_bad_ones_by_index(api, ws):
    now = timezone.now()
    body = api.post(
        URL,
        {
            "batch": [
                {"contact": {"email": "ok@example.com"}, "name": "page_view"},
                {"contact": {"email": "ok@example.com"}, "name": ""},
                {"contact": {"id": 999999999}, "name": "page_view"},
                {"contact": {"email": "ok@example.com", "id": 1}, "name": "x"},
                {"contact": {"email": "ok@example.com"}, "name": "x", "revenue": "1.234"},
                {"contact": {"email": "ok@example.com"}, "name": "x", "revenue": "abc"},
                {
                    "contact": {"email": "ok@example.com"},
                    "name": "x",
                    "occurred_at": (now + dt.timedelta(days=3)).isoformat(),
                },
                {"contact": {"email": "ok@example.com"}, "name": "x", "occurred_at": "tuesday"},
                {"contact": {"email": "ok@example.com"}, "name": "x", "colour": "red"},
                {"contact": {"email": "ok@example.com"}, "name": "x", "properties": [1, 2]},
                "not an object",
                {"contact": {"email": "ok@example.com"}, "name": "purchase", "revenue": "9.90"},
            ]
        },
        format="json",
    ).json()
    assert body["accepted"] == 2
    assert body["rejected"] == 10
    by_index = {e["index"]: e["fields"] for e in body["errors"]}
    assert set(by_index) == set(range(1, 11))
    assert "name" in by_index[1]
    assert by_index[2] == {"contact": ["no contact with id 999999999"]}
    assert "exactly one" in by_index[3]["contact"][0]
    assert by_index[4] == {"revenue": ["has more than 2 decimal places"]}
    assert "not a number" in by_index[5]["revenue"][0]
    assert "future" in by_index[6]["occurred_at"][0]
    assert "ISO 8601" in by_index[7]["occurred_at"][0]
    assert by_index[8] == {"colour": ["unknown field"]}
    assert by_index[9] == {"properties": ["must be an object"]}
    assert by_index[10] == {"non_field_errors": ["must be an object"]}
    assert Event.objects.count() == 2


def test_single_invalid_event_is_a_400(api):
    response = api.post(URL, {"contact": {"email": "a@example.com"}}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"name": ["is required"]}
    assert Event.objects.count() == 0


def test_revenue_in_another_currency_is_refused_with_what_to_do(api, ws):
    """Stagecraft sums revenue as it comes: an amount in another currency than the
    workspace's is refused (never added to it as if it were the same), and the error
    says which currency to send. An event without revenue may name any currency."""
    assert ws.currency == "USD"
    response = api.post(
        URL,
        {
            "contact": {"email": "a@example.com"},
            "name": "purchase",
            "revenue": "9.99",
            "currency": "eur",
        },
        format="json",
    )
    assert response.status_code == 400
    (message,) = response.json()["error"]["fields"]["currency"]
    assert message.startswith("must be the workspace's currency, USD: convert the revenue")
    body = api.post(
        URL,
        {
            "batch": [
                {
                    "contact": {"email": "a@example.com"},
                    "name": "purchase",
                    "revenue": "5",
                    "currency": "GBP",
                },
                {
                    "contact": {"email": "a@example.com"},
                    "name": "purchase",
                    "revenue": "5",
                    "currency": "usd",
                },
                {"contact": {"email": "a@example.com"}, "name": "quote", "currency": "GBP"},
            ]
        },
        format="json",
    ).json()
    assert (body["accepted"], body["rejected"]) == (2, 1)
    assert [e["index"] for e in body["errors"]] == [0]
    assert "currency" in body["errors"][0]["fields"]
    assert sorted(Event.objects.values_list("currency", flat=True)) == ["GBP", "USD"]


def test_batch_limits(api):
    event = {"contact": {"email": "a@example.com"}, "name": "page_view"}
    response = api.post(URL, {"batch": [event] * 1001}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["batch"] == ["at most 1000 items per request"]
    assert Event.objects.count() == 0
    assert api.post(URL, {"batch": [event] * 1000}, format="json").json()["accepted"] == 1000


def test_wrong_types_in_the_envelope(api):
    assert api.post(URL, {"batch": {"a": 1}}, format="json").status_code == 400
    assert api.post(URL, "text", format="json").status_code == 400
    response = api.generic("POST", URL, b"\x00\xff", content_type="application/json")
    assert response.status_code == 400


def test_outsider_cannot_attach_events_to_our_contact_ids(ws, outsider_api):
    contact = ContactFactory.create(workspace=ws)
    body = outsider_api.post(
        URL,
        {"batch": [{"contact": {"id": contact.pk}, "name": "purchase", "revenue": "1"}]},
        format="json",
    ).json()
    assert body["errors"] == [
        {"index": 0, "fields": {"contact": [f"no contact with id {contact.pk}"]}}
    ]
    assert Event.objects.count() == 0


def test_outsider_sees_no_events_of_ours(api, ws, outsider_api):
    contact = ContactFactory.create(workspace=ws)
    api.post(URL, {"contact": {"id": contact.pk}, "name": "page_view"}, format="json")
    assert outsider_api.get(f"/api/v1/contacts/{contact.pk}/events/").status_code == 404


def test_json_that_postgresql_cannot_store_is_refused_not_crashed(api):
    nan = api.generic(
        "POST",
        URL,
        '{"contact": {"email": "a@b.co"}, "name": "x", "properties": {"v": NaN}}',
        content_type="application/json",
    )
    assert nan.status_code == 400
    assert nan.json()["error"]["code"] == "parse_error"
    nul = api.post(
        URL,
        {"contact": {"email": "a@b.co"}, "name": "x", "properties": {"note": "a\x00b"}},
        format="json",
    )
    assert nul.status_code == 400
    # Refused by the JSON parser, which names the value's path.
    assert nul.json()["error"]["fields"] == {
        "properties.note": ["contains a NUL character (\\u0000)"]
    }
    contact = api.post(
        "/api/v1/contacts/", {"email": "n@b.co", "attributes": {"x": "\x00"}}, format="json"
    )
    assert contact.status_code == 400
    assert Event.objects.count() == 0


def test_events_need_json_a_key_and_respect_the_rate_limit(api, ws, client):

    assert client.post(URL, {}, content_type="application/json").status_code == 401
    form = api.post(URL, {"name": "x"}, format="multipart")  # not JSON
    assert form.status_code == 415
    assert form.json()["error"]["code"] == "unsupported_media_type"
    assert api.get(URL).status_code == 405
    _, secret = api_key_create(
        workspace=ws, name="tiny", actor=Actor(system="t"), rate_limit_per_minute=1
    )
    tiny = APIClient()
    tiny.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    event = {"contact": {"email": "a@b.co"}, "name": "x"}
    assert tiny.post(URL, event, format="json").status_code == 202
    limited = tiny.post(URL, event, format="json")
    assert limited.status_code == 429
    assert int(limited["Retry-After"]) >= 1


def test_an_id_beyond_bigint_is_an_error_not_a_crash(api):
    body = api.post(URL, {"batch": [{"contact": {"id": 2**64}, "name": "x"}]}, format="json").json()
    assert body["errors"][0]["fields"]["contact"] == ["id must be a positive integer"]


@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_over_the_same_contacts_do_not_deadlock(ws):
    """Four writers send batches over random, overlapping sets of the same contacts
    while marks are drained (as the lifecycle worker does), so marks keep being new."""

    contacts = [ContactFactory.create(workspace=ws) for _ in range(200)]
    failures: list[BaseException] = []
    barrier = threading.Barrier(4)

    def send(seed: int) -> None:
        rng = random.Random(seed)
        try:
            barrier.wait()
            for _ in range(15):
                chosen = rng.sample(contacts, 150)
                events_ingest(
                    workspace=ws,
                    items=[{"contact": {"id": c.pk}, "name": "page_view"} for c in chosen],
                )
        except BaseException as exc:
            failures.append(exc)
        finally:
            connection.close()

    done = threading.Event()

    def drain() -> None:
        try:
            while not done.is_set():
                ContactMark.objects.all().delete()
        finally:
            connection.close()

    drainer = threading.Thread(target=drain)
    drainer.start()
    threads = [threading.Thread(target=send, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    drainer.join()
    assert not failures
    assert Event.objects.filter(workspace=ws).count() == 4 * 15 * 150
