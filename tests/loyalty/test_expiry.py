"""Expiry by inactivity: a balance expires whole at the midnight, in the contact's time
zone, that ends the day N months after its last earn or redemption; a reminder fires
R days before, once per cycle."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterator

import pytest
from django.db import transaction

from config.errors import InvalidInput
from loyalty import hooks
from loyalty.models import EntryKind, LedgerEntry, PointsBalance, SourceKind
from loyalty.services import balance_lock, entry_append, points_expire, points_expire_due
from loyalty.services.expiry import add_months
from tests.factories import ContactFactory
from tests.loyalty.helpers import balance, programme

pytestmark = pytest.mark.django_db

TOKYO = zoneinfo.ZoneInfo("Asia/Tokyo")
UTC = dt.UTC
# 23:30 UTC on 10 March is 08:30 on 11 March in Tokyo: the day that counts is the 11th.
ACTIVITY = dt.datetime(2026, 3, 10, 23, 30, tzinfo=UTC)
EXPIRES = dt.datetime(2027, 3, 12, 0, 0, tzinfo=TOKYO)  # the end of 11 March 2027, Tokyo


@pytest.fixture
def news() -> Iterator[list[hooks.LoyaltyNews]]:
    seen: list[hooks.LoyaltyNews] = []

    def collect(batch):
        seen.extend(batch)

    hooks.on_loyalty_news(collect)
    yield seen
    hooks._hooks.remove(collect)


def _earn(contact, points: int, at: dt.datetime, key: str) -> None:
    with transaction.atomic():
        entry_append(
            balance=balance_lock(workspace_id=contact.workspace_id, contact_id=contact.pk),
            kind=EntryKind.EARN,
            points=points,
            idempotency_key=key,
            source_kind=SourceKind.EVENT,
            occurred_at=at,
        )


def _setup(ws, **settings):
    """A programme whose expiry has been on since before the activities below."""
    ws.time_zone = "UTC"
    ws.save(update_fields=["time_zone"])
    prog = programme(ws, expiry_months=12, **settings)
    prog.expiry_from = dt.datetime(2025, 1, 1, tzinfo=UTC)
    prog.save(update_fields=["expiry_from"])
    return prog


def test_expires_exactly_at_midnight_in_the_contacts_zone(ws):
    prog = _setup(ws)
    contact = ContactFactory.create(workspace=ws, time_zone="Asia/Tokyo")
    _earn(contact, 120, ACTIVITY, "a")
    # Midnight of the workspace's zone (UTC) has passed; the contact's has not.
    assert points_expire(programme=prog, now=dt.datetime(2027, 3, 11, 0, 0, tzinfo=UTC)) == (0, 0)
    assert points_expire(programme=prog, now=EXPIRES - dt.timedelta(seconds=1)) == (0, 0)
    assert balance(contact) == 120
    assert points_expire(programme=prog, now=EXPIRES) == (1, 0)
    assert balance(contact) == 0
    entry = LedgerEntry.objects.get(contact=contact, kind=EntryKind.EXPIRE)
    assert entry.points == -120
    assert entry.occurred_at == EXPIRES
    assert entry.idempotency_key == f"expire:{contact.pk}:2026-03-11"
    # A second run (beat's next hour) writes nothing.
    assert points_expire(programme=prog, now=EXPIRES + dt.timedelta(hours=1)) == (0, 0)
    assert LedgerEntry.objects.filter(contact=contact, kind=EntryKind.EXPIRE).count() == 1


def test_the_workspace_zone_counts_for_a_contact_without_one(ws):
    prog = _setup(ws)
    ws.time_zone = "America/New_York"
    ws.save(update_fields=["time_zone"])
    prog.workspace.refresh_from_db()
    contact = ContactFactory.create(workspace=ws, time_zone="")
    _earn(contact, 10, ACTIVITY, "a")  # 18:30 on 10 March in New York
    boundary = dt.datetime(2027, 3, 11, 0, 0, tzinfo=zoneinfo.ZoneInfo("America/New_York"))
    assert points_expire(programme=prog, now=boundary - dt.timedelta(microseconds=1)) == (0, 0)
    assert points_expire(programme=prog, now=boundary) == (1, 0)


def test_earning_or_redeeming_starts_the_period_again_and_adjustments_do_not(ws):
    prog = _setup(ws)
    contact = ContactFactory.create(workspace=ws, time_zone="Asia/Tokyo")
    _earn(contact, 50, ACTIVITY, "a")
    with transaction.atomic():
        entry_append(
            balance=balance_lock(workspace_id=ws.pk, contact_id=contact.pk),
            kind=EntryKind.ADJUST,
            points=5,
            idempotency_key="adj",
            source_kind=SourceKind.USER,
            occurred_at=ACTIVITY + dt.timedelta(days=200),
        )
    _earn(contact, 1, ACTIVITY + dt.timedelta(days=100), "b")
    assert points_expire(programme=prog, now=EXPIRES) == (0, 0)
    later = dt.datetime(2027, 6, 20, 0, 0, tzinfo=TOKYO)  # 100 days on: 19 June + 12 months
    assert points_expire(programme=prog, now=later - dt.timedelta(seconds=1)) == (0, 0)
    assert points_expire(programme=prog, now=later) == (1, 0)
    assert balance(contact) == 0


def test_month_end_is_clamped(ws):
    prog = _setup(ws)
    prog.expiry_months = 1
    prog.save(update_fields=["expiry_months"])
    contact = ContactFactory.create(workspace=ws, time_zone="UTC")
    _earn(contact, 10, dt.datetime(2027, 1, 31, 12, 0, tzinfo=UTC), "a")
    end_of_feb = dt.datetime(2027, 3, 1, 0, 0, tzinfo=UTC)
    assert points_expire(programme=prog, now=end_of_feb - dt.timedelta(seconds=1)) == (0, 0)
    assert points_expire(programme=prog, now=end_of_feb) == (1, 0)


def test_reminder_fires_once_per_cycle_before_the_boundary(ws, news):
    prog = _setup(ws, expiry_reminder_days=7)
    contact = ContactFactory.create(workspace=ws, time_zone="Asia/Tokyo")
    _earn(contact, 80, ACTIVITY, "a")
    remind = EXPIRES - dt.timedelta(days=7)
    assert points_expire(programme=prog, now=remind - dt.timedelta(seconds=1)) == (0, 0)
    assert news == []
    assert points_expire(programme=prog, now=remind) == (0, 1)
    assert points_expire(programme=prog, now=remind + dt.timedelta(days=1)) == (0, 0)
    assert [(n.kind, n.contact_id, n.points, n.expires_at) for n in news] == [
        (hooks.POINTS_EXPIRING, contact.pk, 80, EXPIRES)
    ]
    assert news[0].key == f"expiring:{contact.pk}:2026-03-11"
    # A new activity is a new cycle, with its own reminder.
    _earn(contact, 1, ACTIVITY + dt.timedelta(days=300), "b")
    assert points_expire(programme=prog, now=remind + dt.timedelta(days=2)) == (0, 0)
    next_remind = dt.datetime(2028, 1, 6, 0, 0, tzinfo=TOKYO) - dt.timedelta(days=7)
    assert points_expire(programme=prog, now=next_remind) == (0, 1)
    assert len(news) == 2 and news[1].key.endswith(":2027-01-05")


def test_no_expiry_setting_means_never_and_the_beat_task_covers_workspaces(ws):
    prog = programme(ws)
    contact = ContactFactory.create(workspace=ws, time_zone="UTC")
    _earn(contact, 10, ACTIVITY, "a")
    far = dt.datetime(2040, 1, 1, tzinfo=UTC)
    assert points_expire(programme=prog, now=far) == (0, 0)
    assert points_expire_due(now=far) == (0, 0)
    _setup(ws)
    assert points_expire_due(now=far) == (1, 0)
    assert PointsBalance.objects.get(contact=contact).balance == 0


def test_switching_expiry_on_counts_inactivity_from_then(ws, news):
    prog = programme(ws, expiry_months=6, expiry_reminder_days=7)
    switched = prog.expiry_from
    assert switched is not None
    contact = ContactFactory.create(workspace=ws, time_zone="UTC")
    _earn(contact, 30, switched - dt.timedelta(days=900), "long-ago")
    # Years inactive, but the six months run from the switch: nothing now, a reminder
    # a week before, the expiry at the end of the day six months on.
    assert points_expire(programme=prog, now=switched + dt.timedelta(minutes=1)) == (0, 0)
    end = dt.datetime.combine(
        add_months(switched.astimezone(UTC).date(), 6) + dt.timedelta(days=1), dt.time(), UTC
    )
    assert points_expire(programme=prog, now=end - dt.timedelta(days=7)) == (0, 1)
    assert points_expire(programme=prog, now=end - dt.timedelta(seconds=1)) == (0, 0)
    assert points_expire(programme=prog, now=end) == (1, 0)
    assert news[0].expires_at == end
    # Switching it off and on again starts from the new switch.
    programme(ws, expiry_months=None)
    again = programme(ws, expiry_months=6).expiry_from
    assert again is not None and again > switched


def test_expiry_settings_are_checked(ws):
    with pytest.raises(InvalidInput) as caught:
        programme(ws, expiry_months=0, expiry_reminder_days="7", tier_grace_days=-1)
    assert set(caught.value.fields) == {"expiry_months", "expiry_reminder_days", "tier_grace_days"}
    with pytest.raises(InvalidInput) as caught:
        programme(ws, expiry_months=1, expiry_reminder_days=40)
    assert "expiry_reminder_days" in caught.value.fields
