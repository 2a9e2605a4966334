"""A marketer ends a newsletter with a Survey block picked from a list (no JSON, no
HTML): the preview shows the survey's one-tap scale, and the saved template carries
the survey (1440 and 390 px)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from messaging.models import Template
from tests.browser.conftest import log_in, screenshot
from tests.browser.journey_canvas import no_sideways_scroll
from tests.surveys.helpers import nps_survey

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_newsletter_ends_with_a_survey_block(page: Page, live_server, owner):
    nps_survey(owner.workspace, name="Quarterly NPS", question="Would you recommend <Acme>?")
    csat = nps_survey(owner.workspace, name="Delivery CSAT", kind="csat", question="Happy?")
    page.set_viewport_size({"width": 1440, "height": 900})
    log_in(page, live_server.url, owner.user)
    page.goto("/w/acme/templates/new/?channel=email")
    page.fill("input[name=name]", "Newsletter")
    page.fill("input[name=subject]", "News")
    page.select_option(".blocks-column .blocks-add select", "heading")
    page.click(".blocks-column .blocks-add button:has-text('Add block')")
    page.select_option(".blocks-column .blocks-add select", "survey")
    page.click(".blocks-column .blocks-add button:has-text('Add block')")
    picker = page.locator("#block-survey_id")
    expect(picker.locator("option")).to_have_text(["Delivery CSAT", "Quarterly NPS"])
    expect(page.locator(".blocks-item").nth(1)).to_contain_text("Survey: Delivery CSAT")
    frame = page.frame_locator("#template-preview iframe")
    expect(frame.locator("a[href='#preview-survey']")).to_have_count(5)
    picker.select_option(label="Quarterly NPS")
    expect(frame.locator("body")).to_contain_text("Would you recommend <Acme>?")
    expect(frame.locator("a[href='#preview-survey']")).to_have_count(11)
    screenshot(page, "email-survey-block-1440")
    page.click("button:has-text('Save template')")
    expect(page.locator("h1")).to_contain_text("Edit “Newsletter”")
    template = Template.objects.get(workspace=owner.workspace, name="Newsletter")
    blocks = template.document["sections"][0]["columns"][0]["blocks"]
    assert blocks[1]["type"] == "survey" and blocks[1]["survey_id"] != csat.pk
    assert f"survey_{blocks[1]['survey_id']}.options" in template.body
    page.set_viewport_size({"width": 390, "height": 844})
    page.locator(".blocks-item").nth(1).locator(".blocks-select").click()
    expect(page.locator("#block-survey_id")).to_have_value(str(blocks[1]["survey_id"]))
    no_sideways_scroll(page)
    screenshot(page, "email-survey-block-390")
