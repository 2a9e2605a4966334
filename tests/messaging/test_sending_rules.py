"""Quiet hours and frequency caps per channel over the API and the settings page: the
dispatcher applies what is saved; bad input is a 400 naming the field; an outsider's
key changes only its own workspace."""

from __future__ import annotations

import pytest

from messaging.models import SendingPolicy
from messaging.services.pressure import policies_for

pytestmark = pytest.mark.django_db


def test_sending_rules(api, ws):
    rules = {row["channel"]: row for row in api.get("/api/v1/settings/sending-rules/").json()}
    assert rules["email"]["cap_messages"] is None
    response = api.patch(
        "/api/v1/settings/sending-rules/email/",
        {
            "cap_messages": 3,
            "cap_period_hours": 24,
            "quiet_hours_enabled": True,
            "quiet_start": "22:00",
            "quiet_end": "07:30",
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    policy = policies_for({ws.pk})[(ws.pk, "email")]
    assert policy.cap_messages == 3 and policy.cap_period.total_seconds() == 24 * 3600
    assert (
        policy.quiet is not None
        and f"{policy.quiet[0]:%H:%M}-{policy.quiet[1]:%H:%M}" == "22:00-07:30"
    )
    # Only what is sent changes.
    api.patch("/api/v1/settings/sending-rules/email/", {"cap_messages": None}, format="json")
    row = SendingPolicy.objects.get(workspace=ws, channel="email")
    assert row.cap_messages is None and row.quiet_hours_enabled


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"cap_messages": 0}, "cap_messages"),
        ({"cap_messages": "many"}, "cap_messages"),
        ({"cap_messages": True}, "cap_messages"),
        ({"cap_period_hours": 99999}, "cap_period_hours"),
        ({"quiet_start": "25:00"}, "quiet_start"),
        ({"quiet_hours_enabled": "yes"}, "quiet_hours_enabled"),
        ({"cap_policy": "explode"}, "cap_policy"),
        ({"quiet_hours_enabled": True, "quiet_start": "08:00", "quiet_end": "08:00"}, "quiet_end"),
        ({"volume": 11}, "volume"),
    ],
)
def test_bad_sending_rules_name_the_field(api, body, field):
    response = api.patch("/api/v1/settings/sending-rules/sms/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


def test_unknown_channel_is_404(api):
    assert api.patch("/api/v1/settings/sending-rules/pigeon/", {}, format="json").status_code == 404


def test_outsider_changes_only_its_own_rules(ws, outsider_api, outsider):
    outsider_api.patch("/api/v1/settings/sending-rules/email/", {"cap_messages": 1}, format="json")
    assert not SendingPolicy.objects.filter(workspace=ws).exists()
    assert SendingPolicy.objects.get(workspace=outsider.workspace).cap_messages == 1
    assert outsider.web.get("/w/acme/settings/sending-rules/").status_code == 404
