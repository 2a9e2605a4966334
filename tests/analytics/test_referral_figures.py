"""Referral figures of the loyalty report against an independent computation over the
referral rows and the purchases themselves, across local-day boundaries in a non-UTC
zone; and in the API, where an outsider sees only its own (empty) figures."""

from __future__ import annotations

import datetime as dt
import random
import zoneinfo
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from django.utils import timezone

from analytics.figures.common import Period
from analytics.figures.referrals import referral_figures
from analytics.models import CustomerFacts
from analytics.rollups import rollups_rebuild
from analytics.rollups.loyalty import loyalty_rollups_recent
from contacts.services.events import events_ingest
from loyalty.models import Referral, ReferralStatus
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

TZ = "America/New_York"
STATUSES = [s.value for s in ReferralStatus]
BOUGHT_AT: dict[int, dt.datetime] = {}  # each customer's one purchase, by _world


def _local(days_ago: int, minutes: int) -> dt.datetime:
    """A few minutes either side of a local midnight."""
    tz = zoneinfo.ZoneInfo(TZ)
    today = timezone.now().astimezone(tz).date()
    midnight = dt.datetime.combine(today - dt.timedelta(days=days_ago), dt.time(), tzinfo=tz)
    return midnight + dt.timedelta(minutes=minutes)


def _world(ws: Any, rng: random.Random) -> tuple[list[Any], list[Referral], dict[int, Decimal]]:
    BOUGHT_AT.clear()
    ws.time_zone = TZ
    ws.save(update_fields=["time_zone"])
    people = [ContactFactory.create(workspace=ws) for _ in range(30)]
    events, revenue = [], {}
    for index, person in enumerate(people[:20]):  # 20 customers
        amount = Decimal(rng.randint(500, 20000)) / 100
        at = _local(rng.randint(1, 60), rng.choice([-3, 3]))
        revenue[person.pk] = amount
        BOUGHT_AT[person.pk] = at
        events.append(
            {
                "contact": {"id": person.pk},
                "name": "purchase",
                "revenue": str(amount),
                "occurred_at": at.isoformat(),
                "properties": {"order_id": f"o{index}"},
            }
        )
    assert not events_ingest(workspace=ws, items=events).errors
    referrals = []
    friends = rng.sample(people, 25)  # a contact is referred once
    for index, referred in enumerate(friends):
        referrer = rng.choice([p for p in people if p is not referred])
        created = _local(rng.randint(0, 40), rng.choice([-5, 5]))
        status = rng.choice(STATUSES)
        converted = (
            created + dt.timedelta(days=rng.randint(0, 5))
            if status not in ("pending", "flagged") or rng.random() < 0.2
            else None
        )
        referrals.append(
            Referral.objects.create(
                workspace=ws,
                referrer=referrer,
                referred=referred,
                code=f"CODE{index}",
                status=status,
                created_at=created,
                converted_at=converted,
            )
        )
    rollups_rebuild(workspace_id=ws.pk)
    for facts in CustomerFacts.objects.filter(workspace=ws, first_purchase_at__isnull=False):
        # Some customers have no prediction (bought after the last fit): not averaged.
        facts.predicted_clv = (
            None if rng.random() < 0.25 else Decimal(rng.randint(100, 90000)) / 100
        )
        facts.save(update_fields=["predicted_clv"])
    # The figures read the customers' rollup, recomputed by beat's refresh every minute.
    loyalty_rollups_recent(workspace_id=ws.pk)
    return people, referrals, revenue


def _cents(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01"), ROUND_HALF_UP))


def _ratio(part: int, whole: int) -> float | None:
    if not whole:
        return None
    return float((Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001"), ROUND_HALF_UP))


def _expected(ws: Any, period: Period, referrals: list[Referral], revenue: dict[int, Decimal]):
    tz = zoneinfo.ZoneInfo(TZ)

    def inside(at: dt.datetime | None) -> bool:
        return at is not None and period.start <= at.astimezone(tz).date() <= period.end

    counted = [r for r in referrals if inside(r.created_at) and r.status != "rejected"]
    converted = [
        r for r in referrals if inside(r.converted_at) and r.status not in ("rejected", "reversed")
    ]
    referrers = {r.referrer_id for r in counted}
    customers = [pk for pk in revenue if BOUGHT_AT[pk].astimezone(tz).date() <= period.end]
    referred = {r.referred_id for r in referrals if r.status != "rejected"}
    clv = dict(
        CustomerFacts.objects.filter(workspace=ws, first_purchase_at__isnull=False).values_list(
            "contact_id", "predicted_clv"
        )
    )
    mine = [pk for pk in revenue if pk in referred]
    others = [pk for pk in revenue if pk not in referred]
    predicted = {pk: value for pk, value in clv.items() if value is not None}

    def average(values: list[Decimal]) -> str | None:
        return _cents(sum(values, Decimal(0)) / len(values)) if values else None

    return {
        "invites": len(counted),
        "flagged": sum(1 for r in counted if r.status == "flagged"),
        "referrers": len(referrers),
        "conversions": len(converted),
        "customers": len(customers),
        "referral_rate": _ratio(len(referrers), len(customers)),
        "viral_coefficient": _ratio(len(converted), len(referrers)),
        "referred_customers": len(mine),
        "referred_revenue": _cents(sum((revenue[pk] for pk in mine), Decimal(0))),
        "referred_avg_revenue": average([revenue[pk] for pk in mine]),
        "other_avg_revenue": average([revenue[pk] for pk in others]),
        # The exact average of the customers with a prediction, rounded once.
        "referred_avg_clv": average([predicted[pk] for pk in mine if pk in predicted]),
        "other_avg_clv": average([predicted[pk] for pk in others if pk in predicted]),
    }


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_referral_figures_equal_an_independent_count(ws, seed):
    _, referrals, revenue = _world(ws, random.Random(seed))
    today = timezone.now().astimezone(zoneinfo.ZoneInfo(TZ)).date()
    for period in (
        Period(today - dt.timedelta(days=6), today),
        Period(today - dt.timedelta(days=29), today - dt.timedelta(days=10)),
        Period(today - dt.timedelta(days=89), today),
    ):
        got = referral_figures(workspace=ws, period=period)
        assert got == _expected(ws, period, referrals, revenue), period


def test_the_customers_rollup_follows_referrals_and_purchases(ws):
    """A referral rejected and a new purchase reach the figures with beat's refresh."""
    people, referrals, revenue = _world(ws, random.Random(11))
    today = timezone.now().astimezone(zoneinfo.ZoneInfo(TZ)).date()
    period = Period(today - dt.timedelta(days=59), today)
    counted = next(r for r in referrals if r.status != "rejected" and r.referred_id in revenue)
    Referral.objects.filter(pk=counted.pk).update(status="rejected")
    counted.status = "rejected"
    newcomer = next(p for p in people if p.pk not in revenue)
    at = _local(0, 5)
    assert not events_ingest(
        workspace=ws,
        items=[
            {
                "contact": {"id": newcomer.pk},
                "name": "purchase",
                "revenue": "12.34",
                "occurred_at": at.isoformat(),
            }
        ],
    ).errors
    rollups_rebuild(workspace_id=ws.pk)  # the facts, as the engine's step keeps them
    revenue[newcomer.pk], BOUGHT_AT[newcomer.pk] = Decimal("12.34"), at
    assert referral_figures(workspace=ws, period=period) == _expected(
        ws, period, referrals, revenue
    )


def test_referral_figures_in_the_api_are_the_workspaces_own(ws, api, outsider, outsider_api):
    _, referrals, revenue = _world(ws, random.Random(7))
    referred = {r.referred_id for r in referrals if r.status != "rejected"} & set(revenue)
    assert referred  # the world has referred customers to count
    mine = api.get("/api/v1/analytics/loyalty/").json()
    theirs = outsider_api.get("/api/v1/analytics/loyalty/").json()
    assert mine["referrals"]["referred_customers"] == len(referred)
    assert mine["referrals"]["customers"] == len(revenue)
    assert theirs["referrals"]["invites"] == 0 and theirs["referrals"]["customers"] == 0
    assert theirs["referrals"]["referred_customers"] == 0
