"""Production refuses to start without the webhook secrets its providers need."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.processes import ROOT


def _start(**env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MESSAGING_", "EMAIL_", "TWILIO_", "DKIM_", "ANYMAIL"))
    }
    environment.update(
        {"DEBUG": "0", "SECRET_KEY": "k" * 50, "DATABASE_URL": "postgres://x@127.0.0.1/x", **env}
    )
    environment.pop("DJANGO_SETTINGS_MODULE", None)
    return subprocess.run(
        [sys.executable, "-c", "import config.settings"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"MESSAGING_EMAIL_PROVIDER": "smtp"}, "EMAIL_WEBHOOK_SECRET must be set"),
        ({"MESSAGING_EMAIL_PROVIDER": "http"}, "EMAIL_WEBHOOK_SECRET must be set"),
        ({"MESSAGING_SMS_PROVIDER": "twilio"}, "TWILIO_AUTH_TOKEN must be set"),
        ({"MESSAGING_EMAIL_PROVIDER": "carrier-pigeon"}, "MESSAGING_EMAIL_PROVIDER must be"),
    ],
)
def test_production_refuses_to_start_without_secrets(env, message):
    result = _start(**env)
    assert result.returncode != 0 and message in result.stderr


def test_production_starts_with_them_and_with_the_sandbox():
    assert _start().returncode == 0
    configured = _start(
        MESSAGING_EMAIL_PROVIDER="smtp",
        EMAIL_WEBHOOK_SECRET="s",
        MESSAGING_SMS_PROVIDER="twilio",
        TWILIO_AUTH_TOKEN="t",
    )
    assert configured.returncode == 0, configured.stderr


def test_dkim_key_is_checked_at_start_up(tmp_path):
    common = {"DKIM_DOMAIN": "shop.example", "DKIM_SELECTOR": "sc1"}
    bad = _start(**common, DKIM_PRIVATE_KEY="-----BEGIN RSA PRIVATE KEY-----\nnope\n")
    assert bad.returncode != 0 and "DKIM_PRIVATE_KEY is not a usable" in bad.stderr
    missing = _start(**common, DKIM_PRIVATE_KEY_FILE=str(tmp_path / "absent.pem"))
    assert missing.returncode != 0 and "DKIM_PRIVATE_KEY_FILE cannot be read" in missing.stderr
    partial = _start(DKIM_DOMAIN="shop.example")
    assert partial.returncode != 0 and "must be set together" in partial.stderr
    key = subprocess.run(
        ["openssl", "genrsa", "2048"], capture_output=True, check=True, text=True
    ).stdout
    (tmp_path / "dkim.pem").write_text(key)
    good = _start(**common, DKIM_PRIVATE_KEY_FILE=str(tmp_path / "dkim.pem"))
    assert good.returncode == 0, good.stderr
    assert _start(**common, DKIM_PRIVATE_KEY=key).returncode == 0


def test_production_refuses_an_anymail_backend_without_its_webhook_secret():
    anymail = {
        "MESSAGING_EMAIL_PROVIDER": "smtp",
        "EMAIL_WEBHOOK_SECRET": "s",
        "EMAIL_BACKEND": "anymail.backends.postmark.EmailBackend",
    }
    refused = _start(**anymail)
    assert refused.returncode != 0 and "ANYMAIL_WEBHOOK_SECRET" in refused.stderr
    assert _start(**anymail, ANYMAIL_WEBHOOK_SECRET="u:p").returncode == 0
    assert _start(**anymail, ANYMAIL='{"WEBHOOK_SECRET": "u:p"}').returncode == 0
