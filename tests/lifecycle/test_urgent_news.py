"""Urgent news: the engine claims first the changes that can move a contact's stage
now, or that a live journey or the loyalty programme waits for, so a first purchase
is not queued behind a backlog of page views (contacts/services/marks.py,
lifecycle/urgency.py, docs/rules.md "Urgent news first").

The property test proves the one claim the order rests on: news the stage rules call
not urgent for a contact they placed never moves it when evaluated, whenever it
happened. The rest are the paths: what
ingest flags, how marks join, the claim's order and its bound, one engine pass."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaigns.journeys.services import journey_create, journey_schedule
from contacts.models import ContactMark, Event
from contacts.services import (
    contact_marks_claim,
    contacts_upsert,
    event_summaries_refresh,
    events_ingest,
)
from lifecycle.models import ContactStage
from lifecycle.services import contact_stage_set, marked_contacts_evaluate, sweep_now
from lifecycle.services.current import stages_evaluate_marked
from lifecycle.urgency import names_by_stage
from loyalty.models import Programme
from tests.factories import ContactFactory, StageFactory
from tests.lifecycle.test_due_agreement import NAMES, T0, build, event_leaves, rules_of, worlds
from workspaces.services import Actor

pytestmark = pytest.mark.django_db

MINUTE = dt.timedelta(minutes=1)


class _Undo(Exception):
    pass


def _stage_after(ws: Any, contact_id: int, name: str, at: dt.datetime) -> int:
    """The contact's stage once an event `name` that happened `at` is evaluated at T0
    (rolled back)."""
    try:
        with transaction.atomic():
            Event.objects.create(
                workspace=ws,
                contact_id=contact_id,
                name=name,
                occurred_at=at,
                revenue=Decimal("25") if name == "purchase" else None,
            )
            event_summaries_refresh(contact_ids=[contact_id])
            stages_evaluate_marked(workspace=ws, since={contact_id: at}, now=T0)
            stage = ContactStage.objects.get(contact_id=contact_id).stage_id
            raise _Undo
    except _Undo:
        pass
    return stage


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    world=worlds(),
    stage_rules=st.lists(rules_of(event_leaves), min_size=1, max_size=3),
    # news now, and news dated back (a minute, days, past a window, months)
    late=st.sampled_from([1, 3 * 24 * 60, 45 * 24 * 60, 120 * 24 * 60]),
)
def test_news_that_is_not_urgent_never_moves_the_contact(ws, world, stage_rules, late):
    with transaction.atomic():
        for position, rule in enumerate(stage_rules):
            StageFactory.create(workspace=ws, key=f"s{position}", position=position, rule=rule)
        StageFactory.create(workspace=ws, key="rest", position=99, rule=None, is_default=True)
        ids = build(ws, world)
        sweep_now(workspace=ws, now=T0)
        urgent_names = names_by_stage(ws)
        for contact_id in ids:
            stage = ContactStage.objects.get(contact_id=contact_id).stage_id
            for name in [*NAMES, "signup"]:
                if name in urgent_names[stage]:
                    continue
                for at in (T0, T0 - late * MINUTE):
                    assert _stage_after(ws, contact_id, name, at) == stage, (
                        f"a {name} at {at} moved contact {contact_id} although only "
                        f"{urgent_names[stage]} can move it: {stage_rules}"
                    )
        transaction.set_rollback(True)


@pytest.fixture
def placed(ws, stages):
    """A customer (one purchase) and a subscriber (none), placed by the engine."""
    customer = ContactFactory.create(workspace=ws, email="customer@example.com")
    subscriber = ContactFactory.create(workspace=ws, email="subscriber@example.com")
    Event.objects.create(
        workspace=ws,
        contact=customer,
        name="purchase",
        revenue=Decimal("30"),
        occurred_at=timezone.now() - dt.timedelta(days=10),
    )
    event_summaries_refresh(contact_ids=[customer.pk, subscriber.pk])
    sweep_now(workspace=ws)
    ContactMark.objects.all().delete()
    assert ContactStage.objects.get(contact=customer).stage == stages["customer"]
    assert ContactStage.objects.get(contact=subscriber).stage == stages["subscriber"]
    return customer, subscriber


def _send(ws: Any, email: str | None, name: str) -> None:
    item: dict[str, Any] = {"contact": {"email": email}, "name": name}
    if name == "purchase":
        item["revenue"] = "12.50"
    assert events_ingest(workspace=ws, items=[item]).accepted == 1


def _urgency(contact: Any) -> list[bool]:
    return list(
        ContactMark.objects.filter(contact=contact).order_by("id").values_list("urgent", flat=True)
    )


def test_ingest_flags_only_news_that_can_move_the_contact(ws, placed):
    customer, subscriber = placed
    # The rules of "customer" and the stages before it read purchases and referrals,
    # not page views; a subscriber's can move on page views ("lead": five in 30 days).
    _send(ws, customer.email, "page_view")
    _send(ws, subscriber.email, "page_view")
    assert _urgency(customer) == [False]
    assert _urgency(subscriber) == [True]
    ContactMark.objects.all().delete()
    _send(ws, customer.email, "purchase")
    assert _urgency(customer) == [True]
    # A contact the engine has never placed: anything can move it.
    _send(ws, "new@example.com", "page_view")
    assert ContactMark.objects.get(contact__email="new@example.com").urgent


def test_urgent_news_does_not_join_a_waiting_mark_but_other_news_joins_it(ws, placed):
    customer, _ = placed
    _send(ws, customer.email, "page_view")
    _send(ws, customer.email, "purchase")  # appended: the waiting mark is not urgent
    assert _urgency(customer) == [False, True]
    _send(ws, customer.email, "page_view")  # joins a pending mark
    assert _urgency(customer) == [False, True]


def test_news_a_live_journey_or_the_loyalty_programme_waits_for_is_urgent(ws, placed):
    customer, _ = placed
    actor = Actor(system="test")
    journey = journey_create(
        workspace=ws,
        data={
            "name": "Browsers",
            "trigger": {"kind": "event", "event": "page_view"},
            "steps": [{"key": "later", "kind": "wait", "config": {"duration": {"days": 1}}}],
        },
        actor=actor,
    )
    journey_schedule(journey=journey, actor=actor)
    _send(ws, customer.email, "cart_abandoned")
    _send(ws, customer.email, "page_view")
    assert _urgency(customer) == [False, True]

    ContactMark.objects.all().delete()
    Programme.objects.create(
        workspace=ws, enabled=True, enabled_at=timezone.now(), event_points={"review": 50}
    )
    _send(ws, customer.email, "review")
    assert _urgency(customer) == [True]


def test_bulk_changes_are_not_urgent_and_edits_are(ws):
    contacts_upsert(workspace=ws, items=[{"email": "file@example.com"}], source="import:3")
    contacts_upsert(workspace=ws, items=[{"email": "api@example.com"}], source="api")
    flags = dict(ContactMark.objects.values_list("contact__email", "urgent"))
    assert flags == {"file@example.com": False, "api@example.com": True}


def _mark(contact: Any, *, urgent: bool, age: dt.timedelta = dt.timedelta(0)) -> None:
    ContactMark.objects.create(
        contact=contact,
        workspace=contact.workspace,
        urgent=urgent,
        marked_at=timezone.now() - age,
        source="api",
    )


def test_a_claim_takes_urgent_news_first_and_half_once_the_rest_has_waited_too_long(ws):
    waiting = [ContactFactory.create(workspace=ws) for _ in range(3)]
    hurried = ContactFactory.create(workspace=ws)
    for contact in waiting:
        _mark(contact, urgent=False, age=dt.timedelta(seconds=30))
    _mark(hurried, urgent=True)
    bound = dt.timedelta(seconds=60)

    claim = contact_marks_claim(workspace_id=ws.pk, limit=2, max_wait=bound)
    assert claim is not None and claim.urgent and claim.contact_ids == [hurried.pk]
    # With nothing urgent left, the oldest first.
    claim = contact_marks_claim(workspace_id=ws.pk, limit=2, max_wait=bound)
    assert claim is not None and not claim.urgent
    assert claim.contact_ids == sorted(c.pk for c in waiting[:2])

    # Once the oldest pending news has waited longer than the bound, urgent news gets
    # half the batch: the engine fills the rest with the oldest.
    ContactMark.objects.filter(contact=waiting[2]).update(
        marked_at=timezone.now() - dt.timedelta(seconds=61)
    )
    late = [ContactFactory.create(workspace=ws) for _ in range(2)]
    for contact in late:
        _mark(contact, urgent=True)
    claim = contact_marks_claim(workspace_id=ws.pk, limit=2, max_wait=bound)
    assert claim is not None and claim.urgent and claim.contact_ids == [late[0].pk]
    # Without a bound, no preference at all.
    claim = contact_marks_claim(workspace_id=ws.pk, limit=1)
    assert claim is not None and claim.contact_ids == [waiting[2].pk]


@pytest.mark.usefixtures("stages")
def test_an_engine_pass_evaluates_urgent_news_first_then_fills_its_batch(ws):
    waiting = [ContactFactory.create(workspace=ws) for _ in range(3)]
    buyer = ContactFactory.create(workspace=ws, email="buyer@example.com")
    event_summaries_refresh(contact_ids=[c.pk for c in [*waiting, buyer]])
    sweep_now(workspace=ws)
    ContactMark.objects.all().delete()
    for contact in waiting:
        _mark(contact, urgent=False, age=MINUTE / 2)
    _send(ws, buyer.email, "purchase")

    seen = []

    def after_urgent() -> None:  # the task hands the buyer's move to the journeys here
        stage = ContactStage.objects.get(contact=buyer).stage
        seen.append((stage.key, ContactMark.objects.filter(contact__in=waiting).count()))

    assert marked_contacts_evaluate(limit=2, after_urgent=after_urgent) == 2
    assert seen == [("customer", 3)]  # the buyer placed before anyone else was looked at
    pending = set(ContactMark.objects.values_list("contact_id", flat=True))
    assert pending == {waiting[1].pk, waiting[2].pk}  # the batch filled with the oldest


@pytest.mark.usefixtures("stages")
def test_urgent_news_that_comes_in_during_a_pass_goes_before_the_rest_of_it(ws):
    waiting = [ContactFactory.create(workspace=ws) for _ in range(2)]
    buyers = [ContactFactory.create(workspace=ws, email=f"b{i}@example.com") for i in range(2)]
    event_summaries_refresh(contact_ids=[c.pk for c in [*waiting, *buyers]])
    sweep_now(workspace=ws)
    ContactMark.objects.all().delete()
    for contact in waiting:
        _mark(contact, urgent=False, age=MINUTE / 2)
    _send(ws, buyers[0].email, "purchase")
    seen = []

    def after_urgent() -> None:  # the task hands the moves to the journeys here
        stages = [ContactStage.objects.get(contact=b).stage.key for b in buyers]
        seen.append((stages, ContactMark.objects.filter(contact__in=waiting).count()))
        if len(seen) == 1:  # the second buyer's purchase arrives as the pass goes on
            _send(ws, buyers[1].email, "purchase")

    assert marked_contacts_evaluate(limit=3, after_urgent=after_urgent) == 4
    # Placed before the rest of the batch was claimed, and before any derived step.
    assert seen[1] == (["customer", "customer"], 2)
    assert seen[0][0][0] == "customer" and seen[0][0][1] != "customer"
    assert not ContactMark.objects.exists()  # then everything else, in the same pass


@pytest.mark.usefixtures("stages")
def test_urgent_news_comes_in_bigger_batches_and_the_rest_in_short_ones(ws):
    waiting = [ContactFactory.create(workspace=ws) for _ in range(3)]
    hurried = [ContactFactory.create(workspace=ws) for _ in range(3)]
    event_summaries_refresh(contact_ids=[c.pk for c in [*waiting, *hurried]])
    sweep_now(workspace=ws)
    ContactMark.objects.all().delete()
    for contact in waiting:
        _mark(contact, urgent=False, age=MINUTE / 2)
    for contact in hurried:
        _mark(contact, urgent=True)

    # A burst of urgent news beyond the batch goes in one claim; no rest comes along.
    assert marked_contacts_evaluate(limit=2, urgent_limit=4) == 3
    pending = set(ContactMark.objects.values_list("contact_id", flat=True))
    assert pending == {c.pk for c in waiting}

    # Once the rest is overdue, urgent news takes half, and the rest at least as much.
    ContactMark.objects.update(marked_at=timezone.now() - 3 * MINUTE)
    for contact in hurried:
        _mark(contact, urgent=True)
    assert marked_contacts_evaluate(limit=2, urgent_limit=4) == 4
    pending = set(ContactMark.objects.values_list("contact_id", flat=True))
    assert pending == {waiting[2].pk, hurried[2].pk}


def test_a_rule_on_data_events_may_change_makes_every_event_urgent(ws, stages, placed):
    customer, _ = placed
    # "VIP": customers with two purchases. It reads the contact's stage, which the
    # engine writes after an event: any event may move a customer there.
    StageFactory.create(
        workspace=ws,
        key="vip",
        position=0,
        rule={
            "all": [
                {"field": "stage", "op": "eq", "value": "customer"},
                {"purchases": {"gte": 2}},
            ]
        },
    )
    _send(ws, customer.email, "page_view")
    assert _urgency(customer) == [True]


def test_a_contact_moved_by_hand_has_every_event_urgent(ws, stages, placed):
    customer, _ = placed
    actor = Actor(system="test")
    contact_stage_set(contact=customer, stage=stages["lead"], actor=actor, pin=False)
    ContactMark.objects.all().delete()
    _send(ws, customer.email, "page_view")  # the rules would take it back to customer
    assert _urgency(customer) == [True]
    marked_contacts_evaluate()
    assert ContactStage.objects.get(contact=customer).stage == stages["customer"]
    # Placed by the rules again (or pinned by hand): page views wait their turn.
    _send(ws, customer.email, "page_view")
    contact_stage_set(contact=customer, stage=stages["lead"], actor=actor)
    ContactMark.objects.all().delete()
    _send(ws, customer.email, "page_view")
    assert _urgency(customer) == [False]


@pytest.mark.django_db(transaction=True)  # the lock is another connection's
def test_a_claim_whose_urgent_marks_are_locked_takes_the_oldest(ws):
    waiting = ContactFactory.create(workspace=ws)
    hurried = ContactFactory.create(workspace=ws)
    _mark(waiting, urgent=False, age=MINUTE / 2)
    _mark(hurried, urgent=True)
    locked, release = threading.Event(), threading.Event()

    def joining_ingest() -> None:  # holds the urgent mark as ingest joining it does
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(
                    "SELECT id FROM contacts_contactmark WHERE contact_id = %s FOR SHARE",
                    [hurried.pk],
                )
                locked.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=joining_ingest)
    thread.start()
    try:
        assert locked.wait(10)
        claim = contact_marks_claim(workspace_id=ws.pk, limit=2, max_wait=MINUTE)
    finally:
        release.set()
        thread.join()
    assert claim is not None and not claim.urgent and claim.contact_ids == [waiting.pk]
