"""Contact pressure in the send path: frequency caps (defer or skip, transactional
bypass) and quiet hours in the contact's local time."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from messaging.models import Message
from messaging.services import message_enqueue
from messaging.services.claims import messages_claim
from messaging.services.dispatch import messages_send
from messaging.services.pressure import quiet_until
from tests.factories import ContactFactory, SendingPolicyFactory
from tests.messaging.helpers import email_template, enqueue, sms_template

pytestmark = pytest.mark.django_db
UTC = dt.UTC
NIGHT = (dt.time(21, 0), dt.time(8, 0))


def run_once() -> dict[str, int]:
    return messages_send(claims=messages_claim(limit=1000))


def sent_earlier(contact, template, count: int, *, ago: dt.timedelta, prefix: str) -> None:
    for i in range(count):
        message = message_enqueue(
            contact=contact, template=template, idempotency_key=f"{prefix}{i}"
        )
        Message.objects.filter(pk=message.message.pk).update(
            status="sent", sent_at=timezone.now() - ago - dt.timedelta(minutes=i)
        )


def test_cap_defers_to_when_the_oldest_send_leaves_the_window(ws):
    SendingPolicyFactory.create(workspace=ws, channel="email", cap_messages=3, cap_period_hours=168)
    template = email_template(ws)
    contact = ContactFactory.create(workspace=ws)
    sent_earlier(contact, template, 3, ago=dt.timedelta(days=2), prefix="old")
    [mid] = enqueue([contact], template, prefix="new")
    counts = run_once()
    assert counts["deferred"] == 1 and counts["sent"] == 0
    message = Message.objects.get(pk=mid)
    assert message.status == "scheduled"
    assert message.status_reason == "deferred: frequency cap: 3 email per 168 h"
    oldest = Message.objects.filter(idempotency_key="old2").get().sent_at
    assert oldest is not None
    assert message.due_at == oldest + dt.timedelta(days=7)


def test_cap_skip_policy_suppresses_with_the_reason(ws):
    SendingPolicyFactory.create(
        workspace=ws, channel="email", cap_messages=1, cap_period_hours=24, cap_policy="skip"
    )
    template = email_template(ws)
    contact = ContactFactory.create(workspace=ws)
    sent_earlier(contact, template, 1, ago=dt.timedelta(hours=1), prefix="old")
    [mid] = enqueue([contact], template, prefix="new")
    assert run_once()["suppressed"] == 1
    message = Message.objects.get(pk=mid)
    assert (message.status, message.status_reason) == (
        "suppressed",
        "skipped: frequency cap: 1 email per 24 h",
    )


def test_sends_outside_the_window_and_other_channels_do_not_count(ws):
    SendingPolicyFactory.create(workspace=ws, channel="email", cap_messages=1, cap_period_hours=24)
    template = email_template(ws)
    contact = ContactFactory.create(workspace=ws)
    sent_earlier(contact, template, 2, ago=dt.timedelta(hours=30), prefix="old")
    enqueue([contact], template, prefix="new")
    assert run_once()["sent"] == 1


def test_cap_counts_messages_in_the_same_batch(ws):
    SendingPolicyFactory.create(workspace=ws, channel="email", cap_messages=2, cap_period_hours=24)
    template = email_template(ws)
    contact = ContactFactory.create(workspace=ws)
    ids = [
        message_enqueue(contact=contact, template=template, idempotency_key=f"k{i}").message.pk
        for i in range(3)
    ]
    counts = run_once()
    assert counts["sent"] == 2 and counts["deferred"] == 1
    assert Message.objects.get(pk=ids[2]).status == "scheduled"


def test_transactional_and_test_messages_bypass_caps_and_quiet_hours(ws):
    SendingPolicyFactory.create(workspace=ws, channel="email", cap_messages=0, cap_policy="skip")
    template = email_template(ws)
    contact = ContactFactory.create(workspace=ws)
    receipt = message_enqueue(
        contact=contact, template=template, idempotency_key="receipt", transactional=True
    ).message
    marketing = message_enqueue(contact=contact, template=template, idempotency_key="promo").message
    counts = run_once()
    assert counts["sent"] == 1 and counts["suppressed"] == 1
    assert Message.objects.get(pk=receipt.pk).status == "sent"
    assert Message.objects.get(pk=marketing.pk).status == "suppressed"


def test_sms_quiet_hours_defer_to_the_next_morning_in_the_contacts_zone(ws, settings):
    settings.CAMPAIGNS_SMS_QUIET_HOURS = "00:00-23:59"  # the default policy, always quiet
    contact = ContactFactory.create(
        workspace=ws, phone="+14155550100", sms_status="subscribed", time_zone="Asia/Tokyo"
    )
    [mid] = enqueue([contact], sms_template(ws))
    counts = run_once()
    assert counts["deferred"] == 1 and counts["sent"] == 0
    message = Message.objects.get(pk=mid)
    assert message.status == "scheduled"
    assert message.status_reason == "deferred: quiet hours 00:00-23:59 (Asia/Tokyo)"
    local = message.due_at.astimezone(dt.timezone(dt.timedelta(hours=9)))
    assert local.time() == dt.time(23, 59)
    # Email has no quiet hours by default.
    email_contact = ContactFactory.create(workspace=ws, time_zone="Asia/Tokyo")
    enqueue([email_contact], email_template(ws), prefix="e")
    assert run_once()["sent"] == 1


def test_quiet_hours_policy_row_and_workspace_zone_fallback(ws):
    ws.time_zone = "America/Los_Angeles"
    ws.save(update_fields=["time_zone"])
    SendingPolicyFactory.create(
        workspace=ws,
        channel="email",
        quiet_hours_enabled=True,
        quiet_start=dt.time(0, 0),
        quiet_end=dt.time(23, 59),
    )
    contact = ContactFactory.create(workspace=ws)  # no zone of its own
    [mid] = enqueue([contact], email_template(ws))
    assert run_once()["deferred"] == 1
    assert "(America/Los_Angeles)" in Message.objects.get(pk=mid).status_reason


@pytest.mark.parametrize(
    ("now", "zone", "expected"),
    [
        # 23:00 in New York (EST): quiet until 08:00 the next day.
        (
            dt.datetime(2030, 1, 16, 4, 0, tzinfo=UTC),
            "America/New_York",
            dt.datetime(2030, 1, 16, 13, 0, tzinfo=UTC),
        ),
        # 06:00 New York: quiet until 08:00 the same day.
        (
            dt.datetime(2030, 1, 16, 11, 0, tzinfo=UTC),
            "America/New_York",
            dt.datetime(2030, 1, 16, 13, 0, tzinfo=UTC),
        ),
        # 12:00 New York: allowed.
        (dt.datetime(2030, 1, 16, 17, 0, tzinfo=UTC), "America/New_York", None),
        # The night of the spring change: 22:00 EST on 9 March, 08:00 is EDT (UTC-4).
        (
            dt.datetime(2030, 3, 10, 3, 0, tzinfo=UTC),
            "America/New_York",
            dt.datetime(2030, 3, 10, 12, 0, tzinfo=UTC),
        ),
        # Kiritimati (UTC+14): 22:00 on 1 July there.
        (
            dt.datetime(2030, 7, 1, 8, 0, tzinfo=UTC),
            "Pacific/Kiritimati",
            dt.datetime(2030, 7, 1, 18, 0, tzinfo=UTC),
        ),
        # Pago Pago (UTC-11): 21:30 on 30 June there.
        (
            dt.datetime(2030, 7, 1, 8, 30, tzinfo=UTC),
            "Pacific/Pago_Pago",
            dt.datetime(2030, 7, 1, 19, 0, tzinfo=UTC),
        ),
    ],
)
def test_quiet_until(now, zone, expected):
    assert quiet_until(now, NIGHT, zone) == expected


def test_quiet_window_within_one_day():
    day = (dt.time(12, 0), dt.time(14, 0))
    assert quiet_until(dt.datetime(2030, 1, 1, 13, 0, tzinfo=UTC), day, "UTC") == dt.datetime(
        2030, 1, 1, 14, 0, tzinfo=UTC
    )
    assert quiet_until(dt.datetime(2030, 1, 1, 15, 0, tzinfo=UTC), day, "UTC") is None
