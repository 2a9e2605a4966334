"""The CLV service on a workspace's own purchases: a fit as of today writes predictions
that rules can read; a fit as of a past day is a backtest that leaves them alone; the
nightly claims hand each job out once."""

from __future__ import annotations

import datetime as dt
import random
import zoneinfo
from decimal import Decimal
from typing import Any

import pytest

from analytics import tasks
from analytics.models import AnalyticsSettings, ClvModel, CustomerFacts
from analytics.report_query import local_today
from analytics.rollups import rollups_rebuild
from analytics.rules import uses_predictions
from analytics.services import clv_fit, clv_fits_due, predictions_in_use, rebuilds_due
from config.errors import Conflict, InvalidInput
from contacts.models import Contact, Event
from contacts.rules import contacts_matching
from lifecycle.models import SweepRun
from tests.factories import ContactFactory, EventFactory, SegmentFactory
from workspaces.models import Workspace

pytestmark = pytest.mark.django_db

NOON = dt.time(12, tzinfo=dt.UTC)


def _buyer(ws: Workspace, name: str, days_ago: list[int], amount: str) -> Contact:
    today = local_today(ws)
    contact = ContactFactory.create(
        workspace=ws, email=f"{name}@example.com", first_name=name, attributes={}
    )
    for d in days_ago:
        EventFactory.create(
            workspace=ws,
            contact=contact,
            name="purchase",
            occurred_at=dt.datetime.combine(today - dt.timedelta(days=d), NOON),
            revenue=Decimal(amount),
        )
    return contact


@pytest.fixture
def shop(ws: Workspace) -> dict[str, Contact]:
    """24 customers: loyal ones buying every month until now, lapsed ones who bought
    often and stopped a year ago, one-off buyers; and a contact who never bought."""
    people: dict[str, Contact] = {}
    for i in range(8):
        people[f"loyal{i}"] = _buyer(ws, f"loyal{i}", [400 - 30 * k for k in range(14)], "60")
    for i in range(8):
        people[f"lapsed{i}"] = _buyer(ws, f"lapsed{i}", [700 - 30 * k for k in range(10)], "40")
    for i in range(8):
        people[f"once{i}"] = _buyer(ws, f"once{i}", [200 + 10 * i], str(20 + i))
    people["browser"] = ContactFactory.create(workspace=ws, email="browser@example.com")
    rollups_rebuild(workspace_id=ws.pk)
    return people


def _facts(contact: Contact) -> CustomerFacts:
    return CustomerFacts.objects.get(contact_id=contact.pk)


def test_fit_as_of_today_writes_predictions(ws: Workspace, shop: dict[str, Contact]) -> None:
    model = clv_fit(workspace=ws)
    assert model.applied and model.as_of == local_today(ws)
    assert model.customers == 24
    assert model.repeat_customers == 16
    assert all(v > 0 for v in (model.r, model.alpha, model.a, model.b))
    loyal, lapsed = _facts(shop["loyal0"]), _facts(shop["lapsed0"])
    values = [(f.probability_alive, f.expected_purchases, f.predicted_clv) for f in (loyal, lapsed)]
    assert all(v is not None for row in values for v in row)
    (loyal_alive, loyal_expected, loyal_clv), (lapsed_alive, lapsed_expected, lapsed_clv) = values
    # still buying every month vs silent for a year after buying every month
    assert loyal_alive > 0.9 > 0.2 > lapsed_alive  # type: ignore[operator]
    assert loyal_expected > lapsed_expected  # type: ignore[operator]
    assert loyal_clv > lapsed_clv > 0  # type: ignore[operator]
    # who never bought has no prediction
    assert _facts(shop["browser"]).probability_alive is None


def test_rules_read_the_predictions(ws: Workspace, shop: dict[str, Contact]) -> None:
    clv_fit(workspace=ws)
    rule = {
        "all": [
            {"field": "predicted_clv", "op": "gte", "value": 100},
            {"field": "probability_alive", "op": "gte", "value": 0.5},
        ]
    }
    matched = set(contacts_matching(rule, workspace=ws).values_list("pk", flat=True))
    expected = {
        f.contact_id
        for f in CustomerFacts.objects.filter(workspace=ws, predicted_clv__isnull=False)
        if f.predicted_clv >= 100 and f.probability_alive >= 0.5  # type: ignore[operator]
    }
    assert matched == expected
    assert {shop[f"loyal{i}"].pk for i in range(8)} <= matched
    assert not {shop[f"lapsed{i}"].pk for i in range(8)} & matched

    nobody = {"field": "probability_alive", "op": "exists", "value": False}
    assert list(contacts_matching(nobody, workspace=ws)) == [shop["browser"]]

    assert uses_predictions(rule)
    assert not uses_predictions({"attr": "plan", "op": "eq", "value": "pro"})
    assert not predictions_in_use(workspace=ws)
    SegmentFactory.create(workspace=ws, name="Valuable", rule=rule)
    assert predictions_in_use(workspace=ws)


def test_backtest_leaves_the_predictions_alone(ws: Workspace, shop: dict[str, Contact]) -> None:
    clv_fit(workspace=ws)
    before = _facts(shop["loyal0"]).predicted_clv
    as_of = local_today(ws) - dt.timedelta(days=150)
    backtest = clv_fit(workspace=ws, as_of=as_of)
    assert not backtest.applied and backtest.as_of == as_of
    assert backtest.holdout is not None
    tz = zoneinfo.ZoneInfo(ws.time_zone)
    days: dict[int, set[dt.date]] = {}
    for contact_id, at in Event.objects.filter(workspace=ws, name="purchase").values_list(
        "contact_id", "occurred_at"
    ):
        days.setdefault(contact_id, set()).add(at.astimezone(tz).date())
    calibration = {c: d for c, d in days.items() if min(d) <= as_of}
    assert backtest.holdout["customers"] == len(calibration) == 24
    actual = sum(1 for d in calibration.values() for day in d if day > as_of)
    assert actual == 8 * 5  # the loyal customers' monthly purchases since
    assert backtest.holdout["actual_purchases"] == actual
    assert _facts(shop["loyal0"]).predicted_clv == before


def test_fit_refuses_the_future_and_too_little_history(ws: Workspace) -> None:
    with pytest.raises(InvalidInput):
        clv_fit(workspace=ws, as_of=local_today(ws) + dt.timedelta(days=1))
    _buyer(ws, "solo", [10, 40], "30")
    rollups_rebuild(workspace_id=ws.pk)
    with pytest.raises(Conflict) as refused:
        clv_fit(workspace=ws)
    assert refused.value.code == "not_enough_data"
    assert not ClvModel.objects.filter(workspace=ws).exists()


def test_nightly_claims_hand_each_job_out_once(ws: Workspace, outsider: Any) -> None:
    now = dt.datetime(2026, 11, 23, 3, tzinfo=dt.UTC)
    day = dt.timedelta(days=1)
    first = rebuilds_due(every=day, now=now)
    assert set(first) >= {ws.pk, outsider.workspace.pk}
    assert rebuilds_due(every=day, now=now + dt.timedelta(minutes=5)) == []
    assert set(rebuilds_due(every=day, now=now + day + dt.timedelta(seconds=1))) == set(first)
    # refits are claimed apart from rebuilds
    assert set(clv_fits_due(every=day, now=now)) == set(first)
    settings = AnalyticsSettings.objects.get(workspace=ws)
    assert settings.rollups_rebuilt_at == now + day + dt.timedelta(seconds=1)
    assert settings.clv_fitted_at == now


def test_refit_task_moves_contacts_only_when_rules_read_predictions(
    ws: Workspace, shop: dict[str, Contact]
) -> None:
    assert tasks.clv_refit(ws.pk) is not None
    assert not SweepRun.objects.filter(workspace=ws).exists()
    SegmentFactory.create(
        workspace=ws, name="At risk", rule={"field": "probability_alive", "op": "lt", "value": 0.3}
    )
    model_id = tasks.clv_refit(ws.pk)
    assert model_id is not None
    assert ClvModel.objects.get(pk=model_id).applied
    assert SweepRun.objects.filter(workspace=ws, reason="CLV predictions refitted").count() == 1
    assert tasks.clv_refit(10**9) is None  # a deleted workspace is nothing to do


def _purchase_days(ws: Workspace) -> dict[int, dict[dt.date, Decimal]]:
    """Each customer's purchase days and what they spent on each (raw events)."""
    tz = zoneinfo.ZoneInfo(ws.time_zone)
    days: dict[int, dict[dt.date, Decimal]] = {}
    for contact_id, at, revenue in Event.objects.filter(
        workspace=ws, name="purchase", revenue__isnull=False
    ).values_list("contact_id", "occurred_at", "revenue"):
        day = at.astimezone(tz).date()
        days.setdefault(contact_id, {}).setdefault(day, Decimal(0))
        days[contact_id][day] += revenue or Decimal(0)
    return days


def test_a_degenerate_spend_fit_is_refused_and_the_shrunk_mean_used(
    ws: Workspace, shop: dict[str, Contact]
) -> None:
    """Every customer of the shop spends the same on each of their orders: Gamma-Gamma
    runs p to the edge of its search (the demo's p = 3269017.226, gamma = 0.000). The
    fit says so in words and predicts each customer's order value as their own mean
    repeat order shrunk to the mean of all repeat orders, counted as one order."""
    model = clv_fit(workspace=ws)
    assert model.spend_model == ClvModel.SpendModel.SHRUNK_MEAN
    assert "edge" in model.spend_model_reason
    # independently: x repeat days and their mean value per customer
    stats = {}
    for contact_id, spent in _purchase_days(ws).items():
        ordered = [spent[d] for d in sorted(spent)]
        x = len(ordered) - 1
        stats[contact_id] = (x, sum(ordered[1:], Decimal(0)) / x if x else Decimal(0))
    repeat_orders = sum(x for x, _ in stats.values())
    mean = sum((x * m for x, m in stats.values()), Decimal(0)) / repeat_orders
    assert mean == Decimal(8 * 13 * 60 + 8 * 9 * 40) / (8 * 13 + 8 * 9)
    assert model.population_mean_order == mean.quantize(Decimal("0.01"))
    for contact_id, (x, m) in stats.items():
        facts = CustomerFacts.objects.get(contact_id=contact_id)
        value = (x * m + mean) / (x + 1)
        assert facts.expected_purchases is not None and facts.predicted_clv is not None
        expected = Decimal(str(facts.expected_purchases)) * value
        assert abs(facts.predicted_clv - expected) <= Decimal("0.02"), (contact_id, x)


def test_a_sound_spend_fit_is_used(ws: Workspace) -> None:
    """Customers whose orders vary around means that differ between them: the
    Gamma-Gamma fit is kept and its parameters are inside the search."""
    rng = random.Random(7)
    for i in range(30):
        level = rng.choice([20, 35, 50, 80, 120])
        days = sorted({rng.randint(5, 500) for _ in range(rng.randint(2, 8))}, reverse=True)
        contact = ContactFactory.create(workspace=ws, email=f"v{i}@example.com")
        for d in days:
            EventFactory.create(
                workspace=ws,
                contact=contact,
                name="purchase",
                occurred_at=dt.datetime.combine(local_today(ws) - dt.timedelta(days=d), NOON),
                revenue=Decimal(f"{level * rng.uniform(0.5, 1.5):.2f}"),
            )
    rollups_rebuild(workspace_id=ws.pk)
    model = clv_fit(workspace=ws)
    assert model.spend_model == ClvModel.SpendModel.GAMMA_GAMMA, model.spend_model_reason
    assert model.spend_model_reason == ""
    assert all(1e-6 < v < 1e6 for v in (model.p, model.q, model.gamma))  # type: ignore[operator]


def test_an_applied_fit_carries_its_backtest(ws: Workspace, shop: dict[str, Contact]) -> None:
    """The history reaches 700 days back, so the holdout is the longest, 91 days; the
    actual purchases since are counted here from the raw events, by the customers'
    repeat purchase days up to the holdout's start."""
    model = clv_fit(workspace=ws)
    backtest = model.backtest
    assert backtest is not None
    today = local_today(ws)
    as_of = today - dt.timedelta(days=91)
    assert (backtest["as_of"], backtest["until"], backtest["days"]) == (
        as_of.isoformat(),
        today.isoformat(),
        91,
    )
    groups: dict[str, tuple[int, int]] = {}
    for spent in _purchase_days(ws).values():
        before = [d for d in spent if d <= as_of]
        if not before:
            continue
        x = min(len(before) - 1, 7)
        key = str(x) if x < 7 else "7+"
        customers, actual = groups.get(key, (0, 0))
        groups[key] = (customers + 1, actual + sum(1 for d in spent if d > as_of))
    got = {
        g["repeat_purchases"]: (g["customers"], g["actual_purchases"]) for g in backtest["groups"]
    }
    assert got == groups
    assert backtest["actual_purchases"] == sum(a for _, a in groups.values()) == 8 * 3
    assert backtest["customers"] == 24
    predicted = sum(g["predicted_purchases"] for g in backtest["groups"])
    assert abs(predicted - backtest["predicted_purchases"]) < 0.5
    error = (backtest["predicted_purchases"] - 24) / 24
    assert backtest["error"] == pytest.approx(error, abs=0.01)
    assert backtest["error_size"] in ("close", "rough", "far")
