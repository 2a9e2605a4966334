"""The "survey answered" journey trigger: a one-tap answer from an email rendered by
the real pipeline lets the contact into the journeys whose score filter it matches;
a changed answer enters a journey once; the form and the API take the trigger."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.test import Client
from django.utils import timezone

from campaigns.models import Journey, JourneyEnrolment
from surveys.models import SurveyResponse
from tests.campaigns.journeys.helpers import advance, journey, sent_steps, step
from tests.factories import ContactFactory
from tests.surveys.helpers import answer_links, nps_survey, sent_message, settle

pytestmark = pytest.mark.django_db

BROWSER = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile"


def tap(message, score: int) -> None:
    """A person taps `score` in the email (a minute after any earlier tap)."""
    SurveyResponse.objects.filter(message_id=message.pk).update(
        last_tap_at=timezone.now() - dt.timedelta(minutes=1)
    )
    response = Client(HTTP_USER_AGENT=BROWSER).get(answer_links(message)[score])
    assert response.status_code == 303
    settle()  # the answer stood: beat tells the journeys


def entered(j: Journey) -> list[int]:
    return list(JourneyEnrolment.objects.filter(journey=j).values_list("contact_id", flat=True))


@pytest.fixture
def nps(ws):
    return nps_survey(ws)


@pytest.fixture
def listening(ws, nps, tpl):
    """A journey for detractors (an apology) and one for promoters (a referral ask)."""
    sorry = journey(
        ws,
        {"kind": "survey_answered", "survey_id": nps.pk, "category": "detractor"},
        [step("sorry", "send_email", template_id=tpl.pk)],
        name="Apology",
        reentry="always",
    )
    refer = journey(
        ws,
        {"kind": "survey_answered", "survey_id": nps.pk, "category": "promoter"},
        [step("refer", "send_email", template_id=tpl.pk)],
        name="Referral",
        reentry="always",
    )
    return sorry, refer


def test_a_detractor_answer_starts_the_journey_that_listens_for_detractors(ws, nps, listening):
    sorry, refer = listening
    unhappy, happy = ContactFactory.create_batch(2, workspace=ws)
    tap(sent_message(nps, unhappy), 3)
    tap(sent_message(nps, happy), 10)
    assert entered(sorry) == [unhappy.pk]
    assert entered(refer) == [happy.pk]
    advance()
    assert sent_steps(unhappy) == ["sorry"]
    assert sent_steps(happy) == ["refer"]


def test_a_changed_answer_enters_a_journey_once(ws, nps, listening):
    sorry, refer = listening
    contact = ContactFactory.create(workspace=ws)
    message = sent_message(nps, contact)
    tap(message, 3)
    tap(message, 2)  # changed within the window, still a detractor: not a second entry
    assert entered(sorry) == [contact.pk]
    assert SurveyResponse.objects.get(message_id=message.pk).version == 2
    tap(message, 9)  # now a promoter: that journey's first entry for this answer
    tap(message, 1)
    assert entered(sorry) == [contact.pk] and entered(refer) == [contact.pk]
    assert JourneyEnrolment.objects.get(journey=sorry).trigger_key.startswith("survey:")
    # A second survey send is a new answer: once the first pass is over, the journey
    # (re-entry "always") lets it in again.
    advance()
    tap(sent_message(nps, contact), 0)
    assert entered(sorry) == [contact.pk, contact.pk]


def test_csat_categories_score_ranges_and_any_survey(ws, nps, tpl):
    csat = nps_survey(ws, name="Delivery", kind="csat", question="How was it?")
    unhappy = journey(
        ws,
        {"kind": "survey_answered", "survey_id": None, "category": "unsatisfied"},
        [step("a", "send_email", template_id=tpl.pk)],
        name="Unsatisfied",
    )
    middle = journey(
        ws,
        {"kind": "survey_answered", "score_min": 5, "score_max": 7},
        [step("a", "send_email", template_id=tpl.pk)],
        name="Middling",
    )
    anyone = journey(
        ws,
        {"kind": "survey_answered", "survey_id": csat.pk},
        [step("a", "send_email", template_id=tpl.pk)],
        name="CSAT answered",
    )
    a, b, c = ContactFactory.create_batch(3, workspace=ws)
    tap(sent_message(csat, a), 2)  # scale 1-5: link index 2 is the score 3
    tap(sent_message(csat, b), 4)  # score 5
    tap(sent_message(nps, c), 6)  # an NPS 6 is not "unsatisfied" (a CSAT category)
    assert entered(unhappy) == [a.pk]
    assert sorted(entered(middle)) == sorted([b.pk, c.pk])
    assert sorted(entered(anyone)) == sorted([a.pk, b.pk])


def test_answers_before_going_live_and_to_other_workspaces_do_not_count(ws, nps, tpl, outsider):
    early = ContactFactory.create(workspace=ws)
    tap(sent_message(nps, early), 1)
    j = journey(
        ws,
        {"kind": "survey_answered", "category": "detractor"},
        [step("a", "send_email", template_id=tpl.pk)],
    )
    other = nps_survey(outsider.workspace)
    stranger = ContactFactory.create(workspace=outsider.workspace)
    tap(sent_message(other, stranger), 1)
    assert entered(j) == []


@pytest.mark.parametrize(
    ("trigger", "path", "reason"),
    [
        ({"category": "promoter"}, "trigger.category", "this survey is not one"),
        ({"category": "angry"}, "trigger.category", "must be one of promoter"),
        ({"score_min": 0}, "trigger.score_min", "from 1 to 5"),
        ({"score_min": 4, "score_max": 2}, "trigger.score_max", "below the lowest"),
        ({"survey_id": 999999}, "trigger.survey_id", "no such survey"),
        ({"survey_id": "1"}, "trigger.survey_id", "no such survey"),
    ],
)
def test_a_bad_trigger_is_a_400_naming_the_field(api, ws, tpl, trigger, path, reason):
    csat = nps_survey(ws, name="CSAT", kind="csat", question="How was it?")
    body = {
        "name": "Bad",
        "trigger": {"kind": "survey_answered", "survey_id": csat.pk, **trigger},
        "steps": [step("a", "send_email", template_id=tpl.pk)],
    }
    response = api.post("/api/v1/journeys/", body, format="json")
    assert response.status_code == 400, response.content
    reasons = response.json()["error"]["fields"][path]
    assert any(reason in r for r in reasons), reasons


def test_an_outsiders_survey_is_refused(api, tpl, outsider):
    theirs = nps_survey(outsider.workspace)
    body = {
        "name": "Theirs",
        "trigger": {"kind": "survey_answered", "survey_id": theirs.pk},
        "steps": [step("a", "send_email", template_id=tpl.pk)],
    }
    response = api.post("/api/v1/journeys/", body, format="json")
    assert response.status_code == 400
    assert "trigger.survey_id" in response.json()["error"]["fields"]


def test_the_form_picks_the_trigger_without_json(owner, ws, nps, tpl):
    form = {
        "name": "Detractor follow-up",
        "trigger_kind": "survey_answered",
        "trigger_survey_id": str(nps.pk),
        "trigger_answer": "detractor",
        "goal_kind": "",
        "goal_days": "7",
        "reentry": "once",
        "reentry_days": "0",
        "holdout_percent": "0",
        "steps": json.dumps([step("a", "send_email", template_id=tpl.pk)]),
    }
    page = owner.web.get(f"/w/{ws.slug}/journeys/new/").content.decode()
    assert 'name="trigger_survey_id"' in page and "Detractors (NPS 0-6)" in page
    response = owner.web.post(f"/w/{ws.slug}/journeys/new/", form)
    assert response.status_code == 302
    saved = Journey.objects.get(workspace=ws, name="Detractor follow-up")
    assert saved.trigger == {
        "kind": "survey_answered",
        "survey_id": nps.pk,
        "category": "detractor",
    }
    page = owner.web.get(response["Location"]).content.decode()
    assert "Answers survey “Quarterly NPS” as one of the detractors (NPS 0-6)" in page
    assert '<option value="detractor" selected>' in page
    ranged = {**form, "name": "Middle", "trigger_survey_id": "", "trigger_answer": "range"}
    owner.web.post(
        f"/w/{ws.slug}/journeys/new/",
        {**ranged, "trigger_score_min": "7", "trigger_score_max": "8"},
    )
    assert Journey.objects.get(name="Middle").trigger == {
        "kind": "survey_answered",
        "survey_id": None,
        "score_min": 7,
        "score_max": 8,
    }
    bad = owner.web.post(
        f"/w/{ws.slug}/journeys/new/", {**ranged, "name": "X", "trigger_score_min": "11"}
    )
    assert "trigger.score_min: must be a whole number from 0 to 10" in bad.content.decode()


def test_a_link_scanner_walking_the_scale_enters_no_journey(ws, nps, listening):
    """A gateway with a browser's user agent opens every link of the scale: its first
    tap looks like a detractor's answer until the burst shows, and settles never."""
    sorry, refer = listening
    contact = ContactFactory.create(workspace=ws)
    message = sent_message(nps, contact)
    client = Client(HTTP_USER_AGENT=BROWSER)
    for link in answer_links(message):
        client.get(link)
    assert SurveyResponse.objects.get(message_id=message.pk).is_bot
    assert settle() == 0
    assert entered(sorry) == [] and entered(refer) == []
