"""Stage figures against the independent computation: funnel, counts on a day,
movement, flow, conversion, time in stage."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from analytics.figures.common import Filters, Period
from analytics.figures.customers import (
    revenue_metrics,
)
from analytics.figures.moves import moves_read_once
from analytics.figures.stages import (
    conversion,
    flow,
    funnel,
    movement,
    stage_counts_on,
    time_in_stage,
)
from contacts.models import Contact
from lifecycle.models import Cause
from tests.analytics.figures_world import (
    Raw,
    World,
    filters_of,
    stripped,
)
from tests.analytics.reference_base import (
    MARCH,
    NOW,
    ORDER,
    local,
)
from tests.factories import StageTransitionFactory

pytestmark = pytest.mark.django_db


def test_the_designed_answers_by_hand(world: World) -> None:
    """A few numbers worked out by hand, so the reference cannot be wrong the same way
    as the code: March in Auckland."""
    ws = world.ws
    on = stage_counts_on(ws, [dt.date(2024, 2, 29), dt.date(2024, 3, 5), dt.date(2024, 3, 31)])
    key = {s.pk: s.key for s in world.stages.values()}
    named = {day: {key[k]: n for k, n in counts.items() if n} for day, counts in on.items()}
    # Feb 29 end: A lead (23:50), B subscriber (23:55), D at risk, E repeat; C not yet.
    assert named[dt.date(2024, 2, 29)] == {"lead": 1, "subscriber": 1, "at_risk": 1, "repeat": 1}
    # March 5: B moved three times that day and ends it in repeat; A customer; C lead.
    assert named[dt.date(2024, 3, 5)] == {"customer": 1, "repeat": 2, "lead": 1, "at_risk": 1}
    money_ = revenue_metrics(workspace=ws, period=MARCH)
    assert money_["revenue"] == "268.48"  # 85.48 + 25.00 + 99.99 + 58.01
    assert money_["orders"] == 6 and money_["customers"] == 4
    assert money_["average_order_value"] == "44.75"  # 268.48 / 6 = 44.7467
    assert money_["arpu"] == "53.70"  # 268.48 / 5 active (A, B, C, D, E)
    conv = {row["from"]: row for row in conversion(workspace=ws, period=MARCH)}
    # lead: first-ever entries in March are B (3/5 08:00) and C (3/2 10:00; its
    # re-entry 3/15 does not count); A entered 10 minutes before March.
    assert (conv["lead"]["entered"], conv["lead"]["converted"]) == (2, 2)
    b_days, c_days = 1 / 24, 29 + (13 * 60 + 59) / 1440
    assert conv["lead"]["median_days"] == round((b_days + c_days) / 2, 3)
    assert conv["lead"]["p90_days"] == round(b_days + 0.9 * (c_days - b_days), 3)


# --- stage figures ------------------------------------------------------------------


DAYS = [
    dt.date(2023, 12, 31),
    dt.date(2024, 1, 1),
    dt.date(2024, 2, 29),
    dt.date(2024, 3, 1),
    dt.date(2024, 3, 5),
    dt.date(2024, 3, 20),
    dt.date(2024, 3, 31),
    dt.date(2024, 4, 1),
]


def test_funnel_and_stage_counts_on_any_day(world: World) -> None:
    raw = Raw.load(world.ws)
    key = {s.pk: s.key for s in world.stages.values()}
    for name, filters, keep in filters_of(world, raw):
        counts = stage_counts_on(world.ws, DAYS, filters)
        for day in DAYS:
            got = {key[k]: n for k, n in counts[day].items() if n}
            assert got == raw.stage_on(keep, day), (name, day)
            rows = funnel(workspace=world.ws, as_of=day, filters=filters)
            assert [r["stage"] for r in rows] == ORDER
            expected = raw.stage_on(keep, day)
            assert {r["stage"]: r["contacts"] for r in rows} == {
                k: expected.get(k, 0) for k in ORDER
            }, (name, day)


@pytest.mark.parametrize("granularity", ["day", "week", "month"])
def test_movement_entries_and_exits_per_bucket(world: World, granularity: str) -> None:
    raw = Raw.load(world.ws)
    period = Period(dt.date(2024, 2, 26), dt.date(2024, 4, 1))
    for name, filters, keep in filters_of(world, raw):
        got = movement(workspace=world.ws, period=period, granularity=granularity, filters=filters)
        assert got == raw.movement(keep, period, granularity), name


PERIODS = (
    MARCH,
    Period(dt.date(2024, 3, 1), dt.date(2024, 3, 1)),
    Period(dt.date(2023, 1, 1), dt.date(2024, 4, 30)),
)


def test_flow_matrix(world: World) -> None:
    raw = Raw.load(world.ws)
    for period in PERIODS:
        for name, filters, keep in filters_of(world, raw):
            got = flow(workspace=world.ws, period=period, filters=filters)
            assert got == raw.flow(keep, period), (name, period)


def test_one_read_of_the_filtered_moves_serves_every_figure(world: World) -> None:
    """Inside a report's computation the moves of the contacts a filter keeps are read
    once; each figure still gives the reference's answer for its own days."""
    raw = Raw.load(world.ws)
    key = {s.pk: s.key for s in world.stages.values()}
    for name, filters, keep in filters_of(world, raw):
        if not filters:
            continue
        with CaptureQueriesContext(connection) as queries, moves_read_once():
            counts = stage_counts_on(world.ws, DAYS, filters)
            moved = movement(workspace=world.ws, period=MARCH, granularity="week", filters=filters)
            flows = {p: flow(workspace=world.ws, period=p, filters=filters) for p in PERIODS}
        tables = ("FROM lifecycle_stagetransition", "FROM analytics_stageflowgroupday")
        reads = [q for q in queries if any(table in q["sql"] for table in tables)]
        assert len(reads) == 1, name
        for day in DAYS:
            assert {key[k]: n for k, n in counts[day].items() if n} == raw.stage_on(keep, day)
        assert moved == raw.movement(keep, MARCH, "week"), name
        assert flows == {p: raw.flow(keep, p) for p in PERIODS}, name


def test_conversion_rates_median_and_p90(world: World) -> None:
    raw = Raw.load(world.ws)
    for period in (
        MARCH,
        Period(dt.date(2024, 2, 29), dt.date(2024, 2, 29)),
        Period(dt.date(2023, 1, 1), dt.date(2024, 4, 30)),
    ):
        for name, filters, keep in filters_of(world, raw):
            got = conversion(workspace=world.ws, period=period, filters=filters)
            assert got == raw.conversion(keep, period), (name, period)


def test_time_in_stage(world: World) -> None:
    raw = Raw.load(world.ws)
    for period in (MARCH, Period(dt.date(2024, 1, 1), dt.date(2024, 2, 29))):
        for name, filters, keep in filters_of(world, raw):
            got = time_in_stage(workspace=world.ws, period=period, filters=filters, now=NOW)
            keys = [
                "stage",
                "ended",
                "median_days",
                "p90_days",
                "histogram",
                "current",
                "current_median_days",
            ]
            assert stripped(got, keys) == raw.time_in_stage(keep, period, NOW), (name, period)


def test_undispatched_moves_are_not_counted_with_or_withoutfilters_of(world: World) -> None:
    """Flows count only dispatched transitions: a move not yet handed to the hooks is
    in no figure, filtered or not (a filter that keeps everyone answers as no filter)."""
    ws = world.ws
    f = Contact.objects.get(pk=world.ids["f"])
    StageTransitionFactory.create(
        workspace=ws, contact=f, from_stage=world.stages["subscriber"],
        to_stage=world.stages["lead"], at=local(2024, 3, 25), cause=Cause.RULE,
    )  # fmt: skip
    raw = Raw.load(ws)
    keep = raw.kept(source="ads")
    got = flow(workspace=ws, period=MARCH, filters=Filters(source="ads"))
    assert got == raw.flow(keep, MARCH)
    assert flow(workspace=ws, period=MARCH) == raw.flow(raw.everyone(), MARCH)
