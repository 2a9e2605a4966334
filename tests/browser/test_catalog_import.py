"""A marketer loads the shop's products from a CSV file on the imports page: the
columns are suggested from their names, the worker imports the rows, and bad rows
are listed with their numbers and reasons."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import Page, expect

from catalog.models import Product
from tests.browser.conftest import log_in, screenshot
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


def test_import_products_from_a_csv(page: Page, live_server, owner, tmp_path):
    path = tmp_path / "coffee-products.csv"
    path.write_text(
        "SKU,Name,Price,Category,Vendor,Stock,Roast\n"
        "B-1,Kenya AA 250 g,14.50,beans|single origin,Roastery,12,light\n"
        "B-2,Decaf 250 g,11,beans,Roastery,0,dark\n"
        "E-1,Hand grinder,120,equipment,Comandante,3,\n"
        ",No id,3,beans,,,\n"
        "E-2,Scale,-5,equipment,,,\n"
    )
    log_in(page, live_server.url, owner.user)
    purge_broker()
    with running_worker() as worker:
        page.goto("/w/acme/imports/")
        page.set_viewport_size({"width": 1440, "height": 900})
        page.get_by_label("Products CSV file").set_input_files(str(path))
        page.get_by_role("button", name="Upload products").click()
        expect(page.get_by_role("heading", name="coffee-products.csv")).to_be_visible()
        expect(page.get_by_label("Target for SKU")).to_have_value("product_id")
        expect(page.get_by_label("Target for Name")).to_have_value("title")
        expect(page.get_by_label("Target for Vendor")).to_have_value("brand")
        # Rows name products, not contacts: no "find each row's contact by".
        expect(page.get_by_text("Find each row's contact by")).to_have_count(0)
        page.get_by_label("Target for Roast").select_option("attribute")
        screenshot(page, "catalog-import-mapping-1440")
        page.set_viewport_size({"width": 390, "height": 844})
        _no_sideways_scroll(page)
        screenshot(page, "catalog-import-mapping-390")
        page.set_viewport_size({"width": 1440, "height": 900})
        page.get_by_role("button", name="Start import").click()
        seen = _wait_until_finished(page)
        assert "completed" in seen, (seen, worker.output()[-3000:])
    expect(page.get_by_test_id("created-count")).to_have_text("3")
    expect(page.get_by_test_id("rejected-count")).to_have_text("2")
    rejected = page.get_by_test_id("rejected-rows")
    expect(rejected).to_contain_text("SKU: is required")
    expect(rejected).to_contain_text("Price: must not be negative")
    expect(page.locator("#import-progress")).to_contain_text("products created or updated")
    screenshot(page, "catalog-import-report-1440")
    page.set_viewport_size({"width": 390, "height": 844})
    _no_sideways_scroll(page)
    screenshot(page, "catalog-import-report-390")

    kenya = Product.objects.get(workspace=owner.workspace, product_id="B-1")
    assert kenya.categories == ["beans", "single origin"] and kenya.attributes == {"Roast": "light"}
    assert Product.objects.get(workspace=owner.workspace, product_id="B-2").in_stock is False
