"""Survey figures per segment (from the per-segment rollups) against an independent
computation over the raw answers of the contacts matching the segment's rule now, per
stage and period, while members join and leave, answers change and contacts are
erased; the table of every segment; response rates per stage when sent and per
segment from the survey messages sent."""

from __future__ import annotations

import datetime as dt
import random
import zoneinfo
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from analytics.figures.common import Filters, Period
from analytics.figures.surveys import SurveyQuery, survey_results
from analytics.models import SurveySegmentAnswerDay, SurveySegmentSendDay
from analytics.rollups import rollups_rebuild
from analytics.rollups.surveys import survey_sends_refresh
from contacts.models import Contact, Segment
from contacts.rules import contacts_matching
from contacts.services import contact_update, segment_create, segment_members_build
from contacts.services.erasure import contact_erase
from lifecycle.models import StageTransition
from lifecycle.services import marked_contacts_evaluate
from lifecycle.services.moves import contact_stage_set
from surveys import scales
from surveys.hooks import answers_changed
from surveys.models import SurveyResponse
from tests.factories import StageFactory
from tests.surveys.helpers import ACTOR, nps_survey, sent_message

pytestmark = pytest.mark.django_db

STAGES = ["Lead", "Customer", ""]
TZ = "Europe/Berlin"
PLANS = ["pro", "free"]


def _drain() -> None:
    while marked_contacts_evaluate():
        pass


def _world(ws: Any, rng: random.Random) -> tuple[Any, list[Segment], list[Contact]]:
    ws.time_zone = TZ
    ws.save(update_fields=["time_zone"])
    survey = nps_survey(ws)
    contacts = [
        Contact.objects.create(
            workspace=ws,
            email=f"s{i}@example.com",
            attributes={"plan": rng.choice(["pro", "free"])},
        )
        for i in range(30)
    ]
    made = [
        segment_create(
            workspace=ws,
            data={"name": name, "rule": {"attr": "plan", "op": "eq", "value": value}},
            actor=ACTOR,
        )
        for name, value in (("Pro", "pro"), ("Free", "free"))
    ]
    # Some answers before the members are built, some after.
    _answer(ws, survey, contacts, rng, 80)
    for segment in made:
        assert segment_members_build(segment_id=segment.pk)
    _answer(ws, survey, contacts, rng, 80)
    return survey, made, contacts


def _answer(ws: Any, survey: Any, contacts: list[Contact], rng: random.Random, n: int) -> None:
    now = timezone.now()
    start = SurveyResponse.objects.count()
    for i in range(start, start + n):
        at = now - dt.timedelta(days=rng.uniform(0, 100))
        score = rng.randint(0, 10)
        row = SurveyResponse.objects.create(
            workspace=ws,
            survey=survey,
            contact=rng.choice([*contacts, None]),
            send_key=f"k{i}",
            score=score,
            category=scales.category(survey.kind, score),
            comment=rng.choice(["", "ok"]),
            channel=rng.choice(["email", "sms", "link"]),
            stage_name=rng.choice(STAGES),
            answered_at=at,
            updated_at=at,
            is_bot=rng.random() < 0.05,
        )
        answers_changed(workspace_id=ws.pk, survey_id=survey.pk, response_ids=[row.pk])


def _raw(survey: Any, segment: Segment, period: Period, stage: str | None) -> list[int]:
    """The scores of the counted answers of the contacts matching the rule now."""
    members = set(
        contacts_matching(segment.rule, workspace=segment.workspace, validate=False).values_list(
            "pk", flat=True
        )
    )
    tz = zoneinfo.ZoneInfo(TZ)
    return [
        r.score
        for r in SurveyResponse.objects.filter(survey=survey, is_bot=False)
        if r.contact_id in members
        and period.start <= r.answered_at.astimezone(tz).date() <= period.end
        and (stage is None or r.stage_name == stage)
    ]


def _periods() -> list[Period]:
    today = timezone.now().astimezone(zoneinfo.ZoneInfo(TZ)).date()
    return [
        Period(today - dt.timedelta(days=29), today),
        Period(today - dt.timedelta(days=80), today - dt.timedelta(days=20)),
        Period(today - dt.timedelta(days=365), today),
    ]


def _nps(scores: list[int]) -> float:
    return 100 * (sum(s >= 9 for s in scores) - sum(s <= 6 for s in scores)) / len(scores)


def _check(ws: Any, survey: Any, made: list[Segment]) -> int:
    checked = 0
    for segment in made:
        segment.refresh_from_db()
        assert segment.members_ready
        for period in _periods():
            for stage in [None, *STAGES]:
                q = SurveyQuery(ws, survey, period, "week", stage, Filters(segment=segment))
                got = survey_results(q)
                want = _raw(survey, segment, period, stage)
                assert got["answers"] == len(want), (segment.name, period, stage)
                if want:
                    assert got["nps"] == pytest.approx(_nps(want), abs=0.0051)
                    counts = {d["score"]: d["answers"] for d in got["distribution"]}
                    assert counts == {s: want.count(s) for s in range(11)}
                    checked += 1
                table = {row["segment_id"]: row for row in got["by_segment"]}
                assert table[segment.pk]["answers"] == len(want)
                assert table[segment.pk]["nps"] == (
                    pytest.approx(_nps(want), abs=0.0051) if want else None
                )
    return checked


def _rows() -> set[tuple[Any, ...]]:
    return set(
        SurveySegmentAnswerDay.objects.values_list(
            "segment_id",
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


def test_segment_figures_equal_the_raw_answers_of_its_members_through_changes(ws: Any) -> None:
    rng = random.Random(16)
    survey, made, contacts = _world(ws, rng)
    assert _check(ws, survey, made) > 10
    # Members leave and join (their data changes; the engine refreshes the segments).
    for contact in rng.sample(contacts, 10):
        plan = "free" if contact.attributes.get("plan") == "pro" else "pro"
        contact_update(contact=contact, data={"attributes": {"plan": plan}}, actor=ACTOR)
    _drain()
    # Answers change: a score, a comment, a discarded scanner burst.
    for row in rng.sample(list(SurveyResponse.objects.filter(survey=survey)), 25):
        SurveyResponse.objects.filter(pk=row.pk).update(
            score=rng.randint(0, 10), comment=rng.choice(["", "x"]), is_bot=rng.random() < 0.3
        )
        answers_changed(workspace_id=ws.pk, survey_id=survey.pk, response_ids=[row.pk])
    erased = next(c for c in contacts if SurveyResponse.objects.filter(contact=c).exists())
    contact_erase(contact=erased, actor=ACTOR)
    assert _check(ws, survey, made) > 10
    incremental = _rows()
    assert incremental
    rollups_rebuild(workspace_id=ws.pk)
    assert _rows() == incremental


def test_a_segment_with_members_built_is_read_from_its_rollup(ws: Any) -> None:
    survey, made, _ = _world(ws, random.Random(3))
    made[0].refresh_from_db()
    q = SurveyQuery(ws, survey, _periods()[2], "month", None, Filters(segment=made[0]))
    with CaptureQueriesContext(connection) as queries:
        survey_results(q)
    sql = " ".join(query["sql"] for query in queries.captured_queries)
    assert "analytics_surveysegmentanswerday" in sql
    assert "surveys_surveyresponse" not in sql


def test_a_segment_being_built_is_read_live_and_has_no_table_figures(ws: Any) -> None:
    survey, made, _ = _world(ws, random.Random(4))
    Segment.objects.filter(pk=made[0].pk).update(members_ready=False)
    made[0].refresh_from_db()
    period = _periods()[2]
    got = survey_results(SurveyQuery(ws, survey, period, "week", None, Filters(segment=made[0])))
    assert got["answers"] == len(_raw(survey, made[0], period, None))
    assert all(c["response_rate"] is None for c in got["by_channel"])
    row = next(r for r in got["by_segment"] if r["segment_id"] == made[0].pk)
    assert (row["ready"], row["answers"], row["nps"]) == (False, None, None)


def test_response_rates_per_stage_when_sent_and_per_segment(ws: Any) -> None:
    survey = nps_survey(ws)
    lead, customer = (StageFactory.create(workspace=ws, key=n.lower(), name=n) for n in STAGES[:2])
    pro = segment_create(
        workspace=ws,
        data={"name": "Pro", "rule": {"attr": "plan", "op": "eq", "value": "pro"}},
        actor=ACTOR,
    )
    contacts = [
        Contact.objects.create(
            workspace=ws, email=f"r{i}@example.com", attributes={"plan": "pro" if i < 4 else "x"}
        )
        for i in range(10)
    ]
    for i, contact in enumerate(contacts):
        contact_stage_set(contact=contact, stage=lead if i % 2 else customer, actor=ACTOR)
    # The moves happened an hour ago: the messages are sent in those stages.
    StageTransition.objects.filter(workspace=ws).update(at=timezone.now() - dt.timedelta(hours=1))
    assert segment_members_build(segment_id=pro.pk)
    messages = [sent_message(survey, contact) for contact in contacts]
    now = timezone.now()
    # Answers by contacts 0, 1, 2 (Customer, Lead, Customer; all pro) and 5 (Lead).
    for i in (0, 1, 2, 5):
        row = SurveyResponse.objects.create(
            workspace=ws,
            survey=survey,
            contact=contacts[i],
            send_key=f"m{messages[i].pk}",
            score=10,
            channel="email",
            message_id=messages[i].pk,
            stage_name="Lead" if i % 2 else "Customer",
            answered_at=now,
            updated_at=now,
        )
        answers_changed(workspace_id=ws.pk, survey_id=survey.pk, response_ids=[row.pk])
    survey_sends_refresh(workspace_id=ws.pk)
    pro.refresh_from_db()
    today = timezone.now().astimezone(zoneinfo.ZoneInfo(ws.time_zone)).date()
    week = Period(today - dt.timedelta(days=6), today)
    got = survey_results(SurveyQuery(ws, survey, week, "day", None, Filters()))
    stages = {r["stage"]: (r["sent"], r["answers"], r["response_rate"]) for r in got["by_stage"]}
    assert stages == {"Customer": (5, 2, 0.4), "Lead": (5, 2, 0.4)}
    in_lead = survey_results(SurveyQuery(ws, survey, week, "day", "Lead", Filters()))
    email = next(c for c in in_lead["by_channel"] if c["channel"] == "email")
    assert (email["sent"], email["answers"], email["response_rate"]) == (5, 2, 0.4)
    in_pro = survey_results(SurveyQuery(ws, survey, week, "day", None, Filters(segment=pro)))
    email = next(c for c in in_pro["by_channel"] if c["channel"] == "email")
    assert (email["sent"], email["answers"], email["response_rate"]) == (4, 3, 0.75)
    row = next(r for r in got["by_segment"] if r["segment_id"] == pro.pk)
    assert (row["sent"], row["answers"], row["response_rate"]) == (4, 3, 0.75)
    # A member leaving takes its send out of the segment's sends, joining puts one in.
    contact_update(contact=contacts[0], data={"attributes": {"plan": "x"}}, actor=ACTOR)
    contact_update(contact=contacts[9], data={"attributes": {"plan": "pro"}}, actor=ACTOR)
    _drain()
    sent = sum(SurveySegmentSendDay.objects.filter(segment=pro).values_list("sent", flat=True))
    assert sent == 4
    in_pro = survey_results(SurveyQuery(ws, survey, week, "day", None, Filters(segment=pro)))
    email = next(c for c in in_pro["by_channel"] if c["channel"] == "email")
    assert (email["sent"], email["answers"]) == (4, 2)
