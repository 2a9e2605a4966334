"""A marketer moderates reviews: the pending list, a review approved and another
rejected in place (htmx, no reload), the approved tab with a product filter
(1440 and 390 px)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from surveys.models import Review
from surveys.services import survey_ask
from surveys.tokens import Send, page_path
from tests.browser.conftest import log_in, screenshot
from tests.browser.journey_canvas import no_sideways_scroll
from tests.factories import ContactFactory
from tests.surveys.helpers import ACTOR, nps_survey

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
    # Its htmx must be running before a click, or the form posts without it.
    page.wait_for_load_state("load")
    items = page.locator(".review-item")
    expect(items).to_have_count(3)
    expect(page.locator(f"#review-{rows[1].pk} .review-text")).to_contain_text("<script>")
    page.get_by_role("button", name=f"Approve review {rows[0].pk}").click()
    expect(page.locator(f"#review-{rows[0].pk} mark")).to_have_text("Approved")
    page.get_by_role("button", name=f"Reject review {rows[1].pk}").click()
    expect(page.locator(f"#review-{rows[1].pk} mark")).to_have_text("Rejected")
    expect(page.locator("#review-count-pending")).to_have_text("(1)")
    expect(page.locator("#review-count-approved")).to_have_text("(1)")
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


def test_review_each_product_on_the_hosted_page_at_390(page: Page, live_server, owner):
    survey = nps_survey(owner.workspace, name="Reviews", kind="review", question="How was it?")
    contact = ContactFactory.create(workspace=owner.workspace, first_name="Ada")
    message = survey_ask(
        survey=survey,
        contact=contact,
        channel="email",
        idempotency_key="order-9",
        actor=ACTOR,
        order_id="A-9",
        items=[{"id": "MUG-1", "name": "Blue <b>mug</b>"}, {"id": "TEA-7", "name": "Green tea"}],
    )
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(page_path(Send(survey.pk, contact.pk, message.pk, survey.workspace_id)))
    expect(page.locator("h2")).to_have_text(["Blue <b>mug</b>", "Green tea"])
    page.get_by_label("5 of 5 stars").first.check()
    page.fill("#text-0", "Lovely glaze")
    page.get_by_label("3 of 5 stars").nth(1).check()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "review-page-390")
    page.click("button:has-text('Send my reviews')")
    expect(page.locator("[data-testid=thanks]")).to_contain_text("once it has been checked")
    reviews = dict(Review.objects.values_list("item_id", "rating"))
    assert reviews == {"MUG-1": 5, "TEA-7": 3}
