"""The analytics dashboard: every report page renders for members on demo data, its
table view and CSV download carry the report's own tables, bad parameters are a 400
with the message, viewers read but cannot write, outsiders see 404s."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal
from typing import Any

import pytest

from analytics import tasks
from analytics.models import ClvModel, ClvRefit, Spend
from analytics.reports import REPORTS
from analytics.services.spend import spend_set
from analytics.urls import urlpatterns
from campaigns.models import Broadcast
from config.spreadsheet import csv_cell
from lifecycle.services import stages_create_defaults
from surveys.models import Survey
from tests.factories import ContactFactory, TemplateFactory
from workspaces.services import Actor

pytestmark = pytest.mark.django_db

KEYS = list(REPORTS)


def url(key: str, slug: str = "acme") -> str:
    return f"/w/{slug}/analytics/" if key == "overview" else f"/w/{slug}/analytics/{key}/"


def _csv(response: Any) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_every_page_renders_its_figures_for_members(owner: Any, teammate: Any, demo: Any) -> None:
    for client in (owner.web, teammate.web):
        for key in KEYS:
            response = client.get(url(key))
            assert response.status_code == 200, key
            html = response.content.decode()
            assert 'id="report-data"' in html and 'id="report-meta"' in html
            assert 'src="/static/js/analytics.js"' in html
            assert "data-chart=" in html
            # every table of the report has a table view and a CSV link
            for table in REPORTS[key].tables(response.context["data"]):
                assert f'data-table="{table.name}"' in html, (key, table.name)
                assert f"table={table.name}" in html
    nav = owner.web.get("/w/acme/contacts/").content.decode()
    assert 'href="/w/acme/analytics/"' in nav


def test_overview_cards_show_change_with_churn_rising_as_bad(owner: Any, demo: Any) -> None:
    response = owner.web.get(url("overview"))
    cards = {c["key"]: c for c in response.context["cards"]}
    figures = response.context["data"]["figures"]
    for key in ("churn_rate", "revenue"):
        change = figures[key]["change"]
        if change:
            rising_is_good = key != "churn_rate"
            expected = "good" if (change > 0) == rising_is_good else "bad"
            assert cards[key]["tone"] == expected
            assert cards[key]["arrow"] == ("▲" if change > 0 else "▼")


def test_chart_data_is_json_script_not_raw_html(owner: Any, demo: Any) -> None:
    spend_set(
        workspace=demo,
        data={"source": "</script><b>x", "month": "2026-01", "amount": "1"},
        actor=Actor(system="test"),
    )
    html = owner.web.get(url("acquisition") + "?start=2025-12-01&end=2026-02-28").content.decode()
    assert "</script><b>x" not in html
    assert "\\u003C/script\\u003E\\u003Cb\\u003Ex" in html


@pytest.mark.parametrize("key", KEYS)
def test_csv_download_is_the_reports_table(owner: Any, demo: Any, key: str) -> None:
    report = REPORTS[key]
    params = {"start": "2026-01-01", "end": "2026-03-31"}
    expected = report.tables(report.compute(report.query(params, workspace=demo)))
    for table in expected:
        response = owner.web.get(url(key), {**params, "download": "csv", "table": table.name})
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/csv")
        disposition = response["Content-Disposition"]
        assert disposition.startswith("attachment;")
        assert f"acme-{key}-{table.name}-2026-01-01-2026-03-31.csv" in disposition
        rows = _csv(response)
        assert rows[0] == table.columns
        assert rows[1:] == [["" if v is None else str(v) for v in row] for row in table.rows]


def test_unknown_table_or_report_is_404(owner: Any, demo: Any) -> None:
    assert owner.web.get(url("funnel"), {"download": "csv", "table": "nope"}).status_code == 404
    assert owner.web.get("/w/acme/analytics/nope/").status_code == 404


@pytest.mark.parametrize(
    ("params", "message", "field_error"),
    [
        ({"start": "yesterday"}, "The period is not valid.", "must be a date, YYYY-MM-DD"),
        ({"start": "2026-05-01", "end": "2026-04-01"}, "start is after end.", "must not be after"),
        ({"granularity": "hour"}, "Unknown granularity.", "one of day, week, month"),
        ({"segment": "999999"}, "No such segment.", "unknown segment"),
        ({"signup_month": "May"}, "signup_month must be YYYY-MM.", "must be YYYY-MM"),
        ({"as_of": "soon"}, "as_of must be a date.", "must be a date"),
        ({"basis": "moon"}, "Unknown cohort basis.", "one of signup, first_purchase"),
    ],
)
def test_bad_parameters_show_the_form_with_the_message(
    owner: Any, params: dict[str, str], message: str, field_error: str
) -> None:
    key = "funnel" if "as_of" in params else "cohorts" if "basis" in params else "churn"
    response = owner.web.get(url(key), params)
    assert response.status_code == 400
    html = response.content.decode()
    assert message in html
    assert field_error in html
    assert 'data-testid="report-filters"' in html
    assert 'id="report-data"' not in html
    # the CSV download with the same parameters is the same 400, not a 500
    assert owner.web.get(url(key), {**params, "download": "csv", "table": "x"}).status_code == 400


def test_csv_cells_that_look_like_formulas_are_neutralised(owner: Any, demo: Any) -> None:
    for source in ("=HYPERLINK(1)", "+cmd", "-2+3", "@SUM(A1)"):
        spend_set(
            workspace=demo,
            data={"source": source, "month": "2026-02", "amount": "10.00"},
            actor=Actor(system="test"),
        )
    response = owner.web.get(
        url("acquisition"),
        {"start": "2026-02-01", "end": "2026-02-28", "granularity": "month"}
        | {"download": "csv", "table": "rows"},
    )
    sources = [row[1] for row in _csv(response)[1:]]
    assert {"'=HYPERLINK(1)", "'+cmd", "'-2+3", "'@SUM(A1)"} <= set(sources)
    assert not any(re.match(r"^[=+\-@]", s) for s in sources)
    assert csv_cell("-12.50") == "-12.50"  # money stays a number
    assert csv_cell(-3) == "-3"
    assert csv_cell(None) == ""
    assert csv_cell("\t=1") == "'\t=1"


def test_outsider_gets_404_everywhere(outsider: Any, owner: Any, demo: Any) -> None:
    spend = Spend.objects.filter(workspace=demo).first()
    assert spend is not None
    for key in KEYS:
        assert outsider.web.get(url(key)).status_code == 404, key
        assert outsider.web.get(url(key), {"download": "csv", "table": "x"}).status_code == 404
    assert outsider.web.get("/w/acme/analytics/spend/").status_code == 404
    assert outsider.web.post("/w/acme/analytics/clv/refit/").status_code == 404
    spend_data = {"source": "x", "month": "2026-01", "amount": "1"}
    assert outsider.web.post("/w/acme/analytics/spend/", spend_data).status_code == 404
    delete = f"/w/acme/analytics/spend/{spend.pk}/delete/"
    assert outsider.web.post(delete).status_code == 404
    # nor through their own workspace's URLs
    assert outsider.web.post(f"/w/globex/analytics/spend/{spend.pk}/delete/").status_code == 404
    assert Spend.objects.filter(pk=spend.pk).exists()
    # their own analytics pages work and show nothing of acme's
    response = outsider.web.get(url("acquisition", "globex"))
    assert response.status_code == 200
    assert response.context["data"]["rows"] == []


def test_viewer_reads_but_cannot_refit_or_change_spend(teammate: Any, demo: Any) -> None:
    spend = Spend.objects.filter(workspace=demo).first()
    assert spend is not None
    fits = ClvModel.objects.filter(workspace=demo).count()
    assert teammate.web.get(url("clv")).status_code == 200
    assert "Refit now" not in teammate.web.get(url("clv")).content.decode()
    spend_page = teammate.web.get("/w/acme/analytics/spend/")
    assert spend_page.status_code == 200
    assert 'data-testid="spend-form"' not in spend_page.content.decode()
    assert teammate.web.post("/w/acme/analytics/clv/refit/").status_code == 403
    spend_data = {"source": "x", "month": "2026-01", "amount": "1"}
    assert teammate.web.post("/w/acme/analytics/spend/", spend_data).status_code == 403
    assert teammate.web.post(f"/w/acme/analytics/spend/{spend.pk}/delete/").status_code == 403
    assert ClvModel.objects.filter(workspace=demo).count() == fits
    assert Spend.objects.filter(pk=spend.pk).exists()
    assert not Spend.objects.filter(workspace=demo, source="x").exists()


def test_refit_now_queues_a_refit_and_redirects_to_its_status(owner: Any, demo: Any) -> None:
    before = ClvModel.objects.filter(workspace=demo).count()
    response = owner.web.post(
        "/w/acme/analytics/clv/refit/", {"querystring": "source=social"}, follow=True
    )
    assert response.redirect_chain[-1][0] == "/w/acme/analytics/clv/?source=social"
    refit = ClvRefit.objects.get(workspace=demo)
    assert 'id="clv-refit"' in response.content.decode()  # the page polls the status
    assert tasks.clv_refit(demo.pk, refit.pk) is not None  # what the worker does
    assert ClvModel.objects.filter(workspace=demo).count() == before + 1
    status = owner.web.get("/w/acme/analytics/clv/refit/status/").content.decode()
    assert "CLV model refitted" in status


def test_refit_without_enough_data_is_a_message(owner: Any) -> None:
    stages_create_defaults(workspace=owner.workspace)
    owner.web.post("/w/acme/analytics/clv/refit/")
    tasks.clv_refit(owner.workspace.pk, ClvRefit.objects.get(workspace=owner.workspace).pk)
    status = owner.web.get("/w/acme/analytics/clv/refit/status/").content.decode()
    assert "The CLV model was not refitted" in status
    assert not ClvModel.objects.filter(workspace=owner.workspace).exists()


def test_spend_is_set_replaced_and_deleted(owner: Any, demo: Any) -> None:
    page = owner.web.get("/w/acme/analytics/spend/")
    assert page.status_code == 200
    assert 'data-testid="spend-form"' in page.content.decode()
    data = {"source": "newsletter_ads", "month": "2026-03", "amount": "120.50"}
    response = owner.web.post("/w/acme/analytics/spend/", data, follow=True)
    assert "Spend added: newsletter_ads, 2026-03." in response.content.decode()
    owner.web.post("/w/acme/analytics/spend/", {**data, "amount": "99"})
    spend = Spend.objects.get(workspace=demo, source="newsletter_ads")
    assert spend.amount == Decimal("99.00")
    response = owner.web.post(f"/w/acme/analytics/spend/{spend.pk}/delete/", follow=True)
    assert "Spend removed" in response.content.decode()
    assert not Spend.objects.filter(pk=spend.pk).exists()


def test_spend_errors_are_shown_per_field(owner: Any) -> None:
    response = owner.web.post(
        "/w/acme/analytics/spend/", {"source": "", "month": "March", "amount": "-5"}
    )
    assert response.status_code == 200  # the form again, as the other dashboard forms do
    errors = response.context["errors"]
    assert set(errors) == {"source", "month", "amount"}
    html = response.content.decode()
    for message in ("a name of up to 200 characters", "must be YYYY-MM", "a non-negative amount"):
        assert message in html
    assert html.count('aria-invalid="true"') == 3
    assert not Spend.objects.filter(workspace=owner.workspace).exists()


def test_overview_query_count_is_bounded(
    owner: Any, demo: Any, django_assert_max_num_queries: Any
) -> None:
    with django_assert_max_num_queries(40):
        assert owner.web.get(url("overview")).status_code == 200


def test_outsider_gets_404_on_every_analytics_route_and_method(
    outsider: Any, owner: Any, demo: Any
) -> None:
    """Walks analytics.urls, so a page added later is checked too."""

    spend = Spend.objects.filter(workspace=demo).first()
    assert spend is not None
    contact = ContactFactory.create(workspace=demo)
    template = TemplateFactory.create(workspace=demo)
    broadcast = Broadcast.objects.create(
        workspace=demo, name="Secret", channel="email", template=template
    )
    survey = Survey.objects.create(workspace=demo, name="Secret NPS", kind="nps", question="Q")
    fills = {
        "key": KEYS,
        "survey_id": [str(survey.pk)],
        "spend_id": [str(spend.pk)],
        "broadcast_id": [str(broadcast.pk)],
        "contact_id": [str(contact.pk)],
    }
    for pattern in urlpatterns:
        route = str(pattern.pattern)
        names = re.findall(r"<(?:\w+:)?(\w+)>", route)
        assert set(names) <= set(fills), f"teach the walk about {names}"
        paths = [route]
        for name in names:
            paths = [
                re.sub(rf"<(?:\w+:)?{name}>", value, p) for p in paths for value in fills[name]
            ]
        for path in paths:
            for method in ("get", "post"):
                response = getattr(outsider.web, method)(f"/w/acme/{path}")
                assert response.status_code == 404, (method, path)
    assert Spend.objects.filter(pk=spend.pk).exists()


def test_clv_page_explains_the_model_and_shows_its_backtest(owner: Any, demo: Any) -> None:
    """The page says in words what probably gone means beside the stages, whether the
    spend model was used (and why not), and how the backtest came out; the parameters
    of a refused spend fit are never shown as a result."""
    owner.web.post("/w/acme/analytics/clv/refit/")
    model = ClvModel.objects.filter(workspace=demo, applied=True).latest("fitted_at")
    response = owner.web.get(url("clv"))
    page = response.content.decode()
    assert 'data-testid="clv-alive-words"' in page
    assert "Probably gone is not the same as at risk or lapsed" in page
    once = response.context["data"]["predicted"]["bought_once"]
    assert f"the {once:,} customers who bought only once" in page
    assert model.backtest is not None
    assert 'data-testid="clv-backtest"' in page
    if not model.backtest.get("skipped"):
        assert f"{model.backtest['actual_purchases']:,} happened" in page
        assert 'data-table="backtest" open' in page
    if model.spend_model == ClvModel.SpendModel.GAMMA_GAMMA:
        assert 'data-testid="clv-spend-fallback"' not in page
    else:
        assert 'data-testid="clv-spend-fallback"' in page
        assert "The spend model was not used" in page
        assert f"p = {model.p:.3f}" not in page
