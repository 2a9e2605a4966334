"""Back in stock and price drop: a catalogue upsert that brings a product back or makes
it cheaper lets in the contacts who viewed or carted it within the lookback, once per
change; others (not interested, too long ago, another workspace) stay out."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from campaigns.models import JourneyEnrolment
from catalog import services
from catalog.validation import clean_product
from config.errors import InvalidInput
from contacts.models import Event
from tests.campaigns.journeys.helpers import journey, step
from tests.factories import ContactFactory
from workspaces.services import Actor

pytestmark = pytest.mark.django_db


def _upsert(ws: Any, **item: Any) -> None:
    cleaned = [clean_product({"title": "Grinder", **item}, default_currency="EUR")[0]]
    services.products_upsert(workspace=ws, items=cleaned, actor=Actor(system="t"), source="t")


def _event(ws: Any, contact: Any, name: str, properties: dict[str, Any], days: int = 1) -> None:
    Event.objects.create(
        workspace=ws,
        contact=contact,
        name=name,
        properties=properties,
        occurred_at=timezone.now() - dt.timedelta(days=days),
    )


def _enrolled(j: Any) -> set[int]:
    return set(JourneyEnrolment.objects.filter(journey=j).values_list("contact_id", flat=True))


def test_back_in_stock_and_price_drop(ws, outsider, django_capture_on_commit_callbacks):
    _upsert(ws, product_id="grinder", price=50, quantity=0)
    viewer, carter, old, other = (ContactFactory.create(workspace=ws) for _ in range(4))
    _event(ws, viewer, "product_viewed", {"product_id": "grinder"})
    _event(ws, carter, "cart_abandoned", {"items": [{"product_id": "grinder", "quantity": 1}]})
    _event(ws, old, "product_viewed", {"product_id": "grinder"}, days=40)
    _event(ws, other, "product_viewed", {"product_id": "mug"})
    stock = journey(
        ws, {"kind": "back_in_stock"}, [step("w", "wait", duration={"hours": 1})], name="Stock"
    )
    drop = journey(
        ws,
        {"kind": "price_drop", "lookback_days": 60},
        [step("w", "wait", duration={"hours": 1})],
        name="Drop",
    )
    with django_capture_on_commit_callbacks(execute=True):
        _upsert(ws, product_id="grinder", price=50, quantity=5)
    assert _enrolled(stock) == {viewer.pk, carter.pk} and _enrolled(drop) == set()
    with django_capture_on_commit_callbacks(execute=True):
        _upsert(ws, product_id="grinder", price=45, quantity=5)
    assert _enrolled(drop) == {viewer.pk, carter.pk, old.pk}  # 60 days back
    # The same product in another workspace changes nothing here.
    with django_capture_on_commit_callbacks(execute=True):
        _upsert(outsider.workspace, product_id="grinder", price=50, quantity=0)
        _upsert(outsider.workspace, product_id="grinder", price=40, quantity=3)
    assert JourneyEnrolment.objects.filter(journey__in=[stock, drop]).count() == 5


def test_lookback_is_checked(ws):
    with pytest.raises(InvalidInput) as caught:
        journey(
            ws,
            {"kind": "price_drop", "lookback_days": 0},
            [step("w", "wait", duration={"hours": 1})],
        )
    assert "trigger.lookback_days" in caught.value.fields


def test_the_builder_offers_and_shows_the_triggers(owner, ws):
    j = journey(ws, {"kind": "back_in_stock"}, [step("w", "wait", duration={"hours": 1})])
    page = owner.web.get(f"/w/{ws.slug}/journeys/{j.pk}/")
    assert page.status_code == 200
    text = page.content.decode()
    assert 'value="back_in_stock" selected' in text and 'value="price_drop"' in text
