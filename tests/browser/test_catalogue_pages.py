"""A marketer reads the Catalogue (the product list with its search and filters, one
product, the feed's settings and runs), builds a browse-abandonment journey from the
form (hours typed, no JSON) and inserts a tracked product link into an SMS, at 1440
and 390 px, with screenshots. Hostile titles show as text."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from campaigns.models import Journey
from catalog import services
from catalog.models import FeedRunStatus, Product, ProductFeed, ProductFeedRun
from catalog.validation import clean_product
from tests.browser.conftest import log_in, screenshot
from tests.browser.journey_canvas import add_step, every_input_labelled
from tests.messaging.helpers import email_template
from workspaces.services import Actor

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
HOSTILE = '<img src=x onerror="window.hacked=1">Espresso <b>blend</b>'


def _catalogue(ws, base: str) -> None:
    rows = [
        ("espresso-blend", HOSTILE, 16, ["beans", "espresso"], 20, "beans"),
        ("v60", "V60 dripper", 24, ["equipment", "pour-over"], 4, "filters"),
        ("kettle", "Gooseneck kettle with a rather long name for a narrow phone", 65, [], 0, "mug"),
    ]
    items = [
        clean_product(
            {
                "product_id": pid,
                "title": title,
                "price": price,
                "categories": categories,
                "quantity": quantity,
                "brand": "Northwind",
                "url": f"https://shop.example/{pid}",
                "image_url": f"{base}/static/catalog/demo/{image}.svg",
                "attributes": {"roast": "medium", "origin": "<Brazil>"},
            },
            default_currency="EUR",
        )[0]
        for pid, title, price, categories, quantity, image in rows
    ]
    services.products_upsert(workspace=ws, items=items, actor=Actor(system="t"), source="t")
    now = timezone.now()
    feed = ProductFeed.objects.create(
        workspace=ws,
        url="https://shop.example/feed.csv",
        every_hours=6,
        next_due_at=now + dt.timedelta(hours=6),
        updated_at=now,
    )
    ProductFeedRun.objects.create(
        workspace=ws,
        feed=feed,
        url=feed.url,
        status=FeedRunStatus.SUCCEEDED,
        started_at=now - dt.timedelta(minutes=5),
        finished_at=now - dt.timedelta(minutes=4),
        bytes=2048,
        created=3,
        rejected=1,
        errors=[{"row": 4, "reason": "price: must not be negative <x>"}],
    )


def _fits(page: Page) -> None:
    """The page does not scroll sideways and nothing sticks out of it, except cells of
    a table, which scrolls inside its own box."""
    overflow = page.evaluate(
        """() => {
          const width = document.documentElement.clientWidth;
          return [...document.querySelectorAll('main *')]
            .filter((e) => !e.closest('table') || e.tagName === 'TABLE')
            .filter((e) => e.getBoundingClientRect().right > width + 1 && e.offsetParent !== null)
            .map((e) => e.tagName + '.' + e.className + ':' + e.textContent.slice(0, 40));
        }"""
    )
    assert overflow == []
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], f"the page scrolls sideways: {widths}"


def _both_widths(page: Page, name: str) -> None:
    page.set_viewport_size({"width": 1440, "height": 900})
    screenshot(page, f"{name}-1440")
    page.set_viewport_size({"width": 390, "height": 844})
    _fits(page)
    screenshot(page, f"{name}-390")
    page.set_viewport_size({"width": 1440, "height": 900})


def test_catalogue_pages(page: Page, live_server, owner):
    ws = owner.workspace
    _catalogue(ws, live_server.url)
    log_in(page, live_server.url, owner.user)
    page.goto("/w/acme/catalogue/")
    expect(page.get_by_role("heading", name="Catalogue", exact=True)).to_be_visible()
    expect(page.locator("main")).to_contain_text("Espresso <b>blend</b>")
    expect(page.locator("main")).to_contain_text("V60 dripper")
    _both_widths(page, "catalogue-list")
    page.get_by_label("Search products").fill("dripper")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("main")).not_to_contain_text("Gooseneck")
    page.get_by_role("link", name="V60 dripper").click()
    expect(page.get_by_role("heading", name="V60 dripper")).to_be_visible()
    expect(page.locator("main")).to_contain_text("<Brazil>")
    _both_widths(page, "catalogue-product")
    page.goto("/w/acme/catalogue/feed/")
    expect(page.get_by_label("Feed address (https)")).to_have_value("https://shop.example/feed.csv")
    expect(page.locator("main")).to_contain_text("price: must not be negative <x>")
    _both_widths(page, "catalogue-feed")
    # Changed from the form (tests allow this one private address).
    page.get_by_label("Feed address (https)").fill("https://127.0.0.1/products.json")
    page.get_by_label("Fetch every (hours)").fill("12")
    page.get_by_role("button", name="Save feed").click()
    expect(page.locator("body")).to_contain_text("Feed saved")
    feed = ProductFeed.objects.get(workspace=ws)
    assert (feed.url, feed.every_hours) == ("https://127.0.0.1/products.json", 12)
    assert page.evaluate("window.hacked") is None


def test_browse_abandonment_journey_form_and_sms_link(page: Page, live_server, owner):
    ws = owner.workspace
    _catalogue(ws, live_server.url)
    email_template(ws)
    log_in(page, live_server.url, owner.user)
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto("/w/acme/journeys/new/")
    page.fill("input[name=name]", "Browse abandonment")
    page.select_option("#trigger-kind", "browse_abandoned")
    hours = page.locator("input[name=trigger_hours]")
    expect(hours).to_be_visible()
    expect(page.locator("input[name=trigger_lookback_days]")).to_be_hidden()
    hours.fill("6")
    expect(page.locator("main")).to_contain_text("Products they looked at")
    _both_widths(page, "journey-browse-abandonment-form")
    page.select_option("#trigger-kind", "price_drop")
    expect(page.locator("input[name=trigger_lookback_days]")).to_be_visible()
    expect(hours).to_be_hidden()
    screenshot(page, "journey-price-drop-lookback-1440")
    page.select_option("#trigger-kind", "browse_abandoned")
    add_step(page, "at the start", "send_email")
    page.locator("#journey-panel").get_by_label("Template").select_option(index=1)
    every_input_labelled(page)
    page.click("button:has-text('Save draft')")
    expect(page.locator(".journey-summary")).to_contain_text(
        "Views products, then no cart or purchase within 6 hours"
    )
    stored = Journey.objects.get(workspace=ws, name="Browse abandonment")
    assert stored.trigger == {"kind": "browse_abandoned", "hours": 6}
    page.reload()
    expect(page.locator("input[name=trigger_hours]")).to_have_value("6")
    _both_widths(page, "journey-browse-abandonment-saved")

    # The SMS editor: a tracked link to a product found by a search, or to the
    # contact's first recommendation.
    page.goto("/w/acme/templates/new/?channel=sms")
    page.fill("input[name=name]", "Back in stock SMS")
    body = page.locator("#sms-body")
    body.fill("Still want it? ")
    page.get_by_role("button", name="Their first recommendation (for you)").click()
    expect(body).to_have_value("Still want it? {{ top_pick.url }}")
    body.fill("Back: ")
    page.fill("#sms-link-product", "espresso")
    expect(page.locator(".sms-link-picker .search-results button")).to_have_count(1)
    result = page.locator(".sms-link-picker .search-results button").first
    expect(result).to_contain_text("Espresso <b>blend</b> (espresso-blend)")
    result.click()
    blend = Product.objects.get(workspace=ws, product_id="espresso-blend")
    expect(body).to_have_value(f"Back: {{{{ product_{blend.pk}.url }}}}")
    expect(page.locator("#template-preview")).to_contain_text("https://shop.example/espresso-blend")
    _both_widths(page, "sms-product-link")
    assert page.evaluate("window.hacked") is None
