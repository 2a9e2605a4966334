"""A marketer reads a survey's figures for every segment at once and per stage with its
response rate, opens one segment's report (with its response rate), at 1440 and 390
px; then copies the review widget's snippet from the Reviews page and a business's
site on another origin shows the approved reviews with it (a hostile review shown as
text, nothing run)."""

from __future__ import annotations

import datetime as dt
import random
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from analytics.rollups.surveys import survey_sends_refresh
from contacts.models import Contact, Segment
from contacts.services import segment_create, segment_members_build
from surveys import scales
from surveys.hooks import answers_changed
from surveys.models import Review, SurveyResponse
from tests.browser.conftest import log_in, screenshot
from tests.surveys.helpers import ACTOR, nps_survey, sent_message

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HOSTILE = '<img src=x onerror="alert(1)"> stale beans'
PLANS = ["free", "pro"]


def _history(ws: Any) -> tuple[Any, Any]:
    rng = random.Random(7)
    survey = nps_survey(ws, name="Quarterly NPS")
    contacts = [
        Contact.objects.create(
            workspace=ws, email=f"p{i}@example.com", attributes={"plan": PLANS[i % 2]}
        )
        for i in range(16)
    ]
    pro = segment_create(
        workspace=ws,
        data={"name": "Pro <b>plan</b>", "rule": {"attr": "plan", "op": "eq", "value": "pro"}},
        actor=ACTOR,
    )
    segment_create(
        workspace=ws,
        data={"name": "Free plan", "rule": {"attr": "plan", "op": "eq", "value": "free"}},
        actor=ACTOR,
    )
    messages = [sent_message(survey, contact) for contact in contacts]
    now = timezone.now()
    for i, contact in enumerate(contacts[:12]):
        score = rng.choice([10, 9, 9, 8] if i % 2 else [8, 6, 5, 3])
        at = now - dt.timedelta(minutes=rng.uniform(0, 50))
        row = SurveyResponse.objects.create(
            workspace=ws,
            survey=survey,
            contact=contact,
            send_key=f"m{messages[i].pk}",
            score=score,
            category=scales.category(survey.kind, score),
            channel="email",
            message_id=messages[i].pk,
            stage_name="Customer",
            answered_at=at,
            updated_at=at,
        )
        answers_changed(workspace_id=ws.pk, survey_id=survey.pk, response_ids=[row.pk])
    for segment in Segment.objects.filter(workspace=ws):
        assert segment_members_build(segment_id=segment.pk)
    survey_sends_refresh(workspace_id=ws.pk)
    return survey, pro


def test_segments_table_and_stage_rates_at_1440_and_390(
    page: Page, live_server: Any, owner: Any
) -> None:
    ws = owner.workspace
    survey, _ = _history(ws)
    log_in(page, live_server.url, owner.user)
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"/w/acme/surveys/{survey.pk}/report/")
    table = page.get_by_test_id("by-segment")
    expect(table).to_contain_text("Pro <b>plan</b>")  # the name as text
    pro_row = table.locator("tr", has_text="Pro <b>plan</b>")
    expect(pro_row).to_contain_text("8")  # members
    expect(pro_row).to_contain_text("75%")  # 6 answers by email of 8 sent
    expect(table.locator("tr", has_text="Free plan")).to_contain_text("75%")
    expect(page.get_by_test_id("computed-at")).to_contain_text("Computed")
    page.get_by_test_id("by-segment").scroll_into_view_if_needed()
    screenshot(page, "survey-segments-table-1440")
    pro_row.get_by_role("link").click()
    expect(page.get_by_test_id("report-answers")).to_have_text("6")
    email = page.get_by_test_id("by-channel").locator("tr", has_text="Email")
    expect(email).to_contain_text("75%")
    screenshot(page, "survey-segment-report-1440")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"/w/acme/surveys/{survey.pk}/report/")
    expect(page.get_by_test_id("by-segment")).to_contain_text("Free plan")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.get_by_test_id("by-segment").scroll_into_view_if_needed()
    screenshot(page, "survey-segments-table-390")


def _reviews(ws: Any) -> None:
    survey = nps_survey(ws, name="Product reviews", kind="review", question="How is it?")
    rows = [
        ("KEN-1", "Kenya AA", 5, "Bright and juicy, my favourite.", "approved", "Ada"),
        ("KEN-1", "Kenya AA", 4, "Very good, a bit pricey.", "approved", "Ben"),
        ("KEN-1", "Kenya AA", 1, HOSTILE, "approved", "<script>x</script>"),
        ("KEN-1", "Kenya AA", 2, "Not shown: pending", "pending", "Cy"),
        ("MUG-2", "Mug", 5, "Not this product", "approved", "Di"),
    ]
    for i, (item, name, rating, text, status, author) in enumerate(rows):
        Review.objects.create(
            workspace=ws,
            survey=survey,
            send_key=f"m{i}",
            item_kind="product",
            item_id=item,
            item_name=name,
            rating=rating,
            text=text,
            status=status,
            author=author,
        )


def _serve(html: str) -> str:
    """A business's site: one page, on a port of its own (a thread, daemonic)."""

    class Shop(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = html.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Shop)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}"


def test_review_widget_snippet_on_another_site_at_1440_and_390(
    page: Page, live_server: Any, owner: Any
) -> None:
    ws = owner.workspace
    _reviews(ws)
    dialogs: list[str] = []

    def on_dialog(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    log_in(page, live_server.url, owner.user)
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto("/w/acme/reviews/?status=approved&product=KEN-1")
    snippet = page.get_by_test_id("widget-snippet")
    expect(snippet).to_contain_text('data-product="KEN-1"')
    code = snippet.inner_text()
    assert "/static/js/review-widget.js" in code and 'data-stagecraft-reviews="acme"' in code
    preview = page.get_by_test_id("widget-preview")
    expect(preview).to_contain_text("3 reviews")
    expect(preview).to_contain_text(HOSTILE)
    page.get_by_test_id("widget-snippet").scroll_into_view_if_needed()
    screenshot(page, "review-widget-snippet-1440")

    # The marketer pastes the snippet into their product page, served by a site of
    # their own on another origin (a server on loopback: Chromium keeps a page it
    # cannot place from reading a loopback address).
    shop = _serve(f"<!doctype html><title>Kenya AA</title><h1>Kenya AA</h1>{code}")
    for width in (1440, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"{shop}/kenya")
        assert page.evaluate("window.location.origin") != live_server.url
        widget = page.locator("[data-stagecraft-reviews] .sc-reviews")
        expect(widget).to_contain_text("3.3 out of 5")
        expect(widget).to_contain_text("3 reviews")
        expect(widget).to_contain_text(HOSTILE)
        expect(widget).to_contain_text("<script>x</script>")
        expect(widget).not_to_contain_text("Not shown")
        expect(widget).not_to_contain_text("Not this product")
        assert page.locator("[data-stagecraft-reviews] img").count() == 0
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        screenshot(page, f"review-widget-on-site-{width}")
    assert dialogs == []
