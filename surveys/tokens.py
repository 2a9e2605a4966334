"""Signed tokens in survey links (django.core.signing, HMAC with SECRET_KEY; one salt
per purpose, so a page token cannot be replayed as an answer). Every link lives under
/m/, which the renderer leaves untracked (messaging/personalisation.py), so a tap goes
straight to Stagecraft, not through a click redirect.

- answer: `<survey>.<contact>.<message>.<score>`, one per score in an email's scale;
- page: `<survey>.<contact>.<message>`, the hosted page of one contact's send (the
  follow-up after a tap, or the link an SMS carries); message 0 = a contact's own link;
- open: `<survey>`, the anonymous hosted page.

Each value starts with the survey's workspace (`<workspace>.<survey>…`), so the link's
lookups read one workspace (one shard on Citus, docs/scaling.md); the workspace is
inside the signed value, so a link cannot be pointed at another workspace. Links made
before that (without it) are in sent messages and keep working: they read with no
workspace, and the survey is then found by its id alone."""

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
    workspace_id: int | None = None  # None: read from a link made before it was carried

    @property
    def key(self) -> str:
        return f"m{self.message_id}" if self.message_id else f"c{self.contact_id}"


@functools.cache
def _signer(kind: str, secret_key: str) -> signing.Signer:
    return signing.Signer(key=secret_key, salt=SALTS[kind])


def _sign(kind: str, workspace_id: int | None, *parts: int) -> str:
    values = parts if workspace_id is None else (workspace_id, *parts)
    return _signer(kind, settings.SECRET_KEY).sign(".".join(str(p) for p in values))


@dataclass(frozen=True)
class _Read:
    workspace_id: int | None
    parts: list[int]


def _read(kind: str, token: str, count: int) -> _Read | None:
    """The `count` values after the workspace (None for an old link without one)."""
    try:
        parts = [int(p) for p in _signer(kind, settings.SECRET_KEY).unsign(token).split(".")]
    except (signing.BadSignature, ValueError):
        return None
    if any(p < 0 for p in parts):
        return None
    if len(parts) == count + 1:
        return _Read(parts[0], parts[1:])
    return _Read(None, parts) if len(parts) == count else None


def answer_token(send: Send, score: int) -> str:
    return _sign(
        "answer", send.workspace_id, send.survey_id, send.contact_id, send.message_id, score
    )


def read_answer(token: str) -> tuple[Send, int] | None:
    found = _read("answer", token, 4)
    if found is None:
        return None
    survey_id, contact_id, message_id, score = found.parts
    return Send(survey_id, contact_id, message_id, found.workspace_id), score


def page_token(send: Send) -> str:
    return _sign("page", send.workspace_id, send.survey_id, send.contact_id, send.message_id)


def read_page(token: str) -> Send | None:
    found = _read("page", token, 3)
    if found is None:
        return None
    survey_id, contact_id, message_id = found.parts
    return Send(survey_id, contact_id, message_id, found.workspace_id)


def open_token(survey_id: int, *, workspace_id: int) -> str:
    return _sign("open", workspace_id, survey_id)


def read_open(token: str) -> tuple[int | None, int] | None:
    """(workspace id or None for an old link, survey id)."""
    found = _read("open", token, 1)
    return (found.workspace_id, found.parts[0]) if found else None


def absolute(name: str, token: str) -> str:
    return settings.BASE_URL + reverse(name, args=[token])


def answer_url(send: Send, score: int) -> str:
    return absolute("surveys_public:answer", answer_token(send, score))


def page_path(send: Send) -> str:
    """The page's path, for redirects and forms on our own pages (any host serves it)."""
    return reverse("surveys_public:page", args=[page_token(send)])


def open_path(survey_id: int, *, workspace_id: int) -> str:
    return reverse("surveys_public:open", args=[open_token(survey_id, workspace_id=workspace_id)])


def page_url(send: Send) -> str:
    return absolute("surveys_public:page", page_token(send))


def open_url(survey_id: int, *, workspace_id: int) -> str:
    return absolute("surveys_public:open", open_token(survey_id, workspace_id=workspace_id))
