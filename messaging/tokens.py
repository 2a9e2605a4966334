"""Signed, unguessable tokens in tracking and unsubscribe links (HMAC with
SECRET_KEY via django.core.signing; one salt per purpose, so an open token cannot be
replayed as an unsubscribe token)."""

from __future__ import annotations

import functools

from django.conf import settings
from django.core import signing
from django.urls import reverse

SALTS = {"open": "campaigns.open", "click": "campaigns.click", "unsubscribe": "campaigns.unsub"}


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
