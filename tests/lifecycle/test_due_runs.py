"""Due runs: a crossed boundary moves the contact at the next due run, dated when it
was crossed, and nothing else is read; every way the engine evaluates a contact
stores its next due moment; the safety sweep counts what it moved."""

from __future__ import annotations

import datetime as dt
import logging
from threading import get_ident

import pytest
from django.utils import timezone

from contacts.services import events_ingest
from lifecycle.models import ContactDue, StageTransition
from lifecycle.services import (
    contact_stage_set,
    marked_contacts_evaluate,
    stage_update,
    sweep_now,
)
from lifecycle.services.chunks import sweep_chunks
from lifecycle.services.due import due_contacts_evaluate
from lifecycle.services.sweeps import sweep_chunk, sweep_start
from tests.factories import ContactFactory
from tests.lifecycle.test_engine import purchase, stage_of
from workspaces.services import Actor

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)
MICRO = dt.timedelta(microseconds=1)


def due_of(contact) -> dt.datetime | None:
    return ContactDue.objects.filter(contact=contact).values_list("due_at", flat=True).first()


def test_a_crossed_boundary_moves_the_contact_at_the_due_run_and_nothing_else_is_read(ws, stages):
    now = timezone.now()
    nearly = ContactFactory.create(workspace=ws)  # bought 89 days ago: at risk tomorrow
    recent = ContactFactory.create(workspace=ws)  # bought 10 days ago
    never = ContactFactory.create(workspace=ws)  # never bought: nothing time can change
    bought = purchase(nearly, 89).occurred_at
    purchase(recent, 10)
    sweep_now(workspace=ws, now=now)
    assert [stage_of(c) for c in (nearly, recent, never)] == ["customer", "customer", "subscriber"]
    # The earliest of its boundaries: last purchase + 90 days (at risk).
    assert due_of(nearly) == bought + 90 * DAY + MICRO
    assert due_of(never) is None

    # Before the moment nothing is due, and nothing is read.
    assert due_contacts_evaluate(now=bought + 90 * DAY, workspace_ids=[ws.pk]) == (0, 0)
    later = now + 2 * DAY
    assert due_contacts_evaluate(now=later, workspace_ids=[ws.pk]) == (1, 1)
    assert stage_of(nearly) == "at_risk"
    move = StageTransition.objects.filter(contact=nearly).latest("at")
    assert move.at == bought + 90 * DAY + MICRO  # dated when the boundary was crossed
    assert due_of(nearly) == bought + 180 * DAY + MICRO  # next: lapsed
    assert [stage_of(c) for c in (recent, never)] == ["customer", "subscriber"]
    assert due_contacts_evaluate(now=later, workspace_ids=[ws.pk]) == (0, 0)


def test_evaluating_marked_contacts_stores_their_due_moment(ws, stages):
    contact = ContactFactory.create(workspace=ws)
    sweep_now(workspace=ws)
    assert due_of(contact) is None
    events_ingest(
        workspace=ws, items=[{"contact": {"id": contact.pk}, "name": "purchase", "revenue": "5.00"}]
    )
    assert marked_contacts_evaluate() == 1
    bought = contact.events.get().occurred_at
    # At risk's "last purchase older than 90 days" (loyal's "within 60 days" stands
    # beside "4 purchases or more", which only new data can change).
    assert due_of(contact) == bought + 90 * DAY + MICRO


def test_a_rule_change_sweeps_and_stores_everyones_due_moment(ws, stages):
    contact = ContactFactory.create(workspace=ws)
    bought = purchase(contact, 5).occurred_at
    sweep_now(workspace=ws)
    assert due_of(contact) == bought + 90 * DAY + MICRO
    stage_update(
        stage=stages["at_risk"],
        actor=Actor(system="test"),
        data={"rule": {"event": "purchase", "last": {"older_than_days": 30}}},
    )
    sweep_now(workspace=ws)  # what the change queues, run here
    assert due_of(contact) == bought + 30 * DAY + MICRO


def test_a_pins_end_is_a_due_moment(ws, stages):
    contact = ContactFactory.create(workspace=ws)
    sweep_now(workspace=ws)
    until = timezone.now() + 7 * DAY
    contact_stage_set(
        contact=contact, stage=stages["lead"], actor=Actor(system="test"), pinned_until=until
    )
    assert due_of(contact) == until
    assert due_contacts_evaluate(now=until - MICRO, workspace_ids=[ws.pk]) == (0, 0)
    assert due_contacts_evaluate(now=until + DAY, workspace_ids=[ws.pk]) == (1, 1)
    assert stage_of(contact) == "subscriber"  # the pin ran out; the rules apply again
    assert due_of(contact) is None


def test_the_safety_sweep_counts_what_it_moved(ws, stages, caplog):
    kept, lost = ContactFactory.create(workspace=ws), ContactFactory.create(workspace=ws)
    purchase(kept, 80)
    purchase(lost, 80)
    sweep_now(workspace=ws)
    caplog.set_level(logging.WARNING, logger="lifecycle.services.sweeps")
    later = timezone.now() + 20 * DAY
    # The due runs keep up: the safety sweep finds nothing.
    assert due_contacts_evaluate(now=later, workspace_ids=[ws.pk]) == (2, 2)
    run = sweep_start(workspace=ws, reason="periodic", now=later)
    assert sweep_chunk(run_id=run.pk, low=0, high=2**63 - 1, now=later) == 0
    assert "safety_sweep_moved" not in caplog.text
    # A due moment lost (here, deleted): the safety sweep moves the contact, says so,
    # and stores its moment again.
    ContactDue.objects.filter(contact=lost).delete()
    even_later = later + 100 * DAY
    assert due_contacts_evaluate(now=even_later, workspace_ids=[ws.pk]) == (1, 1)
    run = sweep_start(workspace=ws, reason="periodic", now=even_later)
    assert sweep_chunk(run_id=run.pk, low=0, high=2**63 - 1, now=even_later) == 1
    assert "lifecycle.safety_sweep_moved" in caplog.text and "moved=1" in caplog.text
    run.refresh_from_db()
    assert run.contacts_changed == 1
    assert stage_of(lost) == stage_of(kept) == "lapsed"
    assert due_of(lost) is None  # nothing left for time to change


def test_a_contact_on_time_moves_at_the_run_within_its_interval(ws, stages):
    """Runs every LIFECYCLE_DUE_SECONDS: the due contact is on time, the set-based
    statement moves it at the run, seconds after its boundary."""
    contact = ContactFactory.create(workspace=ws)
    bought = purchase(contact, 89).occurred_at
    sweep_now(workspace=ws)
    boundary = bought + 90 * DAY + MICRO
    run_at = boundary + dt.timedelta(seconds=10)
    assert due_contacts_evaluate(now=run_at, workspace_ids=[ws.pk]) == (1, 1)
    move = StageTransition.objects.filter(contact=contact).latest("at")
    assert (move.to_stage.key, move.at) == ("at_risk", run_at)
    assert due_of(contact) == bought + 180 * DAY + MICRO


def test_a_dense_due_set_is_evaluated_by_id_range(ws, stages, settings):
    """Many due at once (here: a chunk with 2 due of 3): the chunk is evaluated by id
    range, moves keep their boundary dates, and only the due are counted."""
    settings.LIFECYCLE_DUE_DENSE_CHUNK = 2
    first, second = ContactFactory.create(workspace=ws), ContactFactory.create(workspace=ws)
    never = ContactFactory.create(workspace=ws)
    bought = [purchase(c, 89).occurred_at for c in (first, second)]
    sweep_now(workspace=ws)
    assert due_of(never) is None
    assert due_contacts_evaluate(now=timezone.now() + 2 * DAY, workspace_ids=[ws.pk]) == (2, 2)
    for contact, at in zip((first, second), bought, strict=True):
        move = StageTransition.objects.filter(contact=contact).latest("at")
        assert (move.to_stage.key, move.at) == ("at_risk", at + 90 * DAY + MICRO)
        assert due_of(contact) == at + 180 * DAY + MICRO
    assert stage_of(never) == "subscriber"


@pytest.mark.django_db(transaction=True)
def test_dense_chunks_run_at_once_each_on_its_own_connection(ws, stages, settings, monkeypatch):
    """Outside a transaction (as beat runs it) the dense chunks go to
    LIFECYCLE_DUE_PARALLEL threads, each with its own connection and transaction: the
    same moves, dated at their boundaries, and every chunk's contacts handed to the due
    hooks from the thread that evaluated them."""
    settings.LIFECYCLE_DUE_DENSE_CHUNK = 1
    settings.LIFECYCLE_DUE_PARALLEL = 2
    monkeypatch.setattr(
        "lifecycle.services.due.sweep_chunks",
        lambda *, workspace: sweep_chunks(workspace=workspace, size=1),
    )
    seen: list[tuple[int, list[int]]] = []
    monkeypatch.setattr(
        "lifecycle.hooks._due_hooks", [lambda _ws, ids, _now: seen.append((get_ident(), ids))]
    )
    buyers = ContactFactory.create_batch(4, workspace=ws)
    bought = {c.pk: purchase(c, 89).occurred_at for c in buyers}
    sweep_now(workspace=ws)
    assert due_contacts_evaluate(now=timezone.now() + 2 * DAY, workspace_ids=[ws.pk]) == (4, 4)
    for contact in buyers:
        move = StageTransition.objects.filter(contact=contact).latest("at")
        assert (move.to_stage.key, move.at) == ("at_risk", bought[contact.pk] + 90 * DAY + MICRO)
        assert due_of(contact) == bought[contact.pk] + 180 * DAY + MICRO
    assert sorted(i for _, ids in seen for i in ids) == sorted(bought)
    assert get_ident() not in {thread for thread, _ in seen}
