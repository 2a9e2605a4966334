"""The time zone a contact's local times are read in: its own, else its phone number's
region when that has a single zone, else the workspace's (`contact_zone`)."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from contacts.models import Contact
from contacts.zones import contact_zone
from messaging.models import Message
from messaging.services import message_enqueue
from messaging.services.pressure import hold_backs
from tests.factories import ContactFactory
from tests.messaging.helpers import sms_template

UTC = dt.UTC
AUCKLAND = zoneinfo.ZoneInfo("Pacific/Auckland")


def test_contact_zone_prefers_own_zone_then_single_zone_phone_region_then_workspace():
    assert contact_zone("Asia/Tokyo", "+6493001234", "Europe/London") == "Asia/Tokyo"
    assert contact_zone("", "+6493001234", "Europe/London") == "Pacific/Auckland"
    assert contact_zone("Not/AZone", "+6493001234", "Europe/London") == "Pacific/Auckland"
    # Toll-free North American numbers (and NZ mobiles: Auckland or Chatham) are ambiguous.
    assert contact_zone("", "+18005550100", "Europe/London") == "Europe/London"
    assert contact_zone("", "+6421234567", "Europe/London") == "Europe/London"
    assert contact_zone("", "+1234", "Europe/London") == "Europe/London"
    assert contact_zone("", None, "Not/AZone") == "UTC"


@pytest.mark.django_db
def test_quiet_hours_use_the_phone_region_of_a_contact_without_a_zone(ws, settings):
    settings.CAMPAIGNS_SMS_QUIET_HOURS = "21:00-08:00"
    ws.time_zone = "Europe/London"
    ws.save(update_fields=["time_zone"])
    template = sms_template(ws)
    kiwi = ContactFactory.create(workspace=ws, phone="+6493001234", sms_status="subscribed")
    tollfree = ContactFactory.create(workspace=ws, phone="+18005550100", sms_status="subscribed")
    ids = [
        message_enqueue(contact=c, template=template, idempotency_key=f"q{c.pk}").message.pk
        for c in (kiwi, tollfree)
    ]
    messages = list(Message.objects.filter(pk__in=ids).select_related("contact", "workspace"))
    # 23:00 in Auckland (NZDT), 10:00 in London: quiet for one, not the other.
    now = dt.datetime(2030, 1, 15, 10, 0, tzinfo=UTC)
    holds = hold_backs(messages, now=now)
    [kiwi_message] = [m for m in messages if m.contact_id == kiwi.pk]
    assert set(holds) == {kiwi_message.pk}
    hold = holds[kiwi_message.pk]
    assert hold.reason == "deferred: quiet hours 21:00-08:00 (Pacific/Auckland)"
    assert hold.defer_to == dt.datetime(2030, 1, 16, 8, 0, tzinfo=AUCKLAND).astimezone(UTC)
    # With a zone of its own the phone is not consulted.
    Contact.objects.filter(pk=kiwi.pk).update(time_zone="Europe/London")
    messages = list(Message.objects.filter(pk__in=ids).select_related("contact", "workspace"))
    assert hold_backs(messages, now=now) == {}
