"""Provider webhooks: email events (delivered, bounced, complained, opened, clicked),
Twilio status callbacks and inbound SMS. Each event is recorded by its provider id
first; a replay or duplicate is recognised there and not applied again."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import uuid
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from contacts.models import Channel, Contact, EmailStatus, SmsStatus, Suppression
from contacts.services import consent_set, contacts_mark_changed, suppression_add
from messaging.inbound import InboundSms, inbound_sms_dispatch
from messaging.models import Message, MessageStatus, MessagingSettings, TrackingEvent, WebhookEvent
from messaging.services.tracking import is_bot

logger = logging.getLogger(__name__)

STOP_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
)
START_WORDS = frozenset({"START", "UNSTOP", "YES"})
HELP_WORDS = frozenset({"HELP", "INFO"})
# Twilio delivery errors that mean the number cannot receive SMS at all.
TWILIO_INVALID_NUMBER_ERRORS = frozenset({"21211", "21614", "30005", "30006"})


def signature_valid(*, secret: str, body: bytes, signature: str) -> bool:
    """HMAC-SHA256 of the raw body, hex, optionally prefixed `sha256=`."""
    if not secret or not signature:
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature.removeprefix("sha256="))


def _first_time(
    *, provider: str, event_id: str, kind: str, payload: dict[str, Any], workspace_id: int
) -> bool:
    """Record the event; False if it was seen before (a replay or a duplicate)."""
    try:
        with transaction.atomic():
            WebhookEvent.objects.create(
                provider=provider,
                event_id=event_id[:200],
                kind=kind[:32],
                payload=payload,
                workspace_id=workspace_id,
            )
    except IntegrityError:
        return False
    return True


# A workspace id as a provider or our Message-ID gives it: ASCII digits that fit a bigint
# (str.isdigit() also takes "²", which int() refuses).
_DIGITS = re.compile(r"[0-9]{1,18}")


def _find_message(reference: str, workspace_id: int | None = None) -> Message | None:
    """The message a provider's event names: by the provider's id or our Message-ID,
    within the workspace the event names, or else the one our Message-ID carries
    (`<uuid>.<workspace id>@…`; one shard on Citus); without either (events of
    messages sent before the Message-ID carried it), by the id alone."""
    if not reference:
        return None
    condition = Q(provider_message_id=reference)
    stripped, _, named = reference.strip("<>").split("@")[0].partition(".")
    if len(stripped) == 36 and _is_uuid(stripped):
        condition |= Q(uuid=stripped)
        if workspace_id is None and _DIGITS.fullmatch(named):
            workspace_id = int(named)
    rows = Message.objects.select_related("contact", "workspace").filter(condition)
    if workspace_id is not None:
        rows = rows.filter(workspace_id=workspace_id)
    return rows.first()


def _workspace_named(event: dict[str, Any]) -> int | None:
    raw = str(event.get("workspace_id") or "")
    return int(raw) if _DIGITS.fullmatch(raw) else None


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


@dataclass
class WebhookResult:
    processed: int = 0
    duplicates: int = 0
    unknown: int = 0


def _suppress_email(message: Message, *, status: str, reason: str, source: str) -> None:
    if message.contact is not None:
        consent_set(contact=message.contact, channel=Channel.EMAIL, status=status, source=source)
    if message.to_address:
        suppression_add(
            workspace=message.workspace,
            channel=Channel.EMAIL,
            value=message.to_address,
            reason=reason,
        )


@transaction.atomic
def email_events_apply(*, provider: str, events: list[dict[str, Any]]) -> WebhookResult:
    result = WebhookResult()
    for event in events:
        if not isinstance(event, dict):
            continue
        event_id, kind = str(event.get("id", "")), str(event.get("type", ""))
        message = _find_message(str(event.get("message_id", "")), _workspace_named(event))
        if not event_id or message is None:
            result.unknown += 1
            continue
        if not _first_time(
            provider=provider,
            event_id=event_id,
            kind=kind,
            payload=event,
            workspace_id=message.workspace_id,
        ):
            result.duplicates += 1
            continue
        result.processed += 1
        now = timezone.now()
        description = str(event.get("description", ""))[:500]
        if kind == "delivered":
            Message.objects.filter(pk=message.pk, status=MessageStatus.SENT).update(
                status=MessageStatus.DELIVERED, delivered_at=now
            )
        elif kind == "bounced":
            if event.get("bounce_type", "hard") == "hard":
                Message.objects.filter(
                    pk=message.pk, status__in=[MessageStatus.SENT, MessageStatus.DELIVERED]
                ).update(status=MessageStatus.BOUNCED, bounced_at=now, error=description)
                _suppress_email(
                    message,
                    status=EmailStatus.BOUNCED,
                    reason=Suppression.Reason.BOUNCED,
                    source=f"{provider}_bounce",
                )
            else:
                Message.objects.filter(pk=message.pk).update(error=f"soft bounce: {description}")
        elif kind == "complained":
            Message.objects.filter(pk=message.pk, complained_at__isnull=True).update(
                complained_at=timezone.now()
            )
            _suppress_email(
                message,
                status=EmailStatus.COMPLAINED,
                reason=Suppression.Reason.COMPLAINED,
                source=f"{provider}_complaint",
            )
        elif kind == "unsubscribed":
            Message.objects.filter(pk=message.pk, unsubscribed_at__isnull=True).update(
                unsubscribed_at=timezone.now()
            )
            _suppress_email(
                message,
                status=EmailStatus.UNSUBSCRIBED,
                reason=Suppression.Reason.UNSUBSCRIBED,
                source=f"{provider}_unsubscribe",
            )
        elif kind == "failed":
            Message.objects.filter(
                pk=message.pk, status__in=[MessageStatus.SENT, MessageStatus.DELIVERED]
            ).update(status=MessageStatus.FAILED, error=description or "failed at the provider")
        elif kind in ("opened", "clicked"):
            user_agent = str(event.get("user_agent", ""))[:500]
            bot = is_bot(user_agent, prefetch=False)
            TrackingEvent.objects.create(
                workspace_id=message.workspace_id,
                message=message,
                kind=TrackingEvent.Kind.OPEN if kind == "opened" else TrackingEvent.Kind.CLICK,
                url=str(event.get("url", ""))[:2000],
                user_agent=user_agent,
                is_bot=bot,
                source="webhook",
            )
            if not bot:
                field = "opened_at" if kind == "opened" else "clicked_at"
                first = Message.objects.filter(pk=message.pk, **{f"{field}__isnull": True}).update(
                    **{field: now}
                )
                if first and message.contact_id is not None:
                    # As a tracked open or click does: engagement conditions ("opened in
                    # the last 30 days") changed, so the contact's stage and segments follow.
                    contacts_mark_changed(contact_ids=[message.contact_id])
    logger.info(
        "campaigns.email_webhook processed=%s duplicates=%s unknown=%s",
        result.processed,
        result.duplicates,
        result.unknown,
    )
    return result


@transaction.atomic
def twilio_status_apply(*, params: dict[str, str], workspace_id: int | None = None) -> bool:
    """A Twilio status callback; False if it was a duplicate or names no message. The
    message is read within `workspace_id` (named by our callback URL) when given."""
    sid, status = params.get("MessageSid", ""), params.get("MessageStatus", "")
    rows = Message.objects.select_related("contact", "workspace").filter(
        provider_message_id=sid, channel=Channel.SMS
    )
    if workspace_id is not None:
        rows = rows.filter(workspace_id=workspace_id)
    message = rows.first()
    if not sid or message is None:
        return False
    if not _first_time(
        provider="twilio",
        event_id=f"{sid}:{status}",
        kind=status,
        payload=params,
        workspace_id=message.workspace_id,
    ):
        return False
    now = timezone.now()
    if status == "delivered":
        Message.objects.filter(pk=message.pk, status=MessageStatus.SENT).update(
            status=MessageStatus.DELIVERED, delivered_at=now
        )
    elif status in ("undelivered", "failed"):
        code = params.get("ErrorCode", "")
        Message.objects.filter(
            pk=message.pk, status__in=[MessageStatus.SENT, MessageStatus.DELIVERED]
        ).update(status=MessageStatus.FAILED, error=f"Twilio {status} {code}".strip())
        if code in TWILIO_INVALID_NUMBER_ERRORS and message.contact is not None:
            consent_set(
                contact=message.contact,
                channel=Channel.SMS,
                status=SmsStatus.INVALID,
                source="twilio_status",
            )
            suppression_add(
                workspace=message.workspace,
                channel=Channel.SMS,
                value=message.to_address,
                reason=Suppression.Reason.INVALID,
            )
    return True


@dataclass
class InboundReply:
    handled: bool
    reply: str = ""


@transaction.atomic
def twilio_inbound_apply(*, params: dict[str, str]) -> InboundReply:
    """An SMS to one of our numbers: STOP-like words opt out, START-like words opt back
    in, HELP-like words get the workspace's help text. Case-insensitive, whole message.
    Any other text from a known contact goes to the registered handlers
    (messaging/inbound.py), e.g. a survey's answer by reply."""
    sid, to_number = params.get("MessageSid", ""), params.get("To", "")
    sender = (
        MessagingSettings.objects.select_related("workspace")
        .filter(sms_from_number=to_number)
        .first()
        if to_number
        else None
    )
    if not sid or sender is None:
        return InboundReply(handled=False)
    if not _first_time(
        provider="twilio",
        event_id=f"inbound:{sid}",
        kind="inbound",
        payload=params,
        workspace_id=sender.workspace_id,
    ):
        return InboundReply(handled=False)
    word = params.get("Body", "").strip().upper()
    contact = Contact.objects.filter(
        workspace_id=sender.workspace_id, phone=params.get("From", "")
    ).first()
    if word in HELP_WORDS:
        return InboundReply(handled=True, reply=sender.sms_help_text)
    if contact is None:
        return InboundReply(handled=True)
    if word in STOP_WORDS:
        consent_set(
            contact=contact,
            channel=Channel.SMS,
            status=SmsStatus.UNSUBSCRIBED,
            source=f"sms_keyword:{word.lower()}",
        )
    elif word in START_WORDS:
        consent_set(
            contact=contact,
            channel=Channel.SMS,
            status=SmsStatus.SUBSCRIBED,
            source=f"sms_keyword:{word.lower()}",
        )
    else:
        reply = inbound_sms_dispatch(
            InboundSms(
                workspace_id=sender.workspace_id,
                contact=contact,
                body=params.get("Body", ""),
                received_at=timezone.now(),
            )
        )
        return InboundReply(handled=True, reply=reply or "")
    return InboundReply(handled=True)
