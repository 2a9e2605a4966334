"""Broadcasts: audience, materialisation into the outbox, schedule kinds, throttle,
pause/resume/cancel and the status lifecycle."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.utils import timezone

from campaigns.broadcasts.audience import audience_count, throttled
from campaigns.broadcasts.delivery import (
    broadcast_audience,
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
from contacts.models import Contact
from contacts.zones import local_instant
from lifecycle.models import ContactStage
from lifecycle.services import stages_create_defaults
from messaging.models import Message, SandboxDelivery
from messaging.services.claims import messages_claim
from messaging.services.dispatch import messages_send
from tests.campaigns.broadcasts.helpers import (
    broadcast,
    contacts,
    messages_of,
    schedule_and_materialise,
    segment,
)
from tests.factories import ContactFactory
from tests.messaging.helpers import ACTOR, email_template, sms_template

pytestmark = pytest.mark.django_db

UTC = dt.UTC
PRO = {"plan": "pro"}


def run_once() -> dict[str, int]:
    return messages_send(claims=messages_claim(limit=1000))


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
    ContactStage.objects.create(contact=in_stage, workspace=ws, stage=customer)
    excluded_by_stage = ContactFactory.create(workspace=ws, attributes={"plan": "pro"})
    ContactStage.objects.create(contact=excluded_by_stage, workspace=ws, stage=customer)
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


def test_send_at_an_instant(ws):
    pro = segment(ws, "pro", "pro")
    ContactFactory.create(workspace=ws, attributes={"plan": "pro"})
    at = timezone.now() + dt.timedelta(days=2)
    b = schedule_and_materialise(
        broadcast(
            ws,
            email_template(ws),
            include_segment_ids=[pro.pk],
            schedule="at",
            send_at=at.isoformat(),
        )
    )
    assert messages_of(b)[0].due_at == at
    assert b.first_due_at == at


@pytest.mark.parametrize(
    ("zone", "day", "expected"),
    [
        # New York: EST (UTC-5) the day before the spring change, EDT (UTC-4) on it.
        ("America/New_York", dt.date(2030, 3, 9), dt.datetime(2030, 3, 9, 15, 0, tzinfo=UTC)),
        ("America/New_York", dt.date(2030, 3, 10), dt.datetime(2030, 3, 10, 14, 0, tzinfo=UTC)),
        # Autumn: back to EST.
        ("America/New_York", dt.date(2030, 11, 3), dt.datetime(2030, 11, 3, 15, 0, tzinfo=UTC)),
        # London: GMT then BST (last Sunday of March 2030 is the 31st).
        ("Europe/London", dt.date(2030, 3, 30), dt.datetime(2030, 3, 30, 10, 0, tzinfo=UTC)),
        ("Europe/London", dt.date(2030, 3, 31), dt.datetime(2030, 3, 31, 9, 0, tzinfo=UTC)),
        # The first and the last time zones on Earth: UTC+14 and UTC-11.
        ("Pacific/Kiritimati", dt.date(2030, 7, 1), dt.datetime(2030, 6, 30, 20, 0, tzinfo=UTC)),
        ("Pacific/Pago_Pago", dt.date(2030, 7, 1), dt.datetime(2030, 7, 1, 21, 0, tzinfo=UTC)),
    ],
)
def test_local_instant_across_dst_and_extreme_zones(zone, day, expected):
    assert local_instant(day, dt.time(10, 0), zone, "UTC") == expected


def test_local_instant_in_a_dst_gap_and_an_unknown_zone():
    # 02:30 does not exist in New York on 2030-03-10: read with the EST offset (03:30 EDT).
    gap = local_instant(dt.date(2030, 3, 10), dt.time(2, 30), "America/New_York", "UTC")
    assert gap == dt.datetime(2030, 3, 10, 7, 30, tzinfo=UTC)
    # 01:30 happens twice on 2030-11-03: the first (EDT) one.
    twice = local_instant(dt.date(2030, 11, 3), dt.time(1, 30), "America/New_York", "UTC")
    assert twice == dt.datetime(2030, 11, 3, 5, 30, tzinfo=UTC)
    assert local_instant(dt.date(2030, 1, 1), dt.time(9, 0), "Not/AZone", "Asia/Tokyo") == (
        dt.datetime(2030, 1, 1, 0, 0, tzinfo=UTC)
    )


def test_local_schedule_uses_each_contacts_zone_and_the_workspaces_as_fallback(ws):
    ws.time_zone = "Europe/Berlin"
    ws.save(update_fields=["time_zone"])
    pro = segment(ws, "pro", "pro")
    kiri = ContactFactory.create(
        workspace=ws, attributes={"plan": "pro"}, time_zone="Pacific/Kiritimati"
    )
    pago = ContactFactory.create(
        workspace=ws, attributes={"plan": "pro"}, time_zone="Pacific/Pago_Pago"
    )
    ny = ContactFactory.create(
        workspace=ws, attributes={"plan": "pro"}, time_zone="America/New_York"
    )
    none = ContactFactory.create(workspace=ws, attributes={"plan": "pro"})
    b = schedule_and_materialise(
        broadcast(
            ws,
            email_template(ws),
            include_segment_ids=[pro.pk],
            schedule="local",
            local_date="2030-03-10",
            local_time="10:00",
        )
    )
    due = {m.contact_id: m.due_at for m in messages_of(b)}
    assert due[kiri.pk] == dt.datetime(2030, 3, 9, 20, 0, tzinfo=UTC)
    assert due[pago.pk] == dt.datetime(2030, 3, 10, 21, 0, tzinfo=UTC)
    assert due[ny.pk] == dt.datetime(2030, 3, 10, 14, 0, tzinfo=UTC)  # first day of EDT
    assert due[none.pk] == dt.datetime(2030, 3, 10, 9, 0, tzinfo=UTC)  # Berlin, CET
    # Kiritimati reaches 10:00 first: the broadcast starts then, 25 hours before Pago Pago.
    assert b.first_due_at == due[kiri.pk]
    assert due[pago.pk] - due[kiri.pk] == dt.timedelta(hours=25)


def test_local_time_already_past_is_sent_now_not_dropped(ws):
    pro = segment(ws, "pro", "pro")
    ContactFactory.create(workspace=ws, attributes={"plan": "pro"}, time_zone="Asia/Tokyo")
    yesterday = (timezone.now() - dt.timedelta(days=1)).date()
    before = timezone.now()
    b = schedule_and_materialise(
        broadcast(
            ws,
            email_template(ws),
            include_segment_ids=[pro.pk],
            schedule="local",
            local_date=yesterday.isoformat(),
            local_time="10:00",
        )
    )
    assert before <= messages_of(b)[0].due_at <= timezone.now()


def test_throttle_spreads_due_times(ws):
    pro = segment(ws, "pro", "pro")
    contacts(ws, 10, attributes={"plan": "pro"})
    at = timezone.now() + dt.timedelta(hours=1)
    b = schedule_and_materialise(
        broadcast(
            ws,
            email_template(ws),
            include_segment_ids=[pro.pk],
            schedule="at",
            send_at=at.isoformat(),
            throttle_per_hour=120,
        )
    )
    dues = sorted(m.due_at for m in messages_of(b))
    assert dues[0] == at
    assert all(b2 - b1 == dt.timedelta(seconds=30) for b1, b2 in itertools.pairwise(dues))
    assert dues[-1] == at + dt.timedelta(seconds=270)


def test_throttle_keeps_later_base_times_and_never_bunches():
    t0 = dt.datetime(2030, 1, 1, tzinfo=UTC)
    base = [t0, t0, t0, t0 + dt.timedelta(hours=2)]
    assert throttled(base, 3600) == [
        t0,
        t0 + dt.timedelta(seconds=1),
        t0 + dt.timedelta(seconds=2),
        t0 + dt.timedelta(hours=2),
    ]
    assert throttled(base, None) == base


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


def test_contacts_not_in_the_audience_are_untouched(ws):
    pro = segment(ws, "pro", "pro")
    ContactFactory.create(workspace=ws, attributes={"plan": "free"})
    b = schedule_and_materialise(broadcast(ws, email_template(ws), include_segment_ids=[pro.pk]))
    assert messages_of(b) == [] and b.recipient_count == 0
    assert Contact.objects.filter(workspace=ws).count() == 1
