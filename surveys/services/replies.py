"""A reply by SMS to a survey sent by SMS: "9" (or "9 thanks": the text must start with
the number) from a contact who was sent a survey by SMS in the last `REPLY_DAYS` days
is that contact's answer to the latest such send, with the same rules as a tap on the
hosted page (answers.py: one answer per send, changed within the change window, then
locked). Registered with messaging's inbound SMS hook in SurveysConfig.ready().

Only surveys whose answer is a number on a scale (NPS 0-10, CSAT 1-5, CES 1-7, a
custom scale) take replies: a choice's score is its position in a list the message
does not show. A number outside the scale is not an answer (nothing is recorded).

The words after the number are the follow-up comment ("9 great service": score 9,
comment "great service"). A text without a number, from a contact who answered by SMS
in the last `COMMENT_MINUTES` minutes, is the follow-up comment of that answer (added
to any comment it has), within the answer's change window like the hosted page's."""

from __future__ import annotations

import datetime as dt
import logging
import re

from django.utils import timezone

from contacts.models import Channel
from messaging.inbound import InboundSms
from messaging.models import Message
from surveys.models import Channel as AnswerChannel
from surveys.models import Survey, SurveyResponse
from surveys.render import NAME
from surveys.scales import REPLY_KINDS, score_range, text
from surveys.services.answers import MAX_COMMENT, Outcome, Resolved, answer_submit

logger = logging.getLogger(__name__)

REPLY_DAYS = 7
COMMENT_MINUTES = 60
# A whole number first; then the end, or a space or punctuation that does not continue
# it ("9.5", "9,5", "10/10" and "7th" are not answers; "9 thanks", "9!", "9. great" are).
_REPLY = re.compile(r"(\d{1,3})(?:$|(?![.,/]\d)[^\w])", re.DOTALL)


# What separates the number from the words after it ("8, late", "9 - great", "10! fast").
_SEPARATOR = re.compile("^[\\s.,;:!?\\-\u2013\u2014]+")


def reply_score(body: str) -> int | None:
    """The number a reply starts with, or None."""
    return reply_parts(body)[0]


def reply_parts(body: str) -> tuple[int | None, str]:
    """The number a reply starts with (or None) and the words after it (the whole
    text when there is no number)."""
    trimmed = body.strip()
    match = _REPLY.match(trimmed)
    if match is None:
        return None, trimmed
    return int(match.group(1)), _SEPARATOR.sub("", trimmed[match.end(1) :]).strip()


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


def _comment(words: str) -> str:
    return words.replace("\x00", "")[:MAX_COMMENT]


def sms_reply_comment(sms: InboundSms, words: str) -> str | None:
    """A text without a score: the follow-up comment of the contact's answer by SMS
    in the last COMMENT_MINUTES minutes (None when there is none, or no text)."""
    if not words:
        return None
    since = sms.received_at - dt.timedelta(minutes=COMMENT_MINUTES)
    row = (
        SurveyResponse.objects.filter(
            workspace_id=sms.workspace_id,
            contact_id=sms.contact.pk,
            channel=AnswerChannel.SMS,
            is_bot=False,
            last_tap_at__gte=since,
            last_tap_at__lte=max(sms.received_at, timezone.now()),
        )
        .select_related("survey__workspace")
        .order_by("-last_tap_at", "-id")
        .first()
    )
    if row is None:
        return None
    message = (
        Message.objects.filter(workspace_id=sms.workspace_id, pk=row.message_id).first()
        if row.message_id is not None
        else None
    )
    comment = f"{row.comment}\n{words}" if row.comment else words
    outcome, _ = answer_submit(
        resolved=Resolved(row.survey, sms.contact, message),
        send_key=row.send_key,
        score=None,
        comment=_comment(comment),
        channel=AnswerChannel.SMS,
    )
    logger.info(
        "surveys.sms_comment survey=%s response=%s outcome=%s", row.survey_id, row.pk, outcome
    )
    return text(row.survey, "comment_saved") if outcome == Outcome.RECORDED else ""


def sms_reply_answer(sms: InboundSms) -> str | None:
    """The inbound SMS hook: None when the text is not a survey answer or comment;
    else the reply (the survey's thank-you text when the answer was recorded)."""
    score, words = reply_parts(sms.body)
    if score is None:
        return sms_reply_comment(sms, words)
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
        comment=_comment(words) or None,
        channel=AnswerChannel.SMS,
    )
    logger.info("surveys.sms_reply survey=%s message=%s outcome=%s", survey.pk, message.pk, outcome)
    return survey.thank_you if outcome == Outcome.RECORDED else ""
