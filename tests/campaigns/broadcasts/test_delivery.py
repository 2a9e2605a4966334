"""Broadcast delivery: the audience (segments, stages, excludes, consent) put into the
outbox once, in chunks, resumable; status from scheduled to sent."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from campaigns.broadcasts.audience import audience_count
from campaigns.broadcasts.delivery import (
    broadcast_audience,
    broadcast_materialise,
    broadcasts_advance,
)
from campaigns.broadcasts.services import (
    broadcast_schedule,
)
from campaigns.models import Broadcast
from contacts.models import Contact
from lifecycle.services import stages_create_defaults
from messaging.models import Message
from tests.campaigns.broadcasts.helpers import (
    broadcast,
    contacts,
    messages_of,
    run_once,
    schedule_and_materialise,
    segment,
)
from tests.factories import ContactFactory, ContactStageFactory
from tests.messaging.helpers import ACTOR, email_template, sms_template

pytestmark = pytest.mark.django_db

UTC = dt.UTC
PRO = {"plan": "pro"}


def test_contact_in_two_included_segments_gets_one_message(ws):
    pro, vip = segment(ws, "pro", "pro"), segment(ws, "vip", "vip")
    both = ContactFactory.create(workspace=ws, attributes={"plan": "pro"})
    # Matches both segments: "vip" is also written as a rule on the same contact.
    vip.rule = {
        "any": [
            {"attr": "plan", "op": "eq", "value": "vip"},
            {"attr": "plan", "op": "eq", "value": "pro"},
        ]
    }
    vip.save()
    only_vip = ContactFactory.create(workspace=ws, attributes={"plan": "vip"})
    ContactFactory.create(workspace=ws, attributes={"plan": "free"})
    b = broadcast(ws, email_template(ws), include_segment_ids=[pro.pk, vip.pk])
    assert audience_count(workspace=ws, audience=broadcast_audience(b)) == 2
    b = schedule_and_materialise(b)
    assert [m.contact_id for m in messages_of(b)] == sorted([both.pk, only_vip.pk])
    assert b.recipient_count == 2
    assert {m.idempotency_key for m in messages_of(b)} == {
        f"broadcast:{b.pk}:{both.pk}",
        f"broadcast:{b.pk}:{only_vip.pk}",
    }


def test_rerunning_materialisation_adds_nothing(ws):
    pro = segment(ws, "pro", "pro")
    contacts(ws, 25, attributes={"plan": "pro"})
    b = schedule_and_materialise(broadcast(ws, email_template(ws), include_segment_ids=[pro.pk]))
    first = {m.pk for m in messages_of(b)}
    # A crash after the last chunk but before the broadcast was marked done: run again.
    Broadcast.objects.filter(pk=b.pk).update(materialised_at=None)
    assert broadcast_materialise(broadcast_id=b.pk) == 25
    assert {m.pk for m in messages_of(b)} == first


def test_materialisation_in_chunks_and_resume_after_a_partial_run(ws, settings):
    settings.CAMPAIGNS_BROADCAST_CHUNK = 7
    pro = segment(ws, "pro", "pro")
    contacts(ws, 30, attributes={"plan": "pro"})
    b = broadcast(ws, email_template(ws), include_segment_ids=[pro.pk])
    broadcast_schedule(broadcast=b, actor=ACTOR)
    broadcast_materialise(broadcast_id=b.pk)
    # Pretend the worker died after two chunks: delete the rest and run again.
    kept = b.messages.order_by("id")[:14]
    b.messages.exclude(pk__in=[m.pk for m in kept]).delete()
    Broadcast.objects.filter(pk=b.pk).update(materialised_at=None)
    assert broadcast_materialise(broadcast_id=b.pk) == 30
    assert b.messages.values("contact_id").distinct().count() == 30


def test_excludes_win_over_includes_and_consent_is_required(ws):
    stages = stages_create_defaults(workspace=ws)
    customer = next(s for s in stages if s.key == "customer")
    pro, blocked = segment(ws, "pro", "pro"), segment(ws, "blocked", "blocked")
    keep = ContactFactory.create(workspace=ws, attributes={"plan": "pro"})
    in_stage = ContactFactory.create(workspace=ws, attributes={"plan": "x"})
    ContactStageFactory.create(contact=in_stage, workspace=ws, stage=customer)
    excluded_by_stage = ContactFactory.create(workspace=ws, attributes={"plan": "pro"})
    ContactStageFactory.create(contact=excluded_by_stage, workspace=ws, stage=customer)
    blocked.rule = {"attr": "vip", "op": "eq", "value": "no"}
    blocked.save()
    ContactFactory.create(workspace=ws, attributes={"plan": "pro", "vip": "no"})
    ContactFactory.create(workspace=ws, attributes={"plan": "pro"}, email_status="unsubscribed")
    b = broadcast(
        ws,
        email_template(ws),
        include_segment_ids=[pro.pk],
        include_stage_ids=[customer.pk],
        exclude_segment_ids=[blocked.pk],
    )
    assert audience_count(workspace=ws, audience=broadcast_audience(b)) == 3
    b.exclude_stage_ids = [customer.pk]
    b.save(update_fields=["exclude_stage_ids"])
    b = schedule_and_materialise(b)
    assert [m.contact_id for m in messages_of(b)] == [keep.pk]


def test_sms_audience_needs_a_phone_and_sms_opt_in(ws):
    pro = segment(ws, "pro", "pro")
    opted = ContactFactory.create(
        workspace=ws, attributes={"plan": "pro"}, phone="+14155550101", sms_status="subscribed"
    )
    ContactFactory.create(workspace=ws, attributes={"plan": "pro"}, phone="+14155550102")
    ContactFactory.create(workspace=ws, attributes={"plan": "pro"}, sms_status="subscribed")
    b = schedule_and_materialise(broadcast(ws, sms_template(ws), include_segment_ids=[pro.pk]))
    assert [m.contact_id for m in messages_of(b)] == [opted.pk]
    assert messages_of(b)[0].channel == "sms"


def test_status_moves_scheduled_sending_sent(ws):
    pro = segment(ws, "pro", "pro")
    contacts(ws, 2, attributes={"plan": "pro"})
    at = timezone.now() + dt.timedelta(minutes=5)
    b = schedule_and_materialise(
        broadcast(
            ws,
            email_template(ws),
            include_segment_ids=[pro.pk],
            schedule="at",
            send_at=at.isoformat(),
        )
    )
    broadcasts_advance()
    b.refresh_from_db()
    assert b.status == "scheduled"
    b.messages.update(due_at=timezone.now())
    Broadcast.objects.filter(pk=b.pk).update(first_due_at=timezone.now())
    broadcasts_advance()
    b.refresh_from_db()
    assert b.status == "sending"
    run_once()
    broadcasts_advance()
    b.refresh_from_db()
    assert b.status == "sent" and b.finished_at is not None


def test_a_failed_or_suppressed_message_still_lets_the_broadcast_finish(ws):
    pro = segment(ws, "pro", "pro")
    contacts(ws, 2, attributes={"plan": "pro"})
    b = schedule_and_materialise(broadcast(ws, email_template(ws), include_segment_ids=[pro.pk]))
    first, second = messages_of(b)
    Message.objects.filter(pk=first.pk).update(status="failed")
    broadcasts_advance()
    b.refresh_from_db()
    assert b.status == "sending"  # the second is still scheduled
    Message.objects.filter(pk=second.pk).update(status="suppressed")
    broadcasts_advance()
    b.refresh_from_db()
    assert b.status == "sent"


def test_stalled_materialisation_is_restarted_by_beat(ws, settings, monkeypatch):
    started: list[int] = []
    monkeypatch.setattr(
        "campaigns.broadcasts.delivery.publish", lambda task, pk: started.append(pk)
    )
    pro = segment(ws, "pro", "pro")
    b = broadcast(ws, email_template(ws), include_segment_ids=[pro.pk])
    broadcast_schedule(broadcast=b, actor=ACTOR)
    assert broadcasts_advance()["restarted"] == 0  # its heartbeat is fresh
    Broadcast.objects.filter(pk=b.pk).update(
        materialise_heartbeat=timezone.now() - dt.timedelta(hours=1)
    )
    assert broadcasts_advance()["restarted"] == 1
    assert started == [b.pk]
    assert broadcasts_advance()["restarted"] == 0


def test_contacts_not_in_the_audience_are_untouched(ws):
    pro = segment(ws, "pro", "pro")
    ContactFactory.create(workspace=ws, attributes={"plan": "free"})
    b = schedule_and_materialise(broadcast(ws, email_template(ws), include_segment_ids=[pro.pk]))
    assert messages_of(b) == [] and b.recipient_count == 0
    assert Contact.objects.filter(workspace=ws).count() == 1


def test_message_uuids_are_unique_and_time_ordered(ws):
    """Each message's public id is a version 7 UUID (config/ids.py): unique, starting
    with the millisecond it was made, so a bulk insert appends to its index."""
    pro = segment(ws, "pro", "pro")
    contacts(ws, 25, attributes={"plan": "pro"})
    b = broadcast(ws, email_template(ws), include_segment_ids=[pro.pk])
    before = int(timezone.now().timestamp() * 1000)
    broadcast_schedule(broadcast=b, actor=ACTOR)
    broadcast_materialise(broadcast_id=b.pk)
    after = int(timezone.now().timestamp() * 1000)
    uuids = list(b.messages.values_list("uuid", flat=True))
    assert len(uuids) == len(set(uuids)) == 25
    assert {u.version for u in uuids} == {7}
    assert all(before <= u.int >> 80 <= after for u in uuids)
    direct = Message.objects.create(
        workspace=ws,
        contact=Contact.objects.filter(workspace=ws).first(),
        channel="email",
        idempotency_key="direct:1",
    )
    assert direct.uuid.version == 7 and before <= direct.uuid.int >> 80 <= after + 1000
