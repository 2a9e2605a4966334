"""Marks whose data is current, through the engine's marks (lifecycle/services/current.py,
docs/rules.md): a live event takes the set-based path dated at its event, a back-dated
one still replays, news at two moments is replayed from its `since`, and the marks task
enrols a stage journey at once. test_current_agreement.py proves the paths agree with
the replay on random worlds."""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from campaigns.journeys.models import Journey, JourneyEnrolment
from contacts.models import Event
from contacts.rules import Scope
from contacts.services import contacts_mark_changed, event_summaries_refresh
from lifecycle.models import ContactDue, ContactStage, StageTransition
from lifecycle.services import marked_contacts_evaluate
from lifecycle.services.current import stages_evaluate_marked
from lifecycle.services.due import contacts_due_store
from lifecycle.services.replay import stages_replay
from lifecycle.tasks import evaluate_marked
from tests.factories import ContactFactory, StageFactory

pytestmark = pytest.mark.django_db

MINUTE = dt.timedelta(minutes=1)
DAY = dt.timedelta(days=1)


def drain(caplog: Any) -> list[str]:
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="lifecycle.services.marked"):
        while marked_contacts_evaluate():
            pass
    return [r.getMessage() for r in caplog.records if "marked_evaluated" in r.getMessage()]


def test_a_live_event_is_evaluated_set_based_and_dated_at_the_event(ws, stages, api, caplog):
    contact = ContactFactory.create(workspace=ws, signed_up_at=timezone.now() - 30 * DAY)
    contacts_mark_changed(contact_ids=[contact.pk])
    drain(caplog)
    assert ContactStage.objects.get(contact=contact).stage == stages["subscriber"]
    response = api.post(
        "/api/v1/events/",
        {"contact": {"id": contact.pk}, "name": "purchase", "revenue": "12.00"},
        format="json",
    )
    assert response.status_code == 202

    assert drain(caplog) == [
        f"lifecycle.marked_evaluated workspace={ws.pk} contacts=1 moved=1 replayed=0"
    ]
    purchase = Event.objects.get(contact=contact, name="purchase")
    move = StageTransition.objects.filter(contact=contact).latest("at")
    assert (move.from_stage, move.to_stage, move.cause) == (
        stages["subscriber"],
        stages["customer"],
        "rule",
    )
    assert (move.at, move.event_id, move.event_name) == (
        purchase.occurred_at,
        purchase.pk,
        "purchase",
    )
    stay = ContactStage.objects.get(contact=contact)
    assert (stay.stage, stay.entered_at) == (stages["customer"], purchase.occurred_at)


def test_a_back_dated_event_still_replays_and_rewrites_what_follows(ws, stages, api, caplog):
    now = timezone.now()
    contact = ContactFactory.create(workspace=ws, signed_up_at=now - 400 * DAY)
    for days in (300, 250):
        contact.events.create(
            workspace=ws, name="purchase", occurred_at=now - days * DAY, revenue=Decimal("10")
        )
    stages_replay(workspace=ws, since={contact.pk: None}, now=now)
    assert ContactStage.objects.get(contact=contact).stage == stages["lapsed"]
    late = now - 100 * DAY
    response = api.post(
        "/api/v1/events/",
        {
            "contact": {"id": contact.pk},
            "name": "purchase",
            "revenue": "30.00",
            "occurred_at": late.isoformat(),
        },
        format="json",
    )
    assert response.status_code == 202

    assert drain(caplog) == [
        f"lifecycle.marked_evaluated workspace={ws.pk} contacts=1 moved=2 replayed=1"
    ]
    moves = [
        (t.from_stage.key if t.from_stage else None, t.to_stage.key, t.at)
        for t in StageTransition.objects.filter(contact=contact)
        .select_related("from_stage", "to_stage")
        .order_by("at", "id")
    ]
    # The lapse 180 days after the second order is gone: the late order made the
    # contact a repeat customer, at risk 90 days after it.
    assert moves[-3:] == [
        ("repeat", "at_risk", now - 250 * DAY + 90 * DAY + dt.timedelta(microseconds=1)),
        ("at_risk", "repeat", late),
        ("repeat", "at_risk", late + 90 * DAY + dt.timedelta(microseconds=1)),
    ]
    assert ContactStage.objects.get(contact=contact).stage == stages["at_risk"]


def test_an_event_leaving_its_window_since_the_news_is_replayed(ws):
    """ "Two page views within a day": a view of yesterday counts with one of an hour
    ago until it leaves its day, half an hour ago. Nothing moved the contact before
    (one view is not two), so no due moment was stored; the news alone makes the
    window's end matter, and only the replay dates both moves."""
    busy = StageFactory.create(
        workspace=ws,
        key="busy",
        position=0,
        rule={"event": "page_view", "count": {"gte": 2}, "within_days": 1},
    )
    rest = StageFactory.create(workspace=ws, key="rest", position=9, rule=None, is_default=True)
    now = timezone.now()
    contact = ContactFactory.create(workspace=ws, signed_up_at=now - 30 * DAY)
    yesterday = contact.events.create(
        workspace=ws, name="page_view", occurred_at=now - DAY - 30 * MINUTE
    )
    stages_replay(workspace=ws, since={contact.pk: None}, now=now - 2 * 60 * MINUTE)
    contacts_due_store(workspace=ws, scope=Scope.of([contact.pk]), now=now - 2 * 60 * MINUTE)
    assert not ContactDue.objects.filter(contact=contact).exists()
    news = contact.events.create(workspace=ws, name="page_view", occurred_at=now - 60 * MINUTE)
    event_summaries_refresh(contact_ids=[contact.pk])

    assert stages_evaluate_marked(workspace=ws, since={contact.pk: news.occurred_at}, now=now) == (
        2,
        1,
    )
    assert [
        (t.from_stage_id, t.to_stage_id, t.at)
        for t in StageTransition.objects.filter(contact=contact).order_by("at")
    ] == [
        (None, rest.pk, contact.signed_up_at),
        (rest.pk, busy.pk, news.occurred_at),
        (busy.pk, rest.pk, yesterday.occurred_at + DAY + dt.timedelta(microseconds=1)),
    ]


def test_the_marks_task_enrols_a_stage_journey_without_waiting_for_the_dispatch_beat(
    ws, stages, api
):
    journey = Journey.objects.create(
        workspace=ws,
        name="Welcome, customer",
        trigger={"kind": "stage_entered", "stage_id": stages["customer"].pk},
        status="live",
        live_since=timezone.now() - DAY,
    )
    contact = ContactFactory.create(workspace=ws, signed_up_at=timezone.now() - 30 * DAY)
    contacts_mark_changed(contact_ids=[contact.pk])
    evaluate_marked(seconds=5)
    response = api.post(
        "/api/v1/events/",
        {"contact": {"id": contact.pk}, "name": "purchase", "revenue": "12.00"},
        format="json",
    )
    assert response.status_code == 202

    evaluate_marked(seconds=5)  # the task beat starts every second; no dispatch beat ran
    assert ContactStage.objects.get(contact=contact).stage == stages["customer"]
    assert list(
        JourneyEnrolment.objects.filter(journey=journey).values_list("contact_id", flat=True)
    ) == [contact.pk]


def test_news_at_two_moments_is_replayed_from_since_with_both_moves(ws, stages, caplog):
    now = timezone.now()
    contact = ContactFactory.create(workspace=ws, signed_up_at=now - 30 * DAY)
    stages_replay(workspace=ws, since={contact.pk: None}, now=now - 60 * MINUTE)
    contacts_due_store(workspace=ws, scope=Scope.of([contact.pk]), now=now - 60 * MINUTE)
    first, second = (
        contact.events.create(
            workspace=ws, name="purchase", occurred_at=now - minutes * MINUTE, revenue=Decimal(9)
        )
        for minutes in (20, 10)
    )
    event_summaries_refresh(contact_ids=[contact.pk])

    # Two moves, and no contact replayed in full.
    assert stages_evaluate_marked(workspace=ws, since={contact.pk: first.occurred_at}, now=now) == (
        2,
        0,
    )
    assert [
        (t.from_stage.key if t.from_stage else None, t.to_stage.key, t.at, t.event_id)
        for t in StageTransition.objects.filter(contact=contact, at__gte=first.occurred_at)
        .select_related("from_stage", "to_stage")
        .order_by("at")
    ] == [
        ("subscriber", "customer", first.occurred_at, first.pk),
        ("customer", "repeat", second.occurred_at, second.pk),
    ]
