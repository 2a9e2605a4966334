"""Customer figures against the independent computation: revenue, cohorts, churn,
acquisition and CAC, historic lifetime value."""

from __future__ import annotations

import datetime as dt

import pytest

from analytics.figures.clv import clv_historic
from analytics.figures.cohorts import cohorts
from analytics.figures.common import Period
from analytics.figures.customers import (
    acquisition,
    churn,
    customers_before,
    revenue_metrics,
)
from analytics.figures.overview import overview
from analytics.models import CohortCell
from analytics.rollups import rollups_rebuild
from lifecycle.hooks import transitions_dispatch
from tests.analytics.figures_world import Raw, World, _contact, _history, filters_of
from tests.analytics.reference_base import (
    MARCH,
    local,
    plain,
)

pytestmark = pytest.mark.django_db


def test_revenue_metrics(world: World) -> None:
    raw = Raw.load(world.ws)
    for period in (
        MARCH,
        Period(dt.date(2024, 3, 1), dt.date(2024, 3, 1)),
        Period(dt.date(2024, 4, 1), dt.date(2024, 4, 1)),
        Period(dt.date(2023, 11, 1), dt.date(2024, 4, 30)),
    ):
        for name, filters, keep in filters_of(world, raw):
            got = revenue_metrics(workspace=world.ws, period=period, filters=filters)
            assert plain(got) == raw.revenue_metrics(keep, period), (name, period)


@pytest.mark.parametrize("basis", [CohortCell.Basis.SIGNUP, CohortCell.Basis.FIRST_PURCHASE])
def test_cohorts(world: World, basis: str) -> None:
    raw = Raw.load(world.ws)
    wrong = []
    months = (
        (dt.date(2023, 11, 1), dt.date(2024, 4, 1)),
        (dt.date(2024, 1, 1), dt.date(2024, 3, 1)),
    )
    for first, last in months:
        for name, filters, keep in filters_of(world, raw):
            got = cohorts(
                workspace=world.ws, start_month=first, end_month=last, basis=basis, filters=filters
            )
            expected = raw.cohorts(keep, first, last, basis)
            if got != expected:
                wrong.append((name, str(first), str(last), got, expected))
    assert not wrong, [(n, a, b) for n, a, b, _, _ in wrong] + wrong


def test_churn_leaves_out_only_customers_in_the_churned_stage(world: World) -> None:
    """Customers at a bucket's start are contacts who had bought and were not in the
    churned stage: a contact moved by hand into it without ever buying takes nobody
    out of the customers."""
    ws = world.ws
    h = _contact(ws, "h", local(2024, 1, 5), {"signup_source": "organic"})
    _history(
        ws, world.stages, h, [("subscriber", local(2024, 1, 5)), ("lapsed", local(2024, 2, 20))]
    )
    while transitions_dispatch():
        pass
    rollups_rebuild(workspace_id=ws.pk)
    raw = Raw.load(ws)
    period = Period(dt.date(2024, 3, 1), dt.date(2024, 3, 31))
    got = churn(workspace=ws, period=period, granularity="month")
    # D and E had bought before March (A's first purchase is 10 minutes into it), and
    # neither was lapsed at its start; H never bought.
    assert got[0]["customers_at_start"] == 2
    assert got == raw.churn(raw.everyone(), period, "month")
    assert plain(overview(workspace=ws, period=period)) == raw.overview(raw.everyone(), period)


@pytest.mark.parametrize("granularity", ["week", "month"])
def test_churn(world: World, granularity: str) -> None:
    raw = Raw.load(world.ws)
    period = Period(dt.date(2024, 2, 1), dt.date(2024, 3, 31))
    for name, filters, keep in filters_of(world, raw):
        got = churn(workspace=world.ws, period=period, granularity=granularity, filters=filters)
        assert got == raw.churn(keep, period, granularity), name


def test_customers_before_period_edges(world: World) -> None:
    raw = Raw.load(world.ws)
    instants = [
        local(2024, 3, 1, 0, 10),
        local(2024, 3, 1, 0, 11),
        local(2024, 4, 1),
        local(2024, 4, 1, 0, 3),
    ]
    for name, filters, keep in filters_of(world, raw):
        expected = [
            sum(1 for c in keep if (fp := raw.first_purchase(c)) and fp < at) for at in instants
        ]
        assert customers_before(world.ws, instants, filters) == expected, name


@pytest.mark.parametrize("granularity", ["day", "week", "month"])
def test_acquisition_and_cac(world: World, granularity: str) -> None:
    raw = Raw.load(world.ws)
    period = Period(dt.date(2024, 1, 1), dt.date(2024, 4, 1))
    for name, filters, keep in filters_of(world, raw):
        got = acquisition(
            workspace=world.ws, period=period, granularity=granularity, filters=filters
        )
        with_spend = filters.segment is None and filters.signup_month is None
        expected = raw.acquisition(keep, period, granularity, with_spend, filters.source)
        assert got == expected, name
    march = acquisition(workspace=world.ws, period=MARCH, granularity="month")
    ads = next(r for r in march if r["source"] == "ads")
    # A and B first bought in March (B signed up in February): 100.00 / 2
    assert (ads["new_contacts"], ads["new_customers"], ads["spend"], ads["cac"]) == (
        1,
        2,
        "100.00",
        "50.00",
    )


def test_clv_historic(world: World) -> None:
    raw = Raw.load(world.ws)
    for name, filters, keep in filters_of(world, raw):
        got, expected = clv_historic(workspace=world.ws, filters=filters), raw.clv_historic(keep)
        for key in expected:
            assert got[key] == expected[key], (name, key, got[key], expected[key])
