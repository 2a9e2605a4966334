"""Rule fields from answers, and the report's figures against an independent
computation over the raw answers."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from django.utils import timezone

from contacts.rules import contacts_matching
from lifecycle.models import Stage
from surveys import scales
from surveys.facts import facts_refresh
from surveys.models import SurveyResponse
from surveys.selectors import survey_report
from tests.factories import ContactFactory
from tests.surveys.helpers import nps_survey

pytestmark = pytest.mark.django_db


def _answer(survey, contact, score, *, days_ago=0, stage="", bot=False):
    at = timezone.now() - dt.timedelta(days=days_ago)
    SurveyResponse.objects.create(
        workspace=survey.workspace,
        survey=survey,
        contact=contact,
        send_key=f"c{contact.pk}" if contact else f"a{random.random()}",
        score=score,
        category=scales.category(survey.kind, score),
        channel="email",
        stage_name=stage,
        answered_at=at,
        updated_at=at,
        is_bot=bot,
    )
    if contact:
        facts_refresh(workspace_id=survey.workspace_id, contact_id=contact.pk)


def _ids(rule, ws):
    return set(contacts_matching(rule, workspace=ws).values_list("pk", flat=True))


def test_rule_fields(ws):
    nps = nps_survey(ws)
    csat = nps_survey(ws, name="CSAT", kind="csat", question="Happy?")
    promoter, detractor, passive, quiet, scanned = (
        ContactFactory.create(workspace=ws) for _ in range(5)
    )
    _answer(nps, promoter, 10, days_ago=3)
    _answer(nps, detractor, 2, days_ago=40)
    _answer(nps, passive, 7)
    _answer(csat, passive, 5)
    _answer(nps, scanned, 0, bot=True)
    category = {"field": "nps_category", "op": "eq", "value": "promoter"}
    assert _ids(category, ws) == {promoter.pk}
    assert _ids({"field": "nps_category", "op": "eq", "value": "detractor"}, ws) == {detractor.pk}
    assert _ids({"field": "nps_score", "op": "gte", "value": 7}, ws) == {promoter.pk, passive.pk}
    assert _ids({"field": "csat_score", "op": "eq", "value": 5}, ws) == {passive.pk}
    within = {"field": "survey_answered_at", "op": "within_last_days", "value": 30}
    assert _ids(within, ws) == {promoter.pk, passive.pk}
    days = {"field": "days_since_survey_answered", "op": "gt", "value": 30}
    assert _ids(days, ws) == {detractor.pk}
    answered = {"field": "nps_score", "op": "exists", "value": False}
    assert _ids(answered, ws) == {quiet.pk, scanned.pk}


def test_report_equals_an_independent_computation(ws):
    survey = nps_survey(ws)
    stage_names = ["Consideration", "Retention", ""]
    rng = random.Random(7)
    raw = []
    for i in range(300):
        score, stage = rng.randint(0, 10), rng.choice(stage_names)
        bot = i % 25 == 0
        _answer(survey, None, score, days_ago=rng.randint(0, 60), stage=stage, bot=bot)
        if not bot:
            raw.append((score, stage))
    report = survey_report(survey=survey, options=list(range(11)))

    def nps(scores):
        return 100 * (sum(s >= 9 for s in scores) - sum(s <= 6 for s in scores)) / len(scores)

    assert report.overall.count == len(raw)
    assert report.overall.nps == pytest.approx(nps([s for s, _ in raw]))
    assert dict(report.distribution) == {k: sum(s == k for s, _ in raw) for k in range(11)}
    for name, figures in report.by_stage_then:
        scores = [s for s, st in raw if (st or "No stage") == name]
        assert figures.count == len(scores) and figures.nps == pytest.approx(nps(scores))
    assert sum(f.count for _, f in report.by_week) == len(raw)
    assert Stage.objects.filter(workspace=ws).count() >= 0
