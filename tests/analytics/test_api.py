"""The analytics API: every report answers with the parameters it used, bad parameters
are 400s naming the field, the CLV model can be refitted and backtested, spend feeds
CAC, and an outsider sees none of it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from analytics import tasks
from analytics.models import ClvModel, ContactMonth, CustomerFacts, Spend, Stay
from analytics.report_query import local_today
from analytics.reports import REPORTS
from analytics.rollups import rollups_rebuild
from contacts.models import Contact
from demo.contacts import demo_contacts_create
from demo.lifecycle import demo_history_replay
from lifecycle.services import stages_create_defaults
from tests.factories import SegmentFactory, SpendFactory
from workspaces.models import AuditEntry

pytestmark = pytest.mark.django_db


def test_every_report_answers_with_its_parameters(api: Any, demo: Any) -> None:
    today = local_today(demo)
    for key, report in REPORTS.items():
        response = api.get(f"/api/v1/analytics/{key}/")
        assert response.status_code == 200, (key, response.content[:300])
        body = response.json()
        assert body["report"] == key
        assert body["parameters"]["end"] == today.isoformat()
        expected_start = today - dt.timedelta(days=report.default_days - 1)
        assert body["parameters"]["start"] == expected_start.isoformat()
        assert body["parameters"]["granularity"] == report.default_granularity


def test_reports_carry_the_demo_figures(api: Any, demo: Any) -> None:
    funnel = api.get("/api/v1/analytics/funnel/").json()
    assert sum(s["contacts"] for s in funnel["stages"]) == 250
    assert {row["stage"] for row in funnel["movement"]} == {s["stage"] for s in funnel["stages"]}

    year_ago = local_today(demo) - dt.timedelta(days=400)
    flow = api.get(f"/api/v1/analytics/flow/?start={year_ago}").json()
    # every contact's first entry is a move from nowhere
    assert sum(t["moves"] for t in flow["transitions"] if t["from"] is None) == 250

    clv = api.get("/api/v1/analytics/clv/").json()
    facts = CustomerFacts.objects.filter(workspace=demo, purchases__gt=0)
    assert clv["historic"]["customers"] == facts.count()
    revenue = sum((f.revenue for f in facts), Decimal(0))
    assert Decimal(clv["historic"]["revenue"]) == revenue
    assert clv["model"]["applied"] is True
    assert clv["predicted"]["customers"] == facts.count()

    cohorts = api.get("/api/v1/analytics/cohorts/?basis=first_purchase").json()
    assert cohorts["basis"] == "first_purchase"
    assert sum(c["size"] for c in cohorts["cohorts"]) == facts.count()


def test_filters_narrow_the_figures(api: Any, demo: Any) -> None:
    everyone = api.get("/api/v1/analytics/funnel/").json()
    total = sum(s["contacts"] for s in everyone["stages"])
    source = CustomerFacts.objects.filter(workspace=demo).values_list("source", flat=True)[0]
    by_source = api.get(f"/api/v1/analytics/funnel/?source={source}").json()
    in_source = CustomerFacts.objects.filter(workspace=demo, source=source).count()
    assert sum(s["contacts"] for s in by_source["stages"]) == in_source < total
    assert by_source["parameters"]["source"] == source

    segment = SegmentFactory.create(
        workspace=demo, name="Pro", rule={"attr": "plan", "op": "eq", "value": "pro"}
    )
    pro = Contact.objects.filter(workspace=demo, attributes__plan="pro").count()
    by_segment = api.get(f"/api/v1/analytics/funnel/?segment={segment.pk}").json()
    assert sum(s["contacts"] for s in by_segment["stages"]) == pro
    assert by_segment["parameters"]["segment"] == segment.pk


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("start=2026-02-30", "start"),
        ("end=yesterday", "end"),
        ("start=2026-05-01&end=2026-04-01", "start"),
        ("start=2000-01-01&end=2026-01-01", "start"),
        ("granularity=year", "granularity"),
        ("segment=abc", "segment"),
        ("signup_month=2026-13", "signup_month"),
        ("as_of=tomorrow", "as_of"),
        ("basis=lastname", "basis"),
    ],
)
def test_bad_parameters_name_the_field(api: Any, owner: Any, query: str, field: str) -> None:
    response = api.get(f"/api/v1/analytics/funnel/?{query}")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


def test_clv_model_fit_backtest_and_errors(api: Any, demo: Any, outsider_api: Any) -> None:
    current = api.get("/api/v1/analytics/clv/model/")
    assert current.status_code == 200
    model = current.json()
    for name in ("r", "alpha", "a", "b", "p", "q", "gamma", "log_likelihood", "fit_seconds"):
        assert isinstance(model[name], float), name
    assert model["as_of"] == local_today(demo).isoformat()

    as_of = local_today(demo) - dt.timedelta(days=120)
    backtest = api.post("/api/v1/analytics/clv/model/", {"as_of": as_of.isoformat()})
    assert backtest.status_code == 201
    body = backtest.json()
    assert body["as_of"] == as_of.isoformat()
    assert body["applied"] is False
    assert body["holdout"]["until"] == local_today(demo).isoformat()
    assert body["holdout"]["actual_purchases"] > 0
    assert body["holdout"]["predicted_purchases"] > 0
    # a backtest does not replace the predictions on the contacts
    assert api.get("/api/v1/analytics/clv/").json()["model"]["as_of"] == model["as_of"]
    assert api.get("/api/v1/analytics/clv/model/").json()["id"] == body["id"]

    future = local_today(demo) + dt.timedelta(days=1)
    response = api.post("/api/v1/analytics/clv/model/", {"as_of": future.isoformat()})
    assert response.status_code == 400
    assert "as_of" in response.json()["error"]["fields"]
    response = api.post("/api/v1/analytics/clv/model/", {"as_of": "soon"})
    assert response.status_code == 400

    # The outsider has no purchases: nothing to fit, and nothing of ours to read.
    assert outsider_api.get("/api/v1/analytics/clv/model/").status_code == 404
    refused = outsider_api.post("/api/v1/analytics/clv/model/", {})
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "not_enough_data"
    assert ClvModel.objects.filter(workspace=demo).count() == 2


def test_spend_feeds_cac_and_is_audited(api: Any, owner: Any, outsider_api: Any) -> None:
    created = api.post(
        "/api/v1/analytics/spend/", {"source": "paid_search", "month": "2026-03", "amount": "900"}
    )
    assert created.status_code == 201
    assert created.json()["amount"] == "900.00"
    replaced = api.post(
        "/api/v1/analytics/spend/",
        {"source": "paid_search", "month": "2026-03", "amount": "1200.50"},
    )
    assert replaced.status_code == 200
    assert replaced.json()["id"] == created.json()["id"]
    assert Spend.objects.get(workspace=owner.workspace).amount == Decimal("1200.50")

    for bad, field in [
        ({"source": "", "month": "2026-03", "amount": "1"}, "source"),
        ({"source": "tv", "month": "March", "amount": "1"}, "month"),
        ({"source": "tv", "month": "2026-03", "amount": "-1"}, "amount"),
        ({"source": "tv", "month": "2026-03", "amount": "1.234"}, "amount"),
        ({"source": "tv", "month": "2026-03", "amount": "NaN"}, "amount"),
    ]:
        response = api.post("/api/v1/analytics/spend/", bad)
        assert response.status_code == 400, bad
        assert field in response.json()["error"]["fields"], bad

    spend_id = created.json()["id"]
    assert outsider_api.get(f"/api/v1/analytics/spend/{spend_id}/").status_code == 404
    assert outsider_api.delete(f"/api/v1/analytics/spend/{spend_id}/").status_code == 404
    assert outsider_api.get("/api/v1/analytics/spend/").json()["results"] == []
    assert api.get("/api/v1/analytics/spend/").json()["results"][0]["source"] == "paid_search"

    assert api.delete(f"/api/v1/analytics/spend/{spend_id}/").status_code == 204
    assert not Spend.objects.filter(pk=spend_id).exists()
    actions = list(
        AuditEntry.objects.filter(workspace=owner.workspace, object_type="spend")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["analytics.spend_set", "analytics.spend_set", "analytics.spend_deleted"]


def test_outsider_reports_show_only_their_own_workspace(
    api: Any, demo: Any, outsider_api: Any
) -> None:
    for key in REPORTS:
        response = outsider_api.get(f"/api/v1/analytics/{key}/")
        assert response.status_code == 200, key
        assert "Acme" not in response.content.decode()
    funnel = outsider_api.get("/api/v1/analytics/funnel/").json()
    assert sum(s["contacts"] for s in funnel["stages"]) == 0
    clv = outsider_api.get("/api/v1/analytics/clv/").json()
    assert clv["historic"]["customers"] == 0
    assert clv["model"] is None
    segment = SegmentFactory.create(
        workspace=demo, name="ours", rule={"attr": "plan", "op": "eq", "value": "pro"}
    )
    response = outsider_api.get(f"/api/v1/analytics/funnel/?segment={segment.pk}")
    assert response.status_code == 400  # not ours: an unknown segment, never its contacts


def test_figures_are_cached_until_something_changes_them_all(
    api: Any, owner: Any, settings: Any
) -> None:
    settings.ANALYTICS_CACHE_SECONDS = 300
    url = "/api/v1/analytics/acquisition/?granularity=month"
    first = api.get(url).json()
    assert first["rows"] == []
    # Written behind the service's back: the figures stay as computed...
    SpendFactory.create(workspace=owner.workspace, source="tv", month="2026-01-01", amount=5)
    again = api.get(url).json()
    assert again == first
    assert api.get(url + "&source=tv").json()["computed_at"] >= first["computed_at"]
    # ...and a change through the service computes them afresh.
    api.post("/api/v1/analytics/spend/", {"source": "radio", "month": "2026-01", "amount": "7"})
    fresh = api.get(url).json()
    assert fresh["computed_at"] > first["computed_at"]


def test_viewed_workspaces_are_kept_warm(
    api: Any, owner: Any, outsider: Any, settings: Any
) -> None:
    settings.ANALYTICS_CACHE_SECONDS = 300
    assert tasks.figures_warm() == []  # nobody looked yet: nothing to compute
    first = api.get("/api/v1/analytics/funnel/").json()
    assert tasks.figures_warm() == [owner.workspace.pk]
    assert tasks.figures_warm_workspace(owner.workspace.pk) == len(REPORTS)
    warmed = api.get("/api/v1/analytics/funnel/").json()
    assert warmed["computed_at"] > first["computed_at"]
    assert tasks.figures_warm_workspace(10**9) == 0


def test_deleting_a_workspace_takes_its_derived_rows(demo: Any, outsider: Any) -> None:
    """The stays, facts and months keep no constraint to cascade along (a rebuild
    writes millions); deleting the workspace clears them all the same."""

    other = outsider.workspace
    stages_create_defaults(workspace=other)
    demo_contacts_create(workspace=other, contacts=20, seed=5, today=local_today(other))
    demo_history_replay(workspace=other)
    rollups_rebuild(workspace_id=other.pk)
    workspace_id = demo.pk
    for model in (Stay, CustomerFacts, ContactMonth):
        assert model.objects.filter(workspace_id=workspace_id).exists(), model
    demo.delete()
    for model in (Stay, CustomerFacts, ContactMonth):
        assert not model.objects.filter(workspace_id=workspace_id).exists(), model
        assert model.objects.filter(workspace_id=other.pk).exists(), model  # only its own
