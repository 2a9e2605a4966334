"""The email block editor's "Survey" block: a survey picked by id renders the same
one-tap scale a survey email carries, through the real pipeline (a blocks template
saved by the API, a message rendered as a worker renders it, a tap recorded); another
workspace's survey is refused by path; the editor offers the workspace's surveys."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from messaging.models import Message, Template
from messaging.services import message_enqueue
from messaging.services.outgoing import messages_render
from surveys.models import SurveyResponse
from tests.factories import ContactFactory
from tests.surveys.helpers import answer_links, nps_survey

pytestmark = pytest.mark.django_db

BROWSER = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile"


def document(*blocks: dict[str, Any]) -> dict[str, Any]:
    return {"sections": [{"columns": [{"blocks": list(blocks)}]}]}


def blocks_template(api: Any, doc: dict[str, Any]) -> Any:
    return api.post(
        "/api/v1/templates/",
        {
            "name": "Newsletter",
            "channel": "email",
            "subject": "News",
            "editor": "blocks",
            "document": doc,
        },
        format="json",
    )


def test_a_survey_block_renders_the_one_tap_scale_through_the_real_pipeline(api, ws):
    survey = nps_survey(ws, question="Would you recommend <Acme>?")
    created = blocks_template(
        api,
        document(
            {"type": "heading", "text": "Our news"},
            {"type": "survey", "survey_id": survey.pk},
        ),
    )
    assert created.status_code == 201, created.json()
    contact = ContactFactory.create(workspace=ws)
    template = Template.objects.get(pk=created.json()["id"])
    message = message_enqueue(contact=contact, template=template, idempotency_key="news").message
    message = Message.objects.select_related("contact", "template", "workspace").get(pk=message.pk)
    messages_render([message])
    Message.objects.filter(pk=message.pk).update(
        status="sent", sent_at=timezone.now() - dt.timedelta(minutes=1)
    )
    message.refresh_from_db()
    links = answer_links(message)
    assert len(links) == 11 and len(set(links)) == 11
    assert "Would you recommend &lt;Acme&gt;?" in message.body_html
    assert "Not at all likely" in message.body_html
    # The plain-text part lists each score with its link.
    assert re.search(r"^10: https?://\S+/m/s/t/\S+/$", message.body_text, re.MULTILINE)
    response = Client(HTTP_USER_AGENT=BROWSER).get(links[8])
    assert response.status_code == 303
    answer = SurveyResponse.objects.get(survey=survey)
    assert (answer.score, answer.message_id, answer.contact_id) == (8, message.pk, contact.pk)
    # A preview has no live links.
    preview = api.post(f"/api/v1/templates/{template.pk}/preview/", {}, format="json").json()
    assert "#preview-survey" in preview["html"] and "/m/s/t/" not in preview["html"]


@pytest.mark.parametrize(
    ("block", "reason"),
    [
        ({"type": "survey"}, "choose a survey"),
        ({"type": "survey", "survey_id": "1"}, "choose a survey"),
        ({"type": "survey", "survey_id": 999999}, "no such survey in this workspace"),
    ],
)
def test_a_bad_survey_block_is_refused_by_path(api, ws, block, reason):
    response = blocks_template(api, document({"type": "text", "text": "Hi"}, block))
    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert fields["document.sections[0].columns[0].blocks[1].survey_id"] == [reason]


def test_another_workspaces_survey_is_refused(api, outsider):
    theirs = nps_survey(outsider.workspace)
    response = blocks_template(api, document({"type": "survey", "survey_id": theirs.pk}))
    assert response.status_code == 400
    assert "no such survey in this workspace" in json.dumps(response.json())


def test_the_editor_offers_the_workspaces_surveys(owner, ws, outsider):
    nps_survey(ws, name="Quarterly <NPS>")
    nps_survey(outsider.workspace, name="Their survey")
    page = owner.web.get(f"/w/{ws.slug}/templates/new/").content.decode()
    island = re.search(r'<script id="blocks-options" type="application/json">(.*?)</script>', page)
    assert island, "no blocks-options island"
    options = json.loads(island.group(1))
    assert [c[1] for c in options["extra"]["survey"]["choices"]] == ["Quarterly <NPS>"]
    assert "Quarterly <NPS>" not in page  # only inside the escaped JSON island
