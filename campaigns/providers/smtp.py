"""Email through Django's email backend (SMTP by default; any django-anymail ESP by
setting EMAIL_BACKEND). One connection per batch, one message at a time, so each
result is known, and recorded, as soon as the server answers."""

from __future__ import annotations

import logging
import smtplib
from typing import Any

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
                    # Opened once and kept, so that the batch shares one SMTP session
                    # (a connection the backend opens itself is closed after each send).
                    if getattr(connection, "connection", None) is None:
                        connection.open()
                    email.send()
                except (TimeoutError, smtplib.SMTPException, OSError) as exc:
                    result = _result_for(exc)
                    on_result(item, result)
                    if result.transient:
                        # The connection may be dead: the next message opens a fresh one.
                        self._close(connection)
                    continue
                on_result(item, Result(ok=True, provider_message_id=item.headers["Message-ID"]))
        finally:
            self._close(connection)

    @staticmethod
    def _close(connection: Any) -> None:
        try:
            connection.close()
        except (smtplib.SMTPException, OSError):
            logger.info("campaigns.smtp_close_failed")
        connection.connection = None
