"""Login throttling (django-axes, counted in PostgreSQL): per account and per address,
on the dashboard's and the admin's login pages, with a clear message, an audit entry
and an end after the cool-off."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client, RequestFactory

from tests.factories import MembershipFactory, UserFactory
from workspaces.login_throttle import client_ip
from workspaces.models import AuditEntry

pytestmark = pytest.mark.django_db
PASSWORD = "correct horse battery staple"
COOLOFF_SECONDS = 2.0


@pytest.fixture(autouse=True)
def _throttle(settings: Any) -> None:
    settings.AXES_FAILURE_LIMIT = 3
    settings.AXES_COOLOFF_TIME = dt.timedelta(seconds=COOLOFF_SECONDS)


@dataclass
class Attempt:
    status_code: int
    content: bytes
    logged_in: bool


def _login(email: str, password: str, address: str, url: str = "/login/") -> Attempt:
    client = Client(REMOTE_ADDR=address)
    response = client.post(url, {"username": email, "password": password})
    return Attempt(response.status_code, response.content, "_auth_user_id" in client.session)


def test_wrong_passwords_lock_the_account_from_everywhere_until_the_cool_off(owner):
    bob = UserFactory.create(email="bob@acme.test")
    MembershipFactory.create(user=bob, workspace=owner.workspace)
    for _ in range(2):
        response = _login("alice@acme.test", "wrong", "10.0.0.1")
        assert response.status_code == 200 and b"did not match" in response.content
    locked = _login("alice@acme.test", "wrong", "10.0.0.1")
    assert locked.status_code == 429
    assert b"Too many failed log-ins" in locked.content
    assert b"locked for 1 minute" in locked.content  # 2 s shows as the minimum, 1 minute
    locked_at = time.monotonic()

    # The right password, from another address, is refused while the lock lasts.
    right = _login("alice@acme.test", PASSWORD, "10.0.0.2")
    assert right.status_code == 429 and not right.logged_in
    assert b"Too many failed log-ins" in right.content
    # Another account from another address is not affected...
    other = _login("bob@acme.test", PASSWORD, "10.0.0.2")
    assert other.status_code == 302 and other.logged_in
    # ...but the address that made the failures is locked for every account.
    same_address = _login("bob@acme.test", PASSWORD, "10.0.0.1")
    assert same_address.status_code == 429 and not same_address.logged_in

    # One audit entry in Alice's workspace, however many attempts the lock refused.
    entries = AuditEntry.objects.filter(workspace=owner.workspace, action="user.login_locked_out")
    assert entries.count() == 1
    entry = entries.get()
    assert entry.object_type == "user" and entry.object_id == owner.user.pk
    assert entry.details["site"] == "dashboard" and entry.details["failure_limit"] == 3
    assert "10.0.0.1" not in str(entry.details)  # the address is in the log, not here

    time.sleep(max(0.0, COOLOFF_SECONDS + 0.2 - (time.monotonic() - locked_at)))
    after = _login("alice@acme.test", PASSWORD, "10.0.0.2")
    assert after.status_code == 302 and after.logged_in


def test_failures_from_one_address_over_many_accounts_lock_the_address(owner):
    for name in ("x", "y", "z"):
        _login(f"{name}@nowhere.test", "guess", "10.0.0.3")
    refused = _login("alice@acme.test", PASSWORD, "10.0.0.3")
    assert refused.status_code == 429 and not refused.logged_in
    # Each of those accounts failed once: Alice from elsewhere is fine, and no
    # workspace gets an entry for accounts that do not exist.
    assert _login("alice@acme.test", PASSWORD, "10.0.0.4").logged_in
    assert not AuditEntry.objects.filter(action="user.login_locked_out").exists()


def test_changing_the_case_of_the_email_is_the_same_account(owner):
    for email in ("Alice@acme.test", "ALICE@ACME.TEST", " alice@Acme.test"):
        _login(email, "wrong", "10.0.1.1")
    assert _login("alice@acme.test", PASSWORD, "10.0.1.2").status_code == 429


def test_the_admin_login_is_throttled_too(owner):
    owner.user.is_staff = owner.user.is_superuser = True
    owner.user.save()
    for _ in range(3):
        response = _login("alice@acme.test", "wrong", "10.0.2.1", url="/admin/login/")
    assert response.status_code == 429
    assert b"Too many failed log-ins" in response.content
    refused = _login("alice@acme.test", PASSWORD, "10.0.2.2", url="/admin/login/")
    assert refused.status_code == 429 and not refused.logged_in
    # The dashboard's login counts the same account.
    assert _login("alice@acme.test", PASSWORD, "10.0.2.2").status_code == 429
    entry = AuditEntry.objects.get(action="user.login_locked_out")
    assert entry.details["site"] == "admin"


def test_forwarded_for_counts_only_behind_trusted_proxies(settings):
    request = RequestFactory().post(
        "/login/", REMOTE_ADDR="10.9.9.9", HTTP_X_FORWARDED_FOR="1.2.3.4, 5.6.7.8"
    )
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip(request) == "10.9.9.9"  # a client writes what it likes there
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_ip(request) == "5.6.7.8"  # what our proxy saw
    settings.TRUSTED_PROXY_COUNT = 3
    assert client_ip(request) == "10.9.9.9"  # fewer hops than proxies: not trusted
