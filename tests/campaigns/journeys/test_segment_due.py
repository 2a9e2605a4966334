"""Segment triggers and time: a contact enters a journey within a due run of the moment
time makes it join the segment (issue 19: the segments journeys listen to count in the
due moments), without the scan of everyone; a journey going live or its segment being
edited stores everyone's due moment again; a stage move is looked at at once."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from django.utils import timezone

from campaigns.journeys.segment_trigger import journeys_scan
from campaigns.journeys.services import journey_pause, journey_resume
from campaigns.models import JourneyEnrolment
from contacts.services import contacts_mark_changed, segment_update
from lifecycle.hooks import transitions_dispatch
from lifecycle.models import ContactDue, SweepRun
from lifecycle.services import contact_stage_set, marked_contacts_evaluate
from lifecycle.services.due import due_contacts_evaluate
from lifecycle.services.sweeps import sweep_chunk, sweeps_start_due
from tests.campaigns.journeys.helpers import journey, step
from tests.factories import ContactFactory, SegmentFactory
from tests.lifecycle.test_engine import purchase
from tests.messaging.helpers import ACTOR, email_template
from workspaces.services import workspace_provision

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)
MICRO = dt.timedelta(microseconds=1)
LAPSED_14 = {"event": "purchase", "last": {"older_than_days": 14}}
LAPSED_12 = {"event": "purchase", "last": {"older_than_days": 12}}


def due_of(contact) -> dt.datetime | None:
    return ContactDue.objects.filter(contact=contact).values_list("due_at", flat=True).first()


def entered(j) -> list[int]:
    return list(JourneyEnrolment.objects.filter(journey=j).values_list("contact_id", flat=True))


def segment_journey(ws, template_id: int, rule: dict, name: str = "No order for 14 days"):
    """A segment with `rule` and a live journey that lets its joiners in: (segment, journey)."""
    segment = SegmentFactory.create(workspace=ws, name=name, rule=rule)
    j = journey(
        ws,
        {"kind": "segment_joined", "segment_id": segment.pk},
        [step("miss", "send_email", template_id=template_id)],
        name=name,
    )
    return segment, j


def run_sweeps() -> list[int]:
    """The sweeps beat, its chunks run here."""
    started = sweeps_start_due(every=dt.timedelta(days=365))
    for run_id in started:
        sweep_chunk(run_id=run_id, low=0, high=2**63 - 1)
    return started


def test_time_lets_a_contact_into_the_journey_at_the_due_run(ws, stages, tpl, caplog):
    _, j = segment_journey(ws, tpl.pk, LAPSED_14)
    buyer = ContactFactory.create(workspace=ws)
    bought = purchase(buyer, 10).occurred_at
    contacts_mark_changed(contact_ids=[buyer.pk])
    marked_contacts_evaluate()
    # The stage rules alone would make it due at 90 days ("at risk"); the segment's
    # boundary comes first.
    boundary = bought + 14 * DAY + MICRO
    assert due_of(buyer) == boundary

    assert due_contacts_evaluate(now=boundary - MICRO, workspace_ids=[ws.pk]) == (0, 0)
    assert entered(j) == []
    evaluated, _ = due_contacts_evaluate(now=boundary + dt.timedelta(seconds=15))
    assert evaluated == 1
    assert entered(j) == [buyer.pk]
    enrolment = JourneyEnrolment.objects.get(journey=j)
    assert enrolment.entered_at == boundary + dt.timedelta(seconds=15)
    assert due_of(buyer) == bought + 90 * DAY + MICRO  # next: the stage rules' boundary

    # The safety scan of everyone finds nobody left to let in, and says so by silence.
    caplog.set_level(logging.WARNING, logger="campaigns.journeys.segment_trigger")
    assert journeys_scan() == {"segment": 0}
    assert "segment_safety_entered" not in caplog.text


def test_the_safety_scan_says_whom_it_let_in(ws, stages, tpl, caplog):
    segment = SegmentFactory.create(
        workspace=ws, name="Pro", rule={"attr": "plan", "op": "eq", "value": "pro"}
    )
    j = journey(
        ws,
        {"kind": "segment_joined", "segment_id": segment.pk},
        [step("hi", "send_email", template_id=tpl.pk)],
    )
    # Changed behind the engine's back (no mark): only the safety scan sees it.
    contact = ContactFactory.create(workspace=ws)
    type(contact).objects.filter(pk=contact.pk).update(attributes={"plan": "pro"})
    caplog.set_level(logging.WARNING, logger="campaigns.journeys.segment_trigger")
    assert journeys_scan() == {"segment": 1}
    assert entered(j) == [contact.pk]
    assert f"campaigns.segment_safety_entered journey={j.pk} entered=1" in caplog.text


def test_a_journey_going_live_or_its_segment_edited_stores_every_due_moment_again(ws, stages, tpl):
    buyer = ContactFactory.create(workspace=ws)
    bought = purchase(buyer, 10).occurred_at
    contacts_mark_changed(contact_ids=[buyer.pk])
    marked_contacts_evaluate()
    assert due_of(buyer) == bought + 90 * DAY + MICRO
    assert [SweepRun.objects.get(pk=i).reason for i in run_sweeps()] == ["periodic"]

    segment, _ = segment_journey(ws, tpl.pk, LAPSED_14)
    (first,) = run_sweeps()
    assert SweepRun.objects.get(pk=first).label == "a change to the segments journeys wait for"
    assert due_of(buyer) == bought + 14 * DAY + MICRO
    assert run_sweeps() == []  # nothing changed since

    segment_update(
        segment=segment,
        data={"rule": {"event": "purchase", "last": {"older_than_days": 12}}},
        actor=ACTOR,
    )
    assert len(run_sweeps()) == 1
    assert due_of(buyer) == bought + 12 * DAY + MICRO


def test_a_stage_move_is_looked_at_at_once(ws, stages, tpl):
    segment = SegmentFactory.create(
        workspace=ws, name="Loyal", rule={"field": "stage", "op": "eq", "value": "loyal"}
    )
    j = journey(
        ws,
        {"kind": "segment_joined", "segment_id": segment.pk},
        [step("thanks", "send_email", template_id=tpl.pk)],
    )
    contact = ContactFactory.create(workspace=ws)
    contact_stage_set(contact=contact, stage=stages["loyal"], actor=ACTOR)
    assert entered(j) == []
    transitions_dispatch()
    assert entered(j) == [contact.pk]


def test_a_segment_trigger_in_another_workspace_adds_nothing_here(ws, stages):
    other_ws, _ = workspace_provision(slug="other", name="Other")
    segment_journey(other_ws, email_template(other_ws).pk, LAPSED_14, name="Lapsed")
    buyer = ContactFactory.create(workspace=ws)
    bought = purchase(buyer, 10).occurred_at
    contacts_mark_changed(contact_ids=[buyer.pk])
    marked_contacts_evaluate()
    assert due_of(buyer) == bought + 90 * DAY + MICRO


def test_a_journey_paused_and_resumed_stores_the_due_moments_again(ws, stages, tpl):
    buyer = ContactFactory.create(workspace=ws)
    bought = purchase(buyer, 10).occurred_at
    contacts_mark_changed(contact_ids=[buyer.pk])
    marked_contacts_evaluate()
    _, j = segment_journey(ws, tpl.pk, LAPSED_14)
    assert len(run_sweeps()) == 1
    journey_pause(journey=j, actor=ACTOR)
    assert run_sweeps() == []  # nothing to store; the pause is only noted
    contacts_mark_changed(contact_ids=[buyer.pk])
    marked_contacts_evaluate()
    assert due_of(buyer) == bought + 90 * DAY + MICRO  # stored without the segment
    journey_resume(journey=j, actor=ACTOR)
    assert len(run_sweeps()) == 1  # the same rules as before the pause: still a change
    assert due_of(buyer) == bought + 14 * DAY + MICRO


def test_a_due_rules_sweep_waits_for_the_one_under_way(ws, stages, tpl):
    segment, _ = segment_journey(ws, tpl.pk, LAPSED_14)
    ContactFactory.create(workspace=ws)
    assert len(sweeps_start_due(every=dt.timedelta(days=365))) == 1  # its chunks not run
    segment_update(segment=segment, data={"rule": LAPSED_12}, actor=ACTOR)
    assert sweeps_start_due(every=dt.timedelta(days=365)) == []
    SweepRun.objects.filter(workspace=ws).update(finished_at=timezone.now())
    assert len(sweeps_start_due(every=dt.timedelta(days=365))) == 1


def test_a_boundary_crossed_before_the_due_rules_sweep_ran_still_lets_the_contact_in(
    ws, stages, tpl
):
    """The journey went live; before the sweep that stores the new due moments ran, a
    contact's last order turned 14 days old: the sweep's chunk looks at it."""
    buyer = ContactFactory.create(workspace=ws)
    bought = purchase(buyer, 13).occurred_at
    contacts_mark_changed(contact_ids=[buyer.pk])
    marked_contacts_evaluate()
    _, j = segment_journey(ws, tpl.pk, LAPSED_14)
    assert entered(j) == []
    (run_id,) = sweeps_start_due(every=dt.timedelta(days=365))
    sweep_chunk(run_id=run_id, low=0, high=2**63 - 1, now=bought + 14 * DAY + DAY)
    assert entered(j) == [buyer.pk]
