"""The journey engine and its services: goal, exit criteria, holdout, pause, resume,
cancel, live edits, re-runs and claims."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection

from campaigns.journeys.services import (
    journey_cancel,
    journey_pause,
    journey_resume,
    journey_step_counts,
    journey_totals,
    journey_update,
)
from campaigns.journeys.triggers import enrol_api
from campaigns.models import JourneyEnrolment, JourneyStep
from config.errors import Conflict
from contacts.models import Contact
from contacts.services.marks import contacts_mark_changed
from lifecycle.hooks import transitions_dispatch
from lifecycle.services import contact_stage_set, marked_contacts_evaluate
from messaging.models import Message
from tests.campaigns.journeys.helpers import (
    advance,
    enrolment,
    ingest,
    journey,
    later,
    sent_steps,
    step,
    where,
)
from tests.factories import ContactFactory, MessageFactory
from tests.messaging.helpers import ACTOR, email_template

pytestmark = pytest.mark.django_db

UTC = dt.UTC


def test_goal_reached_exits_and_counts_as_conversion(ws, tpl):
    j = journey(
        ws,
        {"kind": "manual"},
        [
            step("one", "send_email", template_id=tpl.pk, next="wait"),
            step("wait", "wait", duration={"days": 3}, next="two"),
            step("two", "send_email", template_id=tpl.pk),
        ],
        goal={"event": {"name": "purchase"}},
        goal_days=7,
    )
    buyer, browser = ContactFactory.create_batch(2, workspace=ws)
    enrol_api(j, [buyer.pk, browser.pk])
    advance()
    ingest(ws, buyer, "purchase")
    advance()
    assert where(j, buyer) == "converted:goal"
    advance(later(days=3, minutes=1))
    assert sent_steps(buyer) == ["one"]
    assert sent_steps(browser) == ["one", "two"]
    counts = {row["key"]: row for row in journey_step_counts(j)}
    assert counts["wait"]["converted"] == 1 and counts["wait"]["entered"] == 2
    assert journey_totals(j)["converted"] == 1


def test_exit_criteria_rule_unsubscribe_and_leaving_the_stage(ws, stages, tpl):
    j = journey(
        ws,
        {"kind": "stage_entered", "stage_id": stages["at_risk"].pk},
        [
            step("w", "wait", duration={"days": 1}, next="winback"),
            step("winback", "send_email", template_id=tpl.pk),
        ],
        exit_rule={"attr": "do_not_contact", "op": "eq", "value": True},
        exit_on_stage_left=True,
    )
    a, b, c, d = ContactFactory.create_batch(4, workspace=ws)
    for contact in (a, b, c, d):
        contact_stage_set(contact=contact, stage=stages["at_risk"], actor=ACTOR)
    transitions_dispatch()
    advance()
    Contact.objects.filter(pk=a.pk).update(attributes={"do_not_contact": True})
    Contact.objects.filter(pk=b.pk).update(email_status="unsubscribed")
    contact_stage_set(contact=c, stage=stages["customer"], actor=ACTOR)
    transitions_dispatch()
    assert where(j, c) == "w"  # woken for a check; the worker decides
    advance()
    assert where(j, c) == "exited:left the stage"
    advance(later(days=1, minutes=1))
    assert where(j, a) == "exited:exit rule"
    assert where(j, b) == "exited:unsubscribed"
    assert sent_steps(d) == ["winback"]
    assert [sent_steps(x) for x in (a, b, c)] == [[], [], []]


def test_holdout_is_exact_and_measures_lift(ws, tpl):
    j = journey(
        ws,
        {"kind": "manual"},
        [step("offer", "send_email", template_id=tpl.pk)],
        goal={"rule": {"attr": "bought", "op": "eq", "value": True}},
        goal_days=2,
        holdout_percent=10,
    )
    contacts = ContactFactory.create_batch(45, workspace=ws)
    enrol_api(j, [c.pk for c in contacts[:20]])
    advance()
    enrol_api(j, [c.pk for c in contacts[20:]])
    advance()
    held = JourneyEnrolment.objects.filter(journey=j, status="holdout")
    assert held.count() in (4, 5)  # 10% of 45 = 4.5, within one contact
    assert Message.objects.filter(contact__in=held.values("contact")).count() == 0
    # One held-out and three treated contacts buy within the window.
    held_contact = held[0].contact
    treated = [c for c in contacts if not held.filter(contact=c).exists()][:3]
    Contact.objects.filter(pk__in=[held_contact.pk, *[c.pk for c in treated]]).update(
        attributes={"bought": True}
    )
    contacts_mark_changed(contact_ids=[held_contact.pk, *[c.pk for c in treated]])
    marked_contacts_evaluate()
    advance()
    advance(later(days=2, minutes=1))
    totals = journey_totals(j)
    holdout = totals["holdout"]
    assert holdout["contacts"] == held.count() or holdout["contacts"] in (4, 5)
    assert holdout["converted"] == 1
    assert JourneyEnrolment.objects.filter(journey=j, status__in=["active", "holdout"]).count() == 0


def test_pause_stops_movement_and_resume_runs_what_is_due(ws, tpl):
    j = journey(
        ws,
        {"kind": "manual"},
        [
            step("w", "wait", duration={"hours": 1}, next="s"),
            step("s", "send_email", template_id=tpl.pk),
        ],
    )
    c = ContactFactory.create(workspace=ws)
    enrol_api(j, [c.pk])
    advance()
    j = journey_pause(journey=j, actor=ACTOR)
    advance(later(hours=2))
    assert sent_steps(c) == []
    journey_resume(journey=j, actor=ACTOR)
    advance(later(hours=2))
    assert sent_steps(c) == ["s"]
    with pytest.raises(Conflict):
        journey_resume(journey=j, actor=ACTOR)


def test_cancel_takes_everyone_out_and_stops_their_messages(ws, tpl):
    j = journey(
        ws,
        {"kind": "manual"},
        [
            step("s", "send_email", template_id=tpl.pk, next="w"),
            step("w", "wait", duration={"hours": 1}),
        ],
    )
    c = ContactFactory.create(workspace=ws)
    enrol_api(j, [c.pk])
    advance()
    journey_cancel(journey=j, actor=ACTOR)
    assert where(j, c) == "exited:journey cancelled"
    assert Message.objects.get(contact=c).status == "suppressed"
    with pytest.raises(Conflict):
        journey_update(journey=j, data={"name": "again"}, actor=ACTOR)


def test_editing_a_live_journey_keeps_or_moves_contacts_as_told(ws, tpl):
    other = email_template(ws, name="Other")
    steps = [
        step("hello", "send_email", template_id=tpl.pk, next="wait"),
        step("wait", "wait", duration={"days": 1}, next="tip"),
        step("tip", "send_email", template_id=tpl.pk),
    ]
    j = journey(ws, {"kind": "manual"}, steps)
    first, second = ContactFactory.create_batch(2, workspace=ws)
    enrol_api(j, [first.pk])
    advance()
    assert where(j, first) == "wait"
    due_before = enrolment(j, first).due_at
    # A new template for "tip" and a longer wait: the waiting contact keeps its time,
    # and gets the new template when it reaches "tip".
    steps[1]["config"]["duration"] = {"days": 5}
    steps[2]["config"]["template_id"] = other.pk
    _, counts = journey_update(journey=j, data={"steps": steps}, actor=ACTOR)
    assert counts == {"moved": 0, "exited": 0}
    assert where(j, first) == "wait" and enrolment(j, first).due_at == due_before
    enrol_api(j, [second.pk])
    advance()
    assert enrolment(j, second).due_at > later(days=4)
    advance(later(days=1, minutes=1))
    assert Message.objects.filter(contact=first).order_by("id")[1].template_id == other.pk
    # Removing the wait step: contacts in it move to the step named, due now.
    without_wait = [
        step("hello", "send_email", template_id=tpl.pk, next="tip"),
        step("tip", "send_email", template_id=other.pk),
    ]
    _, counts = journey_update(
        journey=j, data={"steps": without_wait, "move_removed_to": "tip"}, actor=ACTOR
    )
    assert counts == {"moved": 1, "exited": 0}
    advance()
    assert sent_steps(second) == ["hello", "tip"]
    # Without a target, contacts on a removed step leave the journey.
    third = ContactFactory.create(workspace=ws)
    wait_again = [
        step("hello", "send_email", template_id=tpl.pk, next="hold"),
        step("hold", "wait", duration={"days": 1}, next="tip"),
        step("tip", "send_email", template_id=other.pk),
    ]
    journey_update(journey=j, data={"steps": wait_again}, actor=ACTOR)
    enrol_api(j, [third.pk])
    advance()
    _, counts = journey_update(journey=j, data={"steps": without_wait}, actor=ACTOR)
    assert counts == {"moved": 0, "exited": 1}
    assert where(j, third) == "exited:step removed"


def test_a_failed_batch_runs_again_without_a_second_message(ws, tpl):
    j = journey(ws, {"kind": "manual"}, [step("s", "send_email", template_id=tpl.pk)])
    c = ContactFactory.create(workspace=ws)
    enrol_api(j, [c.pk])
    # A message already in the outbox under the step's key (a worker that sent and
    # died before its enrolment update committed) is not doubled by the re-run.
    e = enrolment(j, c)
    step_id = JourneyStep.objects.get(journey=j, key="s").pk
    MessageFactory.create(
        workspace=ws,
        contact=c,
        channel="email",
        template=tpl,
        idempotency_key=f"journey:{e.pk}:{step_id}",
        origin_kind="journey_step",
        origin_id=step_id,
    )
    advance()
    assert Message.objects.filter(contact=c).count() == 1
    assert where(j, c) == "completed"


def test_workers_never_share_an_enrolment(ws, tpl):
    j = journey(ws, {"kind": "manual"}, [step("s", "send_email", template_id=tpl.pk)])
    contacts = ContactFactory.create_batch(30, workspace=ws)
    enrol_api(j, [c.pk for c in contacts])
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM campaigns_journeyenrolment")
        assert cursor.fetchone()[0] == 30
    advance()
    assert Message.objects.filter(contact__in=contacts).count() == 30
    assert JourneyStep.objects.get(journey=j, key="s").entered == 30
