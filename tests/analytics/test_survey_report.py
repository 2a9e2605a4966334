"""A survey's results over the API and on its report page: filters by period, stage and
segment, the comments list (filtered, escaped, exported as safe CSV cells), NPS and CSAT
on the analytics overview; an outsider from another workspace gets 404s."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import pytest
from django.utils import timezone

from contacts.models import Segment
from surveys import scales
from surveys.hooks import answers_changed
from surveys.models import SurveyResponse
from tests.factories import ContactFactory
from tests.surveys.helpers import nps_survey

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert(1)</script>"


def _answer(survey: Any, score: int, *, days_ago: float = 1, stage: str = "", **extra: Any) -> Any:
    at = timezone.now() - dt.timedelta(days=days_ago)
    row = SurveyResponse.objects.create(
        workspace=survey.workspace,
        survey=survey,
        send_key=f"k{SurveyResponse.objects.count()}",
        score=score,
        category=scales.category(survey.kind, score),
        channel="email",
        stage_name=stage,
        answered_at=at,
        updated_at=at,
        **extra,
    )
    answers_changed(workspace_id=survey.workspace_id, survey_id=survey.pk, response_ids=[row.pk])
    return row


@pytest.fixture
def survey(ws: Any) -> Any:
    survey = nps_survey(ws)
    vip = ContactFactory.create(workspace=ws, attributes={"plan": "vip"})
    _answer(survey, 10, stage="Loyal", comment="Love it", contact=vip)
    _answer(survey, 9, stage="Loyal")
    _answer(survey, 3, stage="Customer", comment=SCRIPT)
    _answer(survey, 8, stage="Customer", comment='=HYPERLINK("http://x")')
    _answer(survey, 0, stage="Customer", days_ago=200, comment="Old")
    return survey


def test_results_with_period_and_stage_filters(api: Any, survey: Any) -> None:
    url = f"/api/v1/surveys/{survey.pk}/results/"
    every = api.get(url).json()
    # 2 promoters, 1 passive, 1 detractor of 4 (the 200-day-old answer is outside).
    assert every["answers"] == 4 and every["nps"] == 25.0
    assert every["comments"] == 3
    assert {r["stage"]: r["answers"] for r in every["by_stage"]} == {"Loyal": 2, "Customer": 2}
    customer = api.get(url, {"stage": "Customer"}).json()
    assert customer["answers"] == 2 and customer["nps"] == -50.0
    year = api.get(url, {"start": (timezone.now() - dt.timedelta(days=365)).date().isoformat()})
    assert year.json()["answers"] == 5
    monthly = api.get(url, {"granularity": "month"}).json()
    assert sum(t["answers"] for t in monthly["trend"]) == 4


def test_a_segment_filters_by_its_current_members(api: Any, ws: Any, survey: Any) -> None:
    segment = Segment.objects.create(
        workspace=ws, name="VIP", rule={"attr": "plan", "op": "eq", "value": "vip"}
    )
    got = api.get(f"/api/v1/surveys/{survey.pk}/results/", {"segment": segment.pk}).json()
    assert got["answers"] == 1 and got["nps"] == 100.0


def test_comments_filtered_by_category(api: Any, survey: Any) -> None:
    url = f"/api/v1/surveys/{survey.pk}/results/comments/"
    listed = api.get(url).json()["results"]
    assert [c["comment"] for c in listed][-1] == "Love it"
    assert len(listed) == 3
    detractors = api.get(url, {"category": "detractor"}).json()["results"]
    assert [(c["score"], c["category"], c["stage"]) for c in detractors] == [
        (3, "detractor", "Customer")
    ]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"granularity": "year"}, "granularity"),
        ({"start": "2026-13-01"}, "start"),
        ({"segment": "999999"}, "segment"),
        ({"stage": "x" * 201}, "stage"),
    ],
)
def test_bad_parameters_are_a_400_naming_the_field(
    api: Any, survey: Any, params: dict[str, str], field: str
) -> None:
    response = api.get(f"/api/v1/surveys/{survey.pk}/results/", params)
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


def test_unknown_category_is_a_400(api: Any, survey: Any) -> None:
    response = api.get(f"/api/v1/surveys/{survey.pk}/results/comments/", {"category": "happy"})
    assert response.status_code == 400 and "category" in response.json()["error"]["fields"]


def test_outsider_gets_404(outsider_api: Any, outsider: Any, survey: Any) -> None:
    for path in ("results/", "results/comments/"):
        assert outsider_api.get(f"/api/v1/surveys/{survey.pk}/{path}").status_code == 404
    page = outsider.web.get(f"/w/acme/surveys/{survey.pk}/report/")
    assert page.status_code == 404


def test_report_page_shows_escaped_figures_and_exports_safe_csv(owner: Any, survey: Any) -> None:
    url = f"/w/acme/surveys/{survey.pk}/report/"
    page = owner.web.get(url)
    body = page.content.decode()
    assert page.status_code == 200
    assert 'data-testid="report-nps">25.0<' in body
    assert SCRIPT not in body and "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert 'data-survey-chart="trend"' in body and 'id="survey-chart"' in body
    detractors = owner.web.get(url, {"category": "detractor", "stage": "Customer"}).content
    assert b"Love it" not in detractors and b"&lt;script&gt;" in detractors
    download = owner.web.get(url, {"download": "comments"})
    rows = list(csv.reader(io.StringIO(download.content.decode())))
    assert rows[0][-1] == "comment" and len(rows) == 4
    assert '\'=HYPERLINK("http://x")' in [row[-1] for row in rows]
    assert owner.web.get(url, {"granularity": "year"}).status_code == 400


def test_overview_shows_nps_and_csat_cards(owner: Any, ws: Any, survey: Any) -> None:
    csat = nps_survey(ws, name="CSAT", kind="csat", question="Happy?")
    for score in (5, 4, 2):
        _answer(csat, score)
    body = owner.web.get("/w/acme/analytics/").content.decode()
    assert 'data-testid="overview-nps"' in body and "25.0" in body
    assert 'data-testid="overview-csat"' in body and "66.7%" in body
    data = owner.api.get("/api/v1/analytics/overview/").json()["surveys"]
    assert data["nps"]["value"] == 25.0 and data["csat"]["value"] == pytest.approx(66.67)


def test_report_page_query_count_is_bounded(
    owner: Any, survey: Any, django_assert_max_num_queries: Any
) -> None:
    with django_assert_max_num_queries(20):
        assert owner.web.get(f"/w/acme/surveys/{survey.pk}/report/").status_code == 200
