"""One-tap answers from an email rendered by the real pipeline: recorded at once,
changed within the window and locked after it; link scanners record nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from config.errors import NotFound
from contacts.models import Event
from contacts.services.erasure import contact_erase
from lifecycle.services import stages_create_defaults, sweep_now
from surveys.models import ContactSurveyFacts, SurveyResponse
from surveys.services.answers import SCANNER_BURST_SECONDS, Tap, answer_tap, send_resolve
from surveys.tokens import Send, open_url
from tests.factories import ContactFactory
from tests.surveys.helpers import answer_links, nps_survey, sent_message, settle
from workspaces.services import Actor

pytestmark = pytest.mark.django_db

BROWSER = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile"


@pytest.fixture
def sent(ws):
    stages_create_defaults(workspace=ws)
    contact = ContactFactory.create(workspace=ws, email="robin@example.com")
    sweep_now(workspace=ws)
    survey = nps_survey(ws, follow_up_low="What went wrong?", follow_up_high="What did you love?")
    return survey, contact, sent_message(survey, contact)


def test_the_email_carries_eleven_signed_one_tap_links(sent):
    _survey, _contact, message = sent
    links = answer_links(message)
    assert len(links) == 11
    assert len(set(links)) == 11
    assert "Would you recommend us?" in message.body_html
    assert "Not at all likely" in message.body_html and "Extremely likely" in message.body_html
    # Survey links are not rewritten into click-tracking redirects.
    assert "/m/c/" not in " ".join(links)


def test_a_tap_records_the_score_at_once_and_opens_the_follow_up(sent):
    survey, contact, message = sent
    client = Client(HTTP_USER_AGENT=BROWSER)
    response = client.get(answer_links(message)[3])
    assert response.status_code == 303
    row = SurveyResponse.objects.get(survey=survey)
    assert (row.score, row.category, row.channel) == (3, "detractor", "email")
    assert row.message_id == message.pk and row.contact_id == contact.pk
    assert row.stage_name  # the stage the contact was in
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert "What went wrong?" in page.content.decode()
    saved = client.post(response["Location"], {"comment": "Too slow <b>delivery</b>"})
    assert saved.status_code == 303
    row.refresh_from_db()
    assert row.comment == "Too slow <b>delivery</b>"
    thanks = client.get(saved["Location"]).content.decode()
    assert "Thank you for your answer." in thanks
    assert "Too slow &lt;b&gt;delivery&lt;/b&gt;" in thanks
    # The event is told once the answer has stood (a scanner's burst would not).
    assert not Event.objects.filter(contact=contact, name="survey_answered").exists()
    assert settle() == 1
    event = Event.objects.get(contact=contact, name="survey_answered")
    assert event.properties["score"] == 3 and event.properties["category"] == "detractor"
    facts = ContactSurveyFacts.objects.get(contact=contact)
    assert (facts.nps_score, facts.nps_category) == (3, "detractor")


def test_a_second_tap_changes_the_score_inside_the_window_and_not_after(sent, settings):
    survey, contact, message = sent
    links = answer_links(message)
    client = Client(HTTP_USER_AGENT=BROWSER)
    client.get(links[6])
    settle()
    row = SurveyResponse.objects.get(survey=survey)
    # A person goes back to the mail and taps another score a minute later.
    SurveyResponse.objects.filter(pk=row.pk).update(
        last_tap_at=timezone.now() - dt.timedelta(minutes=1)
    )
    client.get(links[9])
    row.refresh_from_db()
    assert (row.score, row.category, row.version, row.is_bot) == (9, "promoter", 2, False)
    settle()
    assert Event.objects.filter(contact=contact, name="survey_answered").count() == 2
    # A day and a bit later the answer is locked.
    past = timezone.now() - dt.timedelta(hours=settings.SURVEY_CHANGE_HOURS + 1)
    SurveyResponse.objects.filter(pk=row.pk).update(answered_at=past, last_tap_at=past)
    page = client.get(links[2], follow=True)
    row.refresh_from_db()
    assert row.score == 9 and row.locked
    assert "can no longer be changed" in page.content.decode()
    assert client.post(page.redirect_chain[-1][0], {"score": "1"}).status_code == 409
    row.refresh_from_db()
    assert row.score == 9


@pytest.mark.parametrize(
    ("method", "headers"),
    [
        ("head", {"HTTP_USER_AGENT": BROWSER}),
        ("get", {"HTTP_USER_AGENT": "Mozilla/5.0 (compatible; Mimecast URL Protect)"}),
        ("get", {"HTTP_USER_AGENT": "Microsoft Office Protection"}),
        ("get", {"HTTP_USER_AGENT": ""}),
        ("get", {"HTTP_USER_AGENT": BROWSER, "HTTP_SEC_PURPOSE": "prefetch"}),
    ],
)
def test_a_scanner_that_opens_every_link_records_nothing(sent, method, headers):
    survey, contact, message = sent
    client = Client(**headers)
    for link in answer_links(message):
        assert getattr(client, method)(link).status_code == 200
    assert not SurveyResponse.objects.filter(survey=survey).exists()
    assert not Event.objects.filter(contact=contact, name="survey_answered").exists()


def test_a_scanner_at_delivery_time_records_nothing(ws):
    """The timing signature of a gateway: every link within seconds of the send."""
    contact = ContactFactory.create(workspace=ws)
    survey = nps_survey(ws)
    message = sent_message(survey, contact, sent_seconds_ago=1)
    client = Client(HTTP_USER_AGENT=BROWSER)
    for link in answer_links(message):
        page = client.get(link)
        assert page.status_code == 200 and "Please confirm your answer." in page.content.decode()
    assert not SurveyResponse.objects.filter(survey=survey).exists()


def test_a_scanner_with_a_browser_agent_walking_the_scale_counts_nothing(sent):
    """Later than the delivery window and with a browser's user agent: the first link
    records, the burst of other scores marks the answer a bot's; it counts nowhere."""
    survey, contact, message = sent
    client = Client(HTTP_USER_AGENT=BROWSER)
    for link in answer_links(message):
        client.get(link)
    row = SurveyResponse.objects.get(survey=survey)
    assert row.is_bot and row.taps == 11
    assert SurveyResponse.objects.filter(survey=survey).count() == 1
    facts = ContactSurveyFacts.objects.get(contact=contact)
    assert facts.nps_score is None and facts.last_answered_at is None
    # Not even the first tap reaches the contact's events (or a journey listening).
    assert settle() == 0
    assert not Event.objects.filter(contact=contact, name="survey_answered").exists()
    # The person taps later (after the burst): that counts.
    SurveyResponse.objects.filter(pk=row.pk).update(
        last_tap_at=timezone.now() - dt.timedelta(seconds=SCANNER_BURST_SECONDS + 1)
    )
    client.get(answer_links(message)[10])
    row.refresh_from_db()
    assert (row.score, row.is_bot) == (10, False)
    assert settle() == 1
    event = Event.objects.get(contact=contact, name="survey_answered")
    assert event.properties["score"] == 10


def test_bad_tokens_are_400s(sent):
    survey, _contact, message = sent
    client = Client(HTTP_USER_AGENT=BROWSER)
    link = answer_links(message)[5]
    assert client.get(link.replace("/m/s/t/", "/m/s/t/x")).status_code == 400
    # Another signature (its last two characters changed, never to what they were).
    tampered = "AB" if link[-3:-1] != "AB" else "AC"
    assert client.get(link[:-3] + tampered + "/").status_code == 400
    assert client.get("/m/s/p/nonsense/").status_code == 400
    assert client.get("/m/s/a/1:abc/").status_code == 400
    # A page token replayed as an answer token is refused (salts differ).
    page = client.get(link)["Location"].split("/m/s/p/")[1]
    assert client.get(f"/m/s/t/{page}").status_code == 400
    assert SurveyResponse.objects.filter(survey=survey).count() == 1


def test_an_out_of_range_score_on_the_page_is_a_400(sent):
    survey, _contact, message = sent
    client = Client(HTTP_USER_AGENT=BROWSER)
    location = client.get(answer_links(message)[8])["Location"]
    assert client.post(location, {"score": "11"}).status_code == 400
    assert client.post(location, {"score": "seven"}).status_code == 400
    assert SurveyResponse.objects.get(survey=survey).score == 8


def test_the_anonymous_page_is_one_answer_per_visitor_and_rate_limited(ws, settings):
    settings.SURVEY_PAGE_RATE_PER_MINUTE = 5
    survey = nps_survey(ws)
    path = (
        open_url(survey.pk, workspace_id=survey.workspace_id)
        .split("testserver")[-1]
        .replace(settings.BASE_URL, "")
    )
    client = Client()
    assert client.get(path).status_code == 200
    assert client.post(path, {"score": "10"}).status_code == 303
    assert client.post(path, {"score": "9", "comment": "Great"}).status_code == 303
    row = SurveyResponse.objects.get(survey=survey)
    assert (row.score, row.comment, row.contact_id, row.channel) == (9, "Great", None, "link")
    for _ in range(3):
        client.get(path)
    assert client.get(path).status_code == 429


def test_a_tap_for_a_contact_erased_meanwhile_is_no_such_contact(sent):
    """The link was resolved, then the contact erased before the answer was written
    (a person tapping while an erasure runs): the answer waits for the contact and
    finds it gone — no answer, no server error."""
    survey, contact, message = sent
    send = Send(survey.pk, contact.pk, message.pk, survey.workspace_id)
    resolved = send_resolve(send)
    contact_erase(contact=contact, actor=Actor(system="test"))
    with pytest.raises(NotFound):
        answer_tap(
            resolved=resolved,
            send_key=send.key,
            score=9,
            channel="email",
            tap=Tap(user_agent=BROWSER, prefetch=False, head=False),
        )
    assert not SurveyResponse.objects.filter(survey=survey).exists()
