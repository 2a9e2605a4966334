"""The outbox dispatcher in-process: claims, re-checks, providers, retries, limits."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from contacts.models import Suppression
from contacts.services import contact_erase, suppression_add
from messaging.models import Message, SandboxDelivery
from messaging.services.claims import messages_claim
from messaging.services.dispatch import messages_pending_count, messages_send, retry_delay
from messaging.tokens import make_token
from tests.factories import ContactFactory, MessagingSettingsFactory
from tests.messaging.helpers import email_template, enqueue, sms_template
from tests.messaging.servers import PostmarkStub, SmtpSink, free_port
from workspaces.services import Actor

pytestmark = pytest.mark.django_db


def run_once() -> dict[str, int]:
    return messages_send(claims=messages_claim(limit=1000))


def test_sandbox_sends_renders_and_stores_what_was_sent(ws):
    contact = ContactFactory.create(workspace=ws, first_name="Ada")
    [mid] = enqueue([contact], email_template(ws))
    assert run_once()["sent"] == 1
    message = Message.objects.get(pk=mid)
    assert message.status == "sent" and message.provider == "sandbox"
    assert message.subject == "Hi Ada" and message.to_address == contact.email
    assert 'style="color: #333;"' in message.body_html  # CSS inlined
    assert "https://shop.example/offer" not in message.body_html  # link tracked
    assert message.links == ["https://shop.example/offer?x=1"]
    assert "/m/o/" in message.body_html  # open pixel
    assert "Hello Ada" in message.body_text
    delivery = SandboxDelivery.objects.get(message_id=mid)
    assert delivery.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # Running again sends nothing more.
    assert run_once()["sent"] == 0
    assert SandboxDelivery.objects.filter(message_id=mid).count() == 1


def test_due_at_in_the_future_is_not_claimed(ws):
    contact = ContactFactory.create(workspace=ws)
    [mid] = enqueue([contact], email_template(ws))
    Message.objects.filter(pk=mid).update(due_at=timezone.now() + dt.timedelta(hours=1))
    assert messages_claim() == []


def test_may_not_go_is_suppressed_with_reason(ws):
    template = email_template(ws)
    unsubscribed = ContactFactory.create(workspace=ws, email_status="unsubscribed")
    listed = ContactFactory.create(workspace=ws)
    suppression_add(
        workspace=ws, channel="email", value=str(listed.email), reason=Suppression.Reason.COMPLAINED
    )
    no_email = ContactFactory.create(workspace=ws, email=None, phone="+14155550100")
    ok = ContactFactory.create(workspace=ws)
    ids = enqueue([unsubscribed, listed, no_email, ok], template)
    counts = run_once()
    assert counts["sent"] == 1 and counts["suppressed"] == 3
    reasons = dict(Message.objects.filter(pk__in=ids).values_list("contact_id", "status_reason"))
    assert reasons[unsubscribed.pk] == "email consent: unsubscribed"
    assert reasons[listed.pk] == "the address is on the suppression list"
    assert reasons[no_email.pk] == "the contact has no email address"
    assert Message.objects.get(contact=ok).status == "sent"


def test_sms_needs_opt_in(ws):
    template = sms_template(ws)
    never = ContactFactory.create(workspace=ws, phone="+14155550101")
    opted = ContactFactory.create(workspace=ws, phone="+14155550102", sms_status="subscribed")
    enqueue([never, opted], template)
    assert run_once()["sent"] == 1
    assert Message.objects.get(contact=never).status_reason == "SMS consent: never_subscribed"
    sent = Message.objects.get(contact=opted)
    assert sent.body_text == f"Hi {opted.first_name}!" and sent.sms_segments == 1


def test_erased_contact_takes_its_messages(ws):
    contact = ContactFactory.create(workspace=ws)
    [mid] = enqueue([contact], email_template(ws))
    contact_erase(contact=contact, actor=Actor(system="test"))
    assert not Message.objects.filter(pk=mid).exists()
    assert run_once()["sent"] == 0
    assert not SandboxDelivery.objects.exists()


def test_smtp_rejected_recipient_fails_alone_and_headers_are_exact(ws, settings):
    settings.MESSAGING_EMAIL_PROVIDER = "smtp"
    template = email_template(ws)
    contacts = [
        ContactFactory.create(workspace=ws, email="one@example.com"),
        ContactFactory.create(workspace=ws, email="reject-me@example.com"),
        ContactFactory.create(workspace=ws, email="three@example.com"),
    ]
    ids = enqueue(contacts, template)
    with SmtpSink() as sink:
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", sink.port
        counts = run_once()
    assert counts["sent"] == 2 and counts["failed"] == 1
    statuses = dict(Message.objects.filter(pk__in=ids).values_list("to_address", "status"))
    assert statuses == {
        "one@example.com": "sent",
        "reject-me@example.com": "failed",
        "three@example.com": "sent",
    }
    rejected = Message.objects.get(to_address="reject-me@example.com")
    assert "550" in rejected.error
    # A hard rejection suppresses the address for good.
    contacts[1].refresh_from_db()
    assert contacts[1].email_status == "bounced"
    assert Suppression.objects.filter(workspace=ws, reason="bounced").count() == 1
    assert len(sink.messages) == 2
    mail = sink.messages[0]
    message = Message.objects.get(to_address=mail["To"])
    assert mail["Message-ID"] == f"<{message.uuid}.{message.workspace_id}@stagecraft.local>"
    assert message.provider_message_id == mail["Message-ID"]
    unsubscribe = "".join(str(mail["List-Unsubscribe"]).splitlines())  # unfold
    https, mailto = (part.strip(" <>") for part in unsubscribe.split(","))
    assert (
        https
        == f"http://127.0.0.1:8000/m/u/{make_token('unsubscribe', message.pk, workspace_id=ws.pk)}/"
    )
    assert mailto.startswith("mailto:unsubscribe@stagecraft.local?subject=unsubscribe")
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mail["From"] == "news@shop.example"
    parts = {part.get_content_type() for part in mail.walk()}
    assert {"text/plain", "text/html"} <= parts


def test_http_provider_retries_429_and_5xx_then_succeeds(ws, settings):
    settings.MESSAGING_EMAIL_PROVIDER = "http"
    settings.MESSAGING_RETRY_BASE_SECONDS = 1
    contact = ContactFactory.create(workspace=ws)
    [mid] = enqueue([contact], email_template(ws))
    with PostmarkStub(script=[(429, {"Retry-After": "120"}), (503, {})]) as stub:
        settings.EMAIL_HTTP_URL = stub.url
        before = timezone.now()
        assert run_once()["retry"] == 1
        message = Message.objects.get(pk=mid)
        assert message.status == "scheduled" and message.error == "HTTP 429"
        # Retry-After is respected: not before two minutes.
        assert message.due_at >= before + dt.timedelta(seconds=119)
        assert messages_claim() == []
        Message.objects.filter(pk=mid).update(due_at=timezone.now())
        assert run_once()["retry"] == 1
        message = Message.objects.get(pk=mid)
        assert message.status == "scheduled" and message.error == "HTTP 503"
        assert message.due_at <= timezone.now() + dt.timedelta(seconds=2.1)
        Message.objects.filter(pk=mid).update(due_at=timezone.now())
        assert run_once()["sent"] == 1
    message = Message.objects.get(pk=mid)
    assert message.status == "sent" and message.attempts == 3
    assert message.provider_message_id == f"pm-{message.uuid}"
    keys = {r.headers["Idempotency-Key"] for r in stub.requests}
    assert len(keys) == 1  # the same batch is the same request to the provider
    assert [item["IdempotencyKey"] for r in stub.requests for item in r.json()] == [
        str(message.uuid)
    ] * 3


def test_http_one_permanent_rejection_in_a_batch_fails_only_it(ws, settings):
    settings.MESSAGING_EMAIL_PROVIDER = "http"
    template = email_template(ws)
    contacts = [ContactFactory.create(workspace=ws) for _ in range(4)]
    contacts.append(ContactFactory.create(workspace=ws, email="reject@example.com"))
    enqueue(contacts, template)
    with PostmarkStub() as stub:
        settings.EMAIL_HTTP_URL = stub.url
        counts = run_once()
    assert len(stub.requests) == 1 and len(stub.requests[0].json()) == 5
    assert counts["sent"] == 4 and counts["failed"] == 1
    failed = Message.objects.get(status="failed")
    assert failed.to_address == "reject@example.com"
    assert failed.error.startswith("406")


def test_transient_errors_give_up_after_max_attempts(ws, settings):
    settings.MESSAGING_EMAIL_PROVIDER = "http"
    settings.MESSAGING_MAX_ATTEMPTS = 2
    [mid] = enqueue([ContactFactory.create(workspace=ws)], email_template(ws))
    with PostmarkStub(script=[(500, {}), (500, {})]) as stub:
        settings.EMAIL_HTTP_URL = stub.url
        run_once()
        Message.objects.filter(pk=mid).update(due_at=timezone.now())
        run_once()
    message = Message.objects.get(pk=mid)
    assert message.status == "failed" and message.status_reason == "gave up after 2 attempts"


def test_expired_lease_is_reclaimed_and_the_stale_claim_does_nothing(ws):
    [mid] = enqueue([ContactFactory.create(workspace=ws)], email_template(ws))
    [first] = messages_claim()
    assert first == (mid, 1)
    assert messages_claim() == []  # leased
    Message.objects.filter(pk=mid).update(lease_until=timezone.now() - dt.timedelta(seconds=1))
    [second] = messages_claim()
    assert second == (mid, 2)
    assert messages_send(claims=[first])["skipped"] == 1
    assert not SandboxDelivery.objects.exists()
    assert messages_send(claims=[second])["sent"] == 1
    assert messages_send(claims=[second])["skipped"] == 1  # a repeated task
    assert SandboxDelivery.objects.count() == 1


def test_workspace_rate_limit_leaves_the_rest_scheduled(ws, settings):
    MessagingSettingsFactory.create(workspace=ws, rate_limit_per_minute=3)
    enqueue([ContactFactory.create(workspace=ws) for _ in range(5)], email_template(ws))
    assert len(messages_claim()) == 3
    assert messages_claim() == []
    assert Message.objects.filter(status="scheduled").count() == 2


def test_provider_rate_limit(ws, settings):
    settings.MESSAGING_EMAIL_RATE_PER_SECOND = 2
    enqueue([ContactFactory.create(workspace=ws) for _ in range(5)], email_template(ws))
    assert len(messages_claim()) <= 2


def test_backoff_grows_with_jitter(settings):
    settings.MESSAGING_RETRY_BASE_SECONDS = 10
    settings.MESSAGING_RETRY_MAX_SECONDS = 1000
    for attempt, (low, high) in {1: (5, 10), 2: (10, 20), 4: (40, 80)}.items():
        delays = {retry_delay(attempt, None) for _ in range(50)}
        assert all(low <= d <= high for d in delays) and len(delays) > 1
    assert retry_delay(1, 300) == 300
    assert retry_delay(20, None) <= 1000


def test_a_task_that_waited_past_its_lease_still_sends_if_not_reclaimed(ws):
    [mid] = enqueue([ContactFactory.create(workspace=ws)], email_template(ws))
    claims = messages_claim()
    Message.objects.filter(pk=mid).update(lease_until=timezone.now() - dt.timedelta(seconds=5))
    assert messages_send(claims=claims)["sent"] == 1
    assert messages_claim() == []


def test_smtp_server_down_is_transient_for_the_whole_batch(ws, settings):
    settings.MESSAGING_EMAIL_PROVIDER = "smtp"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()  # nothing listens
    enqueue([ContactFactory.create(workspace=ws) for _ in range(3)], email_template(ws))
    assert run_once()["retry"] == 3
    assert set(Message.objects.values_list("status", flat=True)) == {"scheduled"}
    assert all(
        "Connection" in e or "refused" in e for e in Message.objects.values_list("error", flat=True)
    )


def test_a_throttled_run_is_not_finished_until_every_message_is_final(ws):
    MessagingSettingsFactory.create(workspace=ws, rate_limit_per_minute=2)
    ids = enqueue([ContactFactory.create(workspace=ws) for _ in range(5)], email_template(ws))
    assert run_once()["sent"] == 2
    assert run_once()["sent"] == 0  # the window's budget is spent; nothing is dropped
    assert messages_pending_count(workspace_id=ws.pk) == 3
    statuses = sorted(Message.objects.filter(pk__in=ids).values_list("status", flat=True))
    assert statuses == ["scheduled", "scheduled", "scheduled", "sent", "sent"]


def test_deferrals_do_not_use_up_the_retries(ws, settings):
    """A message held back by caps or quiet hours more often than MAX_ATTEMPTS (each
    deferral is a claim) still gets every transient retry, and then is sent."""
    settings.MESSAGING_EMAIL_PROVIDER = "http"
    settings.MESSAGING_MAX_ATTEMPTS = 2
    template = email_template(ws)
    [mid] = enqueue([ContactFactory.create(workspace=ws)], template)
    # as if deferred five times: five claims that ended back in `scheduled`
    Message.objects.filter(pk=mid).update(attempts=5, deferrals=5)
    with PostmarkStub(script=[(500, {})]) as stub:
        settings.EMAIL_HTTP_URL = stub.url
        run_once()
        message = Message.objects.get(pk=mid)
        assert message.status == "scheduled"  # one try of two: retried, not failed
        Message.objects.filter(pk=mid).update(due_at=timezone.now())
        run_once()
    message = Message.objects.get(pk=mid)
    assert message.status == "sent" and message.attempts == 7
    # and a lease that ran out is given up on only after MAX_ATTEMPTS real tries
    [other] = enqueue([ContactFactory.create(workspace=ws)], template)
    Message.objects.filter(pk=other).update(
        status="sending", attempts=6, deferrals=5, lease_until=timezone.now()
    )
    assert [claim[0] for claim in messages_claim()] == [other]
