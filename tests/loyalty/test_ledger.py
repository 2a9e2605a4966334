"""The points ledger: append-only entries, a balance kept with them, never negative,
idempotent by key, and safe under concurrent redemptions on real PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import Sum

from config.errors import Conflict, InvalidInput
from loyalty.models import EntryKind, LedgerEntry, PointsBalance, SourceKind
from loyalty.services import balance_lock, entry_append, points_adjust
from tests.factories import ContactFactory
from workspaces.services import Actor

pytestmark = pytest.mark.django_db

ACTOR = Actor(system="test")


def _post(contact, points, key, kind=EntryKind.ADJUST, **kwargs):
    with transaction.atomic():
        balance = balance_lock(workspace_id=contact.workspace_id, contact_id=contact.pk)
        return entry_append(
            balance=balance,
            kind=kind,
            points=points,
            idempotency_key=key,
            source_kind=SourceKind.SYSTEM,
            **kwargs,
        )


def _balance(contact) -> int:
    return PointsBalance.objects.get(contact=contact).balance


def _ledger_sum(contact) -> int:
    return LedgerEntry.objects.filter(contact=contact).aggregate(s=Sum("points"))["s"] or 0


def test_the_balance_is_the_sum_of_the_entries(ws):
    contact = ContactFactory.create(workspace=ws)
    _post(contact, 100, "a", kind=EntryKind.EARN)
    _post(contact, -30, "b", kind=EntryKind.REDEEM)
    _post(contact, 5, "c")
    assert _balance(contact) == _ledger_sum(contact) == 75
    balance = PointsBalance.objects.get(contact=contact)
    assert (balance.earned_total, balance.redeemed_total) == (100, 30)
    assert [e.balance_after for e in LedgerEntry.objects.order_by("id")] == [100, 70, 75]


def test_the_same_key_posts_once(ws):
    contact = ContactFactory.create(workspace=ws)
    first = _post(contact, 40, "event:1", kind=EntryKind.EARN)
    again = _post(contact, 40, "event:1", kind=EntryKind.EARN)
    assert first.created and not again.created and again.entry.pk == first.entry.pk
    assert _balance(contact) == 40 and LedgerEntry.objects.count() == 1


def test_a_key_used_for_another_contact_is_a_conflict(ws):
    one, two = ContactFactory.create(workspace=ws), ContactFactory.create(workspace=ws)
    _post(one, 10, "k")
    with pytest.raises(Conflict):
        _post(two, 10, "k")
    assert not PointsBalance.objects.filter(contact=two, balance__gt=0).exists()


def test_keys_are_per_workspace(ws, outsider):
    ours = ContactFactory.create(workspace=ws)
    theirs = ContactFactory.create(workspace=outsider.workspace)
    assert _post(ours, 10, "k").created and _post(theirs, 10, "k").created


def test_points_never_go_negative(ws):
    contact = ContactFactory.create(workspace=ws)
    _post(contact, 10, "a")
    with pytest.raises(Conflict) as refused:
        _post(contact, -11, "b", kind=EntryKind.REDEEM)
    assert "points" in refused.value.fields
    assert _balance(contact) == 10 and LedgerEntry.objects.count() == 1


def test_a_clamped_debit_takes_what_is_there_and_records_the_rest(ws):
    contact = ContactFactory.create(workspace=ws)
    _post(contact, 10, "a", kind=EntryKind.EARN)
    posted = _post(contact, -25, "order:1:reverse", kind=EntryKind.REVERSE, clamp=True)
    assert posted.entry.points == -10 and posted.entry.details == {"uncollected": 15}
    assert _balance(contact) == 0
    # Nothing left: a zero reversal still holds the key, so a retry takes nothing later.
    _post(contact, 50, "b", kind=EntryKind.EARN)
    assert not _post(contact, -25, "order:1:reverse", kind=EntryKind.REVERSE, clamp=True).created
    assert _balance(contact) == 50


def test_the_database_refuses_a_negative_balance_and_a_changed_entry(ws):
    contact = ContactFactory.create(workspace=ws)
    _post(contact, 10, "a")
    with pytest.raises(IntegrityError), transaction.atomic():
        PointsBalance.objects.filter(contact=contact).update(balance=-1)
    entry = LedgerEntry.objects.get()
    with pytest.raises(Exception, match="append-only"), transaction.atomic():
        LedgerEntry.objects.filter(pk=entry.pk).update(points=1000)
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.create(
            workspace=ws,
            contact=contact,
            kind=EntryKind.REDEEM,
            points=5,
            balance_after=15,
            source_kind=SourceKind.SYSTEM,
            idempotency_key="positive-redeem",
        )


def test_adjust_checks_its_input(ws):
    contact = ContactFactory.create(workspace=ws)
    with pytest.raises(InvalidInput) as refused:
        points_adjust(
            contact=contact,
            data={"points": 0, "reason": " ", "idempotency_key": "", "colour": 1},
            actor=ACTOR,
        )
    assert set(refused.value.fields) == {"points", "reason", "idempotency_key", "colour"}
    entry, created = points_adjust(
        contact=contact,
        data={"points": 25, "reason": "goodwill", "idempotency_key": "t-1"},
        actor=ACTOR,
    )
    assert created and entry.points == 25 and entry.source_kind == SourceKind.SYSTEM
    again, created = points_adjust(
        contact=contact,
        data={"points": 25, "reason": "goodwill", "idempotency_key": "t-1"},
        actor=ACTOR,
    )
    assert not created and again.pk == entry.pk and _balance(contact) == 25


@pytest.mark.django_db(transaction=True)
def test_concurrent_debits_never_overdraw(ws):
    """Eight writers each try to spend 30 of 100 points at the same moment: exactly
    three succeed, the balance is 10 and equals the ledger's sum."""
    contact = ContactFactory.create(workspace=ws)
    _post(contact, 100, "seed", kind=EntryKind.EARN)
    barrier = threading.Barrier(8)
    outcomes: list[str] = []

    def spend(n: int) -> None:
        try:
            barrier.wait()
            _post(contact, -30, f"spend-{n}", kind=EntryKind.REDEEM)
            outcomes.append("ok")
        except Conflict:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=spend, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["ok"] * 3 + ["refused"] * 5
    assert _balance(contact) == _ledger_sum(contact) == 10


@pytest.mark.django_db(transaction=True)
def test_concurrent_first_writes_create_one_balance(ws):
    contact = ContactFactory.create(workspace=ws)
    barrier = threading.Barrier(4)

    def earn(n: int) -> None:
        try:
            barrier.wait()
            _post(contact, 10, f"earn-{n}", kind=EntryKind.EARN)
        finally:
            connection.close()

    threads = [threading.Thread(target=earn, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert PointsBalance.objects.filter(contact=contact).count() == 1
    assert _balance(contact) == _ledger_sum(contact) == 40


def test_the_balance_row_holds_the_contact_for_its_entries(ws):
    """The ledger has no foreign keys of its own (models/ledger.py): the balance row,
    under whose lock every entry is written, keeps the contact from being deleted
    behind the ORM's back, and the ORM's delete takes the entries with the contact."""
    ann, bob = ContactFactory.create(workspace=ws), ContactFactory.create(workspace=ws)
    _post(ann, 50, "a-1")
    _post(bob, 70, "b-1")
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # checked now, not at commit
        with pytest.raises(IntegrityError), transaction.atomic():
            cursor.execute("DELETE FROM contacts_contact WHERE id = %s", [ann.pk])
    ann.delete()
    assert not LedgerEntry.objects.filter(contact_id=ann.pk).exists()
    assert not PointsBalance.objects.filter(contact_id=ann.pk).exists()
    assert _balance(bob) == _ledger_sum(bob) == 70
