"""A marketer moderates reviews: the pending list, a review approved and another
rejected in place (htmx, no reload), the approved tab with a product filter
(1440 and 390 px)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from surveys.models import Review
from tests.browser.conftest import log_in, screenshot
from tests.browser.journey_canvas import no_sideways_scroll
from tests.surveys.helpers import nps_survey

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_moderate_reviews(page: Page, live_server, owner):
    survey = nps_survey(owner.workspace, name="Product reviews", kind="review", question="Rate it")
    rows = [
        Review.objects.create(
            workspace=owner.workspace,
            survey=survey,
            send_key=f"m{i}",
            item_kind="product",
            item_id=sku,
            item_name=name,
            rating=rating,
            text=text,
            author=author,
        )
        for i, (sku, name, rating, text, author) in enumerate(
            [
                ("MUG-1", "Blue mug", 5, "Lovely glaze, arrived well packed.", "Ada"),
                ("TEA-7", "Green tea", 1, "<script>alert(1)</script> Spam spam", "Bot"),
                ("MUG-1", "Blue mug", 4, "Nice, a bit small.", "Grace"),
            ]
        )
    ]
    log_in(page, live_server.url, owner.user)
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto("/w/acme/surveys/")
    page.get_by_role("button", name="Reviews", exact=True).click()
    expect(page.locator("h1")).to_have_text("Reviews")
    items = page.locator(".review-item")
    expect(items).to_have_count(3)
    expect(page.locator(f"#review-{rows[1].pk} .review-text")).to_contain_text("<script>")
    page.get_by_role("button", name=f"Approve review {rows[0].pk}").click()
    expect(page.locator(f"#review-{rows[0].pk} mark")).to_have_text("Approved")
    page.get_by_role("button", name=f"Reject review {rows[1].pk}").click()
    expect(page.locator(f"#review-{rows[1].pk} mark")).to_have_text("Rejected")
    screenshot(page, "reviews-moderate-1440")
    assert list(Review.objects.order_by("id").values_list("status", flat=True)) == [
        "approved",
        "rejected",
        "pending",
    ]
    page.set_viewport_size({"width": 390, "height": 900})
    page.get_by_role("link", name="Approved").click()
    page.fill("input[name=product]", "MUG-1")
    page.click("button:has-text('Filter')")
    expect(page.locator(".review-item")).to_have_count(1)
    expect(page.locator(".review-item")).to_contain_text("Lovely glaze")
    no_sideways_scroll(page)
    screenshot(page, "reviews-moderate-390")
