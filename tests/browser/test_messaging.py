"""The template editor's live preview and the outbox in a real browser."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from demo.campaigns import demo_messaging_seed
from tests.browser.conftest import log_in, screenshot
from tests.factories import ContactFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_template_editor_previews_live_and_refuses_errors(page: Page, live_server, owner):
    ContactFactory.create(workspace=owner.workspace, first_name="Grace")
    log_in(page, live_server.url, owner.user)
    page.goto("/w/acme/templates/new/?channel=email")
    # A blank new template shows no errors before anything is typed.
    expect(page.locator("#template-preview")).to_contain_text("once the template is complete")
    expect(page.locator(".field-error:visible")).to_have_count(0)
    page.check("input[name=editor][value=html]")
    page.fill("input[name=name]", "Launch")
    page.fill("input[name=subject]", "Hello {{ first_name|default:'there' }}")
    page.fill("textarea[name=body]", "<style>h1{color:red}</style><h1>Hi {{ first_name }}</h1>")
    page.fill("#template-form input[name=contact]", "Grace")
    preview = page.locator("#template-preview")
    expect(preview).to_contain_text("Subject: Hello Grace")
    frame = page.frame_locator("#template-preview iframe")
    expect(frame.locator("h1")).to_have_text("Hi Grace")
    page.fill("textarea[name=body]", "<p>{{ first_name|safe }}</p>")
    # The error shows next to the field that caused it.
    expect(page.locator("[data-error-for=body]")).to_contain_text("line 1: Invalid filter: 'safe'")
    page.fill("textarea[name=body]", "<p>Welcome, {{ first_name }}</p>")
    expect(frame.locator("p")).to_have_text("Welcome, Grace")
    screenshot(page, "template-editor")
    # The contact picker's search has answered before the page is left (a longer
    # wait: under a loaded CI run it once took more than the default 5 s).
    expect(page.locator("#contact-options option")).to_have_count(1, timeout=15_000)
    page.click("button:has-text('Save template')")
    expect(page.locator("h1")).to_contain_text("Edit “Launch”")


def test_sms_editor_counts_segments(page: Page, live_server, owner):
    log_in(page, live_server.url, owner.user)
    page.goto("/w/acme/templates/new/?channel=sms")
    page.fill("textarea[name=body]", "x" * 161)
    expect(page.locator("#template-preview")).to_contain_text("2 segments · GSM-7")
    page.fill("textarea[name=body]", "Zażółć gęślą jaźń")
    expect(page.locator("#template-preview")).to_contain_text("1 segment · UCS-2")


def test_outbox_shows_sandbox_messages(page: Page, live_server, owner):
    for i in range(4):
        ContactFactory.create(workspace=owner.workspace, first_name=f"Ada{i}")
    demo_messaging_seed(workspace=owner.workspace, messages=4)
    log_in(page, live_server.url, owner.user)
    page.goto("/w/acme/outbox/")
    rows = page.locator("table tbody tr")
    expect(rows).to_have_count(4)
    expect(rows.first).to_contain_text("Sent")
    rows.first.locator("a").first.click()
    frame = page.frame_locator("iframe[title='Email as sent']")
    # Which demo email a contact gets depends on its id: either is the rendered one.
    expect(frame.locator("body")).to_contain_text(re.compile(r"Hi Ada\d!|It has been a while"))
    screenshot(page, "outbox-message")
