"""A contact's survey answers beside the contact: the contact page's Surveys panel and
GET /api/v1/contacts/{id}/survey-answers/ (newest first, scanners never listed, another
workspace gets 404s)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from surveys.models import SurveyResponse
from tests.factories import ContactFactory
from tests.surveys.helpers import nps_survey

pytestmark = pytest.mark.django_db


@pytest.fixture
def answered(ws):
    survey = nps_survey(ws)
    robin = ContactFactory.create(workspace=ws, email="robin@example.com")
    now = timezone.now()
    rows = [
        SurveyResponse.objects.create(
            workspace=ws,
            survey=survey,
            contact=robin,
            send_key=key,
            score=score,
            category=category,
            comment=comment,
            channel="email",
            stage_name="Customer",
            answered_at=now - dt.timedelta(days=days),
            is_bot=bot,
        )
        for key, score, category, comment, days, bot in [
            ("m1", 3, "detractor", "<script>alert(1)</script> too slow", 30, False),
            ("m2", 10, "promoter", "Love it", 2, False),
            ("m3", 0, "detractor", "", 1, True),  # a link scanner's tap
        ]
    ]
    return survey, robin, rows


def test_the_api_lists_the_contacts_answers_newest_first(api, answered):
    survey, robin, rows = answered
    response = api.get(f"/api/v1/contacts/{robin.pk}/survey-answers/")
    assert response.status_code == 200, response.content
    items = response.json()["results"]
    assert [i["id"] for i in items] == [rows[1].pk, rows[0].pk]
    assert items[0] | {"answered_at": None, "updated_at": None} == {
        "id": rows[1].pk,
        "survey_id": survey.pk,
        "survey_name": "Quarterly NPS",
        "survey_kind": "nps",
        "score": 10,
        "category": "promoter",
        "comment": "Love it",
        "channel": "email",
        "message_id": None,
        "stage": "Customer",
        "answered_at": None,
        "updated_at": None,
        "locked": False,
    }


def test_another_workspace_gets_404s(outsider_api, answered, owner):
    _, robin, _ = answered
    assert outsider_api.get(f"/api/v1/contacts/{robin.pk}/survey-answers/").status_code == 404
    assert owner.api.get("/api/v1/contacts/999999999/survey-answers/").status_code == 404


def test_the_contact_page_panel_shows_answers_escaped(owner, outsider, answered):
    _, robin, _ = answered
    page = owner.web.get(f"/w/acme/contacts/{robin.pk}/surveys-panel/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Love it" in html and "Promoter" in html and "in Customer" in html
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert html.count("<li>") == 2  # the scanner's tap is not shown
    contact_page = owner.web.get(f"/w/acme/contacts/{robin.pk}/").content.decode()
    assert f"/w/acme/contacts/{robin.pk}/surveys-panel/" in contact_page
    assert outsider.web.get(f"/w/acme/contacts/{robin.pk}/surveys-panel/").status_code == 404
