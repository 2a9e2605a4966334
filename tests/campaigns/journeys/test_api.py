"""API /api/v1/journeys/: create, retrieve with counts, live edit, actions, enrol."""

from __future__ import annotations

import pytest

from campaigns.models import JourneyEnrolment
from messaging.models import Template
from tests.campaigns.journeys.helpers import advance, later
from tests.factories import ContactFactory
from tests.messaging.helpers import email_template

pytestmark = pytest.mark.django_db


def body(ws, **extra):
    tpl = Template.objects.filter(workspace=ws).first() or email_template(ws)
    return {
        "name": "Welcome",
        "trigger": {"kind": "manual"},
        "steps": [
            {
                "key": "hello",
                "kind": "send_email",
                "config": {"template_id": tpl.pk, "next": "wait"},
            },
            {"key": "wait", "kind": "wait", "config": {"duration": {"days": 1}, "next": "tip"}},
            {"key": "tip", "kind": "send_email", "config": {"template_id": tpl.pk}},
        ],
        **extra,
    }


def test_create_schedule_enrol_and_count(api, ws):
    response = api.post("/api/v1/journeys/", body(ws), format="json")
    assert response.status_code == 201, response.json()
    journey = response.json()
    assert journey["status"] == "draft" and [s["key"] for s in journey["steps"]] == [
        "hello",
        "wait",
        "tip",
    ]
    url = f"/api/v1/journeys/{journey['id']}/"
    contacts = ContactFactory.create_batch(3, workspace=ws)
    ids = [c.pk for c in contacts]
    assert api.post(url + "enrol/", {"contact_ids": ids}, format="json").status_code == 409
    assert api.post(url + "schedule/", {}, format="json").json()["status"] == "live"
    enrolled = api.post(url + "enrol/", {"contact_ids": ids, "key": "batch-1"}, format="json")
    assert enrolled.json() == {"enrolled": 3}
    # A retried request with the same key adds no one.
    again = api.post(url + "enrol/", {"contact_ids": ids, "key": "batch-1"}, format="json")
    assert again.json() == {"enrolled": 0}
    advance()
    counts = {c["key"]: c for c in api.get(url).json()["counts"]}
    assert (counts["hello"]["entered"], counts["wait"]["waiting"], counts["tip"]["entered"]) == (
        3,
        3,
        0,
    )
    advance(later(days=1, minutes=1))
    data = api.get(url).json()
    assert data["totals"]["completed"] == 3
    assert {c["key"]: c["exited"] for c in data["counts"]}["tip"] == 3


def test_bad_definition_is_400_with_the_path(api, ws):
    bad = body(ws)
    bad["steps"][1]["config"]["next"] = "nowhere"
    response = api.post("/api/v1/journeys/", bad, format="json")
    assert response.status_code == 400
    assert "steps[1].config" in response.json()["error"]["fields"]
    response = api.post(
        "/api/v1/journeys/", body(ws, name="x", trigger={"kind": "event"}), format="json"
    )
    assert response.status_code == 400
    assert "trigger.event" in response.json()["error"]["fields"]


def test_live_edit_reports_contacts_moved(api, ws):
    journey = api.post("/api/v1/journeys/", body(ws), format="json").json()
    url = f"/api/v1/journeys/{journey['id']}/"
    api.post(url + "schedule/", {}, format="json")
    contact = ContactFactory.create(workspace=ws)
    api.post(url + "enrol/", {"contact_ids": [contact.pk]}, format="json")
    advance()
    steps = [s for s in journey["steps"] if s["key"] != "wait"]
    steps[0]["config"]["next"] = "tip"
    response = api.patch(url, {"steps": steps, "move_removed_to": "tip"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["edit"] == {"moved": 1, "exited": 0}
    advance()
    assert JourneyEnrolment.objects.get(contact=contact).status == "completed"


def test_pause_resume_cancel(api, ws):
    journey = api.post("/api/v1/journeys/", body(ws), format="json").json()
    url = f"/api/v1/journeys/{journey['id']}/"
    assert api.post(url + "pause/").status_code == 409
    api.post(url + "schedule/", {"start_at": "2030-01-01T00:00:00Z"}, format="json")
    assert api.post(url + "pause/").json()["status"] == "paused"
    assert api.post(url + "resume/").json()["status"] == "live"
    assert api.post(url + "cancel/").json()["status"] == "cancelled"
    assert api.patch(url, {"name": "again"}, format="json").status_code == 409
    bad = api.post(url + "schedule/", {"start_at": "tomorrow"}, format="json")
    assert bad.status_code in (400, 409)


def test_outsider_gets_404(api, ws, outsider_api):
    journey = api.post("/api/v1/journeys/", body(ws), format="json").json()
    url = f"/api/v1/journeys/{journey['id']}/"
    assert outsider_api.get(url).status_code == 404
    assert outsider_api.patch(url, {"name": "mine"}, format="json").status_code == 404
    for action in ("schedule", "pause", "resume", "cancel", "enrol"):
        assert outsider_api.post(url + f"{action}/", {}, format="json").status_code == 404
    assert outsider_api.get("/api/v1/journeys/").json()["results"] == []
