"""The API's one error shape and shared API pieces.

Every error is {"error": {"code": "...", "message": "...", "fields": {"path": ["reason"]}}}.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from config.errors import DomainError, InvalidInput


def flatten_errors(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail as {"path": [reasons]} with paths like contacts[3].email."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if key == "non_field_errors":
                path = prefix or "non_field_errors"
            for sub, reasons in flatten_errors(value, path).items():
                out.setdefault(sub, []).extend(reasons)
    elif isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            out[prefix or "non_field_errors"] = [str(item) for item in detail]
        else:
            for index, value in enumerate(detail):
                if value:
                    out.update(flatten_errors(value, f"{prefix}[{index}]"))
    else:
        out[prefix or "non_field_errors"] = [str(detail)]
    return out


def error_body(code: str, message: str, fields: dict[str, list[str]] | None = None) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def error_parts(exc: Exception) -> tuple[int, dict[str, Any], dict[str, str]] | None:
    """(status, body, headers) for an exception the API answers, or None for a bug."""
    headers: dict[str, str] = {}
    if isinstance(exc, DomainError):
        return exc.status, error_body(exc.code, exc.message, exc.fields), headers
    if isinstance(exc, DjangoValidationError):
        fields = (
            {k: [str(m) for m in v] for k, v in exc.message_dict.items()}
            if hasattr(exc, "error_dict")
            else {"non_field_errors": [str(m) for m in exc.messages]}
        )
        return 400, error_body("invalid", "The request is not valid.", fields), headers
    if isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return 413, error_body("too_large", f"The body is larger than {limit} bytes."), headers
    if isinstance(exc, SuspiciousOperation):
        # DisallowedHost, too many fields, a malformed multipart body...: the request
        # itself is bad; say so without echoing it.
        return 400, error_body("bad_request", "The request is malformed."), headers
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        return None
    status_code = exc.status_code
    if isinstance(exc, exceptions.Throttled):
        wait = int(getattr(exc, "wait", None) or 1)
        headers["Retry-After"] = str(wait)
        body = error_body("rate_limited", f"Too many requests; retry in {wait} s.")
    elif isinstance(exc, exceptions.ValidationError):
        fields = flatten_errors(exc.detail)
        first = next(iter(fields.items()), None)
        message = f"{first[0]}: {first[1][0]}" if first else "The request is not valid."
        body = error_body("invalid", message, fields)
    elif isinstance(exc, exceptions.ParseError):
        body = error_body("parse_error", str(exc.detail))
    elif isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        body = error_body("unauthenticated", str(exc.detail))
        headers["WWW-Authenticate"] = "Bearer"
        status_code = status.HTTP_401_UNAUTHORIZED
    elif isinstance(exc, exceptions.NotFound):
        body = error_body("not_found", "Not found.")
    elif isinstance(exc, exceptions.UnsupportedMediaType):
        body = error_body("unsupported_media_type", str(exc.detail))
    else:
        body = error_body(exc.default_code, str(exc.detail))
    return status_code, body, headers


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's EXCEPTION_HANDLER: every API error in one shape."""
    parts = error_parts(exc)
    if parts is None:
        return None
    set_rollback()
    status_code, body, headers = parts
    return Response(body, status=status_code, headers=headers)


def error_response(exc: Exception) -> JsonResponse | None:
    """The same answer as exception_handler, for views outside DRF's machinery."""
    parts = error_parts(exc)
    if parts is None:
        return None
    status_code, body, headers = parts
    return JsonResponse(body, status=status_code, headers=headers)


def request_object(data: Any) -> dict[str, Any]:
    """The request body, which must be a JSON object."""
    if not isinstance(data, dict):
        raise InvalidInput(
            "The body must be a JSON object.",
            fields={"non_field_errors": ["must be a JSON object"]},
        )
    return data


# Django's error handlers (config/urls.py): errors raised before or outside DRF (an
# unknown route, DisallowedHost, a body over DATA_UPLOAD_MAX_MEMORY_SIZE read by
# Django, a bug) answer /api/ in the API's shape and everything else with the
# dashboard's pages.
def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def handler400(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return error_response(exception) or JsonResponse(
            error_body("bad_request", "The request is malformed."), status=400
        )
    return defaults.bad_request(request, exception)


def handler403(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return JsonResponse(error_body("forbidden", "Forbidden."), status=403)
    return defaults.permission_denied(request, exception)


def handler404(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return JsonResponse(error_body("not_found", "Not found."), status=404)
    return defaults.page_not_found(request, exception)


def handler500(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return JsonResponse(
            error_body("server_error", "Something went wrong on our side; it has been logged."),
            status=500,
        )
    return defaults.server_error(request)
