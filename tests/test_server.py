"""The app as production serves it: granian started by config/server.py (the command
docker-compose and `make run` use), spoken to over HTTP on 127.0.0.1."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from contacts.models import Event
from tests.processes import ROOT, child_env

pytestmark = pytest.mark.django_db(transaction=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _request(
    port: int, method: str, path: str, body: Any = None, token: str = ""
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    sent = {"Host": "127.0.0.1"}
    if token:
        sent["Authorization"] = f"Bearer {token}"
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        sent["Content-Type"] = "application/json"
    try:
        conn.request(method, path, body=data, headers=sent)
        response = conn.getresponse()
        # Header names as sent (granian sends them in lower case).
        headers_ = {name.lower(): value for name, value in response.getheaders()}
        return response.status, headers_, response.read()
    finally:
        conn.close()


@pytest.fixture
def served(owner: Any, tmp_path: Any) -> Iterator[int]:
    """`python -m config.server` on a free port against the test database."""
    port = _free_port()
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "config.server", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        cwd=ROOT,
        env={**child_env(), "LOG_LEVEL": "WARNING"},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                _request(port, "GET", "/api/v1/")
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    output = (tmp_path / "server.log").read_text(errors="replace")
                    raise AssertionError(f"the server did not start: {output[-2000:]}") from None
                time.sleep(0.2)
        yield port
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(20)
        log.close()


def test_the_served_app_accepts_events_and_serves_the_dashboard(served, owner):
    status, _, body = _request(
        served,
        "POST",
        "/api/v1/events/",
        {"contact": {"email": "pat@example.com"}, "name": "signed_up"},
        owner.secret,
    )
    assert status == 202, body
    assert Event.objects.filter(workspace=owner.workspace, name="signed_up").count() == 1

    status, headers, body = _request(served, "GET", "/login/")
    assert status == 200
    assert headers["x-frame-options"] == "DENY"
    assert "content-security-policy" in headers
    assert b"<form" in body

    status, headers, _ = _request(served, "HEAD", "/static/vendor/htmx.min.js")
    assert status == 200
    assert int(headers["content-length"]) > 1000


def test_the_served_app_refuses_bad_requests_in_the_api_shape(served, owner):
    status, _, body = _request(served, "GET", "/api/v1/contacts/?q=" + "a" * 9000, None, "x")
    assert status == 414
    assert json.loads(body)["error"]["code"] == "uri_too_long"

    status, _, body = _request(served, "POST", "/api/v1/events/", {"name": ""}, owner.secret)
    assert status == 400
    assert json.loads(body)["error"]["fields"]

    status, _, body = _request(served, "GET", "/api/v1/contacts/")
    assert status == 401
    assert json.loads(body)["error"]["code"] == "unauthenticated"
