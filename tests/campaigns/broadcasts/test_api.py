"""API /api/v1/campaigns/: broadcasts CRUD, audience count, schedule/pause/resume/cancel."""

from __future__ import annotations

from typing import Any

import pytest

from campaigns.broadcasts.delivery import broadcast_materialise
from lifecycle.models import Stage
from lifecycle.services import stages_create_defaults
from messaging.models import Message
from tests.campaigns.broadcasts.helpers import contacts, segment
from tests.messaging.helpers import email_template

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch):
    monkeypatch.setattr("campaigns.broadcasts.delivery.publish", lambda task, pk: None)


def statuses(broadcast_id: int) -> set[str]:
    return set(
        Message.objects.filter(origin_kind="broadcast", origin_id=broadcast_id).values_list(
            "status", flat=True
        )
    )


def create(api, ws, **extra):
    pro = segment(ws, "pro", "pro")
    body = {
        "name": "Spring",
        "channel": "email",
        "template_id": email_template(ws).pk,
        "include_segment_ids": [pro.pk],
        **extra,
    }
    return api.post("/api/v1/campaigns/", body, format="json")


def test_create_list_retrieve_update(api, ws, django_assert_max_num_queries):
    contacts(ws, 3, attributes={"plan": "pro"})
    response = create(api, ws, throttle_per_hour=500)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "draft" and body["throttle_per_hour"] == 500
    assert body["stats"] == {
        "recipients": 0,
        "sent": 0,
        "opened": 0,
        "clicked": 0,
        "suppressed": 0,
        "failed": 0,
    }
    url = f"/api/v1/campaigns/{body['id']}/"
    assert api.get(url).json()["name"] == "Spring"
    patched = api.patch(
        url,
        {
            "name": "Spring 2",
            "schedule": "local",
            "local_date": "2030-05-01",
            "local_time": "10:00",
        },
        format="json",
    )
    assert patched.status_code == 200, patched.json()
    assert patched.json()["local_time"] == "10:00:00"
    with django_assert_max_num_queries(4):
        listed = api.get("/api/v1/campaigns/").json()["results"]
    assert [b["name"] for b in listed] == ["Spring 2"]


def test_best_time_schedule_and_a_send_time_variant(api, ws):
    contacts(ws, 4, attributes={"plan": "pro"})
    template_id = email_template(ws, name="Other").pk
    variants = [
        {"label": "A", "template_id": template_id, "is_default": True},
        {"label": "B", "template_id": template_id, "best_time": True},
    ]
    response = create(
        api, ws, schedule="at", send_at="2030-05-01T08:00:00+00:00", variants=variants
    )
    assert response.status_code == 201, response.json()
    assert [(v["label"], v["best_time"]) for v in response.json()["variants"]] == [
        ("A", False),
        ("B", True),
    ]
    url = f"/api/v1/campaigns/{response.json()['id']}/"
    # Best time for everyone makes a best-time arm meaningless: refused, by field.
    refused = api.patch(url, {"schedule": "best", "variants": variants}, format="json")
    assert refused.status_code == 400 and "variants" in refused.json()["error"]["fields"]
    patched = api.patch(url, {"schedule": "best", "variants": []}, format="json")
    assert patched.status_code == 200 and patched.json()["schedule"] == "best"
    scheduled = api.post(url + "schedule/").json()
    assert scheduled["status"] == "scheduled" and scheduled["send_at"] == "2030-05-01T08:00:00Z"


def test_validation_errors_name_fields(api, ws):
    response = create(api, ws, channel="fax", throttle_per_hour="x", include_stage_ids=[0])
    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert {"channel", "throttle_per_hour", "include_stage_ids"} <= set(fields)


def test_audience_count_preview_and_per_broadcast(api, ws):
    contacts(ws, 4, attributes={"plan": "pro"})
    contacts(ws, 2, attributes={"plan": "pro"}, email_status="unsubscribed", prefix="u")
    broadcast_id = create(api, ws).json()["id"]
    pro_id = api.get(f"/api/v1/campaigns/{broadcast_id}/").json()["include_segment_ids"][0]
    preview = api.post(
        "/api/v1/campaigns/audience-count/",
        {"channel": "email", "include_segment_ids": [pro_id]},
        format="json",
    )
    assert preview.status_code == 200 and preview.json() == {"count": 4}
    assert api.get(f"/api/v1/campaigns/{broadcast_id}/audience-count/").json() == {"count": 4}
    bad = api.post("/api/v1/campaigns/audience-count/", {"channel": "x"}, format="json")
    assert bad.status_code == 400 and "channel" in bad.json()["error"]["fields"]


def test_audience_count_refuses_ids_that_create_refuses(api, ws, outsider, outsider_api):
    """Another workspace's segment or stage ids, or ids that never existed: the preview
    answers what create answers (400 naming each field), never a quiet count of 0."""
    theirs = segment(outsider.workspace, "theirs", "pro")
    stages_create_defaults(workspace=outsider.workspace)
    their_stage = Stage.objects.filter(workspace=outsider.workspace).first()
    assert their_stage is not None
    bodies: list[dict[str, Any]] = [
        {"include_segment_ids": [theirs.pk]},
        {"exclude_segment_ids": [theirs.pk]},
        {"include_stage_ids": [their_stage.pk]},
        {"exclude_stage_ids": [their_stage.pk, 987654321]},
        {"include_segment_ids": ["x"]},
        {"include_stage_ids": 5},
    ]
    template = email_template(ws)
    for extra in bodies:
        [field] = extra
        preview = api.post(
            "/api/v1/campaigns/audience-count/", {"channel": "email", **extra}, format="json"
        )
        created = api.post(
            "/api/v1/campaigns/",
            {"name": f"probe {field}", "channel": "email", "template_id": template.pk, **extra},
            format="json",
        )
        assert preview.status_code == created.status_code == 400, extra
        assert preview.json()["error"]["fields"] == created.json()["error"]["fields"], extra
        assert set(preview.json()["error"]["fields"]) == {field}
    # Their own key counts their own segment.
    contacts(outsider.workspace, 2, attributes={"plan": "pro"})
    theirs_count = outsider_api.post(
        "/api/v1/campaigns/audience-count/",
        {"channel": "email", "include_segment_ids": [theirs.pk]},
        format="json",
    )
    assert theirs_count.status_code == 200 and theirs_count.json() == {"count": 2}


def test_schedule_pause_resume_cancel(api, ws):
    contacts(ws, 3, attributes={"plan": "pro"})
    broadcast_id = create(api, ws).json()["id"]
    base = f"/api/v1/campaigns/{broadcast_id}/"
    scheduled = api.post(base + "schedule/")
    assert scheduled.status_code == 200 and scheduled.json()["status"] == "scheduled"
    broadcast_materialise(broadcast_id=broadcast_id)
    assert api.get(base).json()["stats"]["recipients"] == 3
    assert api.patch(base, {"name": "late"}, format="json").status_code == 409
    assert api.post(base + "schedule/").status_code == 409
    assert api.post(base + "resume/").status_code == 409
    assert api.post(base + "pause/").json()["status"] == "paused"
    assert statuses(broadcast_id) == {"held"}
    assert api.post(base + "resume/").json()["status"] in {"scheduled", "sending"}
    assert api.post(base + "cancel/").json()["status"] == "cancelled"
    assert api.post(base + "cancel/").status_code == 409
    assert statuses(broadcast_id) == {"suppressed"}


def test_outsider_gets_404(api, ws, outsider_api):
    broadcast_id = create(api, ws).json()["id"]
    for method, suffix in (
        ("get", ""),
        ("patch", ""),
        ("get", "audience-count/"),
        ("post", "schedule/"),
        ("post", "cancel/"),
    ):
        response = getattr(outsider_api, method)(
            f"/api/v1/campaigns/{broadcast_id}/{suffix}", {}, format="json"
        )
        assert response.status_code == 404
    assert outsider_api.get("/api/v1/campaigns/").json()["results"] == []
    assert api.get(f"/api/v1/campaigns/{broadcast_id}/").json()["status"] == "draft"


def test_openapi_documents_the_campaign_routes(api):
    schema = api.get("/api/schema/?format=json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/v1/campaigns/{broadcast_id}/pause/" in paths
    assert "/api/v1/campaigns/audience-count/" in paths


def test_metric_conversion_event_and_subject_and_time_variants(api, ws):
    variants = [
        {"label": "A", "is_default": True, "subject": "Roast"},
        {"label": "B", "subject": "{{ first_name }}, roast", "send_at": "2030-05-01T18:00:00Z"},
    ]
    response = create(
        api,
        ws,
        schedule="at",
        send_at="2030-05-01T08:00:00+00:00",
        variants=variants,
        test_pool_percent=20,
        winner_metric="revenue",
        conversion_event="order",
        conversion_window_days=5,
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["winner_metric"], body["conversion_event"], body["conversion_window_days"]) == (
        "revenue",
        "order",
        5,
    )
    assert [(v["label"], v["subject"], v["send_at"]) for v in body["variants"]] == [
        ("A", "Roast", None),
        ("B", "{{ first_name }}, roast", "2030-05-01T18:00:00Z"),
    ]
    # Variants without a template take the broadcast's.
    assert body["variants"][0]["template_id"] == body["variants"][1]["template_id"]
    assert body["variants"][1]["template_id"] == body["template_id"]
    url = f"/api/v1/campaigns/{body['id']}/"
    for field, value in (
        ("winner_metric", "likes"),
        ("winner_metric", None),
        ("conversion_window_days", 0),
        ("conversion_window_days", None),
        ("conversion_event", None),
    ):
        refused = api.patch(url, {field: value}, format="json")
        assert refused.status_code == 400, (field, value)
        assert field in refused.json()["error"]["fields"]
    schema = api.get("/api/schema/", {"format": "json"}).json()
    variant = schema["components"]["schemas"]["Variant"]["properties"]
    assert {"subject", "send_at", "template_id"} <= set(variant)
    assert "winner_metric" in schema["components"]["schemas"]["Broadcast"]["properties"]
