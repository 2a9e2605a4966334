"""Domain errors that services raise and the API and dashboard translate.

Services never raise HTTP exceptions; the API's exception handler (config/api.py)
maps these to one JSON shape: {"error": {"code", "message", "fields"}}.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class DomainError(Exception):
    status = 400
    code = "invalid"

    def __init__(
        self,
        message: str,
        *,
        fields: Mapping[str, Sequence[str]] | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.fields = {key: list(value) for key, value in (fields or {}).items()}
        if code:
            self.code = code


class InvalidInput(DomainError):
    """The request asks for something malformed; `fields` names what and why."""


class Conflict(DomainError):
    status = 409
    code = "conflict"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class TooLarge(DomainError):
    """The request body (or one value in it) is larger than the documented limit."""

    status = 413
    code = "too_large"


class UriTooLong(DomainError):
    status = 414
    code = "uri_too_long"


def field_errors(errors: Mapping[str, Sequence[str]]) -> InvalidInput:
    """An InvalidInput whose message summarises the first field error."""
    first = next(iter(errors.items()))
    return InvalidInput(f"{first[0]}: {first[1][0]}", fields=errors)
