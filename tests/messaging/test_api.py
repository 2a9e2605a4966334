"""API: /api/v1/templates/ (CRUD, preview, send test) and /api/v1/messages/."""

from __future__ import annotations

import pytest

from contacts.services import consent_set
from messaging.models import Message, SandboxDelivery
from messaging.services.claims import messages_claim
from messaging.services.dispatch import messages_send
from tests.factories import ContactFactory
from tests.messaging.helpers import email_template, enqueue

pytestmark = pytest.mark.django_db

EMAIL = {
    "name": "Welcome",
    "channel": "email",
    "subject": "Welcome {{ first_name|default:'friend' }}",
    "body": "<style>h1{color:red}</style><h1>Hi {{ first_name }}</h1>"
    '<a href="{{ preferences_url }}">preferences</a>',
}


def test_template_crud(api):
    created = api.post("/api/v1/templates/", EMAIL, format="json")
    assert created.status_code == 201, created.json()
    template_id = created.json()["id"]
    assert api.get("/api/v1/templates/").json()["results"][0]["name"] == "Welcome"
    assert api.post("/api/v1/templates/", EMAIL, format="json").status_code == 409
    changed = api.patch(f"/api/v1/templates/{template_id}/", {"subject": "Hello"}, format="json")
    assert changed.status_code == 200 and changed.json()["subject"] == "Hello"
    assert api.delete(f"/api/v1/templates/{template_id}/").status_code == 204
    assert api.get(f"/api/v1/templates/{template_id}/").status_code == 404


def test_template_with_errors_refused_with_line_and_reason(api):
    bad = {**EMAIL, "body": "<p>ok</p>\n<p>{{ first_name|safe }}</p>"}
    response = api.post("/api/v1/templates/", bad, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert error["fields"]["body"] == [
        "line 2: Invalid filter: 'safe' (not available in message templates)"
    ]
    unknown = api.post("/api/v1/templates/", {**EMAIL, "engine": "jinja"}, format="json")
    assert unknown.status_code == 400 and "engine" in unknown.json()["error"]["fields"]


def test_sms_template_shows_segments(api):
    body = {"name": "Promo", "channel": "sms", "body": "x" * 161}
    response = api.post("/api/v1/templates/", body, format="json")
    assert response.json()["sms_segments"] == 2


def test_preview_as_contact(api, ws):
    template_id = api.post("/api/v1/templates/", EMAIL, format="json").json()["id"]
    contact = ContactFactory.create(workspace=ws, first_name="<b>Ada</b>")
    response = api.post(
        f"/api/v1/templates/{template_id}/preview/", {"contact_id": contact.pk}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["subject"] == "Welcome <b>Ada</b>"  # a subject is text, not HTML
    assert '<h1 style="color: red;">Hi &lt;b&gt;Ada&lt;/b&gt;</h1>' in body["html"]
    assert "Hi <b>Ada</b>" in body["text"]
    anonymous = api.post(f"/api/v1/templates/{template_id}/preview/", {}, format="json").json()
    assert anonymous["subject"] == "Welcome friend"


def test_preview_refuses_another_workspaces_contact(api, outsider):
    template_id = api.post("/api/v1/templates/", EMAIL, format="json").json()["id"]
    foreign = ContactFactory.create(workspace=outsider.workspace)
    response = api.post(
        f"/api/v1/templates/{template_id}/preview/", {"contact_id": foreign.pk}, format="json"
    )
    assert response.status_code == 400


def test_send_test_goes_through_the_outbox(api):
    template_id = api.post("/api/v1/templates/", EMAIL, format="json").json()["id"]
    response = api.post(
        f"/api/v1/templates/{template_id}/send-test/", {"to": "Me@Example.com"}, format="json"
    )
    assert response.status_code == 202, response.json()
    assert response.json()["is_test"] and response.json()["status"] == "scheduled"
    messages_send(claims=messages_claim())
    delivery = SandboxDelivery.objects.get()
    assert delivery.to_address == "me@example.com"
    assert delivery.subject == "[Test] Welcome friend"
    bad = api.post(f"/api/v1/templates/{template_id}/send-test/", {"to": "nope"}, format="json")
    assert bad.status_code == 400


def test_messages_list_and_detail(api, ws, outsider_api, django_assert_max_num_queries):
    template = email_template(ws)
    contacts = [ContactFactory.create(workspace=ws) for _ in range(5)]
    ids = enqueue(contacts, template)
    with django_assert_max_num_queries(6):
        response = api.get("/api/v1/messages/?limit=3")
    page = response.json()
    assert [m["id"] for m in page["results"]] == sorted(ids, reverse=True)[:3]
    assert page["next"]
    assert (
        api.get(f"/api/v1/messages/?contact_id={contacts[0].pk}").json()["results"][0]["id"]
        == ids[0]
    )
    assert api.get("/api/v1/messages/?status=sent").json()["results"] == []
    detail = api.get(f"/api/v1/messages/{ids[0]}/").json()
    assert detail["status"] == "scheduled" and detail["idempotency_key"] == f"t:{contacts[0].pk}"
    assert outsider_api.get(f"/api/v1/messages/{ids[0]}/").status_code == 404
    assert outsider_api.get("/api/v1/messages/").json()["results"] == []
    # Read-only.
    assert api.post("/api/v1/messages/", {}, format="json").status_code == 405
    assert Message.objects.count() == 5


def test_consent_history_and_export(api, ws, outsider_api):
    contact = ContactFactory.create(workspace=ws, email="=cmd@example.com")
    consent_set(contact=contact, channel="email", status="unsubscribed", source="one_click")
    consent_set(contact=contact, channel="email", status="subscribed", source="preference_page")
    history = api.get(f"/api/v1/contacts/{contact.pk}/consent/").json()["results"]
    assert [(h["status"], h["source"]) for h in history] == [
        ("subscribed", "preference_page"),
        ("unsubscribed", "one_click"),
    ]
    assert outsider_api.get(f"/api/v1/contacts/{contact.pk}/consent/").status_code == 404
    response = api.get("/api/v1/consent/export/")
    text = b"".join(response.streaming_content).decode()
    lines = text.strip().splitlines()
    assert lines[0] == "at,contact_id,email,phone,channel,status,source"
    assert len(lines) == 3 and "'=cmd@example.com" in lines[1] and "one_click" in lines[1]
    other = b"".join(outsider_api.get("/api/v1/consent/export/").streaming_content).decode()
    assert other.strip().count("\n") == 0
