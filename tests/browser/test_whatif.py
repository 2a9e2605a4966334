"""What-if in the stage editor: change a rule with the rule builder, preview where
contacts would move before saving, then compute the 12-month funnel under it with a
real worker and watch it finish."""

from __future__ import annotations

import datetime as dt
import re
import time

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from contacts.services import event_summaries_refresh
from lifecycle.models import Stage, StageTransition, WhatIfRun
from lifecycle.services import contact_stage_set, stages_create_defaults, sweep_now
from tests.browser.conftest import log_in, screenshot
from tests.factories import ContactFactory, EventFactory
from tests.processes import purge_broker, running_worker
from workspaces.services import Actor

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def shop(owner):
    """30 contacts signed up 300 days ago; contact i bought i % 4 times, 45 days apart
    (so 7 have exactly two purchases). One three-time buyer is pinned in Repeat."""
    ws = owner.workspace
    stages_create_defaults(workspace=ws)
    signed_up = timezone.now() - dt.timedelta(days=300)
    contacts = []
    for i in range(30):
        contact = ContactFactory.create(
            workspace=ws, first_name=f"Buyer{i}", last_name="<b>Bold</b>", signed_up_at=signed_up
        )
        for k in range(i % 4):
            EventFactory.ago(k * 45 + 1, contact=contact, name="purchase", revenue="25.00")
        contacts.append(contact)
    event_summaries_refresh(contact_ids=[c.pk for c in contacts])
    sweep_now(workspace=ws)
    repeat = Stage.objects.get(workspace=ws, key="repeat")
    contact_stage_set(contact=contacts[3], stage=repeat, actor=Actor(system="test"), pin=True)
    return contacts


def test_preview_the_impact_of_a_rule_then_its_last_12_months(page: Page, live_server, owner, shop):
    repeat = Stage.objects.get(workspace=owner.workspace, key="repeat")
    transitions = StageTransition.objects.count()
    log_in(page, live_server.url, owner.user)
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"/w/acme/stages/{repeat.pk}/")
    expect(page.locator(".rule-builder[data-ready]")).to_be_attached()
    # "Repeat customer" needs 2 purchases; ask what 4 would do.
    page.locator(".rb-row").first.get_by_label("Amount").fill("4")
    page.get_by_role("button", name="Preview impact").click()
    moves = page.get_by_test_id("whatif-moves")
    # 7 two-time and 7 three-time buyers are in Repeat; 4 purchases makes them
    # customers, except the pinned one.
    expect(moves).to_contain_text("13 contacts would move from Repeat customer to Customer")
    expect(page.get_by_test_id("whatif-held")).to_contain_text("1 pinned contact")
    expect(page.get_by_test_id("whatif-staying")).to_have_text("16")
    sample = page.get_by_test_id("whatif-sample")
    expect(sample.locator("tbody tr")).to_have_count(13)
    expect(sample).to_contain_text("<b>Bold</b>")  # shown as text, never as markup
    assert sample.locator("b").count() == 0
    screenshot(page, "whatif-preview-1440")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "whatif-preview-390")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.set_viewport_size({"width": 1440, "height": 900})

    # A broken rule: the error is next to the rule, not a page error.
    page.get_by_role("button", name="JSON").click()
    page.get_by_label("Rule as JSON").fill('{"purchases": {"gte": "many"}}')
    page.get_by_role("button", name="Preview impact").click()
    expect(page.get_by_test_id("whatif-errors")).to_contain_text("rule.purchases")
    page.get_by_label("Rule as JSON").fill('{"purchases": {"gte": 4}}')
    page.get_by_role("button", name="Preview impact").click()
    expect(moves).to_contain_text("13 contacts")

    purge_broker()
    with running_worker():
        page.get_by_role("button", name="Show the last 12 months under this rule").click()
        funnel = page.get_by_test_id("whatif-funnel")
        seen = set()
        deadline = time.monotonic() + 90
        while "done" not in seen and time.monotonic() < deadline:
            seen.add(funnel.get_attribute("data-status"))
            page.wait_for_timeout(200)
        assert "done" in seen, seen
    table = page.get_by_test_id("whatif-funnel-table")
    expect(table.locator("tbody tr")).to_have_count(12)
    expect(page.locator("[data-whatif-chart][data-drawn]")).to_be_attached()
    # The last month: 14 in Repeat under today's rules, 0 under the proposal.
    last = table.locator("tbody tr").last
    headers = table.locator("thead th").all_inner_texts()
    repeat_cell = last.locator("td").nth(headers.index("Repeat customer") - 1)
    expect(repeat_cell).to_have_text(re.compile(r"^\d+ → \d+$"))
    current, proposed = (int(n) for n in repeat_cell.inner_text().split(" → "))
    assert proposed < current
    run = WhatIfRun.objects.get(workspace=owner.workspace)
    assert run.status == "done" and run.result is not None
    assert run.result["months"][-1]["proposed"]["repeat"] == proposed
    screenshot(page, "whatif-funnel-1440")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "whatif-funnel-390")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    # Nothing was saved by previewing.
    repeat.refresh_from_db()
    assert repeat.rule == {"purchases": {"gte": 2}}
    assert StageTransition.objects.count() == transitions
