"""An accessibility pass with axe-core (from npm, run in the page) over the main
dashboard pages: no serious or critical violations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser

from campaigns.models import Broadcast, Journey
from lifecycle.models import Stage
from lifecycle.services import stages_create_defaults, sweep_now
from tests.browser.conftest import ROOT, log_in
from tests.factories import ContactFactory, EventFactory, SegmentFactory, TemplateFactory
from tests.surveys.helpers import nps_survey

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"


def _axe_source() -> str:
    if not Path(AXE).exists():
        pytest.fail("axe-core is missing: run `npm ci` (make setup does).", pytrace=False)
    return AXE.read_text()


def test_main_pages_have_no_serious_accessibility_violations(
    browser: Browser, live_server: Any, owner: Any
) -> None:
    ws = owner.workspace
    stages_create_defaults(workspace=ws)
    contact = ContactFactory.create(workspace=ws, first_name="Ada", email="ada@example.com")
    EventFactory.ago(2, contact=contact, name="purchase", revenue="12.00", currency="USD")
    sweep_now(workspace=ws)
    segment = SegmentFactory.create(workspace=ws, name="Everyone")
    template = TemplateFactory.create(workspace=ws)
    broadcast = Broadcast.objects.create(
        workspace=ws, name="Spring", channel="email", template=template
    )
    journey = Journey.objects.create(workspace=ws, name="Welcome", trigger={"kind": "manual"})
    survey = nps_survey(ws)
    stage = Stage.objects.get(workspace=ws, key="customer")
    pages = [
        "/w/acme/contacts/",
        f"/w/acme/contacts/{contact.pk}/",
        "/w/acme/segments/",
        f"/w/acme/segments/{segment.pk}/",
        "/w/acme/segments/new/",
        "/w/acme/stages/",
        "/w/acme/campaigns/",
        "/w/acme/campaigns/new/",
        f"/w/acme/campaigns/{broadcast.pk}/",
        "/w/acme/journeys/",
        f"/w/acme/journeys/{journey.pk}/",
        "/w/acme/templates/",
        f"/w/acme/templates/{template.pk}/",
        "/w/acme/analytics/",
        "/w/acme/outbox/",
        "/w/acme/imports/",
        "/w/acme/settings/",
        "/w/acme/settings/members/",
        "/w/acme/settings/sending-rules/",
        "/w/acme/settings/reporting/",
        "/w/acme/settings/api-keys/",
        "/w/acme/surveys/",
        "/w/acme/surveys/new/",
        f"/w/acme/surveys/{survey.pk}/",
        f"/w/acme/surveys/{survey.pk}/send/",
        f"/w/acme/stages/{stage.pk}/",
    ]
    axe = _axe_source()
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1440, "height": 900})
    page = context.new_page()
    log_in(page, live_server.url, owner.user)
    found: dict[str, list[str]] = {}
    for path in pages:
        page.goto(path)
        page.wait_for_load_state("networkidle")
        # evaluate() runs outside the page's CSP, which refuses inline scripts.
        page.evaluate(axe)
        violations = page.evaluate(
            """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations
                .filter(v => v.impact === "serious" || v.impact === "critical")
                .map(v => v.id + ": "
                  + v.nodes.slice(0, 3).map(n => n.target.join(" ")).join(" | "))"""
        )
        if violations:
            found[path] = violations
    context.close()
    assert not found, found
