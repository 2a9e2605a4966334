"""The member page's signed link (django.core.signing, HMAC with SECRET_KEY, its own
salt): `<workspace>.<contact>`. It lives under /m/, which the renderer leaves
untracked, like the survey pages' links. The link does not expire: it is the member's
own page, sent in every loyalty message; rotating SECRET_KEY revokes every link."""

from __future__ import annotations

import functools

from django.conf import settings
from django.core import signing
from django.urls import reverse

SALT = "loyalty.member"


@functools.cache
def _signer(secret_key: str) -> signing.Signer:
    return signing.Signer(key=secret_key, salt=SALT)


def member_token(*, workspace_id: int, contact_id: int) -> str:
    return _signer(settings.SECRET_KEY).sign(f"{workspace_id}.{contact_id}")


def read_member(token: str) -> tuple[int, int] | None:
    """(workspace id, contact id), or None for a token that is not ours."""
    try:
        parts = [int(p) for p in _signer(settings.SECRET_KEY).unsign(token).split(".")]
    except (signing.BadSignature, ValueError):
        return None
    return (parts[0], parts[1]) if len(parts) == 2 and min(parts) > 0 else None


def member_path(*, workspace_id: int, contact_id: int) -> str:
    token = member_token(workspace_id=workspace_id, contact_id=contact_id)
    return reverse("loyalty_public:member", args=[token])


def member_url(*, workspace_id: int, contact_id: int) -> str:
    return settings.BASE_URL + member_path(workspace_id=workspace_id, contact_id=contact_id)
