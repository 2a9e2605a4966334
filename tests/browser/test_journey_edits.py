"""The journey canvas in a real browser, editing: a live edit that says how many
contacts it affects before it is saved, the keyboard alone, rules in the rule builder
(branch, wait-for, goal, exit), a step added where a fork's paths join, a branch
deleted with the steps only on its other path."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from campaigns.journeys.triggers import enrol_api
from tests.browser.conftest import log_in, screenshot
from tests.browser.journey_canvas import add_step
from tests.campaigns.journeys.helpers import advance, journey, step, where
from tests.factories import ContactFactory
from tests.messaging.helpers import email_template

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PRO = {"attr": "plan", "op": "eq", "value": "pro"}


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
    expect(panel).to_contain_text("So far: 3 entered · 3 waiting here now")
    expect(impact).to_contain_text(
        "Step “nap” changes: 3 contacts there now keep the time they were given; "
        "contacts who arrive later wait the new way."
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


def _focus_is(page: Page, element_id: str) -> None:
    # The document's focused element, polled: the `:focus` selector does not match
    # while the headless window itself has no focus (seen after another test's page).
    page.wait_for_function(
        "id => document.activeElement && document.activeElement.id === id", arg=element_id
    )


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
    # Keys go to the focused window: after another test's page the headless window may
    # not have it, and key presses then move no focus.
    page.bring_to_front()
    expect(page.locator("[data-step=nap]")).to_be_visible()
    # Tab from the trigger's last input into the canvas: the "+" at the start, then the
    # first step; Enter opens its panel with the focus on its title.
    page.locator("#trigger-kind").focus()
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_attribute("aria-label", "Add a step at the start")
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_class("jc-open")
    page.keyboard.press("Enter")
    _focus_is(page, "journey-panel-title")
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
    _focus_is(page, "journey-panel-title")
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


def test_the_focus_stays_put_when_the_rule_catalog_arrives(page: Page, live_server, owner):
    """The rule catalog loads after the canvas is drawn and redraws an open panel; the
    marker typing in it keeps the focus (and Escape still closes the panel)."""
    tpl = email_template(owner.workspace)
    j = journey(
        owner.workspace,
        {"kind": "manual"},
        [step("hello", "send_email", template_id=tpl.pk, next=None)],
        live=False,
    )
    held: list = []
    page.route("**/rules/catalog.json", lambda route: held.append(route))
    log_in(page, live_server.url, owner.user)
    page.goto(f"/w/acme/journeys/{j.pk}/")
    page.bring_to_front()
    page.locator("[data-step=hello] .jc-open").focus()
    page.keyboard.press("Enter")
    _focus_is(page, "journey-panel-title")
    name = page.get_by_label("Step name (optional)")
    name.focus()
    page.keyboard.type("Welcome")
    page.wait_for_function("() => true")  # lets the held request reach the route handler
    assert len(held) == 1
    expect(page.locator("#journey-canvas")).not_to_have_attribute("data-ready", "true")
    held[0].continue_()
    expect(page.locator("#journey-canvas")).to_have_attribute("data-ready", "true")
    page.wait_for_function(
        "() => document.activeElement && document.activeElement.value === 'Welcome'"
    )
    page.keyboard.type(" mail")
    expect(name).to_have_value("Welcome mail")
    page.keyboard.press("Escape")
    expect(page.locator("#journey-panel")).to_be_hidden()
    expect(page.locator(":focus")).to_have_class("jc-open")


def test_rules_everywhere_and_deleting_a_branch(page: Page, live_server, owner):
    tpl = email_template(owner.workspace)
    j = journey(
        owner.workspace,
        {"kind": "manual"},
        [
            step("hello", "send_email", template_id=tpl.pk, next="q"),
            step("q", "branch", rule=PRO, yes="pro", no="nap"),
            step("pro", "send_email", template_id=tpl.pk, next="bye"),
            step("nap", "wait", duration={"days": 2}, next="bye"),
            step("bye", "exit"),
        ],
        live=False,
    )
    log_in(page, live_server.url, owner.user)
    page.set_viewport_size({"width": 1440, "height": 1000})
    page.goto(f"/w/acme/journeys/{j.pk}/")
    panel = page.locator("#journey-panel")

    # A step where the branch's paths join again: every path goes through it.
    add_step(page, "where the paths of “Branch on a rule (q)” join", "update_attribute")
    panel.get_by_label("Attribute", exact=True).fill("seen")
    panel.get_by_label("Set it to").fill("1")
    panel.get_by_role("button", name="Done").click()
    # Drawn once, below the fork, not in either column.
    expect(page.locator("[data-step=update-attribute-1]")).to_have_count(1)
    expect(page.locator(".jflow-fork [data-step=update-attribute-1]")).to_have_count(0)
    # The branch's rule, in the rule builder.
    page.locator("[data-step=q] .jc-open").click()
    expect(panel.locator(".rule-builder[data-ready=true]")).to_have_count(1)
    panel.get_by_label("Value", exact=True).fill("vip")
    panel.get_by_role("button", name="Done").click()
    expect(page.locator("[data-step=q]")).to_contain_text("if plan is vip")
    # Deleting the branch keeps its "yes" path; the step only on "no" goes too.
    page.locator("[data-step=q] .jc-open").click()
    dialogs: list[str] = []

    def accept(dialog):
        dialogs.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    panel.get_by_role("button", name="Delete step").click()
    assert dialogs == ["Delete “Branch on a rule (q)” and the 1 step only on its other paths?"]
    expect(page.locator("[data-step=q], [data-step=nap]")).to_have_count(0)
    expect(page.locator(":focus")).to_have_text(re.compile("Send email.*pro"))
    # Undo brings both back; deleting again takes them out again.
    page.get_by_role("button", name="Undo: delete “Branch on a rule (q)”").click()
    expect(page.locator("[data-step=q], [data-step=nap]")).to_have_count(2)
    expect(page.locator(".jc-toolbar")).to_contain_text("Undone: delete “Branch on a rule (q)”.")
    page.locator("[data-step=q] .jc-open").click()
    page.once("dialog", lambda dialog: dialog.accept())
    panel.get_by_role("button", name="Delete step").click()
    expect(page.locator("[data-step=q], [data-step=nap]")).to_have_count(0)

    # A wait for a rule, after the first step.
    add_step(page, "after “Send email (hello)”", "wait_for")
    panel.get_by_label("the contact to match a rule").check()
    panel.get_by_role("button", name="+ Condition").click()
    panel.get_by_label("Attribute", exact=True).fill("plan")
    panel.get_by_label("Value", exact=True).fill("trial")
    panel.get_by_role("button", name="Done").click()

    # Goal and exit rules in the rule builder.
    page.select_option("#goal-kind", "rule")
    goal = page.locator(".journey-goal")
    goal.get_by_role("button", name="+ Condition").click()
    goal.get_by_label("Attribute", exact=True).fill("plan")
    goal.get_by_label("Value", exact=True).fill("paid")
    exit_rule = page.locator("#exit-rule-box")
    expect(exit_rule).to_be_hidden()
    page.get_by_label("Exit when the contact matches a rule").check()
    exit_rule.get_by_role("button", name="+ Condition").click()
    exit_rule.get_by_label("Attribute", exact=True).fill("plan")
    exit_rule.get_by_label("Value", exact=True).fill("churned")
    screenshot(page, "journey-canvas-rules-1440")
    page.click("button:has-text('Save changes')")
    expect(page.locator(".flash")).to_contain_text("saved")

    j.refresh_from_db()
    assert j.goal == {"rule": {"all": [{"attr": "plan", "op": "eq", "value": "paid"}]}}
    assert j.exit_rule == {"all": [{"attr": "plan", "op": "eq", "value": "churned"}]}
    steps = [(s.key, s.config) for s in j.steps.filter(removed_at=None).order_by("position")]
    assert steps == [
        ("hello", {"template_id": tpl.pk, "next": "wait-for-1"}),
        (
            "wait-for-1",
            {
                "rule": {"all": [{"attr": "plan", "op": "eq", "value": "trial"}]},
                "timeout": {"days": 3},
                "next": "pro",
                "timeout_next": "pro",
            },
        ),
        ("pro", {"template_id": tpl.pk, "next": "update-attribute-1"}),
        ("update-attribute-1", {"attribute": "seen", "value": 1, "next": "bye"}),
        ("bye", {}),
    ]
    # Switching the exit rule off saves none.
    page.get_by_label("Exit when the contact matches a rule").uncheck()
    page.click("button:has-text('Save changes')")
    expect(page.locator(".flash")).to_contain_text("saved")
    j.refresh_from_db()
    assert j.exit_rule is None


def test_ab_arms_keep_a_shared_next_and_lose_their_own_steps_with_the_variant(
    page: Page, live_server, owner
):
    """An A/B send stored with one shared next (as the API may store it) opens with
    every arm going on to it; removing a variant deletes the steps only on its arm."""
    tpl = email_template(owner.workspace)
    j = journey(
        owner.workspace,
        {"kind": "manual"},
        [
            step(
                "offer",
                "send_email",
                variants=[
                    {"label": "A", "template_id": tpl.pk, "weight": 1},
                    {"label": "B", "template_id": tpl.pk, "weight": 1},
                    {"label": "C", "template_id": tpl.pk, "weight": 1, "next": "c-only"},
                ],
                next="nudge",
            ),
            step("c-only", "wait", duration={"days": 3}, next="nudge"),
            step("nudge", "send_email", template_id=tpl.pk),
        ],
        name="Offers",
        live=False,
    )
    log_in(page, live_server.url, owner.user)
    page.set_viewport_size({"width": 1440, "height": 1000})
    page.goto(f"/w/acme/journeys/{j.pk}/")
    arms = page.locator("[data-step=offer] ~ .jc-arms > .jflow-column")
    expect(arms).to_have_count(3)
    expect(arms.nth(0)).to_contain_text("joins below")
    expect(arms.nth(2).locator("[data-step=c-only]")).to_be_visible()
    expect(page.locator("[data-step=nudge]")).to_have_count(1)
    add = page.get_by_role("button", name="Add a step where the paths of “Send email (offer)” join")
    expect(add).to_be_visible()
    screenshot(page, "journey-canvas-arms-1440")

    page.locator("[data-step=offer] .jc-open").click()
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#journey-panel").get_by_role("button", name="Remove variant C").click()
    expect(arms).to_have_count(2)
    expect(page.locator("[data-step=c-only]")).to_have_count(0)
    page.locator("#journey-panel").get_by_role("button", name="Done").click()
    page.set_viewport_size({"width": 390, "height": 900})
    screenshot(page, "journey-canvas-arms-390")
    page.click("button:has-text('Save changes')")
    expect(page.locator(".jc-arms > .jflow-column")).to_have_count(2)
    offer = j.steps.get(key="offer", removed_at=None)
    assert offer.config == {
        "variants": [
            {"label": "A", "template_id": tpl.pk, "weight": 1, "next": "nudge"},
            {"label": "B", "template_id": tpl.pk, "weight": 1, "next": "nudge"},
        ]
    }
    assert not j.steps.filter(key="c-only", removed_at=None).exists()
