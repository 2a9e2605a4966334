"""A marketer creates an A/B broadcast in the step-by-step editor (no Ctrl-click lists,
no ISO instants), schedules it, and reads its report once sent."""

from __future__ import annotations

import datetime as dt
import re
import time
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from campaigns.broadcasts.delivery import broadcast_materialise, broadcasts_advance
from campaigns.models import Broadcast
from contacts.models import Event
from lifecycle.services import stages_create_defaults, sweep_now
from messaging.models import Message
from messaging.services.claims import message_dispatch_due
from tests.browser.conftest import log_in, screenshot
from tests.campaigns.broadcasts.helpers import contacts, segment
from tests.messaging.helpers import email_template
from tests.messaging.servers import SmtpSink
from tests.processes import Worker, child_env, purge_broker, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_create_an_ab_broadcast_and_read_its_report(
    page: Page, live_server: Any, owner: Any, monkeypatch: Any
) -> None:
    monkeypatch.setattr("campaigns.broadcasts.delivery.publish", lambda task, pk: None)
    monkeypatch.setattr("config.queue.enqueue_on_commit", lambda *args, **kwargs: None)
    ws = owner.workspace
    stages_create_defaults(workspace=ws)
    contacts(ws, 200, first_name="Robin")
    sweep_now(workspace=ws)
    email_template(ws, name="Autumn A", subject="Our autumn roast")
    email_template(ws, name="Autumn B", subject="{{ first_name }}, a roast for you")
    log_in(page, live_server.url, owner.user)
    page.goto("/w/acme/campaigns/new/")
    page.get_by_label("Name").fill("Autumn launch")
    page.get_by_label("Find a stage or segment to include").fill("subs")
    include = page.locator('[data-filter-list="include"]')
    include.get_by_label(re.compile("Subscriber")).check()
    expect(page.locator("#audience-count")).to_have_text("200")
    page.locator("select[name=template_id]").select_option(label="Autumn B (Email)")
    page.get_by_label("Preview as").fill("robin")
    expect(page.locator("#broadcast-preview")).to_contain_text("Robin, a roast for you")
    page.get_by_label(re.compile("Test two or three versions")).check()
    page.get_by_label("Template of variant A").select_option(label="Autumn A")
    page.get_by_label("Template of variant B").select_option(label="Autumn B")
    page.get_by_label("Test pool (% of the audience)").fill("50")
    page.get_by_label("At a date and time").check()
    page.locator("input[name=send_date]").fill("2030-05-01")
    page.locator("input[name=send_time]").fill("10:00")
    screenshot(page, "broadcast-editor-1440")
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "broadcast-editor-390")
    page.set_viewport_size({"width": 1440, "height": 900})
    page.get_by_role("button", name="Save draft").click()
    expect(page.locator(".flash")).to_contain_text("saved")
    saved = Broadcast.objects.get(workspace=ws, name="Autumn launch")
    assert saved.variants.count() == 2 and saved.test_pool_percent == 50
    assert saved.send_at is not None and saved.send_at.year == 2030

    # Sent: the test pool went out, B was clicked more and won, the rest got B.
    Broadcast.objects.filter(pk=saved.pk).update(schedule="now", send_at=None)
    page.get_by_role("button", name="Schedule").click()
    broadcast_materialise(broadcast_id=saved.pk)
    saved.refresh_from_db()
    now = timezone.now()
    saved.messages.update(status="sent", sent_at=now)
    a, b = saved.variants.order_by("label")
    for variant, clicks in ((a, 2), (b, 25)):
        ids = list(saved.messages.filter(variant_id=variant.pk).values_list("pk", flat=True))[
            :clicks
        ]
        Message.objects.filter(pk__in=ids).update(opened_at=now, clicked_at=now)
    Broadcast.objects.filter(pk=saved.pk).update(winner_due_at=timezone.now())
    broadcasts_advance()
    broadcast_materialise(broadcast_id=saved.pk)
    saved.messages.filter(sent_at__isnull=True).update(status="sent", sent_at=timezone.now())
    Broadcast.objects.filter(pk=saved.pk).update(status="sent", finished_at=timezone.now())
    page.goto(f"/w/acme/campaigns/{saved.pk}/")
    page.get_by_role("button", name="View report").click()
    expect(page.get_by_test_id("ab-result")).to_contain_text("B won")
    expect(page.locator("[data-broadcast-chart]")).to_have_attribute("data-drawn", "true")
    expect(page.locator("table.report-table")).to_contain_text("winner")
    screenshot(page, "broadcast-report-1440")
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(300)  # the chart redraws on resize
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "broadcast-report-390")


@pytest.mark.worker
def test_subject_ab_test_on_conversions_sent_by_the_worker(
    page: Page, live_server: Any, owner: Any
) -> None:
    """Two subject lines on one template, judged on conversions: the editor saves it,
    a real Celery worker materialises and sends the test pool to an SMTP sink, B's
    recipients buy, beat's decision picks B and the worker sends B to the rest; the
    report shows the winner, its confidence and lift."""
    ws = owner.workspace
    segment(ws, "Roast lovers", "pro")
    segment(ws, "Tea drinkers", "tea")
    contacts(ws, 40, first_name="Robin", attributes={"plan": "pro"})
    contacts(ws, 3, prefix="t", attributes={"plan": "tea"})
    email_template(ws, name="Autumn roast", subject="Template subject")
    log_in(page, live_server.url, owner.user)
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto("/w/acme/campaigns/new/")
    page.get_by_label("Name").fill("Subject test")
    include = page.locator('[data-filter-list="include"]')
    # Each segment shows how many it holds; the search narrows the list.
    expect(include.locator("label", has_text="Roast lovers")).to_contain_text("segment · 40")
    expect(include.locator("label", has_text="Tea drinkers")).to_contain_text("segment · 3")
    page.get_by_label("Find a stage or segment to include").fill("roast")
    expect(include.locator("label", has_text="Tea drinkers")).to_be_hidden()
    include.get_by_label(re.compile("Roast lovers")).check()
    expect(page.locator("#audience-count")).to_have_text("40")
    exclude = page.locator('[data-filter-list="exclude"]')
    exclude.get_by_label(re.compile("Roast lovers")).check()
    expect(page.locator("#audience-count")).to_have_text("0")
    exclude.get_by_label(re.compile("Roast lovers")).uncheck()
    expect(page.locator("#audience-count")).to_have_text("40")
    page.locator("select[name=template_id]").select_option(label="Autumn roast (Email)")
    page.get_by_label(re.compile("Test two or three versions")).check()
    page.get_by_label("Subject line of variant A").fill("Our autumn roast is in")
    page.get_by_label("Subject line of variant B").fill("{{ first_name }}, your autumn roast")
    page.get_by_label("Test pool (% of the audience)").fill("50")
    page.get_by_label("Wait before choosing the winner (hours)").fill("1")
    page.get_by_label("Conversions (conversion rate)").check()
    expect(page.locator("select[name=conversion_event]")).to_be_visible()
    page.get_by_label("Counted within (days of the message)").fill("2")
    page.locator("#step-ab").scroll_into_view_if_needed()
    screenshot(page, "broadcast-ab-subjects-1440")
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "broadcast-ab-subjects-390")
    page.set_viewport_size({"width": 1440, "height": 900})
    page.get_by_role("button", name="Save draft").click()
    expect(page.locator(".flash")).to_contain_text("saved")
    saved = Broadcast.objects.get(workspace=ws, name="Subject test")
    assert saved.winner_metric == "conversions" and saved.conversion_window_days == 2

    purge_broker()
    with SmtpSink() as sink:
        env = child_env(
            MESSAGING_EMAIL_PROVIDER="smtp",
            EMAIL_HOST="127.0.0.1",
            EMAIL_PORT=str(sink.port),
            EMAIL_WEBHOOK_SECRET="test-secret",
        )
        worker = Worker(concurrency=1).start(env=env)
        try:
            page.get_by_role("button", name="Schedule").click()
            # The test acts as beat: dispatch due messages, move the broadcast along.
            wait_for(
                lambda: _beat(saved) and saved.messages.filter(status="sent").count() == 20, 60
            )
            _, b = saved.variants.order_by("label")
            pool_b = list(
                saved.messages.filter(variant_id=b.pk).values_list("contact_id", flat=True)
            )
            for contact_id in pool_b[:9]:
                Event.objects.create(
                    workspace=ws,
                    contact_id=contact_id,
                    name="purchase",
                    revenue=Decimal("24.00"),
                    currency="USD",
                    occurred_at=timezone.now() + dt.timedelta(seconds=1),
                )
            # The hour's wait, shortened: the decision is due now.
            Broadcast.objects.filter(pk=saved.pk).update(winner_due_at=timezone.now())
            wait_for(
                lambda: _beat(saved) and Broadcast.objects.get(pk=saved.pk).status == "sent",
                60,
            )
        finally:
            worker.stop()
        received = list(sink.messages)
    saved.refresh_from_db()
    assert saved.winner_variant_id == b.pk, saved.winner_reason
    subjects = sorted(str(m["Subject"]) for m in received)
    assert len(received) == 40
    assert subjects.count("Our autumn roast is in") == 10
    assert subjects.count("Robin, your autumn roast") == 30

    page.goto(f"/w/acme/campaigns/{saved.pk}/report/")
    result = page.get_by_test_id("ab-result")
    expect(result).to_contain_text("B won")
    expect(result).to_contain_text("90.0% conversion rate against none for the default")
    expect(result).to_contain_text("your autumn roast")
    expect(page.locator('[data-arm-value="B"]')).to_have_text("90.0%")
    expect(page.locator('[data-arm-value="A"]')).to_have_text("0.0%")
    expect(page.locator("[data-broadcast-chart]")).to_have_attribute("data-drawn", "true")
    screenshot(page, "broadcast-ab-report-1440")
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(300)  # the chart redraws on resize
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "broadcast-ab-report-390")


def _beat(broadcast: Broadcast) -> bool:
    message_dispatch_due()
    broadcasts_advance()
    time.sleep(0.2)
    return True
