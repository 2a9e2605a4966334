"""A marketer starts a journey when a survey is answered by a detractor: the survey,
the answers (a category or a score range) picked from the trigger's form, no JSON
(1440 and 390 px)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from campaigns.models import Journey
from tests.browser.conftest import log_in, screenshot
from tests.browser.journey_canvas import add_step, every_input_labelled, no_sideways_scroll
from tests.messaging.helpers import email_template
from tests.surveys.helpers import nps_survey

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_journey_for_detractors_of_a_survey(page: Page, live_server, owner):
    nps = nps_survey(owner.workspace, name="Quarterly <i>NPS</i>")
    email_template(owner.workspace)
    log_in(page, live_server.url, owner.user)
    page.set_viewport_size({"width": 1440, "height": 1000})
    page.goto("/w/acme/journeys/new/")
    page.fill("input[name=name]", "Say sorry to detractors")
    answers = page.locator("#trigger-answer")
    expect(answers).to_be_hidden()
    page.select_option("#trigger-kind", "survey_answered")
    expect(page.locator("select[name=trigger_survey_id]").locator("option")).to_have_text(
        ["Any survey", "Quarterly <i>NPS</i>"]
    )
    page.locator("select[name=trigger_survey_id]").select_option(str(nps.pk))
    expect(page.locator("input[name=trigger_score_min]")).to_be_hidden()
    answers.select_option("range")
    expect(page.locator("input[name=trigger_score_min]")).to_be_visible()
    answers.select_option("detractor")
    expect(page.locator("input[name=trigger_score_min]")).to_be_hidden()
    add_step(page, "at the start", "send_email")
    page.locator("#journey-panel").get_by_label("Template").select_option(index=1)
    every_input_labelled(page)
    screenshot(page, "journey-survey-trigger-1440")
    page.click("button:has-text('Save draft')")
    expect(page.locator(".journey-summary")).to_contain_text(
        "Answers survey “Quarterly <i>NPS</i>” as one of the detractors (NPS 0-6)"
    )
    stored = Journey.objects.get(workspace=owner.workspace, name="Say sorry to detractors")
    assert stored.trigger == {
        "kind": "survey_answered",
        "survey_id": nps.pk,
        "category": "detractor",
    }
    page.set_viewport_size({"width": 390, "height": 900})
    page.reload()
    expect(page.locator("#trigger-answer")).to_have_value("detractor")
    no_sideways_scroll(page)
    screenshot(page, "journey-survey-trigger-390")
