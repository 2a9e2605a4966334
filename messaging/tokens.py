"""Signed, unguessable tokens in tracking and unsubscribe links (HMAC with
SECRET_KEY via django.core.signing; one salt per purpose, so an open token cannot be
replayed as an unsubscribe token).

A token carries its message's workspace as well as the message: `<workspace>.<message>
.<index>` (a short SMS token: `<workspace>-<message>-<index>` in base 36), so the link's
lookup filters by workspace_id and goes to one shard on Citus (docs/scaling.md). The
workspace is inside the signed value: a token cannot be pointed at another workspace.
Tokens made before the workspace was added (`<message>.<index>`, `<message>-<index>`)
are still in sent emails and SMS and keep working: they read with no workspace, and
their lookup is by the message's id alone (every shard, for a few old links)."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import html
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.urls import reverse

SALTS = {"open": "campaigns.open", "click": "campaigns.click", "unsubscribe": "campaigns.unsub"}
# A short link's signature: 12 base64url characters (72 bits) of an HMAC-SHA256.
SHORT_SIG_CHARS = 12
_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class MessageRef:
    """What a tracking token names: None as the workspace for an old-format token."""

    workspace_id: int | None
    message_id: int
    index: int


@functools.cache
def _signer(kind: str, secret_key: str) -> signing.Signer:
    return signing.Signer(key=secret_key, salt=SALTS[kind])


def make_token(kind: str, message_id: int, index: int = 0, *, workspace_id: int) -> str:
    return _signer(kind, settings.SECRET_KEY).sign(f"{workspace_id}.{message_id}.{index}")


def read_token(kind: str, token: str) -> MessageRef | None:
    """What a token names, or None if it was not signed by us."""
    try:
        parts = [int(p) for p in _signer(kind, settings.SECRET_KEY).unsign(token).split(".")]
    except (signing.BadSignature, ValueError):
        return None
    if len(parts) == 3:
        return MessageRef(parts[0], parts[1], parts[2])
    if len(parts) == 2:  # made before tokens carried the workspace
        return MessageRef(None, parts[0], parts[1])
    return None


@functools.cache
def _url_parts(name: str, base_url: str) -> tuple[str, str]:
    """The URL of `name` around its token, reversed once (a send builds thousands)."""
    head, tail = reverse(name, args=["TOKEN"]).split("TOKEN")
    return base_url + head, tail


def _url(name: str, token: str) -> str:
    head, tail = _url_parts(name, settings.BASE_URL)
    return f"{head}{token}{tail}"


def open_url(message_id: int, *, workspace_id: int) -> str:
    token = make_token("open", message_id, workspace_id=workspace_id)
    return _url("messaging_public:track-open", token)


def click_url(message_id: int, index: int, *, workspace_id: int) -> str:
    token = make_token("click", message_id, index, workspace_id=workspace_id)
    return _url("messaging_public:track-click", token)


def unsubscribe_url(message_id: int, *, workspace_id: int) -> str:
    token = make_token("unsubscribe", message_id, workspace_id=workspace_id)
    return _url("messaging_public:unsubscribe", token)


def unsubscribe_mailto(message_id: int, *, workspace_id: int) -> str:
    token = make_token("unsubscribe", message_id, workspace_id=workspace_id)
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


def make_short_token(message_id: int, index: int, *, workspace_id: int) -> str:
    """A click token short enough for an SMS: workspace, message id and link index in
    base 36, and a truncated HMAC (guessing one needs ~2^71 tries per link)."""
    value = f"{_b36(workspace_id)}-{_b36(message_id)}-{_b36(index)}"
    return f"{value}{_short_sig(value)}"


def read_short_token(token: str) -> MessageRef | None:
    """What a short token names, or None if it was not made by us."""
    value, sig = token[:-SHORT_SIG_CHARS], token[-SHORT_SIG_CHARS:]
    if len(token) > 60 or not token.isascii() or not hmac.compare_digest(sig, _short_sig(value)):
        return None
    try:
        parts = [int(p, 36) for p in value.split("-")]
    except ValueError:
        return None
    if len(parts) == 3:
        return MessageRef(parts[0], parts[1], parts[2])
    if len(parts) == 2:  # made before tokens carried the workspace
        return MessageRef(None, parts[0], parts[1])
    return None


def short_click_url(message_id: int, index: int, *, workspace_id: int) -> str:
    token = make_short_token(message_id, index, workspace_id=workspace_id)
    return _url("messaging_public:track-short-click", token)


def untracked_legacy(body: str, message_id: int, links: list[str]) -> str:
    """`body` with the tracking of the old token format taken out (the open pixel
    removed, click links back to their targets): emails sent before tokens carried
    the workspace are shown as sent, minus tracking, like the new ones."""
    pixel = _url(
        "messaging_public:track-open", _signer("open", settings.SECRET_KEY).sign(f"{message_id}.0")
    )
    body = body.replace(html.escape(pixel, quote=True), "")
    for index, url in enumerate(links):
        old = _signer("click", settings.SECRET_KEY).sign(f"{message_id}.{index}")
        body = body.replace(
            html.escape(_url("messaging_public:track-click", old), quote=True),
            html.escape(str(url), quote=True),
        )
    return body
