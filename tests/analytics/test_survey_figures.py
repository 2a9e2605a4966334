"""Survey figures from the rollups against an independent computation over the raw
answers (plain Python, per stage and period), the NPS interval against the variance of
per-answer values, the rollups equal to a rebuild after changes, discards and an
erasure, and response rates from the survey messages sent."""

from __future__ import annotations

import datetime as dt
import math
import random
import statistics
import zoneinfo
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from analytics.figures import surveys as survey_figures
from analytics.figures.common import NO_FILTERS, Filters, Period, bucket_start
from analytics.figures.surveys import SurveyQuery, survey_overview, survey_results
from analytics.models import CustomerFacts, SurveyAnswerDay, SurveySendDay
from analytics.rollups import rollups_rebuild
from analytics.rollups.surveys import survey_sends_refresh
from contacts.models import Contact
from contacts.services import contacts_mark_changed
from contacts.services.erasure import contact_erase
from lifecycle.services import marked_contacts_evaluate
from surveys import scales
from surveys.hooks import answers_changed
from surveys.models import SurveyResponse
from tests.factories import ContactFactory
from tests.surveys.helpers import ACTOR, nps_survey, sent_message

pytestmark = pytest.mark.django_db

STAGES = ["Lead", "Customer", "Loyal", ""]
TZ = "America/New_York"


def _world(ws: Any, rng: random.Random, count: int = 300) -> tuple[Any, Any, list[Any]]:
    ws.time_zone = TZ
    ws.save(update_fields=["time_zone"])
    nps = nps_survey(ws)
    csat = nps_survey(ws, name="Delivery", kind="csat", question="Happy with delivery?")
    contacts = [ContactFactory.create(workspace=ws) for _ in range(40)]
    now = timezone.now()
    rows = []
    for i in range(count):
        survey = nps if i % 3 else csat
        low, high = (0, 10) if survey is nps else (1, 5)
        # Later answers score higher, so the trend has a shape to get wrong.
        days_ago = rng.uniform(0, 120)
        score = min(high, max(low, round(rng.gauss(high * (1.0 - days_ago / 400), 2.5))))
        at = now - dt.timedelta(days=days_ago)
        contact = rng.choice([*contacts, None])
        rows.append(
            SurveyResponse.objects.create(
                workspace=ws,
                survey=survey,
                contact=contact,
                send_key=f"k{i}",
                score=score,
                category=scales.category(survey.kind, score),
                comment=rng.choice(["", "", "great", "<b>late</b>"]),
                channel=rng.choice(["email", "email", "sms", "link"]),
                stage_name=rng.choice(STAGES),
                answered_at=at,
                updated_at=at,
                is_bot=rng.random() < 0.05,
            )
        )
    for row in rows:  # as the answer services do, one answer at a time
        answers_changed(workspace_id=ws.pk, survey_id=row.survey_id, response_ids=[row.pk])
    return nps, csat, rows


def _expected(rows: list[Any], survey: Any, period: Period, stage: str | None) -> dict[str, Any]:
    """The figures computed from the raw answers in plain Python."""
    tz = zoneinfo.ZoneInfo(TZ)
    scores = [
        r.score
        for r in SurveyResponse.objects.filter(survey=survey)
        if not r.is_bot
        and period.start <= r.answered_at.astimezone(tz).date() <= period.end
        and (stage is None or r.stage_name == stage)
    ]
    n = len(scores)
    if not n:
        return {"answers": 0, "nps": None, "csat": None, "mean": None, "margin": None}
    promoters = sum(1 for s in scores if s >= 9)
    detractors = sum(1 for s in scores if s <= 6)
    # Each answer is +1 (promoter), 0 (passive) or -1 (detractor); NPS is their mean
    # x 100 and its standard error that of a mean: sqrt(population variance / n).
    values = [1 if s >= 9 else -1 if s <= 6 else 0 for s in scores]
    margin = 1.96 * math.sqrt(statistics.pvariance(values) / n) * 100
    return {
        "answers": n,
        "nps": 100 * (promoters - detractors) / n,
        "csat": 100 * sum(1 for s in scores if s >= 4) / n,
        "mean": sum(scores) / n,
        "margin": margin,
        "scores": scores,
    }


def _query(ws: Any, survey: Any, period: Period, granularity: str, stage: str | None) -> Any:
    return SurveyQuery(ws, survey, period, granularity, stage, NO_FILTERS)


def _periods() -> list[Period]:
    today = timezone.now().astimezone(zoneinfo.ZoneInfo(TZ)).date()
    return [
        Period(today - dt.timedelta(days=29), today),
        Period(today - dt.timedelta(days=89), today),
        Period(today - dt.timedelta(days=100), today - dt.timedelta(days=40)),
        Period(today - dt.timedelta(days=365), today),
    ]


def test_nps_and_csat_equal_an_independent_computation_per_stage_and_period(ws: Any) -> None:
    nps, csat, _ = _world(ws, random.Random(16))
    checked = 0
    for period in _periods():
        for stage in [None, *STAGES]:
            for survey, key in ((nps, "nps"), (csat, "csat")):
                got = survey_results(_query(ws, survey, period, "week", stage))
                want = _expected([], survey, period, stage)
                assert got["answers"] == want["answers"], (period, stage, key)
                if not want["answers"]:
                    assert got[key] is None
                    continue
                assert got[key] == pytest.approx(want[key], abs=0.0051)
                assert got["mean"] == pytest.approx(want["mean"], abs=0.00051)
                if key == "nps":
                    assert got["nps_margin"] == pytest.approx(want["margin"], abs=0.0051)
                    low = max(-100.0, want["nps"] - want["margin"])
                    assert got["nps_low"] == pytest.approx(low, abs=0.01)
                distribution = {d["score"]: d["answers"] for d in got["distribution"]}
                assert distribution == {
                    s: want["scores"].count(s)
                    for s in range(0 if key == "nps" else 1, 11 if key == "nps" else 6)
                }
                checked += 1
    assert checked > 20


def test_trend_buckets_and_stage_rows_equal_the_raw_answers(ws: Any) -> None:
    nps, _, _ = _world(ws, random.Random(3))
    tz = zoneinfo.ZoneInfo(TZ)
    period = _periods()[1]
    for granularity in ("day", "week", "month"):
        got = survey_results(_query(ws, nps, period, granularity, None))
        raw: dict[str, list[int]] = {}
        for r in SurveyResponse.objects.filter(survey=nps, is_bot=False):
            day = r.answered_at.astimezone(tz).date()
            if period.start <= day <= period.end:
                raw.setdefault(bucket_start(day, granularity).isoformat(), []).append(r.score)
        for bucket in got["trend"]:
            scores = raw.get(bucket["bucket"], [])
            assert bucket["answers"] == len(scores), (granularity, bucket["bucket"])
            if scores:
                want = (
                    100 * (sum(s >= 9 for s in scores) - sum(s <= 6 for s in scores)) / len(scores)
                )
                assert bucket["nps"] == pytest.approx(want, abs=0.0051)
        assert sum(b["answers"] for b in got["trend"]) == got["answers"]
    by_stage = {row["stage"]: row["answers"] for row in got["by_stage"]}
    for stage in STAGES:
        assert by_stage.get(stage, 0) == _expected([], nps, period, stage)["answers"]


def test_the_interval_of_an_even_split(ws: Any) -> None:
    """Half promoters, half detractors: NPS 0, variance 1, margin 1.96 x 100 / sqrt(n)."""
    nps, _, _ = _world(ws, random.Random(1), count=0)
    now = timezone.now()
    for i, score in enumerate([10, 0] * 50):
        row = SurveyResponse.objects.create(
            workspace=ws,
            survey=nps,
            send_key=f"e{i}",
            score=score,
            channel="link",
            answered_at=now,
            updated_at=now,
        )
        answers_changed(workspace_id=ws.pk, survey_id=nps.pk, response_ids=[row.pk])
    got = survey_results(_query(ws, nps, _periods()[0], "week", None))
    assert got["nps"] == 0 and got["answers"] == 100
    assert got["nps_margin"] == pytest.approx(19.6, abs=0.0051)
    assert (got["nps_low"], got["nps_high"]) == (pytest.approx(-19.6), pytest.approx(19.6))


def _rollup() -> set[tuple[Any, ...]]:
    return set(
        SurveyAnswerDay.objects.values_list(
            "survey_id",
            "day",
            "stage_name",
            "channel",
            "journey_id",
            "score",
            "answers",
            "comments",
        )
    )


def test_rollups_equal_a_rebuild_after_changes_discards_and_an_erasure(ws: Any) -> None:
    _, _, rows = _world(ws, random.Random(9))
    rng = random.Random(10)
    for row in rng.sample(rows, 40):  # a changed score, a comment, a discarded burst
        SurveyResponse.objects.filter(pk=row.pk).update(
            score=rng.randint(1, 5), comment=rng.choice(["", "changed"]), is_bot=rng.random() < 0.3
        )
        answers_changed(workspace_id=ws.pk, survey_id=row.survey_id, response_ids=[row.pk])
    erased = next(r.contact for r in rows if r.contact is not None and not r.is_bot)
    erased_id = erased.pk
    assert SurveyResponse.objects.filter(contact_id=erased_id).exists()
    contact_erase(contact=erased, actor=ACTOR)
    assert not SurveyResponse.objects.filter(contact_id=erased_id).exists()
    incremental = _rollup()
    assert incremental
    rollups_rebuild(workspace_id=ws.pk)
    assert _rollup() == incremental
    counted = SurveyResponse.objects.filter(workspace=ws, is_bot=False).count()
    assert sum(a for *_, a, _c in incremental) == counted


def test_response_rate_per_channel_from_the_messages_sent(ws: Any) -> None:
    survey = nps_survey(ws)
    contacts = [ContactFactory.create(workspace=ws) for _ in range(8)]
    messages = [sent_message(survey, contact) for contact in contacts]
    now = timezone.now()
    for i, message in enumerate(messages[:3]):
        row = SurveyResponse.objects.create(
            workspace=ws,
            survey=survey,
            contact=contacts[i],
            send_key=f"m{message.pk}",
            score=9,
            channel="email",
            message_id=message.pk,
            answered_at=now,
            updated_at=now,
        )
        answers_changed(workspace_id=ws.pk, survey_id=survey.pk, response_ids=[row.pk])
    survey_sends_refresh(workspace_id=ws.pk)
    assert sum(SurveySendDay.objects.values_list("sent", flat=True)) == 8
    today = timezone.now().astimezone(zoneinfo.ZoneInfo(ws.time_zone)).date()
    got = survey_results(
        _query(ws, survey, Period(today - dt.timedelta(days=6), today), "day", None)
    )
    email = next(c for c in got["by_channel"] if c["channel"] == "email")
    assert (email["sent"], email["answers"], email["response_rate"]) == (8, 3, 0.375)
    filtered = survey_results(_query(ws, survey, Period(today, today), "day", "Lead"))
    assert all(c["response_rate"] is None for c in filtered["by_channel"])


def test_the_overview_of_filtered_contacts_reads_their_answers_once(
    ws: Any, monkeypatch: Any
) -> None:
    """Filtered by source or signup month (no rollup), the overview's NPS and CSAT of
    both periods come from one pass over the raw answers: the same figures as four."""
    _world(ws, random.Random(5))
    contacts_mark_changed(contact_ids=list(Contact.objects.values_list("pk", flat=True)))
    while marked_contacts_evaluate():  # the contacts' facts: source "", this month
        pass
    today = timezone.now().astimezone(zoneinfo.ZoneInfo(TZ)).date()
    period = Period(today - dt.timedelta(days=44), today)
    month = CustomerFacts.objects.filter(workspace=ws).values_list("signup_month", flat=True)[0]
    for filters in (Filters(source=""), Filters(signup_month=month), Filters(source="none")):
        with CaptureQueriesContext(connection) as queries:
            once = survey_overview(workspace=ws, period=period, filters=filters)
        assert sum("surveys_surveyresponse" in q["sql"] for q in queries) == 1
        with monkeypatch.context() as patched:
            patched.setattr(survey_figures, "filtered_totals", lambda *args: None)
            four = survey_overview(workspace=ws, period=period, filters=filters)
        assert once == four, filters
        if filters.source != "none":
            assert once["nps"]["answers"] and once["nps"]["previous"] is not None
            assert once["csat"]["answers"]
        else:
            assert once["nps"]["answers"] == 0
