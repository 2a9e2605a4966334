"""The Content-Security-Policy: on every page, the API's docs included (served by the
API's own WSGI handler in production), strict for scripts; and no template relies on
inline script, which the policy would refuse."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.wsgi import wsgi_get

ROOT = Path(__file__).resolve().parent.parent


def directives(header: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


def assert_strict(header: str) -> None:
    policy = directives(header)
    assert policy["script-src"] == ["'self'"]  # no inline, no eval, no other host
    assert policy["default-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["connect-src"] == ["'self'"]


def test_dashboard_pages_send_a_strict_policy(owner):
    for url in ("/login/", "/w/acme/contacts/", "/w/acme/analytics/", "/admin/login/"):
        response = owner.web.get(url, follow=True)
        assert response.status_code == 200, url
        assert_strict(response["Content-Security-Policy"])


@pytest.mark.django_db
def test_api_docs_are_vendored_and_run_no_inline_script():
    status, headers, body = wsgi_get("/api/docs/")
    assert status.startswith("200")
    assert_strict(headers["Content-Security-Policy"])
    html = body.decode()
    scripts = re.findall(r"<script\b[^>]*>", html)
    assert len(scripts) == 3 and all("src=" in s for s in scripts), scripts
    assert not re.search(r"<script\b[^>]*>\s*[^<\s]", html)  # no inline body
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    links = re.findall(r'(?:src|href)="([^"]*)"', html)
    assert links and all(u.startswith("/") and not u.startswith("//") for u in links), links
    # The start-up script is a request of its own, JavaScript, pointing at our schema.
    status, headers, body = wsgi_get("/api/docs/?script=")
    assert status.startswith("200")
    assert headers["Content-Type"].startswith("application/javascript")
    assert b"/api/schema/" in body
    assert b'"validatorUrl": null' in body or b'"validatorUrl":null' in body
    # Swagger UI itself comes from the static files (whitenoise), not a CDN.
    status, headers, body = wsgi_get(
        "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"
    )
    assert status.startswith("200") and len(body) > 100_000


INLINE_HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE)
INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>")


def test_no_template_has_inline_script_or_event_handlers():
    """The CSP would refuse them, and the page would quietly lose that behaviour."""
    offenders = []
    for path in sorted((ROOT / "templates").rglob("*.html")):
        text = path.read_text()
        for pattern in (INLINE_HANDLER, INLINE_SCRIPT):
            offenders += [f"{path.relative_to(ROOT)}: {m.group(0)}" for m in pattern.finditer(text)]
        if "javascript:" in text:
            offenders.append(f"{path.relative_to(ROOT)}: javascript: URL")
    assert not offenders, offenders
