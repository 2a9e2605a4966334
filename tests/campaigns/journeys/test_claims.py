"""Claims of due enrolments: one workspace at a time and fair across tenants, so a
huge backlog in one workspace cannot hold back another's welcome step; and two
workers claiming at once get disjoint rows (real PostgreSQL, threads)."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from campaigns.journeys.claims import enrolment_due_workspaces, enrolments_claim
from campaigns.journeys.engine import journeys_advance
from campaigns.journeys.triggers import enrol
from campaigns.models import Journey, JourneyEnrolment, JourneyStep
from contacts.models import Contact
from tests.campaigns.journeys.helpers import journey, step
from tests.factories import WorkspaceFactory
from workspaces.models import Workspace

WAIT = [step("wait", "wait", duration={"days": 3})]


def _contacts(ws: Workspace, n: int) -> list[int]:
    made = Contact.objects.bulk_create(
        Contact(workspace=ws, email=f"c{i}@{ws.slug}.test") for i in range(n)
    )
    return [c.pk for c in made]


def _enrol(j: Journey, contact_ids: list[int], at: dt.datetime) -> None:
    assert enrol(j, [(cid, f"api:t:{cid}", at) for cid in contact_ids]) == len(contact_ids)


def _started(j: Journey) -> int:
    """Enrolments of `j` that have run their first step (parked at the wait)."""
    return JourneyEnrolment.objects.filter(journey=j, step__isnull=False).count()


@pytest.mark.django_db
def test_small_workspace_progresses_beside_a_huge_backlog(ws):
    big_ws = WorkspaceFactory.create(slug="bigco")
    big = journey(big_ws, {"kind": "manual"}, WAIT)
    small = journey(ws, {"kind": "manual"}, WAIT)
    now = timezone.now()
    # The backlog has been due for an hour: a claim ordered by due time across tenants
    # would take 100 of it and leave the small workspace's enrolment waiting.
    _enrol(big, _contacts(big_ws, 3000), now - dt.timedelta(hours=1))
    _enrol(small, _contacts(ws, 1), now)

    assert sorted(enrolment_due_workspaces(now=now)) == sorted([big_ws.pk, ws.pk])
    journeys_advance(limit=100, now=now)
    assert _started(small) == 1
    assert _started(big) == 99  # the rest of the batch, not more

    # Rounds after: the backlog takes the whole batch, since nobody else waits.
    journeys_advance(limit=100, now=now)
    assert _started(big) == 199


@pytest.mark.django_db
def test_both_workspaces_progress_every_round(ws):
    other = WorkspaceFactory.create(slug="other")
    a = journey(ws, {"kind": "manual"}, WAIT)
    b = journey(other, {"kind": "manual"}, WAIT)
    now = timezone.now()
    _enrol(a, _contacts(ws, 500), now - dt.timedelta(minutes=5))
    _enrol(b, _contacts(other, 500), now - dt.timedelta(minutes=1))
    for round_ in range(1, 4):
        journeys_advance(limit=60, now=now)
        assert (_started(a), _started(b)) == (30 * round_, 30 * round_)


@pytest.mark.django_db
def test_a_paused_journey_or_future_rows_name_no_workspace(ws):
    paused = journey(ws, {"kind": "manual"}, WAIT, live=False)
    now = timezone.now()
    _enrol(paused, _contacts(ws, 3), now - dt.timedelta(minutes=1))
    # Listed (one probe finds due rows) but the claim takes nothing of a paused journey.
    assert enrolment_due_workspaces(now=now) == [ws.pk]
    assert journeys_advance(now=now) == 0
    assert _started(paused) == 0
    JourneyEnrolment.objects.filter(journey=paused).update(due_at=now + dt.timedelta(hours=1))
    assert enrolment_due_workspaces(now=now) == []


def _claim_in_thread(workspace_id: int, now: dt.datetime, barrier: threading.Barrier) -> list[int]:
    """Claim in a transaction of this thread's own connection, and hold the locks
    until the other claimer has claimed too."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            rows = enrolments_claim(cursor, workspace_id=workspace_id, now=now, limit=150)
            barrier.wait(timeout=30)
            return [r[0] for r in rows]
    finally:
        connections.close_all()


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_claimers_get_disjoint_rows(ws):
    j = journey(ws, {"kind": "manual"}, WAIT)
    now = timezone.now()
    _enrol(j, _contacts(ws, 200), now - dt.timedelta(minutes=1))
    barrier = threading.Barrier(2)
    results: list[list[int]] = [[], []]

    def run(slot: int) -> None:
        results[slot] = _claim_in_thread(ws.pk, now, barrier)

    threads = [threading.Thread(target=run, args=(slot,)) for slot in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    first, second = results
    assert len(first) + len(second) == 200  # together they took every due row
    assert set(first).isdisjoint(second)
    # Each took at most its limit; how the 200 split depends on how the two
    # interleaved (SKIP LOCKED passes over the other's rows as it goes).
    assert max(len(first), len(second)) <= 150


@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_run_each_enrolment_once(ws):
    other = WorkspaceFactory.create(slug="other")
    a = journey(ws, {"kind": "manual"}, WAIT)
    b = journey(other, {"kind": "manual"}, WAIT)
    now = timezone.now()
    _enrol(a, _contacts(ws, 400), now - dt.timedelta(minutes=1))
    _enrol(b, _contacts(other, 40), now - dt.timedelta(minutes=1))
    errors: list[BaseException] = []

    def work() -> None:
        try:
            while journeys_advance(limit=50, now=now):
                pass
        except BaseException as exc:  # surfaced below, in the test's thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    assert (_started(a), _started(b)) == (400, 40)
    # Step counters are added to in the claim's transaction: a row run twice would
    # have counted twice.
    entered = dict(JourneyStep.objects.filter(key="wait").values_list("journey_id", "entered"))
    assert entered == {a.pk: 400, b.pk: 40}
