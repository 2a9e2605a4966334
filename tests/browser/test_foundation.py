"""The foundation in a real browser: log in, find a contact, read its page, import a
CSV and watch it progress, create and revoke an API key."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Page, expect

from contacts.models import Contact
from contacts.services import event_summaries_refresh
from tests.browser.conftest import log_in, screenshot
from tests.factories import ContactFactory, EventFactory
from tests.processes import purge_broker, running_worker

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_log_in_search_and_open_a_contact(page: Page, live_server, owner):
    for i in range(40):
        ContactFactory.create(workspace=owner.workspace, email=f"shopper{i}@example.com")
    zelda = ContactFactory.create(
        workspace=owner.workspace,
        email="zelda@hyrule.test",
        first_name="Zelda",
        last_name="Harkinian",
        phone="+14155550111",
        attributes={"plan": "pro", "country": "US"},
    )
    EventFactory.ago(3, contact=zelda, name="signed_up")
    EventFactory.ago(
        1,
        contact=zelda,
        name="purchase",
        revenue="42.00",
        currency="USD",
        properties={"order_id": "NW-1"},
    )
    event_summaries_refresh(contact_ids=[zelda.pk])

    page.goto("/login/")
    screenshot(page, "login")
    page.get_by_label("Email").fill("alice@acme.test")
    page.get_by_label("Password").fill("correct horse battery staple")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/w/acme/contacts/$"))
    expect(page.get_by_test_id("contact-count")).to_contain_text("41 contacts")
    screenshot(page, "contacts-list")

    page.get_by_placeholder("Search email, name or external id").fill("zeld")
    expect(page.get_by_test_id("contact-count")).to_contain_text("1 contact match")
    expect(page.locator("table.contacts tbody tr")).to_have_count(1)
    screenshot(page, "contacts-search")

    page.get_by_role("link", name="zelda@hyrule.test").click()
    expect(page.get_by_role("heading", name="Zelda Harkinian")).to_be_visible()
    expect(page.locator("ol.timeline li")).to_have_count(2)
    expect(page.locator("ol.timeline")).to_contain_text("$42.00")
    expect(page.locator("dl.facts").first).to_contain_text("+14155550111")
    # The 360 panels load from their apps: value in words, messages, journeys.
    expect(page.get_by_test_id("contact-value")).to_be_visible()
    expect(page.get_by_test_id("contact-messages")).to_contain_text("No messages sent")
    expect(page.get_by_test_id("contact-journeys")).to_contain_text("Not in any journey")
    expect(page.get_by_role("heading", name="Danger zone")).to_be_visible()
    page.get_by_label("Show events named").select_option("purchase")
    expect(page.locator("ol.timeline li")).to_have_count(1)
    screenshot(page, "contact-detail")


def test_csv_import_shows_progress_and_the_rejected_rows(page: Page, live_server, owner, tmp_path):
    rows = ["email,First name,Plan,Seats"]
    rows += [f"buyer{i}@example.com,Buyer {i},pro,{i % 5}" for i in range(20_000)]
    rows += ["not-an-email,Broken,pro,1", "second@example.com,Two,pro,lots"]
    path = tmp_path / "customers.csv"
    path.write_text("\n".join(rows) + "\n")
    log_in(page, live_server.url, owner.user)
    purge_broker()
    with running_worker():
        page.goto("/w/acme/imports/")
        page.get_by_label("Contacts CSV file").set_input_files(str(path))
        page.get_by_role("button", name="Upload contacts").click()
        expect(page.get_by_role("heading", name="customers.csv")).to_be_visible()
        page.get_by_label("Type for Seats").select_option("number")
        screenshot(page, "import-mapping")
        page.get_by_role("button", name="Start import").click()

        seen = set()
        deadline = time.monotonic() + 90
        while "completed" not in seen and time.monotonic() < deadline:
            status = page.locator("#import-progress").get_attribute("data-status")
            seen.add(status)
            if status == "running" and "running-shot" not in seen:
                seen.add("running-shot")
                screenshot(page, "import-progress")
            page.wait_for_timeout(150)
        assert seen & {"queued", "running"}, seen
        assert "completed" in seen
    expect(page.get_by_test_id("created-count")).to_have_text("20,000")
    expect(page.get_by_test_id("rejected-count")).to_have_text("2")
    expect(page.get_by_test_id("rejected-rows")).to_contain_text("not a valid email")
    expect(page.get_by_test_id("rejected-rows")).to_contain_text("'lots' is not a number")
    screenshot(page, "import-report")
    assert Contact.objects.filter(workspace=owner.workspace).count() == 20_000


def test_create_and_revoke_an_api_key(page: Page, live_server, owner):
    log_in(page, live_server.url, owner.user)
    page.goto("/w/acme/settings/api-keys/")
    page.get_by_label("Key name").fill("Shopify")
    page.get_by_role("button", name="Create key").click()
    secret = page.get_by_test_id("new-secret").locator("code").inner_text()
    assert secret.startswith("sc_")
    screenshot(page, "api-keys")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("row", name=re.compile("Shopify")).get_by_role("button", name="Revoke").click()
    expect(page.get_by_role("row", name=re.compile("Shopify"))).to_contain_text("revoked")
