"""The set-based plan (campaigns/broadcasts/plan.py) against the Python planner it
replaced (reference_plan.py): on a mixed audience (zones of their own, phone regions,
unknown zones, the workspace's), an A/B test with a test pool and a best-time arm, a
throttle whose interval is not a whole number of microseconds, then the winner's
remainder: every contact gets the same arm, template, subject and due time to the
microsecond."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.db import connection
from django.utils import timezone

from campaigns.broadcasts.delivery import broadcast_materialise
from campaigns.broadcasts.services import broadcast_schedule
from campaigns.models import Broadcast
from contacts.models import Contact
from messaging.models import Message
from tests.campaigns.broadcasts.helpers import broadcast, segment
from tests.campaigns.broadcasts.reference_plan import reference_plan
from tests.messaging.helpers import ACTOR, email_template

pytestmark = pytest.mark.django_db

ZONES = ["Pacific/Kiritimati", "America/New_York", "", "Not/AZone", "Asia/Tokyo", "Europe/London"]
# Auckland, San Francisco, toll-free (no single zone), none.
PHONE_PREFIXES = ["+6493001", "+1415555", "+1800555", ""]


def phone(i: int) -> str | None:
    prefix = PHONE_PREFIXES[i % len(PHONE_PREFIXES)]
    return f"{prefix}{i:03d}" if prefix else None


def mixed_audience(ws) -> list[Contact]:
    ws.time_zone = "Europe/Berlin"
    ws.save(update_fields=["time_zone"])
    rows = [
        Contact(
            workspace=ws,
            email=f"m{i}@example.com",
            attributes={"plan": "pro" if i % 7 else "free"},
            time_zone=ZONES[i % len(ZONES)],
            phone=phone(i),
        )
        for i in range(420)
    ]
    people = Contact.objects.bulk_create(rows)
    # Engagement history (opens at a contact's own hours) so best times differ.
    template = email_template(ws, name="History")
    base = timezone.now() - dt.timedelta(days=20)
    Message.objects.bulk_create(
        Message(
            workspace=ws,
            contact=person,
            channel="email",
            template=template,
            idempotency_key=f"history:{person.pk}:{k}",
            status="sent",
            opened_at=base + dt.timedelta(days=k, hours=(person.pk * 5) % 24),
        )
        for person in people[::3]
        for k in range(3)
    )
    return people


def as_rows(plan) -> dict[int, tuple]:
    return {p.contact_id: (p.due_at, p.variant_id, p.template_id, p.subject) for p in plan}


def outbox(b: Broadcast, exclude: frozenset[int] = frozenset()) -> dict[int | None, tuple]:
    return {
        m.contact_id: (m.due_at, m.variant_id, m.template_id, m.subject)
        for m in b.messages.all()
        if m.contact_id not in exclude
    }


def test_set_based_plan_equals_the_python_planner_on_a_mixed_audience(ws, monkeypatch, settings):
    monkeypatch.setattr("campaigns.broadcasts.experiment.enqueue_on_commit", lambda *a: None)
    settings.CAMPAIGNS_BROADCAST_CHUNK = 37  # many chunks, not a divisor of anything
    mixed_audience(ws)
    pro = segment(ws, "pro", "pro")
    b = broadcast(
        ws,
        email_template(ws),
        include_segment_ids=[pro.pk],
        schedule="local",
        local_date=(timezone.now() + dt.timedelta(days=3)).date().isoformat(),
        local_time="10:00",
        throttle_per_hour=7,  # 514.285714… s: rounded to the microsecond once
        test_pool_percent=30,
        variants=[
            {
                "label": "A",
                "template_id": email_template(ws, name="A").pk,
                "weight": 1,
                "is_default": True,
            },
            {
                "label": "B",
                "template_id": email_template(ws, name="B").pk,
                "weight": 2,
                "best_time": True,
                "subject": "Hi {{ first_name }}",
            },
        ],
    )
    broadcast_schedule(broadcast=b, actor=ACTOR)
    now = timezone.now()
    expected = as_rows(reference_plan(b, now=now))
    broadcast_materialise(broadcast_id=b.pk, now=now)
    b.refresh_from_db()
    assert len(expected) == 108  # 30% of the 360 pro contacts
    assert outbox(b) == expected
    assert {v for _, v, _, _ in expected.values()} == set(b.variants.values_list("pk", flat=True))
    assert b.winner_due_at == max(d for d, *_ in expected.values()) + dt.timedelta(
        hours=b.winner_wait_hours
    )

    # The winner (the best-time arm) goes to the rest, throttled over the whole audience
    # as before; those already in the outbox keep their message.
    first = set(expected)
    Broadcast.objects.filter(pk=b.pk).update(
        winner_variant=b.variants.get(label="B"), materialised_at=None
    )
    b.refresh_from_db()
    later = now + dt.timedelta(hours=25)
    rest = {k: v for k, v in as_rows(reference_plan(b, now=later)).items() if k not in first}
    broadcast_materialise(broadcast_id=b.pk, now=later)
    assert len(rest) == 252
    assert outbox(b, exclude=frozenset(first)) == rest


def test_best_schedule_and_a_throttle_across_chunks_match(ws, settings):
    settings.CAMPAIGNS_BROADCAST_CHUNK = 50
    mixed_audience(ws)
    pro = segment(ws, "pro", "pro")
    b = broadcast(
        ws,
        email_template(ws),
        include_segment_ids=[pro.pk],
        schedule="best",
        throttle_per_hour=3600,
    )
    broadcast_schedule(broadcast=b, actor=ACTOR)
    now = timezone.now()
    expected = as_rows(reference_plan(b, now=now))
    broadcast_materialise(broadcast_id=b.pk, now=now)
    assert len(expected) == 360
    assert outbox(b) == expected
    dues = sorted(d for d, *_ in expected.values())
    assert all(b - a >= dt.timedelta(seconds=1) for a, b in itertools.pairwise(dues))


def test_the_planners_query_settings_do_not_outlive_it(ws):
    # Materialising inside a caller's transaction (demo data, tests) must not leave
    # nested loops off for the rest of that transaction.
    pro = segment(ws, "pro", "pro")
    b = broadcast(ws, email_template(ws), include_segment_ids=[pro.pk])
    broadcast_schedule(broadcast=b, actor=ACTOR)
    settings_sql = "SELECT current_setting('enable_nestloop'), current_setting('work_mem')"
    with connection.cursor() as cursor:
        cursor.execute(settings_sql)
        before = cursor.fetchone()  # the server's own (the embedded one sets work_mem)
    broadcast_materialise(broadcast_id=b.pk)
    with connection.cursor() as cursor:
        cursor.execute(settings_sql)
        assert cursor.fetchone() == before
    assert before[0] == "on" and before[1] != "64MB"  # the planner's values differ
