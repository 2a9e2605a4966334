"""The analytics dashboard in a real browser on demo-like data: every report page draws
its charts (ECharts renders a canvas in each container), shows its tables, and is
screenshotted as test-artifacts/screenshots/analytics-<key>.png."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from analytics.report_query import local_today
from analytics.reports import REPORTS
from demo.analytics import demo_analytics_create
from demo.contacts import demo_contacts_create
from demo.lifecycle import demo_history_replay
from lifecycle.services import stages_create_defaults
from tests.browser.conftest import log_in, screenshot
from tests.processes import purge_broker, running_worker

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def url(key: str) -> str:
    return "/w/acme/analytics/" if key == "overview" else f"/w/acme/analytics/{key}/"


@pytest.fixture
def demo(owner: Any) -> Any:
    """As seed_demo builds it, with 300 contacts."""
    ws = owner.workspace
    ws.time_zone = "America/New_York"
    ws.save()
    stages_create_defaults(workspace=ws)
    demo_contacts_create(workspace=ws, contacts=300, seed=7, today=local_today(ws))
    demo_history_replay(workspace=ws)
    demo_analytics_create(workspace=ws, today=local_today(ws), seed=7)
    return ws


def _charts_drawn(page: Page) -> int:
    charts = page.locator("[data-chart]")
    count = charts.count()
    assert count > 0
    for i in range(count):
        chart = charts.nth(i)
        expect(chart).to_have_attribute("data-drawn", "true")
        expect(chart.locator("canvas, svg").first).to_be_attached()
        box = chart.bounding_box()
        assert box is not None and box["width"] > 200 and box["height"] > 200
    return count


def test_every_report_page_draws_its_charts_and_tables(
    page: Page, live_server: Any, owner: Any, demo: Any
) -> None:
    log_in(page, live_server.url, owner.user)
    for key in REPORTS:
        page.goto(url(key))
        expect(page.get_by_role("heading", name=REPORTS[key].title, exact=True)).to_be_visible()
        _charts_drawn(page)
        views = page.locator("details.table-view")
        assert views.count() >= 1
        first = views.first
        first.locator("summary").click()
        rows = first.locator("tbody tr")
        expect(rows.first).to_be_visible()
        assert rows.count() > 0
        expect(rows.first).not_to_contain_text("No rows for these filters")
        expect(first.get_by_role("link", name="Download CSV")).to_be_visible()
        first.locator("summary").click()  # closed again for the screenshot
        page.wait_for_timeout(500)  # let ECharts finish its entry animation
        screenshot(page, f"analytics-{key}")
    page.goto("/w/acme/analytics/spend/")
    expect(page.get_by_test_id("spend-rows").locator("tbody tr").first).to_be_visible()
    screenshot(page, "analytics-spend")


def test_filters_toggle_resize_and_csv(page: Page, live_server: Any, owner: Any, demo: Any) -> None:
    log_in(page, live_server.url, owner.user)
    page.goto(url("cohorts"))
    _charts_drawn(page)
    page.get_by_role("button", name="Purchasing").click()
    expect(page.get_by_role("button", name="Purchasing")).to_have_attribute("aria-pressed", "true")
    # charts follow the window's width
    chart = page.locator("[data-chart='cohorts'] canvas").first
    wide = chart.bounding_box()
    page.set_viewport_size({"width": 900, "height": 900})
    page.wait_for_timeout(300)
    narrow = chart.bounding_box()
    assert wide is not None and narrow is not None and narrow["width"] < wide["width"]
    # the filter form is a GET that keeps its values
    page.set_viewport_size({"width": 1360, "height": 900})
    page.goto(url("funnel"))
    page.get_by_label("By").select_option("month")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"granularity=month"))
    expect(page.get_by_label("By")).to_have_value("month")
    _charts_drawn(page)
    page.locator("details[data-table='movement'] summary").click()
    with page.expect_download() as download:
        page.get_by_test_id("csv-movement").click()
    assert download.value.suggested_filename.startswith("acme-funnel-movement-")


def _refit(page: Page) -> None:
    """Refit now: a worker refits while the page shows its live status, then the page
    shows the new model."""
    purge_broker()
    with running_worker():
        page.get_by_role("button", name="Refit now").click()
        expect(page.get_by_test_id("clv-refit-status")).to_be_visible()
        expect(page.get_by_test_id("clv-refit-status")).to_contain_text(
            "CLV model refitted", timeout=60_000
        )


def test_refit_and_spend(page: Page, live_server: Any, owner: Any, demo: Any) -> None:
    log_in(page, live_server.url, owner.user)
    page.goto(url("clv"))
    expect(page.get_by_test_id("clv-model-words")).to_contain_text("Predictions come from")
    expect(page.get_by_test_id("clv-model")).to_be_hidden()  # parameters for analysts only
    page.get_by_text("About this model").click()
    expect(page.get_by_test_id("clv-model")).to_contain_text("BG/NBD")
    _refit(page)
    page.goto("/w/acme/analytics/spend/")
    form = page.get_by_test_id("spend-form")
    form.get_by_label("Source").fill("billboards")
    form.get_by_label("Month").fill("2026-02")
    form.get_by_label("Amount").fill("abc")
    form.get_by_role("button", name="Set spend").click()
    expect(page.get_by_test_id("spend-form")).to_contain_text("a non-negative amount")
    page.get_by_test_id("spend-form").get_by_label("Amount").fill("250")
    page.get_by_role("button", name="Set spend").click()
    expect(page.locator(".flash-success")).to_contain_text("Spend added: billboards, 2026-02.")
    row = page.get_by_test_id("spend-rows").locator("tr", has_text="billboards")
    expect(row).to_contain_text("250.00")
    row.get_by_role("button", name="Delete").click()
    expect(page.locator(".flash-success")).to_contain_text("Spend removed")
    expect(page.get_by_test_id("spend-rows").locator("tr", has_text="billboards")).to_have_count(0)


def test_clv_page_says_how_far_to_trust_the_model(
    page: Page, live_server: Any, owner: Any, demo: Any
) -> None:
    """After a refit the CLV page explains probably gone beside the stages, shows the
    backtest table open, and says when the spend model was refused; every page says
    when its figures were computed (at 1440 and 390 px)."""
    log_in(page, live_server.url, owner.user)
    page.goto(url("clv"))
    _refit(page)
    expect(page.get_by_test_id("computed-at")).to_contain_text(
        re.compile(r"Computed \d{1,2} [A-Z][a-z]{2} \d{4}, \d\d:\d\d:\d\d \(America/New_York\)")
    )
    expect(page.get_by_test_id("clv-alive-words")).to_contain_text(
        "Probably gone is not the same as at risk or lapsed"
    )
    expect(page.get_by_test_id("clv-backtest")).to_be_visible()
    table = page.locator("details[data-table='backtest'] table")
    if page.get_by_test_id("clv-backtest").inner_text().startswith("Backtest:"):
        expect(table).to_be_visible()
        expect(table.locator("thead")).to_contain_text("predicted purchases")
    if page.get_by_test_id("clv-spend-fallback").count():
        expect(page.get_by_test_id("clv-spend-fallback")).to_contain_text(
            "The spend model was not used"
        )
    screenshot(page, "analytics-clv-trust-1440")
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    expect(page.get_by_test_id("clv-alive-words")).to_be_visible()
    screenshot(page, "analytics-clv-trust-390")
    page.goto(url("overview"))
    expect(page.get_by_test_id("computed-at")).to_be_visible()
    screenshot(page, "analytics-overview-390")


def test_charts_keep_still_for_a_reader_who_asks_for_less_motion(
    page: Page, browser: Any, live_server: Any, owner: Any, demo: Any
) -> None:
    """prefers-reduced-motion: every chart of the overview is drawn without ECharts'
    entry animations; without it they animate as before."""
    animated = (
        "() => Array.from(document.querySelectorAll('[data-chart]')).map(el => "
        "window.echarts.getInstanceByDom(el).getOption().animation)"
    )
    log_in(page, live_server.url, owner.user)
    page.goto(url("overview"))
    expect(page.locator("[data-chart='flow-sankey']")).to_have_attribute("data-drawn", "true")
    assert page.evaluate(animated) == [False, False]
    moving = browser.new_context(base_url=live_server.url, reduced_motion="no-preference")
    try:
        other = moving.new_page()
        log_in(other, live_server.url, owner.user)
        other.goto(url("overview"))
        expect(other.locator("[data-chart='flow-sankey']")).to_have_attribute("data-drawn", "true")
        assert other.evaluate(animated) == ["auto", "auto"]  # ECharts' default
    finally:
        moving.close()
