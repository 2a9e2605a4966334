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


# Periods that do not align with months: active contacts and ARPU must count the
# period's local days only, not whole months the period touches (issue 15).
UNALIGNED = (
    Period(dt.date(2024, 2, 20), dt.date(2024, 3, 4)),
    Period(dt.date(2024, 3, 5), dt.date(2024, 3, 9)),
    Period(dt.date(2024, 3, 2), dt.date(2024, 3, 30)),
    Period(dt.date(2024, 3, 31), dt.date(2024, 4, 1)),
    Period(dt.date(2024, 1, 10), dt.date(2024, 3, 11)),
)


def test_revenue_and_active_contacts_on_periods_that_do_not_align_with_months(
    world: World,
) -> None:
    raw = Raw.load(world.ws)
    for period in UNALIGNED:
        for name, filters, keep in filters_of(world, raw):
            got = revenue_metrics(workspace=world.ws, period=period, filters=filters)
            assert plain(got) == raw.revenue_metrics(keep, period), (name, period)


def test_active_contacts_are_those_with_an_event_on_the_periods_days(world: World) -> None:
    """5-9 March: only B did anything (two purchases on the 5th), although A, B, C, D
    and E were all active in March: one active contact, ARPU 25.00 / 1."""
    got = revenue_metrics(
        workspace=world.ws, period=Period(dt.date(2024, 3, 5), dt.date(2024, 3, 9))
    )
    assert (got["active_contacts"], got["revenue"], got["arpu"]) == (1, "25.00", "25.00")


def test_overview_on_periods_that_do_not_align_with_months(world: World) -> None:
    raw = Raw.load(world.ws)
    for period in UNALIGNED:
        for name, filters, keep in filters_of(world, raw):
            got = overview(workspace=world.ws, period=period, filters=filters)
            assert plain(got) == raw.overview(keep, period), (name, period)


def test_first_purchase_rate_is_new_customers_among_new_contacts(world: World) -> None:
    """March: C and F signed up (signed_up_at; every contact was created in April by
    the import); A, B and C first bought. The rate is C among {C, F}: 0.5, never the
    3 / 2 of new customers over new contacts."""
    got = overview(workspace=world.ws, period=MARCH)
    assert got["new_contacts"]["value"] == 2
    assert got["new_customers"]["value"] == 3
    assert got["first_purchase_rate"]["value"] == 0.5


def test_change_from_nothing_is_new_not_a_percentage(world: World) -> None:
    """20-25 March: F signed up, E bought 45.67; 14-19 March: nobody signed up or
    bought. Up from 0 there is no percentage: `change` is null and `new` is true."""
    got = overview(workspace=world.ws, period=Period(dt.date(2024, 3, 20), dt.date(2024, 3, 25)))
    for key, value in (("new_contacts", 1), ("revenue", "45.67")):
        assert got[key]["value"] == value
        assert got[key]["previous"] in (0, "0.00")
        assert (got[key]["change"], got[key]["new"]) == (None, True), key
    march = overview(workspace=world.ws, period=MARCH)  # February's revenue was 30.00
    assert march["revenue"]["new"] is False
    assert march["revenue"]["change"] is not None
