"""Points expiry by inactivity (docs/loyalty.md, "Expiry").

The policy: a contact's whole balance expires when it has neither earned nor redeemed
for `Programme.expiry_months` months. Precisely: with its last earn or redemption on
day D (in the contact's time zone, else the workspace's), the points expire at the
midnight that ends day D + N months (a day past the month's end is its last day:
31 January + 1 month is 28/29 February), in that zone. `expiry_reminder_days` R
before that midnight (the midnight that ends day D + N months - R) the "points about
to expire" news fires, once per expiry cycle (a cycle is one last activity).
Activity before expiry was switched on (`Programme.expiry_from`) counts as on that
day: switching expiry on never expires a balance at once, without its reminder.

Beat runs `points_expire_due` every hour (zones put midnights at every hour):

1. Per workspace with expiry, read the balances above zero whose last activity is old
   enough to be due or reminded by now (a coarse bound in SQL, exact per contact in
   Python with the contact's zone), in chunks of contact ids.
2. Per chunk, in one transaction: lock the balances (contact id order, the ledger's
   lock order), look again at each (an earning may have moved its last activity),
   write an `expire` entry of the whole balance keyed
   `expire:<contact>:<day D>` (so a second run writes nothing), or record the reminder
   in `reminded_for` and collect the news, then tell the hooks."""

from __future__ import annotations

import calendar
import datetime as dt
import zoneinfo

from django.db import connection, transaction
from django.utils import timezone

from loyalty.hooks import POINTS_EXPIRING, LoyaltyNews, loyalty_news_notify
from loyalty.models import EntryKind, PointsBalance, Programme, SourceKind
from loyalty.services.ledger import balances_lock, entry_append

EXPIRY_CHUNK = 500

_DUE_SQL = """
SELECT b.contact_id, coalesce(nullif(c.time_zone, ''), %(zone)s)
FROM loyalty_pointsbalance b
JOIN contacts_contact c ON c.id = b.contact_id AND c.workspace_id = b.workspace_id
WHERE b.workspace_id = %(ws)s AND b.balance > 0 AND b.contact_id > %(after)s
  AND b.last_activity_at IS NOT NULL
  AND greatest(b.last_activity_at, %(since)s::timestamptz)
      <= %(now)s - make_interval(months => %(months)s) + make_interval(days => %(days)s)
ORDER BY b.contact_id
LIMIT %(limit)s
"""


def zone_of(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def add_months(day: dt.date, months: int) -> dt.date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _midnight_after(day: dt.date, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    """The midnight that ends `day` in `zone` (as an aware datetime)."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=zone)


def expiry_moment(
    *, last_activity: dt.datetime, months: int, zone: zoneinfo.ZoneInfo
) -> dt.datetime:
    return _midnight_after(add_months(last_activity.astimezone(zone).date(), months), zone)


def reminder_moment(
    *, last_activity: dt.datetime, months: int, days: int, zone: zoneinfo.ZoneInfo
) -> dt.datetime:
    day = add_months(last_activity.astimezone(zone).date(), months) - dt.timedelta(days=days)
    return _midnight_after(day, zone)


def counted_activity(programme: Programme, last_activity: dt.datetime) -> dt.datetime:
    """The moment inactivity counts from: the last activity, or when expiry was
    switched on if that is later."""
    since = programme.expiry_from
    return since if since is not None and since > last_activity else last_activity


def expiry_day(
    *, programme: Programme | None, last_activity: dt.datetime | None, zone_name: str
) -> dt.date | None:
    """The last day (in the contact's zone) the points are good for, or None when
    they do not expire (no expiry, no activity yet)."""
    if programme is None or programme.expiry_months is None or last_activity is None:
        return None
    zone = zone_of(zone_name)
    moment = expiry_moment(
        last_activity=counted_activity(programme, last_activity),
        months=programme.expiry_months,
        zone=zone,
    )
    # The boundary is the midnight that ends that day.
    return (moment - dt.timedelta(seconds=1)).astimezone(zone).date()


def _chunk(
    programme: Programme, zone_name: str, after: int, now: dt.datetime
) -> list[tuple[int, str]]:
    assert programme.expiry_months is not None
    # Due (or reminded) no earlier than N months (less R days) after the activity;
    # two days of slack cover the end of the day and any zone's offset.
    days = (programme.expiry_reminder_days or 0) + 2
    with connection.cursor() as cursor:
        cursor.execute(
            _DUE_SQL,
            {
                "ws": programme.workspace_id,
                "zone": zone_name,
                "after": after,
                "now": now,
                "since": programme.expiry_from,
                "months": programme.expiry_months,
                "days": days,
                "limit": EXPIRY_CHUNK,
            },
        )
        return [(int(c), str(z)) for c, z in cursor.fetchall()]


def _expire_or_remind(
    programme: Programme, balance: PointsBalance, zone: zoneinfo.ZoneInfo, now: dt.datetime
) -> LoyaltyNews | None:
    """Under the balance's lock: expire it, or record and return its reminder."""
    assert programme.expiry_months is not None
    last = balance.last_activity_at
    if last is None or balance.balance <= 0:
        return None
    last = counted_activity(programme, last)
    months = programme.expiry_months
    expires_at = expiry_moment(last_activity=last, months=months, zone=zone)
    day = last.astimezone(zone).date().isoformat()
    if expires_at <= now:
        entry_append(
            balance=balance,
            kind=EntryKind.EXPIRE,
            points=-balance.balance,
            idempotency_key=f"expire:{balance.contact_id}:{day}",
            source_kind=SourceKind.SYSTEM,
            reason=f"no points earned or spent for {months} months",
            occurred_at=expires_at,
            details={"last_activity_at": last.isoformat(), "months": months},
            clamp=True,
        )
        return None
    reminder_days = programme.expiry_reminder_days
    if reminder_days is None or balance.reminded_for == last:
        return None
    remind_at = reminder_moment(last_activity=last, months=months, days=reminder_days, zone=zone)
    if remind_at > now:
        return None
    balance.reminded_for = last
    balance.save(update_fields=["reminded_for"])
    return LoyaltyNews(
        kind=POINTS_EXPIRING,
        workspace_id=balance.workspace_id,
        contact_id=balance.contact_id,
        key=f"expiring:{balance.contact_id}:{day}",
        at=now,
        points=balance.balance,
        expires_at=expires_at,
    )


def points_expire(*, programme: Programme, now: dt.datetime | None = None) -> tuple[int, int]:
    """Expire the workspace's inactive balances and send the reminders due; returns
    (balances expired, reminders). Safe to run twice."""
    if programme.expiry_months is None:
        return 0, 0
    now = now or timezone.now()
    zone_name = programme.workspace.time_zone or "UTC"
    expired = reminded = 0
    after = 0
    while True:
        rows = _chunk(programme, zone_name, after, now)
        if not rows:
            return expired, reminded
        zones = dict(rows)
        with transaction.atomic():
            balances = balances_lock(workspace_id=programme.workspace_id, contact_ids=list(zones))
            news = []
            for contact_id in sorted(balances):
                balance = balances[contact_id]
                before = balance.balance
                found = _expire_or_remind(programme, balance, zone_of(zones[contact_id]), now)
                expired += balance.balance < before
                if found is not None:
                    news.append(found)
            reminded += len(news)
            loyalty_news_notify(news)
        after = rows[-1][0]


def points_expire_due(*, now: dt.datetime | None = None) -> tuple[int, int]:
    """Every enabled programme with expiry (beat, hourly)."""
    expired = reminded = 0
    for programme in (
        Programme.objects.filter(enabled=True, expiry_months__isnull=False)
        .select_related("workspace")
        .order_by("workspace_id")
    ):
        e, r = points_expire(programme=programme, now=now)
        expired, reminded = expired + e, reminded + r
    return expired, reminded
