"""Loyalty figures from the rollups against an independent computation over the ledger
rows (plain Python over LedgerEntry, TierChange and PointsBalance), across local-day
boundaries in a non-UTC zone; the beat's recent-days refresh equal to a rebuild; the
API's parameters, bad input and an outsider."""

from __future__ import annotations

import datetime as dt
import random
import zoneinfo
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from analytics.figures.common import Period, bucket_start, buckets
from analytics.figures.loyalty import loyalty_report
from analytics.models import LoyaltyActiveGap, LoyaltyDay, LoyaltyTierMoveDay
from analytics.rollups.loyalty import loyalty_rollups_rebuild, loyalty_rollups_recent
from loyalty.models import ContactTier, LedgerEntry, PointsBalance, Tier, TierChange
from loyalty.services import programme_update
from loyalty.services.ledger import balance_lock, entry_append
from tests.factories import ContactFactory
from workspaces.services import Actor

pytestmark = pytest.mark.django_db

TZ = "America/New_York"
ACTOR = Actor(system="test")
KINDS = ["earn", "earn", "earn", "redeem", "expire", "reverse", "adjust"]


def _append(contact: Any, kind: str, points: int, at: dt.datetime, key: str) -> None:
    with transaction.atomic():
        balance = balance_lock(workspace_id=contact.workspace_id, contact_id=contact.pk)
        if kind in ("redeem", "expire", "reverse", "adjust") and points < 0:
            points = -min(-points, balance.balance)
            if points == 0 and kind in ("redeem", "adjust"):
                return
        entry_append(
            balance=balance,
            kind=kind,
            points=points,
            idempotency_key=key,
            source_kind="system",
            occurred_at=at,
        )


def _local_midnight(days_ago: int) -> dt.datetime:
    tz = zoneinfo.ZoneInfo(TZ)
    today = timezone.now().astimezone(tz).date()
    return dt.datetime.combine(today - dt.timedelta(days=days_ago), dt.time(), tzinfo=tz)


def _world(ws: Any, rng: random.Random) -> list[Any]:
    ws.time_zone = TZ
    ws.save(update_fields=["time_zone"])
    programme_update(workspace=ws, data={"enabled": True, "value_per_point": "0.0125"}, actor=ACTOR)
    contacts = [ContactFactory.create(workspace=ws) for _ in range(30)]
    for n in range(400):
        contact = rng.choice(contacts[:25])  # five contacts never join
        # Many entries a few minutes either side of a local midnight: the day (and the
        # week, the month) they belong to is the zone's, not UTC's.
        at = _local_midnight(rng.randint(0, 80)) + dt.timedelta(minutes=rng.choice([-7, 3, 600]))
        kind = rng.choice(KINDS)
        points = rng.randint(1, 300)
        signed = (
            points
            if kind == "earn"
            else rng.choice([points, -points])
            if kind == "adjust"
            else -points
        )
        _append(contact, kind, signed, at, f"k{n}")
    gold = Tier.objects.create(workspace=ws, name="Gold <b>", threshold=500)
    silver = Tier.objects.create(workspace=ws, name="Silver", threshold=100)
    for i, contact in enumerate(contacts[:20]):
        tier = [None, silver, gold][i % 3]
        ContactTier.objects.create(workspace=ws, contact=contact, tier=tier)
        for j in range(2):
            at = _local_midnight(rng.randint(0, 80)) + dt.timedelta(minutes=rng.choice([-5, 5]))
            src, dst = ((None, silver), (silver, gold), (gold, silver))[(i + j) % 3]
            TierChange.objects.create(
                workspace=ws,
                contact=contact,
                from_tier=src,
                to_tier=dst,
                from_name=src.name if src else "",
                to_name=dst.name if dst else "",
                cause="earned",
                points_in_window=0,
                at=at,
            )
    return contacts


def _expected(ws: Any, period: Period, grain: str) -> dict[str, Any]:
    """The figures from the raw rows, in plain Python."""
    tz = zoneinfo.ZoneInfo(TZ)
    entries = [
        (e.contact_id, e.kind, e.points, e.occurred_at.astimezone(tz).date())
        for e in LedgerEntry.objects.filter(workspace=ws)
    ]
    first: dict[int, dt.date] = {}
    for contact, _, _, day in entries:
        first[contact] = min(first.get(contact, day), day)
    series = []
    for start in buckets(period, grain):
        days = [
            d
            for d in (start + dt.timedelta(days=i) for i in range(31))
            if bucket_start(d, grain) == start and period.start <= d <= period.end
        ]
        inside = [e for e in entries if e[3] in days]

        def total(kind: str, rows: list[Any] = inside) -> int:
            return abs(sum(p for _, k, p, _ in rows if k == kind))

        series.append(
            {
                "bucket": start.isoformat(),
                "issued": total("earn"),
                "redeemed": total("redeem"),
                "expired": total("expire"),
                "reversed": total("reverse"),
                "adjusted": sum(p for _, k, p, _ in inside if k == "adjust"),
                "redemptions": sum(1 for _, k, _, _ in inside if k == "redeem"),
                "new_members": sum(1 for d in first.values() if d in days),
                "members": sum(1 for d in first.values() if d <= max(days)),
                "active_members": len({c for c, k, _, _ in inside if k in ("earn", "redeem")}),
            }
        )
    in_period = [e for e in entries if period.start <= e[3] <= period.end]
    issued = sum(p for _, k, p, _ in in_period if k == "earn")
    redeemed = -sum(p for _, k, p, _ in in_period if k == "redeem")
    moves: dict[tuple[str, str], int] = {}
    for change in TierChange.objects.filter(workspace=ws):
        if period.start <= change.at.astimezone(tz).date() <= period.end:
            key = (change.from_name, change.to_name)
            moves[key] = moves.get(key, 0) + 1
    balances = [b.balance for b in PointsBalance.objects.filter(workspace=ws)]
    tiers: dict[str, int] = {}
    for row in ContactTier.objects.filter(workspace=ws).select_related("tier"):
        name = row.tier.name if row.tier else ""
        tiers[name] = tiers.get(name, 0) + 1
    return {
        "series": series,
        "active": len({c for c, k, _, _ in in_period if k in ("earn", "redeem")}),
        "rate": None if not issued else round(redeemed / issued, 4),
        "moves": moves,
        "members": len(balances),
        "outstanding": sum(balances),
        "liability": (Decimal(sum(balances)) * Decimal("0.0125")).quantize(
            Decimal("0.01"), ROUND_HALF_UP
        ),
        "tiers": tiers,
    }


def _check(ws: Any, period: Period, grain: str) -> None:
    got = loyalty_report(workspace=ws, period=period, granularity=grain)
    want = _expected(ws, period, grain)
    keys = list(want["series"][0])
    assert [{k: row[k] for k in keys} for row in got["series"]] == want["series"]
    assert got["totals"]["active_members"] == want["active"]
    assert got["totals"]["redemption_rate"] == want["rate"]
    assert {(m["from"], m["to"]): m["moves"] for m in got["tier_moves"]} == want["moves"]
    assert got["now"]["members"] == want["members"]
    assert got["now"]["outstanding_points"] == want["outstanding"]
    assert Decimal(got["now"]["liability"]) == want["liability"]
    assert got["now"]["currency"] == ws.currency
    assert {t["tier"]: t["members"] for t in got["tiers"]} == want["tiers"]


def _rollup_rows(ws: Any) -> tuple[list[Any], ...]:
    return tuple(
        sorted(model.objects.filter(workspace=ws).values_list(*fields), key=str)
        for model, fields in (
            (
                LoyaltyDay,
                (
                    "day",
                    "issued",
                    "redeemed",
                    "expired",
                    "reversed",
                    "adjusted",
                    "redemptions",
                    "new_members",
                    "active",
                ),
            ),
            (LoyaltyActiveGap, ("day", "previous", "members")),
            (LoyaltyTierMoveDay, ("day", "from_name", "to_name", "moves")),
        )
    )


def test_every_figure_equals_the_ledger_across_local_boundaries(ws: Any) -> None:
    rng = random.Random(17)
    _world(ws, rng)
    loyalty_rollups_rebuild(workspace_id=ws.pk)
    today = timezone.now().astimezone(zoneinfo.ZoneInfo(TZ)).date()
    for grain, days in (("day", 20), ("week", 60), ("month", 85)):
        _check(ws, Period(today - dt.timedelta(days=days), today), grain)
    # A period starting mid-week: the first bucket counts only the period's days.
    _check(ws, Period(today - dt.timedelta(days=45), today - dt.timedelta(days=10)), "week")


def test_active_members_are_exact_for_any_run_of_days(ws: Any) -> None:
    """Distinct active members over random periods (none aligned to weeks or months,
    some a single day, some reaching before the first entry) and every grain, against
    the ledger; after a rebuild and after beat's refresh of the last two days."""
    rng = random.Random(23)
    contacts = _world(ws, rng)
    loyalty_rollups_rebuild(workspace_id=ws.pk)
    # Activity yesterday and today by members last active weeks ago, and redemptions
    # only (active without earning), taken in by the recent refresh alone.
    for i, contact in enumerate(contacts[:6]):
        _append(contact, "earn", 10 + i, _local_midnight(i % 2) + dt.timedelta(minutes=1), f"x{i}")
    _append(contacts[7], "redeem", -1, _local_midnight(0) + dt.timedelta(hours=2), "x-redeem")
    loyalty_rollups_recent(workspace_id=ws.pk)
    today = timezone.now().astimezone(zoneinfo.ZoneInfo(TZ)).date()
    for _ in range(12):
        end = today - dt.timedelta(days=rng.randint(0, 70))
        start = end - dt.timedelta(days=rng.choice([0, 1, 6, 13, 29, 41, 95]))
        grain = rng.choice(["day", "week", "month"])
        got = loyalty_report(workspace=ws, period=Period(start, end), granularity=grain)
        want = _expected(ws, Period(start, end), grain)
        assert got["totals"]["active_members"] == want["active"], (start, end)
        assert [row["active_members"] for row in got["series"]] == [
            row["active_members"] for row in want["series"]
        ], (start, end, grain)


def test_the_recent_refresh_equals_a_rebuild(ws: Any) -> None:
    rng = random.Random(5)
    contacts = _world(ws, rng)
    loyalty_rollups_rebuild(workspace_id=ws.pk)
    # New entries yesterday and today (and a new member), then beat's refresh.
    for i, contact in enumerate([*contacts[:4], contacts[27]]):
        _append(contact, "earn", 40 + i, _local_midnight(i % 2) + dt.timedelta(minutes=2), f"n{i}")
    _append(contacts[0], "redeem", -10, _local_midnight(0) + dt.timedelta(hours=1), "r-new")
    loyalty_rollups_recent(workspace_id=ws.pk)
    refreshed = _rollup_rows(ws)
    loyalty_rollups_rebuild(workspace_id=ws.pk)
    assert refreshed == _rollup_rows(ws)
    today = timezone.now().astimezone(zoneinfo.ZoneInfo(TZ)).date()
    _check(ws, Period(today - dt.timedelta(days=30), today), "week")


def test_api_report_bad_input_and_outsider(ws: Any, api: Any, outsider_api: Any) -> None:
    _world(ws, random.Random(3))
    loyalty_rollups_rebuild(workspace_id=ws.pk)
    body = api.get("/api/v1/analytics/loyalty/?granularity=month").json()
    assert body["report"] == "loyalty"
    assert body["now"]["value_per_point"] == "0.0125"
    assert body["now"]["members"] == 25
    bad = api.get("/api/v1/analytics/loyalty/?granularity=year")
    assert bad.status_code == 400 and "granularity" in bad.json()["error"]["fields"]
    bad = api.get("/api/v1/analytics/loyalty/?start=2026-13-01")
    assert bad.status_code == 400 and "start" in bad.json()["error"]["fields"]
    bad = api.get("/api/v1/analytics/loyalty/?source=shop")
    assert bad.status_code == 400 and "source" in bad.json()["error"]["fields"]
    theirs = outsider_api.get("/api/v1/analytics/loyalty/").json()
    assert theirs["now"]["members"] == 0 and theirs["totals"]["issued"] == 0
    assert theirs["tiers"] == [] and theirs["tier_moves"] == []


def test_value_per_point_is_set_by_form_and_api(ws: Any, api: Any) -> None:
    response = api.patch("/api/v1/loyalty/programme/", {"value_per_point": "0.5"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["value_per_point"] == "0.5000"
    bad = api.patch("/api/v1/loyalty/programme/", {"value_per_point": "-1"}, format="json")
    assert bad.status_code == 400 and "value_per_point" in bad.json()["error"]["fields"]
