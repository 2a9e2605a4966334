"""The overview and its previous period, and filters changing every answer."""

from __future__ import annotations

import datetime as dt

import pytest

from analytics.figures.common import Filters, Period
from analytics.figures.customers import (
    revenue_metrics,
)
from analytics.figures.overview import overview
from tests.analytics.figures_world import Raw, World, filters_of
from tests.analytics.reference_base import (
    MARCH,
    plain,
)

pytestmark = pytest.mark.django_db


def test_overview_and_previous_period(world: World) -> None:
    raw = Raw.load(world.ws)
    for period in (
        MARCH,
        Period(dt.date(2024, 3, 1), dt.date(2024, 3, 15)),
        Period(dt.date(2024, 3, 16), dt.date(2024, 4, 1)),
    ):
        for name, filters, keep in filters_of(world, raw):
            got = overview(workspace=world.ws, period=period, filters=filters)
            assert plain(got) == raw.overview(keep, period), (name, period)


def test_filters_change_the_answers(world: World) -> None:
    """Each filter gives a different answer from no filter, and the one the
    independent computation gives (so the comparisons above are not vacuous)."""
    raw = Raw.load(world.ws)
    everyone = revenue_metrics(workspace=world.ws, period=MARCH)
    seen = {everyone["revenue"]}
    for name, filters, keep in filters_of(world, raw)[1:]:
        got = revenue_metrics(workspace=world.ws, period=MARCH, filters=filters)
        assert plain(got) == raw.revenue_metrics(keep, MARCH), name
        seen.add(got["revenue"])
    assert len(seen) >= 4
    assert (
        revenue_metrics(workspace=world.ws, period=MARCH, filters=Filters(segment=world.pro))[
            "revenue"
        ]
        == "185.47"
    )  # A 85.48 + C 99.99
