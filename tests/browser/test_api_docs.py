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
    operations = page.locator(".opblock")
    expect(operations.first).to_be_visible()
    assert operations.count() > 40
    # Open one operation: its parameters and responses render too.
    page.locator(".opblock-summary-path", has_text="/api/v1/contacts/").first.click()
    expect(page.locator(".opblock.is-open .responses-wrapper").first).to_be_visible()
    screenshot(page, "api-docs")
    hosts = {urlsplit(url).hostname for url in requested if not url.startswith("data:")}
    assert hosts <= {"localhost", "127.0.0.1"}, sorted(set(requested))
    assert any("/static/drf_spectacular_sidecar/" in url for url in requested)
    assert not violations, violations
