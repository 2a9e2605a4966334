"""Reporting settings (churned and at-risk stages, the source attribute) over the API
and the settings page; an outsider's key changes only its own workspace."""

from __future__ import annotations

import pytest

from analytics.models import AnalyticsSettings
from tests.factories import StageFactory

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
