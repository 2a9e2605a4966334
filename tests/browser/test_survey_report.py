"""A marketer reads an NPS survey's report: the figures with their interval, the trend
and distribution charts, the table per stage when answering, the response rate per
channel, the comments filtered by category and stage (hostile text shown as text), at
1440 and at 390 px; then the NPS card on the analytics overview."""

from __future__ import annotations

import datetime as dt
import random
import re
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from analytics.rollups.surveys import survey_sends_refresh
from surveys import scales
from surveys.hooks import answers_changed
from surveys.models import SurveyResponse
from tests.browser.conftest import log_in, screenshot
from tests.factories import ContactFactory
from tests.surveys.helpers import nps_survey, sent_message

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HOSTILE = '<img src=x onerror="alert(1)"> too slow'
STAGES = {"Customer": [10, 9, 8, 7, 6, 3], "Loyal": [10, 10, 9, 9, 8], "At risk": [7, 5, 3, 1]}


def _history(ws: Any) -> Any:
    rng = random.Random(16)
    survey = nps_survey(ws, name="Quarterly <NPS>")
    contacts = [ContactFactory.create(workspace=ws) for _ in range(12)]
    messages = [sent_message(survey, contact) for contact in contacts]
    now = timezone.now()
    for i in range(160):
        stage = rng.choice(list(STAGES))
        score = rng.choice(STAGES[stage])
        at = now - dt.timedelta(days=rng.uniform(0, 85))
        message = messages[i] if i < 9 else None
        row = SurveyResponse.objects.create(
            workspace=ws,
            survey=survey,
            contact=contacts[i] if i < 9 else None,
            send_key=f"m{message.pk}" if message else f"a{i}",
            score=score,
            category=scales.category(survey.kind, score),
            comment=HOSTILE if i == 0 else rng.choice(["", "", "", "Great beans", "Late box"]),
            channel="email" if message else rng.choice(["link", "sms"]),
            message_id=message.pk if message else None,
            stage_name=stage if i else "Customer",
            answered_at=at,
            updated_at=at,
        )
        if i == 0:
            SurveyResponse.objects.filter(pk=row.pk).update(score=2, category="detractor")
        answers_changed(workspace_id=ws.pk, survey_id=survey.pk, response_ids=[row.pk])
    survey_sends_refresh(workspace_id=ws.pk)
    return survey


def test_survey_report_at_1440_and_390(page: Page, live_server: Any, owner: Any) -> None:
    ws = owner.workspace
    survey = _history(ws)
    dialogs: list[str] = []

    def on_dialog(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    log_in(page, live_server.url, owner.user)
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"/w/acme/surveys/{survey.pk}/")
    page.get_by_test_id("full-report").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Report · Quarterly <NPS>")
    expect(page.get_by_test_id("report-answers")).to_have_text("160")
    expect(page.get_by_test_id("report-nps")).to_have_text(re.compile(r"^-?\d+\.\d$"))
    expect(page.locator('[data-survey-chart="trend"]')).to_have_attribute("data-drawn", "true")
    expect(page.locator('[data-survey-chart="distribution"] canvas')).to_have_count(1)
    expect(page.get_by_test_id("by-stage")).to_contain_text("At risk")
    email = page.get_by_test_id("by-channel").locator("tr", has_text="Email")
    expect(email).to_contain_text("12")  # sent
    expect(email).to_contain_text("75%")  # 9 answers of 12 sent
    expect(page.get_by_test_id("comments")).to_contain_text(HOSTILE)
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "survey-analytics-report-1440")

    page.get_by_test_id("category-filter").select_option("detractor")
    page.get_by_test_id("stage-filter").select_option("Customer")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_test_id("comments")).to_contain_text(HOSTILE)
    expect(page.get_by_test_id("comments")).not_to_contain_text("Loyal")
    href = page.get_by_test_id("comments-csv").get_attribute("href") or ""
    assert "download=comments" in href and "category=detractor" in href
    screenshot(page, "survey-analytics-report-filtered-1440")

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"/w/acme/surveys/{survey.pk}/report/?granularity=month")
    expect(page.locator('[data-survey-chart="trend"]')).to_have_attribute("data-drawn", "true")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "survey-analytics-report-390")

    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto("/w/acme/analytics/")
    expect(page.get_by_test_id("overview-nps")).to_contain_text("160 answers")
    screenshot(page, "survey-analytics-overview-1440")
    assert dialogs == []  # the hostile comment ran nothing
