"""SMS replies to a survey sent by SMS (surveys/services/replies.py), through signed
Twilio inbound webhooks: the number is the answer to the latest survey sent by SMS in
the last seven days, with the change window and lock of a tap; STOP still opts out."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from twilio.request_validator import RequestValidator

from contacts.models import Event
from messaging.models import Message
from messaging.services.outgoing import messages_render
from surveys.models import SurveyResponse
from surveys.services import survey_ask
from tests.factories import ContactFactory, MessagingSettingsFactory
from tests.messaging.helpers import email_template, enqueue
from tests.surveys.helpers import ACTOR, nps_survey, settle

pytestmark = pytest.mark.django_db

TOKEN = "twilio-reply-token"
OUR_NUMBER = "+15005550006"
PHONE = "+14155550177"


@pytest.fixture
def sms_ws(ws, settings):
    settings.TWILIO_AUTH_TOKEN = TOKEN
    MessagingSettingsFactory.create(workspace=ws, sms_from_number=OUR_NUMBER)
    return ws


@pytest.fixture
def contact(sms_ws):
    return ContactFactory.create(workspace=sms_ws, phone=PHONE, sms_status="subscribed")


_sids = iter(range(1, 10**6))


def reply(body: str, *, sid: str | None = None, phone: str = PHONE, to: str = OUR_NUMBER) -> Any:
    """A signed Twilio inbound webhook, as Twilio sends it."""
    params = {"MessageSid": sid or f"SMr{next(_sids)}", "From": phone, "To": to, "Body": body}
    path = "/hooks/twilio/inbound/"
    signature = RequestValidator(TOKEN).compute_signature("http://127.0.0.1:8000" + path, params)
    response = Client().post(path, params, HTTP_X_TWILIO_SIGNATURE=signature)
    assert response.status_code == 200, response.content
    return response


def asked(survey: Any, contact: Any, *, days_ago: float = 1, channel: str = "sms") -> Message:
    """The survey asked by `channel` and sent `days_ago` days ago."""
    message = survey_ask(
        survey=survey,
        contact=contact,
        channel=channel,
        idempotency_key=f"t{days_ago}",
        actor=ACTOR,
    )
    sent_at = timezone.now() - dt.timedelta(days=days_ago)
    Message.objects.filter(pk=message.pk).update(status="delivered", sent_at=sent_at)
    return message


def answers(contact: Any) -> list[tuple[str, int, str, int | None]]:
    return list(
        SurveyResponse.objects.filter(contact=contact)
        .order_by("id")
        .values_list("survey__name", "score", "channel", "message_id")
    )


def test_a_reply_is_the_answer_to_the_latest_survey_sent_by_sms(sms_ws, contact):
    older = nps_survey(sms_ws, name="Quarterly NPS")
    latest = nps_survey(sms_ws, name="Delivery NPS", thank_you="Thanks <3")
    asked(older, contact, days_ago=3)
    message = asked(latest, contact, days_ago=1)
    response = reply(" 9 ")
    assert answers(contact) == [("Delivery NPS", 9, "sms", message.pk)]
    assert b"<Message>Thanks &lt;3</Message>" in response.content
    row = SurveyResponse.objects.get(contact=contact)
    assert (row.send_key, row.category) == (f"m{message.pk}", "promoter")
    settle()
    event = Event.objects.get(contact=contact, name="survey_answered")
    assert (event.properties["survey_id"], event.properties["score"]) == (latest.pk, 9)
    # STOP is still a keyword, not an answer, and opts the contact out.
    reply("STOP")
    contact.refresh_from_db()
    assert contact.sms_status == "unsubscribed"
    assert answers(contact) == [("Delivery NPS", 9, "sms", message.pk)]


@pytest.mark.parametrize(
    ("kind", "body", "score"),
    [
        ("nps", "0", 0),
        ("nps", "10", 10),
        ("nps", "9 thanks", 9),
        ("nps", "8, the delivery was late", 8),
        ("nps", "7!", 7),
        ("nps", "11", None),
        ("nps", "9.5", None),
        ("nps", "10/10", None),
        ("nps", "thanks 9", None),
        ("nps", "nine", None),
        ("nps", "7th", None),
        ("csat", "5", 5),
        ("csat", "0", None),
        ("csat", "6", None),
        ("ces", "1", 1),
        ("ces", "7 easy", 7),
        ("ces", "8", None),
    ],
)
def test_what_counts_as_an_answer(sms_ws, contact, kind, body, score):
    survey = nps_survey(sms_ws, kind=kind, question="How did we do?")
    asked(survey, contact)
    reply(body)
    assert [a[1] for a in answers(contact)] == ([] if score is None else [score])


def test_a_reply_changes_the_answer_within_the_window_then_it_is_locked(sms_ws, contact):
    survey = nps_survey(sms_ws)
    asked(survey, contact)
    reply("9", sid="SMa")
    reply("9", sid="SMa")  # Twilio's retry of the same message: applied once
    reply("3")
    row = SurveyResponse.objects.get(contact=contact)
    assert (row.score, row.category, row.version) == (3, "detractor", 2)
    SurveyResponse.objects.filter(pk=row.pk).update(
        answered_at=timezone.now() - dt.timedelta(hours=25)
    )
    assert b"<Message>" not in reply("10").content
    row.refresh_from_db()
    assert (row.score, row.version) == (3, 2)


def test_no_answer_without_a_survey_sent_by_sms_in_the_last_week(sms_ws, contact):
    survey = nps_survey(sms_ws)
    asked(survey, contact, days_ago=8)
    asked(survey, contact, days_ago=1, channel="email")
    enqueue([contact], email_template(sms_ws), prefix="plain")
    reply("9")
    assert answers(contact) == []
    # A choice question's score is a position the SMS does not show: not an answer.
    choice = nps_survey(
        sms_ws, name="Pick", kind="choice", question="Which?", choices=["Red", "Blue"]
    )
    asked(choice, contact, days_ago=0.5)
    reply("1")
    assert answers(contact) == []


def test_another_workspaces_number_or_contact_gets_nothing(sms_ws, contact, outsider):
    survey = nps_survey(sms_ws)
    asked(survey, contact)
    MessagingSettingsFactory.create(workspace=outsider.workspace, sms_from_number="+15005550007")
    ContactFactory.create(workspace=outsider.workspace, phone=PHONE)
    reply("9", to="+15005550007")  # the same phone, texting the other workspace
    reply("9", phone="+14155550999")  # someone we never asked
    assert SurveyResponse.objects.count() == 0
    reply("9")
    assert answers(contact)[0][1] == 9


def test_the_sms_says_a_reply_answers_it(sms_ws, contact):
    nps = nps_survey(sms_ws, question="Would you recommend us?")
    csat = nps_survey(sms_ws, name="CSAT", kind="csat", question="Wie war's?", locale="de")
    choice = nps_survey(sms_ws, name="Pick", kind="choice", question="Which?", choices=["A", "B"])
    bodies = []
    for survey in (nps, csat, choice):
        message = Message.objects.select_related("contact", "template", "workspace").get(
            pk=asked(survey, contact).pk
        )
        messages_render([message])
        message.refresh_from_db()
        bodies.append(message.body_text)
    assert re.fullmatch(r"Would you recommend us\? Reply 0-10 or tap: \S+/m/s/\S+", bodies[0])
    assert bodies[1].startswith("Wie war's? Antworten Sie mit 1-5 oder tippen Sie: ")
    assert re.fullmatch(r"Which\? \S+/m/s/\S+", bodies[2])


def comment_of(contact: Any) -> str:
    return SurveyResponse.objects.get(contact=contact).comment


def test_words_after_the_score_are_the_comment_and_a_later_text_adds_to_it(sms_ws, contact):
    survey = nps_survey(sms_ws, thank_you="Thanks!")
    asked(survey, contact)
    response = reply("9 great service")
    assert b"<Message>Thanks!</Message>" in response.content
    row = SurveyResponse.objects.get(contact=contact)
    assert (row.score, row.comment) == (9, "great service")
    assert b"your comment was saved" in reply("And the courier was <b>kind</b>").content
    assert comment_of(contact) == "great service\nAnd the courier was <b>kind</b>"
    # STOP right after answering is still the keyword, not a comment.
    reply("STOP")
    contact.refresh_from_db()
    assert contact.sms_status == "unsubscribed"
    assert comment_of(contact) == "great service\nAnd the courier was <b>kind</b>"
    assert SurveyResponse.objects.get(contact=contact).score == 9


@pytest.mark.parametrize(
    ("body", "comment"),
    [
        ("8, the delivery was late", "the delivery was late"),
        ("10! fast", "fast"),
        ("7 - ok I guess", "ok I guess"),
        ("9", ""),
        ("9 ", ""),
    ],
)
def test_the_comment_is_the_text_after_the_number(sms_ws, contact, body, comment):
    asked(nps_survey(sms_ws), contact)
    reply(body)
    assert comment_of(contact) == comment


def test_a_text_is_a_comment_only_shortly_after_answering_by_sms(sms_ws, contact):
    survey = nps_survey(sms_ws)
    asked(survey, contact)
    reply("Hello?")  # no answer yet: not a comment, nothing recorded
    assert answers(contact) == []
    reply("6")
    SurveyResponse.objects.filter(contact=contact).update(
        last_tap_at=timezone.now() - dt.timedelta(minutes=61)
    )
    assert b"<Message>" not in reply("The app kept crashing").content
    assert comment_of(contact) == ""
    # Answered by email (a tap), a text is not that answer's comment either.
    other = ContactFactory.create(workspace=sms_ws, phone="+14155550178", sms_status="subscribed")
    email = nps_survey(sms_ws, name="By email")
    message = asked(email, other, channel="email")
    SurveyResponse.objects.create(
        workspace=sms_ws,
        survey=email,
        contact=other,
        send_key=f"m{message.pk}",
        score=3,
        channel="email",
        message_id=message.pk,
    )
    reply("Terrible", phone="+14155550178")
    assert SurveyResponse.objects.get(contact=other).comment == ""
