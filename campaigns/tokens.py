"""Signed, unguessable tokens in tracking and unsubscribe links (HMAC with
SECRET_KEY via django.core.signing; one salt per purpose, so an open token cannot be
replayed as an unsubscribe token)."""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.urls import reverse

SALTS = {"open": "campaigns.open", "click": "campaigns.click", "unsubscribe": "campaigns.unsub"}


def make_token(kind: str, message_id: int, index: int = 0) -> str:
    return signing.Signer(salt=SALTS[kind]).sign(f"{message_id}.{index}")


def read_token(kind: str, token: str) -> tuple[int, int] | None:
    """(message id, index) from a token, or None if it was not signed by us."""
    try:
        value = signing.Signer(salt=SALTS[kind]).unsign(token)
        message_id, index = value.split(".")
        return int(message_id), int(index)
    except (signing.BadSignature, ValueError):
        return None


def open_url(message_id: int) -> str:
    return settings.BASE_URL + reverse("track-open", args=[make_token("open", message_id)])


def click_url(message_id: int, index: int) -> str:
    return settings.BASE_URL + reverse("track-click", args=[make_token("click", message_id, index)])


def unsubscribe_url(message_id: int) -> str:
    token = make_token("unsubscribe", message_id)
    return settings.BASE_URL + reverse("unsubscribe", args=[token])


def unsubscribe_mailto(message_id: int) -> str:
    token = make_token("unsubscribe", message_id)
    return f"mailto:unsubscribe@{settings.MESSAGING_MAIL_DOMAIN}?subject=unsubscribe%20{token}"
