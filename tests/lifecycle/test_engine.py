"""The stage engine: priority and default, moves both ways as time passes, pins,
causes and rule versions, marks, sweep idempotence, concurrency, removal, isolation."""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from contacts.models import Contact, Event
from contacts.rules import Scope
from contacts.services import (
    contact_update,
    contacts_upsert,
    event_summaries_refresh,
    events_ingest,
)
from lifecycle.models import ContactStage, Stage, StageTransition
from lifecycle.services import (
    contact_stage_set,
    contact_stage_unpin,
    marked_contacts_evaluate,
    stage_archive,
    stage_update,
    stages_create_defaults,
    stages_evaluate,
    stages_reorder,
    sweep_now,
)
from tests.factories import ContactFactory, EventFactory, StageFactory
from workspaces.services import Actor, workspace_provision

pytestmark = pytest.mark.django_db

ACTOR = Actor(system="test")


def stage_of(contact: Contact) -> str:
    return ContactStage.objects.select_related("stage").get(contact=contact).stage.key


def purchase(contact: Contact, days_ago: float, revenue: str = "20.00") -> Event:
    event = EventFactory.ago(days_ago, contact=contact, name="purchase", revenue=Decimal(revenue))
    event_summaries_refresh(contact_ids=[contact.pk])
    return event


def test_new_workspaces_get_the_default_stages(db):
    workspace, _ = workspace_provision(slug="fresh", name="Fresh")
    keys = list(
        Stage.objects.filter(workspace=workspace)
        .order_by("is_default", "position")
        .values_list("key", flat=True)
    )
    assert keys == [
        "advocate",
        "loyal",
        "lapsed",
        "at_risk",
        "repeat",
        "customer",
        "lead",
        "subscriber",
    ]
    assert Stage.objects.get(workspace=workspace, is_default=True).rule is None


def test_first_matching_stage_wins_else_the_default(ws, stages):
    nobody = ContactFactory.create(workspace=ws)
    buyer = ContactFactory.create(workspace=ws)
    purchase(buyer, 3)
    purchase(buyer, 40)
    assert sweep_now(workspace=ws) == 2
    assert stage_of(nobody) == "subscriber"
    assert stage_of(buyer) == "repeat"  # "customer" matches too but comes later
    stages_reorder(
        workspace=ws,
        actor=ACTOR,
        keys=["advocate", "loyal", "lapsed", "at_risk", "customer", "repeat", "lead"],
    )
    sweep_now(workspace=ws)
    assert stage_of(buyer) == "customer"


def test_customers_move_backward_as_time_passes_and_forward_again(ws, stages):
    contact = ContactFactory.create(workspace=ws)
    purchase(contact, 1)
    now = timezone.now()
    sweep_now(workspace=ws, now=now)
    assert stage_of(contact) == "customer"
    sweep_now(workspace=ws, now=now + dt.timedelta(days=95))
    assert stage_of(contact) == "at_risk"
    sweep_now(workspace=ws, now=now + dt.timedelta(days=185))
    assert stage_of(contact) == "lapsed"
    purchase(contact, 0)
    sweep_now(workspace=ws)
    assert stage_of(contact) == "repeat"
    history = list(
        StageTransition.objects.filter(contact=contact)
        .order_by("id")
        .values_list("from_stage__key", "to_stage__key", "cause")
    )
    assert history == [
        (None, "customer", "rule"),
        ("customer", "at_risk", "rule"),
        ("at_risk", "lapsed", "rule"),
        ("lapsed", "repeat", "rule"),
    ]


def test_sweeps_are_idempotent(ws, stages):
    for i in range(5):
        purchase(ContactFactory.create(workspace=ws), i * 50)
    assert sweep_now(workspace=ws) == 5
    transitions = StageTransition.objects.count()
    assert sweep_now(workspace=ws) == 0
    assert sweep_now(workspace=ws) == 0
    assert StageTransition.objects.count() == transitions


def test_manual_moves_pin_until_a_date_or_until_unpinned(ws, stages):
    contact = ContactFactory.create(workspace=ws)
    sweep_now(workspace=ws)
    user_actor = Actor(user=None, system="dashboard")
    transition = contact_stage_set(
        contact=contact, stage=stages["loyal"], actor=user_actor, reason="VIP from the trade show"
    )
    assert transition is not None and transition.cause == "manual"
    assert transition.reason == "VIP from the trade show"
    sweep_now(workspace=ws)
    assert stage_of(contact) == "loyal"  # pinned: rules leave it

    until = timezone.now() + dt.timedelta(days=7)
    contact_stage_set(contact=contact, stage=stages["lead"], actor=user_actor, pinned_until=until)
    sweep_now(workspace=ws, now=until - dt.timedelta(hours=1))
    assert stage_of(contact) == "lead"
    sweep_now(workspace=ws, now=until + dt.timedelta(hours=1))
    assert stage_of(contact) == "subscriber"  # the pin ran out; the rules apply again

    contact_stage_set(contact=contact, stage=stages["advocate"], actor=user_actor)
    contact_stage_unpin(contact=contact, actor=user_actor)
    marked_contacts_evaluate()
    assert stage_of(contact) == "subscriber"


def test_moves_record_their_cause_and_rule_version(ws, stages, owner):
    api_contact = events_ingest(
        workspace=ws,
        items=[{"contact": {"email": "api@example.com"}, "name": "purchase", "revenue": "10"}],
    )
    assert api_contact.accepted == 1
    contacts_upsert(workspace=ws, items=[{"email": "imported@example.com"}], source="import:7")
    marked_contacts_evaluate()
    # Moves the rules make are the rules' (with the event that caused them), however
    # the data arrived; "api" and "import" are for moves a person or a file made.
    causes = {
        email: (cause, event_name, event_id is not None)
        for email, cause, event_name, event_id in StageTransition.objects.values_list(
            "contact__email", "cause", "event_name", "event_id"
        )
    }
    assert causes == {
        "api@example.com": ("rule", "purchase", True),
        "imported@example.com": ("rule", "", False),
    }
    purchase_event = Event.objects.get(contact__email="api@example.com")
    move = StageTransition.objects.get(contact__email="api@example.com")
    assert (move.event_id, move.at) == (purchase_event.pk, purchase_event.occurred_at)

    stage_update(
        stage=stages["customer"],
        actor=ACTOR,
        data={"rule": {"purchases": {"gte": 1}, "within_days": 365}},
    )
    assert Stage.objects.get(pk=stages["customer"].pk).rule_version == 2
    key, _ = api_key_for(owner)
    contact_stage_set(
        contact=Contact.objects.get(email="imported@example.com"),
        stage=stages["customer"],
        actor=Actor(api_key=key),
    )
    last = StageTransition.objects.latest("id")
    assert (last.cause, last.rule_version, last.actor_api_key_id) == ("api", 2, key.pk)


def api_key_for(persona):
    return persona.key, persona.secret


def test_marked_contacts_are_evaluated_with_fresh_summaries(ws, stages):
    contact = ContactFactory.create(workspace=ws, email="m@example.com")
    sweep_now(workspace=ws)
    assert stage_of(contact) == "subscriber"
    events_ingest(
        workspace=ws,
        items=[
            {"contact": {"id": contact.pk}, "name": "purchase", "revenue": "5.00"},
            {"contact": {"id": contact.pk}, "name": "purchase", "revenue": "7.50"},
        ],
    )
    assert marked_contacts_evaluate() == 1
    assert stage_of(contact) == "repeat"
    assert marked_contacts_evaluate() == 0  # the marks were consumed


def test_removing_a_stage_moves_its_contacts_pinned_or_not(ws, stages):
    buyer = ContactFactory.create(workspace=ws)
    purchase(buyer, 2)
    pinned = ContactFactory.create(workspace=ws)
    sweep_now(workspace=ws)
    contact_stage_set(contact=pinned, stage=stages["customer"], actor=ACTOR)
    moved = stage_archive(stage=stages["customer"], actor=ACTOR)
    assert moved == 2
    assert stage_of(buyer) == "subscriber" and stage_of(pinned) == "subscriber"
    assert not ContactStage.objects.filter(stage=stages["customer"]).exists()
    # History keeps the removed stage.
    assert StageTransition.objects.filter(to_stage=stages["customer"]).count() == 2
    assert (
        StageTransition.objects.filter(
            from_stage=stages["customer"], reason="stage customer removed"
        ).count()
        == 2
    )
    with pytest.raises(Exception, match="default"):
        stage_archive(stage=stages["subscriber"], actor=ACTOR)


def test_workspaces_never_see_each_others_data(ws, stages, outsider):
    theirs = {s.key: s for s in stages_create_defaults(workspace=outsider.workspace)}
    stage_update(
        stage=theirs["customer"],
        actor=ACTOR,
        data={"rule": {"attr": "plan", "op": "eq", "value": "pro"}},
    )
    mine = ContactFactory.create(workspace=ws, attributes={"plan": "pro"})
    other = ContactFactory.create(workspace=outsider.workspace, attributes={"plan": "pro"})
    purchase(other, 1)
    sweep_now(workspace=ws)
    assert stage_of(mine) == "subscriber"
    assert not ContactStage.objects.filter(contact=other).exists()
    sweep_now(workspace=outsider.workspace)
    assert stage_of(other) == "customer"
    # A scope that names another workspace's contact evaluates nothing of it.
    assert stages_evaluate(workspace=ws, scope=Scope.of([other.pk])) == 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_sweeps_and_ingest_lose_and_duplicate_no_transition(ws):
    """Sweeps, data changes and mark evaluation at once, on a few contacts whose stage
    flips on every change: every contact's history stays one unbroken chain ending in
    its current stage (a sweep that lost the race must not overwrite the winner)."""

    StageFactory.create(
        workspace=ws,
        key="gold",
        name="Gold",
        position=0,
        rule={"attr": "tier", "op": "eq", "value": "gold"},
    )
    StageFactory.create(
        workspace=ws,
        key="silver",
        name="Silver",
        position=1,
        rule={"attr": "tier", "op": "eq", "value": "silver"},
    )
    StageFactory.create(workspace=ws, key="none", name="None", position=2, is_default=True)
    contacts = [ContactFactory.create(workspace=ws) for _ in range(4)]
    sweep_now(workspace=ws)
    stop = threading.Event()
    errors: list[BaseException] = []

    def guarded(work):
        def run() -> None:
            try:
                while not stop.is_set():
                    work()
            except BaseException as exc:
                errors.append(exc)
            finally:
                connection.close()

        return run

    counter = iter(range(1_000_000))

    def change() -> None:
        n = next(counter)
        contact = Contact.objects.get(pk=contacts[n % len(contacts)].pk)
        contact_update(
            contact=contact,
            actor=ACTOR,
            data={"attributes": {"tier": ["gold", "silver", "bronze"][n % 3]}},
        )
        events_ingest(workspace=ws, items=[{"contact": {"id": contact.pk}, "name": "ping"}])

    threads = [
        threading.Thread(target=guarded(f))
        for f in (
            lambda: sweep_now(workspace=ws),
            lambda: sweep_now(workspace=ws),
            change,
            marked_contacts_evaluate,
        )
    ]
    for thread in threads:
        thread.start()
    threading.Event().wait(5)
    stop.set()
    for thread in threads:
        thread.join()
    assert not errors, errors
    marked_contacts_evaluate()
    sweep_now(workspace=ws)
    moves = 0
    for contact in contacts:
        # In the order the moves happened (a replay may write a move dated before one
        # it kept, so ids are not that order).
        chain = list(
            StageTransition.objects.filter(contact=contact)
            .order_by("at", "id")
            .values_list("from_stage_id", "to_stage_id")
        )
        moves += len(chain)
        assert chain[0][0] is None
        for (_, before), (after, _) in itertools.pairwise(chain):
            assert before == after, chain  # each move starts where the last one ended
        assert all(a != b for a, b in chain)  # no transition to the same stage
        assert chain[-1][1] == ContactStage.objects.get(contact=contact).stage_id
    assert moves > 20  # the race was really run
