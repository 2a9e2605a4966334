"""The figures read from the period rollups equal their definitions (the raw queries,
`use_rollups=False`) on random data: random purchases (free and refunds too), events
and stage histories, periods that start and end anywhere (not on month or week
boundaries), both time zones either side of UTC, and every filter the sums serve.
(That the rollups kept incrementally equal their rebuild: test_rollups.py.)"""

from __future__ import annotations

import datetime as dt
import random
import threading
import zoneinfo
from decimal import Decimal
from typing import Any

import pytest

from analytics.cache import data_changed_at
from analytics.figures.clv import clv_historic, clv_predicted
from analytics.figures.common import Filters, Period
from analytics.figures.conversion_days import conversion_rows_current
from analytics.figures.customers import acquisition, churn, customers_before, revenue_metrics
from analytics.figures.overview import overview
from analytics.figures.stages import conversion, time_in_stage
from analytics.models import CohortCell, ContactMonth, CustomerFacts
from analytics.models_periods import ActiveDay, ChurnCover, OrderDay
from analytics.rollups import cohort_cells_compare, periods, rollups_rebuild
from analytics.rollups.clv_summary import clv_summary_refresh
from analytics.tasks import clv_summaries_refresh
from contacts.models import Contact
from contacts.services import events_ingest
from lifecycle.hooks import transitions_dispatch
from lifecycle.models import Cause, Stage, StageTransition
from lifecycle.services import marked_contacts_evaluate, stages_create_defaults
from tests.factories import ContactFactory
from workspaces.models import Workspace

pytestmark = pytest.mark.django_db

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


def _world(ws: Workspace, rng: random.Random) -> None:
    ws.time_zone = rng.choice(["Pacific/Auckland", "America/New_York"])
    ws.save()
    stages = stages_create_defaults(workspace=ws)
    tz = zoneinfo.ZoneInfo(ws.time_zone)
    people = []
    for i in range(24):
        people.append(
            ContactFactory.create(
                workspace=ws,
                email=f"r{i}@example.com",
                signed_up_at=NOW
                - dt.timedelta(days=rng.randint(0, 300), minutes=rng.randint(0, 1440)),
                attributes={"signup_source": rng.choice(["ads", "organic", "fair"])},
            )
        )
    items = []
    for _ in range(160):
        local = (NOW - dt.timedelta(days=rng.randint(0, 300))).astimezone(tz)
        # close to local midnights, where a day in UTC and a local day differ
        at = local.replace(hour=0, minute=0) + dt.timedelta(minutes=rng.choice([-3, 1, 300, 1300]))
        items.append(
            {
                "contact": {"email": rng.choice(people).email},
                "name": rng.choice(["purchase", "purchase", "page_view", "trial_started"]),
                "revenue": rng.choice([None, "9.99", "120.00", "0.00", "-5.00", "45.50"]),
                "occurred_at": at.isoformat(),
            }
        )
    assert not events_ingest(workspace=ws, items=items).errors
    while marked_contacts_evaluate():
        pass
    # stage histories with stays of every length, some still open, some ending at the
    # same moment (ties)
    for person in people:
        at = NOW - dt.timedelta(days=rng.randint(200, 320), hours=rng.randint(0, 23))
        previous = StageTransition.objects.filter(contact=person).order_by("-at", "-id").first()
        for _ in range(rng.randint(1, 6)):
            at += dt.timedelta(days=rng.choice([0, 0, 1, 3, 8, 40]), hours=rng.choice([0, 5, 19]))
            if at >= NOW:
                break
            stage = rng.choice(stages)
            StageTransition.objects.create(
                workspace=ws,
                contact=person,
                from_stage=previous.to_stage if previous else None,
                to_stage=stage,
                at=at,
                cause=Cause.RULE,
                rule_version=stage.rule_version,
            )
            previous = StageTransition.objects.filter(contact=person).order_by("-at", "-id").first()
    while transitions_dispatch():
        pass


def _periods(rng: random.Random) -> list[Period]:
    today = NOW.date()
    out = [
        Period(today - dt.timedelta(days=89), today),
        Period(today - dt.timedelta(days=364), today),
    ]
    for _ in range(6):
        start = today - dt.timedelta(days=rng.randint(0, 330))
        out.append(Period(start, min(today, start + dt.timedelta(days=rng.randint(0, 120)))))
    return out


def _filters() -> list[Filters]:
    months = [(NOW - dt.timedelta(days=d)).date().replace(day=1) for d in (30, 120)]
    return [
        Filters(),
        Filters(source="ads"),
        Filters(signup_month=months[0]),
        Filters(source="organic", signup_month=months[1]),
    ]


def both(figure: Any, **kwargs: Any) -> tuple[Any, Any]:
    return figure(**kwargs, use_rollups=True), figure(**kwargs, use_rollups=False)


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_figures_from_the_sums_equal_their_definitions(ws: Workspace, seed: int) -> None:
    rng = random.Random(seed)
    _world(ws, rng)
    assert Contact.objects.filter(workspace=ws).count() == 24
    for period in _periods(rng):
        fast, raw = both(revenue_metrics, workspace=ws, period=period)
        assert fast == raw, period
        fast, raw = both(time_in_stage, workspace=ws, period=period, now=NOW)
        assert fast == raw, period
        fast, raw = both(conversion, workspace=ws, period=period)
        assert fast == raw, period
        for filters in _filters():
            fast, raw = both(revenue_metrics, workspace=ws, period=period, filters=filters)
            assert fast == raw, (period, filters)
            fast, raw = both(time_in_stage, workspace=ws, period=period, now=NOW, filters=filters)
            assert fast == raw, (period, filters)
            fast, raw = both(conversion, workspace=ws, period=period, filters=filters)
            assert fast == raw, (period, filters)
            for granularity in ("day", "week", "month"):
                fast, raw = both(
                    acquisition, workspace=ws, period=period, granularity=granularity,
                    filters=filters,
                )  # fmt: skip
                assert fast == raw, (period, filters, granularity)
            fast, raw = both(overview, workspace=ws, period=period, filters=filters)
            assert fast == raw, (period, filters)
            fast, raw = both(
                churn, workspace=ws, period=period, granularity="month", filters=filters
            )
            assert fast == raw, (period, filters)


def test_the_sums_say_something(ws: Workspace) -> None:
    """The world above has what the comparison needs: repeat customers in a period,
    refunds, ended and open stays with fractional medians."""
    rng = random.Random(11)
    _world(ws, rng)
    year = Period(NOW.date() - dt.timedelta(days=364), NOW.date())
    figures = revenue_metrics(workspace=ws, period=year)
    assert figures["repeat_purchase_rate"] and 0 < figures["repeat_purchase_rate"] < 1
    assert figures["active_contacts"] > figures["customers"] > 0
    stays = time_in_stage(workspace=ws, period=year, now=NOW)
    assert sum(s["ended"] for s in stays) > 20 and sum(s["current"] for s in stays) == 24
    assert any(s["median_days"] and s["median_days"] % 1 for s in stays)
    tz = zoneinfo.ZoneInfo(ws.time_zone)
    midnights = [
        dt.datetime.combine(NOW.date() - dt.timedelta(days=d), dt.time(), tzinfo=tz)
        for d in (1, 45, 200)
    ]
    assert customers_before(ws, midnights) == customers_before(ws, midnights, use_rollups=False)
    assert Decimal(figures["revenue"]) != 0
    # churn reads the churned stage's cover counts, which count someone
    lapsed = Stage.objects.get(workspace=ws, key="lapsed")
    assert ChurnCover.objects.filter(workspace=ws, stage_id=lapsed.pk, stays__gt=0).exists()
    # conversion is read from the first-entry counts (they were written for this path)
    assert conversion_rows_current(ws.pk)
    steps = conversion(workspace=ws, period=year)
    assert sum(s["entered"] for s in steps) > 10 and sum(s["converted"] for s in steps) > 3
    assert any(s["median_days"] and s["median_days"] % 1 for s in steps)


def test_conversion_reads_the_stays_when_the_path_changed(ws: Workspace) -> None:
    """Counts written for another funnel path are not used: after the stages are
    reordered the figures come from the stays, equal to the definition, until a
    rebuild writes the counts for the new path."""
    rng = random.Random(13)
    _world(ws, rng)
    year = Period(NOW.date() - dt.timedelta(days=364), NOW.date())
    stages = list(Stage.objects.filter(workspace=ws, is_default=False).order_by("position"))
    first, second = stages[0], stages[1]
    first.position, second.position = second.position, first.position
    Stage.objects.bulk_update([first, second], ["position"])
    assert not conversion_rows_current(ws.pk)
    raw = conversion(workspace=ws, period=year, use_rollups=False)
    assert conversion(workspace=ws, period=year) == raw
    rollups_rebuild(workspace_id=ws.pk)
    assert conversion_rows_current(ws.pk)
    assert conversion(workspace=ws, period=year) == raw


def _purchase_not_yet_taken_in(ws: Workspace) -> None:
    """A purchase of 1000.00 an hour ago for the first contact, left to the engine."""
    contact = Contact.objects.filter(workspace=ws).order_by("pk").first()
    assert contact is not None
    result = events_ingest(
        workspace=ws,
        items=[
            {"contact": {"email": contact.email}, "name": "purchase", "revenue": "1000.00",
             "occurred_at": (NOW - dt.timedelta(hours=1)).isoformat()},
        ],
    )  # fmt: skip
    assert not result.errors


def test_a_purchase_not_yet_taken_in_is_in_the_orders(ws: Workspace) -> None:
    """The definition reads the events; so do the sums for a contact the engine has yet
    to refresh (its mark is still there)."""
    rng = random.Random(12)
    _world(ws, rng)
    today = Period(NOW.date() - dt.timedelta(days=29), NOW.date())
    before = revenue_metrics(workspace=ws, period=today)
    _purchase_not_yet_taken_in(ws)
    after = revenue_metrics(workspace=ws, period=today)
    assert Decimal(after["revenue"]) == Decimal(before["revenue"]) + 1000
    assert after == revenue_metrics(workspace=ws, period=today, use_rollups=False)
    # filtered, read per contact from their purchase days: the same for the kept ones
    source = CustomerFacts.objects.get(contact=Contact.objects.filter(workspace=ws).first()).source
    year = Period(NOW.date() - dt.timedelta(days=364), NOW.date())
    for filters in (Filters(source=source), Filters(source="none such"), *_filters()):
        for period in (today, year):  # the year: its earlier purchases are counted once
            fast, raw = both(revenue_metrics, workspace=ws, period=period, filters=filters)
            assert fast == raw, (filters, period)
    kept = revenue_metrics(workspace=ws, period=today, filters=Filters(source=source))
    assert Decimal(kept["revenue"]) >= 1000


def _predictions(ws: Workspace, rng: random.Random) -> None:
    """Predictions on the facts as a fit writes them: some customers without one,
    values in every histogram bucket (and below the first bound), ties at 0.5."""
    facts = list(CustomerFacts.objects.filter(workspace=ws, purchases__gt=0))
    for row in facts:
        if rng.random() < 0.8:
            row.predicted_clv = Decimal(
                rng.choice(
                    [
                        "-1.00",
                        "0.00",
                        "24.99",
                        "25.00",
                        "60.10",
                        "120.00",
                        "300.00",
                        "999.99",
                        "1500.00",
                    ]
                )
            )
            row.probability_alive = rng.choice([0.1, 0.5, 0.73, 0.999])
    CustomerFacts.objects.bulk_update(facts, ["predicted_clv", "probability_alive"])


@pytest.mark.parametrize("seed", [21, 22])
def test_clv_figures_from_the_sums_equal_their_definitions(ws: Workspace, seed: int) -> None:
    rng = random.Random(seed)
    _world(ws, rng)
    _predictions(ws, rng)
    # not taken yet: the figures read the facts
    assert clv_historic(workspace=ws) == clv_historic(workspace=ws, use_rollups=False)
    clv_summary_refresh(workspace_id=ws.pk)
    for filters in _filters():
        for figure in (clv_historic, clv_predicted):
            fast, raw = both(figure, workspace=ws, filters=filters)
            assert fast == raw, (figure.__name__, filters)
    predicted = clv_predicted(workspace=ws)
    assert predicted["customers"] > 5 and predicted["probably_gone"] > 0
    assert len([b for b in predicted["histogram"] if b["customers"]]) >= 3


def test_the_clv_sums_follow_the_data_within_a_beat(
    ws: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    """A purchase taken in after the sums were taken reaches the CLV figures with the
    next run of the beat task, which recomputes only workspaces whose data changed."""
    rng = random.Random(23)
    _world(ws, rng)
    data_changed_at(workspace_id=ws.pk)  # known from here on (unknown counts as now)
    clv_summary_refresh(workspace_id=ws.pk)
    assert clv_summaries_refresh() == []  # nothing changed since
    before = clv_historic(workspace=ws)
    contact = Contact.objects.filter(workspace=ws).order_by("pk").first()
    assert contact is not None
    with django_capture_on_commit_callbacks(execute=True):
        result = events_ingest(
            workspace=ws,
            items=[
                {"contact": {"email": contact.email}, "name": "purchase", "revenue": "1000.00",
                 "occurred_at": (NOW - dt.timedelta(hours=1)).isoformat()},
            ],
        )  # fmt: skip
        assert not result.errors
        while marked_contacts_evaluate():
            pass
    assert clv_historic(workspace=ws) == before  # the sums are behind
    assert clv_summaries_refresh() == [ws.pk]
    after = clv_historic(workspace=ws)
    assert Decimal(after["revenue"]) == Decimal(before["revenue"]) + 1000
    assert after == clv_historic(workspace=ws, use_rollups=False)


def _cells(ws: Workspace) -> set[tuple[Any, ...]]:
    return set(
        CohortCell.objects.filter(workspace=ws).values_list(
            "basis", "cohort", "month", "source", "size", "active", "purchasing", "revenue"
        )
    )


@pytest.mark.django_db(transaction=True)
def test_a_rebuild_outside_a_transaction_writes_the_days_on_a_second_connection(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As beat runs it (no transaction around it), the rebuild recomputes the contact
    months and active days on another connection while it rebuilds the facts, stays
    and purchase days: the figures read from its sums (the cohorts' too, which read the
    months) equal their definitions, the rows were rebuilt (not left from before), and
    an error there fails the rebuild."""
    rng = random.Random(11)
    _world(ws, rng)
    year = Period(NOW.date() - dt.timedelta(days=364), NOW.date())
    expected = revenue_metrics(workspace=ws, period=year, use_rollups=False)
    OrderDay.objects.filter(workspace=ws).update(revenue=0)  # wrong: the rebuild repairs it
    ActiveDay.objects.filter(workspace=ws).update(contacts=0)
    ContactMonth.objects.filter(workspace=ws).update(events=0, active_days=0)
    cells = _cells(ws)
    rebuilt_on: list[int] = []
    days_rebuild = periods.active_days_rebuild

    def watched(*, workspace_id: int) -> None:
        rebuilt_on.append(threading.get_ident())
        days_rebuild(workspace_id=workspace_id)

    monkeypatch.setattr("analytics.rollups.active_days_rebuild", watched)
    rollups_rebuild(workspace_id=ws.pk)
    assert rebuilt_on and rebuilt_on[0] != threading.get_ident()
    assert revenue_metrics(workspace=ws, period=year) == expected
    fast, raw = both(overview, workspace=ws, period=year, filters=Filters())
    assert fast == raw
    assert _cells(ws) == cells

    def broken(*, workspace_id: int) -> None:
        raise RuntimeError("the days failed")

    monkeypatch.setattr("analytics.rollups.active_days_rebuild", broken)
    with pytest.raises(RuntimeError, match="the days failed"):
        rollups_rebuild(workspace_id=ws.pk)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "failing",
    [
        "analytics.rollups.purchase_days_rebuild",  # while the months are being rebuilt
        "analytics.rollups.acquisition_days_rebuild",  # after the months were committed
    ],
)
def test_a_rebuild_that_fails_leaves_rollups_the_engine_keeps_exact(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    """A purchase the engine has yet to take in, then a rebuild that fails: either the
    second connection's months roll back with the rest, or (failing after they were
    committed) the cohort cells are recomputed to match them. Either way the engine's
    refresh, which moves the cells by the contact's new rows minus its stored ones,
    leaves every cell exact."""
    _world(ws, random.Random(12))
    _purchase_not_yet_taken_in(ws)

    def broken(*, workspace_id: int) -> None:
        raise RuntimeError("the rebuild failed")

    monkeypatch.setattr(failing, broken)
    with pytest.raises(RuntimeError, match="the rebuild failed"):
        rollups_rebuild(workspace_id=ws.pk)
    monkeypatch.undo()
    while marked_contacts_evaluate():
        pass
    checked, differing = cohort_cells_compare(workspace_id=ws.pk)
    assert checked > 0 and differing == 0
