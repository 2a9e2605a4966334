"""Surveys and messages carrying them, rendered by the real send pipeline."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.utils import timezone

from messaging.models import Message
from messaging.services import message_enqueue
from messaging.services.outgoing import messages_render
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
