"""Signed tokens in survey links (django.core.signing, HMAC with SECRET_KEY; one salt
per purpose, so a page token cannot be replayed as an answer). Every link lives under
/m/, which the renderer leaves untracked (messaging/personalisation.py), so a tap goes
straight to Stagecraft, not through a click redirect.

- answer: `<survey>.<contact>.<message>.<score>`, one per score in an email's scale;
- page: `<survey>.<contact>.<message>`, the hosted page of one contact's send (the
  follow-up after a tap, or the link an SMS carries); message 0 = a contact's own link;
- open: `<survey>`, the anonymous hosted page."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.urls import reverse

SALTS = {"answer": "surveys.answer", "page": "surveys.page", "open": "surveys.open"}


@dataclass(frozen=True)
class Send:
    survey_id: int
    contact_id: int
    message_id: int  # 0: not from a message (a contact's own link)

    @property
    def key(self) -> str:
        return f"m{self.message_id}" if self.message_id else f"c{self.contact_id}"


@functools.cache
def _signer(kind: str, secret_key: str) -> signing.Signer:
    return signing.Signer(key=secret_key, salt=SALTS[kind])


def _sign(kind: str, *parts: int) -> str:
    return _signer(kind, settings.SECRET_KEY).sign(".".join(str(p) for p in parts))


def _read(kind: str, token: str, count: int) -> list[int] | None:
    try:
        parts = [int(p) for p in _signer(kind, settings.SECRET_KEY).unsign(token).split(".")]
    except (signing.BadSignature, ValueError):
        return None
    return parts if len(parts) == count and all(p >= 0 for p in parts) else None


def answer_token(send: Send, score: int) -> str:
    return _sign("answer", send.survey_id, send.contact_id, send.message_id, score)


def read_answer(token: str) -> tuple[Send, int] | None:
    parts = _read("answer", token, 4)
    return (Send(*parts[:3]), parts[3]) if parts else None


def page_token(send: Send) -> str:
    return _sign("page", send.survey_id, send.contact_id, send.message_id)


def read_page(token: str) -> Send | None:
    parts = _read("page", token, 3)
    return Send(*parts) if parts else None


def open_token(survey_id: int) -> str:
    return _sign("open", survey_id)


def read_open(token: str) -> int | None:
    parts = _read("open", token, 1)
    return parts[0] if parts else None


def absolute(name: str, token: str) -> str:
    return settings.BASE_URL + reverse(name, args=[token])


def answer_url(send: Send, score: int) -> str:
    return absolute("surveys_public:answer", answer_token(send, score))


def page_path(send: Send) -> str:
    """The page's path, for redirects and forms on our own pages (any host serves it)."""
    return reverse("surveys_public:page", args=[page_token(send)])


def open_path(survey_id: int) -> str:
    return reverse("surveys_public:open", args=[open_token(survey_id)])


def page_url(send: Send) -> str:
    return absolute("surveys_public:page", page_token(send))


def open_url(survey_id: int) -> str:
    return absolute("surveys_public:open", open_token(survey_id))
