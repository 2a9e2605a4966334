"""An owner sets up the referral programme in a real browser (Settings → Referrals), a
friend opens a shared link on a phone and follows it to the shop's signup form with
the token, the shop creates the contact with it over the API, and the owner reviews a
flagged referral in the queue."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, expect
from rest_framework.test import APIClient

from loyalty.models import Referral, ReferralSettings, ReferralStatus
from loyalty.services.referrals import referral_code_ensure
from tests.browser.conftest import log_in, screenshot
from tests.factories import ContactFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAGE_WIDTH = "() => document.documentElement.scrollWidth"


def test_owner_runs_a_referral_programme(page: Page, live_server, owner):
    page.set_viewport_size({"width": 1440, "height": 900})
    log_in(page, live_server.url, owner.user)
    page.goto("/w/acme/settings/")
    page.click(".subnav a:has-text('Referrals')")
    expect(page.locator("h2#referral-title")).to_have_text("Referral programme")
    page.check("input[name=enabled]")
    page.fill("input[name=signup_url]", "https://shop.example/join")
    page.fill("input[name=min_amount]", "a lot")
    page.click("button:has-text('Save referral programme')")
    expect(page.locator(".field-error").first).to_contain_text("an amount as a string")
    page.fill("input[name=min_amount]", "20")
    page.fill("input[name=referrer_points]", "500")
    page.fill("input[name=friend_points]", "250")
    page.fill("input[name=within_days]", "60")
    page.fill("input[name=monthly_limit]", "5")
    page.click("button:has-text('Save referral programme')")
    expect(page.locator(".flash").first).to_contain_text("Referral programme saved")
    expect(page.locator("input[name=referrer_points]")).to_have_value("500")
    row = ReferralSettings.objects.get(workspace=owner.workspace)
    assert row.enabled and row.monthly_limit == 5 and row.within_days == 60
    screenshot(page, "referral-settings-1440")
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate(PAGE_WIDTH) <= 390
    screenshot(page, "referral-settings-390")

    # The friend opens Ann's link on a phone: the sign-up button carries the token.
    ann = ContactFactory.create(workspace=owner.workspace, email="ann@example.com")
    ann.first_name = "Ann"
    ann.save(update_fields=["first_name"])
    code = referral_code_ensure(contact=ann)
    assert code is not None
    browser = page.context.browser
    assert browser is not None
    friend = browser.new_context(viewport={"width": 390, "height": 844})
    phone = friend.new_page()
    phone.goto(f"{live_server.url}/r/{owner.workspace.pk}/{code.code}/")
    expect(phone.locator("h1")).to_have_text("Ann invited you to Acme")
    href = phone.locator("a.cta").get_attribute("href") or ""
    assert href.startswith("https://shop.example/join?ref=")
    assert phone.evaluate(PAGE_WIDTH) <= 390
    assert friend.cookies() == []
    screenshot(phone, "referral-landing-390")
    friend.close()

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {owner.secret}")
    token = parse_qs(urlsplit(href).query)["ref"][0]
    created = api.post(
        "/api/v1/contacts/", {"email": "ann+2@example.com", "referred_by": token}, format="json"
    )
    assert created.status_code == 201, created.json()
    referral = Referral.objects.get()
    assert referral.status == ReferralStatus.FLAGGED and referral.visit is not None

    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto("/w/acme/settings/referrals/")
    page.click("a:has-text('review')")
    expect(page.locator(f"#referral-{referral.pk}")).to_contain_text("self_referral")
    screenshot(page, "referral-review-1440")
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate(PAGE_WIDTH) <= 390
    screenshot(page, "referral-review-390")
    page.click(f"#referral-{referral.pk} button:has-text('Approve')")
    expect(page.locator(".flash").first).to_contain_text("approved")
    referral.refresh_from_db()
    assert referral.status == ReferralStatus.PENDING
