"""In a real browser: an owner makes tiers reached by spend, edits one, sets a double
points window and deletes a tier (its member moves down); a marketer builds a segment
"points earned in the last 30 days ≥ 100" with the rule builder's normal rows. Both
pages at 1440 and 390 px, with screenshots."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone
from playwright.sync_api import Page, expect

from contacts.models import Segment
from loyalty.models import ContactTier, EntryKind, Programme, SourceKind, Tier
from loyalty.services import balance_lock, entry_append, tiers_review
from tests.browser.conftest import log_in, screenshot
from tests.factories import ContactFactory, EventFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAGE_WIDTH = "() => document.documentElement.scrollWidth"


def _fill_tier(form, name: str, threshold: str, multiplier: str, benefits: str) -> None:
    form.locator("input[name=name]").fill(name)
    form.locator("input[name=threshold]").fill(threshold)
    form.locator("input[name=multiplier]").fill(multiplier)
    form.locator("input[name=benefits]").fill(benefits)


def test_owner_edits_tiers_by_spend_and_a_multiplier_window(page: Page, live_server, owner):
    ws = owner.workspace
    buyer = ContactFactory.create(workspace=ws, email="buyer@example.com")
    EventFactory.ago(10, contact=buyer, name="purchase", revenue="650.00")
    page.set_viewport_size({"width": 1440, "height": 900})
    log_in(page, live_server.url, owner.user)
    page.goto("/w/acme/settings/loyalty/")

    page.check("input[name=enabled]")
    page.select_option("select[name=tier_basis]", "spend")
    page.fill("input[name=tier_window_days]", "365")
    page.fill("input[name=tier_grace_days]", "30")
    window = page.locator("[data-testid=window-row]").first
    window.get_by_label("Name").fill("Double points weekend")
    window.get_by_label("Factor").fill("2")
    window.get_by_label("Starts").fill("2026-12-11T18:00")
    window.get_by_label("Ends").fill("2026-12-14T00:00")
    page.click("button:has-text('Save programme')")
    expect(page.locator(".flash").first).to_contain_text("Loyalty programme saved")
    expect(page.get_by_test_id("tier-rule")).to_contain_text("its spend (USD, net of refunds)")
    expect(page.locator("[data-testid=window-row] input[name=window_name]").first).to_have_value(
        "Double points weekend"
    )
    programme = Programme.objects.get(workspace=ws)
    assert programme.tier_basis == "spend" and programme.multipliers[0]["factor"] == "2.00"

    new_tier = page.locator("form.tier-form")
    _fill_tier(new_tier, "Silver", "100", "1", "Free shipping")
    page.click("button:has-text('Add tier')")
    _fill_tier(new_tier, "Gold", "500", "1.5", "Free shipping and early access")
    page.click("button:has-text('Add tier')")
    expect(page.locator("tr[id^=tier-]")).to_have_count(2)
    tiers_review(workspace_id=ws.pk)  # the buyer's 650 spent: Gold
    gold = Tier.objects.get(workspace=ws, name="Gold")

    # Edit Gold: a refused threshold is shown by its field, in the open form.
    page.reload()
    page.click(f"[data-testid=tier-edit-{gold.pk}] summary")
    editor = page.locator(f"[data-testid=tier-edit-{gold.pk}]")
    editor.locator("input[name=threshold]").fill("-5")
    editor.locator("button:has-text('Save tier')").click()
    editor = page.locator(f"[data-testid=tier-edit-{gold.pk}][open]")
    expect(editor.locator(".field-error")).to_contain_text("must be between 0 and")
    editor.locator("input[name=threshold]").fill("600")
    editor.locator("input[name=multiplier]").fill("2")
    editor.locator("button:has-text('Save tier')").click()
    expect(page.locator(".flash").first).to_contain_text("Tier “Gold” saved")
    expect(page.locator(f"tr#tier-{gold.pk}")).to_contain_text("600")
    gold.refresh_from_db()
    assert (gold.threshold, gold.multiplier) == (600, Decimal("2"))
    page.click(f"[data-testid=tier-edit-{gold.pk}] summary")
    expect(page.locator(f"[data-testid=tier-edit-{gold.pk}]")).to_contain_text(
        "moves its 1 member at once to “Silver”, the tier below"
    )
    screenshot(page, "loyalty-tiers-1440")
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate(PAGE_WIDTH) <= 390
    screenshot(page, "loyalty-tiers-390")
    page.locator("section.loyalty-tiers").screenshot(
        path=str(screenshot(page, "loyalty-tiers-section-390"))
    )

    page.locator(f"[data-testid=tier-edit-{gold.pk}] button:has-text('Delete')").click()
    expect(page.locator(".flash").first).to_contain_text("1 member moved to the tier below")
    row = ContactTier.objects.select_related("tier").get(contact=buyer)
    assert row.tier is not None and row.tier.name == "Silver"


def _earned(contact, points: int, days_ago: int) -> None:
    with transaction.atomic():
        entry_append(
            balance=balance_lock(workspace_id=contact.workspace_id, contact_id=contact.pk),
            kind=EntryKind.EARN,
            points=points,
            idempotency_key=f"seed:{contact.pk}:{days_ago}",
            source_kind=SourceKind.SYSTEM,
            occurred_at=timezone.now() - dt.timedelta(days=days_ago),
        )


def test_points_earned_in_the_last_n_days_is_a_normal_condition(page: Page, live_server, owner):
    ws = owner.workspace
    recent, old, low = ContactFactory.create_batch(3, workspace=ws)
    _earned(recent, 150, 5)
    _earned(old, 400, 60)
    _earned(low, 50, 3)
    page.set_viewport_size({"width": 1440, "height": 900})
    log_in(page, live_server.url, owner.user)
    page.goto("/w/acme/segments/new/")
    expect(page.locator(".rule-builder[data-ready]")).to_be_attached()
    page.get_by_label("Name").fill("Earned 100 this month")
    page.get_by_role("button", name="+ Condition").click()
    row = page.locator(".rb-row").first
    row.get_by_label("Kind of condition").select_option("points_earned")
    expect(row).to_contain_text("points")
    expect(row).to_contain_text("in the last")
    comparisons = row.get_by_label("Comparison").locator("option").all_inner_texts()
    assert "not" not in comparisons  # the node takes eq, gt, gte, lt, lte only
    row.get_by_label("Amount").fill("100")
    row.get_by_label("Days").fill("90")
    expect(page.get_by_test_id("rule-count")).to_have_text("2")  # recent and old
    row.get_by_label("Days").fill("30")
    expect(page.get_by_test_id("rule-count")).to_have_text("1")
    expect(page.get_by_text("loyalty points earned ≥ 100 in the last 30 days")).to_be_visible()
    screenshot(page, "rule-points-earned-1440")
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate(PAGE_WIDTH) <= 390
    screenshot(page, "rule-points-earned-390")
    page.get_by_role("button", name="Save segment").click()
    expect(page.get_by_test_id("segment-count")).to_contain_text("1 contact")
    segment = Segment.objects.get(workspace=ws, name="Earned 100 this month")
    assert segment.rule == {"all": [{"points_earned": {"gte": 100}, "within_days": 30}]}
    # Opened again, the saved rule shows as rows, not JSON.
    page.goto(f"/w/acme/segments/{segment.pk}/edit/")
    expect(page.locator(".rule-builder[data-ready]")).to_be_attached()
    expect(page.locator(".rb-row").first.get_by_label("Days")).to_have_value("30")
