"""Previews as a contact and test sends to an address."""

from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from config.errors import InvalidInput
from contacts.models import Channel, Contact
from contacts.validation import clean_contact
from lifecycle.selectors import contact_stage
from messaging.models import Message, Template
from messaging.personalisation import Rendered, contact_context, render_template
from messaging.providers import provider_for
from messaging.sandbox import TemplateError
from workspaces.services import Actor, audit_record


def template_preview(*, template: Template, contact: Contact | None) -> Rendered:
    """The template rendered for `contact` (or with empty fields), links untracked."""
    stage = contact_stage(contact_id=contact.pk) if contact is not None else None
    context = contact_context(
        contact=contact,
        workspace=template.workspace,
        stage_name=stage.stage.name if stage else "",
        template=template,
    )
    try:
        return render_template(template, context)
    except TemplateError as exc:
        raise InvalidInput(str(exc), fields={exc.field: [exc.reason]}) from None


def _clean_recipient(channel: str, to: str) -> str:
    to = to.strip()
    if channel == Channel.EMAIL:
        try:
            validate_email(to)
        except ValidationError:
            raise InvalidInput(
                "to: not an email address", fields={"to": ["not an email address"]}
            ) from None
        return to.lower()
    cleaned, errors = clean_contact({"phone": to}, partial=True)
    if errors:
        raise InvalidInput(
            "to: not an E.164 phone number", fields={"to": ["use E.164, e.g. +14155550123"]}
        )
    return str(cleaned["phone"])


@transaction.atomic
def message_send_test(
    *, template: Template, to: str, contact: Contact | None, actor: Actor
) -> Message:
    """A test send to an address, through the outbox like every message (so it shows
    in the outbox and goes through the configured provider). Rendered as `contact`;
    no consent applies to the tester's own address, and its links are not tracked."""
    recipient = _clean_recipient(template.channel, to)
    rendered = template_preview(template=template, contact=contact)
    message = Message.objects.create(
        workspace=template.workspace,
        contact=contact,
        channel=template.channel,
        template=template,
        idempotency_key=f"test:{uuid.uuid4()}",
        is_test=True,
        due_at=timezone.now(),
        to_address=recipient,
        subject=f"[Test] {rendered.subject}" if template.channel == Channel.EMAIL else "",
        body_html=rendered.html,
        body_text=rendered.text,
        sms_segments=rendered.segments,
        provider=provider_for(template.channel).name,
    )
    audit_record(
        workspace=template.workspace,
        action="template.test_sent",
        actor=actor,
        object_type="template",
        object_id=template.pk,
        details={"message_id": message.pk},
    )
    return message
