"""A request through config.wsgi, the entry point gunicorn serves (it sends /api/ to the
API's shorter middleware list), from inside a test's transaction."""

from __future__ import annotations

from django.core import signals
from django.db import close_old_connections
from django.test.client import RequestFactory

from config.wsgi import application


def wsgi_get(path: str, authorization: str = "") -> tuple[str, dict[str, str], bytes]:
    """(status line, headers, body) of GET `path`."""
    if authorization:
        environ = RequestFactory().get(path, HTTP_AUTHORIZATION=authorization).environ
    else:
        environ = RequestFactory().get(path).environ
    captured: dict[str, object] = {}

    def start_response(status: str, response_headers: list[tuple[str, str]]) -> None:
        captured["status"], captured["headers"] = status, dict(response_headers)

    # As Django's test client does: keep the test's transaction's connection open.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        body = b"".join(application(environ, start_response))
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)
    return str(captured["status"]), captured["headers"], body  # type: ignore[return-value]
