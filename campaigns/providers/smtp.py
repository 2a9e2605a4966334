"""Email through Django's email backend (SMTP by default; any django-anymail ESP by
setting EMAIL_BACKEND). One connection per batch, one message at a time, so each
result is known, and recorded, as soon as the server answers."""

from __future__ import annotations

import logging
import smtplib

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection

from campaigns.providers import OnResult, Outgoing, Result

logger = logging.getLogger(__name__)


def _result_for(exc: Exception) -> Result:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        permanent = all(500 <= code < 600 for code in codes)
        return Result(
            ok=False,
            transient=not permanent,
            error=f"recipient refused: {exc.recipients}"[:500],
            invalid_recipient=permanent and any(code in (550, 551, 553) for code in codes),
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        permanent = 500 <= exc.smtp_code < 600
        return Result(
            ok=False, transient=not permanent, error=f"{exc.smtp_code} {exc.smtp_error!r}"
        )
    # Disconnects, timeouts, refused connections: the server may come back.
    return Result(ok=False, transient=True, error=f"{type(exc).__name__}: {exc}"[:500])


class SmtpProvider:
    name = "smtp"

    def send(self, batch: list[Outgoing], on_result: OnResult) -> None:
        connection = get_connection(settings.MESSAGING_EMAIL_BACKEND, fail_silently=False)
        # Opened here, so that every message of the batch shares one SMTP session.
        connection.open()
        try:
            for item in batch:
                email = EmailMultiAlternatives(
                    subject=item.subject,
                    body=item.text,
                    from_email=item.from_address,
                    to=[item.to],
                    reply_to=[item.reply_to] if item.reply_to else None,
                    headers=item.headers,
                    connection=connection,
                )
                if item.html:
                    email.attach_alternative(item.html, "text/html")
                try:
                    email.send()
                except (TimeoutError, smtplib.SMTPException, OSError) as exc:
                    result = _result_for(exc)
                    on_result(item, result)
                    if result.transient:
                        # The connection may be dead: start a fresh one for the rest.
                        connection.close()
                        connection.open()
                    continue
                on_result(item, Result(ok=True, provider_message_id=item.headers["Message-ID"]))
        finally:
            try:
                connection.close()
            except (smtplib.SMTPException, OSError):
                logger.info("campaigns.smtp_close_failed")
