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
    assert '<option value="best"' in page
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
    assert '<option value="best" selected>' in editor
