""" "Rebuild figures" on the analytics overview (owners and admins): the button queues
a rebuild of the rollups from the raw data; the page's status says it waits, then
runs (seconds so far against the last rebuild's), then that it is done, and refreshes
the page; the task runs once when delivered twice; marketers and viewers cannot start
one; outsiders get 404s."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from analytics import tasks
from analytics.models import AnalyticsSettings, CustomerFacts, RollupRebuild
from tests.factories import ContactFactory, MembershipFactory, UserFactory
from workspaces.models import Role

pytestmark = pytest.mark.django_db

REBUILD = "/w/acme/analytics/rebuild/"
STATUS = "/w/acme/analytics/rebuild/status/"


@pytest.fixture
def contacts(owner: Any) -> None:
    for i in range(3):
        ContactFactory.create(workspace=owner.workspace, email=f"c{i}@example.com")


def _marketer(owner: Any) -> Client:
    user = UserFactory.create(email="mia@acme.test")
    MembershipFactory.create(user=user, workspace=owner.workspace, role=Role.MARKETER)
    web = Client()
    web.force_login(user)
    return web


def test_rebuild_figures_runs_in_a_worker_with_live_status(owner: Any, contacts: None) -> None:
    ws = owner.workspace
    overview = owner.web.get("/w/acme/analytics/").content.decode()
    assert "Rebuild figures" in overview and 'id="rollup-rebuild"' in overview
    assert owner.web.get(STATUS).content.decode().strip() == ""  # nothing asked yet

    response = owner.web.post(REBUILD, {"querystring": "start=2026-01-01"})
    assert response.status_code == 302
    assert response["Location"] == "/w/acme/analytics/?start=2026-01-01"
    owner.web.post(REBUILD)
    rebuild = RollupRebuild.objects.get(workspace=ws)  # one, not two
    waiting = owner.web.get(STATUS).content.decode()
    assert "Waiting for a worker" in waiting and 'hx-trigger="every 1s"' in waiting

    # The derived rows drifted from the raw data (or were never written): a rebuild
    # writes them again.
    CustomerFacts.objects.filter(workspace=ws).delete()
    seconds = tasks.rollup_rebuild_run(rebuild.pk)
    assert seconds is not None and seconds > 0
    assert tasks.rollup_rebuild_run(rebuild.pk) is None  # delivered twice: run once
    assert CustomerFacts.objects.filter(workspace=ws).count() == 3
    rebuild.refresh_from_db()
    assert rebuild.finished_at is not None and rebuild.error == ""
    settings_row = AnalyticsSettings.objects.get(workspace=ws)
    assert settings_row.rollups_rebuilt_at == rebuild.started_at  # the nightly one waits
    done = owner.web.get(f"{STATUS}?poll=1")
    assert done["HX-Refresh"] == "true"
    assert "Figures rebuilt from the raw data" in done.content.decode()

    # The next one measures itself against this one.
    RollupRebuild.objects.filter(pk=rebuild.pk).update(seconds=10.0)
    owner.web.post(REBUILD)
    second = RollupRebuild.objects.exclude(pk=rebuild.pk).get()
    started = timezone.now() - dt.timedelta(seconds=4)
    RollupRebuild.objects.filter(pk=second.pk).update(started_at=started)
    running = owner.web.get(f"{STATUS}?poll=1")
    text = running.content.decode()
    assert "HX-Refresh" not in running and '<progress value="4" max="10"' in text
    assert "4 s so far (the last rebuild took 10 s)" in text


def test_only_owners_and_admins_rebuild(
    owner: Any, teammate: Any, outsider: Any, contacts: None
) -> None:
    marketer = _marketer(owner)
    for web in (marketer, teammate.web):
        assert web.post(REBUILD).status_code == 403
        assert web.get(STATUS).status_code == 403
        assert "Rebuild figures" not in web.get("/w/acme/analytics/").content.decode()
    assert outsider.web.post(REBUILD).status_code == 404
    assert outsider.web.get(STATUS).status_code == 404
    assert not RollupRebuild.objects.exists()
    # The outsider's own workspace shows nothing of acme's rebuilds.
    owner.web.post(REBUILD)
    assert outsider.web.get("/w/globex/analytics/rebuild/status/").content.decode().strip() == ""


def test_a_rebuild_that_died_with_its_worker_is_forgotten(owner: Any, contacts: None) -> None:
    owner.web.post(REBUILD)
    old = timezone.now() - dt.timedelta(hours=1)
    RollupRebuild.objects.update(requested_at=old, started_at=old)
    assert owner.web.get(STATUS).content.decode().strip() == ""
    owner.web.post(REBUILD)
    assert RollupRebuild.objects.count() == 2
