"""A marketer creates an NPS survey, sends it to a segment by email through a real SMTP
server, a customer taps a score in the received email at 390 px, writes a comment on
the follow-up page, and the marketer reads the report."""

from __future__ import annotations

import datetime as dt
import re
from email.message import Message as EmailMessage
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from campaigns.broadcasts.delivery import broadcast_materialise
from campaigns.models import Broadcast
from lifecycle.services import stages_create_defaults, sweep_now
from messaging.models import Message
from messaging.services.claims import messages_claim
from messaging.services.dispatch import messages_send
from surveys.models import SurveyResponse
from tests.browser.conftest import log_in, screenshot
from tests.campaigns.broadcasts.helpers import contacts, segment
from tests.messaging.servers import SmtpSink

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _html(message: EmailMessage) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/html":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode(part.get_content_charset() or "utf-8")
    raise AssertionError("no HTML part")


PHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)


def test_nps_survey_from_creation_to_report(
    page: Page, browser: Browser, live_server: Any, owner: Any, monkeypatch: Any, settings: Any
) -> None:
    # No broker: the test runs the broadcast and the send itself.
    monkeypatch.setattr("campaigns.broadcasts.services.enqueue_on_commit", lambda *a, **k: None)
    monkeypatch.setattr("campaigns.broadcasts.delivery.publish", lambda task, pk: None)
    ws = owner.workspace
    stages_create_defaults(workspace=ws)
    segment(ws, "Customers", "pro")
    contacts(ws, 1, first_name="Robin", attributes={"plan": "pro"}, email_status="subscribed")
    sweep_now(workspace=ws)
    log_in(page, live_server.url, owner.user)
    page.set_viewport_size({"width": 1440, "height": 900})

    page.goto("/w/acme/surveys/")
    page.get_by_role("button", name="New survey").click()
    page.get_by_label("Name").fill("Spring NPS")
    expect(page.get_by_label("Question", exact=True)).to_have_value(
        re.compile("How likely are you to recommend")
    )
    page.get_by_label("For high scores instead").fill("What do you love about us?")
    page.get_by_label("Thank-you text").fill("Thanks, <Robin>!")
    screenshot(page, "survey-form-1440")
    page.get_by_role("button", name="Save survey").click()
    expect(page.locator(".flash")).to_contain_text("saved")

    page.get_by_role("button", name="Send", exact=True).click()
    page.get_by_label("Customers").check()
    screenshot(page, "survey-send-1440")
    page.get_by_role("button", name="Send now").click()
    expect(page.locator(".flash")).to_contain_text("is being sent")
    broadcast = Broadcast.objects.get(workspace=ws)
    broadcast_materialise(broadcast_id=broadcast.pk)

    with SmtpSink() as sink:
        settings.MESSAGING_EMAIL_PROVIDER = "smtp"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", sink.port
        claims = messages_claim()
        assert len(claims) == 1
        messages_send(claims=claims)
        received = list(sink.messages)
    assert len(received) == 1 and received[0]["To"] == "c0@example.com"
    # The customer reads it a while later (a tap seconds after the send is a scanner's).
    Message.objects.filter(workspace=ws).update(sent_at=timezone.now() - dt.timedelta(minutes=5))
    links = re.findall(r'href="(https?://[^"]*/m/s/t/[^"]+/)"', _html(received[0]))
    assert len(links) == 11

    # The customer, on a phone (headless Chromium's own user agent reads as a bot).
    phone = browser.new_context(user_agent=PHONE, viewport={"width": 390, "height": 844})
    customer = phone.new_page()
    customer.goto(re.sub(r"^https?://[^/]+", live_server.url, links[9]))
    expect(customer.get_by_role("radio", name=re.compile("^9"))).to_be_checked()
    expect(customer.get_by_label("What do you love about us?")).to_be_visible()
    assert customer.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(customer, "survey-follow-up-390")
    answer = SurveyResponse.objects.get(survey__workspace=ws)
    assert (answer.score, answer.category, answer.channel) == (9, "promoter", "email")
    customer.get_by_label("What do you love about us?").fill("Fast <b>delivery</b>")
    customer.get_by_role("button", name="Send").click()
    expect(customer.get_by_test_id("thanks")).to_have_text("Thanks, <Robin>!")
    screenshot(customer, "survey-thanks-390")
    phone.close()

    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"/w/acme/surveys/{answer.survey_id}/")
    expect(page.get_by_test_id("nps")).to_have_text("100")
    expect(page.get_by_test_id("answers")).to_have_text("1")
    expect(page.get_by_test_id("comments")).to_contain_text("Fast <b>delivery</b>")
    expect(page.locator('[data-testid=distribution] tr[data-score="9"]')).to_contain_text("100.0%")
    screenshot(page, "survey-report-1440")
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "survey-report-390")
