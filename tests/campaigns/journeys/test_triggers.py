"""Journey triggers: stage entered and exited, events with property filters, dates,
segments joined; re-entry."""

from __future__ import annotations

import datetime as dt

import pytest

from campaigns.journeys.segment_trigger import journeys_scan
from campaigns.journeys.triggers import date_scan, enrol_api, on_contacts_refreshed
from campaigns.models import JourneyEnrolment, JourneyStep
from contacts.models import Contact
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
from tests.factories import ContactFactory, SegmentFactory
from tests.messaging.helpers import ACTOR

pytestmark = pytest.mark.django_db

UTC = dt.UTC


def test_stage_entered_trigger_sends_the_welcome_then_waits(ws, stages, tpl):
    j = journey(
        ws,
        {"kind": "stage_entered", "stage_id": stages["customer"].pk},
        [
            step("hello", "send_email", template_id=tpl.pk, next="pause"),
            step("pause", "wait", duration={"days": 2}, next="again"),
            step("again", "send_email", template_id=tpl.pk),
        ],
    )
    buyer, other = ContactFactory.create_batch(2, workspace=ws)
    contact_stage_set(contact=buyer, stage=stages["customer"], actor=ACTOR)
    contact_stage_set(contact=other, stage=stages["loyal"], actor=ACTOR)
    transitions_dispatch()
    assert not JourneyEnrolment.objects.filter(contact=other).exists()
    advance()
    assert sent_steps(buyer) == ["hello"]
    assert where(j, buyer) == "pause"
    advance(later(days=1))
    assert sent_steps(buyer) == ["hello"]
    advance(later(days=2, seconds=5))
    assert sent_steps(buyer) == ["hello", "again"]
    assert where(j, buyer) == "completed"
    # The message is keyed by enrolment and step: a second run adds nothing.
    message = Message.objects.get(
        contact=buyer,
        origin_kind="journey_step",
        template=tpl,
        idempotency_key__endswith=str(JourneyStep.objects.get(journey=j, key="hello").pk),
    )
    assert message.idempotency_key.startswith(f"journey:{enrolment(j, buyer).pk}:")


def test_stage_exited_trigger(ws, stages, tpl):
    j = journey(
        ws,
        {"kind": "stage_exited", "stage_id": stages["customer"].pk},
        [step("miss-you", "send_email", template_id=tpl.pk)],
    )
    c = ContactFactory.create(workspace=ws)
    contact_stage_set(contact=c, stage=stages["customer"], actor=ACTOR)
    transitions_dispatch()
    assert not JourneyEnrolment.objects.filter(journey=j).exists()
    contact_stage_set(contact=c, stage=stages["at_risk"], actor=ACTOR)
    transitions_dispatch()
    advance()
    assert sent_steps(c) == ["miss-you"]


def test_event_trigger_with_property_filter(ws, tpl):
    j = journey(
        ws,
        {"kind": "event", "event": "cart_abandoned", "properties": {"store": "eu"}},
        [step("remind", "send_email", template_id=tpl.pk)],
        reentry="always",
    )
    eu, us = ContactFactory.create_batch(2, workspace=ws)
    ingest(ws, eu, "cart_abandoned", store="eu", total=30)
    ingest(ws, us, "cart_abandoned", store="us")
    ingest(ws, eu, "page_viewed", store="eu")
    assert list(JourneyEnrolment.objects.filter(journey=j).values_list("contact", flat=True)) == [
        eu.pk
    ]
    # The same event offered again (another evaluation) does not enter twice.
    marked_contacts_evaluate()
    on_contacts_refreshed([eu.pk])
    assert JourneyEnrolment.objects.filter(journey=j).count() == 1


def test_events_before_the_journey_went_live_do_not_count(ws, tpl):
    c = ContactFactory.create(workspace=ws)
    ingest(ws, c, "signed_up")
    j = journey(
        ws, {"kind": "event", "event": "signed_up"}, [step("a", "send_email", template_id=tpl.pk)]
    )
    marked_contacts_evaluate()
    on_contacts_refreshed([c.pk])
    assert not JourneyEnrolment.objects.filter(journey=j).exists()


def test_date_attribute_trigger_days_before_and_annual(ws, tpl):
    ws.time_zone = "Pacific/Auckland"
    ws.save()
    now = dt.datetime(2026, 3, 10, 20, 0, tzinfo=UTC)  # 11 March 09:00 in Auckland
    renew = journey(
        ws,
        {"kind": "date_attribute", "attribute": "renewal_date", "offset_days": -3},
        [step("renew", "send_email", template_id=tpl.pk)],
        name="renew",
    )
    soon = ContactFactory.create(workspace=ws, attributes={"renewal_date": "2026-03-14"})
    ContactFactory.create(workspace=ws, attributes={"renewal_date": "2026-03-13"})
    ContactFactory.create(workspace=ws, attributes={"renewal_date": "not a date"})
    assert date_scan(renew, now=now) == 1
    assert date_scan(renew, now=now + dt.timedelta(hours=1)) == 0  # once a day
    assert enrolment(renew, soon).trigger_key == "date:2026-03-11"

    birthday = journey(
        ws,
        {"kind": "date_attribute", "attribute": "birthday", "annual": True},
        [step("cake", "send_email", template_id=tpl.pk)],
        name="birthday",
        reentry="cooldown",
        reentry_days=300,
    )
    born = ContactFactory.create(workspace=ws, attributes={"birthday": "1990-03-11"})
    leap = ContactFactory.create(workspace=ws, attributes={"birthday": "2000-02-29"})
    assert date_scan(birthday, now=now) == 1
    assert enrolment(birthday, born)
    feb28 = dt.datetime(2027, 2, 27, 20, 0, tzinfo=UTC)  # 28 Feb 2027 in Auckland
    assert date_scan(birthday, now=feb28) == 1
    assert enrolment(birthday, leap).trigger_key == "date:2027-02-28"


def test_segment_joined_trigger_counts_joins_not_members(ws, tpl):
    seg = SegmentFactory.create(
        workspace=ws, name="vip", rule={"attr": "plan", "op": "eq", "value": "vip"}
    )
    already = ContactFactory.create(workspace=ws, attributes={"plan": "vip"})
    j = journey(
        ws,
        {"kind": "segment_joined", "segment_id": seg.pk},
        [step("hi", "send_email", template_id=tpl.pk)],
        reentry="always",
    )
    joiner = ContactFactory.create(workspace=ws, attributes={"plan": "free"})
    journeys_scan()
    assert not JourneyEnrolment.objects.filter(journey=j).exists()
    Contact.objects.filter(pk=joiner.pk).update(attributes={"plan": "vip"})
    journeys_scan()
    journeys_scan()
    assert list(JourneyEnrolment.objects.filter(journey=j).values_list("contact", flat=True)) == [
        joiner.pk
    ]
    advance()
    # Leaves and joins again: enters again (re-entry "always").
    Contact.objects.filter(pk=joiner.pk).update(attributes={"plan": "free"})
    journeys_scan()
    Contact.objects.filter(pk=joiner.pk).update(attributes={"plan": "vip"})
    journeys_scan()
    assert JourneyEnrolment.objects.filter(journey=j, contact=joiner).count() == 2
    assert not JourneyEnrolment.objects.filter(journey=j, contact=already).exists()


def test_reentry_policies(ws, tpl):
    steps = [step("a", "send_email", template_id=tpl.pk)]
    once = journey(ws, {"kind": "manual"}, steps, name="once")
    cool = journey(ws, {"kind": "manual"}, steps, name="cool", reentry="cooldown", reentry_days=7)
    always = journey(
        ws,
        {"kind": "manual"},
        [step("w", "wait", duration={"hours": 1})],
        name="always",
        reentry="always",
    )
    c = ContactFactory.create(workspace=ws)
    for j in (once, cool, always):
        assert enrol_api(j, [c.pk]) == 1
    advance()
    assert enrol_api(once, [c.pk]) == 0
    assert enrol_api(cool, [c.pk]) == 0
    JourneyEnrolment.objects.filter(journey=cool).update(entered_at=later(days=-8))
    assert enrol_api(cool, [c.pk]) == 1
    # "always", but never twice at once: still waiting in the first enrolment.
    assert enrol_api(always, [c.pk]) == 0
    advance(later(hours=2))
    assert enrol_api(always, [c.pk]) == 1
