"""Providers behind one small interface: `send(batch, on_result)`.

A provider calls `on_result` for each message as soon as it knows the outcome, so
that the dispatcher records a send the moment the provider accepted it (the smaller
that window, the fewer duplicates a crash can cause; see docs/messaging.md)."""

from __future__ import annotations

from django.conf import settings

from messaging.providers import http_email, sandbox, smtp, twilio_sms
from messaging.providers.base import OnResult, Outgoing, Provider, Result

__all__ = ["OnResult", "Outgoing", "Provider", "Result", "provider_for"]


def provider_for(channel: str) -> Provider:
    if channel == "sms":
        if settings.MESSAGING_SMS_PROVIDER == "twilio":
            return twilio_sms.TwilioProvider()
        return sandbox.SandboxProvider()
    if settings.MESSAGING_EMAIL_PROVIDER == "smtp":
        return smtp.SmtpProvider()
    if settings.MESSAGING_EMAIL_PROVIDER == "http":
        return http_email.HttpEmailProvider()
    return sandbox.SandboxProvider()
