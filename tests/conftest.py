"""Shared fixtures: personas (after Healthchecks' alice/bob/charlie) and API clients.

- `owner`: a user who owns workspace `ws`, with an API key (`api`).
- `teammate`: a viewer in the same workspace.
- `outsider`: owner of another workspace with its own key (`outsider_api`); every
  API test module uses it to prove foreign ids are 404s.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client
from rest_framework.test import APIClient

from config.citus import distribute
from tests.factories import MembershipFactory, UserFactory, WorkspaceFactory
from workspaces.models import ApiKey, Membership, Role, User, Workspace
from workspaces.services import Actor, api_key_create

# Playwright's sync API runs an event loop in the test thread; Django's ORM calls from
# that thread are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@dataclass
class Persona:
    user: User
    workspace: Workspace
    membership: Membership
    key: ApiKey
    secret: str
    api: APIClient
    web: Client


def _persona(slug: str, email: str, role: str = Role.OWNER) -> Persona:
    workspace = WorkspaceFactory.create(slug=slug, name=slug.title())
    user = UserFactory.create(email=email)
    membership = MembershipFactory.create(user=user, workspace=workspace, role=role)
    key, secret = api_key_create(workspace=workspace, name="tests", actor=Actor(user=user))
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    web = Client()
    web.force_login(user)
    return Persona(user, workspace, membership, key, secret, api, web)


# Modules that take minutes start first: `make test` runs two test processes, and the
# longest one started last would leave one process working alone at the end.
LONGEST_FIRST = ("tests/test_openapi_schemathesis.py",)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.nodeid.split("::")[0] not in LONGEST_FIRST)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: Any, django_db_blocker: Any) -> None:
    """pytest-django's database, migrated; in Citus mode (CITUS_URL) its tables are
    then distributed by workspace_id or made reference tables (config/citus.py), the
    workers named by CITUS_WORKERS (host:port,… as the coordinator sees them)."""
    if not settings.DATABASE_CITUS:
        return
    workers = [w for w in os.environ.get("CITUS_WORKERS", "").split(",") if w]
    with django_db_blocker.unblock():
        distribute(workers=[(h, int(p)) for h, _, p in (w.rpartition(":") for w in workers)])


@pytest.fixture
def owner(db: Any) -> Persona:
    return _persona("acme", "alice@acme.test")


@pytest.fixture
def ws(owner: Persona) -> Workspace:
    return owner.workspace


@pytest.fixture
def api(owner: Persona) -> APIClient:
    return owner.api


@pytest.fixture
def teammate(owner: Persona) -> Persona:
    user = UserFactory.create(email="bob@acme.test")
    membership = MembershipFactory.create(user=user, workspace=owner.workspace, role=Role.VIEWER)
    web = Client()
    web.force_login(user)
    return Persona(user, owner.workspace, membership, owner.key, owner.secret, owner.api, web)


@pytest.fixture
def outsider(db: Any) -> Persona:
    return _persona("globex", "charlie@globex.test")


@pytest.fixture
def outsider_api(outsider: Persona) -> APIClient:
    return outsider.api


@pytest.fixture(autouse=True)
def _clear_cache_and_media(settings: Any, tmp_path: Any) -> None:
    """Rate-limit counters live in Redis; uploads go to a per-test folder."""

    settings.MEDIA_ROOT = str(tmp_path / "media")
    cache.clear()
