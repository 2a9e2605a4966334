"""A marketer builds an email from blocks (heading, text, personal field, uploaded
image, button), previews it as a contact on mobile and in dark mode, saves it, and
the saved template previews and test-sends with the contact's name."""

from __future__ import annotations

import pytest
from playwright.sync_api import FilePayload, Page, expect

from messaging.models import Message, Template
from tests.browser.conftest import log_in, screenshot
from tests.factories import ContactFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
    b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N"
    b"\x00\x00\x00\x00IEND\xaeB`\x82"
)


def _add(page: Page, kind: str) -> None:
    page.select_option(".blocks-column .blocks-add select", kind)
    page.click(".blocks-column .blocks-add button:has-text('Add block')")


def _fits(page: Page, selector: str, width: int) -> None:
    right = page.evaluate(
        "s => Math.max(...[...document.querySelectorAll(s)]"
        ".map(e => e.getBoundingClientRect().right))",
        selector,
    )
    assert right <= width + 1, f"{selector} reaches {right}px at {width}px wide"


def test_build_email_from_blocks_preview_on_mobile_and_send(
    page: Page, live_server, owner, settings
):
    settings.BASE_URL = live_server.url  # uploaded images load from the test server
    ContactFactory.create(
        workspace=owner.workspace, first_name="Ada", last_name="Lovelace", email="ada@example.com"
    )
    page.set_viewport_size({"width": 1440, "height": 900})
    log_in(page, live_server.url, owner.user)
    page.goto("/w/acme/templates/new/?channel=email")
    # Blank: no errors before anything is typed.
    expect(page.locator("#blocks-editor .blocks-section")).to_have_count(1)
    expect(page.locator("#template-preview")).to_contain_text("once the template is complete")
    expect(page.locator(".field-error:visible")).to_have_count(0)
    page.fill("input[name=name]", "Spring")
    page.fill("input[name=subject]", "Spring is here, {{ first_name|default:'friend' }}")

    _add(page, "heading")
    page.fill("#block-text", "Spring is <here>")
    _add(page, "personalisation")  # "Hi [First name]," by default
    _add(page, "text")
    page.fill("#block-text", "Dear , save **20%** on every plant.")
    # A personal field inline, at the cursor, from the picker.
    page.locator("#block-text").evaluate("t => { t.focus(); t.setSelectionRange(5, 5); }")
    page.select_option("#block-personal-field", "first_name")
    page.fill("#block-personal-fallback", "plant lover")
    page.click(".blocks-personal button:has-text('Insert')")
    expect(page.locator("#block-text")).to_have_value(
        "Dear {{first_name|plant lover}}, save **20%** on every plant."
    )
    expect(page.locator(".blocks-item.is-selected")).to_contain_text("Dear {{first_name|")
    screenshot(page, "email-builder-inline-field-1440")
    _add(page, "image")
    page.set_input_files(
        "#block-upload", files=FilePayload(name="plant.png", mimeType="image/png", buffer=PNG)
    )
    expect(page.locator(".blocks-panel [role=status]")).to_have_text("Uploaded.")
    page.fill("#block-alt", "A fern")
    _add(page, "button")
    page.fill("#block-label", "Shop the sale")
    page.fill("#block-url", "https://")
    # An error appears next to the field once it has been typed in.
    expect(page.locator(".blocks-panel .field-error:visible")).to_contain_text("https://")
    page.fill("#block-url", "https://shop.example/spring")
    expect(page.locator(".blocks-panel .field-error:visible")).to_have_count(0)
    # Move the button above the image, with the keyboard-reachable arrow.
    page.click(".blocks-item:has-text('Button') button[aria-label='Move Button up']")
    expect(page.locator(".blocks-item").nth(3)).to_contain_text("Button")

    page.fill("#template-form input[name=contact]", "ada@example.com")
    frame = page.frame_locator("#template-preview iframe")
    expect(frame.locator("body")).to_contain_text("Hi Ada,")
    expect(frame.locator("body")).to_contain_text("Spring is <here>")
    expect(frame.locator("strong")).to_have_text("20%")
    expect(frame.locator("body")).to_contain_text("Dear Ada, save 20% on every plant.")
    expect(frame.locator("img[alt='A fern']")).to_have_count(1)
    expect(frame.locator("a:has-text('Shop the sale')")).to_have_attribute(
        "href", "https://shop.example/spring"
    )
    expect(page.locator("#template-preview")).to_contain_text("As Ada Lovelace")

    page.click("button[data-device=mobile]")
    box = page.locator("#template-preview iframe").bounding_box()
    assert box is not None and 370 <= box["width"] <= 380
    page.check("#dark-check")
    expect(page.locator("#template-preview")).to_have_attribute("data-dark", "")
    screenshot(page, "email-builder-1440")
    page.set_viewport_size({"width": 390, "height": 844})
    _fits(page, "#template-form, .preview-column, .blocks-panel, .blocks-section", 390)
    screenshot(page, "email-builder-390")
    page.set_viewport_size({"width": 1440, "height": 900})

    page.click("button:has-text('Save template')")
    expect(page.locator("h1")).to_contain_text("Edit “Spring”")
    template = Template.objects.get(workspace=owner.workspace, name="Spring")
    assert template.editor == "blocks"
    assert [b["type"] for b in template.document["sections"][0]["columns"][0]["blocks"]] == [
        "heading",
        "personalisation",
        "text",
        "button",
        "image",
    ]
    text = template.document["sections"][0]["columns"][0]["blocks"][2]["text"]
    assert text == "Dear {{first_name|plant lover}}, save **20%** on every plant."
    # The saved template previews as the contact, and test-sends with their name.
    expect(page.locator("#blocks-editor .blocks-item")).to_have_count(5)
    page.fill("#template-form input[name=contact]", "Ada")
    expect(page.frame_locator("#template-preview iframe").locator("body")).to_contain_text(
        "Hi Ada,"
    )
    page.fill("input[name=to]", "me@example.com")
    page.fill("form:has(input[name=to]) input[name=contact]", "ada@example.com")
    page.click("button:has-text('Send test')")
    expect(page.locator("body")).to_contain_text("Test queued")
    message = Message.objects.get(workspace=owner.workspace, is_test=True)
    assert "Hi Ada," in message.body_html and "Hi Ada," in message.body_text
    assert "Dear Ada, save" in message.body_html and "Dear Ada, save" in message.body_text
    assert message.subject == "[Test] Spring is here, Ada"
