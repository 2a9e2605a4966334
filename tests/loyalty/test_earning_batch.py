"""The one-statement earning path (loyalty/services/earning_batch.py) writes what the
per-event path writes: the same entries, column for column, and the same balances, on
random batches of purchases and point-earning events with random rates, multiplier
windows, tier multipliers and order ids. Two workspaces take the same events through
the real ingest and engine: one without a daily cap (the statement), one with a cap no
contact can reach (the per-event path, which a cap requires)."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from typing import Any
from unittest import mock

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contacts.models import Event
from loyalty.models import LedgerEntry, PointsBalance, Programme
from loyalty.services import earning, tier_create
from tests.factories import ContactFactory, WorkspaceFactory
from tests.loyalty.helpers import ACTOR, ingest, programme

pytestmark = pytest.mark.django_db

NAMES = ["purchase", "review", "survey_answered", "page_view"]
CONTACTS = 3
_slugs = itertools.count()

revenues = st.one_of(
    st.none(),
    st.just("0"),
    st.decimals(min_value=Decimal("0.01"), max_value=Decimal("999.99"), places=2).map(str),
)
events = st.lists(
    st.tuples(
        st.integers(0, CONTACTS - 1),
        st.sampled_from(NAMES),
        revenues,
        st.integers(0, 5 * 24 * 60),  # minutes before now
        st.sampled_from(["", "A-1", "B-2", "x" * 151]),
    ),
    min_size=1,
    max_size=12,
)
windows = st.lists(
    st.tuples(st.sampled_from(["1.5", "2", "2.25", "3"]), st.integers(0, 6), st.integers(1, 72)),
    max_size=3,
)


def _world(
    cap: int | None, per_unit: str, windows: list[Any], tiers: list[str], now: dt.datetime
) -> tuple[Any, list[Any]]:
    ws = WorkspaceFactory.create(slug=f"earn-{next(_slugs)}")
    multipliers = [
        {
            "name": f"w{i}",
            "factor": factor,
            "starts_at": (now - dt.timedelta(days=days_ago)).isoformat(),
            "ends_at": (now - dt.timedelta(days=days_ago) + dt.timedelta(hours=hours)).isoformat(),
        }
        for i, (factor, days_ago, hours) in enumerate(windows)
    ]
    programme(
        ws,
        points_per_unit=per_unit,
        event_points={"review": 25, "survey_answered": 7},
        multipliers=multipliers,
        daily_cap=cap,
    )
    Programme.objects.filter(workspace=ws).update(enabled_at=now - dt.timedelta(days=6))
    for threshold, multiplier in zip((10, 400), tiers, strict=False):
        tier_create(
            workspace=ws,
            data={"name": f"T{threshold}", "threshold": threshold, "multiplier": multiplier},
            actor=ACTOR,
        )
    return ws, [ContactFactory.create(workspace=ws) for _ in range(CONTACTS)]


def _ingest(ws: Any, contacts: list[Any], batch: list[Any], now: dt.datetime, tag: str) -> None:
    items = []
    for i, (who, name, revenue, minutes, order) in enumerate(batch):
        item: dict[str, Any] = {
            "contact": {"id": contacts[who].pk},
            "name": name,
            "occurred_at": (now - dt.timedelta(minutes=minutes)).isoformat(),
            "idempotency_key": f"{tag}{i}",
        }
        if revenue is not None:
            item["revenue"] = revenue
        if order:
            item["properties"] = {"order_id": order}
        items.append(item)
    ingest(ws, *items)


def _written(ws: Any, contacts: list[Any]) -> tuple[list[Any], list[Any]]:
    keys = dict(Event.objects.filter(workspace=ws).values_list("id", "idempotency_key"))
    index = {c.pk: i for i, c in enumerate(contacts)}
    entries = [
        (
            index[e.contact_id],
            e.kind,
            e.points,
            e.balance_after,
            e.reason,
            e.source_kind,
            "<event>" if e.source_id == str(e.event_id) else e.source_id,
            keys[e.event_id or 0],
            e.order_id,
            e.idempotency_key == f"event:{e.event_id}",
            e.occurred_at,
            e.details,
        )
        for e in LedgerEntry.objects.filter(workspace=ws).order_by("id")
    ]
    balances = sorted(
        (index[b.contact_id], b.balance, b.earned_total, b.redeemed_total, b.last_activity_at)
        for b in PointsBalance.objects.filter(workspace=ws)
    )
    return entries, balances


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    first=events,
    second=events,
    per_unit=st.sampled_from(["1", "0.5", "2.75", "10"]),
    windows=windows,
    tiers=st.lists(st.sampled_from(["1", "1.25", "1.5", "2"]), max_size=2),
)
def test_the_statement_writes_what_the_per_event_path_writes(
    first: Any, second: Any, per_unit: str, windows: Any, tiers: Any
) -> None:
    now = timezone.now().replace(microsecond=0)
    worlds = [_world(cap, per_unit, windows, tiers, now) for cap in (None, 1_000_000_000)]
    for ws, contacts in worlds:
        _ingest(ws, contacts, first, now, "a")
        # The second batch meets the tiers the first one reached (their multipliers).
        _ingest(ws, contacts, second, now, "b")
    statement, per_event = (_written(ws, contacts) for ws, contacts in worlds)
    assert statement == per_event


def test_the_statement_earns_unless_a_cap_or_a_refund_needs_the_ledger_entry_by_entry(
    ws: Any,
) -> None:
    now = timezone.now().replace(microsecond=0)
    programme(ws)
    Programme.objects.filter(workspace=ws).update(enabled_at=now - dt.timedelta(hours=1))
    contact = ContactFactory.create(workspace=ws)
    spy = mock.patch.object(earning, "events_earn_in_sql", wraps=earning.events_earn_in_sql)
    with spy as statement:
        _ingest(ws, [contact], [(0, "purchase", "30", 5, "A-1")], now, "a")
        assert statement.call_count == 1
        _ingest(ws, [contact], [(0, "purchase", "-10", 1, "A-1")], now, "b")  # a refund
        assert statement.call_count == 1
        programme(ws, daily_cap=1000)
        _ingest(ws, [contact], [(0, "purchase", "20", 0, "A-2")], now, "c")
        assert statement.call_count == 1
    assert list(LedgerEntry.objects.order_by("id").values_list("kind", "points")) == [
        ("earn", 30),
        ("reverse", -10),
        ("earn", 20),
    ]
