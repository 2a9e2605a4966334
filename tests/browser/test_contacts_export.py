"""A marketer (and a viewer, the same way) exports a big contacts list: the page says
it waits for a worker, a real worker writes the file while the status refreshes
itself, and the download link gives the CSV. Screenshots at 1440 and 390 px
(test-artifacts/screenshots/contacts-export-*)."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from contacts.models import ContactExport
from tests.browser.conftest import log_in, screenshot
from tests.factories import ContactFactory
from tests.processes import purge_broker, running_worker

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("who", ["owner", "viewer"])
def test_export_a_big_list_with_a_worker_and_download_it(
    page: Page, live_server: Any, owner: Any, teammate: Any, settings: Any, who: str
) -> None:
    settings.CONTACTS_EXPORT_INLINE_MAX = 20
    for i in range(45):
        ContactFactory.create(
            workspace=owner.workspace,
            email=f"person{i:02d}@example.com",
            email_status="unsubscribed" if i % 3 == 0 else "subscribed",
        )
    log_in(page, live_server.url, (owner if who == "owner" else teammate).user)
    page.set_viewport_size({"width": 1440, "height": 900})
    purge_broker()
    page.goto("/w/acme/contacts/")
    # Filtering swaps the rows (htmx) and the export button with them: it exports
    # what the list now shows.
    page.get_by_label("Email status").select_option("subscribed")
    expect(page.get_by_text("30 contacts match")).to_be_visible()
    page.get_by_role("button", name="Export CSV").click()
    status = page.get_by_test_id("contact-export-status")
    expect(status).to_contain_text("Waiting for a worker")
    expect(page).to_have_url(re.compile(r"/w/acme/contacts/\?.*email_status=subscribed"))
    screenshot(page, f"contacts-export-{who}-waiting-1440")

    # How a long export looks part-way (the row as a worker leaves it after 12,000 of
    # 30,000 rows), picked up by the status polling by itself; then back to queued for
    # the real worker below.
    export = ContactExport.objects.get()
    ContactExport.objects.filter(pk=export.pk).update(
        started_at=timezone.now(), total=30_000, rows_written=12_000
    )
    expect(status).to_contain_text("12,000 of 30,000 rows written")
    expect(status.locator("progress")).to_have_attribute("value", "12000")
    screenshot(page, f"contacts-export-{who}-running-1440")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, f"contacts-export-{who}-running-390")
    page.set_viewport_size({"width": 1440, "height": 900})
    ContactExport.objects.filter(pk=export.pk).update(started_at=None, total=None, rows_written=0)

    with running_worker():
        # The status polls by itself: no reload between waiting and done.
        expect(status).to_contain_text("30 contacts exported", timeout=60_000)
    screenshot(page, f"contacts-export-{who}-done-1440")
    with page.expect_download() as download:
        page.get_by_test_id("contact-export-download").click()
    assert download.value.suggested_filename.startswith("acme-contacts-")
    body = Path(download.value.path()).read_text(encoding="utf-8")
    emails = sorted(row["email"] for row in csv.DictReader(io.StringIO(body)))
    assert emails == [f"person{i:02d}@example.com" for i in range(45) if i % 3]

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    expect(page.get_by_test_id("contact-export-download")).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390 + 1, f"the page scrolls sideways at 390 px ({width})"
    screenshot(page, f"contacts-export-{who}-done-390")
