"""A marketer adds a "Send a survey" step on the journey canvas: seven days after a
purchase, a survey picked from a list and SMS chosen, no JSON; a step left without a
survey is refused on that step by the server (1440 and 390 px)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from campaigns.models import Journey
from tests.browser.conftest import log_in, screenshot
from tests.browser.journey_canvas import add_step, every_input_labelled, no_sideways_scroll
from tests.surveys.helpers import nps_survey

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_send_survey_step_seven_days_after_a_purchase(page: Page, live_server, owner):
    nps_survey(owner.workspace, name="Quarterly NPS")
    delivery = nps_survey(owner.workspace, name="Delivery <b>CSAT</b>", kind="csat")
    log_in(page, live_server.url, owner.user)
    page.set_viewport_size({"width": 1440, "height": 1000})
    page.goto("/w/acme/journeys/new/")
    page.fill("input[name=name]", "Ask after the first purchase")
    page.select_option("#trigger-kind", "event")
    page.fill("input[name=trigger_event]", "purchase")
    panel = page.locator("#journey-panel")

    add_step(page, "at the start", "wait")
    panel.get_by_label("Wait for: amount").fill("7")
    panel.get_by_label("Wait for: unit").select_option("days")
    add_step(page, "after “Wait a duration (wait-1)”", "send_survey")
    survey = panel.get_by_label("Survey")
    # The workspace's surveys by name (a name is text, never markup).
    expect(survey.locator("option")).to_have_text(
        ["— choose —", "Delivery <b>CSAT</b>", "Quarterly NPS"]
    )
    survey.select_option("")
    panel.get_by_label("Send by").select_option("sms")
    every_input_labelled(page)
    step = page.locator("[data-step=send-survey-1]")
    expect(step).to_contain_text("no survey chosen")
    page.click("button:has-text('Save draft')")
    expect(step.locator(".jc-error")).to_contain_text("Survey: must be the id of a survey")

    step.locator(".jc-open").click()
    panel.get_by_label("Survey").select_option(str(delivery.pk))
    expect(step).to_contain_text("Survey “Delivery <b>CSAT</b>” by SMS")
    screenshot(page, "journey-survey-step-1440")
    page.click("button:has-text('Save draft')")
    expect(page.locator("h1")).to_contain_text("Ask after the first purchase")
    stored = Journey.objects.get(workspace=owner.workspace, name="Ask after the first purchase")
    steps = {s.key: s.config for s in stored.steps.filter(removed_at=None)}
    assert steps == {
        "wait-1": {"duration": {"days": 7}, "next": "send-survey-1"},
        "send-survey-1": {"survey_id": delivery.pk, "channel": "sms", "next": None},
    }
    # The saved journey reads back in words, and its panel fits a phone.
    expect(page.locator("[data-step=send-survey-1]")).to_contain_text("by SMS")
    page.set_viewport_size({"width": 390, "height": 900})
    page.reload()
    page.locator("[data-step=send-survey-1] .jc-open").click()
    expect(panel.get_by_label("Survey")).to_have_value(str(delivery.pk))
    expect(panel.get_by_label("Send by")).to_have_value("sms")
    no_sideways_scroll(page)
    screenshot(page, "journey-survey-step-390")
