"""The journey builder in a real browser: steps added with the buttons, saved, drawn as
a flow; a branch drawn side by side with its counts."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page, expect

from campaigns.journeys.triggers import enrol_api
from campaigns.models import Journey
from tests.browser.conftest import log_in, screenshot
from tests.campaigns.journeys.helpers import advance
from tests.factories import ContactFactory
from tests.messaging.helpers import email_template

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_build_a_journey_and_see_its_flow(page: Page, live_server, owner):
    tpl = email_template(owner.workspace)
    log_in(page, live_server.url, owner.user)
    page.goto("/w/acme/journeys/")
    page.click("text=New journey")
    page.fill("input[name=name]", "Welcome series")
    # Inputs for other triggers are hidden until their kind is chosen.
    expect(page.locator("input[name=trigger_event]")).to_be_hidden()
    page.select_option("#trigger-kind", "event")
    page.fill("input[name=trigger_event]", "signup")
    for kind in ("send_email", "wait", "send_email"):
        page.click(f"[data-add-step={kind}]")
    steps = json.loads(page.input_value("#steps-json"))
    assert [s["key"] for s in steps] == ["send-email-1", "wait-1", "send-email-2"]
    assert steps[0]["config"] == {"template_id": tpl.pk, "next": "wait-1"}
    page.click("button:has-text('Save draft')")
    expect(page.locator("h1")).to_contain_text("Welcome series")
    expect(page.locator(".jstep")).to_have_count(3)
    expect(page.locator(".journey-summary")).to_contain_text("Performs “signup”")

    # A branch: its outcomes side by side, joined again below.
    branching = [
        {"key": "hello", "kind": "send_email", "config": {"template_id": tpl.pk, "next": "q"}},
        {
            "key": "q",
            "kind": "branch",
            "config": {
                "rule": {"attr": "plan", "op": "eq", "value": "pro"},
                "yes": "pro",
                "no": "nap",
            },
        },
        {"key": "pro", "kind": "send_email", "config": {"template_id": tpl.pk, "next": "bye"}},
        {"key": "nap", "kind": "wait", "config": {"duration": {"days": 2}, "next": "bye"}},
        {"key": "bye", "kind": "exit", "config": {}},
    ]
    page.fill("#steps-json", json.dumps([*branching[:1], {"key": "q", "kind": "branch"}]))
    page.click("button:has-text('Save changes')")
    expect(page.locator(".field-errors")).to_contain_text("steps[1].config.rule")
    screenshot(page, "journey-builder-errors")
    page.fill("#steps-json", json.dumps(branching, indent=2))
    page.click("button:has-text('Save changes')")
    expect(page.locator(".jstep")).to_have_count(5)
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button:has-text('Go live')")
    expect(page.locator("h1 mark")).to_have_text("Live")

    journey = Journey.objects.get(workspace=owner.workspace, name="Welcome series")
    pros = ContactFactory.create_batch(2, workspace=owner.workspace, attributes={"plan": "pro"})
    free = ContactFactory.create_batch(3, workspace=owner.workspace, attributes={"plan": "free"})
    enrol_api(journey, [c.pk for c in pros + free])
    advance()
    page.reload()
    fork = page.locator(".jflow-fork").first
    columns = fork.locator(":scope > .jflow-column")
    expect(columns).to_have_count(2)
    expect(columns.nth(0)).to_contain_text("yes")
    expect(columns.nth(1).locator("[data-step=nap] [data-count=waiting]")).to_have_text("3")
    yes_box, no_box = (columns.nth(i).locator(".jstep").first.bounding_box() for i in range(2))
    assert yes_box and no_box and abs(yes_box["y"] - no_box["y"]) < 2 and yes_box["x"] < no_box["x"]
    expect(page.locator("[data-total=entered]")).to_have_text("5")
    expect(page.locator(".live-edit")).to_contain_text("Contacts already inside keep their place")
    screenshot(page, "journey-builder")
