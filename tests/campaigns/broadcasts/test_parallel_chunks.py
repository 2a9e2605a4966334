"""A broadcast's chunks go into the outbox several at once, each on its own
connection (as a Celery worker runs it, outside any transaction), and a pause or a
cancel still lands between chunks: it waits for the chunks in flight, and chunks that
come after it wait for it rather than overtake it."""

from __future__ import annotations

import threading
import time
from threading import get_ident

import pytest
from django.db import connection, connections, transaction

from campaigns.broadcasts import delivery
from campaigns.broadcasts.delivery import broadcast_materialise, broadcast_status_lock
from campaigns.broadcasts.services import broadcast_pause, broadcast_schedule
from campaigns.models import Broadcast, BroadcastStatus
from messaging.models import Message
from tests.campaigns.broadcasts.helpers import broadcast, contacts, messages_of, segment
from tests.messaging.helpers import ACTOR, email_template

pytestmark = pytest.mark.django_db(transaction=True)


def test_chunks_go_in_at_once_on_connections_of_their_own(ws, settings, monkeypatch):
    settings.CAMPAIGNS_BROADCAST_CHUNK = 7
    settings.CAMPAIGNS_BROADCAST_PARALLEL = 2
    threads: list[int] = []
    insert = delivery._insert_chunk

    def watched(*args):
        threads.append(get_ident())
        return insert(*args)

    monkeypatch.setattr(delivery, "_insert_chunk", watched)
    pro = segment(ws, "pro", "pro")
    everyone = contacts(ws, 40, attributes={"plan": "pro"})
    contacts(ws, 5, attributes={"plan": "free"}, prefix="f")
    b = broadcast(ws, email_template(ws), include_segment_ids=[pro.pk])
    broadcast_schedule(broadcast=b, actor=ACTOR)
    assert broadcast_materialise(broadcast_id=b.pk) == 40
    b.refresh_from_db()
    assert b.recipient_count == 40 and b.materialised_at is not None
    assert [m.contact_id for m in messages_of(b)] == sorted(c.pk for c in everyone)
    assert {m.status for m in messages_of(b)} == {"scheduled"}
    assert len(threads) == 6 and get_ident() not in threads  # 40 in chunks of 7
    assert len(set(threads)) == 2
    # Run again (a crash after the last chunk): nothing is added.
    Broadcast.objects.filter(pk=b.pk).update(materialised_at=None)
    assert broadcast_materialise(broadcast_id=b.pk) == 40


def test_a_cancel_between_chunks_stops_the_rest(ws, settings, monkeypatch):
    settings.CAMPAIGNS_BROADCAST_CHUNK = 5
    settings.CAMPAIGNS_BROADCAST_PARALLEL = 2
    insert = delivery._insert_chunk
    done: list[bool] = []

    def cancel_after_two(*args):
        result = insert(*args)
        done.append(result)
        if len(done) == 2:
            Broadcast.objects.filter(pk=args[0]).update(status=BroadcastStatus.CANCELLED)
        return result

    monkeypatch.setattr(delivery, "_insert_chunk", cancel_after_two)
    b = _scheduled(ws, 50)
    assert broadcast_materialise(broadcast_id=b.pk) == 0
    b.refresh_from_db()
    assert b.materialised_at is None
    # At most the chunks already in flight when it was cancelled went in.
    assert 10 <= Message.objects.filter(origin_id=b.pk).count() <= 15


def _scheduled(ws, recipients: int) -> Broadcast:
    pro = segment(ws, "pro", "pro")
    contacts(ws, recipients, attributes={"plan": "pro"})
    b = broadcast(ws, email_template(ws), include_segment_ids=[pro.pk])
    broadcast_schedule(broadcast=b, actor=ACTOR)
    return b


def _holding(broadcast_id: int, shared: bool, release: threading.Event) -> None:
    """The broadcast's status lock held, as a chunk (shared) or a status change
    (alone) holds it, until `release`."""
    with transaction.atomic():
        broadcast_status_lock(broadcast_id, shared=shared)
        release.wait(10)


def _in_thread(target, *args):
    outcome: dict[str, object] = {}

    def run():
        try:
            outcome["result"] = target(*args)
        except Exception as error:
            outcome["error"] = error
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def test_a_pause_waits_for_the_chunk_in_flight_and_the_next_chunk_waits_for_it(ws):
    b = _scheduled(ws, 3)
    release = threading.Event()

    def next_chunk_may_start():
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_try_advisory_xact_lock_shared(%s, %s)",
                [delivery._STATUS_LOCK_SPACE, b.pk],
            )
            return cursor.fetchone()[0]

    chunk, _ = _in_thread(_holding, b.pk, True, release)  # a chunk in flight
    time.sleep(0.3)
    pause, paused = _in_thread(lambda: broadcast_pause(broadcast=b, actor=ACTOR))
    time.sleep(0.5)
    assert pause.is_alive()  # waits for the chunk in flight
    # A chunk arriving now queues behind the waiting pause; a shared row lock would
    # let it in, and a stream of chunks could keep the pause waiting to the end.
    later, asked = _in_thread(next_chunk_may_start)
    later.join(5)
    assert asked == {"result": False}
    release.set()
    chunk.join(5)
    pause.join(5)
    assert "error" not in paused and not pause.is_alive()
    b.refresh_from_db()
    assert b.status == BroadcastStatus.PAUSED
    broadcast_materialise(broadcast_id=b.pk)
    assert [m.status for m in messages_of(b)] == ["held"] * 3


def test_chunks_wait_for_a_status_change_in_progress(ws, settings):
    """While a pause, resume or cancel holds the status lock, no chunk goes in; once it
    is released, every chunk does."""
    settings.CAMPAIGNS_BROADCAST_CHUNK = 5
    settings.CAMPAIGNS_BROADCAST_PARALLEL = 2
    b = _scheduled(ws, 20)
    release = threading.Event()

    holder, _ = _in_thread(_holding, b.pk, False, release)  # a status change
    time.sleep(0.3)
    run, materialised = _in_thread(lambda: broadcast_materialise(broadcast_id=b.pk))
    time.sleep(1.5)
    assert run.is_alive()
    assert Message.objects.filter(origin_id=b.pk).count() == 0
    release.set()
    holder.join(5)
    run.join(10)
    assert materialised == {"result": 20}


def test_a_second_run_while_the_first_holds_the_broadcast_adds_nothing(ws):
    b = _scheduled(ws, 4)
    with connection.cursor() as cursor:  # as a first run still working would
        cursor.execute("SELECT pg_advisory_lock(%s, %s)", [delivery._MATERIALISE_LOCK_SPACE, b.pk])
    second, outcome = _in_thread(lambda: broadcast_materialise(broadcast_id=b.pk))
    second.join(10)
    assert outcome == {"result": 0}
    assert Message.objects.filter(origin_id=b.pk).count() == 0
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_unlock(%s, %s)", [delivery._MATERIALISE_LOCK_SPACE, b.pk]
        )
    assert broadcast_materialise(broadcast_id=b.pk) == 4
