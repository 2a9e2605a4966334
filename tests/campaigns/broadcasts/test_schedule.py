"""When a broadcast's messages are due: at an instant, at a local time in each
contact's zone (DST, extreme zones), throttled."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.utils import timezone

from campaigns.broadcasts.audience import throttled
from contacts.zones import local_instant
from tests.campaigns.broadcasts.helpers import (
    broadcast,
    contacts,
    messages_of,
    schedule_and_materialise,
    segment,
)
from tests.factories import ContactFactory
from tests.messaging.helpers import email_template

pytestmark = pytest.mark.django_db

UTC = dt.UTC
PRO = {"plan": "pro"}


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
