"""Recommendation performance is on the pages marketers read: a journey's page and a
broadcast's page show, per kind, the products shown, the clicks and the attributed
revenue of their messages; another workspace's member gets a 404."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from campaigns.models import Broadcast
from contacts.models import Event
from messaging.models import Message
from messaging.services.tracking import tracking_record_click
from tests.campaigns.journeys.helpers import journey, step
from tests.catalog.test_blocks import _catalogue, _render, blocks_template
from tests.factories import ContactFactory
from tests.messaging.helpers import email_template

pytestmark = pytest.mark.django_db
HUMAN = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 Safari/605.1.15"


def _shown_clicked_bought(ws, api, origin_kind: str, origin_id: int) -> None:
    products = _catalogue(ws)
    created = blocks_template(api, {"type": "product", "product": products["kettle"].pk})
    contact = ContactFactory.create(workspace=ws)
    message = _render(ws, created.json()["id"], contact)
    sent = timezone.now() - dt.timedelta(hours=2)
    Message.objects.filter(pk=message.pk).update(
        status="sent", sent_at=sent, origin_kind=origin_kind, origin_id=origin_id
    )
    message.refresh_from_db()
    index = message.links.index("https://shop.test/k")
    assert tracking_record_click(message=message, index=index, user_agent=HUMAN, prefetch=False)
    Event.objects.create(
        workspace=ws,
        contact=contact,
        name="purchase",
        properties={"items": [{"product_id": "kettle", "quantity": 1, "price": 40}]},
        occurred_at=sent + dt.timedelta(hours=1),
    )


def test_a_journeys_page_shows_clicks_and_revenue_per_kind(owner, outsider, api, ws):
    j = journey(ws, {"kind": "manual"}, [step("w", "wait", duration={"hours": 1})])
    step_id = j.steps.get(key="w").pk
    _shown_clicked_bought(ws, api, "journey_step", step_id)
    page = owner.web.get(f"/w/{ws.slug}/journeys/{j.pk}/").content.decode()
    section = page.split('data-testid="product-performance"')[1].split("</section>")[0]
    assert "Product block" in section and "100%" in section and "40.00" in section
    assert outsider.web.get(f"/w/{ws.slug}/journeys/{j.pk}/").status_code == 404


def test_a_broadcasts_page_shows_them_too(owner, api, ws):
    broadcast = Broadcast.objects.create(
        workspace=ws, name="Launch", channel="email", template=email_template(ws)
    )
    _shown_clicked_bought(ws, api, "broadcast", broadcast.pk)
    page = owner.web.get(f"/w/{ws.slug}/campaigns/{broadcast.pk}/").content.decode()
    assert 'data-testid="product-performance"' in page and "Product block" in page
