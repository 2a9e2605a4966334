"""Providers behind one small interface: `send(batch, on_result)`.

A provider calls `on_result` for each message as soon as it knows the outcome, so
that the dispatcher records a send the moment the provider accepted it (the smaller
that window, the fewer duplicates a crash can cause; see docs/messaging.md)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from django.conf import settings


@dataclass
class Outgoing:
    message_id: int
    uuid: str  # the idempotency key providers see
    workspace_id: int
    channel: str
    to: str
    from_address: str
    subject: str = ""
    html: str = ""
    text: str = ""
    reply_to: str = ""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Result:
    ok: bool
    provider_message_id: str = ""
    # Not ok: transient errors are retried later, permanent ones fail the message.
    transient: bool = False
    retry_after: float | None = None
    error: str = ""
    # The address or number itself is bad (hard bounce, invalid number): suppress it.
    invalid_recipient: bool = False


OnResult = Callable[[Outgoing, Result], None]


class Provider(Protocol):
    name: str

    def send(self, batch: list[Outgoing], on_result: OnResult) -> None: ...


def provider_for(channel: str) -> Provider:
    from messaging.providers import http_email, sandbox, smtp, twilio_sms

    if channel == "sms":
        if settings.MESSAGING_SMS_PROVIDER == "twilio":
            return twilio_sms.TwilioProvider()
        return sandbox.SandboxProvider()
    if settings.MESSAGING_EMAIL_PROVIDER == "smtp":
        return smtp.SmtpProvider()
    if settings.MESSAGING_EMAIL_PROVIDER == "http":
        return http_email.HttpEmailProvider()
    return sandbox.SandboxProvider()
