"""An event arriving for a contact while it is being erased waits for the erasure and
never deadlocks with it: the ingest statement locks the contact before it joins the
contact's pending mark, the order an erasure keeps (contact, then marks). The event
then belongs to a new contact with that email, as for any unknown email."""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any

import pytest
from django.db import connection

from contacts.models import Contact, ContactMark, Event
from contacts.services import erasure, events
from contacts.services.erasure import contact_erase
from contacts.services.events import events_ingest
from tests.factories import ContactFactory
from workspaces.services import Actor

pytestmark = pytest.mark.django_db(transaction=True)  # two connections see each other

EMAIL = "leaving@example.com"


def _event(minutes_ago: int) -> dict[str, Any]:
    at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=minutes_ago)
    return {"contact": {"email": EMAIL}, "name": "page_view", "occurred_at": at.isoformat()}


def _someone_waits_for_a_lock() -> bool:
    with connection.cursor() as cursor:
        # Inside the erasure's transaction: the activity view is read afresh each time.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0] > 0


def test_an_event_during_an_erasure_waits_for_it_and_goes_to_a_new_contact(ws, monkeypatch):
    contact = ContactFactory.create(workspace=ws, email=EMAIL)
    assert not events_ingest(workspace=ws, items=[_event(60)]).errors
    assert ContactMark.objects.filter(contact=contact, source="api", claim=None).exists()
    # Neither party may need a second try: a deadlock would be raised, not retried.
    monkeypatch.setattr(events, "_ATTEMPTS", 1)
    outcome: dict[str, Any] = {}

    def ingest() -> None:
        try:
            outcome["result"] = events_ingest(workspace=ws, items=[_event(1)])
        except BaseException as error:  # reported by the assertion below
            outcome["error"] = error
        finally:
            connection.close()

    discard = erasure.contact_marks_discard
    calls: list[int] = []

    def discard_once_the_event_waits(**kwargs: Any) -> None:
        # The erasure holds the contact: the event arrives now, and its statement
        # must wait for the contact before it touches the mark the erasure takes next.
        calls.append(1)
        arriving.start()
        deadline = time.monotonic() + 10
        while not _someone_waits_for_a_lock():
            assert time.monotonic() < deadline, f"the event never waited: {outcome}"
            time.sleep(0.02)
        time.sleep(0.2)  # had it taken the mark, PostgreSQL would find the cycle in 1 s
        discard(**kwargs)

    arriving = threading.Thread(target=ingest)
    monkeypatch.setattr(erasure, "contact_marks_discard", discard_once_the_event_waits)
    contact_erase(contact=contact, actor=Actor(system="test"))
    arriving.join(timeout=30)

    assert "error" not in outcome, outcome.get("error")
    assert calls == [1]  # the erasure ran once: it was no deadlock's victim
    result = outcome["result"]
    assert (result.accepted, result.contacts_created, result.errors) == (1, 1, [])
    assert not Contact.objects.filter(pk=contact.pk).exists()
    newcomer = Contact.objects.get(workspace=ws, email=EMAIL)
    assert list(Event.objects.filter(contact=newcomer).values_list("name", flat=True)) == [
        "page_view"
    ]
