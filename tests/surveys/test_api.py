"""Surveys over the API: CRUD, answers, results, sending; an outsider gets 404s."""

from __future__ import annotations

import pytest
from django.test import Client

from contacts.models import Segment
from surveys.models import Survey
from tests.factories import ContactFactory
from tests.surveys.helpers import answer_links, nps_survey, sent_message

pytestmark = pytest.mark.django_db

URL = "/api/v1/surveys/"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126 Safari/537.36"


def test_crud(api):
    created = api.post(
        URL,
        {
            "name": "CSAT after support",
            "kind": "csat",
            "question": "How did we do?",
            "locale": "de",
            "transactional": True,
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["locale"] == "de" and body["transactional"] is True
    assert "/m/s/a/" in body["open_url"]
    assert (
        api.post(
            URL, {"name": "CSAT after support", "kind": "nps", "question": "?"}, format="json"
        ).status_code
        == 409
    )
    sid = body["id"]
    patched = api.patch(f"{URL}{sid}/", {"thank_you": "Danke!"}, format="json")
    assert patched.status_code == 200 and patched.json()["thank_you"] == "Danke!"
    assert [s["name"] for s in api.get(URL).json()["results"]] == ["CSAT after support"]
    assert api.delete(f"{URL}{sid}/").status_code == 204
    assert api.get(f"{URL}{sid}/").status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "nps", "question": "Q"}, "name"),
        ({"name": "A", "kind": "stars", "question": "Q"}, "kind"),
        ({"name": "A", "kind": "nps", "question": ""}, "question"),
        (
            {"name": "A", "kind": "scale", "question": "Q", "scale_min": 5, "scale_max": 3},
            "scale_max",
        ),
        (
            {"name": "A", "kind": "scale", "question": "Q", "scale_min": 0, "scale_max": 99},
            "scale_max",
        ),
        ({"name": "A", "kind": "choice", "question": "Q", "choices": ["one"]}, "choices"),
        ({"name": "A", "kind": "choice", "question": "Q", "choices": "a,b"}, "choices"),
        ({"name": "A", "kind": "nps", "question": "Q", "locale": "xx"}, "locale"),
        ({"name": "A", "kind": "nps", "question": "Q", "transactional": "yes"}, "transactional"),
        ({"name": "A", "kind": "nps", "question": "Q", "colour": "red"}, "colour"),
        ({"name": "x" * 201, "kind": "nps", "question": "Q"}, "name"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(api, body, field):
    response = api.post(URL, body, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["error"]["fields"]
    assert not Survey.objects.exists()


def test_responses_and_results(api, ws):
    survey = nps_survey(ws)
    client = Client(HTTP_USER_AGENT=BROWSER)
    scores = [10, 9, 9, 8, 3]
    for score in scores:
        contact = ContactFactory.create(workspace=ws)
        client.get(answer_links(sent_message(survey, contact))[score])
    listed = api.get(f"{URL}{survey.pk}/responses/").json()["results"]
    assert sorted(r["score"] for r in listed) == sorted(scores)
    assert {r["channel"] for r in listed} == {"email"}
    results = api.get(f"{URL}{survey.pk}/results/").json()
    # 3 promoters, 1 detractor of 5 answers: 60% - 20% = 40.
    assert results["answers"] == 5 and results["nps"] == pytest.approx(40.0)
    distribution = {d["score"]: d["answers"] for d in results["distribution"]}
    assert distribution[9] == 2 and distribution[0] == 0
    assert results["by_channel"][0] == {
        "channel": "email",
        "answers": 5,
        "sent": None,  # counted by beat (analytics.survey_sends_refresh), not yet run
        "response_rate": None,
    }


def test_send_to_a_segment_makes_a_broadcast(api, ws):
    survey = nps_survey(ws)
    segment = Segment.objects.create(workspace=ws, name="All", rule={"all": []})
    no_channel = api.post(
        f"{URL}{survey.pk}/send/", {"include_segment_ids": [segment.pk]}, format="json"
    )
    assert no_channel.status_code == 400 and "channel" in no_channel.json()["error"]["fields"]
    bad = api.post(f"{URL}{survey.pk}/send/", {"channel": "email", "subject": "Hi"}, format="json")
    assert bad.status_code == 400 and "include_segment_ids" in bad.json()["error"]["fields"]
    null: dict[str, object] = {"channel": "email", "subject": "Hi", "include_stage_ids": None}
    null["include_segment_ids"] = [segment.pk]
    refused = api.post(f"{URL}{survey.pk}/send/", null, format="json")
    assert refused.status_code == 400
    assert refused.json()["error"]["fields"] == {"include_stage_ids": ["must be a list of ids"]}
    no_subject = api.post(
        f"{URL}{survey.pk}/send/",
        {"channel": "email", "include_segment_ids": [segment.pk]},
        format="json",
    )
    assert no_subject.status_code == 400 and "subject" in no_subject.json()["error"]["fields"]
    sent = api.post(
        f"{URL}{survey.pk}/send/",
        {"channel": "email", "subject": "One question", "include_segment_ids": [segment.pk]},
        format="json",
    )
    assert sent.status_code == 201, sent.json()
    assert sent.json()["status"] == "scheduled"


def test_ask_one_contact_once(api, ws):
    survey = nps_survey(ws, transactional=True)
    contact = ContactFactory.create(workspace=ws)
    body = {"contact_id": contact.pk, "idempotency_key": "case-17"}
    first = api.post(f"{URL}{survey.pk}/ask/", body, format="json")
    assert first.status_code == 201, first.json()
    again = api.post(f"{URL}{survey.pk}/ask/", body, format="json")
    assert again.json()["message_id"] == first.json()["message_id"]
    bad = api.post(f"{URL}{survey.pk}/ask/", {"contact_id": 0}, format="json")
    assert bad.status_code == 400
    assert set(bad.json()["error"]["fields"]) == {"contact_id", "idempotency_key"}


def test_an_outsider_gets_404s(outsider_api, ws):
    survey = nps_survey(ws)
    for path in ("", "responses/", "results/"):
        assert outsider_api.get(f"{URL}{survey.pk}/{path}").status_code == 404
    assert outsider_api.patch(f"{URL}{survey.pk}/", {"name": "x"}, format="json").status_code == 404
    assert outsider_api.delete(f"{URL}{survey.pk}/").status_code == 404
    assert outsider_api.post(f"{URL}{survey.pk}/send/", {}, format="json").status_code == 404
    assert outsider_api.get(URL).json()["results"] == []
    assert Survey.objects.get(pk=survey.pk).name == "Quarterly NPS"
