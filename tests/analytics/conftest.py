"""Fixtures of the analytics tests: the hand-built world of the figure tests."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from analytics.report_query import local_today
from analytics.rollups import rollups_rebuild
from contacts.models import Contact
from demo.analytics import demo_analytics_create
from demo.contacts import demo_contacts_create
from demo.lifecycle import demo_history_replay
from lifecycle.hooks import transitions_dispatch
from lifecycle.services import (
    stages_create_defaults,
)
from tests.analytics.cdnow import Cdnow, load_cdnow
from tests.analytics.figures_world import World, _contact, _events, _history
from tests.analytics.reference_base import (
    TZ_NAME,
    local,
)
from tests.factories import SegmentFactory, SpendFactory
from workspaces.models import Workspace


@pytest.fixture
def world(ws: Workspace, outsider: Any) -> World:
    ws.time_zone = TZ_NAME
    ws.save()
    stages = {s.key: s for s in stages_create_defaults(workspace=ws)}
    s = stages
    people: dict[str, Contact] = {}

    # A: signs up in January; enters lead 10 minutes before March (local), customer 10
    # minutes into March, repeat, then moves BACK to customer.
    a = people["a"] = _contact(
        ws, "a", local(2024, 1, 15, 10), {"signup_source": "ads", "plan": "pro"}
    )
    _history(ws, s, a, [
        ("subscriber", local(2024, 1, 15, 10)),
        ("lead", local(2024, 2, 29, 23, 50)),
        ("customer", local(2024, 3, 1, 0, 10)),
        ("repeat", local(2024, 3, 10, 12)),
        ("customer", local(2024, 3, 20, 9)),
    ])  # fmt: skip
    _events(ws, a, [
        ("page_view", None, local(2024, 1, 15, 11)),
        ("purchase", "40.00", local(2024, 3, 1, 0, 10)),
        ("purchase", "25.50", local(2024, 3, 1, 18)),  # same local day: one order
        ("purchase", "19.98", local(2024, 3, 10, 12)),
        ("order", "1000.00", local(2024, 3, 3)),  # not a purchase name
        ("purchase", None, local(2024, 3, 4)),  # no revenue: not a purchase
    ])  # fmt: skip

    # B: signs up 5 minutes before March (February locally, in UTC the same day), moves
    # three times on March 5, and to at-risk 10 minutes before the period ends.
    b = people["b"] = _contact(
        ws, "b", local(2024, 2, 29, 23, 55), {"signup_source": "ads", "plan": "free"}
    )
    _history(ws, s, b, [
        ("subscriber", local(2024, 2, 29, 23, 55)),
        ("lead", local(2024, 3, 5, 8)),
        ("customer", local(2024, 3, 5, 9)),
        ("repeat", local(2024, 3, 5, 22)),
        ("at_risk", local(2024, 3, 31, 23, 50)),
    ])  # fmt: skip
    _events(ws, b, [
        ("purchase", "10.00", local(2024, 3, 5, 9)),
        ("purchase", "15.00", local(2024, 3, 5, 21)),
        ("purchase", "33.33", local(2024, 4, 1, 0, 5)),  # 5 minutes after the period
    ])  # fmt: skip

    # C: signs up 5 minutes into March; lead, back to subscriber, re-enters lead, and
    # becomes a customer one minute before the period ends.
    c = people["c"] = _contact(
        ws, "c", local(2024, 3, 1, 0, 5), {"signup_source": "organic", "plan": "pro"}
    )
    _history(ws, s, c, [
        ("subscriber", local(2024, 3, 1, 0, 5)),
        ("lead", local(2024, 3, 2, 10)),
        ("subscriber", local(2024, 3, 9, 10)),
        ("lead", local(2024, 3, 15, 10)),
        ("customer", local(2024, 3, 31, 23, 59)),
    ])  # fmt: skip
    _events(ws, c, [
        ("page_view", None, local(2024, 3, 1, 1)),
        ("purchase", "99.99", local(2024, 3, 31, 23, 59)),
    ])  # fmt: skip

    # D: an old customer, at risk since February, lapses in March.
    d = people["d"] = _contact(ws, "d", local(2023, 11, 20), {"plan": "pro"})
    _history(ws, s, d, [
        ("subscriber", local(2023, 11, 20)),
        ("customer", local(2023, 12, 1)),
        ("repeat", local(2024, 1, 10)),
        ("at_risk", local(2024, 2, 10)),
        ("lapsed", local(2024, 3, 15)),
    ])  # fmt: skip
    _events(ws, d, [
        ("purchase", "50.00", local(2023, 12, 1)),
        ("purchase", "70.00", local(2024, 1, 10)),
        ("page_view", None, local(2024, 3, 3)),
    ])  # fmt: skip

    # E: signs up 30 minutes into January locally (still December 31 in UTC), becomes
    # loyal and an advocate.
    e = people["e"] = _contact(ws, "e", local(2024, 1, 1, 0, 30), {"signup_source": "referral"})
    _history(ws, s, e, [
        ("subscriber", local(2024, 1, 1, 0, 30)),
        ("customer", local(2024, 1, 20)),
        ("repeat", local(2024, 2, 15)),
        ("loyal", local(2024, 3, 12)),
        ("advocate", local(2024, 3, 25)),
    ])  # fmt: skip
    _events(ws, e, [
        ("purchase", "20.00", local(2024, 1, 20)),
        ("purchase", "30.00", local(2024, 2, 15)),
        ("purchase", "12.34", local(2024, 3, 12)),
        ("referral_sent", None, local(2024, 3, 24)),
        ("purchase", "45.67", local(2024, 3, 25)),
    ])  # fmt: skip

    # F: signs up in March and does nothing.
    f = people["f"] = _contact(
        ws, "f", local(2024, 3, 20), {"signup_source": "ads", "plan": "free"}
    )
    _history(ws, s, f, [("subscriber", local(2024, 3, 20))])

    # G: signs up and buys a minute into April (outside March).
    g = people["g"] = _contact(ws, "g", local(2024, 4, 1, 0, 1), {"signup_source": "ads"})
    _history(ws, s, g, [("subscriber", local(2024, 4, 1, 0, 1))])
    _events(ws, g, [("purchase", "5.00", local(2024, 4, 1, 0, 2))])

    # Another workspace's contact, moves and purchases must never count.
    other = outsider.workspace
    other_stages = {st.key: st for st in stages_create_defaults(workspace=other)}
    stranger = _contact(other, "stranger", local(2024, 3, 2), {"signup_source": "ads"})
    _history(
        other,
        other_stages,
        stranger,
        [("subscriber", local(2024, 3, 2)), ("customer", local(2024, 3, 3))],
    )
    _events(other, stranger, [("purchase", "500.00", local(2024, 3, 3))])

    SpendFactory.create(
        workspace=ws, source="ads", month=dt.date(2024, 3, 1), amount=Decimal("100.00")
    )
    SpendFactory.create(
        workspace=ws, source="ads", month=dt.date(2024, 2, 1), amount=Decimal("40.00")
    )
    SpendFactory.create(
        workspace=ws, source="referral", month=dt.date(2024, 1, 1), amount=Decimal("12.35")
    )
    SpendFactory.create(
        workspace=ws, source="organic", month=dt.date(2024, 4, 1), amount=Decimal("9.00")
    )

    while transitions_dispatch():
        pass
    rollups_rebuild(workspace_id=ws.pk)
    rollups_rebuild(workspace_id=other.pk)
    pro = SegmentFactory.create(
        workspace=ws, name="pro", rule={"attr": "plan", "op": "eq", "value": "pro"}
    )
    ws.refresh_from_db()
    return World(ws=ws, stages=stages, ids={k: v.pk for k, v in people.items()}, pro=pro)


@pytest.fixture(scope="session")
def cdnow() -> Cdnow:
    return load_cdnow()


@pytest.fixture
def demo(owner: Any) -> Any:
    """A small demo workspace: contacts, a year of events and stage moves, rollups,
    spend and an applied CLV fit (as seed_demo builds it)."""
    ws = owner.workspace
    ws.time_zone = "America/New_York"
    ws.save()
    stages_create_defaults(workspace=ws)
    demo_contacts_create(workspace=ws, contacts=250, seed=3, today=local_today(ws))
    demo_history_replay(workspace=ws)
    demo_analytics_create(workspace=ws, today=local_today(ws), seed=3)
    return ws
