"""Where ingest and the stage engine meet (issue 12), one interleaving at a time.

Each test stops one party at the worst moment — the engine half-way through a batch, a
request before its commit, a dispatch of moves mid-transaction — lets the other run,
and checks that nobody waited for the engine, nothing was lost, and the derived rows
(summaries, stages, rollups) are what the raw rows give. The processes test
(test_concurrency.py) finds such moments by chance; these make them happen."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone

from analytics.rollups import _LOCK_SPACE, rollups_rebuild
from config.errors import NotFound
from contacts.models import Contact, ContactMark, Event, EventSummary
from contacts.services import contact_erase, contact_update, contacts_upsert, events_ingest
from contacts.services.marks import contact_marks_claim, contact_marks_release
from lifecycle import hooks
from lifecycle.models import ContactStage, StageTransition
from lifecycle.services import marked_contacts_evaluate
from tests.factories import ContactFactory
from workspaces.services import Actor

pytestmark = pytest.mark.django_db(transaction=True)

ACTOR = Actor(system="test")
DAY = dt.timedelta(days=1)
MINUTE = dt.timedelta(minutes=1)


class Pause:
    """A hook that, once armed, stops whoever runs it until released (registered last,
    so the product's own hooks of the same kind have run)."""

    def __init__(self) -> None:
        self.armed = False
        self.reached = threading.Event()
        self.go = threading.Event()

    def __call__(self, _: object, __: object = None) -> None:
        if self.armed:
            self.armed = False
            self.reached.set()
            assert self.go.wait(30), "never released"


@pytest.fixture
def paused_refresh() -> Iterator[Pause]:
    pause = Pause()
    hooks.on_contacts_refreshed(pause)
    yield pause
    pause.go.set()
    hooks._refreshed_hooks.remove(pause)


@pytest.fixture
def paused_dispatch() -> Iterator[Pause]:
    pause = Pause()
    hooks.on_stage_changed(pause)
    yield pause
    pause.go.set()
    hooks._hooks.remove(pause)


class Background:
    """Run a function in a thread (its own database connection); keep its result or
    error for join()."""

    def __init__(self, function: Callable[[], Any]) -> None:
        self.result: Any = None
        self.error: BaseException | None = None

        def run() -> None:
            try:
                self.result = function()
            except BaseException as error:
                self.error = error
            finally:
                connection.close()

        self.thread = threading.Thread(target=run)
        self.thread.start()

    def join(self) -> Any:
        self.thread.join(60)
        assert not self.thread.is_alive()
        if self.error is not None:
            raise self.error
        return self.result


def purchase(contact: Contact, revenue: str = "20.00") -> dict[str, Any]:
    return {"contact": {"id": contact.pk}, "name": "purchase", "revenue": revenue}


def drain() -> None:
    while marked_contacts_evaluate():
        pass
    while hooks.transitions_dispatch():
        pass


def stage_of(contact: Contact) -> str:
    return ContactStage.objects.select_related("stage").get(contact=contact).stage.key


ROLLUPS = {
    "analytics_stageflowday": "day, from_stage_id, to_stage_id, moves",
    "analytics_stageflowgroupday": "day, from_stage_id, to_stage_id, source, signup_month, moves",
    "analytics_staygroupcount": (
        "kind, source, signup_month, stage_id, open, next_stage_id, day, days, until, stays"
    ),
    "analytics_ordergroupday": (
        "day, previous_day, previous2_day, source, signup_month, orders, purchases, revenue"
    ),
    "analytics_activegroupday": "source, signup_month, day, previous_day, contacts",
    "analytics_stay": "contact_id, stage_id, transition_id, entered_at, left_at",
    "analytics_customerfacts": "contact_id, source, first_purchase_at, orders, revenue",
    "analytics_contactmonth": "contact_id, month, events, purchases, revenue",
    "analytics_cohortcell": "basis, cohort, month, source, size, active, purchasing, revenue",
}
NOT_EMPTY = {
    "analytics_stageflowday": "moves <> 0",
    "analytics_stageflowgroupday": "moves <> 0",
    "analytics_staygroupcount": "stays <> 0",
    "analytics_ordergroupday": "(orders, purchases, revenue) <> (0, 0, 0)",
    "analytics_activegroupday": "contacts <> 0",
    "analytics_cohortcell": "(size, active, purchasing, revenue) <> (0, 0, 0, 0)",
}


def rollups(workspace_id: int) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    with connection.cursor() as cursor:
        for table, columns in ROLLUPS.items():
            keep = NOT_EMPTY.get(table, "true")
            cursor.execute(
                f"SELECT {columns} FROM {table} WHERE workspace_id = %s AND {keep}",
                [workspace_id],
            )
            out[table] = sorted(cursor.fetchall(), key=repr)
    return out


def assert_rollups_equal_a_rebuild(workspace_id: int) -> None:
    kept = rollups(workspace_id)
    rollups_rebuild(workspace_id=workspace_id)
    assert kept == rollups(workspace_id)


# --- ingest never waits for the engine -----------------------------------------------


def test_writes_to_a_contact_being_evaluated_do_not_wait_and_are_not_lost(
    ws, stages, paused_refresh
):
    """The engine stopped half-way through a batch holding a contact: an event, an
    edit and an upsert of that contact go through at once (on main they waited for
    the engine's commit), and the event is evaluated after."""
    contact = ContactFactory.create(workspace=ws, email="held@example.com")
    events_ingest(workspace=ws, items=[{"contact": {"id": contact.pk}, "name": "page_view"}])
    paused_refresh.armed = True
    engine = Background(marked_contacts_evaluate)
    assert paused_refresh.reached.wait(30)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '3s'")
        started = time.monotonic()
        events_ingest(workspace=ws, items=[purchase(contact)])
        contact_update(contact=contact, data={"attributes": {"plan": "pro"}}, actor=ACTOR)
        contacts_upsert(
            workspace=ws, items=[{"email": "held@example.com", "first_name": "Hal"}], source="api"
        )
        took = time.monotonic() - started
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")
        paused_refresh.go.set()
        engine.join()
    assert took < 1.5, f"writes waited {took:.1f}s for the engine"
    drain()
    summary = EventSummary.objects.get(contact=contact, name="purchase")
    assert (summary.count, summary.revenue) == (1, Decimal("20.00"))
    assert stage_of(contact) == "customer"
    assert_rollups_equal_a_rebuild(ws.pk)


def test_an_event_committed_after_the_engine_read_the_contact_is_evaluated(ws, stages):
    """The lost update of issue 12: a request records an event for a contact that is
    already marked, and commits only after the engine has taken that mark and read
    the contact's events. On main its mark was merged into the one being taken, and
    the purchase stayed out of the contact's summary and stage until the nightly
    rebuild."""
    contact = ContactFactory.create(workspace=ws)
    events_ingest(workspace=ws, items=[{"contact": {"id": contact.pk}, "name": "page_view"}])
    recorded, commit = threading.Event(), threading.Event()

    def request() -> None:
        with transaction.atomic():  # the statement's commit, held back
            events_ingest(workspace=ws, items=[purchase(contact)])
            recorded.set()
            assert commit.wait(30)

    writer = Background(request)
    assert recorded.wait(30)
    try:
        # The request joined the page view's pending mark and holds it to its commit:
        # the engine skips it rather than wait, and the contact is not taken yet.
        started = time.monotonic()
        marked_contacts_evaluate()
        took = time.monotonic() - started
        assert not ContactStage.objects.filter(contact=contact).exists()
    finally:
        commit.set()
        writer.join()
    assert took < 5, f"the engine waited {took:.1f}s for the request"
    assert ContactMark.objects.filter(contact=contact).count() == 1
    drain()
    assert EventSummary.objects.filter(contact=contact, name="purchase").exists()
    assert stage_of(contact) == "customer"
    assert_rollups_equal_a_rebuild(ws.pk)


def test_news_joins_a_pending_mark_and_never_one_a_claim_holds(ws, stages):
    """A contact with news in every batch keeps one pending mark (the engine takes
    one row, not one per batch); news about a moment before that mark's, or arriving
    while a claim holds it, is a mark of its own, and every event is evaluated."""
    contact = ContactFactory.create(workspace=ws, signed_up_at=timezone.now() - 30 * DAY)
    now = timezone.now()
    for minutes in (30, 20, 10):
        at = (now - minutes * MINUTE).isoformat()
        events_ingest(workspace=ws, items=[{**purchase(contact), "occurred_at": at}])
    assert ContactMark.objects.filter(contact=contact).count() == 1
    assert ContactMark.objects.get(contact=contact).since == now - 30 * MINUTE

    earlier = (now - 40 * MINUTE).isoformat()
    events_ingest(workspace=ws, items=[{**purchase(contact), "occurred_at": earlier}])
    assert ContactMark.objects.filter(contact=contact).count() == 2

    claim = contact_marks_claim(workspace_id=ws.pk, limit=10)
    assert claim is not None and claim.since == {contact.pk: now - 40 * MINUTE}
    contact_marks_release(claim=claim)
    claim = contact_marks_claim(workspace_id=ws.pk, limit=10)
    assert claim is not None
    events_ingest(workspace=ws, items=[purchase(contact)])
    assert ContactMark.objects.filter(contact=contact, claim__isnull=True).count() == 1
    contact_marks_release(claim=claim)

    drain()
    assert not ContactMark.objects.filter(contact=contact).exists()
    assert EventSummary.objects.get(contact=contact, name="purchase").count == 5
    moves = StageTransition.objects.filter(contact=contact, at__gte=now - 40 * MINUTE)
    assert [m.at for m in moves.order_by("at")][:2] == [now - 40 * MINUTE, now - 30 * MINUTE]
    assert stage_of(contact) == "loyal"  # five purchases
    assert_rollups_equal_a_rebuild(ws.pk)


# --- erasure meeting the engine, a dispatch, an event ----------------------------------


def test_erasing_a_contact_the_engine_is_refreshing_leaves_no_trace_in_the_rollups(
    ws, stages, paused_refresh
):
    """On main the erasure subtracted the contact's old cohort contribution while the
    engine replaced it, and its months outlived it."""
    keep = ContactFactory.create(workspace=ws)
    gone = ContactFactory.create(workspace=ws, attributes={"signup_source": "ads"})
    events_ingest(workspace=ws, items=[purchase(keep), purchase(gone, "35.00")])
    drain()
    events_ingest(workspace=ws, items=[purchase(gone, "12.00")])
    paused_refresh.armed = True
    engine = Background(marked_contacts_evaluate)
    assert paused_refresh.reached.wait(30)
    eraser = Background(lambda: contact_erase(contact=gone, actor=ACTOR))
    time.sleep(0.5)  # the erasure is on its way
    paused_refresh.go.set()
    engine.join()
    eraser.join()
    drain()
    assert not Contact.objects.filter(pk=gone.pk).exists()
    assert_rollups_equal_a_rebuild(ws.pk)


def test_erasing_a_contact_whose_moves_are_being_dispatched_takes_them_all_out(
    ws, stages, paused_dispatch
):
    """On main the erasure subtracted the moves counted so far while a dispatch was
    counting more of them: the flows kept moves of a contact that no longer exists."""
    gone = ContactFactory.create(workspace=ws)
    events_ingest(workspace=ws, items=[purchase(gone), purchase(gone)])
    while marked_contacts_evaluate():
        pass
    assert StageTransition.objects.filter(contact=gone, notified_at__isnull=True).exists()
    paused_dispatch.armed = True
    dispatcher = Background(hooks.transitions_dispatch)
    assert paused_dispatch.reached.wait(30)
    eraser = Background(lambda: contact_erase(contact=gone, actor=ACTOR))
    time.sleep(0.5)
    paused_dispatch.go.set()
    dispatcher.join()
    eraser.join()
    drain()
    assert_rollups_equal_a_rebuild(ws.pk)


def test_an_event_for_a_contact_being_erased_goes_to_a_new_contact_with_its_email(ws, stages):
    """On main the event's insert failed its foreign-key check when the erasure
    committed under it: a 500. Now it is recorded on a new contact with that email,
    as any event after an erasure is."""
    contact = ContactFactory.create(workspace=ws, email="again@example.com")
    erased, commit = threading.Event(), threading.Event()

    def erase() -> None:
        with transaction.atomic():
            contact_erase(contact=contact, actor=ACTOR)
            erased.set()
            assert commit.wait(30)

    eraser = Background(erase)
    assert erased.wait(30)
    writer = Background(
        lambda: events_ingest(
            workspace=ws, items=[{"contact": {"email": "again@example.com"}, "name": "signed_up"}]
        )
    )
    time.sleep(0.5)  # the insert waits for the erasure
    commit.set()
    eraser.join()
    result = writer.join()
    assert (result.accepted, result.errors) == (1, [])
    again = Contact.objects.get(workspace=ws, email="again@example.com")
    assert again.pk != contact.pk
    assert Event.objects.filter(contact=again, name="signed_up").count() == 1


def test_editing_a_contact_erased_meanwhile_is_a_404(ws):
    contact = ContactFactory.create(workspace=ws)
    stale = Contact.objects.get(pk=contact.pk)
    contact_erase(contact=contact, actor=ACTOR)
    with pytest.raises(NotFound):
        contact_update(contact=stale, data={"first_name": "Late"}, actor=ACTOR)


# --- a rebuild of the rollups ----------------------------------------------------------


def test_a_rollups_rebuild_defers_the_engines_rollups_without_blocking_it(ws, stages):
    """While a rebuild holds a workspace's rollups, the engine still writes stages and
    the dispatch and the engine's rollup step give their work back instead of waiting
    (on main a worker waited for the whole rebuild, with the marks it had deleted
    locked, and every write to those contacts with it)."""

    contact = ContactFactory.create(workspace=ws)
    events_ingest(workspace=ws, items=[purchase(contact)])
    holding, done = threading.Event(), threading.Event()

    def rebuild() -> None:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_LOCK_SPACE, ws.pk])
            holding.set()
            assert done.wait(30)

    rebuilder = Background(rebuild)
    assert holding.wait(30)
    try:
        started = time.monotonic()
        assert marked_contacts_evaluate() == 0  # deferred
        assert hooks.transitions_dispatch() == 0  # deferred
        took = time.monotonic() - started
        assert stage_of(contact) == "customer"  # the stage did not wait
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM contacts_contactmark WHERE contact_id = %s "
                "AND claimed_at IS NULL",
                [contact.pk],
            )
            assert cursor.fetchone()[0] == 1  # given back, not lost
    finally:
        done.set()
        rebuilder.join()
    assert took < 2
    drain()
    assert_rollups_equal_a_rebuild(ws.pk)
