"""A journey's flow in a real browser: a branch drawn side by side with its counts, on
the canvas an editor works on and on the read-only flow a viewer sees. (Building a
journey on the canvas is tests/browser/test_journey_builder.py.)"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from campaigns.journeys.triggers import enrol_api
from tests.browser.conftest import log_in, screenshot
from tests.campaigns.journeys.helpers import advance, journey, step
from tests.factories import ContactFactory
from tests.messaging.helpers import email_template

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _branching(tpl_pk: int) -> list[dict]:
    return [
        step("hello", "send_email", template_id=tpl_pk, next="q"),
        step("q", "branch", rule={"attr": "plan", "op": "eq", "value": "pro"}, yes="pro", no="nap"),
        step("pro", "send_email", template_id=tpl_pk, next="bye"),
        step("nap", "wait", duration={"days": 2}, next="bye"),
        step("bye", "exit"),
    ]


def _side_by_side(page: Page, fork_selector: str) -> None:
    fork = page.locator(fork_selector).first
    columns = fork.locator(":scope > .jflow-column")
    expect(columns).to_have_count(2)
    expect(columns.nth(0)).to_contain_text("yes")
    expect(columns.nth(1).locator("[data-step=nap] [data-count=waiting]")).to_have_text("3")
    yes_box, no_box = (columns.nth(i).locator(".jstep").first.bounding_box() for i in range(2))
    assert yes_box and no_box and abs(yes_box["y"] - no_box["y"]) < 2 and yes_box["x"] < no_box["x"]


def test_a_branch_is_drawn_side_by_side_with_its_counts(page: Page, live_server, owner, teammate):
    tpl = email_template(owner.workspace)
    j = journey(owner.workspace, {"kind": "manual"}, _branching(tpl.pk), name="Welcome series")
    pros = ContactFactory.create_batch(2, workspace=owner.workspace, attributes={"plan": "pro"})
    free = ContactFactory.create_batch(3, workspace=owner.workspace, attributes={"plan": "free"})
    enrol_api(j, [c.pk for c in pros + free])
    advance()

    log_in(page, live_server.url, owner.user)
    page.goto(f"/w/acme/journeys/{j.pk}/")
    expect(page.locator("[data-total=entered]")).to_have_text("5")
    _side_by_side(page, "#journey-canvas .jflow-fork")
    expect(page.locator("[data-step=hello] [data-count=entered]")).to_have_text("5")
    expect(page.locator(".live-edit")).to_contain_text("Contacts already inside keep their place")
    screenshot(page, "journey-builder")

    page.context.clear_cookies()
    log_in(page, live_server.url, teammate.user)
    page.goto(f"/w/acme/journeys/{j.pk}/")
    expect(page.locator("#journey-canvas")).to_have_count(0)
    _side_by_side(page, ".journey-flow .jflow-fork")
    screenshot(page, "journey-flow-viewer")
