"""/api/docs/ in a real browser: Swagger UI (vendored by drf-spectacular-sidecar)
renders every operation under the CSP, and no request leaves this machine."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_api_docs_render_operations_from_this_machine_only(page: Page, live_server: Any) -> None:
    requested: list[str] = []
    page.context.on("request", lambda request: requested.append(request.url))
    violations: list[str] = []
    page.on(
        "console", lambda m: violations.append(m.text) if "Content Security" in m.text else None
    )
    response = page.goto("/api/docs/")
    assert response is not None and response.status == 200
    assert "script-src 'self'" in (response.headers.get("content-security-policy") or "")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Stagecraft API")
    # Every tag is listed, folded (Swagger UI stops drawing after ~130 open operations).
    tags = page.locator(".opblock-tag")
    expect(tags.first).to_be_visible()
    names = [name.split()[0] for name in tags.all_inner_texts() if name.strip()]
    for tag in ("analytics", "contacts", "loyalty", "products", "settings", "surveys"):
        assert tag in names, names
    # Unfold contacts: its operations render; open one: its parameters and responses too.
    page.locator(".opblock-tag", has_text="contacts").first.click()
    operations = page.locator(".opblock")
    expect(operations.nth(5)).to_be_visible()
    page.locator(".opblock-summary-path", has_text="/api/v1/contacts/").first.click()
    expect(page.locator(".opblock.is-open .responses-wrapper").first).to_be_visible()
    screenshot(page, "api-docs")
    hosts = {urlsplit(url).hostname for url in requested if not url.startswith("data:")}
    assert hosts <= {"localhost", "127.0.0.1"}, sorted(set(requested))
    assert any("/static/drf_spectacular_sidecar/" in url for url in requested)
    assert not violations, violations
