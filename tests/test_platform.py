"""The platform pieces: OpenAPI schema and docs, production settings, WSGI, services."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.wsgi import wsgi_get

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.django_db
def test_openapi_schema_documents_every_route(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    schema = response.json()
    paths = schema["paths"]
    for path in (
        "/api/v1/contacts/",
        "/api/v1/contacts/{contact_id}/",
        "/api/v1/events/",
        "/api/v1/contacts/batch/",
        "/api/v1/imports/",
    ):
        assert path in paths, path
    assert schema["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer"
    assert client.get("/api/docs/").status_code == 200


def test_schema_generates_without_warnings():
    result = subprocess.run(
        [sys.executable, "manage.py", "spectacular", "--fail-on-warn", "--file", os.devnull],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.test_settings"},
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_production_settings_pass_check_deploy():
    env = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE")}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": "postgres://u:p@db.invalid:5432/stagecraft",
            "REDIS_URL": "redis://redis.invalid:6379/0",
            "SECRET_KEY": "k" * 60 + "Zq9!xR2",
            "ALLOWED_HOSTS": "stagecraft.example.com",
        }
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_refuses_to_start_without_a_secret_key():
    env = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "SECRET_KEY")}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": "postgres://u:p@db.invalid:5432/x",
        }
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, capture_output=True, text=True, env=env
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


@pytest.mark.django_db
def test_wsgi_serves_the_api_without_dashboard_middleware(owner):

    status, headers, body = wsgi_get("/api/v1/workspace/", f"Bearer {owner.secret}")
    assert status.startswith("200")
    assert b'"slug":"acme"' in body.replace(b" ", b"")
    assert "Cookie" not in headers.get("Vary", "")
    assert "X-Frame-Options" not in headers  # the dashboard's clickjacking middleware
    status, headers, _ = wsgi_get("/login/")
    assert status.startswith("200")
    assert headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize("whole_group", [False, True], ids=["supervisor", "process-group"])
def test_services_stop_their_servers_on_sigterm(whole_group):
    """`make run` under docker, systemd or a supervisor is stopped by SIGTERM, to the
    top process or to its whole process group: the embedded PostgreSQL and Redis it
    started must stop too, as they do on Ctrl-C."""
    data = ROOT / ".data" / f"sigterm-{uuid.uuid4().hex[:8]}"
    data.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["STAGECRAFT_DATA_DIR"] = str(data)
    child = "import sys, time; print('ready', flush=True); time.sleep(120)"
    pids: list[int] = []
    process = subprocess.Popen(
        [sys.executable, "scripts/services.py", "exec", "--", sys.executable, "-c", child],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
        pg_pid = int((data / "pg" / "postmaster.pid").read_text().split()[0])
        redis_pid = int((data / "redis" / "redis.pid").read_text().strip())
        pids += [pg_pid, redis_pid]
        for pid in pids:
            os.kill(pid, 0)  # both running
        if whole_group:
            os.killpg(process.pid, signal.SIGTERM)
        else:
            process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) is not None
        deadline = time.monotonic() + 10
        alive = [pg_pid, redis_pid]
        while alive and time.monotonic() < deadline:
            alive = [pid for pid in alive if _alive(pid)]
            time.sleep(0.1)
        assert alive == [], "servers left running after SIGTERM"
    finally:
        if process.poll() is None:
            process.kill()
        for pid in pids:  # never leave servers behind, even when the test fails
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(data, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
