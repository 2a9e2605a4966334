"""Segments, stages and a contact's lifecycle panel in a real browser."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from contacts.models import Segment
from contacts.services import event_summaries_refresh
from lifecycle.models import ContactStage, SweepRun
from lifecycle.services import stages_create_defaults, sweep_now
from tests.browser.conftest import log_in, screenshot
from tests.factories import ContactFactory, EventFactory, MessageFactory, TemplateFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def shop(owner):
    ws = owner.workspace
    stages_create_defaults(workspace=ws)
    contacts = []
    for i in range(30):
        contact = ContactFactory.create(
            workspace=ws,
            first_name=f"Buyer{i}",
            attributes={"plan": "pro" if i % 3 == 0 else "free"},
        )
        for days in range(i % 4):
            EventFactory.ago(days * 20 + 1, contact=contact, name="purchase", revenue="25.00")
        contacts.append(contact)
    event_summaries_refresh(contact_ids=[c.pk for c in contacts])
    sweep_now(workspace=ws)
    return contacts


def test_build_a_segment_with_a_live_count(page: Page, live_server, owner, shop):
    log_in(page, live_server.url, owner.user)
    page.goto("/w/acme/segments/new/")
    expect(page.locator(".rule-builder[data-ready]")).to_be_attached()
    expect(page.get_by_test_id("rule-count")).to_have_text("30")  # {"all": []}: everyone
    page.get_by_label("Name").fill("Pro repeat buyers")
    page.get_by_role("button", name="+ Condition").click()
    page.get_by_label("Attribute").fill("plan")
    page.get_by_label("Value").fill("pro")
    expect(page.get_by_test_id("rule-count")).to_have_text("10")
    page.get_by_role("button", name="+ Condition").click()
    row = page.locator(".rb-row").nth(1)
    row.get_by_label("Kind of condition").select_option("purchases")
    row.get_by_label("Amount").fill("2")
    expect(page.get_by_test_id("rule-count")).to_have_text("5")
    screenshot(page, "segment-builder")
    page.get_by_role("button", name="JSON").click()
    assert '"purchases"' in page.get_by_label("Rule as JSON").input_value()
    page.get_by_role("button", name="Save segment").click()
    expect(page.get_by_role("heading", name="Pro repeat buyers")).to_be_visible()
    expect(page.get_by_test_id("segment-count")).to_contain_text("5 contacts")
    screenshot(page, "segment-contacts")


def test_a_broken_rule_says_where(page: Page, live_server, owner, shop):
    log_in(page, live_server.url, owner.user)
    page.goto("/w/acme/segments/new/")
    expect(page.locator(".rule-builder[data-ready]")).to_be_attached()
    page.get_by_role("button", name="JSON").click()
    page.get_by_label("Rule as JSON").fill('{"all": [{"event": "purchase", "count": 2}]}')
    expect(page.get_by_test_id("rule-errors")).to_contain_text("all[0].event.count")


def test_stages_page_and_a_manual_move(page: Page, live_server, owner, shop):
    log_in(page, live_server.url, owner.user)
    page.goto("/w/acme/stages/")
    table = page.get_by_test_id("stages")
    expect(table.locator("tr[data-stage='repeat']")).to_contain_text("purchases ≥ 2")
    expect(table.locator("tr[data-stage]")).to_have_count(8)
    screenshot(page, "stages")
    page.locator("tr[data-stage='lead']").get_by_role("button", name=re.compile("up")).click()
    expect(page.locator(".flash-success")).to_contain_text("moved")

    contact = shop[3]
    page.goto(f"/w/acme/contacts/{contact.pk}/")
    panel = page.get_by_test_id("contact-stage")
    expect(panel.get_by_test_id("current-stage")).to_have_text("Repeat customer")
    panel.get_by_text("Move by hand").click()
    panel.get_by_label("Stage").select_option("advocate")
    panel.get_by_label("Reason").fill("Spoke at our meetup")
    panel.get_by_role("button", name="Move").click()
    expect(page.get_by_test_id("current-stage")).to_have_text("Advocate")
    expect(page.get_by_test_id("stage-history")).to_contain_text("Spoke at our meetup")
    screenshot(page, "contact-stage")
    state = ContactStage.objects.get(contact=contact)
    assert state.stage.key == "advocate" and state.pinned


def test_build_an_unengaged_segment_without_json(page: Page, live_server, owner, shop):
    """The sunset segment a marketer builds first: not opened an email in 90 days."""
    template = TemplateFactory.create(workspace=owner.workspace, channel="email")
    now = timezone.now()
    for contact in shop[:12]:
        MessageFactory.create(contact=contact, template=template, sent_at=now, opened_at=now)
    log_in(page, live_server.url, owner.user)
    page.goto("/w/acme/segments/new/")
    expect(page.locator(".rule-builder[data-ready]")).to_be_attached()
    page.get_by_label("Name").fill("Unengaged 90 days")
    page.get_by_role("button", name="+ Condition").click()
    row = page.locator(".rb-row").first
    row.get_by_label("Kind of condition").select_option("message")
    row.get_by_label("Channel").select_option("email")
    row.get_by_label("Days").fill("90")
    expect(page.get_by_test_id("rule-count")).to_have_text("12")
    row.locator(".rb-not input").check()
    expect(page.get_by_test_id("rule-count")).to_have_text("18")
    screenshot(page, "segment-unengaged")
    page.get_by_role("button", name="Save segment").click()
    expect(page.get_by_test_id("segment-count")).to_contain_text("18 contacts")
    segment = Segment.objects.get(workspace=owner.workspace, name="Unengaged 90 days")
    assert segment.rule == {
        "all": [{"not": {"message": "opened", "channel": "email", "within_days": 90}}]
    }


def test_a_due_rules_sweep_is_named_in_words(page: Page, live_server, owner, shop):
    """A journey went live on a segment: the stages page says why every contact is
    being looked at again, at a desktop's width and a phone's."""
    SweepRun.objects.create(
        workspace=owner.workspace,
        reason=SweepRun.DUE_RULES + "0123456789abcdef",
        chunks_total=20,
        chunks_done=7,
        contacts_changed=0,
    )
    log_in(page, live_server.url, owner.user)
    for width, height in ((1440, 900), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        page.goto("/w/acme/stages/")
        status = page.get_by_test_id("sweep-status")
        expect(status).to_contain_text("a change to the segments journeys wait for")
        expect(status).to_contain_text("7 of 20 parts done")
        expect(status).not_to_contain_text("due rules")
        screenshot(page, f"stages-due-rules-sweep-{width}")


def test_on_a_phone_each_stage_is_a_card_that_fits(page: Page, live_server, owner, shop):
    """At 390 px the stages list reads down the page, nothing scrolls sideways, and
    every stage keeps its count, rule and buttons; at 1440 px it is a table."""
    log_in(page, live_server.url, owner.user)
    for width, height in ((390, 844), (1440, 900)):
        page.set_viewport_size({"width": width, "height": height})
        page.goto("/w/acme/stages/")
        table = page.get_by_test_id("stages")
        repeat = table.locator("tr[data-stage='repeat']")
        expect(repeat).to_contain_text("purchases ≥ 2")
        expect(repeat.get_by_role("button", name="Move Repeat customer up")).to_be_visible()
        expect(repeat.get_by_role("link", name="Edit")).to_be_visible()
        wide = table.evaluate("t => t.scrollWidth > t.clientWidth + 1")
        page_wide = page.evaluate("document.documentElement.scrollWidth > innerWidth + 1")
        assert not wide and not page_wide, f"scrolls sideways at {width} px"
        header = table.locator("thead")
        if width == 390:
            label = repeat.locator("td[data-label='Entry rule']").evaluate(
                "td => getComputedStyle(td, '::before').content"
            )
            assert label == '"Entry rule: "'
            box = header.bounding_box()  # kept for screen readers only
            assert box is not None and box["height"] <= 1
        else:
            expect(header).to_be_visible()
        screenshot(page, f"stages-cards-{width}")
