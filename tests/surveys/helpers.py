"""Surveys and messages carrying them, rendered by the real send pipeline."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.utils import timezone

from contacts.services import contacts_mark_changed
from messaging.models import Message
from messaging.services import message_enqueue
from messaging.services.outgoing import messages_render
from surveys import scales
from surveys.hooks import answers_changed
from surveys.models import SurveyResponse
from surveys.services import survey_create
from surveys.services.answers import SCANNER_BURST_SECONDS
from surveys.services.sending import survey_template
from surveys.services.settle import answers_settle
from workspaces.services import Actor

ACTOR = Actor(system="test")
ANSWER_LINK = re.compile(r'href="(https?://[^"]*/m/s/t/[^"]+/)"')


def nps_survey(ws: Any, **data: Any) -> Any:
    body = {"name": "Quarterly NPS", "kind": "nps", "question": "Would you recommend us?"}
    return survey_create(workspace=ws, data={**body, **data}, actor=ACTOR)


def sent_message(survey: Any, contact: Any, *, sent_seconds_ago: int = 60) -> Message:
    """A survey email for `contact`, rendered as a worker renders it, marked sent."""
    template = survey_template(
        survey=survey, channel="email", subject="Quick question", intro="Hi", actor=ACTOR
    )
    message = message_enqueue(
        contact=contact, template=template, idempotency_key=f"t:{contact.pk}:{template.pk}"
    ).message
    message = Message.objects.select_related("contact", "template", "workspace").get(pk=message.pk)
    messages_render([message])
    Message.objects.filter(pk=message.pk).update(
        status="sent", sent_at=timezone.now() - dt.timedelta(seconds=sent_seconds_ago)
    )
    message.refresh_from_db()
    return message


def settle() -> int:
    """What beat does once the answers have stood SCANNER_BURST_SECONDS: their events
    and the journeys' trigger are told (surveys/services/settle.py)."""
    return answers_settle(now=timezone.now() + dt.timedelta(seconds=SCANNER_BURST_SECONDS + 1))


def answer_links(message: Message) -> list[str]:
    """The one-tap links in the message, in scale order, as paths."""
    return [re.sub(r"^https?://[^/]+", "", url) for url in ANSWER_LINK.findall(message.body_html)]


def answer_change(row: SurveyResponse, score: int) -> None:
    """As a later tap changes an answer (services/answers.py `_change`): a new score, a
    new version (settled again later), counted again if it was discarded."""
    row.score, row.category = score, scales.category(row.survey.kind, score)
    row.is_bot, row.version = False, row.version + 1
    row.save(update_fields=["score", "category", "is_bot", "version"])
    answers_changed(workspace_id=row.workspace_id, survey_id=row.survey_id, response_ids=[row.pk])


def answer_discard(row: SurveyResponse) -> None:
    """As a scanner's burst is discarded (services/answers.py `answer_tap`): the answer
    counted nowhere, its contact marked for the engine at once."""
    SurveyResponse.objects.filter(pk=row.pk).update(is_bot=True)
    if row.contact_id is not None:
        contacts_mark_changed(contact_ids=[row.contact_id])
    answers_changed(workspace_id=row.workspace_id, survey_id=row.survey_id, response_ids=[row.pk])
