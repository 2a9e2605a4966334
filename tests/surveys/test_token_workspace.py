"""Survey and review links carry the survey's workspace, so their lookups read one
workspace (one shard on Citus); links sent before that still work; and a link naming
workspace A cannot reach workspace B's survey."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core import signing
from django.test import Client

from lifecycle.services import stages_create_defaults
from surveys import tokens
from surveys.models import SurveyResponse
from tests.factories import ContactFactory
from tests.surveys.helpers import answer_links, nps_survey, sent_message

pytestmark = pytest.mark.django_db
BROWSER = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile"


def _old(kind: str, *parts: int) -> str:
    """A link's token as it was signed before it carried the workspace."""
    signer = signing.Signer(key=settings.SECRET_KEY, salt=tokens.SALTS[kind])
    return signer.sign(".".join(str(p) for p in parts))


@pytest.fixture
def sent(ws):
    stages_create_defaults(workspace=ws)
    contact = ContactFactory.create(workspace=ws)
    survey = nps_survey(ws)
    return survey, contact, sent_message(survey, contact)


def test_links_name_the_workspace(sent):
    survey, contact, message = sent
    token = answer_links(message)[7].split("/m/s/t/")[1].rstrip("/")
    send, score = tokens.read_answer(token)  # type: ignore[misc]
    assert send == tokens.Send(survey.pk, contact.pk, message.pk, survey.workspace_id)
    assert score == 7


def test_links_sent_before_the_workspace_was_carried_still_work(sent):
    survey, contact, message = sent
    client = Client(HTTP_USER_AGENT=BROWSER)
    tap = client.get(f"/m/s/t/{_old('answer', survey.pk, contact.pk, message.pk, 9)}/")
    assert tap.status_code == 303
    assert SurveyResponse.objects.get(survey=survey).score == 9
    page = client.get(f"/m/s/p/{_old('page', survey.pk, contact.pk, message.pk)}/")
    assert page.status_code == 200 and "Would you recommend us?" in page.content.decode()
    anonymous = client.get(f"/m/s/a/{_old('open', survey.pk)}/")
    assert anonymous.status_code == 200


def test_a_link_of_one_workspace_cannot_reach_another_workspaces_survey(sent, outsider):
    survey, contact, message = sent
    client = Client(HTTP_USER_AGENT=BROWSER)
    theirs = outsider.workspace.pk
    send = tokens.Send(survey.pk, contact.pk, message.pk, theirs)
    assert client.get(tokens.page_path(send)).status_code == 404
    answer = tokens.answer_url(send, 9).removeprefix(settings.BASE_URL)
    assert client.get(answer).status_code == 404
    assert client.get(tokens.open_path(survey.pk, workspace_id=theirs)).status_code == 404
    assert not SurveyResponse.objects.exists()
    mine = tokens.open_path(survey.pk, workspace_id=survey.workspace_id)
    assert client.get(mine).status_code == 200
