"""Settings and the phone layout in a real browser: an owner invites a teammate who
accepts by the emailed link and gets the right role; the sending rules and general
settings save; every dashboard page fits a 390 px phone with the menu folded."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.core import mail
from playwright.sync_api import Browser, Page, expect

from campaigns.models import Broadcast
from lifecycle.models import Stage
from lifecycle.services import stages_create_defaults
from messaging.models import SendingPolicy
from tests.browser.conftest import log_in, screenshot
from tests.factories import ContactFactory, EventFactory, TemplateFactory
from tests.surveys.helpers import nps_survey
from workspaces import tasks
from workspaces.models import Membership

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_invite_a_teammate_who_accepts_and_gets_the_role(
    page: Page, browser: Browser, live_server: Any, owner: Any, monkeypatch: Any
) -> None:
    # The worker's part, run in the server: the task the page queues after commit.
    monkeypatch.setattr(
        tasks.send_invitation, "delay", lambda *args: tasks.send_invitation.apply(args=args)
    )
    log_in(page, live_server.url, owner.user)
    page.goto("/w/acme/contacts/")
    page.get_by_role("link", name="Settings").click()
    expect(page.get_by_role("heading", name="Settings")).to_be_visible()
    page.locator(".subnav").get_by_role("link", name="Members").click()
    page.get_by_label("Email address").fill("dana@example.com")
    page.get_by_label("Role").select_option("admin")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.locator(".flash")).to_contain_text("Invitation sent to dana@example.com")
    expect(page.locator("table").nth(1)).to_contain_text("dana@example.com")
    screenshot(page, "settings-members")

    assert len(mail.outbox) == 1
    link = re.search(r"http\S+/invitations/\S+/", str(mail.outbox[0].body))
    assert link is not None
    phone = browser.new_context(viewport={"width": 390, "height": 844})
    dana = phone.new_page()
    dana.goto(link.group(0))
    expect(dana.get_by_role("heading", name="Join Acme")).to_be_visible()
    dana.get_by_label("Your name").fill("Dana")
    dana.get_by_label("Choose a password").fill("a long fine passphrase")
    dana.get_by_label("The password again").fill("a long fine passphrase")
    screenshot(dana, "invitation-accept-390")
    dana.get_by_role("button", name="Create account and join").click()
    expect(dana).to_have_url(re.compile(r"/w/acme/contacts/$"))
    expect(dana.locator(".flash")).to_contain_text("Welcome to Acme")
    assert Membership.objects.get(user__email="dana@example.com").role == "admin"
    # As an admin she manages settings; the menu folds on a phone.
    dana.get_by_role("button", name="Menu").click()
    dana.get_by_role("link", name="Settings").click()
    dana.locator(".subnav").get_by_role("link", name="Members").click()
    expect(dana.get_by_role("button", name="Send invitation")).to_be_visible()
    assert dana.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(dana, "settings-members-390")
    phone.close()


def test_sending_rules_and_general_settings_save(page: Page, live_server: Any, owner: Any) -> None:
    log_in(page, live_server.url, owner.user)
    page.goto("/w/acme/settings/sending-rules/")
    sms = page.locator("#policy-sms")
    sms.get_by_label("Limit how many marketing sms messages").check()
    sms.get_by_label("At most").fill("2")
    sms.get_by_label("messages in (hours)").fill("24")
    sms.get_by_label("Hold messages during the contact's night").check()
    sms.get_by_label("From").fill("20:30")
    sms.get_by_label("Until").fill("09:00")
    sms.get_by_role("button", name="Save sms rules").click()
    expect(page.locator(".flash")).to_contain_text("Sending rules saved")
    policy = SendingPolicy.objects.get(workspace=owner.workspace, channel="sms")
    assert (policy.cap_messages, policy.cap_period_hours) == (2, 24)
    assert f"{policy.quiet_start:%H:%M}-{policy.quiet_end:%H:%M}" == "20:30-09:00"
    screenshot(page, "settings-sending-rules")

    page.locator(".subnav").get_by_role("link", name="General").click()
    page.get_by_label("Time zone").select_option("Europe/Paris")
    page.get_by_label("Currency").fill("eur")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator(".flash")).to_contain_text("Settings saved")
    owner.workspace.refresh_from_db()
    assert (owner.workspace.time_zone, owner.workspace.currency) == ("Europe/Paris", "EUR")
    # An error appears next to its field, not before anything is typed.
    expect(page.locator(".field-error")).to_have_count(0)
    page.get_by_label("Currency").fill("E1")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator(".field-error")).to_contain_text("three-letter ISO 4217 code")
    screenshot(page, "settings-general-error")


def test_the_date_format_chosen_in_settings_is_used_on_the_pages(
    page: Page, live_server: Any, owner: Any
) -> None:
    contact = ContactFactory.create(workspace=owner.workspace, email="ada@example.com")
    type(contact).objects.filter(pk=contact.pk).update(
        created_at=dt.datetime(2026, 3, 9, 16, 5, tzinfo=dt.UTC)
    )
    log_in(page, live_server.url, owner.user)
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto("/w/acme/settings/")
    page.locator("fieldset select[name=date_locale]").select_option("en-US")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator(".flash")).to_contain_text("Settings saved")
    screenshot(page, "settings-date-format-1440")
    page.goto("/w/acme/contacts/")
    expect(page.locator("table.contacts")).to_contain_text("Mar 9, 2026")
    page.goto(f"/w/acme/contacts/{contact.pk}/")
    expect(page.locator("main")).to_contain_text("Mar 9, 2026, 4:05 PM")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "contact-date-format-us-390")
    # A member's own format takes the place of the workspace's, for them alone.
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto("/w/acme/settings/")
    page.locator("#my-date-format select").select_option("iso")
    page.get_by_role("button", name="Save my date format").click()
    expect(page.locator(".flash")).to_contain_text("Your date format is saved")
    screenshot(page, "settings-my-date-format-1440")
    page.goto(f"/w/acme/contacts/{contact.pk}/")
    expect(page.locator("main")).to_contain_text("2026-03-09 16:05")
    # Charts write their date axes in the same format (dashboard.js reads the page's).
    page.goto("/w/acme/analytics/")
    assert page.locator("html").get_attribute("data-date-locale") == "iso"
    labels = page.evaluate(
        """() => ["en-GB", "en-US", "de-DE", "fr-FR", "iso"].map((locale) => {
            document.documentElement.dataset.dateLocale = locale;
            return [Stagecraft.dateLabel("2026-03-09"), Stagecraft.dateLabel("2026-03"),
                    Stagecraft.dateLabel("Repeat customer")];
        })"""
    )
    assert labels == [
        ["9 Mar", "Mar 2026", "Repeat customer"],
        ["Mar 9", "Mar 2026", "Repeat customer"],
        ["09.03.", "03.2026", "Repeat customer"],
        ["09/03", "03/2026", "Repeat customer"],
        ["2026-03-09", "2026-03", "Repeat customer"],
    ]


def test_every_page_fits_a_phone(browser: Browser, live_server: Any, owner: Any) -> None:
    ws = owner.workspace
    stages_create_defaults(workspace=ws)
    contact = ContactFactory.create(
        workspace=ws,
        email="a.very.long.address.that.could.push.the.page.wide@some-long-domain.example.com",
        first_name="Anastasia",
        last_name="Montgomery-Fitzwilliam",
    )
    EventFactory.ago(2, contact=contact, name="purchase", revenue="19.90", currency="USD")
    template = TemplateFactory.create(workspace=ws)
    broadcast = Broadcast.objects.create(workspace=ws, name="Spring sale", template=template)
    context = browser.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844})
    page = context.new_page()
    log_in(page, live_server.url, owner.user)
    survey = nps_survey(ws)
    stage = Stage.objects.get(workspace=ws, key="customer")
    pages = [
        "/w/acme/contacts/",
        f"/w/acme/contacts/{contact.pk}/",
        "/w/acme/segments/",
        "/w/acme/segments/new/",
        "/w/acme/stages/",
        "/w/acme/campaigns/",
        f"/w/acme/campaigns/{broadcast.pk}/",
        "/w/acme/journeys/",
        "/w/acme/journeys/new/",
        "/w/acme/templates/",
        f"/w/acme/templates/{template.pk}/",
        "/w/acme/analytics/",
        "/w/acme/analytics/conversion/",
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
    too_wide = {}
    for path in pages:
        response = page.goto(path)
        assert response is not None and response.status == 200, path
        page.wait_for_load_state("networkidle")
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > 390:
            too_wide[path] = width
    assert not too_wide, too_wide
    # The menu is folded behind a button and opens.
    page.goto("/w/acme/contacts/")
    expect(page.get_by_role("link", name="Journeys")).to_be_hidden()
    page.get_by_role("button", name="Menu").click()
    expect(page.get_by_role("button", name="Menu")).to_have_attribute("aria-expanded", "true")
    page.get_by_role("link", name="Journeys").click()
    expect(page).to_have_url(re.compile(r"/w/acme/journeys/$"))
    screenshot(page, "journeys-390")
    context.close()


def test_a_new_source_attribute_rebuilds_the_figures(
    page: Page, browser: Browser, live_server: Any, owner: Any
) -> None:
    """An owner names another attribute as the acquisition source: the page says the
    figures are being rebuilt, and the analytics overview shows that rebuild waiting
    for a worker (the figures by source follow once it ran: tests/analytics)."""
    stages_create_defaults(workspace=owner.workspace)
    log_in(page, live_server.url, owner.user)
    page.goto("/w/acme/settings/reporting/")
    page.get_by_label("Acquisition source attribute").fill("utm_source")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".flash")).to_contain_text("The figures are being rebuilt with them")
    expect(page.get_by_label("Acquisition source attribute")).to_have_value("utm_source")
    screenshot(page, "settings-reporting-saved")
    page.get_by_role("button", name="Save").click()  # nothing changed: nothing to rebuild
    expect(page.locator(".flash")).to_have_text(re.compile(r"^\s*Reporting settings saved\.\s*$"))

    phone = browser.new_context(viewport={"width": 390, "height": 844})
    mobile = phone.new_page()
    log_in(mobile, live_server.url, owner.user)
    mobile.goto(live_server.url + "/w/acme/analytics/")
    expect(mobile.locator("#rollup-rebuild")).to_contain_text("Waiting for a worker")
    screenshot(mobile, "analytics-rebuild-after-settings-390")
    phone.close()
