"""A marketer creates an A/B broadcast in the step-by-step editor (no Ctrl-click lists,
no ISO instants), schedules it, and reads its report once sent."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from campaigns.broadcasts.delivery import broadcast_materialise, broadcasts_advance
from campaigns.models import Broadcast
from lifecycle.services import stages_create_defaults, sweep_now
from messaging.models import Message
from tests.browser.conftest import log_in, screenshot
from tests.campaigns.broadcasts.helpers import contacts
from tests.messaging.helpers import email_template

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
