"""A marketer reads the loyalty report: the liability card on the analytics overview,
then Analytics → Loyalty with its cards, the points, members, tier and tier-move charts
(a tier named with markup shown as text), at 1440 and at 390 px."""

from __future__ import annotations

import random
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from analytics.rollups.loyalty import loyalty_rollups_rebuild
from tests.analytics.test_loyalty_figures import _world
from tests.browser.conftest import log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_loyalty_report_at_1440_and_390(page: Page, live_server: Any, owner: Any) -> None:
    ws = owner.workspace
    _world(ws, random.Random(17))
    loyalty_rollups_rebuild(workspace_id=ws.pk)
    dialogs: list[str] = []

    def on_dialog(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    log_in(page, live_server.url, owner.user)
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto("/w/acme/analytics/")
    card = page.get_by_test_id("overview-loyalty-liability")
    expect(card).to_contain_text("Points liability")
    expect(card).to_contain_text(ws.currency)
    page.get_by_role("navigation", name="Analytics reports").get_by_role(
        "link", name="Loyalty"
    ).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Loyalty")
    expect(page.get_by_test_id("loyalty-members")).to_contain_text("25")
    expect(page.get_by_test_id("loyalty-liability")).to_contain_text(ws.currency)
    for chart in ("points", "members", "tiers", "tier-moves"):
        expect(page.locator(f'[data-chart="loyalty-{chart}"]')).to_have_attribute(
            "data-drawn", "true"
        )
    page.locator('details[data-table="tiers"] summary').click()
    expect(page.locator('details[data-table="tiers"] table')).to_contain_text("Gold <b>")
    screenshot(page, "loyalty-report-1440")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/w/acme/analytics/loyalty/?granularity=month")
    expect(page.get_by_test_id("loyalty-cards")).to_be_visible()
    screenshot(page, "loyalty-report-390")
    assert dialogs == []
