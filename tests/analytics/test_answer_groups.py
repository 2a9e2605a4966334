"""The overview's NPS and CSAT for a source or signup-month filter, read from the
answer sums by group (analytics/rollups/answer_groups.py), against the definition (the
kept contacts' raw answers) at every moment of a seeded run of answers, changed
scores, scanners, source changes, erasures and partial engine passes: whether or not
the engine has taken a contact's news in yet. Then the sums equal their rebuild and
the drift check finds nothing."""

from __future__ import annotations

import datetime as dt
import random
import zoneinfo
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from analytics.figures import surveys as survey_figures
from analytics.figures.common import Filters, Period
from analytics.figures.surveys import survey_overview
from analytics.models import AnswerGroupDay, ContactAnswerDay
from analytics.rollups import rollups_rebuild
from analytics.services import drift_check
from contacts.models import Contact, ContactMark
from contacts.services import contact_update, events_ingest
from contacts.services.erasure import contact_erase
from lifecycle.services import marked_contacts_evaluate, stages_create_defaults
from surveys import scales
from surveys.hooks import answers_changed
from surveys.models import SurveyResponse
from surveys.services import survey_delete
from tests.factories import ContactFactory
from tests.surveys.helpers import ACTOR, answer_change, answer_discard, nps_survey, settle

pytestmark = pytest.mark.django_db

TZ = "Pacific/Auckland"  # local days far from UTC
SOURCES = ["ads", "fair", "organic"]


def _drain() -> None:
    """What beat does: the answers that have stood settle (their events mark the
    contacts), then the engine takes every mark in."""
    settle()
    while marked_contacts_evaluate():
        pass


def _world(ws: Any) -> tuple[Any, Any]:
    ws.time_zone = TZ
    ws.save(update_fields=["time_zone"])
    stages_create_defaults(workspace=ws)
    now = timezone.now()
    for i in range(12):
        ContactFactory.create(
            workspace=ws,
            email=f"p{i}@example.com",
            attributes={"signup_source": SOURCES[i % 3]},
            signed_up_at=now - dt.timedelta(days=20 + 25 * (i % 4)),
        )
    items = [
        {
            "contact": {"email": f"p{i}@example.com"},
            "name": "page_view",
            "occurred_at": (now - dt.timedelta(days=i)).isoformat(),
        }
        for i in range(12)
    ]
    assert not events_ingest(workspace=ws, items=items).errors
    _drain()
    nps = nps_survey(ws)
    csat = nps_survey(ws, name="Delivery", kind="csat", question="Happy with delivery?")
    return nps, csat


def _filters(ws: Any) -> list[Filters]:
    months = sorted(
        {c.signed_up_at.astimezone(zoneinfo.ZoneInfo(TZ)).date().replace(day=1)
         for c in Contact.objects.filter(workspace=ws)}
    )  # fmt: skip
    return [
        Filters(source="ads"),
        Filters(source="fair"),
        Filters(signup_month=months[0]),
        Filters(source="organic", signup_month=months[-1]),
        Filters(source="nobody"),
    ]


def _both(ws: Any, period: Period, filters: Filters, monkeypatch: Any) -> tuple[dict, dict]:
    """The overview's survey cards from the sums, and from the raw answers."""
    with CaptureQueriesContext(connection) as queries:
        summed = survey_overview(workspace=ws, period=period, filters=filters)
    assert any("analytics_answergroupday" in q["sql"] for q in queries)
    with monkeypatch.context() as patched:
        patched.setattr(survey_figures, "filtered_totals", lambda *args: None)
        raw = survey_overview(workspace=ws, period=period, filters=filters)
    return summed, raw


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_cards_by_source_equal_the_raw_answers_at_every_moment(
    ws: Any, monkeypatch: Any, seed: int
) -> None:
    rng = random.Random(seed)
    nps, csat = _world(ws)
    now = timezone.now()
    today = now.astimezone(zoneinfo.ZoneInfo(TZ)).date()
    period = Period(today - dt.timedelta(days=29), today)  # and the 30 days before
    keys = iter(range(10_000))

    def people() -> list[Contact]:
        return list(Contact.objects.filter(workspace=ws).order_by("pk"))

    def answer() -> None:
        survey = rng.choice([nps, csat])
        low, high = (0, 10) if survey is nps else (1, 5)
        score = rng.randint(low, high)
        at = now - dt.timedelta(days=rng.uniform(0, 59), minutes=rng.choice([0, 1, 700]))
        row = SurveyResponse.objects.create(
            workspace=ws,
            survey=survey,
            contact=rng.choice([*people(), None]),
            send_key=f"k{next(keys)}",
            score=score,
            category=scales.category(survey.kind, score),
            channel="email",
            answered_at=at,
            updated_at=at,
        )
        answers_changed(workspace_id=ws.pk, survey_id=survey.pk, response_ids=[row.pk])

    def change() -> None:  # a new score, or a scanner's burst discarded
        rows = list(SurveyResponse.objects.filter(workspace=ws).order_by("pk"))
        if rows:
            row = rng.choice(rows)
            low, high = (0, 10) if row.survey_id == nps.pk else (1, 5)
            if rng.random() < 0.3:
                answer_discard(row)
            else:
                answer_change(row, rng.randint(low, high))

    def regroup() -> None:
        contact_update(
            contact=rng.choice(people()),
            data={"attributes": {"signup_source": rng.choice(SOURCES)}},
            actor=ACTOR,
        )

    def erase() -> None:
        if rng.random() < 0.3:
            contact_erase(contact=rng.choice(people()), actor=ACTOR)

    def evaluate() -> None:
        marked_contacts_evaluate(limit=rng.randint(1, 3))

    def newcomer() -> None:  # a contact the engine has not seen yet: no facts
        ContactFactory.create(workspace=ws, attributes={"signup_source": rng.choice(SOURCES)})

    steps = [answer, answer, answer, change, regroup, erase, evaluate, evaluate, settle, newcomer]
    for _ in range(40):
        rng.choice(steps)()
        for filters in rng.sample(_filters(ws), 2):
            summed, raw = _both(ws, period, filters, monkeypatch)
            assert summed == raw, (seed, filters)
    _drain()
    assert not ContactMark.objects.filter(workspace=ws).exists()
    for filters in _filters(ws):
        summed, raw = _both(ws, period, filters, monkeypatch)
        assert summed == raw, (seed, filters)
    cards = [_both(ws, period, f, monkeypatch)[0] for f in _filters(ws)]
    assert any(card["nps"]["answers"] + card["csat"]["answers"] for card in cards)

    # the sums and rows the increments wrote are those a rebuild writes
    def stored() -> tuple[list, list]:
        return (
            sorted(
                ContactAnswerDay.objects.filter(workspace=ws).values_list(
                    "contact_id", "survey_id", "day", "score", "answers"
                )
            ),
            sorted(
                AnswerGroupDay.objects.filter(workspace=ws)
                .exclude(answers=0)
                .values_list("survey_id", "source", "signup_month", "day", "score", "answers"),
                key=repr,
            ),
        )

    before = stored()
    assert before[0] and before[1]
    rollups_rebuild(workspace_id=ws.pk)
    assert stored() == before
    check = drift_check(workspace=ws, sample=None, repair=False)
    assert check.tables["analytics_contactanswerday"]["checked"] > 0
    assert check.tables["analytics_answergroupday"]["checked"] > 0
    assert check.rows_differing == 0, check.tables

    # a survey deleted: its answers go, and the engine takes them out of the sums
    survey_delete(survey=nps, actor=ACTOR)
    _drain()
    assert not ContactAnswerDay.objects.filter(survey_id=nps.pk).exists()
    assert not AnswerGroupDay.objects.filter(survey_id=nps.pk).exclude(answers=0).exists()
    assert drift_check(workspace=ws, sample=None, repair=False).rows_differing == 0


def test_an_answer_counts_in_its_source_at_once_and_moves_with_the_contact(
    ws: Any, monkeypatch: Any
) -> None:
    nps, _ = _world(ws)
    person = Contact.objects.filter(workspace=ws, attributes__signup_source="ads").first()
    assert person is not None
    today = timezone.now().astimezone(zoneinfo.ZoneInfo(TZ)).date()
    period = Period(today - dt.timedelta(days=6), today)
    row = SurveyResponse.objects.create(
        workspace=ws,
        survey=nps,
        contact=person,
        send_key="one",
        score=10,
        category="promoter",
        channel="email",
        answered_at=timezone.now(),
        updated_at=timezone.now(),
    )
    answers_changed(workspace_id=ws.pk, survey_id=nps.pk, response_ids=[row.pk])
    # Before it has settled the engine is not told (a scanner's first tap looks like
    # this: it must move no stage), and the card counts it from the answer itself.
    assert not ContactMark.objects.filter(contact=person).exists()
    assert not AnswerGroupDay.objects.filter(workspace=ws).exists()
    summed, raw = _both(ws, period, Filters(source="ads"), monkeypatch)
    assert summed == raw and summed["nps"]["answers"] == 1 and summed["nps"]["value"] == 100
    _drain()
    assert AnswerGroupDay.objects.get(workspace=ws, source="ads").answers == 1
    assert _both(ws, period, Filters(source="ads"), monkeypatch)[0]["nps"]["answers"] == 1
    # the contact's source changes: its answer moves with it
    contact_update(contact=person, data={"attributes": {"signup_source": "fair"}}, actor=ACTOR)
    _drain()
    ads, fair = (_both(ws, period, Filters(source=s), monkeypatch)[0] for s in ("ads", "fair"))
    assert (ads["nps"]["answers"], fair["nps"]["answers"]) == (0, 1)
    assert AnswerGroupDay.objects.get(workspace=ws, source="ads").answers == 0
    # erased: out of the sums, its rows gone
    contact_erase(contact=person, actor=ACTOR)
    assert not ContactAnswerDay.objects.filter(contact_id=person.pk).exists()
    assert not AnswerGroupDay.objects.filter(workspace=ws).exclude(answers=0).exists()
