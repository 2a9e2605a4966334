"""Waking parked enrolments when their contacts' data changes: the engine's refresh hook
and the stage-change dispatch wake overlapping contacts at the same moment, so each must
take the enrolments' row locks in one order (id order), or two of them can each hold a
row the other waits for (a deadlock seen under `make bench-latency`)."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import OperationalError, connection, connections, transaction
from django.db.models import F
from django.utils import timezone

from campaigns.journeys.triggers import enrol, wake
from campaigns.models import JourneyEnrolment
from contacts.models import Contact
from tests.campaigns.journeys.helpers import advance, journey, step

WAIT = [step("wait", "wait", duration={"days": 3})]


def _waiting_for_a_lock(seconds: float = 20) -> bool:
    """True once another session waits for a row lock on the enrolments."""
    deadline = time.monotonic() + seconds
    with connections["default"].cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND query ILIKE '%%campaigns_journeyenrolment%%' AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone()[0]:
                return True
            time.sleep(0.05)
    return False


@pytest.mark.django_db(transaction=True)
def test_wake_locks_enrolments_in_id_order_and_waits_for_a_worker(ws):
    j = journey(ws, {"kind": "manual"}, WAIT)  # exits on unsubscribe: it watches
    first, second = Contact.objects.bulk_create(
        Contact(workspace=ws, email=f"c{i}@acme.test") for i in range(2)
    )
    # Enrolled second contact first, so the lower enrolment id belongs to the higher
    # contact id (an index on contact meets the higher enrolment id first) ...
    now = timezone.now()
    assert enrol(j, [(c.pk, f"api:w:{c.pk}", now) for c in (second, first)]) == 2
    advance()  # both parked at the wait, due in 3 days
    low, high = sorted(JourneyEnrolment.objects.filter(journey=j).values_list("pk", flat=True))
    # ... and the lower id's row rewritten, so the heap holds it after the higher one.
    JourneyEnrolment.objects.filter(pk=low).update(attempts=F("attempts"))

    worker_has_low = threading.Event()
    release_worker = threading.Event()
    woken: list[int] = []
    errors: list[BaseException] = []

    def worker() -> None:  # a journey worker that has claimed the lower row
        try:
            with transaction.atomic():
                JourneyEnrolment.objects.select_for_update().get(pk=low)
                worker_has_low.set()
                release_worker.wait(timeout=30)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    def waker() -> None:
        try:
            woken.append(wake([first.pk, second.pk]))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker), threading.Thread(target=waker)]
    threads[0].start()
    assert worker_has_low.wait(timeout=30)
    threads[1].start()
    try:
        assert _waiting_for_a_lock(), "the wake never waited for the worker's row"
        # The wake waits for the lower row before it takes the higher one: another
        # writer (the other hook) can take the higher row now, and would queue behind
        # the wake for the lower one rather than hold what the wake wants.
        try:
            with transaction.atomic():
                JourneyEnrolment.objects.select_for_update(nowait=True).get(pk=high)
        except OperationalError:
            pytest.fail("the wake took the higher row before the lower one")
    finally:
        release_worker.set()
        for t in threads:
            t.join(timeout=30)
    assert not errors, errors
    assert woken == [2]  # the worker's row too, once it let go
    due = JourneyEnrolment.objects.filter(journey=j).values_list("due_at", flat=True)
    assert all(d <= timezone.now() for d in due)
