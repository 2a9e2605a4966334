"""Signed tracking links, unsubscribe (page, form, RFC 8058 one-click), email and
Twilio webhooks (signatures, replays, keywords), the Twilio provider on a stub."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from twilio.request_validator import RequestValidator

from contacts.models import ConsentChange, ContactMark, Suppression
from contacts.rules import matching_ids
from messaging.models import Message, TrackingEvent, WebhookEvent
from messaging.services.claims import messages_claim
from messaging.services.dispatch import messages_send
from messaging.tokens import make_token
from tests.factories import ContactFactory, MessagingSettingsFactory
from tests.http_stub import Answer, HttpStub, Request
from tests.messaging.helpers import email_template, enqueue, sms_template

pytestmark = pytest.mark.django_db
SECRET = "whsec-test"
TWILIO_TOKEN = "twilio-test-token"


@pytest.fixture
def sent(ws):
    """One sent email, a minute old (so clicks are not mistaken for a scanner)."""
    contact = ContactFactory.create(workspace=ws, first_name="Ada")
    ids = enqueue([contact, ContactFactory.create(workspace=ws)], email_template(ws))
    messages_send(claims=messages_claim())
    Message.objects.filter(pk__in=ids).update(sent_at=timezone.now() - dt.timedelta(minutes=1))
    return Message.objects.select_related("contact").get(pk=ids[0])


def _token(kind: str, message: Message, index: int = 0) -> str:
    return make_token(kind, message.pk, index, workspace_id=message.workspace_id)


HUMAN = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 Version/17.0"


def test_open_pixel_records_humans_and_flags_bots(sent):
    client = Client()
    response = client.get(
        f"/m/o/{_token('open', sent)}.gif",
        HTTP_USER_AGENT=HUMAN,
    )
    assert response.status_code == 200 and response["Content-Type"] == "image/gif"
    sent.refresh_from_db()
    assert sent.opened_at is not None
    client.get(
        f"/m/o/{_token('open', sent)}.gif",
        HTTP_USER_AGENT="Mozilla/5.0 (compatible; Barracuda Sentinel)",
    )
    client.get(
        f"/m/o/{_token('open', sent)}.gif",
        HTTP_USER_AGENT=HUMAN,
        HTTP_PURPOSE="prefetch",
    )
    flags = list(
        TrackingEvent.objects.filter(message=sent).order_by("id").values_list("is_bot", flat=True)
    )
    assert flags == [False, True, True]


def test_a_first_human_open_or_click_marks_the_contact_for_engagement_rules(sent):
    """Engagement conditions ("opened in the last 30 days") read the messages, so a
    first open or click marks the contact and its segments and stage follow; a bot's
    hit and a second open mark nothing."""
    marks = ContactMark.objects.filter(contact_id=sent.contact_id)
    marks.delete()
    client = Client()
    open_url = f"/m/o/{_token('open', sent)}.gif"
    client.get(open_url, HTTP_USER_AGENT="Mozilla/5.0 (compatible; Barracuda Sentinel)")
    assert not marks.exists()
    client.get(open_url, HTTP_USER_AGENT=HUMAN)
    assert marks.count() == 1
    client.get(open_url, HTTP_USER_AGENT=HUMAN)
    assert marks.count() == 1
    client.get(
        f"/m/c/{_token('click', sent, 0)}/",
        HTTP_USER_AGENT=HUMAN,
    )
    assert marks.count() == 2
    opened = {"message": "opened", "within_days": 30}
    assert matching_ids(opened, workspace=sent.workspace, contact_ids=[sent.contact_id]) == {
        sent.contact_id
    }


def test_forged_or_guessed_tokens_do_nothing(sent):
    client = Client()
    forged = f"{sent.pk}.0:{'A' * 43}"
    assert client.get(f"/m/o/{forged}.gif").status_code == 200  # a pixel, no record
    assert client.get(f"/m/c/{forged}/").status_code == 404
    assert client.get(f"/m/u/{forged}/").status_code == 404
    # Each purpose has its own salt: an open token is not an unsubscribe token.
    assert client.get(f"/m/u/{_token('open', sent)}/").status_code == 404
    assert not TrackingEvent.objects.exists()


def test_click_goes_only_to_a_stored_url(sent):
    client = Client()
    response = client.get(
        f"/m/c/{_token('click', sent, 0)}/",
        HTTP_USER_AGENT=HUMAN,
    )
    assert response.status_code == 302
    assert response["Location"] == "https://shop.example/offer?x=1"
    sent.refresh_from_db()
    assert sent.clicked_at is not None and sent.opened_at is not None
    # An index the message has no link for is not a redirect anywhere.
    assert client.get(f"/m/c/{_token('click', sent, 7)}/").status_code == 404
    assert (
        client.get(f"/m/c/{_token('click', sent, 0)}/?url=https://evil.example").get("Location")
        == "https://shop.example/offer?x=1"
    )


def test_click_seconds_after_sending_is_a_scanner(sent):
    Message.objects.filter(pk=sent.pk).update(sent_at=timezone.now())
    Client().get(
        f"/m/c/{_token('click', sent, 0)}/",
        HTTP_USER_AGENT=HUMAN,
    )
    assert TrackingEvent.objects.get(message=sent).is_bot
    sent.refresh_from_db()
    assert sent.clicked_at is None


def test_unsubscribe_get_never_unsubscribes_post_does(sent):
    client = Client(enforce_csrf_checks=True)
    url = f"/m/u/{_token('unsubscribe', sent)}/"
    page = client.get(url)
    assert page.status_code == 200 and b"Unsubscribe" in page.content
    sent.contact.refresh_from_db()
    assert sent.contact.email_status == "subscribed"
    response = client.post(url, {"action": "unsubscribe"})
    assert response.status_code == 200 and b"will not receive" in response.content
    sent.contact.refresh_from_db()
    assert sent.contact.email_status == "unsubscribed"
    change = ConsentChange.objects.filter(contact=sent.contact).latest("id")
    assert (change.status, change.source) == ("unsubscribed", "unsubscribe_page")
    client.post(url, {"action": "resubscribe"})
    sent.contact.refresh_from_db()
    assert sent.contact.email_status == "subscribed"


def test_one_click_unsubscribe_with_exact_rfc8058_request_and_queued_messages(sent, ws):
    queued = enqueue([sent.contact], email_template(ws, name="Second"), prefix="second")
    client = Client(enforce_csrf_checks=True)  # no cookies, no CSRF token
    response = client.post(
        f"/m/u/{_token('unsubscribe', sent)}/",
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    sent.contact.refresh_from_db()
    assert sent.contact.email_status == "unsubscribed"
    assert ConsentChange.objects.filter(contact=sent.contact, source="one_click").exists()
    sent.refresh_from_db()
    assert sent.unsubscribed_at is not None  # the message gets the unsubscribe, for analytics
    # It takes effect for the message already queued.
    messages_send(claims=messages_claim())
    message = Message.objects.get(pk=queued[0])
    assert (message.status, message.status_reason) == ("suppressed", "email consent: unsubscribed")


def _signed_post(client: Client, body: Any, secret: str = SECRET) -> Any:
    raw = json.dumps(body).encode()
    signature = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return client.post(
        "/hooks/email/",
        data=raw,
        content_type="application/json",
        HTTP_X_STAGECRAFT_SIGNATURE=f"sha256={signature}",
    )


def test_email_webhook_forged_rejected(sent, settings):
    client = Client()
    settings.EMAIL_WEBHOOK_SECRET = ""
    event = {"events": [{"id": "e1", "type": "delivered", "message_id": sent.provider_message_id}]}
    assert _signed_post(client, event, secret="").status_code == 403  # no secret configured
    settings.EMAIL_WEBHOOK_SECRET = SECRET
    assert _signed_post(client, event, secret="wrong").status_code == 403
    assert client.post("/hooks/email/", event, content_type="application/json").status_code == 403
    sent.refresh_from_db()
    assert sent.status == "sent" and not WebhookEvent.objects.exists()


def test_email_webhook_events_and_replays_counted_once(sent, settings):
    settings.EMAIL_WEBHOOK_SECRET = SECRET
    client = Client()
    delivered = {"id": "evt-1", "type": "delivered", "message_id": sent.provider_message_id}
    opened = {"id": "evt-2", "type": "opened", "message_id": str(sent.uuid), "user_agent": HUMAN}
    first = _signed_post(client, {"events": [delivered, opened]}).json()
    assert first == {"processed": 2, "duplicates": 0, "unknown": 0}
    replay = _signed_post(client, {"events": [delivered, opened]}).json()
    assert replay == {"processed": 0, "duplicates": 2, "unknown": 0}
    sent.refresh_from_db()
    assert sent.status == "delivered" and sent.opened_at is not None
    assert TrackingEvent.objects.filter(message=sent, source="webhook").count() == 1


def test_hard_bounce_and_complaint_suppress(sent, settings, ws):
    settings.EMAIL_WEBHOOK_SECRET = SECRET
    other = Message.objects.exclude(pk=sent.pk).get()
    assert other.contact is not None
    payload = "<script>alert(1)</script>"
    _signed_post(
        Client(),
        {
            "events": [
                {
                    "id": "b1",
                    "type": "bounced",
                    "bounce_type": "hard",
                    "message_id": sent.provider_message_id,
                    "description": payload,
                },
                {"id": "c1", "type": "complained", "message_id": other.provider_message_id},
            ]
        },
    )
    sent.refresh_from_db()
    assert sent.status == "bounced" and sent.error == payload  # stored as given, escaped when shown
    sent.contact.refresh_from_db()
    other.contact.refresh_from_db()
    assert sent.contact.email_status == "bounced" and other.contact.email_status == "complained"
    reasons = set(Suppression.objects.filter(workspace=ws).values_list("reason", flat=True))
    assert reasons == {"bounced", "complained"}
    other.refresh_from_db()
    assert other.complained_at is not None and sent.complained_at is None


def test_a_bounce_naming_our_message_id_is_found_in_the_workspace_it_carries(sent, settings):
    """A bounce that names only our Message-ID (as a plain SMTP bounce does) is looked
    up in the workspace the Message-ID carries; the same message id under another
    workspace's number finds nothing."""
    settings.EMAIL_WEBHOOK_SECRET = SECRET
    ours = f"<{sent.uuid}.{sent.workspace_id}@stagecraft.local>"
    forged = f"<{sent.uuid}.{sent.workspace_id + 1}@stagecraft.local>"
    events = [
        {"id": "f1", "type": "bounced", "bounce_type": "hard", "message_id": forged},
        {"id": "b1", "type": "bounced", "bounce_type": "hard", "message_id": ours},
    ]
    assert _signed_post(Client(), {"events": events}).json() == {
        "processed": 1,
        "duplicates": 0,
        "unknown": 1,
    }
    sent.refresh_from_db()
    assert sent.status == "bounced"


def _twilio_post(
    client: Client, path: str, params: dict[str, str], token: str = TWILIO_TOKEN
) -> Any:
    url = "http://127.0.0.1:8000" + path
    signature = RequestValidator(token).compute_signature(url, params)
    return client.post(path, params, HTTP_X_TWILIO_SIGNATURE=signature)


@pytest.fixture
def sms_ws(ws, settings):
    settings.TWILIO_AUTH_TOKEN = TWILIO_TOKEN
    MessagingSettingsFactory.create(
        workspace=ws, sms_from_number="+15005550006", sms_help_text="Acme: help at acme.test <3"
    )
    return ws


def test_twilio_inbound_keywords(sms_ws):
    contact = ContactFactory.create(workspace=sms_ws, phone="+14155550123", sms_status="subscribed")
    client = Client()

    def say(body: str, sid: str) -> Any:
        return _twilio_post(
            client,
            "/hooks/twilio/inbound/",
            {"MessageSid": sid, "From": str(contact.phone), "To": "+15005550006", "Body": body},
        )

    assert say("  stop ", "SM1").status_code == 200
    contact.refresh_from_db()
    assert contact.sms_status == "unsubscribed"
    say("Yes", "SM2")
    contact.refresh_from_db()
    assert contact.sms_status == "subscribed"
    say("please stop texting", "SM3")  # not the whole message: no change
    contact.refresh_from_db()
    assert contact.sms_status == "subscribed"
    help_reply = say("help", "SM4")
    assert b"<Message>Acme: help at acme.test &lt;3</Message>" in help_reply.content
    say("OptOut", "SM5")
    say("OptOut", "SM5")  # a replay is applied once
    contact.refresh_from_db()
    assert contact.sms_status == "unsubscribed"
    sources = list(
        ConsentChange.objects.filter(contact=contact)
        .order_by("id")
        .values_list("source", flat=True)
    )
    assert sources == ["sms_keyword:stop", "sms_keyword:yes", "sms_keyword:optout"]


def test_twilio_forged_signature_rejected(sms_ws):
    contact = ContactFactory.create(workspace=sms_ws, phone="+14155550124", sms_status="subscribed")
    params = {"MessageSid": "SMx", "From": str(contact.phone), "To": "+15005550006", "Body": "STOP"}
    response = _twilio_post(Client(), "/hooks/twilio/inbound/", params, token="not-the-token")
    assert response.status_code == 403
    response = Client().post(
        "/hooks/twilio/status/", {"MessageSid": "SMx", "MessageStatus": "delivered"}
    )
    assert response.status_code == 403
    contact.refresh_from_db()
    assert contact.sms_status == "subscribed"


def _twilio(request: Request, before: int) -> Answer:
    """Answers POST /2010-04-01/Accounts/<sid>/Messages.json like Twilio."""
    if request.form()["To"][0].endswith("0000"):
        status = 400
        body = {"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400}
    else:
        status, body = 201, {"sid": f"SM{before + 1:032d}", "status": "queued"}
    return Answer(status, {"Content-Type": "application/json"}, json.dumps(body).encode())


def test_twilio_provider_status_callbacks_and_invalid_numbers(sms_ws, settings):
    stub = HttpStub(_twilio)
    settings.MESSAGING_SMS_PROVIDER = "twilio"
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_BASE_URL = "AC" + "0" * 32, stub.url
    good = ContactFactory.create(workspace=sms_ws, phone="+14155550125", sms_status="subscribed")
    bad = ContactFactory.create(workspace=sms_ws, phone="+14155550000", sms_status="subscribed")
    enqueue([good, bad], sms_template(sms_ws))
    try:
        counts = messages_send(claims=messages_claim())
    finally:
        stub.close()
    assert counts["sent"] == 1 and counts["failed"] == 1
    assert stub.requests[0].form()["From"] == ["+15005550006"]
    assert stub.requests[0].form()["StatusCallback"] == [
        f"http://127.0.0.1:8000/hooks/twilio/status/?ws={sms_ws.pk}"
    ]
    bad.refresh_from_db()
    assert bad.sms_status == "invalid"
    assert Suppression.objects.filter(workspace=sms_ws, channel="sms", reason="invalid").exists()
    message = Message.objects.get(contact=good)
    params = {"MessageSid": message.provider_message_id, "MessageStatus": "delivered"}
    # The callback is read within the workspace its URL names: another's finds nothing.
    elsewhere = f"/hooks/twilio/status/?ws={sms_ws.pk + 1000}"
    assert _twilio_post(Client(), elsewhere, params).status_code == 204
    message.refresh_from_db()
    assert message.status == "sent" and not WebhookEvent.objects.exists()
    mine = f"/hooks/twilio/status/?ws={sms_ws.pk}"
    assert _twilio_post(Client(), mine, params).status_code == 204
    assert _twilio_post(Client(), mine, params).status_code == 204
    message.refresh_from_db()
    assert message.status == "delivered"
    assert WebhookEvent.objects.filter(provider="twilio").count() == 1
