"""Signed, unguessable tokens in tracking and unsubscribe links (HMAC with
SECRET_KEY via django.core.signing; one salt per purpose, so an open token cannot be
replayed as an unsubscribe token)."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac

from django.conf import settings
from django.core import signing
from django.urls import reverse

SALTS = {"open": "campaigns.open", "click": "campaigns.click", "unsubscribe": "campaigns.unsub"}
# A short link's signature: 12 base64url characters (72 bits) of an HMAC-SHA256.
SHORT_SIG_CHARS = 12
_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"


@functools.cache
def _signer(kind: str, secret_key: str) -> signing.Signer:
    return signing.Signer(key=secret_key, salt=SALTS[kind])


def make_token(kind: str, message_id: int, index: int = 0) -> str:
    return _signer(kind, settings.SECRET_KEY).sign(f"{message_id}.{index}")


def read_token(kind: str, token: str) -> tuple[int, int] | None:
    """(message id, index) from a token, or None if it was not signed by us."""
    try:
        value = _signer(kind, settings.SECRET_KEY).unsign(token)
        message_id, index = value.split(".")
        return int(message_id), int(index)
    except (signing.BadSignature, ValueError):
        return None


@functools.cache
def _url_parts(name: str, base_url: str) -> tuple[str, str]:
    """The URL of `name` around its token, reversed once (a send builds thousands)."""
    head, tail = reverse(name, args=["TOKEN"]).split("TOKEN")
    return base_url + head, tail


def _url(name: str, token: str) -> str:
    head, tail = _url_parts(name, settings.BASE_URL)
    return f"{head}{token}{tail}"


def open_url(message_id: int) -> str:
    return _url("messaging_public:track-open", make_token("open", message_id))


def click_url(message_id: int, index: int) -> str:
    return _url("messaging_public:track-click", make_token("click", message_id, index))


def unsubscribe_url(message_id: int) -> str:
    return _url("messaging_public:unsubscribe", make_token("unsubscribe", message_id))


def unsubscribe_mailto(message_id: int) -> str:
    token = make_token("unsubscribe", message_id)
    return f"mailto:unsubscribe@{settings.MESSAGING_MAIL_DOMAIN}?subject=unsubscribe%20{token}"


def _b36(number: int) -> str:
    out = ""
    while True:
        number, digit = divmod(number, 36)
        out = _B36[digit] + out
        if not number:
            return out


def _short_sig(value: str) -> str:
    key = f"{settings.SECRET_KEY}:messaging.short".encode()
    digest = hmac.new(key, value.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()[:SHORT_SIG_CHARS]


def make_short_token(message_id: int, index: int) -> str:
    """A click token short enough for an SMS: message id and link index in base 36,
    and a truncated HMAC (guessing one needs ~2^71 tries per link)."""
    value = f"{_b36(message_id)}-{_b36(index)}"
    return f"{value}{_short_sig(value)}"


def read_short_token(token: str) -> tuple[int, int] | None:
    """(message id, index) from a short token, or None if it was not made by us."""
    value, sig = token[:-SHORT_SIG_CHARS], token[-SHORT_SIG_CHARS:]
    if len(token) > 60 or not token.isascii() or not hmac.compare_digest(sig, _short_sig(value)):
        return None
    message_id, _, index = value.partition("-")
    try:
        return int(message_id, 36), int(index, 36)
    except ValueError:
        return None


def short_click_url(message_id: int, index: int) -> str:
    return _url("messaging_public:track-short-click", make_short_token(message_id, index))
