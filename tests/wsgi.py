"""A request through config.wsgi, the entry point gunicorn serves, for the tests that
check what the served app (not Django's test client) answers."""

from __future__ import annotations

from django.core import signals
from django.db import close_old_connections
from django.test.client import RequestFactory

from config.wsgi import application


def wsgi_get(path: str, authorization: str = "") -> tuple[str, dict[str, str], bytes]:
    """GET `path` through config.wsgi (it sends /api/ to the API's shorter middleware
    list); returns the status line, the headers and the body."""

    headers = {"Authorization": authorization} if authorization else None
    environ = RequestFactory().get(path, headers=headers).environ
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
