"""Email through Django's email backend (SMTP by default; any django-anymail ESP by
setting EMAIL_BACKEND). One connection per batch, one message at a time, so each
result is known, and recorded, as soon as the server answers."""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Any

import dkim
from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection

from messaging.providers.base import WORKSPACE_METADATA, OnResult, Outgoing, Result
from messaging.services.domains import signing_domain_for

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


# Signed with the workspace's verified domain key when the From address is at that
# domain (or under it), else with the installation's DKIM_* settings when set (the
# key is loaded and checked in config/settings.py), else not at all.
DKIM_HEADERS = [
    b"From",
    b"To",
    b"Subject",
    b"Date",
    b"Message-ID",
    b"List-Unsubscribe",
    b"List-Unsubscribe-Post",
]


@dataclass(frozen=True)
class DkimKey:
    domain: str
    selector: str
    private_key_pem: str


def installation_key() -> DkimKey | None:
    if not settings.DKIM_DOMAIN:
        return None
    return DkimKey(settings.DKIM_DOMAIN, settings.DKIM_SELECTOR, settings.DKIM_PRIVATE_KEY)


class DkimSignedEmail(EmailMultiAlternatives):
    """Adds a DKIM-Signature (relaxed/relaxed) with `dkim_key` over the bytes the SMTP
    backend sends: the MIME tree is built, flattened with CRLF exactly as the backend
    flattens it (which also fixes its boundaries), signed, and the signature put first."""

    dkim_key: DkimKey

    def message(self, **kwargs: Any) -> Any:
        msg: Any = super().message(**kwargs)
        signature = dkim.sign(
            msg.as_bytes(linesep="\r\n"),
            self.dkim_key.selector.encode(),
            self.dkim_key.domain.encode(),
            self.dkim_key.private_key_pem.encode(),
            canonicalize=(b"relaxed", b"relaxed"),
            include_headers=DKIM_HEADERS,
        )
        name, _, value = signature.decode().partition(":")
        # Unfolded: the email package folds it again, which relaxed canonicalisation
        # of the signature header (and base64 in b=) tolerates.
        msg._headers.insert(0, (name, "".join(value.strip().splitlines())))
        return msg


class _Keys:
    """The key each (workspace, From domain) signs with, looked up once per batch."""

    def __init__(self) -> None:
        self.default = installation_key()
        self.found: dict[tuple[int, str], DkimKey | None] = {}

    def for_item(self, item: Outgoing) -> DkimKey | None:
        from_domain = parseaddr(item.from_address)[1].rpartition("@")[2].lower()
        where = (item.workspace_id, from_domain)
        if where not in self.found:
            own = signing_domain_for(workspace_id=item.workspace_id, from_domain=from_domain)
            self.found[where] = (
                DkimKey(own.domain, own.selector, own.private_key_pem) if own else self.default
            )
        return self.found[where]


class SmtpProvider:
    name = "smtp"

    def send(self, batch: list[Outgoing], on_result: OnResult) -> None:
        connection = get_connection(settings.MESSAGING_EMAIL_BACKEND, fail_silently=False)
        keys = _Keys()
        try:
            for item in batch:
                key = keys.for_item(item)
                email = (DkimSignedEmail if key else EmailMultiAlternatives)(
                    subject=item.subject,
                    body=item.text,
                    from_email=item.from_address,
                    to=[item.to],
                    reply_to=[item.reply_to] if item.reply_to else None,
                    headers=item.headers,
                    connection=connection,
                )
                if isinstance(email, DkimSignedEmail) and key:
                    email.dkim_key = key
                if item.html:
                    email.attach_alternative(item.html, "text/html")
                # An anymail ESP echoes metadata in its tracking webhooks: the event then
                # names the workspace to read the message in (anymail_events.py).
                email.metadata = {WORKSPACE_METADATA: str(item.workspace_id)}  # type: ignore[attr-defined]
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
                # An anymail ESP backend reports the ESP's own id, which its tracking
                # webhooks name; plain SMTP has only our Message-ID.
                status = getattr(email, "anymail_status", None)
                esp_id = status.message_id if status is not None else None
                # (A set when recipients got different ids; ours has one recipient.)
                single = esp_id is not None and not isinstance(esp_id, set)
                provider_id = str(esp_id) if single else item.headers["Message-ID"]
                on_result(item, Result(ok=True, provider_message_id=provider_id))
        finally:
            self._close(connection)

    @staticmethod
    def _close(connection: Any) -> None:
        try:
            connection.close()
        except (smtplib.SMTPException, OSError):
            logger.info("campaigns.smtp_close_failed")
        connection.connection = None
