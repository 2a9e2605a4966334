"""Headless Chromium (Debian's, never a downloaded one) driven by Playwright against
pytest-django's live server. Screenshots go to test-artifacts/screenshots/.

These tests never skip: without /usr/bin/chromium they fail and say how to install it
(`apt-get install -y chromium`, which .ci/run does)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def chromium_path() -> str:
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        pytest.fail(
            "Browser tests need Debian's Chromium: apt-get install -y chromium "
            "(or set CHROMIUM=/path/to/chromium).",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS
        )
        yield instance
        instance.close()


# What htmx logs when a request is aborted: leaving a page (or closing the context)
# while a late keystroke's search is in flight. An abort is the browser's doing, never
# the app's; a failed or refused request logs htmx:sendError or htmx:responseError.
ABORTED = ("htmx:sendAbort", "htmx:afterRequest")


def _is_error(message: ConsoleMessage) -> bool:
    return message.type == "error" and not message.text.startswith(ABORTED)


@pytest.fixture
def page(browser: Browser, live_server: Any) -> Iterator[Page]:
    # Reduced motion, as a reader may ask their system for: charts are drawn at once,
    # so a screenshot never catches one halfway through its entry animation.
    context = browser.new_context(
        base_url=live_server.url,
        viewport={"width": 1360, "height": 900},
        reduced_motion="reduce",
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if _is_error(msg) else None)
    # Generous for a loaded 2-core CI machine (a full-page screenshot or a wait for
    # network quiet took over 15 s there beside the engine's load tests); a page that
    # never gets there still fails.
    page.set_default_timeout(30_000)
    yield page
    context.close()
    assert not errors, f"the page logged errors: {errors}"


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def log_in(page: Page, base_url: str, user: Any) -> None:
    """Start a session without typing (the login form has its own test)."""
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": base_url}]
    )
