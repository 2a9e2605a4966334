"""SMS replies that are not keywords. STOP, START and HELP words are messaging's own
(services/webhooks.py); any other text from a known contact is offered to the
handlers that apps to the right register in their AppConfig.ready() (surveys: a
reply "9" to a survey sent by SMS is that survey's answer), so messaging never
imports them (docs/architecture.md, Hooks)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from contacts.models import Contact


@dataclass(frozen=True)
class InboundSms:
    workspace_id: int
    contact: Contact
    body: str  # as received, untrimmed
    received_at: dt.datetime


# A handler returns None when the text is not for it, else the reply to send back
# ("" for none). The first handler that takes the text wins.
InboundSmsHandler = Callable[[InboundSms], str | None]
INBOUND_SMS_HANDLERS: list[InboundSmsHandler] = []


def register_inbound_sms_handler(handler: InboundSmsHandler) -> None:
    if handler not in INBOUND_SMS_HANDLERS:
        INBOUND_SMS_HANDLERS.append(handler)


def inbound_sms_dispatch(sms: InboundSms) -> str | None:
    for handler in INBOUND_SMS_HANDLERS:
        reply = handler(sms)
        if reply is not None:
            return reply
    return None
