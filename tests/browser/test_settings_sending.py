"""An owner sets up sending in a real browser: the sender identity, then a sending
domain verified against a DNS server on 127.0.0.1 that the test scripts to publish
the records the page shows."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from messaging.domain_models import SendingDomain
from messaging.models import MessagingSettings
from tests.browser.conftest import log_in, screenshot
from tests.dns_server import ScriptedDns

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# No horizontal scroll of the page (a wide table may scroll inside its own box).
PAGE_WIDTH = "() => document.documentElement.scrollWidth"


def _fits_390(page: Page, name: str) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate(PAGE_WIDTH) <= 390, name
    screenshot(page, f"{name}-390")
    page.set_viewport_size({"width": 1440, "height": 900})


def test_owner_verifies_a_sending_domain(page: Page, live_server, owner, settings):
    settings.DKIM_DOMAIN = ""
    settings.SPF_INCLUDE = "spf.stagecraft.test"
    with ScriptedDns() as dns:
        settings.DNS_RESOLVER = dns.address
        page.set_viewport_size({"width": 1440, "height": 900})
        log_in(page, live_server.url, owner.user)
        page.goto("/w/acme/settings/domains/")
        expect(page.locator(".signing-note")).to_contain_text(
            "sent without a DKIM signature until a domain is verified"
        )
        page.fill("input[name=domain]", "shop example.com")
        page.click("button:has-text('Add domain')")
        expect(page.locator("#domain-error")).to_contain_text("is not a valid part")
        expect(page.locator("input[name=domain]")).to_have_value("shop example.com")
        page.fill("input[name=domain]", "Mail.Shop.Example")
        page.click("button:has-text('Add domain')")
        expect(page.locator("h1")).to_have_text("mail.shop.example")
        record = SendingDomain.objects.get(domain="mail.shop.example")
        dkim_name = page.locator("#record-name-1")
        expect(dkim_name).to_have_text(f"{record.selector}._domainkey.mail.shop.example")
        expect(page.locator("#record-value-1")).to_have_text(record.dkim_value)
        expect(page.locator("#record-value-2")).to_have_text(
            "v=spf1 include:spf.stagecraft.test ~all"
        )
        expect(page.locator(".domain-overall .badge")).to_have_text("Pending")
        screenshot(page, "sending-domain-records-1440")
        _fits_390(page, "sending-domain-records")

        # Checked before anything is published: each record says what is missing.
        page.click("button:has-text('Check now')")
        expect(page.locator(".domain-overall .badge")).to_have_text("Failed")
        expect(page.locator(".record-detail").first).to_have_text(
            f"No TXT record at {record.dkim_name}."
        )

        # The owner publishes the two records the page shows, then checks again.
        dns.publish_txt(record.dkim_name, page.locator("#record-value-1").inner_text())
        dns.publish_txt("mail.shop.example", page.locator("#record-value-2").inner_text())
        page.click("button:has-text('Check now')")
        expect(page.locator(".domain-overall .badge")).to_have_text("Verified")
        expect(page.locator(".record-detail").first).to_have_text("DKIM record found and matches.")
        expect(page.locator(".record-detail").nth(1)).to_have_text(
            "SPF record found and includes spf.stagecraft.test."
        )
        expect(page.locator("#domain-status .signing-note")).to_contain_text(
            "Email from mail.shop.example (and its subdomains) is signed with its own key"
        )
        screenshot(page, "sending-domain-verified-1440")
        _fits_390(page, "sending-domain-verified")
        page.goto("/w/acme/settings/domains/")
        expect(page.locator("tbody .badge")).to_have_text("Verified")
        screenshot(page, "sending-domains-1440")
        _fits_390(page, "sending-domains")


def test_owner_sets_the_sender_identity(page: Page, live_server, owner):
    page.set_viewport_size({"width": 1440, "height": 900})
    log_in(page, live_server.url, owner.user)
    page.goto("/w/acme/settings/sending/")
    page.fill("input[name=from_name]", "Acme Store")
    page.fill("input[name=from_email]", "hello@acme.example")
    page.fill("input[name=reply_to]", "not an address")
    page.fill("input[name=sms_from_number]", "+14155550123")
    page.click("button:has-text('Save settings')")
    expect(page.locator("#reply_to-error")).to_contain_text("not a valid email address")
    screenshot(page, "sending-settings-error-1440")
    page.fill("input[name=reply_to]", "help@acme.example")
    page.click("button:has-text('Save settings')")
    expect(page.locator(".flash-success")).to_contain_text("Sending settings saved.")
    expect(page.locator("input[name=reply_to]")).to_have_value("help@acme.example")
    saved = MessagingSettings.objects.get(workspace=owner.workspace)
    assert (saved.from_name, saved.reply_to, saved.sms_from_number) == (
        "Acme Store",
        "help@acme.example",
        "+14155550123",
    )
    screenshot(page, "sending-settings-1440")
    _fits_390(page, "sending-settings")
