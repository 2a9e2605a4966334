"""An owner sets up the loyalty programme in a real browser (Settings → Loyalty): the
earning rules, a reward and its codes; then a purchase sent over the API earns the
points the page promised."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from contacts.services.events import events_ingest
from lifecycle.services import marked_contacts_evaluate
from loyalty.models import PointsBalance, RewardCode
from tests.browser.conftest import log_in, screenshot
from tests.factories import ContactFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAGE_WIDTH = "() => document.documentElement.scrollWidth"


def test_owner_configures_a_programme_and_a_reward(page: Page, live_server, owner):
    page.set_viewport_size({"width": 1440, "height": 900})
    log_in(page, live_server.url, owner.user)
    page.goto("/w/acme/settings/")
    page.click(".subnav a:has-text('Loyalty')")
    expect(page.locator("h2#programme-title")).to_have_text("Loyalty programme")

    page.check("input[name=enabled]")
    page.fill("input[name=points_per_unit]", "lots")
    page.click("button:has-text('Save programme')")
    expect(page.locator(".field-error").first).to_contain_text("a number from 0 to 10000")
    page.fill("input[name=points_per_unit]", "2")
    page.fill("input[name=daily_cap]", "5000")
    page.locator("input[name=event_name]").first.fill("review")
    page.locator("input[name=event_points]").first.fill("50")
    page.click("button:has-text('Save programme')")
    expect(page.locator("[role=status], .flash").first).to_contain_text("Loyalty programme saved")
    expect(page.locator("input[name=event_name]").first).to_have_value("review")

    page.fill(".reward-form input[name=name]", "10% off your next order")
    page.select_option(".reward-form select[name=kind]", "discount_code")
    page.fill(".reward-form input[name=points_cost]", "500")
    page.fill(".reward-form input[name=per_contact_limit]", "1")
    page.click("button:has-text('Add reward')")
    row = page.locator("tr[id^=reward-]").first
    expect(row).to_contain_text("10% off your next order")
    page.click("summary:has-text('Add codes')")
    page.fill("input[name=generate]", "25")
    page.click("button:has-text('Add codes')")
    expect(page.locator(".flash").first).to_contain_text("25 codes added")
    expect(page.locator("tr[id^=reward-] td").nth(3)).to_have_text("25")
    assert RewardCode.objects.count() == 25
    screenshot(page, "loyalty-settings-1440")
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate(PAGE_WIDTH) <= 390
    screenshot(page, "loyalty-settings-390")

    # What the page promised: 2 points per unit, so a 49.99 purchase earns 99.
    contact = ContactFactory.create(workspace=owner.workspace)
    events_ingest(
        workspace=owner.workspace,
        items=[{"contact": {"id": contact.pk}, "name": "purchase", "revenue": "49.99"}],
    )
    while marked_contacts_evaluate():
        pass
    assert PointsBalance.objects.get(contact=contact).balance == 99
