"""What a claimed message becomes before it goes: its content rendered once and
stored on the row (a retry sends the same content with the same ids), and the
provider's `Outgoing` with the sender, headers and unsubscribe links."""

from __future__ import annotations

import json
import logging
from dataclasses import replace

from django.conf import settings

from config.db import bound_cursor
from contacts.models import Channel
from lifecycle.selectors import current_stages
from messaging.models import Message, MessageStatus, MessagingSettings
from messaging.personalisation import contact_context, render_template
from messaging.providers import Outgoing, provider_for
from messaging.sandbox import TemplateError
from messaging.tokens import unsubscribe_mailto, unsubscribe_url

logger = logging.getLogger(__name__)


def messages_render(messages: list[Message]) -> tuple[list[Message], int]:
    """Render each not-yet-rendered message and store what will be sent. Returns the
    messages that may go and how many failed: a message whose template does not
    compile (any more) or whose render goes over the sandbox's bounds fails alone,
    with the reason, so one bad template cannot stall the batch or the worker."""
    todo = [m for m in messages if not m.to_address]
    if not todo:
        return messages, 0
    stages = current_stages(contact_ids=[m.contact_id for m in todo if m.contact_id])
    failed: set[int] = set()
    for m in todo:
        assert m.template is not None and m.contact is not None
        stage = stages.get(m.contact.pk)
        try:
            # A provider may fail the message too (loyalty: a reward's pool is empty).
            context = contact_context(
                contact=m.contact,
                workspace=m.workspace,
                stage_name=stage.stage.name if stage else "",
                message_id=m.pk,
                template=m.template,
            )
            # A subject already on the row is the campaign's own (an A/B variant's).
            rendered = render_template(m.template, context, message_id=m.pk, subject=m.subject)
        except TemplateError as exc:
            reason = f"template {exc.field}: {exc.reason}"
            Message.objects.filter(
                pk=m.pk, status=MessageStatus.SENDING, attempts=m.attempts
            ).update(status=MessageStatus.FAILED, status_reason=reason[:200], lease_until=None)
            logger.warning(
                "campaigns.render_failed message=%s template=%s reason=%s",
                m.pk,
                m.template_id,
                reason,
            )
            failed.add(m.pk)
            continue
        m.to_address = (m.contact.email if m.channel == Channel.EMAIL else m.contact.phone) or ""
        m.subject, m.body_html, m.body_text = rendered.subject, rendered.html, rendered.text
        m.links, m.sms_segments = rendered.links, rendered.segments
        m.provider = provider_for(m.channel).name
    todo = [m for m in todo if m.pk not in failed]
    # One statement for the batch (Django's bulk_update builds a CASE per column and
    # row, which costs more than rendering), parameters bound on the server.
    with bound_cursor() as cursor:
        cursor.execute(
            """
            UPDATE campaigns_message AS m
            SET to_address = u.to_address, subject = u.subject, body_html = u.body_html,
                body_text = u.body_text, links = u.links::jsonb,
                sms_segments = u.sms_segments, provider = u.provider
            FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], %s::text[],
                        %s::text[], %s::integer[], %s::text[])
                 AS u(id, to_address, subject, body_html, body_text, links, sms_segments,
                      provider)
            WHERE m.id = u.id
            """,
            [
                [m.pk for m in todo],
                [m.to_address for m in todo],
                [m.subject for m in todo],
                [m.body_html for m in todo],
                [m.body_text for m in todo],
                [json.dumps(m.links) for m in todo],
                [m.sms_segments for m in todo],
                [m.provider for m in todo],
            ],
        )
    return [m for m in messages if m.pk not in failed], len(failed)


def message_id_header(message: Message) -> str:
    """Our Message-ID: the message's uuid, and its workspace, so that a bounce naming
    only it (plain SMTP) is looked up in one workspace (one shard on Citus;
    services/webhooks.py)."""
    return f"<{message.uuid}.{message.workspace_id}@{settings.MESSAGING_MAIL_DOMAIN}>"


def outgoing(message: Message, sender: MessagingSettings | None) -> Outgoing:
    base = Outgoing(
        message_id=message.pk,
        uuid=str(message.uuid),
        workspace_id=message.workspace_id,
        channel=message.channel,
        to=message.to_address,
        from_address="",
    )
    if message.channel == Channel.SMS:
        from_number = (sender.sms_from_number if sender else "") or ""
        return replace(base, from_address=from_number, text=message.body_text)
    template = message.template
    from_email = (
        (template.from_email if template else "")
        or (sender.from_email if sender else "")
        or settings.DEFAULT_FROM_EMAIL
    )
    from_name = (template.from_name if template else "") or (sender.from_name if sender else "")
    if from_name and "<" not in from_email:
        from_email = f'"{from_name}" <{from_email}>'
    headers = {"Message-ID": message_id_header(message)}
    if not message.is_test:
        headers["List-Unsubscribe"] = (
            f"<{unsubscribe_url(message.pk, workspace_id=message.workspace_id)}>, "
            f"<{unsubscribe_mailto(message.pk, workspace_id=message.workspace_id)}>"
        )
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return replace(
        base,
        from_address=from_email,
        subject=message.subject,
        html=message.body_html,
        text=message.body_text,
        # The template's own Reply-To, else the workspace's.
        reply_to=(template.reply_to if template else "") or (sender.reply_to if sender else ""),
        headers=headers,
    )
