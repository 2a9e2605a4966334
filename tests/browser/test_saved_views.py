"""A marketer saves the contacts list's filters as a view for themselves and another
shared with the team; a viewer sees only the shared one and saves one of their own.
Screenshots at 1440 and 390 px (test-artifacts/screenshots/saved-views-*)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from contacts.models import SavedView
from tests.browser.conftest import log_in, screenshot
from tests.factories import ContactFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _save(page: Page, name: str, *, shared: bool) -> None:
    page.locator(".save-view summary").click()
    page.get_by_label("Name of the view").fill(name)
    if shared:
        page.get_by_label("Shared with the team").check()
    page.get_by_role("button", name="Save view").click()


def test_views_for_me_and_for_the_team(page: Page, live_server: Any, owner: Any, teammate: Any):
    ContactFactory.create(workspace=owner.workspace, email_status="unsubscribed")
    log_in(page, live_server.url, owner.user)
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto("/w/acme/contacts/?email_status=unsubscribed")
    _save(page, "My unsubscribed", shared=False)
    expect(page.locator(".flash")).to_contain_text("saved for you")
    _save(page, "Team unsubscribed", shared=True)
    expect(page.locator(".flash")).to_contain_text("saved shared with the team")
    views = page.locator(".saved-views")
    expect(views).to_contain_text("My unsubscribed")
    expect(views.locator("li", has_text="Team unsubscribed")).to_contain_text("team")
    screenshot(page, "saved-views-1440")

    page.context.clear_cookies()
    log_in(page, live_server.url, teammate.user)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/w/acme/contacts/")
    expect(views).to_contain_text("Team unsubscribed")
    expect(views).not_to_contain_text("My unsubscribed")
    expect(page.get_by_label("Shared with the team")).to_have_count(0)
    _save(page, "Viewer's own", shared=False)
    expect(views).to_contain_text("Viewer's own")
    screenshot(page, "saved-views-390")
    assert SavedView.objects.get(name="Viewer's own").created_by == teammate.user
