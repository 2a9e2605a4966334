"""The journey canvas in a real browser, as a marketer builds a journey: a trigger, a
branch, an A/B send-email step and a goal without typing JSON, an error from the
server shown on its step, set live and stored as built (1440 and 390 px); every step
kind's form saved as the server accepts it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from campaigns.models import Journey
from lifecycle.services import stages_create_defaults
from tests.browser.conftest import SCREENSHOTS, log_in, screenshot
from tests.browser.journey_canvas import add_step, every_input_labelled, no_sideways_scroll
from tests.messaging.helpers import email_template, sms_template

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PRO = {"attr": "plan", "op": "eq", "value": "pro"}


def test_build_a_journey_on_the_canvas_and_set_it_live(page: Page, live_server, owner):
    welcome = email_template(owner.workspace, name="Welcome")
    offer = email_template(owner.workspace, name="Offer")
    log_in(page, live_server.url, owner.user)
    page.set_viewport_size({"width": 1440, "height": 1000})
    page.goto("/w/acme/journeys/new/")
    expect(page.locator("#steps-json")).to_be_hidden()
    page.fill("input[name=name]", "Welcome series")
    page.select_option("#trigger-kind", "event")
    page.fill("input[name=trigger_event]", "signup")
    expect(page.locator(".jflow-start")).to_contain_text("Performs an event “signup”")

    # An A/B send at the start: variants drawn as arms with their weights.
    add_step(page, "at the start", "send_email")
    panel = page.locator("#journey-panel")
    panel.get_by_label("A/B test").check()
    variant_b = panel.locator(".jc-variant").nth(1)
    panel.locator(".jc-variant").nth(0).get_by_label("Template").select_option(str(welcome.pk))
    variant_b.get_by_label("Template").select_option(str(offer.pk))
    panel.locator(".jc-variant").nth(0).get_by_label("Weight").fill("70")
    variant_b.get_by_label("Weight").fill("30")
    panel.get_by_label("Pick a winner automatically").check()
    every_input_labelled(page)
    panel.get_by_label("Pick a winner automatically").uncheck()
    expect(variant_b.get_by_role("link", name="Preview template")).to_have_attribute(
        "href", f"/w/acme/templates/{offer.pk}/"
    )
    arms = page.locator("[data-step=send-email-1] ~ .jc-arms .jflow-column")
    expect(arms).to_have_count(2)
    expect(arms.nth(0)).to_contain_text("70%")
    expect(arms.nth(1)).to_contain_text("Offer")
    panel.get_by_role("button", name="Done").click()

    # Each arm has its own way on: a menu of step kinds under each variant.
    for label in ("A", "B"):
        adder = page.get_by_role(
            "button", name=f"Add a step on the “{label}” arm of “Send email (send-email-1)”"
        )
        adder.click()
        expect(adder.locator("xpath=..").locator(".jc-menu [data-add-step]")).not_to_have_count(0)
        adder.click()
    # Arm B: a wait of its own; arm A: a branch, on a rule built with the rule builder.
    add_step(page, "on the “B” arm of “Send email (send-email-1)”", "wait")
    panel.get_by_role("button", name="Done").click()
    add_step(page, "on the “A” arm of “Send email (send-email-1)”", "branch")
    expect(panel.locator(".rule-builder[data-ready=true]")).to_have_count(1)
    panel.get_by_role("button", name="+ Condition").click()
    panel.get_by_label("Attribute", exact=True).fill("plan")
    panel.get_by_label("Value", exact=True).fill("pro")
    panel.get_by_label("Step name (optional)").fill("Pro plan?")
    panel.get_by_role("button", name="Done").click()
    expect(page.locator("[data-step=branch-1]")).to_contain_text("if plan is pro")

    # The yes path gets an email whose template is left unchosen (the server refuses
    # it, on that step); the no path a wait of two days.
    add_step(page, "on the “yes” path of “Pro plan?”", "send_email")
    panel.get_by_label("Template").select_option("")
    panel.get_by_role("button", name="Done").click()
    add_step(page, "on the “no” path of “Pro plan?”", "wait")
    panel.get_by_label("Wait for: amount").fill("2")
    panel.get_by_label("Wait for: unit").select_option("days")
    panel.get_by_role("button", name="Done").click()

    # The goal: an event, with a property filter, no JSON.
    page.select_option("#goal-kind", "event")
    page.fill("input[name=goal_event]", "purchase")
    goal = page.locator(".journey-goal")
    goal.get_by_role("button", name="+ Property filter").click()
    goal.get_by_label("Only when its properties are 1: property").fill("channel")
    goal.get_by_label("Only when its properties are 1: value").fill("web")
    screenshot(page, "journey-canvas-build-1440")

    page.click("button:has-text('Save draft')")
    broken = page.locator("[data-step=send-email-2]")
    expect(broken).to_have_class(re.compile(r"\bjc-invalid\b"))
    expect(broken.locator(".jc-error")).to_contain_text("Template: no such template")
    expect(page.locator("#steps-errors")).to_contain_text("Template: no such template")
    assert not Journey.objects.filter(workspace=owner.workspace).exists()
    screenshot(page, "journey-canvas-error-1440")
    broken.locator(".jc-open").click()
    expect(panel.locator(".field-errors")).to_contain_text("no such template in this workspace")
    expect(panel.get_by_label("Template")).to_have_attribute("aria-invalid", "true")
    panel.get_by_label("Template").select_option(str(welcome.pk))
    expect(broken).not_to_have_class(re.compile(r"\bjc-invalid\b"))
    page.click("button:has-text('Save draft')")
    expect(page.locator("h1")).to_contain_text("Welcome series")

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button:has-text('Go live')")
    expect(page.locator("h1 mark")).to_have_text("Live")
    stored = Journey.objects.get(workspace=owner.workspace, name="Welcome series")
    assert stored.status == "live"
    assert stored.trigger == {"kind": "event", "event": "signup"}
    assert stored.goal == {"event": {"name": "purchase", "properties": {"channel": "web"}}}
    steps = {s.key: (s.kind, s.name, s.config) for s in stored.steps.filter(removed_at=None)}
    assert [s.key for s in stored.steps.order_by("position")] == [
        "send-email-1",
        "wait-1",
        "branch-1",
        "send-email-2",
        "wait-2",
    ]
    assert stored.entry_key == "send-email-1"
    assert steps["send-email-1"] == (
        "send_email",
        "",
        {
            "variants": [
                {"label": "A", "template_id": welcome.pk, "weight": 70, "next": "branch-1"},
                {"label": "B", "template_id": offer.pk, "weight": 30, "next": "wait-1"},
            ],
        },
    )
    assert steps["wait-1"] == ("wait", "", {"duration": {"days": 1}, "next": None})
    assert steps["branch-1"] == (
        "branch",
        "Pro plan?",
        {
            "rule": {"all": [{"attr": "plan", "op": "eq", "value": "pro"}]},
            "yes": "send-email-2",
            "no": "wait-2",
        },
    )
    assert steps["send-email-2"] == ("send_email", "", {"template_id": welcome.pk, "next": None})
    assert steps["wait-2"] == ("wait", "", {"duration": {"days": 2}, "next": None})
    screenshot(page, "journey-canvas-live-1440")

    page.set_viewport_size({"width": 390, "height": 900})
    page.reload()
    expect(page.locator("[data-step=branch-1]")).to_be_visible()
    no_sideways_scroll(page)
    screenshot(page, "journey-canvas-live-390")
    page.locator("[data-step=wait-2] .jc-open").click()
    expect(panel).to_be_visible()
    box = panel.bounding_box()
    assert box is not None and box["width"] <= 390
    screenshot(page, "journey-canvas-panel-390")
    panel.screenshot(path=SCREENSHOTS / "journey-canvas-panel-390-sheet.png")
    panel.get_by_role("button", name="Done").click()
    expect(panel).to_be_hidden()
    expect(page.locator(":focus")).to_contain_text("wait-2")


def test_every_step_kind_has_a_form_the_server_accepts(page: Page, live_server, owner):
    sms = sms_template(owner.workspace)
    stage = stages_create_defaults(workspace=owner.workspace)[1]
    log_in(page, live_server.url, owner.user)
    page.set_viewport_size({"width": 1440, "height": 1000})
    page.goto("/w/acme/journeys/new/")
    page.fill("input[name=name]", "Every kind")
    panel = page.locator("#journey-panel")

    add_step(page, "at the start", "send_sms")
    expect(panel.get_by_label("Template")).to_have_value(str(sms.pk))
    panel.get_by_label("Send at each contact's best time").check()
    add_step(page, "after “Send SMS (send-sms-1)”", "wait_until")
    panel.get_by_label("Time of day").fill("09:30")
    panel.get_by_label("Mon").check()
    panel.get_by_label("Fri").check()
    add_step(page, "after “Wait until a local time (wait-until-1)”", "wait_for")
    # Trying a rule first and going back to an event leaves no rule behind.
    panel.get_by_label("the contact to match a rule").check()
    expect(panel.locator(".rule-builder[data-ready=true]")).to_have_count(1)
    panel.get_by_label("an event").check()
    panel.get_by_label("Event name").fill("purchase")
    panel.get_by_role("button", name="+ Property filter").click()
    panel.get_by_label("Only when its properties are 1: property").fill("total")
    panel.get_by_label("Only when its properties are 1: value").fill("100")
    panel.get_by_label("Give up after: amount").fill("36")
    panel.get_by_label("Give up after: unit").select_option("hours")
    every_input_labelled(page)
    title = "Wait for an event or rule (wait-for-1)"
    add_step(page, f"on the “matched” path of “{title}”", "update_attribute")
    panel.get_by_label("Attribute", exact=True).fill("vip")
    panel.get_by_label("Set it to").fill("true")
    add_step(page, f"on the “timed out” path of “{title}”", "split")
    panel.get_by_label("Path 1 weight").fill("80")
    panel.get_by_label("Path 2 weight").fill("20")
    panel.get_by_role("button", name="+ Path").click()
    panel.get_by_label("Path 3 label").fill("Rest")
    panel.get_by_label("Path 3 weight").fill("0")
    add_step(page, "on the “A” path of “Random split (split-1)”", "move_stage")
    panel.get_by_label("Move to stage").select_option(str(stage.pk))
    panel.get_by_label("Keep them there for (days)").fill("30")
    add_step(page, "on the “B” path of “Random split (split-1)”", "webhook")
    panel.get_by_label("URL (POST, JSON)").fill("https://93.184.216.34/hook")
    add_step(page, "after “Move to a stage (move-stage-1)”", "exit")
    # The split is drawn with its weights, one column per path.
    split = page.locator("[data-step=split-1] + .jflow-fork > .jflow-column > .jflow-label")
    expect(split).to_have_text(["A 80%", "B 20%", "Rest 0%"])
    screenshot(page, "journey-canvas-kinds-1440")

    page.click("button:has-text('Save draft')")
    # A weight of 0 is refused by the server, on the split's third path.
    expect(page.locator("[data-step=split-1] .jc-error")).to_contain_text("Path 3 weight: must be")
    page.locator("[data-step=split-1] .jc-open").click()
    panel.get_by_label("Path 3 weight").fill("5")
    page.click("button:has-text('Save draft')")
    expect(page.locator("h1")).to_contain_text("Every kind")
    stored = Journey.objects.get(workspace=owner.workspace, name="Every kind")
    steps = {s.key: s.config for s in stored.steps.filter(removed_at=None)}
    assert steps == {
        "send-sms-1": {"template_id": sms.pk, "best_time": True, "next": "wait-until-1"},
        "wait-until-1": {"time": "09:30", "days_of_week": [0, 4], "next": "wait-for-1"},
        "wait-for-1": {
            "event": {"name": "purchase", "properties": {"total": 100}},
            "timeout": {"hours": 36},
            "next": "update-attribute-1",
            "timeout_next": "split-1",
        },
        "update-attribute-1": {"attribute": "vip", "value": True, "next": None},
        "split-1": {
            "paths": [
                {"label": "A", "weight": 80, "next": "move-stage-1"},
                {"label": "B", "weight": 20, "next": "webhook-1"},
                {"label": "Rest", "weight": 5, "next": None},
            ]
        },
        "move-stage-1": {"stage_id": stage.pk, "pin_days": 30, "next": "exit-1"},
        "webhook-1": {"url": "https://93.184.216.34/hook", "next": None},
        "exit-1": {},
    }
    # At 390 px a fork's paths stack, each under its label, and nothing runs off the side.
    page.set_viewport_size({"width": 390, "height": 900})
    page.reload()
    columns = page.locator("[data-step=split-1] + .jflow-fork > .jflow-column")
    expect(columns).to_have_count(3)
    first, second = columns.nth(0).bounding_box(), columns.nth(1).bounding_box()
    assert first and second and second["y"] > first["y"] + first["height"] - 1
    no_sideways_scroll(page)
    screenshot(page, "journey-canvas-kinds-390")
    # The flow alone as well, to read it at its real size.
    page.locator(".journey-canvas").screenshot(
        path=SCREENSHOTS / "journey-canvas-kinds-390-flow.png"
    )
