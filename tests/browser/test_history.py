"""Bringing history in from the dashboard: a stage-history CSV imported by the worker
with progress and rejected rows, then read back on the contact's page (both times and
the cause), and a contact's signup date set by hand."""

from __future__ import annotations

import datetime as dt
import re
import time

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from contacts.models import ContactMark
from lifecycle.models import StageTransition
from lifecycle.services import stages_create_defaults
from tests.browser.conftest import log_in, screenshot
from tests.factories import ContactFactory
from tests.processes import purge_broker, running_worker

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _no_sideways_scroll(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def _wait_until_finished(page: Page) -> set[str | None]:
    seen: set[str | None] = set()
    deadline = time.monotonic() + 90
    while "completed" not in seen and time.monotonic() < deadline:
        seen.add(page.locator("#import-progress").get_attribute("data-status"))
        page.wait_for_timeout(150)
    return seen


def test_import_stage_history_and_read_it_on_the_contact(page: Page, live_server, owner, tmp_path):
    ws = owner.workspace
    ws.time_zone = "Europe/London"
    ws.save(update_fields=["time_zone"])
    stages_create_defaults(workspace=ws)
    ada = ContactFactory.create(workspace=ws, email="ada@example.com", first_name="Ada")
    ContactFactory.create(workspace=ws, email="bob@example.com", first_name="Bob")
    future = (timezone.now() + dt.timedelta(days=10)).date().isoformat()
    path = tmp_path / "lifecycle-history.csv"
    path.write_text(
        "Email,Lifecycle stage,Date\n"
        "ada@example.com,Subscriber,2025-01-10\n"
        "ada@example.com,customer,2025-02-14T09:30:00Z\n"
        "ada@example.com,Repeat customer,2025-06-01\n"
        "nobody@example.com,customer,2025-02-01\n"
        "bob@example.com,vip,2025-02-01\n"
        f"bob@example.com,customer,{future}\n"
        "bob@example.com,customer,2025-03-03\n"
    )
    log_in(page, live_server.url, owner.user)
    purge_broker()
    with running_worker() as worker:
        page.goto("/w/acme/imports/")
        page.set_viewport_size({"width": 390, "height": 844})
        _no_sideways_scroll(page)
        screenshot(page, "history-imports-list-390")
        page.set_viewport_size({"width": 1440, "height": 900})
        page.get_by_label("Stage history CSV file").set_input_files(str(path))
        page.get_by_role("button", name="Upload stage history").click()
        expect(page.get_by_role("heading", name="lifecycle-history.csv")).to_be_visible()
        # The columns are suggested from their names.
        expect(page.get_by_label("Target for Lifecycle stage")).to_have_value("stage")
        expect(page.get_by_label("Target for Date")).to_have_value("at")
        expect(page.get_by_label("Target for Email")).to_have_value("email")
        page.set_viewport_size({"width": 1440, "height": 900})
        screenshot(page, "history-import-mapping-1440")
        page.set_viewport_size({"width": 390, "height": 844})
        _no_sideways_scroll(page)
        screenshot(page, "history-import-mapping-390")
        page.set_viewport_size({"width": 1440, "height": 900})
        page.get_by_role("button", name="Start import").click()
        seen = _wait_until_finished(page)
        assert "completed" in seen, (seen, worker.output()[-3000:])
    expect(page.get_by_test_id("created-count")).to_have_text("4")
    expect(page.get_by_test_id("rejected-count")).to_have_text("3")
    rejected = page.get_by_test_id("rejected-rows")
    expect(rejected).to_contain_text("no contact with the email 'nobody@example.com'")
    expect(rejected).to_contain_text("'vip' is not a stage of this workspace")
    expect(rejected).to_contain_text("is in the future")
    expect(page.locator("#import-progress")).to_contain_text("moves stored")
    screenshot(page, "history-import-report-1440")
    page.set_viewport_size({"width": 390, "height": 844})
    _no_sideways_scroll(page)
    screenshot(page, "history-import-report-390")

    assert StageTransition.objects.filter(contact=ada, cause="import").count() == 3
    assert ContactMark.objects.filter(contact=ada, since__isnull=False).exists()

    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"/w/acme/contacts/{ada.pk}/")
    history = page.get_by_test_id("stage-history")
    moves = history.get_by_test_id("stage-move")
    imported = moves.filter(has_text="Import")
    expect(imported).to_have_count(3)
    first = imported.filter(has=page.locator("strong", has_text=re.compile("^Subscriber$")))
    expect(first.get_by_test_id("happened")).to_have_text("happened 10 Jan 2025, 00:00")
    expect(first.get_by_test_id("recorded")).to_contain_text("recorded")
    expect(first.get_by_test_id("cause")).to_have_text("Import")
    customer = imported.filter(has=page.locator("strong", has_text=re.compile("^Customer$")))
    expect(customer).to_contain_text("14 Feb 2025, 09:30")  # UTC in winter: London time
    page.get_by_test_id("contact-stage").scroll_into_view_if_needed()
    screenshot(page, "history-contact-1440")
    page.set_viewport_size({"width": 390, "height": 844})
    _no_sideways_scroll(page)
    screenshot(page, "history-contact-390")


def test_set_a_signup_date_on_the_contact_page(page: Page, live_server, owner):
    ws = owner.workspace
    ws.time_zone = "America/New_York"
    ws.save(update_fields=["time_zone"])
    contact = ContactFactory.create(workspace=ws, email="ada@example.com", first_name="Ada")
    log_in(page, live_server.url, owner.user)
    page.goto(f"/w/acme/contacts/{contact.pk}/")
    page.get_by_text("Change the signup date").click()
    page.get_by_label("Signed up on").fill("2024-03-05")
    page.get_by_label("Time of day (optional)").fill("08:15")
    page.set_viewport_size({"width": 390, "height": 844})
    _no_sideways_scroll(page)
    page.get_by_label("Signed up on").scroll_into_view_if_needed()
    screenshot(page, "signup-date-form-390")
    page.set_viewport_size({"width": 1440, "height": 900})
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".flash-success")).to_contain_text("Signup date saved")
    expect(page.get_by_test_id("signed-up")).to_contain_text("5 Mar 2024, 08:15")
    expect(page.get_by_test_id("signed-up")).to_contain_text("America/New_York")
    contact.refresh_from_db()
    assert contact.signed_up_at == dt.datetime(2024, 3, 5, 13, 15, tzinfo=dt.UTC)
    page.set_viewport_size({"width": 1440, "height": 900})
    screenshot(page, "signup-date-1440")
    page.set_viewport_size({"width": 390, "height": 844})
    _no_sideways_scroll(page)
    screenshot(page, "signup-date-390")
