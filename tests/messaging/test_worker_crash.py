"""Exactly-once under crashes: a real Celery worker process is SIGKILLed at points in
the send path (and at random moments), restarted, and every message reaches the SMTP
sink / HTTP stub; nothing is lost and nothing is sent twice except where
docs/messaging.md says it can be (SMTP has no idempotency key: a crash between the
server's 250 and our commit resends the message with the same Message-ID)."""

from __future__ import annotations

import random
import time
from typing import Any

import pytest

from messaging.models import Message
from messaging.services.claims import message_dispatch_due
from messaging.services.outgoing import message_id_header
from tests.factories import ContactFactory
from tests.messaging.helpers import email_template, enqueue
from tests.messaging.servers import PostmarkStub, SmtpSink
from tests.processes import Worker, child_env, purge_broker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]
LEASE = 3


def _worker_env(provider: dict[str, str], **extra: str) -> dict[str, str]:
    return child_env(
        EMAIL_WEBHOOK_SECRET="test-secret",
        MESSAGING_LEASE_SECONDS=str(LEASE),
        **provider,
        **extra,
    )


def _smtp(sink: SmtpSink) -> dict[str, str]:
    """The provider settings that send to the test's SMTP sink."""
    return {
        "MESSAGING_EMAIL_PROVIDER": "smtp",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(sink.port),
    }


def _messages(ws: Any, count: int) -> list[int]:
    contacts = [ContactFactory.create(workspace=ws) for _ in range(count)]
    return enqueue(contacts, email_template(ws))


def _drive(
    ws: Any,
    worker: Worker,
    env: dict[str, str],
    timeout: float = 90,
    kill_after_sent: list[int] | None = None,
) -> tuple[Worker, int, int]:
    """Act as beat until every message is final; restart the worker whenever it dies,
    and SIGKILL it once the given numbers of messages are sent (so a kill lands
    mid-run however fast the machine is). Returns the worker, its deaths and the kills
    made."""
    deaths = made = 0
    started = time.monotonic()
    sent_kills = sorted(kill_after_sent or [])
    while Message.objects.filter(workspace=ws, status__in=["scheduled", "sending"]).exists():
        assert time.monotonic() - started < timeout, "messages left unsent"
        if sent_kills and (
            Message.objects.filter(workspace=ws, status="sent").count() >= sent_kills[0]
        ):
            sent_kills.pop(0)
            worker.kill()
            made += 1
        if worker.process is not None and worker.process.poll() is not None:
            deaths += 1
            worker.stop()
            worker = Worker(concurrency=1).start(env=env)
        message_dispatch_due()
        time.sleep(0.2)
    return worker, deaths, made


@pytest.mark.parametrize(
    ("point", "smtp_duplicates"),
    [("after_render", 0), ("after_provider", 1), ("after_record", 0)],
)
def test_sigkill_at_each_point_of_the_send_path_smtp(
    ws, settings, tmp_path, point, smtp_duplicates
):
    settings.MESSAGING_LEASE_SECONDS = LEASE
    purge_broker()
    ids = _messages(ws, 12)
    with SmtpSink() as sink:
        marker = tmp_path / "crashed"
        env = _worker_env(_smtp(sink), MESSAGING_CRASH_AT=point, MESSAGING_CRASH_MARKER=str(marker))
        worker = Worker(concurrency=1).start(env=env)
        try:
            worker, deaths, _ = _drive(ws, worker, env)
        finally:
            worker.stop()
        assert marker.exists() and deaths == 1  # it really died once at that point
        counts = sink.message_ids()
    uuids = {message_id_header(m) for m in Message.objects.filter(pk__in=ids)}
    assert set(counts) == uuids  # every message arrived: none lost
    duplicates = sum(n - 1 for n in counts.values())
    assert duplicates == smtp_duplicates
    assert set(Message.objects.filter(pk__in=ids).values_list("status", flat=True)) == {"sent"}


def test_sigkill_after_provider_http_idempotency_key_makes_it_exactly_once(ws, settings, tmp_path):
    settings.MESSAGING_LEASE_SECONDS = LEASE
    purge_broker()
    ids = _messages(ws, 12)
    with PostmarkStub() as stub:
        marker = tmp_path / "crashed"
        env = _worker_env(
            {"MESSAGING_EMAIL_PROVIDER": "http", "EMAIL_HTTP_URL": stub.url},
            MESSAGING_CRASH_AT="after_provider",
            MESSAGING_CRASH_MARKER=str(marker),
        )
        worker = Worker(concurrency=1).start(env=env)
        try:
            worker, deaths, _ = _drive(ws, worker, env)
        finally:
            worker.stop()
    assert marker.exists() and deaths == 1
    # The whole batch was accepted, the worker died before recording it, the batch was
    # sent again: the provider saw every key twice and delivered each message once.
    assert stub.unique_accepted() == 12
    assert set(stub.accepted.values()) == {2}
    assert set(Message.objects.filter(pk__in=ids).values_list("status", flat=True)) == {"sent"}


def test_random_sigkills_lose_nothing(ws, settings):
    """SIGKILLs at random numbers of sends, each while messages are still unsent: each
    kills the worker mid-run, every message arrives, and at most the one message in
    flight at each kill arrives twice (SMTP has no idempotency key)."""
    settings.MESSAGING_LEASE_SECONDS = LEASE
    settings.MESSAGING_TASK_CHUNK = 10
    purge_broker()
    ids = _messages(ws, 150)
    rng = random.Random(7)
    with SmtpSink() as sink:
        env = _worker_env(_smtp(sink))
        worker = Worker(concurrency=1).start(env=env)
        # After a random number of sends in each third: the kills always land mid-run.
        kills = [rng.randint(5, 40), rng.randint(50, 90), rng.randint(100, 130)]
        try:
            worker, deaths, made = _drive(ws, worker, env, kill_after_sent=kills)
        finally:
            worker.stop()
        counts = sink.message_ids()
    # Every kill made killed the worker, and at least two landed before the last send.
    assert deaths == made >= 2
    uuids = {message_id_header(m) for m in Message.objects.filter(pk__in=ids)}
    assert set(counts) == uuids
    # A kill can interrupt at most the one message in flight (concurrency 1).
    assert sum(n - 1 for n in counts.values()) <= deaths
    assert set(Message.objects.filter(pk__in=ids).values_list("status", flat=True)) == {"sent"}


def test_broker_loses_the_queued_tasks(ws, settings):
    """A Redis restart (or flush) after the claim: the tasks are gone, the rows are
    leased; after the lease they are claimed again and sent once."""
    settings.MESSAGING_LEASE_SECONDS = LEASE
    purge_broker()
    ids = _messages(ws, 20)
    assert message_dispatch_due() == 20
    purge_broker()  # what a Redis restart without persistence does to the queue
    with SmtpSink() as sink:
        env = _worker_env(_smtp(sink))
        worker = Worker(concurrency=1).start(env=env)
        try:
            worker, deaths, _ = _drive(ws, worker, env)
        finally:
            worker.stop()
        counts = sink.message_ids()
    assert deaths == 0
    assert len(counts) == 20 and set(counts.values()) == {1}
    assert set(Message.objects.filter(pk__in=ids).values_list("attempts", flat=True)) == {2}
