"""A marketer adds a Product block (found by a search) and a Recommendations block to
an email (no JSON, no HTML), and previews it as a contact with a purchase history:
the product's card and the products bought together with what the contact bought
(never what they bought) show (1440 and 390 px)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from catalog import services
from catalog.models import Product
from catalog.validation import clean_product
from contacts.models import Event
from messaging.models import Template
from tests.browser.conftest import log_in, screenshot
from tests.browser.journey_canvas import no_sideways_scroll
from tests.factories import ContactFactory
from workspaces.services import Actor

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _catalogue(ws, base: str) -> None:
    rows = [
        ("beans", "House blend <1 kg>", 24),
        ("filters", "Paper filters", 4),
        ("mug", "Enamel mug", 12),
        ("grinder", "Hand grinder", 45),
    ]
    items = [
        clean_product(
            {
                "product_id": pid,
                "title": title,
                "price": price,
                "url": f"https://shop.example/{pid}",
                "image_url": f"{base}/static/catalog/demo/{pid}.svg",
            },
            default_currency="EUR",
        )[0]
        for pid, title, price in rows
    ]
    services.products_upsert(workspace=ws, items=items, actor=Actor(system="t"), source="t")
    ago = timezone.now() - dt.timedelta(days=20)
    for basket in (["beans", "filters"], ["beans", "filters"], ["beans", "grinder"]) * 2:
        buyer = ContactFactory.create(workspace=ws)
        Event.objects.create(
            workspace=ws,
            contact=buyer,
            name="purchase",
            occurred_at=ago,
            properties={"items": [{"product_id": p} for p in basket]},
        )
    services.recommendations_compute(workspace=ws)


def test_product_and_recommendations_blocks_previewed_as_a_contact(page: Page, live_server, owner):
    ws = owner.workspace
    _catalogue(ws, live_server.url)
    ada = ContactFactory.create(workspace=ws, email="ada@example.com", first_name="Ada")
    Event.objects.create(
        workspace=ws,
        contact=ada,
        name="purchase",
        occurred_at=timezone.now() - dt.timedelta(days=3),
        properties={"items": [{"product_id": "beans"}]},
    )
    page.set_viewport_size({"width": 1440, "height": 900})
    log_in(page, live_server.url, owner.user)
    page.goto("/w/acme/templates/new/?channel=email")
    page.fill("input[name=name]", "You might also like")
    page.fill("input[name=subject]", "For your next brew")
    page.select_option(".blocks-column .blocks-add select", "product")
    page.click(".blocks-column .blocks-add button:has-text('Add block')")
    # The picker searches the catalogue; titles are shown as text, never markup.
    results = page.locator(".search-results button")
    expect(results).to_have_count(4)  # the first 20 by title before anything is typed
    page.fill("#block-product", "blend")
    expect(results).to_have_count(1)
    expect(results).to_contain_text("House blend <1 kg> (beans)")
    page.fill("#block-product", "MUG")
    expect(results).to_have_count(1)
    page.click(".search-results button:has-text('Enamel mug (mug)')")
    expect(page.locator(".search-chosen")).to_have_text("Chosen: Enamel mug (mug)")
    screenshot(page, "email-product-search-1440")
    page.select_option(".blocks-column .blocks-add select", "recommendations")
    page.click(".blocks-column .blocks-add button:has-text('Add block')")
    page.locator("#block-recs").select_option("for_you:4")
    page.fill("#template-form input[name=contact]", "ada@example.com")
    frame = page.frame_locator("#template-preview iframe")
    body = frame.locator("body")
    expect(body).to_contain_text("Enamel mug")
    expect(body).to_contain_text("12.00 EUR")
    expect(body).to_contain_text("Paper filters")  # bought together with her beans
    expect(body).to_contain_text("Hand grinder")
    expect(body).not_to_contain_text("House blend")  # never what she bought
    expect(page.locator("#template-preview")).to_contain_text("As Ada")
    expect(frame.locator("img[alt='Enamel mug']")).to_have_count(1)
    screenshot(page, "email-product-blocks-1440")
    page.click("button:has-text('Save template')")
    expect(page.locator("h1")).to_contain_text("Edit")
    template = Template.objects.get(workspace=ws, name="You might also like")
    blocks = template.document["sections"][0]["columns"][0]["blocks"]
    mug = Product.objects.get(workspace=ws, product_id="mug")
    assert blocks == [
        {"type": "product", "product": mug.pk},
        {"type": "recommendations", "recs": "for_you:4"},
    ]
    # Saved and opened again: the chosen product is named, not numbered.
    page.click(".blocks-item .blocks-select >> nth=0")
    expect(page.locator(".search-chosen")).to_have_text("Chosen: Enamel mug (mug)")
    page.set_viewport_size({"width": 390, "height": 844})
    page.fill("#template-form input[name=contact]", "ada@example.com")
    expect(page.locator("#template-preview")).to_contain_text("As Ada")
    expect(page.frame_locator("#template-preview iframe").locator("body")).not_to_contain_text(
        "House blend"
    )
    no_sideways_scroll(page)
    screenshot(page, "email-product-blocks-390")
    # The contact suggestions' request may still be out: closing the page under it
    # would log an aborted request.
    page.wait_for_load_state("networkidle")
