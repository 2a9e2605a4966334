"""An owner rebuilds the figures from the analytics overview: the status says it waits
for a worker, a real worker rebuilds, and the page refreshes itself to say it is done.
Screenshots at 1440 and 390 px (test-artifacts/screenshots/analytics-rebuild-*)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from analytics.models import CustomerFacts
from lifecycle.services import stages_create_defaults
from tests.browser.conftest import log_in, screenshot
from tests.factories import ContactFactory
from tests.processes import purge_broker, running_worker

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_rebuild_the_figures_with_a_worker(page: Page, live_server: Any, owner: Any) -> None:
    stages_create_defaults(workspace=owner.workspace)
    for i in range(12):
        ContactFactory.create(workspace=owner.workspace, email=f"person{i}@example.com")
    CustomerFacts.objects.filter(workspace=owner.workspace).delete()
    log_in(page, live_server.url, owner.user)
    page.set_viewport_size({"width": 1440, "height": 900})
    purge_broker()
    page.goto("/w/acme/analytics/")
    page.get_by_role("button", name="Rebuild figures").click()
    status = page.get_by_test_id("rollup-rebuild-status")
    expect(status).to_contain_text("Waiting for a worker")
    screenshot(page, "analytics-rebuild-waiting-1440")

    with running_worker():
        expect(page.get_by_test_id("rollup-rebuild-status")).to_contain_text(
            "Figures rebuilt from the raw data", timeout=60_000
        )
    assert CustomerFacts.objects.filter(workspace=owner.workspace).count() == 12
    screenshot(page, "analytics-rebuild-done-1440")

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    expect(page.get_by_test_id("rollup-rebuild-status")).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390 + 1, f"the page scrolls sideways at 390 px ({width})"
    screenshot(page, "analytics-rebuild-done-390")
