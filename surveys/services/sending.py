"""Asking a survey: to an audience (segments and stages) as a broadcast, which is a
marketing message like any other (consent, suppression, caps and quiet hours apply
when a worker sends it); or to one contact (the API; a transactional survey skips
caps and quiet hours there). The message's template is built from the survey: the
marketer gives a subject and an optional opening line, never HTML."""

from __future__ import annotations

import html
from typing import Any

from django.db import transaction
from django.utils import timezone

from config.errors import Conflict, field_errors
from contacts.models import Channel, Contact
from messaging.models import Message, Template
from messaging.services import message_enqueue
from messaging.services.templates import template_create
from surveys.hooks import Sent, audience_send
from surveys.models import Survey
from surveys.render import scale_block, sms_body
from surveys.services.reviews import review_requests_record
from workspaces.services import Actor, audit_record

SEND_FIELDS = ("channel", "subject", "intro", "include_segment_ids", "include_stage_ids")
MAX_INTRO = 2000


def _clean(data: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(data) - set(SEND_FIELDS))
    errors: dict[str, list[str]] = {key: ["unknown field"] for key in unknown}
    channel = data.get("channel")
    if channel is None:
        errors["channel"] = ["is required: email or sms"]
    elif channel not in (Channel.EMAIL, Channel.SMS):
        errors["channel"] = ["one of email, sms"]
    subject, intro = data.get("subject", ""), data.get("intro", "")
    if not isinstance(subject, str) or not isinstance(intro, str):
        errors["subject" if not isinstance(subject, str) else "intro"] = ["must be text"]
    elif channel == Channel.EMAIL and not subject.strip():
        errors["subject"] = ["an email needs a subject"]
    elif len(subject) > 500:
        errors["subject"] = ["at most 500 characters"]
    elif len(intro) > MAX_INTRO:
        errors["intro"] = [f"at most {MAX_INTRO} characters"]
    if errors:
        raise field_errors(errors)
    return {"channel": channel, "subject": subject.strip(), "intro": intro.strip()}


def _body(survey: Survey, intro: str) -> str:
    """The email: the opening line (escaped; `{{ first_name }}` still personalises),
    then the scale."""
    opening = "".join(
        f'<p style="font:16px/1.5 Arial,sans-serif;margin:0 0 16px">{html.escape(line)}</p>'
        for line in intro.splitlines()
        if line.strip()
    )
    return f'<div style="max-width:560px">{opening}{scale_block(survey.pk)}</div>'


def survey_template(
    *, survey: Survey, channel: str, subject: str, intro: str, actor: Actor, name: str = ""
) -> Template:
    stamp = timezone.now().strftime("%Y-%m-%d %H:%M:%S.%f")
    name = name or f"Survey “{survey.name}” {stamp}"
    data: dict[str, Any] = {"name": name[:200], "channel": channel}
    if channel == Channel.SMS:
        opening = f"{intro} " if intro else ""
        data["body"] = opening + sms_body(survey.pk)
    else:
        data.update(subject=subject, body=_body(survey, intro))
    return template_create(workspace=survey.workspace, data=data, actor=actor)


@transaction.atomic
def survey_send(*, survey: Survey, data: dict[str, Any], actor: Actor) -> Sent:
    """Send the survey now to the contacts of the segments and stages named, as a
    broadcast (its report shows delivery; the survey's report shows the answers)."""
    cleaned = _clean({k: v for k, v in data.items() if k in ("channel", "subject", "intro")})
    audience = {k: data.get(k, []) for k in ("include_segment_ids", "include_stage_ids")}
    errors = {key: ["unknown field"] for key in sorted(set(data) - set(SEND_FIELDS))}
    for key, ids in audience.items():
        if not isinstance(ids, list):  # null too: leave it out for none
            errors[key] = ["must be a list of ids"]
    if errors:
        raise field_errors(errors)
    template = survey_template(survey=survey, actor=actor, **cleaned)
    sent = audience_send(
        workspace=survey.workspace,
        name=template.name,
        channel=cleaned["channel"],
        template_id=template.pk,
        include_segment_ids=audience["include_segment_ids"],
        include_stage_ids=audience["include_stage_ids"],
        actor=actor,
    )
    audit_record(
        workspace=survey.workspace,
        action="survey.sent",
        actor=actor,
        object_type="survey",
        object_id=survey.pk,
        details={"broadcast_id": sent.broadcast_id},
    )
    return sent


def ask_template(*, survey: Survey, channel: str, actor: Actor) -> Template:
    """The template that asks one contact by `channel` (the question as the subject,
    the scale as the body), made the first time it is needed and reused after: the
    API's ask and a journey's "send survey" step send it."""
    name = f"Survey “{survey.name}” · {channel}"[:200]
    template = Template.objects.filter(workspace=survey.workspace, name=name).first()
    if template is not None:
        return template
    try:
        with transaction.atomic():
            return survey_template(
                survey=survey,
                channel=channel,
                subject=survey.question[:500],
                intro="",
                actor=actor,
                name=name,
            )
    except Conflict:  # made at the same moment by another worker: use theirs
        return Template.objects.get(workspace=survey.workspace, name=name)


@transaction.atomic
def survey_ask(
    *,
    survey: Survey,
    contact: Contact,
    channel: str,
    idempotency_key: str,
    actor: Actor,
    order_id: str = "",
    items: list[dict[str, str]] | None = None,
) -> Message:
    """Ask one contact (e.g. after a support case closes). The same idempotency key
    asks once. A review request keeps the order and products it asks about."""
    if channel not in (Channel.EMAIL, Channel.SMS):
        raise field_errors({"channel": ["one of email, sms"]})
    template = ask_template(survey=survey, channel=channel, actor=actor)
    enqueued = message_enqueue(
        contact=contact,
        template=template,
        idempotency_key=f"survey:{survey.pk}:{idempotency_key}"[:200],
        transactional=survey.transactional,
    )
    review_requests_record(
        survey=survey,
        rows=[(contact.pk, enqueued.message.idempotency_key, order_id, items or [])],
    )
    return enqueued.message
