"""Recording answers: a tap on a score in a message, the hosted page's form, and the
follow-up comment.

How a link scanner is told from a person (docs/surveys.md). An email's scale is eleven
links, and security gateways (Outlook Safe Links, Mimecast, Proofpoint, …) open links
before the person does, some of them every link. So:

1. A HEAD request, a request that says it is a prefetch or preview (`Purpose`,
   `Sec-Purpose`, `X-Moz`), or one whose user agent is a known scanner
   (messaging's `is_bot`, the test its click tracking uses) records nothing: it gets
   the hosted page, where a person confirms with one more tap (a form POST, which
   scanners do not submit; no JavaScript needed).
2. A tap within `BOT_CLICK_SECONDS` of the message being sent records nothing either
   (the timing signature of a gateway scanning at delivery), and gets the same page.
3. A different score for the same send within `SCANNER_BURST_SECONDS` of the last tap
   is a scanner walking the scale with a browser's user agent: the answer is kept,
   marked `is_bot` and counted nowhere (reports, rules, the contact's facts). A person
   cannot go back to the mail and tap another score that fast; one who taps later, or
   confirms on the page, is counted again.
4. Otherwise a tap records the score at once. A later tap on another score changes it
   within `SURVEY_CHANGE_HOURS` of the first answer; after that the answer is locked.

Every counted answer (and change) that stands for SCANNER_BURST_SECONDS records a
`survey_answered` event on the contact (through contacts' `events_ingest`, which marks
the contact for the stage engine), so journeys and stage rules see it, and is offered
to the `on_survey_answered` hooks (journeys' "survey answered" trigger): settle.py."""

from __future__ import annotations

import datetime as dt
import enum
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from config.errors import InvalidInput, NotFound
from contacts.models import Contact
from contacts.services import contacts_mark_changed, events_ingest
from contacts.services.locks import contacts_hold
from lifecycle.selectors import contact_stage
from messaging.models import Message
from messaging.services.tracking import BOT_CLICK_SECONDS, is_bot
from surveys.facts import facts_refresh
from surveys.hooks import answers_changed
from surveys.models import Survey, SurveyResponse
from surveys.scales import category, score_range
from surveys.tokens import Send

logger = logging.getLogger(__name__)

SCANNER_BURST_SECONDS = 5
MAX_COMMENT = 5000


class Outcome(enum.StrEnum):
    RECORDED = "recorded"  # a new answer, or a changed one
    UNCHANGED = "unchanged"  # the same score again
    CONFIRM = "confirm"  # looked like a scanner or prefetch: nothing recorded
    DISCARDED = "discarded"  # a burst of scores: marked as a bot
    LOCKED = "locked"  # the change window is over


@dataclass(frozen=True)
class Tap:
    user_agent: str
    prefetch: bool = False
    head: bool = False


@dataclass(frozen=True)
class Resolved:
    survey: Survey
    contact: Contact | None
    message: Message | None


def change_window() -> dt.timedelta:
    return dt.timedelta(hours=settings.SURVEY_CHANGE_HOURS)


def send_resolve(send: Send) -> Resolved:
    """The survey, contact and message a signed token names, all in one workspace;
    NotFound when any of them is gone (or never belonged together)."""
    surveys = Survey.objects.select_related("workspace").filter(pk=send.survey_id)
    if send.workspace_id is not None:  # None: a link made before links carried it
        surveys = surveys.filter(workspace_id=send.workspace_id)
    survey = surveys.first()
    if survey is None:
        raise NotFound("No such survey.")
    contact = Contact.objects.filter(workspace_id=survey.workspace_id, pk=send.contact_id).first()
    if contact is None:
        raise NotFound("No such contact.")
    message = None
    if send.message_id:
        message = Message.objects.filter(
            workspace_id=survey.workspace_id, pk=send.message_id, contact_id=contact.pk
        ).first()
        if message is None:
            raise NotFound("No such message.")
    return Resolved(survey, contact, message)


def _contact_held(resolved: Resolved) -> None:
    """Before anything that points at the contact is written: the contact held for the
    answer's transaction (contacts_hold, the first lock of every writer), so that an
    erasure under way is waited for and a contact it took is no such contact, not an
    answer whose contact is gone at commit (a server error)."""
    contact = resolved.contact
    if contact is not None and not contacts_hold(contact_ids=[contact.pk]):
        raise NotFound("No such contact.")


def _check_score(survey: Survey, score: int) -> None:
    low, high = score_range(survey)
    if not low <= score <= high:
        raise InvalidInput(
            f"score: must be between {low} and {high}",
            fields={"score": [f"must be between {low} and {high}"]},
        )


def record_event(response: SurveyResponse, survey: Survey) -> None:
    """The contact's `survey_answered` event for this version of the answer (settle.py
    records it once the answer has stood; its key makes a second call a no-op)."""
    if response.contact_id is None:
        return
    events_ingest(
        workspace=survey.workspace,
        items=[
            {
                "contact": {"id": response.contact_id},
                "name": "survey_answered",
                "properties": {
                    "survey_id": survey.pk,
                    "survey": survey.name,
                    "kind": survey.kind,
                    "score": response.score,
                    "category": response.category,
                    "channel": response.channel,
                    "response_id": response.pk,
                },
                "occurred_at": response.updated_at.isoformat(),
                "idempotency_key": f"survey_answered:{response.pk}:{response.version}",
            }
        ],
    )


def _counted(response: SurveyResponse, survey: Survey) -> None:
    """After a counted answer or change: the contact's facts and the reports at once
    (a scanner burst takes them back); the event and the journeys once the answer has
    stood for SCANNER_BURST_SECONDS (settle.py), so a scanner's first tap reaches
    neither."""
    if response.contact_id is not None:
        facts_refresh(workspace_id=survey.workspace_id, contact_id=response.contact_id)
    answers_changed(
        workspace_id=survey.workspace_id, survey_id=survey.pk, response_ids=[response.pk]
    )
    logger.info(
        "surveys.answered survey=%s response=%s score=%s version=%s",
        survey.pk,
        response.pk,
        response.score,
        response.version,
    )


def _locked_row(survey: Survey, send_key: str) -> SurveyResponse | None:
    return (
        SurveyResponse.objects.select_for_update()
        .filter(workspace_id=survey.workspace_id, survey=survey, send_key=send_key)
        .first()
    )


def _create(
    resolved: Resolved, send_key: str, score: int, channel: str, now: dt.datetime
) -> SurveyResponse | None:
    """A new answer, or None when another request created it first."""
    survey, contact = resolved.survey, resolved.contact
    stage = contact_stage(contact_id=contact.pk) if contact is not None else None
    row = SurveyResponse(
        workspace_id=survey.workspace_id,
        survey=survey,
        contact=contact,
        send_key=send_key,
        score=score,
        category=category(survey.kind, score),
        channel=channel,
        message_id=resolved.message.pk if resolved.message else None,
        stage=stage.stage if stage else None,
        stage_name=stage.stage.name if stage else "",
        answered_at=now,
        updated_at=now,
        last_tap_at=now,
    )
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError:
        return None
    return row


def _change(row: SurveyResponse, survey: Survey, score: int, now: dt.datetime) -> None:
    row.score, row.category = score, category(survey.kind, score)
    row.is_bot, row.updated_at, row.last_tap_at = False, now, now
    row.version += 1
    row.taps += 1
    row.save(
        update_fields=[
            "score",
            "category",
            "is_bot",
            "updated_at",
            "last_tap_at",
            "version",
            "taps",
        ]
    )


def _looks_automated(resolved: Resolved, tap: Tap, now: dt.datetime) -> bool:
    if tap.head or is_bot(tap.user_agent, prefetch=tap.prefetch):
        return True
    sent_at = resolved.message.sent_at if resolved.message else None
    return sent_at is not None and now - sent_at < dt.timedelta(seconds=BOT_CLICK_SECONDS)


@transaction.atomic
def answer_tap(
    *, resolved: Resolved, send_key: str, score: int, channel: str, tap: Tap
) -> tuple[Outcome, SurveyResponse | None]:
    """A tap on a score in a message (steps 1-4 of the module docstring)."""
    survey = resolved.survey
    _check_score(survey, score)
    now = timezone.now()
    if _looks_automated(resolved, tap, now):
        return Outcome.CONFIRM, _locked_row(survey, send_key)
    _contact_held(resolved)
    row = _locked_row(survey, send_key)
    if row is None:
        row = _create(resolved, send_key, score, channel, now)
        if row is not None:
            _counted(row, survey)
            return Outcome.RECORDED, row
        row = _locked_row(survey, send_key)
        assert row is not None  # the request that won created it
    burst = now - row.last_tap_at < dt.timedelta(seconds=SCANNER_BURST_SECONDS)
    if burst and (row.is_bot or score != row.score):
        SurveyResponse.objects.filter(pk=row.pk).update(
            is_bot=True, last_tap_at=now, taps=row.taps + 1
        )
        if row.contact_id is not None:
            facts_refresh(workspace_id=survey.workspace_id, contact_id=row.contact_id)
            contacts_mark_changed(contact_ids=[row.contact_id])
        answers_changed(
            workspace_id=survey.workspace_id, survey_id=survey.pk, response_ids=[row.pk]
        )
        logger.info("surveys.scanner_burst survey=%s response=%s", survey.pk, row.pk)
        row.refresh_from_db()
        return Outcome.DISCARDED, row
    return _change_or_lock(row, survey, score, now)


def _change_or_lock(
    row: SurveyResponse, survey: Survey, score: int, now: dt.datetime
) -> tuple[Outcome, SurveyResponse]:
    if score == row.score and not row.is_bot:
        SurveyResponse.objects.filter(pk=row.pk).update(last_tap_at=now, taps=row.taps + 1)
        return Outcome.UNCHANGED, row
    if row.locked or now - row.answered_at > change_window():
        if not row.locked:
            SurveyResponse.objects.filter(pk=row.pk).update(locked=True)
            row.locked = True
        return Outcome.LOCKED, row
    _change(row, survey, score, now)
    _counted(row, survey)
    return Outcome.RECORDED, row


@transaction.atomic
def answer_submit(
    *,
    resolved: Resolved,
    send_key: str,
    score: int | None,
    comment: str | None,
    channel: str,
) -> tuple[Outcome, SurveyResponse]:
    """The hosted page's form: a deliberate POST (scanners do not submit forms), so it
    counts even after a burst was discarded. A score is optional when the answer
    exists (a comment alone); the change window applies to both."""
    survey = resolved.survey
    if comment is not None and len(comment) > MAX_COMMENT:
        raise InvalidInput(
            f"comment: at most {MAX_COMMENT} characters",
            fields={"comment": [f"at most {MAX_COMMENT} characters"]},
        )
    if score is not None:
        _check_score(survey, score)
    now = timezone.now()
    _contact_held(resolved)
    row = _locked_row(survey, send_key)
    outcome = Outcome.UNCHANGED
    if row is None:
        if score is None:
            raise InvalidInput("score: is required", fields={"score": ["is required"]})
        row = _create(resolved, send_key, score, channel, now) or _locked_row(survey, send_key)
        assert row is not None
        outcome = Outcome.RECORDED
        _counted(row, survey)
    elif row.locked or now - row.answered_at > change_window():
        return Outcome.LOCKED, row
    elif score is not None and (score != row.score or row.is_bot):
        _change(row, survey, score, now)
        _counted(row, survey)
        outcome = Outcome.RECORDED
    if comment is not None and comment.strip() != row.comment:
        row.comment = comment.strip().replace("\x00", "")
        row.updated_at = now
        row.save(update_fields=["comment", "updated_at"])
        answers_changed(
            workspace_id=survey.workspace_id, survey_id=survey.pk, response_ids=[row.pk]
        )
        outcome = Outcome.RECORDED
    return outcome, row
