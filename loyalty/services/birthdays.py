"""Birthday points: on a member's birthday the programme records a `birthday` event for
it, which earns what `event_points` gives `birthday` through the usual earning (tier
multipliers, windows and the daily cap included), and which journeys and rules see
like any other event.

1. For each programme that is on and gives `birthday` points: today's date in the
   workspace's time zone, and the contacts whose `birthday_attribute` ("YYYY-MM-DD",
   compared as text so that a malformed value never matches and never fails the
   run) falls on today's month and day; on 28 February of a year without a 29th,
   the 29 February birthdays too.
2. Their events go through `events_ingest` in batches, each keyed
   `birthday:<contact>:<year>`: beat runs this hourly (a workspace's day starts at a
   different hour in each zone), and a second run, or one after a crash, records
   nothing twice; so neither does the earning, keyed by the event."""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo

from django.db import connection
from django.utils import timezone

from contacts.services.events import events_ingest
from loyalty.models import Programme

logger = logging.getLogger(__name__)
BATCH = 1000
EVENT = "birthday"

_TODAY_SQL = """
SELECT id FROM contacts_contact
WHERE workspace_id = %(ws)s AND id > %(after)s
  AND attributes ->> %(attr)s ~ '^\\d{4}-\\d{2}-\\d{2}'
  AND substring(attributes ->> %(attr)s from 5 for 6) = ANY(%(mmdd)s)
ORDER BY id LIMIT %(limit)s
"""


def _month_days(today: dt.date) -> list[str]:
    days = [today.strftime("-%m-%d")]
    if (today.month, today.day) == (2, 28):
        try:
            today.replace(day=29)
        except ValueError:  # no 29 February this year: those birthdays are today
            days.append("-02-29")
    return days


def birthdays_record(*, programme: Programme, now: dt.datetime | None = None) -> int:
    """Record today's birthday events of the programme's workspace; returns how many
    were new."""
    now = now or timezone.now()
    workspace = programme.workspace
    today = now.astimezone(zoneinfo.ZoneInfo(workspace.time_zone or "UTC")).date()
    recorded, after = 0, 0
    while True:
        with connection.cursor() as cursor:
            cursor.execute(
                _TODAY_SQL,
                {
                    "ws": workspace.pk,
                    "after": after,
                    "attr": programme.birthday_attribute,
                    "mmdd": _month_days(today),
                    "limit": BATCH,
                },
            )
            ids = [row[0] for row in cursor.fetchall()]
        if not ids:
            return recorded
        result = events_ingest(
            workspace=workspace,
            items=[
                {
                    "contact": {"id": contact_id},
                    "name": EVENT,
                    "occurred_at": now.isoformat(),
                    "idempotency_key": f"{EVENT}:{contact_id}:{today.year}",
                }
                for contact_id in ids
            ],
        )
        if result.errors:  # a contact erased since the read: the others are kept
            logger.warning(
                "loyalty.birthdays_rejected workspace=%s errors=%s",
                workspace.pk,
                result.errors[:3],
            )
        recorded += result.accepted - result.duplicates
        after = ids[-1]


def birthdays_record_due(*, now: dt.datetime | None = None) -> int:
    """Every programme that is on and gives birthday points (beat, hourly)."""
    programmes = Programme.objects.filter(enabled=True, event_points__has_key=EVENT)
    return sum(
        birthdays_record(programme=programme, now=now)
        for programme in programmes.select_related("workspace").order_by("pk")
    )
