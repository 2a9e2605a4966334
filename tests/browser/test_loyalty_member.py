"""The member's side in a real browser: an owner sets up the programme, a tier and a
reward in Settings → Loyalty; a purchase sent over the HTTP API earns points (the
engine takes it in as the worker does); the contact's signed member page at 390 px
shows the points and the tier, and redeeming a reward there shows its code once."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import Page, expect

from lifecycle.services import marked_contacts_evaluate
from loyalty import tokens
from loyalty.models import PointsBalance, Redemption
from tests.browser.conftest import log_in, screenshot
from tests.factories import ContactFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAGE_WIDTH = "() => document.documentElement.scrollWidth"


def _settings(page: Page) -> None:
    page.goto("/w/acme/settings/loyalty/")
    page.check("input[name=enabled]")
    page.fill("input[name=points_per_unit]", "1")
    page.fill("input[name=expiry_months]", "12")
    page.fill("input[name=expiry_reminder_days]", "14")
    page.fill("input[name=tier_grace_days]", "30")
    page.click("button:has-text('Save programme')")
    expect(page.locator(".flash").first).to_contain_text("Loyalty programme saved")
    page.fill(".tier-form input[name=name]", "Silver")
    page.fill(".tier-form input[name=threshold]", "100")
    page.fill(".tier-form input[name=benefits]", "Free returns for a year")
    page.fill(".tier-form input[name=multiplier]", "1.25")
    page.click("button:has-text('Add tier')")
    page.fill(".tier-form input[name=name]", "Gold")
    page.fill(".tier-form input[name=threshold]", "500")
    page.click("button:has-text('Add tier')")
    expect(page.locator("tr[id^=tier-]")).to_have_count(2)
    page.fill(".reward-form input[name=name]", "10% off your next order")
    page.select_option(".reward-form select[name=kind]", "discount_code")
    page.fill(".reward-form input[name=points_cost]", "100")
    page.click("button:has-text('Add reward')")
    page.click("summary:has-text('Add codes')")
    page.fill("input[name=generate]", "5")
    page.click("button:has-text('Add codes')")
    expect(page.locator(".flash").first).to_contain_text("5 codes added")


def test_member_sees_points_and_redeems_on_a_phone(page: Page, live_server, owner):
    page.set_viewport_size({"width": 1440, "height": 900})
    log_in(page, live_server.url, owner.user)
    _settings(page)
    screenshot(page, "loyalty-settings-tiers-1440")

    contact = ContactFactory.create(workspace=owner.workspace, first_name="Maya")
    answer = page.request.post(
        f"{live_server.url}/api/v1/events/",
        headers={"Authorization": f"Bearer {owner.secret}"},
        data={
            "contact": {"id": contact.pk},
            "name": "purchase",
            "revenue": "180.50",
            "properties": {"order_id": "W-1001"},
        },
    )
    assert answer.status in (200, 201, 202), answer.text()
    while marked_contacts_evaluate():  # what the worker does a second later
        pass
    assert PointsBalance.objects.get(contact=contact).balance == 180

    path = tokens.member_path(workspace_id=owner.workspace.pk, contact_id=contact.pk)
    page.goto(path)
    expect(page.get_by_test_id("balance")).to_have_text("180")
    expect(page.get_by_test_id("tier")).to_have_text("Silver")
    expect(page.get_by_test_id("to-next")).to_contain_text("320 points to Gold")
    expect(page.get_by_test_id("expires")).to_contain_text(f"{dt.datetime.now(tz=dt.UTC).year + 1}")
    screenshot(page, "loyalty-member-1440")

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    assert page.evaluate(PAGE_WIDTH) <= 390
    expect(page.get_by_test_id("history")).to_contain_text("purchase")
    page.get_by_test_id("reward").first.get_by_role("button", name="Redeem").click()
    expect(page.get_by_test_id("redeemed")).to_contain_text("10% off your next order")
    code = page.get_by_test_id("code").inner_text()
    expect(page.get_by_test_id("balance")).to_have_text("80")
    # 80 points left: the same reward's button is disabled now.
    expect(
        page.get_by_test_id("reward").first.get_by_role("button", name="Redeem")
    ).to_be_disabled()
    assert page.evaluate(PAGE_WIDTH) <= 390
    screenshot(page, "loyalty-member-390")
    redemption = Redemption.objects.get(contact=contact)
    assert redemption.code == code and redemption.points == 100

    # The dashboard's contact page shows the points too.
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"/w/acme/contacts/{contact.pk}/")
    expect(page.get_by_test_id("contact-points")).to_have_text("80")
    screenshot(page, "loyalty-contact-panel-1440")
