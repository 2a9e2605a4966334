"""Dashboard: campaign list with numbers, editor with live audience count, actions."""

from __future__ import annotations

import pytest

from campaigns.models import Broadcast
from tests.campaigns.broadcasts.helpers import broadcast, contacts, segment
from tests.messaging.helpers import email_template

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch):
    monkeypatch.setattr("campaigns.broadcasts.delivery.publish", lambda task, pk: None)


def test_list_editor_audience_and_actions(owner, ws, django_assert_max_num_queries):
    pro = segment(ws, "pro", "pro")
    contacts(ws, 3, attributes={"plan": "pro"})
    template = email_template(ws)
    web = owner.web
    response = web.post(
        f"/w/{ws.slug}/campaigns/new/",
        {
            "name": "Launch",
            "channel": "email",
            "template_id": template.pk,
            "include_segment_ids": [pro.pk],
            "schedule": "now",
        },
    )
    assert response.status_code == 302
    b = Broadcast.objects.get(workspace=ws, name="Launch")
    assert b.include_segment_ids == [pro.pk]
    panel = web.post(
        f"/w/{ws.slug}/campaigns/audience/",
        {"channel": "email", "include_segment_ids": [pro.pk]},
    )
    assert '<strong id="audience-count">3</strong>' in panel.content.decode()
    editor = web.get(f"/w/{ws.slug}/campaigns/{b.pk}/").content.decode()
    assert "Schedule" in editor and 'name="include_segment_ids"' in editor
    web.post(f"/w/{ws.slug}/campaigns/{b.pk}/schedule/")
    b.refresh_from_db()
    assert b.status == "scheduled"
    web.post(f"/w/{ws.slug}/campaigns/{b.pk}/pause/")
    b.refresh_from_db()
    assert b.status == "paused"
    assert "Resume" in web.get(f"/w/{ws.slug}/campaigns/{b.pk}/").content.decode()
    web.post(f"/w/{ws.slug}/campaigns/{b.pk}/cancel/")
    b.refresh_from_db()
    assert b.status == "cancelled"
    broadcast(ws, template, name="Second", include_segment_ids=[pro.pk])
    with django_assert_max_num_queries(8):
        page = web.get(f"/w/{ws.slug}/campaigns/").content.decode()
    assert "Launch" in page and "Second" in page and "Cancelled" in page


def test_viewer_cannot_act_and_outsider_gets_404(owner, teammate, outsider, ws):
    b = broadcast(ws, email_template(ws), include_segment_ids=[segment(ws, "pro", "pro").pk])
    assert teammate.web.post(f"/w/{ws.slug}/campaigns/{b.pk}/schedule/").status_code == 403
    assert outsider.web.get(f"/w/{ws.slug}/campaigns/{b.pk}/").status_code == 404
    b.refresh_from_db()
    assert b.status == "draft"


def test_editor_offers_and_saves_best_time(owner, ws):
    pro = segment(ws, "pro", "pro")
    template = email_template(ws)
    page = owner.web.get(f"/w/{ws.slug}/campaigns/new/").content.decode()
    assert 'name="schedule" value="best"' in page
    response = owner.web.post(
        f"/w/{ws.slug}/campaigns/new/",
        {
            "name": "Best",
            "channel": "email",
            "template_id": template.pk,
            "include_segment_ids": [pro.pk],
            "schedule": "best",
        },
    )
    assert response.status_code == 302
    saved = Broadcast.objects.get(workspace=ws, name="Best")
    assert saved.schedule == "best" and saved.send_at is None
    editor = owner.web.get(f"/w/{ws.slug}/campaigns/{saved.pk}/").content.decode()
    assert 'value="best" data-toggle="schedule" checked' in editor


def test_editor_saves_an_ab_test_and_a_time_on_the_workspace_clock(owner, ws):
    ws.time_zone = "Europe/Paris"
    ws.save()
    pro = segment(ws, "pro", "pro")
    a, b = email_template(ws, name="A"), email_template(ws, name="B")
    response = owner.web.post(
        f"/w/{ws.slug}/campaigns/new/",
        {
            "name": "Test",
            "channel": "email",
            "template_id": a.pk,
            "include_segment_ids": [pro.pk],
            "ab_enabled": "1",
            "variant_template_0": a.pk,
            "variant_weight_0": "1",
            "variant_template_1": b.pk,
            "variant_weight_1": "3",
            "variant_template_2": "",
            "test_pool_percent": "30",
            "winner_wait_hours": "6",
            "schedule": "at",
            "send_date": "2031-03-01",
            "send_time": "10:30",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    saved = Broadcast.objects.get(workspace=ws, name="Test")
    variants = list(
        saved.variants.order_by("label").values_list("label", "template_id", "weight", "is_default")
    )
    assert variants == [("A", a.pk, 1, True), ("B", b.pk, 3, False)]
    assert (saved.test_pool_percent, saved.winner_wait_hours) == (30, 6)
    assert saved.send_at is not None
    assert saved.send_at.isoformat() == "2031-03-01T09:30:00+00:00"  # 10:30 in Paris
    editor = owner.web.get(f"/w/{ws.slug}/campaigns/{saved.pk}/").content.decode()
    assert 'value="2031-03-01"' in editor and 'value="10:30"' in editor
    # Turning the test off leaves one template.
    owner.web.post(
        f"/w/{ws.slug}/campaigns/{saved.pk}/",
        {
            "name": "Test",
            "channel": "email",
            "template_id": a.pk,
            "include_segment_ids": [pro.pk],
            "schedule": "now",
        },
    )
    assert not saved.variants.exists()


def test_preview_as_a_contact_found_by_email_or_name(owner, ws):
    template = email_template(ws, subject="Hi {{ first_name|default:'friend' }}")
    contacts(ws, 1, first_name="Zelda", prefix="zelda")
    found = owner.web.post(
        f"/w/{ws.slug}/campaigns/preview/", {"template_id": template.pk, "preview_as": "zelda"}
    ).content.decode()
    assert "Hi Zelda" in found and "As Zelda" in found
    missing = owner.web.post(
        f"/w/{ws.slug}/campaigns/preview/", {"template_id": template.pk, "preview_as": "nobody"}
    ).content.decode()
    assert "No contact matches" in missing and "Hi friend" in missing
    assert (
        owner.web.post(f"/w/{ws.slug}/campaigns/preview/", {"template_id": "x"}).status_code == 200
    )


def test_editor_saves_subject_and_time_versions_and_the_metric(owner, ws, outsider):
    ws.time_zone = "Europe/Paris"
    ws.save()
    pro = segment(ws, "pro", "pro")
    template = email_template(ws, name="Roast")
    response = owner.web.post(
        f"/w/{ws.slug}/campaigns/new/",
        {
            "name": "Subjects",
            "channel": "email",
            "template_id": template.pk,
            "include_segment_ids": [pro.pk],
            "ab_enabled": "1",
            "variant_template_0": "",
            "variant_subject_0": "Our <autumn> roast",
            "variant_template_1": "",
            "variant_subject_1": "{{ first_name }}, a roast for you",
            "variant_send_1_date": "2031-03-01",
            "variant_send_1_time": "18:00",
            "variant_template_2": "",
            "variant_subject_2": "",
            "test_pool_percent": "20",
            "winner_wait_hours": "4",
            "winner_metric": "conversions",
            "conversion_event": "order",
            "conversion_window_days": "3",
            "schedule": "at",
            "send_date": "2031-03-01",
            "send_time": "09:00",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    saved = Broadcast.objects.get(workspace=ws, name="Subjects")
    rows = list(saved.variants.order_by("label").values_list("label", "template_id", "subject"))
    assert rows == [
        ("A", template.pk, "Our <autumn> roast"),
        ("B", template.pk, "{{ first_name }}, a roast for you"),
    ]
    b = saved.variants.get(label="B")
    assert b.send_at is not None and b.send_at.isoformat() == "2031-03-01T17:00:00+00:00"
    assert (saved.winner_metric, saved.conversion_event, saved.conversion_window_days) == (
        "conversions",
        "order",
        3,
    )
    editor = owner.web.get(f"/w/{ws.slug}/campaigns/{saved.pk}/").content.decode()
    assert 'value="Our &lt;autumn&gt; roast"' in editor  # escaped
    assert 'value="18:00"' in editor
    assert 'value="conversions" data-toggle="metric" checked' in editor
    # A broken subject comes back on the form, by field, not as a 500.
    response = owner.web.post(
        f"/w/{ws.slug}/campaigns/{saved.pk}/",
        {
            "name": "Subjects",
            "channel": "email",
            "template_id": template.pk,
            "include_segment_ids": [pro.pk],
            "ab_enabled": "1",
            "variant_subject_0": "fine",
            "variant_subject_1": "{% if %}",
            "winner_metric": "clicks",
            "schedule": "now",
        },
    )
    assert response.status_code == 200 and "B: subject:" in response.content.decode()
    assert outsider.web.get(f"/w/{ws.slug}/campaigns/{saved.pk}/").status_code == 404


def test_segment_counts_for_the_pickers(owner, ws, outsider, django_assert_max_num_queries):
    pro, basic = segment(ws, "pro", "pro"), segment(ws, "basic", "basic")
    contacts(ws, 4, attributes={"plan": "pro"})
    contacts(ws, 2, attributes={"plan": "basic"}, prefix="b")
    with django_assert_max_num_queries(8):
        response = owner.web.get(f"/w/{ws.slug}/campaigns/audience/segment-counts/")
    assert response.json() == {"counts": {str(pro.pk): 4, str(basic.pk): 2}}
    editor = owner.web.get(f"/w/{ws.slug}/campaigns/new/").content.decode()
    assert f'data-segment-count="{pro.pk}"' in editor
    assert outsider.web.get(f"/w/{ws.slug}/campaigns/audience/segment-counts/").status_code == 404
    # The outsider's own workspace's counts hold none of this workspace's segments.
    own = outsider.web.get(f"/w/{outsider.workspace.slug}/campaigns/audience/segment-counts/")
    assert str(pro.pk) not in own.json()["counts"]
