"""The journey canvas in a real browser, as a marketer uses it: a journey with a
trigger, a branch, an A/B send-email step and a goal built without typing JSON, an
error from the server shown on its step, set live and stored as built; a live edit
that says how many contacts it affects before it is saved; the keyboard alone."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from campaigns.journeys.triggers import enrol_api
from campaigns.models import Journey
from lifecycle.services import stages_create_defaults
from tests.browser.conftest import log_in, screenshot
from tests.campaigns.journeys.helpers import advance, journey, step, where
from tests.factories import ContactFactory
from tests.messaging.helpers import email_template, sms_template

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _no_sideways_scroll(page: Page) -> None:
    """Nothing in the journey's own content reaches past the viewport's right edge
    (the flow scrolls inside its own box where it must)."""
    overflow = page.evaluate(
        """() => {
          const width = document.documentElement.clientWidth;
          const main = document.querySelector('main');
          return [...main.querySelectorAll('*')]
            .filter((e) => !e.closest('.jc-canvas') || e.classList.contains('jc-canvas'))
            .filter((e) => e.getBoundingClientRect().right > width + 1 && e.offsetParent !== null)
            .map((e) => e.tagName + '.' + e.className);
        }"""
    )
    assert overflow == []


def _add(page: Page, where: str, kind: str) -> None:
    page.get_by_role("button", name=f"Add a step {where}").click()
    page.locator(f".jc-menu [data-add-step={kind}]").click()
    expect(page.locator("#journey-panel")).to_be_visible()


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
    _add(page, "at the start", "send_email")
    panel = page.locator("#journey-panel")
    panel.get_by_label("A/B test").check()
    variant_b = panel.locator(".jc-variant").nth(1)
    panel.locator(".jc-variant").nth(0).get_by_label("Template").select_option(str(welcome.pk))
    variant_b.get_by_label("Template").select_option(str(offer.pk))
    panel.locator(".jc-variant").nth(0).get_by_label("Weight").fill("70")
    variant_b.get_by_label("Weight").fill("30")
    expect(variant_b.get_by_role("link", name="Preview template")).to_have_attribute(
        "href", f"/w/acme/templates/{offer.pk}/"
    )
    arms = page.locator("[data-step=send-email-1] ~ .jc-arms .jflow-column")
    expect(arms).to_have_count(2)
    expect(arms.nth(0)).to_contain_text("70%")
    expect(arms.nth(1)).to_contain_text("Offer")
    panel.get_by_role("button", name="Done").click()

    # A branch after it, on a rule built with the rule builder.
    _add(page, "after “Send email (send-email-1)”", "branch")
    expect(panel.locator(".rule-builder[data-ready=true]")).to_have_count(1)
    panel.get_by_role("button", name="+ Condition").click()
    panel.get_by_label("Attribute", exact=True).fill("plan")
    panel.get_by_label("Value", exact=True).fill("pro")
    panel.get_by_label("Step name (optional)").fill("Pro plan?")
    panel.get_by_role("button", name="Done").click()
    expect(page.locator("[data-step=branch-1]")).to_contain_text("if plan is pro")

    # The yes path gets an email whose template is left unchosen (the server refuses
    # it, on that step); the no path a wait of two days.
    _add(page, "on the “yes” path of “Pro plan?”", "send_email")
    panel.get_by_label("Template").select_option("")
    panel.get_by_role("button", name="Done").click()
    _add(page, "on the “no” path of “Pro plan?”", "wait")
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
        "branch-1",
        "send-email-2",
        "wait-1",
    ]
    assert stored.entry_key == "send-email-1"
    assert steps["send-email-1"] == (
        "send_email",
        "",
        {
            "variants": [
                {"label": "A", "template_id": welcome.pk, "weight": 70},
                {"label": "B", "template_id": offer.pk, "weight": 30},
            ],
            "next": "branch-1",
        },
    )
    assert steps["branch-1"] == (
        "branch",
        "Pro plan?",
        {
            "rule": {"all": [{"attr": "plan", "op": "eq", "value": "pro"}]},
            "yes": "send-email-2",
            "no": "wait-1",
        },
    )
    assert steps["send-email-2"] == ("send_email", "", {"template_id": welcome.pk, "next": None})
    assert steps["wait-1"] == ("wait", "", {"duration": {"days": 2}, "next": None})
    screenshot(page, "journey-canvas-live-1440")

    page.set_viewport_size({"width": 390, "height": 900})
    page.reload()
    expect(page.locator("[data-step=branch-1]")).to_be_visible()
    _no_sideways_scroll(page)
    screenshot(page, "journey-canvas-live-390")
    page.locator("[data-step=wait-1] .jc-open").click()
    expect(panel).to_be_visible()
    box = panel.bounding_box()
    assert box is not None and box["width"] <= 390
    screenshot(page, "journey-canvas-panel-390")


def test_a_live_edit_says_whom_it_affects_before_saving(page: Page, live_server, owner):
    tpl = email_template(owner.workspace)
    j = journey(
        owner.workspace,
        {"kind": "manual"},
        [
            step("hello", "send_email", template_id=tpl.pk, next="nap"),
            step("nap", "wait", duration={"days": 1}, next="tip"),
            step("tip", "send_email", template_id=tpl.pk),
        ],
        name="Onboarding",
    )
    contacts = ContactFactory.create_batch(3, workspace=owner.workspace)
    enrol_api(j, [c.pk for c in contacts])
    advance()
    assert {where(j, c) for c in contacts} == {"nap"}
    log_in(page, live_server.url, owner.user)
    page.set_viewport_size({"width": 1440, "height": 1000})
    page.goto(f"/w/acme/journeys/{j.pk}/")
    # Per-step numbers on the canvas.
    hello = page.locator("[data-step=hello]")
    expect(hello.locator("[data-count=entered]")).to_have_text("3")
    expect(hello.locator("[data-count=sent]")).to_have_text("0")
    expect(hello.locator("[data-count=open_rate]")).to_have_text("\u2013")
    expect(page.locator("[data-step=nap] [data-count=waiting]")).to_have_text("3")
    impact = page.locator("#journey-impact")
    expect(impact).to_contain_text("No change yet; 3 contacts inside.")

    page.locator("[data-step=nap] .jc-open").click()
    panel = page.locator("#journey-panel")
    panel.get_by_label("Wait for: amount").fill("2")
    expect(impact).to_contain_text(
        "Step “nap” changes: 3 contacts there now get the new settings from their next run"
    )
    page.once("dialog", lambda dialog: dialog.accept())
    panel.get_by_role("button", name="Delete step").click()
    expect(page.locator("[data-step=nap]")).to_have_count(0)
    expect(page.locator("[data-step=hello] .jc-word")).to_have_text("Template “Welcome”")
    expect(impact).to_contain_text("Step “nap” is removed: 3 contacts there now leave the journey.")
    screenshot(page, "journey-canvas-impact-1440")
    dialogs: list[str] = []

    def dismiss(dialog):
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    page.click("button:has-text('Save changes')")
    page.wait_for_timeout(300)
    assert dialogs and dialogs[0].startswith("3 contacts will leave the journey")
    assert {where(j, c) for c in contacts} == {"nap"}
    page.select_option("select[name=move_removed_to]", "tip")
    expect(impact).to_contain_text("3 contacts there now move to step “tip”.")
    page.click("button:has-text('Save changes')")
    expect(page.locator(".flash")).to_contain_text("3 moved, 0 taken out")
    assert {where(j, c) for c in contacts} == {"tip"}
    j.refresh_from_db()
    hello_step = j.steps.get(key="hello", removed_at=None)
    assert hello_step.config == {"template_id": tpl.pk, "next": "tip"}


def test_the_canvas_works_from_the_keyboard(page: Page, live_server, owner):
    tpl = email_template(owner.workspace)
    j = journey(
        owner.workspace,
        {"kind": "manual"},
        [
            step("hello", "send_email", template_id=tpl.pk, next="nap"),
            step("nap", "wait", duration={"hours": 6}, next=None),
        ],
        live=False,
    )
    log_in(page, live_server.url, owner.user)
    page.goto(f"/w/acme/journeys/{j.pk}/")
    expect(page.locator("[data-step=nap]")).to_be_visible()
    # Tab from the trigger's last input into the canvas: the "+" at the start, then the
    # first step; Enter opens its panel with the focus on its title.
    page.locator("#trigger-kind").focus()
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_attribute("aria-label", "Add a step at the start")
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_class("jc-open")
    page.keyboard.press("Enter")
    expect(page.locator(":focus")).to_have_id("journey-panel-title")
    expect(page.locator("#journey-panel")).to_contain_text("Send email")
    page.keyboard.press("Escape")
    expect(page.locator("#journey-panel")).to_be_hidden()
    expect(page.locator(":focus")).to_have_class("jc-open")
    # The "+" after the last step opens the menu; Enter on a kind adds it and opens its panel.
    add = page.get_by_role("button", name="Add a step after “Wait a duration (nap)”")
    add.focus()
    page.keyboard.press("Enter")
    expect(page.locator(":focus")).to_have_attribute("data-add-step", "send_email")
    page.keyboard.press("Escape")
    expect(page.locator(":focus")).to_have_attribute("data-slot", "nap:next:")
    page.keyboard.press("Enter")
    page.locator(".jc-menu [data-add-step=wait]").focus()
    page.keyboard.press("Enter")
    expect(page.locator(":focus")).to_have_id("journey-panel-title")
    expect(page.locator("#journey-panel")).to_contain_text("wait-1")
    # Move it up above the other wait, from the keyboard.
    page.locator("#journey-panel [data-move=up]").focus()
    page.keyboard.press("Enter")
    order = page.locator("#journey-canvas [data-step]")
    expect(order).to_have_count(3)
    assert [order.nth(i).get_attribute("data-step") for i in range(3)] == ["hello", "wait-1", "nap"]
    expect(page.locator(":focus")).to_have_attribute("data-move", "up")
    labels = page.evaluate(
        "() => [...document.querySelectorAll('#journey-panel input, #journey-panel select')]"
        ".filter((e) => !e.closest('label') && !e.getAttribute('aria-label')).length"
    )
    assert labels == 0
    page.keyboard.press("Escape")
    page.click("button:has-text('Save changes')")
    expect(page.locator(".flash")).to_contain_text("saved")
    j.refresh_from_db()
    assert [(s.key, s.config) for s in j.steps.filter(removed_at=None).order_by("position")] == [
        ("hello", {"template_id": tpl.pk, "next": "wait-1"}),
        ("wait-1", {"duration": {"days": 1}, "next": "nap"}),
        ("nap", {"duration": {"hours": 6}, "next": None}),
    ]


def test_every_step_kind_has_a_form_the_server_accepts(page: Page, live_server, owner):
    sms = sms_template(owner.workspace)
    stage = stages_create_defaults(workspace=owner.workspace)[1]
    log_in(page, live_server.url, owner.user)
    page.set_viewport_size({"width": 1440, "height": 1000})
    page.goto("/w/acme/journeys/new/")
    page.fill("input[name=name]", "Every kind")
    panel = page.locator("#journey-panel")

    _add(page, "at the start", "send_sms")
    expect(panel.get_by_label("Template")).to_have_value(str(sms.pk))
    panel.get_by_label("Send at each contact's best time").check()
    _add(page, "after “Send SMS (send-sms-1)”", "wait_until")
    panel.get_by_label("Time of day").fill("09:30")
    panel.get_by_label("Mon").check()
    panel.get_by_label("Fri").check()
    _add(page, "after “Wait until a local time (wait-until-1)”", "wait_for")
    panel.get_by_label("Event name").fill("purchase")
    panel.get_by_role("button", name="+ Property filter").click()
    panel.get_by_label("Only when its properties are 1: property").fill("total")
    panel.get_by_label("Only when its properties are 1: value").fill("100")
    panel.get_by_label("Give up after: amount").fill("36")
    panel.get_by_label("Give up after: unit").select_option("hours")
    title = "Wait for an event or rule (wait-for-1)"
    _add(page, f"on the “matched” path of “{title}”", "update_attribute")
    panel.get_by_label("Attribute", exact=True).fill("vip")
    panel.get_by_label("Set it to").fill("true")
    _add(page, f"on the “timed out” path of “{title}”", "split")
    panel.get_by_label("Path 1 weight").fill("80")
    panel.get_by_label("Path 2 weight").fill("20")
    panel.get_by_role("button", name="+ Path").click()
    panel.get_by_label("Path 3 label").fill("Rest")
    panel.get_by_label("Path 3 weight").fill("0")
    _add(page, "on the “A” path of “Random split (split-1)”", "move_stage")
    panel.get_by_label("Move to stage").select_option(str(stage.pk))
    panel.get_by_label("Keep them there for (days)").fill("30")
    _add(page, "on the “B” path of “Random split (split-1)”", "webhook")
    panel.get_by_label("URL (POST, JSON)").fill("https://93.184.216.34/hook")
    _add(page, "after “Move to a stage (move-stage-1)”", "exit")
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
