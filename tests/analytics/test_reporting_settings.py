"""Reporting settings (churned and at-risk stages, the source attribute) over the API
and the settings page; an outsider's key changes only its own workspace."""

from __future__ import annotations

import pytest
from django.utils import timezone

from analytics import tasks
from analytics.models import AnalyticsSettings, CustomerFacts, RollupRebuild
from contacts.services import contacts_mark_changed
from lifecycle.services import marked_contacts_evaluate
from tests.factories import ContactFactory, StageFactory

pytestmark = pytest.mark.django_db


def test_reporting_settings(api, ws):
    keys = [StageFactory.create(workspace=ws).key for _ in range(2)]
    body = api.get("/api/v1/settings/reporting/").json()
    assert set(body) == {"churned_stage_key", "at_risk_stage_key", "source_attribute"}
    response = api.patch(
        "/api/v1/settings/reporting/",
        {"churned_stage_key": keys[0], "at_risk_stage_key": keys[1]},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["churned_stage_key"] == keys[0]
    bad = api.patch("/api/v1/settings/reporting/", {"churned_stage_key": "nowhere"}, format="json")
    assert bad.status_code == 400 and "churned_stage_key" in bad.json()["error"]["fields"]
    same = api.patch(
        "/api/v1/settings/reporting/",
        {"churned_stage_key": keys[0], "at_risk_stage_key": keys[0]},
        format="json",
    )
    assert same.status_code == 400


def test_outsider_cannot_name_another_workspaces_stages(ws, outsider_api, outsider):
    stage = StageFactory.create(workspace=ws)
    response = outsider_api.patch(
        "/api/v1/settings/reporting/", {"churned_stage_key": stage.key}, format="json"
    )
    assert response.status_code == 400
    assert outsider.web.get("/w/acme/settings/reporting/").status_code == 404
    assert not AnalyticsSettings.objects.filter(workspace=ws, churned_stage_key=stage.key).exists()


def test_a_changed_setting_rebuilds_the_figures(api, ws):
    """The facts keep the source they were written with (and the stays the funnel path
    of the churn settings): a change queues a rebuild — one for several changes while
    it waits, a new one once it has started — and the figures follow when it ran."""
    contact = ContactFactory.create(
        workspace=ws, attributes={"signup_source": "ads", "channel": "fair"}
    )
    contacts_mark_changed(contact_ids=[contact.pk])
    while marked_contacts_evaluate():
        pass
    assert CustomerFacts.objects.get(contact=contact).source == "ads"

    def change(source_attribute: str) -> None:
        response = api.patch(
            "/api/v1/settings/reporting/", {"source_attribute": source_attribute}, format="json"
        )
        assert response.status_code == 200, response.json()

    change("signup_source")  # the default: nothing changed, nothing queued
    assert not RollupRebuild.objects.exists()
    change("channel")
    change("signup_source")
    change("channel")
    queued = RollupRebuild.objects.get(workspace=ws)
    assert queued.started_at is None and queued.requested_by == "reporting settings changed"
    RollupRebuild.objects.update(started_at=timezone.now())  # a worker took it
    change("signup_source")
    change("channel")
    later = RollupRebuild.objects.exclude(pk=queued.pk).get()
    assert tasks.rollup_rebuild_run(later.pk) is not None
    assert CustomerFacts.objects.get(contact=contact).source == "fair"
