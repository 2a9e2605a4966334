"""Send-time optimisation (campaigns/send_time.py), the `best` broadcast
schedule, A/B tests of send time, and the phone-region time-zone fallback."""

from __future__ import annotations

import datetime as dt
import itertools
import zoneinfo

import pytest
from django.utils import timezone

from campaigns.models import BroadcastVariant
from campaigns.send_time import best_send_times
from config.errors import InvalidInput
from contacts.models import Contact
from messaging.models import Message
from messaging.services import message_enqueue
from messaging.services.tracking import tracking_record_open
from tests.campaigns.broadcasts.helpers import broadcast, messages_of, schedule_and_materialise
from tests.campaigns.broadcasts.helpers import segment as make_segment
from tests.factories import ContactFactory
from tests.messaging.helpers import email_template, sms_template
from workspaces.models import Workspace

pytestmark = pytest.mark.django_db

UTC = dt.UTC
AUCKLAND = zoneinfo.ZoneInfo("Pacific/Auckland")
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
_keys = itertools.count()


def engaged(contact: Contact, moments: list[dt.datetime], *, kind: str = "click") -> None:
    """Past messages the contact opened or clicked at these instants."""
    rows = []
    for at in moments:
        rows.append(
            Message(
                workspace_id=contact.workspace_id,
                contact=contact,
                channel="email",
                idempotency_key=f"past:{next(_keys)}",
                status="sent",
                sent_at=at - dt.timedelta(minutes=5),
                opened_at=at,
                clicked_at=at if kind == "click" else None,
            )
        )
    Message.objects.bulk_create(rows)


def past_weekdays(zone: zoneinfo.ZoneInfo, weekday: int, at: dt.time, n: int) -> list[dt.datetime]:
    """The last `n` days with this weekday (0 = Monday) before today, at this local
    time, as aware datetimes in `zone`."""
    day = timezone.now().astimezone(zone).date() - dt.timedelta(days=1)
    out: list[dt.datetime] = []
    while len(out) < n:
        if day.weekday() == weekday:
            out.append(dt.datetime.combine(day, at, tzinfo=zone))
        day -= dt.timedelta(days=1)
    return out


def next_weekday(zone: zoneinfo.ZoneInfo, weekday: int, at: dt.time) -> dt.datetime:
    day = timezone.now().astimezone(zone).date() + dt.timedelta(days=1)
    while day.weekday() != weekday:
        day += dt.timedelta(days=1)
    return dt.datetime.combine(day, at, tzinfo=zone)


def set_zone(ws: Workspace, name: str) -> None:
    ws.time_zone = name
    ws.save(update_fields=["time_zone"])


def test_a_tuesday_evening_clicker_in_auckland_gets_tuesday_1900_auckland(ws):
    set_zone(ws, "Europe/London")
    clicker = ContactFactory.create(workspace=ws, time_zone="Pacific/Auckland")
    engaged(clicker, past_weekdays(AUCKLAND, 1, dt.time(19, 0), 6))
    # The rest of the workspace engages mornings: the prior points elsewhere.
    crowd = ContactFactory.create(workspace=ws, time_zone="Pacific/Auckland")
    engaged(crowd, past_weekdays(AUCKLAND, 1, dt.time(9, 0), 10))
    tuesday_morning = next_weekday(AUCKLAND, 1, dt.time(8, 0))

    best = best_send_times(workspace=ws, contacts=[clicker.pk, crowd.pk], after=tuesday_morning)

    assert best[clicker.pk] == tuesday_morning.replace(hour=19).astimezone(UTC)
    assert best[crowd.pk] == tuesday_morning.replace(hour=9).astimezone(UTC)
    # Wednesday-to-Thursday holds no Tuesday 19:00: the workspace's best hour it is.
    wednesday = tuesday_morning + dt.timedelta(days=1)
    later = best_send_times(workspace=ws, contacts=[clicker.pk], after=wednesday)
    # ... and no one engaged on Wednesdays or Thursdays either: 10:00 by default.
    assert later[clicker.pk] == wednesday.replace(hour=10).astimezone(UTC)


def test_one_stray_open_does_not_outweigh_the_workspace_prior(ws):
    set_zone(ws, "Pacific/Auckland")
    crowd = ContactFactory.create(workspace=ws)
    engaged(crowd, past_weekdays(AUCKLAND, 2, dt.time(12, 0), 20))
    once = ContactFactory.create(workspace=ws)
    engaged(once, past_weekdays(AUCKLAND, 2, dt.time(3, 0), 1), kind="open")
    wednesday = next_weekday(AUCKLAND, 2, dt.time(0, 30))
    best = best_send_times(workspace=ws, contacts=[once.pk], after=wednesday)
    assert best[once.pk] == wednesday.replace(hour=12, minute=0).astimezone(UTC)


def test_a_contact_without_history_gets_the_workspace_best_hour_on_its_own_clock(ws):
    set_zone(ws, "Europe/Paris")
    paris = zoneinfo.ZoneInfo("Europe/Paris")
    for _ in range(3):
        regular = ContactFactory.create(workspace=ws)  # workspace zone: Paris
        engaged(regular, past_weekdays(paris, 3, dt.time(14, 0), 4))
    newcomer = ContactFactory.create(workspace=ws)
    new_yorker = ContactFactory.create(workspace=ws, time_zone="America/New_York")
    after = next_weekday(paris, 3, dt.time(1, 0))  # Thursday 01:00 Paris

    best = best_send_times(
        workspace=ws,
        contacts=Contact.objects.filter(pk__in=[newcomer.pk, new_yorker.pk]),
        after=after,
    )

    assert best[newcomer.pk] == after.replace(hour=14).astimezone(UTC)
    # Thursday 14:00 on a New York clock, which is within 24 h of Thursday 01:00 Paris.
    expected = dt.datetime.combine(after.date(), dt.time(14, 0), tzinfo=NEW_YORK)
    assert best[new_yorker.pk] == expected.astimezone(UTC)


def test_an_empty_workspace_sends_at_ten_local(ws):
    tokyo = zoneinfo.ZoneInfo("Asia/Tokyo")
    contact = ContactFactory.create(workspace=ws, time_zone="Asia/Tokyo")
    after = dt.datetime(2030, 6, 3, 15, 30, tzinfo=tokyo)
    best = best_send_times(workspace=ws, contacts=[contact.pk], after=after)
    assert best == {contact.pk: dt.datetime(2030, 6, 4, 10, 0, tzinfo=tokyo).astimezone(UTC)}
    # Other workspaces' contacts are not answered for.
    other = ContactFactory.create(time_zone="Asia/Tokyo")
    assert best_send_times(workspace=ws, contacts=[other.pk], after=after) == {}


def test_hour_of_week_is_local_wall_time_across_dst_changes(ws):
    """Sunday 09:00 New York is 13:00 UTC in summer and 14:00 in winter: the habit is
    one bucket, and the window crossing spring-forward lands on 09:00 EDT."""
    contact = ContactFactory.create(workspace=ws, time_zone="America/New_York")
    summer = [dt.datetime(2026, 7, d, 9, 0, tzinfo=NEW_YORK) for d in (5, 12, 19)]
    winter = [dt.datetime(2026, 1, d, 9, 0, tzinfo=NEW_YORK) for d in (4, 11, 18)]
    recent = [m for m in summer + winter if m > timezone.now() - dt.timedelta(days=365)]
    engaged(contact, recent or past_weekdays(NEW_YORK, 6, dt.time(9, 0), 6))
    # 2027-03-14: 02:00 EST jumps to 03:00 EDT.
    after = dt.datetime(2027, 3, 14, 0, 30, tzinfo=NEW_YORK)
    best = best_send_times(workspace=ws, contacts=[contact.pk], after=after)
    assert best[contact.pk] == dt.datetime(2027, 3, 14, 13, 0, tzinfo=UTC)
    # 2027-11-07: 01:00-01:59 happens twice; 01:00 is its first occurrence (EDT).
    night_owl = ContactFactory.create(workspace=ws, time_zone="America/New_York")
    engaged(night_owl, past_weekdays(NEW_YORK, 6, dt.time(1, 15), 8))
    after = dt.datetime(2027, 11, 6, 12, 0, tzinfo=NEW_YORK)
    best = best_send_times(workspace=ws, contacts=[night_owl.pk], after=after)
    assert best[night_owl.pk] == dt.datetime(2027, 11, 7, 5, 0, tzinfo=UTC)


def test_bot_opens_are_ignored(ws):
    set_zone(ws, "Pacific/Auckland")
    contact = ContactFactory.create(workspace=ws)
    now_local = timezone.now().astimezone(AUCKLAND)
    habit = 4 if (now_local.weekday(), now_local.hour) != (4, 20) else 5  # Friday 20:00
    engaged(contact, past_weekdays(AUCKLAND, habit, dt.time(20, 0), 2))
    # Five scanner opens right now, each on its own message.
    template = email_template(ws)
    for i in range(5):
        message = message_enqueue(contact=contact, template=template, idempotency_key=f"b{i}")
        Message.objects.filter(pk=message.message.pk).update(status="sent", sent_at=timezone.now())
        tracking_record_open(
            message=message.message,
            user_agent="Mozilla/5.0 (compatible; bingbot/2.0)",
            prefetch=False,
        )
    assert not Message.objects.filter(idempotency_key__startswith="b", opened_at__isnull=False)
    # A week-long window holds every hour of the week, the bots' one first.
    after = now_local.replace(minute=0, second=0, microsecond=0) + dt.timedelta(days=7)
    best = best_send_times(
        workspace=ws, contacts=[contact.pk], after=after, within=dt.timedelta(days=7)
    )
    local = best[contact.pk].astimezone(AUCKLAND)
    assert (local.weekday(), local.hour) == (habit, 20)


def test_broadcast_with_schedule_best_makes_messages_due_at_each_best_time(ws):
    set_zone(ws, "Europe/London")
    pro = make_segment(ws, "pro", "pro")
    auckland = ContactFactory.create(
        workspace=ws, time_zone="Pacific/Auckland", attributes={"plan": "pro"}
    )
    engaged(auckland, past_weekdays(AUCKLAND, 1, dt.time(19, 0), 4))
    new_yorker = ContactFactory.create(
        workspace=ws, time_zone="America/New_York", attributes={"plan": "pro"}
    )
    engaged(new_yorker, past_weekdays(NEW_YORK, 1, dt.time(7, 0), 4))
    send_at = next_weekday(AUCKLAND, 1, dt.time(8, 0))  # Monday afternoon in New York
    b = broadcast(
        ws,
        email_template(ws),
        include_segment_ids=[pro.pk],
        schedule="best",
        send_at=send_at.isoformat(),
    )
    b = schedule_and_materialise(b)
    due = {m.contact_id: m.due_at for m in messages_of(b)}
    assert due[auckland.pk] == send_at.replace(hour=19).astimezone(UTC)
    # Tuesday 07:00 New York is within 24 h of Tuesday 08:00 Auckland (Monday afternoon).
    tuesday_ny = (send_at.astimezone(NEW_YORK) + dt.timedelta(days=1)).replace(hour=7)
    assert due[new_yorker.pk] == tuesday_ny.astimezone(UTC)
    assert b.first_due_at == min(due.values())


def test_best_schedule_still_throttles_and_fixes_its_window_when_scheduled(ws):
    tokyo = zoneinfo.ZoneInfo("Asia/Tokyo")
    pro = make_segment(ws, "pro", "pro")
    for i in range(3):
        ContactFactory.create(
            workspace=ws, time_zone="Asia/Tokyo", attributes={"plan": "pro"}, email=f"t{i}@x.jp"
        )
    b = broadcast(
        ws, email_template(ws), include_segment_ids=[pro.pk], schedule="best", throttle_per_hour=2
    )
    b = schedule_and_materialise(b)
    assert b.send_at is not None and b.send_at == b.scheduled_at
    dues = sorted(m.due_at for m in messages_of(b))
    ten = dues[0].astimezone(tokyo)
    assert ten.hour == 10  # an empty workspace: 10:00 local (now, if it is 10:xx)
    # In the 10:xx hour itself: as soon as it is materialised (just after send_at).
    assert ten.minute == 0 or dt.timedelta(0) <= dues[0] - b.send_at < dt.timedelta(seconds=30)
    assert dues[1] - dues[0] == dt.timedelta(minutes=30)
    assert dues[2] - dues[1] == dt.timedelta(minutes=30)


def test_ab_test_of_best_time_against_a_fixed_time(ws):
    set_zone(ws, "Pacific/Auckland")
    pro = make_segment(ws, "pro", "pro")
    people = [
        ContactFactory.create(workspace=ws, attributes={"plan": "pro"}, email=f"p{i}@x.nz")
        for i in range(10)
    ]
    for person in people:
        engaged(person, past_weekdays(AUCKLAND, 1, dt.time(19, 0), 3))
    template = email_template(ws)
    send_at = next_weekday(AUCKLAND, 1, dt.time(8, 0))
    b = broadcast(
        ws,
        template,
        include_segment_ids=[pro.pk],
        schedule="at",
        send_at=send_at.isoformat(),
        variants=[
            {"label": "A", "template_id": template.pk, "is_default": True},
            {"label": "B", "template_id": template.pk, "best_time": True},
        ],
    )
    assert [v.best_time for v in BroadcastVariant.objects.filter(broadcast=b)] == [False, True]
    b = schedule_and_materialise(b)
    arms = {v.pk: v.label for v in b.variants.all()}
    by_arm: dict[str, set[dt.datetime]] = {"A": set(), "B": set()}
    for m in messages_of(b):
        assert m.variant_id is not None
        by_arm[arms[m.variant_id]].add(m.due_at)
    assert by_arm["A"] == {send_at.astimezone(UTC)}
    assert by_arm["B"] == {send_at.replace(hour=19).astimezone(UTC)}
    assert len(messages_of(b)) == 10


def test_best_time_on_a_variant_is_refused_when_the_schedule_is_best_already(ws):
    template = email_template(ws)
    with pytest.raises(InvalidInput) as error:
        broadcast(
            ws,
            template,
            schedule="best",
            variants=[
                {"label": "A", "template_id": template.pk, "is_default": True},
                {"label": "B", "template_id": template.pk, "best_time": True},
            ],
        )
    assert "variants" in (error.value.fields or {})


def test_local_time_broadcast_uses_the_phone_region(ws):
    set_zone(ws, "Europe/London")
    template = sms_template(ws)
    pro = make_segment(ws, "pro", "pro")
    kiwi = ContactFactory.create(
        workspace=ws, phone="+6493001234", sms_status="subscribed", attributes={"plan": "pro"}
    )
    american = ContactFactory.create(
        workspace=ws, phone="+18005550100", sms_status="subscribed", attributes={"plan": "pro"}
    )
    b = broadcast(
        ws,
        template,
        include_segment_ids=[pro.pk],
        schedule="local",
        local_date="2030-01-15",
        local_time="10:00",
    )
    due = {m.contact_id: m.due_at for m in messages_of(schedule_and_materialise(b))}
    assert due[kiwi.pk] == dt.datetime(2030, 1, 14, 21, 0, tzinfo=UTC)  # 10:00 NZDT
    assert due[american.pk] == dt.datetime(2030, 1, 15, 10, 0, tzinfo=UTC)  # London
