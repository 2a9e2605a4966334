"""An erasure that PostgreSQL rolls back as a deadlock victim runs again: the contact
is erased once, its suppression entry written once; any other error is not retried.
(Ingest no longer takes the contact after its mark, the deadlock first seen under
tests/lifecycle/test_concurrency.py's load: test_ingest_erasure_order.py; the retry
stays for any other cycle.)"""

from __future__ import annotations

import psycopg
import pytest
from django.db import OperationalError

from contacts.models import Contact, Suppression
from contacts.services import erasure
from contacts.services.erasure import contact_erase
from tests.factories import ContactFactory
from workspaces.services import Actor

pytestmark = pytest.mark.django_db(transaction=True)  # retried outside a transaction only


def _failing(times: int, error: type[psycopg.Error], calls: list[int]):
    discard = erasure.contact_marks_discard

    def fail_then_discard(**kwargs):
        calls.append(1)
        if len(calls) <= times:
            try:
                raise error("deadlock detected")
            except psycopg.Error as cause:
                raise OperationalError(str(cause)) from cause
        return discard(**kwargs)

    return fail_then_discard


def test_a_deadlock_victim_runs_again(ws, monkeypatch):
    contact = ContactFactory.create(workspace=ws, email="gone@example.com")
    calls: list[int] = []
    monkeypatch.setattr(
        erasure, "contact_marks_discard", _failing(1, psycopg.errors.DeadlockDetected, calls)
    )
    contact_erase(contact=contact, actor=Actor(system="test"))
    assert len(calls) == 2
    assert not Contact.objects.filter(pk=contact.pk).exists()
    assert Suppression.objects.filter(workspace=ws).count() == 1


def test_other_errors_and_a_third_deadlock_are_raised(ws, monkeypatch):
    contact = ContactFactory.create(workspace=ws, email="kept@example.com")
    calls: list[int] = []
    monkeypatch.setattr(
        erasure, "contact_marks_discard", _failing(1, psycopg.errors.LockNotAvailable, calls)
    )
    with pytest.raises(OperationalError):
        contact_erase(contact=contact, actor=Actor(system="test"))
    assert len(calls) == 1
    calls.clear()
    monkeypatch.setattr(
        erasure, "contact_marks_discard", _failing(3, psycopg.errors.DeadlockDetected, calls)
    )
    with pytest.raises(OperationalError):
        contact_erase(contact=contact, actor=Actor(system="test"))
    assert len(calls) == 3
    assert Contact.objects.filter(pk=contact.pk).exists()
    assert not Suppression.objects.filter(workspace=ws).exists()
