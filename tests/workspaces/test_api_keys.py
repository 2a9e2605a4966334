"""API keys: shown once, stored hashed, revocable, last use recorded, rate limited."""

from __future__ import annotations

import hashlib
import io
import time
from types import SimpleNamespace

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from rest_framework.test import APIClient

from config.redis import get_redis
from workspaces import api_auth
from workspaces.api_auth import WINDOW_SECONDS, rate_limit_wait
from workspaces.models import ApiKey, AuditEntry, Membership
from workspaces.services import Actor, api_key_create, api_key_revoke

pytestmark = pytest.mark.django_db


def test_secret_is_stored_only_as_a_hash(ws):
    key, secret = api_key_create(workspace=ws, name="Shop", actor=Actor(system="test"))
    stored = ApiKey.objects.get(pk=key.pk)
    assert secret.startswith("sc_") and len(secret) > 40
    assert stored.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in str(ApiKey.objects.filter(pk=key.pk).values().first())
    assert stored.prefix == secret[:11]


def test_revoked_key_is_refused_at_once(ws):
    key, secret = api_key_create(workspace=ws, name="Old", actor=Actor(system="test"))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert client.get("/api/v1/workspace/").status_code == 200
    api_key_revoke(api_key=key, actor=Actor(system="test"))
    assert client.get("/api/v1/workspace/").status_code == 401
    assert AuditEntry.objects.filter(action="api_key.revoked", object_id=key.pk).exists()


def test_last_use_is_recorded(owner):
    assert owner.key.last_used_at is None
    before = timezone.now()
    owner.api.get("/api/v1/workspace/")
    owner.key.refresh_from_db()
    assert owner.key.last_used_at is not None
    assert owner.key.last_used_at >= before


def test_workspace_endpoint_names_the_keys_workspace(owner):
    body = owner.api.get("/api/v1/workspace/").json()
    assert (body["slug"], body["time_zone"]) == ("acme", "UTC")


def test_rate_limit_answers_429_with_retry_after(ws):
    _, secret = api_key_create(
        workspace=ws, name="Tiny", actor=Actor(system="test"), rate_limit_per_minute=3
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    codes = [client.get("/api/v1/workspace/").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    response = client.get("/api/v1/workspace/")
    assert 1 <= int(response["Retry-After"]) <= 60
    assert response.json()["error"]["code"] == "rate_limited"


def test_limits_are_per_key(ws, owner):
    _, secret = api_key_create(
        workspace=ws, name="Tiny", actor=Actor(system="test"), rate_limit_per_minute=1
    )
    tiny = APIClient()
    tiny.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    tiny.get("/api/v1/workspace/")
    assert tiny.get("/api/v1/workspace/").status_code == 429
    assert owner.api.get("/api/v1/workspace/").status_code == 200


def test_create_api_key_command_prints_the_secret_last(ws):
    out = io.StringIO()
    call_command("create_api_key", "--workspace", ws.slug, "--name", "CLI", stdout=out)
    secret = out.getvalue().strip().splitlines()[-1]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert client.get("/api/v1/workspace/").status_code == 200


def test_create_workspace_command(db):
    out = io.StringIO()
    call_command(
        "create_workspace",
        "shop",
        "--name",
        "The Shop",
        "--time-zone",
        "Europe/Paris",
        "--owner-email",
        "Owner@Shop.test",
        stdout=out,
    )
    membership = Membership.objects.select_related("workspace", "user").get()
    assert (membership.workspace.slug, membership.workspace.time_zone) == ("shop", "Europe/Paris")
    assert (membership.user.email, membership.role) == ("owner@shop.test", "owner")

    with pytest.raises(CommandError, match="exists"):
        call_command("create_workspace", "shop", "--name", "Again", stdout=out)
    with pytest.raises(CommandError, match="time_zone"):
        call_command(
            "create_workspace", "other", "--name", "X", "--time-zone", "Nowhere", stdout=out
        )


def test_busy_keys_are_counted_in_batches_but_limited_exactly(ws, monkeypatch):
    key, _ = api_key_create(
        workspace=ws, name="Busy", actor=Actor(system="test"), rate_limit_per_minute=2000
    )
    # The clock stands still one second into a window: the 2,001 requests share it.
    start = (int(time.time()) // WINDOW_SECONDS + 1) * WINDOW_SECONDS
    monkeypatch.setattr(api_auth, "time", SimpleNamespace(time=lambda: start + 1.0))
    results = [rate_limit_wait(key) for _ in range(2001)]
    assert all(wait is None for wait in results[:2000])
    assert results[-1] == WINDOW_SECONDS - 1
    assert get_redis().get(f"ratelimit:apikey:{key.pk}:{start}") == b"2001"
