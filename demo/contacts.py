"""Believable demo contacts and 12 months of their events, deterministic from a seed.

The shop: a direct-to-consumer coffee roaster. Each contact follows one archetype
(newsletter subscriber, browsing lead, one-time buyer, repeat buyer, loyal
subscriber, lapsed customer) so that stages, journeys and analytics have real shapes
to show: growth in signups, purchases that thin out for the lapsed, carts abandoned
before a purchase, NPS answers and referrals from the loyal.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from psycopg.types.json import Jsonb

from contacts.models import Contact, EmailStatus, SmsStatus
from contacts.services.marks import contacts_mark_changed
from demo.people import (
    ARCHETYPES,
    COUNTRIES,
    FIRST_NAMES,
    LAST_NAMES,
    PAGES,
    PLANS,
    PRODUCTS,
    SOURCES,
)
from workspaces.models import Workspace


@dataclass
class DemoSummary:
    contacts: int
    events: int
    purchases: int
    revenue: Decimal


def _weighted(rng: random.Random, options: tuple[tuple[Any, ...], ...]) -> tuple[Any, ...]:
    return rng.choices(options, weights=[o[1] for o in options])[0]


def _local_moment(rng: random.Random, day: dt.date, tz: zoneinfo.ZoneInfo) -> dt.datetime:
    """A time of day people shop: mornings and evenings, in their own time zone; never
    after now."""
    hour = rng.choices(
        range(24),
        weights=[1, 1, 1, 1, 1, 2, 4, 7, 9, 10, 9, 8, 9, 8, 7, 6, 6, 7, 9, 11, 11, 9, 5, 2],
    )[0]
    local = dt.datetime.combine(day, dt.time(hour, rng.randrange(60), rng.randrange(60)), tzinfo=tz)
    # Today's moments may lie later than now: nothing in the demo happens in the future
    # (a contact created after now is missing from today's figures).
    return min(local.astimezone(dt.UTC), dt.datetime.now(dt.UTC))


def _purchase(
    rng: random.Random, order: int, contact_index: int, moment: dt.datetime, repeat_bias: float
) -> dict[str, Any]:
    items = []
    for _ in range(1 + int(rng.random() < 0.35) + int(rng.random() < 0.1)):
        name, category, price = (
            rng.choice(PRODUCTS[:4]) if rng.random() < repeat_bias else rng.choice(PRODUCTS)
        )
        items.append(
            {"sku": name.lower().replace(" ", "-"), "category": category, "price": str(price)}
        )
    total = sum(Decimal(i["price"]) for i in items)
    if rng.random() < 0.15:
        total = (total * Decimal("0.9")).quantize(Decimal("0.01"))
    return {
        "name": "purchase",
        "at": moment,
        "revenue": total,
        "properties": {
            "order_id": f"NW-{contact_index:05d}-{order:03d}",
            "items": len(items),
            "skus": [i["sku"] for i in items],
            "category": items[0]["category"],
        },
    }


def _purchase_days(
    rng: random.Random,
    archetype: str,
    events: list[dict[str, Any]],
    day_after: Callable[[int, int], dt.date],
    signup: dt.date,
    today: dt.date,
    tz: zoneinfo.ZoneInfo,
) -> list[dt.date]:
    """The days a contact of `archetype` buys on (a lead never buys: it may start a
    trial or abandon a cart instead, added to `events`)."""
    span = (today - signup).days
    purchases: list[dt.date] = []
    if archetype == "lead":
        if rng.random() < 0.6:
            events.append(
                {
                    "name": "trial_started",
                    "at": _local_moment(rng, day_after(0, 20), tz),
                    "properties": {"plan": "sample-box"},
                }
            )
        if rng.random() < 0.7:
            moment = _local_moment(rng, day_after(0, span), tz)
            events.append(
                {
                    "name": "cart_abandoned",
                    "at": moment,
                    "properties": {
                        "cart_value": str(rng.choice(PRODUCTS)[2]),
                        "items": rng.randint(1, 3),
                    },
                }
            )
    elif archetype == "one_time":
        purchases = [day_after(0, 60)]
    elif archetype == "repeat":
        first = day_after(0, 45)
        purchases = [first] + [
            first + dt.timedelta(days=rng.randint(20, 70) * k) for k in range(1, rng.randint(2, 4))
        ]
    elif archetype == "loyal":
        first = day_after(0, 20)
        step = rng.randint(24, 35)
        purchases = [first + dt.timedelta(days=step * k + rng.randint(-3, 3)) for k in range(0, 14)]
    elif archetype == "lapsed":
        first = day_after(0, 30)
        purchases = [
            first + dt.timedelta(days=rng.randint(15, 40) * k) for k in range(rng.randint(1, 3))
        ]
        cutoff = today - dt.timedelta(days=rng.randint(95, 200))
        purchases = [d for d in purchases if d <= cutoff] or [min(first, cutoff)]
        purchases = [d for d in purchases if d >= signup]
    return purchases


def _timeline(
    rng: random.Random,
    archetype: str,
    index: int,
    signup: dt.date,
    today: dt.date,
    tz: zoneinfo.ZoneInfo,
) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = [
        {
            "name": "signed_up",
            "at": _local_moment(rng, signup, tz),
            "properties": {"form": rng.choice(["footer", "popup", "checkout", "landing"])},
        },
    ]
    span = (today - signup).days

    def day_after(start: int, end: int) -> dt.date:
        return signup + dt.timedelta(days=rng.randint(min(start, span), min(end, span)))

    visits = rng.randint(3, 12) + {
        "loyal": 30,
        "repeat": 18,
        "lapsed": 8,
        "one_time": 6,
        "lead": 10,
    }.get(archetype, 0)
    for _ in range(visits):
        events.append(
            {
                "name": "page_view",
                "at": _local_moment(rng, day_after(0, span), tz),
                "properties": {"path": rng.choice(PAGES)},
            }
        )
    purchases = _purchase_days(rng, archetype, events, day_after, signup, today, tz)
    purchases = sorted(d for d in purchases if signup <= d <= today)
    for order, day in enumerate(purchases, start=1):
        moment = _local_moment(rng, day, tz)
        if rng.random() < 0.25:
            events.append(
                {
                    "name": "cart_abandoned",
                    "at": moment - dt.timedelta(hours=rng.randint(2, 48)),
                    "properties": {"cart_value": "32.00", "items": 2},
                }
            )
        events.append(_purchase(rng, order, index, moment, 0.8 if order > 1 else 0.5))
    if purchases and rng.random() < (0.6 if archetype == "loyal" else 0.25):
        nps_day = min(today, purchases[-1] + dt.timedelta(days=rng.randint(5, 20)))
        score = (
            rng.choice([9, 10, 10, 9, 8])
            if archetype == "loyal"
            else rng.choice([2, 4, 5, 6, 7])
            if archetype == "lapsed"
            else rng.choice([6, 7, 8, 8, 9, 10])
        )
        events.append(
            {
                "name": "nps_submitted",
                "at": _local_moment(rng, nps_day, tz),
                "properties": {"score": score},
            }
        )
    if archetype == "loyal" and rng.random() < 0.5:
        for _ in range(rng.randint(1, 3)):
            events.append(
                {
                    "name": "referral_sent",
                    "at": _local_moment(rng, day_after(30, span), tz),
                    "properties": {"channel": rng.choice(["email", "link", "sms"])},
                }
            )
    if archetype in ("loyal", "repeat") and rng.random() < 0.3 and purchases:
        events.append(
            {
                "name": "review_submitted",
                "at": _local_moment(rng, min(today, purchases[0] + dt.timedelta(days=10)), tz),
                "properties": {"rating": rng.choice([4, 5, 5])},
            }
        )
    now = dt.datetime.now(dt.UTC)
    return [e for e in events if e["at"] <= now]


def demo_contacts_create(
    *, workspace: Workspace, contacts: int = 3000, seed: int = 7, today: dt.date | None = None
) -> DemoSummary:
    """Create the demo contacts and their events in `workspace`."""
    rng = random.Random(seed)
    today = today or dt.datetime.now(dt.UTC).date()
    rows: list[Contact] = []
    timelines: list[list[dict[str, Any]]] = []
    for index in range(contacts):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        country, _, zones, (phone_prefix, phone_digits) = _weighted(rng, COUNTRIES)
        tz_name = rng.choice(zones)
        # Signups grow through the year: more recent days are likelier.
        signup = today - dt.timedelta(days=int(365 * (1 - math.sqrt(rng.random()))))
        archetype = _weighted(rng, ARCHETYPES)[0]
        created = _local_moment(rng, signup, zoneinfo.ZoneInfo(tz_name))
        email_status = rng.choices(EmailStatus.values, weights=[92, 5, 2, 1])[0]
        has_phone = rng.random() < 0.55
        sms_status = (
            rng.choices(
                [SmsStatus.SUBSCRIBED, SmsStatus.UNSUBSCRIBED, SmsStatus.NEVER_SUBSCRIBED],
                weights=[60, 10, 30],
            )[0]
            if has_phone
            else SmsStatus.NEVER_SUBSCRIBED
        )
        local = "".join(
            ch for ch in f"{first}.{last}".lower() if ch.isascii() and (ch.isalnum() or ch == ".")
        )
        attributes: dict[str, Any] = {
            "plan": _weighted(rng, PLANS)[0] if archetype not in ("loyal",) else "pro",
            "country": country,
            "signup_source": _weighted(rng, SOURCES)[0],
        }
        if archetype == "loyal":
            attributes["renewal_date"] = (today + dt.timedelta(days=rng.randint(1, 30))).isoformat()
        if rng.random() < 0.4:
            attributes["birthday"] = dt.date(
                rng.randint(1960, 2004), rng.randint(1, 12), rng.randint(1, 28)
            ).isoformat()
        rows.append(
            Contact(
                workspace=workspace,
                email=f"{local}{index}@example.com",
                phone=f"{phone_prefix}{index % 10**phone_digits:0{phone_digits}d}"
                if has_phone
                else None,
                external_id=f"cus_{index + 1:06d}",
                first_name=first,
                last_name=last,
                time_zone=tz_name,
                locale={
                    "US": "en-US",
                    "CA": "en-CA",
                    "GB": "en-GB",
                    "DE": "de-DE",
                    "FR": "fr-FR",
                    "AU": "en-AU",
                    "JP": "ja-JP",
                    "BR": "pt-BR",
                    "NZ": "en-NZ",
                }[country],
                attributes=attributes,
                email_status=email_status,
                email_status_at=created,
                email_status_source="demo",
                sms_status=sms_status,
                sms_status_at=created,
                sms_status_source="demo",
                created_at=created,
                updated_at=created,
                signed_up_at=created,
            )
        )
        timelines.append(
            _timeline(rng, archetype, index, signup, today, zoneinfo.ZoneInfo(tz_name))
        )
    with transaction.atomic():
        Contact.objects.bulk_create(rows, batch_size=1000)
        events = [
            (contact.pk, e)
            for contact, timeline in zip(rows, timelines, strict=True)
            for e in timeline
        ]
        _insert(workspace, events)
        contacts_mark_changed(contact_ids=[c.pk for c in rows], urgent=False)
    purchases = [e for _, e in events if e["name"] == "purchase"]
    return DemoSummary(
        contacts=len(rows),
        events=len(events),
        purchases=len(purchases),
        revenue=sum((e["revenue"] for e in purchases), Decimal(0)),
    )


def _insert(workspace: Workspace, events: list[tuple[int, dict[str, Any]]]) -> None:
    with connection.cursor() as cursor:
        for start in range(0, len(events), 5000):
            chunk = events[start : start + 5000]
            cursor.execute(
                """
                INSERT INTO contacts_event (workspace_id, contact_id, name, properties,
                    revenue, currency, occurred_at, received_at)
                SELECT %s, e.contact_id, e.name, e.properties, e.revenue,
                       CASE WHEN e.revenue IS NULL THEN '' ELSE %s END, e.at, e.at
                FROM unnest(%s::bigint[], %s::text[], %s::jsonb[], %s::numeric[],
                            %s::timestamptz[]) AS e(contact_id, name, properties, revenue, at)
                """,
                [
                    workspace.pk,
                    workspace.currency,
                    [c for c, _ in chunk],
                    [e["name"] for _, e in chunk],
                    [Jsonb(e["properties"]) for _, e in chunk],
                    [e.get("revenue") for _, e in chunk],
                    [e["at"] for _, e in chunk],
                ],
            )
