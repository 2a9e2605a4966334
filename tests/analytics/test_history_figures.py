"""Issue 15: after a year of history is loaded in shuffled batches, the lifecycle
figures on past dates equal an independent computation over the replayed moves (the
moves themselves are checked against a hand-written replay in
tests/lifecycle/test_replay.py): the funnel on past days, flow, time in stage and
churn per month, in a workspace far from UTC."""

from __future__ import annotations

import datetime as dt
import itertools
import random
import statistics
import zoneinfo
from collections import Counter

import pytest
from django.utils import timezone

from contacts.services import contacts_mark_changed
from lifecycle.hooks import transitions_dispatch
from lifecycle.services import stages_create_defaults
from tests.factories import ContactFactory
from tests.lifecycle.test_replay import a_year, evaluate_all, expected_history

pytestmark = pytest.mark.django_db

TZ = "America/New_York"


@pytest.fixture
def history(ws, api):
    ws.time_zone = TZ
    ws.save()
    stages_create_defaults(workspace=ws)
    rng = random.Random(1515)
    now = timezone.now()
    people = []
    for n in range(60):
        signup, events = a_year(rng, now)
        contact = ContactFactory.create(
            workspace=ws, email=f"f{n}@example.com", signed_up_at=signup
        )
        people.append((contact, signup, events))
    # Created as an import creates them: marked for the engine.
    contacts_mark_changed(contact_ids=[c.pk for c, _, _ in people], source="import")
    evaluate_all(now)
    items = [
        {
            "contact": {"id": contact.pk},
            "name": e.name,
            "occurred_at": e.at.isoformat(),
            **({"revenue": str(e.revenue)} if e.revenue is not None else {}),
        }
        for contact, _, events in people
        for e in events
    ]
    rng.shuffle(items)
    for start in range(0, len(items), 50):
        response = api.post("/api/v1/events/", {"batch": items[start : start + 50]}, format="json")
        assert response.status_code == 202
        evaluate_all(now)
    while transitions_dispatch():
        pass
    moves = {c.pk: expected_history(signup, events, now) for c, signup, events in people}
    return now, moves


def local_day(moment: dt.datetime) -> dt.date:
    return moment.astimezone(zoneinfo.ZoneInfo(TZ)).date()


def stage_on(moves: list, day: dt.date) -> str | None:
    """The stage at the end of a local day."""
    current = None
    for _, to, at in moves:
        if local_day(at) <= day:
            current = to
    return current


def test_funnel_on_past_days(api, history):
    now, moves = history
    today = local_day(now)
    for days_ago in (330, 240, 150, 90, 30, 1):
        day = today - dt.timedelta(days=days_ago)
        expected = Counter(stage_on(m, day) for m in moves.values())
        expected.pop(None, None)
        body = api.get(f"/api/v1/analytics/funnel/?as_of={day}").json()
        got = {s["stage"]: s["contacts"] for s in body["stages"] if s["contacts"]}
        assert got == dict(expected), day
    assert sum(expected.values()) > 40  # most contacts existed by yesterday


def test_flow_over_a_past_period(api, history):
    now, moves = history
    start, end = local_day(now) - dt.timedelta(days=200), local_day(now) - dt.timedelta(days=20)
    expected = Counter(
        (f, t) for m in moves.values() for f, t, at in m if start <= local_day(at) <= end
    )
    body = api.get(f"/api/v1/analytics/flow/?start={start}&end={end}").json()
    got = {(row["from"], row["to"]): row["moves"] for row in body["transitions"]}
    assert got == dict(expected)
    assert ("customer", "at_risk") in got or ("repeat", "at_risk") in got


def test_time_in_stage_over_a_past_period(api, history):
    now, moves = history
    start, end = local_day(now) - dt.timedelta(days=250), local_day(now) - dt.timedelta(days=10)
    ended: dict[str, list[float]] = {}
    for m in moves.values():
        for (_, stage, entered), (_, _, left) in itertools.pairwise(m):
            if start <= local_day(left) <= end:
                ended.setdefault(stage, []).append((left - entered).total_seconds() / 86400)
    body = api.get(f"/api/v1/analytics/time-in-stage/?start={start}&end={end}").json()
    for row in body["stages"]:
        lengths = ended.get(row["stage"], [])
        assert row["ended"] == len(lengths), row["stage"]
        if lengths:
            assert row["median_days"] == round(statistics.median(lengths), 3), row["stage"]
    assert any(row["median_days"] and row["median_days"] > 1 for row in body["stages"])


def test_churn_per_month(api, history):
    now, moves = history
    start, end = local_day(now) - dt.timedelta(days=330), local_day(now) - dt.timedelta(days=1)
    body = api.get(f"/api/v1/analytics/churn/?start={start}&end={end}&granularity=month").json()
    rows = body["periods"]
    total_churned = 0
    for row in rows:
        bucket = dt.date.fromisoformat(row["bucket"])
        first = max(bucket, start)
        following = (bucket.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        last = min(following - dt.timedelta(days=1), end)
        churned = sum(
            1
            for m in moves.values()
            for _, to, at in m
            if to == "lapsed" and first <= local_day(at) <= last
        )
        at_risk = sum(1 for m in moves.values() if stage_on(m, last) == "at_risk")
        assert (row["churned"], row["at_risk_at_end"]) == (churned, at_risk), row["bucket"]
        total_churned += churned
    assert total_churned > 0  # churn spread over the year, not all in the last month
