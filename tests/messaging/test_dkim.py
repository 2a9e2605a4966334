"""DKIM signing of email sent through the SMTP provider, verified as a receiver would
(dkimpy against the public key published in a stubbed DNS TXT record)."""

from __future__ import annotations

import subprocess

import dkim
import pytest

from messaging.services.claims import messages_claim
from messaging.services.dispatch import messages_send
from tests.factories import ContactFactory
from tests.messaging.helpers import email_template, enqueue
from tests.messaging.servers import SmtpSink

pytestmark = pytest.mark.django_db


def _rsa_key() -> tuple[str, str]:
    """(private key PEM, base64 DER public key) from openssl."""
    private = subprocess.run(
        ["openssl", "genrsa", "2048"], capture_output=True, check=True, text=True
    ).stdout
    public_pem = subprocess.run(
        ["openssl", "rsa", "-pubout"], input=private, capture_output=True, check=True, text=True
    ).stdout
    body = "".join(line for line in public_pem.splitlines() if "-----" not in line)
    return private, body


def _dns(public_b64: str, name: bytes):
    def lookup(qname: bytes, timeout: int = 5) -> bytes | None:
        if qname == name:
            return f"v=DKIM1; k=rsa; p={public_b64}".encode()
        return None

    return lookup


def _send(ws, settings) -> list[bytes]:
    settings.MESSAGING_EMAIL_PROVIDER = "smtp"
    enqueue([ContactFactory.create(workspace=ws, email="ada@example.com")], email_template(ws))
    with SmtpSink() as sink:
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", sink.port
        assert messages_send(claims=messages_claim(limit=10))["sent"] == 1
    return sink.raw


def test_smtp_mail_is_dkim_signed_and_verifies(ws, settings):
    private, public = _rsa_key()
    settings.DKIM_DOMAIN, settings.DKIM_SELECTOR = "shop.example", "sc1"
    settings.DKIM_PRIVATE_KEY = private
    [raw] = _send(ws, settings)
    headers = raw.split(b"\r\n\r\n", 1)[0]
    assert headers.startswith(b"DKIM-Signature:")
    signature = b"".join(headers.split(b"DKIM-Signature:", 1)[1].split(b"\r\n")[:8])
    assert b"c=relaxed/relaxed" in signature and b"d=shop.example" in signature
    for name in (b"list-unsubscribe-post", b"message-id", b"subject", b"from"):
        assert name in signature.lower()
    assert dkim.verify(raw, dnsfunc=_dns(public, b"sc1._domainkey.shop.example."))
    # Another key published under the selector: the signature does not verify.
    _, other = _rsa_key()
    assert not dkim.verify(raw, dnsfunc=_dns(other, b"sc1._domainkey.shop.example."))
    # A body changed in transit does not verify either.
    tampered = raw.replace(b"</body>", b"<p>win a prize</p></body>")
    assert tampered != raw
    assert not dkim.verify(tampered, dnsfunc=_dns(public, b"sc1._domainkey.shop.example."))


def test_no_signature_without_dkim_settings(ws, settings):
    settings.DKIM_DOMAIN = ""
    [raw] = _send(ws, settings)
    assert b"DKIM-Signature" not in raw.split(b"\r\n\r\n", 1)[0]
    assert not dkim.verify(raw, dnsfunc=lambda *_a, **_k: None)
