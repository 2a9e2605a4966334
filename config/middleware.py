"""Guards every /api/ request passes before any view reads it (in MIDDLEWARE and
API_MIDDLEWARE, so the test client and production take the same path).

- a URL (path and query) longer than MAX_URL_BYTES: 414;
- a declared body larger than the limit (DATA_UPLOAD_MAX_MEMORY_SIZE; for multipart
  uploads IMPORT_MAX_FILE_BYTES plus room for the form): 413, before it is read;
- a NUL character in a query parameter's name or value: 400 naming the parameter.
  PostgreSQL cannot compare text with NUL in it, so every filter of every endpoint
  would otherwise fail with a server error; refusing it here covers them all.

Answers are in the API's error shape."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from config.api import error_body

MAX_URL_BYTES = 8000
# A multipart upload carries its form fields (mapping, match_on) besides the file.
MULTIPART_OVERHEAD = 1024 * 1024


def _body_limit(request: HttpRequest) -> int:
    if request.META.get("CONTENT_TYPE", "").startswith("multipart/form-data"):
        return int(settings.IMPORT_MAX_FILE_BYTES) + MULTIPART_OVERHEAD
    return int(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)


def api_request_problem(request: HttpRequest) -> JsonResponse | None:
    """The error response for a request refused before any view, or None."""
    url_bytes = len(request.META.get("PATH_INFO", "")) + len(request.META.get("QUERY_STRING", ""))
    if url_bytes > MAX_URL_BYTES:
        return JsonResponse(
            error_body("uri_too_long", f"The URL is longer than {MAX_URL_BYTES} bytes."),
            status=414,
        )
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    limit = _body_limit(request)
    if length > limit:
        return JsonResponse(
            error_body("too_large", f"The body is larger than {limit} bytes."), status=413
        )
    for name, values in request.GET.lists():
        if "\x00" in name or any("\x00" in value for value in values):
            field = name.replace("\x00", "\\u0000")
            reason = "must not contain a NUL character (\\u0000)"
            return JsonResponse(
                error_body("invalid", f"{field}: {reason}", {field: [reason]}), status=400
            )
    return None


class ApiGuardMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info.startswith("/api/"):
            problem = api_request_problem(request)
            if problem is not None:
                return problem
        return self.get_response(request)
