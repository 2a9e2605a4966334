"""Writes to broadcasts: validation by field, drafts only edited, scheduled once;
pause, resume and cancel never send twice."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from campaigns.broadcasts.delivery import (
    broadcast_materialise,
    broadcasts_advance,
)
from campaigns.broadcasts.services import (
    CANCELLED_REASON,
    broadcast_cancel,
    broadcast_pause,
    broadcast_resume,
    broadcast_schedule,
    broadcast_update,
)
from campaigns.models import Broadcast
from config.errors import Conflict, InvalidInput
from messaging.models import Message, SandboxDelivery
from messaging.services.claims import messages_claim
from tests.campaigns.broadcasts.helpers import (
    broadcast,
    contacts,
    messages_of,
    run_once,
    schedule_and_materialise,
    segment,
)
from tests.messaging.helpers import ACTOR, email_template, sms_template

pytestmark = pytest.mark.django_db

UTC = dt.UTC
PRO = {"plan": "pro"}


def test_pause_holds_unsent_and_resume_never_resends(ws):
    pro = segment(ws, "pro", "pro")
    people = contacts(ws, 5, attributes={"plan": "pro"})
    b = schedule_and_materialise(broadcast(ws, email_template(ws), include_segment_ids=[pro.pk]))
    later = timezone.now() + dt.timedelta(hours=1)
    rest = [m.pk for m in messages_of(b)[2:]]
    Message.objects.filter(pk__in=rest).update(due_at=later)
    assert run_once()["sent"] == 2  # two go out before the pause
    sent_before = {m.pk: m.sent_at for m in messages_of(b) if m.status == "sent"}
    broadcast_pause(broadcast=b, actor=ACTOR)
    assert b.status == "paused"
    assert sorted(m.status for m in messages_of(b)) == ["held"] * 3 + ["sent"] * 2
    Message.objects.filter(pk__in=rest).update(due_at=timezone.now())
    assert messages_claim() == []  # held rows are never claimed
    broadcast_resume(broadcast=b, actor=ACTOR)
    assert b.status == "sending"
    assert run_once()["sent"] == 3
    assert run_once()["sent"] == 0
    assert all(m.status == "sent" for m in messages_of(b))
    for pk, sent_at in sent_before.items():
        assert Message.objects.get(pk=pk).sent_at == sent_at  # untouched
    deliveries = SandboxDelivery.objects.filter(
        message__origin_kind="broadcast", message__origin_id=b.pk
    )
    assert deliveries.count() == 5
    assert sorted(d.to_address for d in deliveries) == sorted(str(c.email) for c in people)
    broadcasts_advance()
    b.refresh_from_db()
    assert b.status == "sent"


def test_resume_respaces_held_messages_of_a_throttled_broadcast(ws):
    pro = segment(ws, "pro", "pro")
    contacts(ws, 4, attributes={"plan": "pro"})
    past = timezone.now() - dt.timedelta(hours=3)
    b = broadcast(ws, email_template(ws), include_segment_ids=[pro.pk], throttle_per_hour=3600)
    b = schedule_and_materialise(b)
    broadcast_pause(broadcast=b, actor=ACTOR)
    b.messages.update(due_at=past)
    before = timezone.now()
    broadcast_resume(broadcast=b, actor=ACTOR)
    dues = sorted(m.due_at for m in messages_of(b))
    assert dues[0] >= before - dt.timedelta(seconds=1)
    assert dues[-1] - dues[0] >= dt.timedelta(seconds=3)


def test_pause_during_materialisation_inserts_held_rows(ws):
    pro = segment(ws, "pro", "pro")
    contacts(ws, 3, attributes={"plan": "pro"})
    b = broadcast(ws, email_template(ws), include_segment_ids=[pro.pk])
    broadcast_schedule(broadcast=b, actor=ACTOR)
    broadcast_pause(broadcast=b, actor=ACTOR)
    broadcast_materialise(broadcast_id=b.pk)
    assert [m.status for m in messages_of(b)] == ["held"] * 3


def test_cancel_suppresses_what_was_not_sent(ws):
    pro = segment(ws, "pro", "pro")
    contacts(ws, 4, attributes={"plan": "pro"})
    b = schedule_and_materialise(broadcast(ws, email_template(ws), include_segment_ids=[pro.pk]))
    Message.objects.filter(pk__in=[m.pk for m in messages_of(b)[1:]]).update(
        due_at=timezone.now() + dt.timedelta(hours=1)
    )
    assert run_once()["sent"] == 1
    broadcast_pause(broadcast=b, actor=ACTOR)
    broadcast_cancel(broadcast=b, actor=ACTOR)
    statuses = sorted((m.status, m.status_reason) for m in messages_of(b))
    assert statuses == [("sent", "")] + [("suppressed", CANCELLED_REASON)] * 3
    assert b.status == "cancelled"
    with pytest.raises(Conflict):
        broadcast_resume(broadcast=b, actor=ACTOR)
    # A materialisation still running after the cancel adds nothing.
    Broadcast.objects.filter(pk=b.pk).update(materialised_at=None)
    assert broadcast_materialise(broadcast_id=b.pk) == 0


def test_validation_names_the_fields(ws):
    sms = sms_template(ws)
    with pytest.raises(InvalidInput) as caught:
        broadcast(ws, sms, name="", channel="email", throttle_per_hour=0, schedule="later")
    assert {"name", "template_id", "throttle_per_hour", "schedule"} <= set(caught.value.fields)
    with pytest.raises(InvalidInput) as caught:
        broadcast(ws, sms, include_segment_ids=[999999])
    assert "include_segment_ids" in caught.value.fields
    b = broadcast(ws, sms, schedule="local")
    # The draft is valid but incomplete: scheduling it conflicts with its state.
    with pytest.raises(Conflict) as not_ready:
        broadcast_schedule(broadcast=b, actor=ACTOR)
    assert {"include_segment_ids", "local_date", "local_time"} <= set(not_ready.value.fields)


def test_only_drafts_are_edited_and_scheduled_once(ws):
    pro = segment(ws, "pro", "pro")
    b = broadcast(ws, email_template(ws), include_segment_ids=[pro.pk])
    broadcast_update(broadcast=b, data={"name": "Renamed", "throttle_per_hour": 100}, actor=ACTOR)
    b.refresh_from_db()
    assert b.name == "Renamed" and b.throttle_per_hour == 100
    broadcast_schedule(broadcast=b, actor=ACTOR)
    with pytest.raises(Conflict):
        broadcast_schedule(broadcast=b, actor=ACTOR)
    with pytest.raises(Conflict):
        broadcast_update(broadcast=b, data={"name": "Again"}, actor=ACTOR)
    with pytest.raises(Conflict):
        broadcast(ws, email_template(ws, name="Other"), name="Renamed")
