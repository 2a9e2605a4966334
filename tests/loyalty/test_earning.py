"""Earning from events as the engine takes them in: the rounding, fixed points,
multipliers, the daily cap, idempotency, and refunds taking back what an order
earned."""

from __future__ import annotations

import contextlib
import datetime as dt
import threading

import pytest
from django.db import connection, transaction
from django.utils import timezone

from config.errors import Conflict
from loyalty.models import EntryKind, LedgerEntry, Programme
from loyalty.services import earn_for_refreshed, order_reverse, points_adjust
from tests.factories import ContactFactory, WorkspaceFactory
from tests.loyalty.helpers import ACTOR, balance, ingest, programme, purchase

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("per_unit", "revenue", "points"),
    [("1", "49.99", 49), ("10", "49.99", 499), ("0.5", "49.99", 24), ("1", "0.99", 0)],
)
def test_purchases_earn_per_currency_unit_floored(ws, per_unit, revenue, points):
    programme(ws, points_per_unit=per_unit)
    contact = ContactFactory.create(workspace=ws)
    ingest(ws, purchase(contact, revenue, properties={"order_id": "A-1"}))
    entry = LedgerEntry.objects.get(contact=contact)
    assert (entry.kind, entry.points, entry.order_id) == (EntryKind.EARN, points, "A-1")
    assert balance(contact) == points


def test_a_replayed_or_retried_event_earns_once(ws):
    programme(ws)
    contact = ContactFactory.create(workspace=ws)
    event = purchase(contact, "30", idempotency_key="order-7")
    ingest(ws, event)
    ingest(ws, event)  # the shop sends it again
    with transaction.atomic():
        earn_for_refreshed([contact.pk])  # the engine offers the contact again
    assert balance(contact) == 30
    assert LedgerEntry.objects.filter(contact=contact).count() == 1


def test_fixed_points_for_named_events_and_none_for_others(ws):
    programme(ws, event_points={"survey_answered": 20, "review": 50})
    contact = ContactFactory.create(workspace=ws)
    ingest(
        ws,
        {"contact": {"id": contact.pk}, "name": "survey_answered"},
        {"contact": {"id": contact.pk}, "name": "review"},
        {"contact": {"id": contact.pk}, "name": "page_view"},
    )
    assert balance(contact) == 70
    assert sorted(LedgerEntry.objects.values_list("reason", flat=True)) == [
        "review",
        "survey_answered",
    ]


def test_a_multiplier_window_multiplies_inside_it_only(ws):
    now = timezone.now()
    programme(
        ws,
        multipliers=[
            {
                "name": "Double points week",
                "factor": "2",
                "starts_at": (now - dt.timedelta(days=1)).isoformat(),
                "ends_at": (now + dt.timedelta(hours=1)).isoformat(),
            },
            {
                "name": "Smaller, overlapping",
                "factor": "1.5",
                "starts_at": (now - dt.timedelta(days=1)).isoformat(),
                "ends_at": (now + dt.timedelta(hours=1)).isoformat(),
            },
        ],
    )
    inside, later = ContactFactory.create(workspace=ws), ContactFactory.create(workspace=ws)
    ingest(
        ws,
        purchase(inside, "10.75"),
        purchase(later, "10", occurred_at=(now + dt.timedelta(hours=2)).isoformat()),
    )
    # floor(10.75 * 2) = 21: the largest open window counts, windows do not compound.
    assert balance(inside) == 21
    assert balance(later) == 10


def test_the_daily_cap_counts_days_in_the_workspace_time_zone(ws):
    ws.time_zone = "America/New_York"
    ws.save(update_fields=["time_zone"])
    programme(ws, daily_cap=100)
    contact = ContactFactory.create(workspace=ws)
    # 03:30 UTC on the 5th is 22:30 on the 4th in New York; 05:30 UTC is the 5th there.
    day = timezone.now().astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    late_4th = day - dt.timedelta(days=1) + dt.timedelta(hours=3, minutes=30)
    early_5th = day - dt.timedelta(days=1) + dt.timedelta(hours=5, minutes=30)
    Programme.objects.filter(workspace=ws).update(enabled_at=day - dt.timedelta(days=3))
    ingest(
        ws,
        purchase(contact, "60", occurred_at=late_4th.isoformat()),
        purchase(contact, "60", occurred_at=(late_4th + dt.timedelta(minutes=1)).isoformat()),
        purchase(contact, "60", occurred_at=(late_4th + dt.timedelta(minutes=2)).isoformat()),
        purchase(contact, "60", occurred_at=early_5th.isoformat()),
    )
    points = list(LedgerEntry.objects.order_by("occurred_at").values_list("points", flat=True))
    assert points == [60, 40, 0, 60]
    assert LedgerEntry.objects.filter(points=0).get().details["capped_from"] == 60
    assert balance(contact) == 160


def test_events_before_the_start_or_with_the_programme_off_earn_nothing(ws):
    contact = ContactFactory.create(workspace=ws)
    ingest(ws, purchase(contact, "10"))  # no programme yet
    enabled_at = programme(ws).enabled_at
    assert enabled_at is not None
    ingest(
        ws, purchase(contact, "20", occurred_at=(enabled_at - dt.timedelta(hours=1)).isoformat())
    )
    assert balance(contact) == 0
    programme(ws, enabled=False)
    ingest(ws, purchase(contact, "40"))
    assert balance(contact) == 0
    programme(ws, enabled=True)
    ingest(ws, purchase(contact, "80"))
    assert balance(contact) == 80  # the earlier events still earn nothing


def test_another_workspace_programme_earns_nothing_here(ws):
    other = WorkspaceFactory.create(slug="other")
    programme(other)
    contact = ContactFactory.create(workspace=ws)
    ingest(ws, purchase(contact, "10"))
    assert balance(contact) == 0


def test_refunds_take_back_the_order_share_and_all_of_it_in_the_end(ws):
    programme(ws)
    contact = ContactFactory.create(workspace=ws)
    ingest(ws, purchase(contact, "99.99", properties={"order_id": "A-1"}))
    assert balance(contact) == 99
    ingest(ws, purchase(contact, "-50", properties={"order_id": "A-1"}))
    assert balance(contact) == 50  # floor(99 * 50 / 99.99) = 49 taken
    ingest(ws, purchase(contact, "-49.99", properties={"order_id": "A-1"}))
    assert balance(contact) == 0
    reversals = LedgerEntry.objects.filter(kind=EntryKind.REVERSE).order_by("id")
    assert [e.points for e in reversals] == [-49, -50]


def test_a_refund_after_the_points_were_spent_takes_what_is_left(ws):
    programme(ws)
    contact = ContactFactory.create(workspace=ws)
    ingest(ws, purchase(contact, "100", properties={"order_id": "B-2"}))
    points_adjust(
        contact=contact,
        data={"points": -80, "reason": "spent", "idempotency_key": "s"},
        actor=ACTOR,
    )
    ingest(ws, purchase(contact, "-100", properties={"order_id": "B-2"}))
    entry = LedgerEntry.objects.get(kind=EntryKind.REVERSE)
    assert (entry.points, entry.details["uncollected"]) == (-20, 80)
    assert balance(contact) == 0


def test_a_refund_without_an_order_id_takes_nothing(ws):
    programme(ws)
    contact = ContactFactory.create(workspace=ws)
    ingest(ws, purchase(contact, "100"), purchase(contact, "-100"))
    assert balance(contact) == 100


def test_reversing_an_order_takes_the_rest_once(ws):
    programme(ws)
    contact = ContactFactory.create(workspace=ws)
    ingest(ws, purchase(contact, "100", properties={"order_id": "C-3"}))
    ingest(ws, purchase(contact, "-25", properties={"order_id": "C-3"}))
    assert balance(contact) == 75
    entries, created = order_reverse(workspace=ws, order_id="C-3", data={}, actor=ACTOR)
    assert created and [e.points for e in entries] == [-75]
    again, created = order_reverse(workspace=ws, order_id="C-3", data={}, actor=ACTOR)
    assert not created and again[0].pk == entries[0].pk
    ingest(ws, purchase(contact, "-75", properties={"order_id": "C-3"}))
    assert balance(contact) == 0
    assert LedgerEntry.objects.filter(kind=EntryKind.REVERSE).count() == 3
    ingest(ws, purchase(contact, "10"))
    assert balance(contact) == 10


@pytest.mark.django_db(transaction=True)
def test_earning_and_spending_at_once_keep_the_chain_of_balances(ws):
    """The engine earns from a stream of purchases while the checkout spends points of
    the same contact: every entry's balance_after is the one before plus its points,
    and the balance row equals the ledger's sum."""
    programme(ws)
    contact = ContactFactory.create(workspace=ws)
    failures: list[BaseException] = []
    barrier = threading.Barrier(2)
    done = threading.Event()
    spent: list[int] = []

    def earn() -> None:
        try:
            barrier.wait()
            for n in range(15):
                ingest(ws, purchase(contact, "7", idempotency_key=f"p{n}"))
        except BaseException as exc:
            failures.append(exc)
        finally:
            done.set()
            connection.close()

    def spend() -> None:
        try:
            barrier.wait()
            n = 0
            while not done.is_set():  # spends for as long as the engine earns
                n += 1
                with contextlib.suppress(Conflict):  # not enough points yet
                    points_adjust(
                        contact=contact,
                        data={"points": -3, "reason": "spend", "idempotency_key": f"s{n}"},
                        actor=ACTOR,
                    )
                    spent.append(n)
        except BaseException as exc:
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=earn), threading.Thread(target=spend)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    entries = list(LedgerEntry.objects.filter(contact=contact).order_by("id"))
    running = 0
    for entry in entries:
        running += entry.points
        assert entry.balance_after == running >= 0
    assert sum(e.points for e in entries if e.kind == EntryKind.EARN) == 15 * 7
    assert len(spent) > 1  # the two writers did meet
    assert balance(contact) == running == 15 * 7 - 3 * len(spent)


def test_a_purchase_and_its_refund_in_one_batch(ws):
    programme(ws)
    contact, other = ContactFactory.create(workspace=ws), ContactFactory.create(workspace=ws)
    later = (timezone.now() + dt.timedelta(minutes=1)).isoformat()
    ingest(
        ws,
        purchase(contact, "100", properties={"order_id": "Z"}),
        purchase(other, "30", properties={"order_id": "Y"}),
        purchase(contact, "-40", properties={"order_id": "Z"}, occurred_at=later),
        purchase(contact, "5"),
    )
    assert balance(contact) == 65 and balance(other) == 30
    running = 0
    for entry in LedgerEntry.objects.filter(contact=contact).order_by("id"):
        running += entry.points
        assert entry.balance_after == running
