"""django-anymail's own tracking webhooks (Postmark's format, anymail's basic-auth
secret) feed the outbox through the same service as /hooks/email/."""

from __future__ import annotations

import base64
import json
import uuid

import pytest
from django.core import mail
from django.test import Client

from contacts.models import ContactMark, Suppression
from messaging.models import Message, TrackingEvent, WebhookEvent
from messaging.services.claims import messages_claim
from messaging.services.dispatch import messages_send
from tests.factories import ContactFactory
from tests.messaging.helpers import email_template, enqueue

pytestmark = pytest.mark.django_db
URL = "/anymail/postmark/tracking/"
SECRET = "hookuser:hookpass"


@pytest.fixture
def esp_messages(ws, settings):
    """Two sent emails, each known by a Postmark MessageID."""
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET}
    ids = enqueue([ContactFactory.create(workspace=ws) for _ in range(2)], email_template(ws))
    messages_send(claims=messages_claim())
    for pk in ids:
        Message.objects.filter(pk=pk).update(provider_message_id=str(uuid.uuid4()))
    return list(Message.objects.select_related("contact").filter(pk__in=ids).order_by("pk"))


def _post(payload: dict, secret: str | None = SECRET):
    headers = {}
    if secret:
        headers["Authorization"] = "Basic " + base64.b64encode(secret.encode()).decode()
    return Client().post(URL, json.dumps(payload), content_type="application/json", headers=headers)


def _delivery(message: Message) -> dict:
    return {
        "RecordType": "Delivery",
        "ServerID": 23,
        "MessageStream": "broadcast",
        "MessageID": message.provider_message_id,
        "Recipient": message.to_address,
        "Tag": "",
        "DeliveredAt": "2026-05-01T10:00:00Z",
        "Details": "smtp;250 2.0.0 OK",
        "Metadata": {},
    }


def _open(message: Message) -> dict:
    return {
        "RecordType": "Open",
        "MessageStream": "broadcast",
        "FirstOpen": True,
        "MessageID": message.provider_message_id,
        "Recipient": message.to_address,
        "ReceivedAt": "2026-05-01T10:05:00Z",
        "UserAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) Version/17.0",
        "Metadata": {},
        "Tag": "",
    }


def _bounce(message: Message) -> dict:
    return {
        "RecordType": "Bounce",
        "ID": 4323372036854775807,
        "Type": "HardBounce",
        "TypeCode": 1,
        "Name": "Hard bounce",
        "Tag": "",
        "MessageID": message.provider_message_id,
        "ServerID": 23,
        "MessageStream": "broadcast",
        "Description": "The server was unable to deliver your message (ex: unknown user).",
        "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
        "Email": message.to_address,
        "From": "news@shop.example",
        "BouncedAt": "2026-05-01T10:01:00Z",
        "Inactive": True,
        "CanActivate": True,
        "Subject": "Hi",
        "Metadata": {},
    }


def test_postmark_events_apply_once_and_suppress(esp_messages):
    delivered, bounced = esp_messages
    for _ in range(2):  # the second round is a replay
        assert _post(_delivery(delivered)).status_code == 200
        assert _post(_open(delivered)).status_code == 200
        assert _post(_bounce(bounced)).status_code == 200
    delivered.refresh_from_db()
    bounced.refresh_from_db()
    assert delivered.status == "delivered" and delivered.opened_at is not None
    assert TrackingEvent.objects.filter(message=delivered, source="webhook").count() == 1
    # The first open changed what "opened in the last 30 days" says of the contact:
    # marked once, so its stage and segments follow (the replayed open marks nothing).
    assert ContactMark.objects.filter(contact=delivered.contact).count() == 1
    assert bounced.status == "bounced" and "unable to deliver" in bounced.error
    assert bounced.contact is not None
    bounced.contact.refresh_from_db()
    assert bounced.contact.email_status == "bounced"
    assert Suppression.objects.filter(reason="bounced").count() == 1
    events = WebhookEvent.objects.filter(provider="anymail-postmark")
    assert sorted(events.values_list("kind", flat=True)) == ["bounced", "delivered", "opened"]
    # Postmark's bounce carries an id, its delivery and open do not (hashed).
    ids = set(events.values_list("event_id", flat=True))
    assert "4323372036854775807" in ids
    assert sum(1 for i in ids if i.startswith("sha256:")) == 2


def test_unsubscribe_event_suppresses(esp_messages):
    message = esp_messages[0]
    change = {
        "RecordType": "SubscriptionChange",
        "MessageID": message.provider_message_id,
        "ServerID": 23,
        "MessageStream": "broadcast",
        "ChangedAt": "2026-05-01T10:10:00Z",
        "Recipient": message.to_address,
        "Origin": "Recipient",
        "SuppressSending": True,
        "SuppressionReason": "ManualSuppression",
        "Tag": "",
        "Metadata": {},
    }
    assert _post(change).status_code == 200
    assert message.contact is not None
    message.contact.refresh_from_db()
    assert message.contact.email_status == "unsubscribed"
    assert Suppression.objects.filter(reason="unsubscribed").count() == 1
    message.refresh_from_db()
    assert message.unsubscribed_at is not None


def test_without_or_with_a_wrong_secret_is_refused(esp_messages):
    message = esp_messages[0]
    assert _post(_delivery(message), secret=None).status_code in (400, 403)
    assert _post(_delivery(message), secret="hookuser:wrong").status_code in (400, 403)
    message.refresh_from_db()
    assert message.status == "sent"
    assert not WebhookEvent.objects.exists()


@pytest.mark.parametrize("backend", ["smtp", "anymail"])
def test_without_a_configured_secret_the_webhooks_are_not_there(esp_messages, settings, backend):
    """anymail itself accepts unauthenticated webhooks (with a warning) when no secret
    is set: someone who knows a message id could mark it bounced and suppress its
    contact. Without a secret the routes answer 404, whatever the email backend."""
    settings.ANYMAIL = {}
    if backend == "anymail":
        settings.EMAIL_BACKEND = settings.MESSAGING_EMAIL_BACKEND = (
            "anymail.backends.postmark.EmailBackend"
        )
    message = esp_messages[1]
    for url in (URL, "/anymail/mailgun/tracking/", "/anymail/sendgrid/tracking/"):
        response = Client().post(url, json.dumps(_bounce(message)), content_type="application/json")
        assert response.status_code == 404, url
    assert _post(_bounce(message)).status_code == 404  # credentials change nothing
    message.refresh_from_db()
    assert message.status == "sent"
    assert message.contact is not None
    message.contact.refresh_from_db()
    assert message.contact.email_status == "subscribed"
    assert not Suppression.objects.exists()
    assert not WebhookEvent.objects.exists()


def test_smtp_provider_records_the_esp_message_id(ws, settings):
    """Through an anymail backend (anymail's test backend), the outbox keeps the ESP's
    id, the one its tracking webhooks name, not our Message-ID."""
    settings.MESSAGING_EMAIL_PROVIDER = "smtp"
    settings.MESSAGING_EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    [pk] = enqueue([ContactFactory.create(workspace=ws)], email_template(ws))
    assert messages_send(claims=messages_claim())["sent"] == 1
    message = Message.objects.get(pk=pk)
    assert message.provider_message_id and "@" not in message.provider_message_id


def test_the_esp_is_given_the_workspace_and_its_events_are_read_within_it(ws, settings):
    """The send's metadata names the workspace; the ESP echoes it in its events, which
    are then read within that workspace: an event naming another workspace finds
    nothing there, and an event without metadata (sent before) still finds its message."""
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET}
    settings.MESSAGING_EMAIL_PROVIDER = "smtp"
    settings.MESSAGING_EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    first, second = enqueue(
        [ContactFactory.create(workspace=ws) for _ in range(2)], email_template(ws)
    )
    assert messages_send(claims=messages_claim())["sent"] == 2
    sent_metadata = [getattr(m, "metadata", {}) for m in mail.outbox]
    assert {m["stagecraft_workspace"] for m in sent_metadata} == {str(ws.pk)}
    mine, old = Message.objects.get(pk=first), Message.objects.get(pk=second)
    elsewhere = _delivery(mine) | {"Metadata": {"stagecraft_workspace": str(ws.pk + 1000)}}
    assert _post(elsewhere).status_code == 200
    mine.refresh_from_db()
    assert mine.status == "sent" and not WebhookEvent.objects.exists()
    assert (
        _post(_delivery(mine) | {"Metadata": {"stagecraft_workspace": str(ws.pk)}}).status_code
        == 200
    )
    assert _post(_delivery(old)).status_code == 200  # no metadata: by the ESP's id alone
    assert set(Message.objects.values_list("status", flat=True)) == {"delivered"}
