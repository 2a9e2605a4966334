"""A reply by SMS to a survey sent by SMS: "9" (or "9 thanks": the text must start with
the number) from a contact who was sent a survey by SMS in the last `REPLY_DAYS` days
is that contact's answer to the latest such send, with the same rules as a tap on the
hosted page (answers.py: one answer per send, changed within the change window, then
locked). Registered with messaging's inbound SMS hook in SurveysConfig.ready().

Only surveys whose answer is a number on a scale (NPS 0-10, CSAT 1-5, CES 1-7, a
custom scale) take replies: a choice's score is its position in a list the message
does not show. A number outside the scale is not an answer (nothing is recorded)."""

from __future__ import annotations

import datetime as dt
import logging
import re

from contacts.models import Channel
from messaging.inbound import InboundSms
from messaging.models import Message
from surveys.models import Channel as AnswerChannel
from surveys.models import Survey
from surveys.render import NAME
from surveys.scales import REPLY_KINDS, score_range
from surveys.services.answers import Outcome, Resolved, answer_submit

logger = logging.getLogger(__name__)

REPLY_DAYS = 7
# A whole number first; then the end, or a space or punctuation that does not continue
# it ("9.5", "9,5", "10/10" and "7th" are not answers; "9 thanks", "9!", "9. great" are).
_REPLY = re.compile(r"(\d{1,3})(?:$|(?![.,/]\d)[^\w])", re.DOTALL)


def reply_score(body: str) -> int | None:
    """The number a reply starts with, or None."""
    match = _REPLY.match(body.strip())
    return int(match.group(1)) if match else None


def latest_sms_survey(sms: InboundSms) -> tuple[Survey, Message] | None:
    """The latest survey sent by SMS to the contact in the last REPLY_DAYS days."""
    since = sms.received_at - dt.timedelta(days=REPLY_DAYS)
    recent = (
        Message.objects.filter(
            workspace_id=sms.workspace_id,
            contact_id=sms.contact.pk,
            channel=Channel.SMS,
            is_test=False,
            sent_at__gte=since,
            sent_at__lte=sms.received_at,
            template__body__regex=r"survey_[0-9]+",
        )
        .select_related("template")
        .order_by("-sent_at", "-id")
    )
    for message in recent[:20]:
        assert message.template is not None  # the filter is on its body
        ids = [int(i) for i in NAME.findall(message.template.body)]
        survey = Survey.objects.filter(workspace_id=sms.workspace_id, pk__in=ids).first()
        if survey is not None:
            return survey, message
    return None


def sms_reply_answer(sms: InboundSms) -> str | None:
    """The inbound SMS hook: None when the text is not a survey answer; else the
    reply (the survey's thank-you text when the answer was recorded)."""
    score = reply_score(sms.body)
    if score is None:
        return None
    found = latest_sms_survey(sms)
    if found is None:
        return None
    survey, message = found
    low, high = score_range(survey)
    if survey.kind not in REPLY_KINDS or not low <= score <= high:
        return None
    outcome, _ = answer_submit(
        resolved=Resolved(survey, sms.contact, message),
        send_key=f"m{message.pk}",
        score=score,
        comment=None,
        channel=AnswerChannel.SMS,
    )
    logger.info("surveys.sms_reply survey=%s message=%s outcome=%s", survey.pk, message.pk, outcome)
    return survey.thank_you if outcome == Outcome.RECORDED else ""
