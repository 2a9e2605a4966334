"""A journey's flow in a real browser: a branch drawn side by side with its counts, on
the canvas an editor works on and on the read-only flow a viewer sees; the demo's
journeys drawn whole on the canvas and saved unchanged. (Building a journey on the
canvas is tests/browser/test_journey_builder.py.)"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from analytics.report_query import local_today
from campaigns.journeys.triggers import enrol_api
from campaigns.models import Journey
from demo.campaigns import demo_journeys_seed, demo_messaging_seed
from demo.contacts import demo_contacts_create
from lifecycle.services import stages_create_defaults
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

    # Leave the page first: its debounced impact count must not post after the cookies go.
    page.goto("about:blank")
    page.context.clear_cookies()
    log_in(page, live_server.url, teammate.user)
    page.goto(f"/w/acme/journeys/{j.pk}/")
    expect(page.locator("#journey-canvas")).to_have_count(0)
    _side_by_side(page, ".journey-flow .jflow-fork")
    screenshot(page, "journey-flow-viewer")


def test_the_demo_journeys_draw_on_the_canvas_and_save_unchanged(page: Page, live_server, owner):
    ws = owner.workspace
    stages_create_defaults(workspace=ws)
    demo_contacts_create(workspace=ws, contacts=60, seed=7, today=local_today(ws))
    demo_messaging_seed(workspace=ws, messages=5)
    demo_journeys_seed(workspace=ws, sample=10)
    journeys = list(Journey.objects.filter(workspace=ws).order_by("pk"))
    assert len(journeys) == 5
    log_in(page, live_server.url, owner.user)
    for j in journeys:
        before = [(s.key, s.kind, s.config) for s in j.steps.filter(removed_at=None)]
        page.goto(f"/w/acme/journeys/{j.pk}/")
        # Every step drawn once, from the first; none left apart.
        drawn = page.locator("#journey-canvas [data-step]")
        expect(drawn).to_have_count(len(before))
        keys = {drawn.nth(i).get_attribute("data-step") for i in range(len(before))}
        assert keys == {key for key, _, _ in before}
        expect(page.locator("#journey-canvas h3")).to_have_count(0)
        expect(page.locator("#journey-impact")).to_contain_text("No change yet")
        trigger = page.locator("#trigger-kind option:checked").text_content()
        expect(page.locator(".jflow-start")).to_contain_text(f"Contacts enter: {trigger} “")
        page.click("button:has-text('Save changes')")
        expect(page.locator(".flash")).to_contain_text("saved")
        after = [(s.key, s.kind, s.config) for s in j.steps.filter(removed_at=None)]
        assert sorted(after, key=str) == sorted(before, key=str), j.name
    screenshot(page, "journey-canvas-demo")
