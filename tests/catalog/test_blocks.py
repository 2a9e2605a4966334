"""The catalogue's email blocks through the real pipeline: a blocks template saved by
the API, a message rendered as a worker renders it; what it showed is recorded; the
product's data is escaped; another workspace's product is refused by path."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from catalog import services
from catalog.models import MessageProduct, Product
from catalog.validation import clean_product
from contacts.models import Event
from messaging.models import Message, Template
from messaging.services import message_enqueue
from messaging.services.outgoing import messages_render
from tests.factories import ContactFactory
from workspaces.services import Actor

pytestmark = pytest.mark.django_db


def document(*blocks: dict[str, Any]) -> dict[str, Any]:
    return {"sections": [{"columns": [{"blocks": list(blocks)}]}]}


def blocks_template(api: Any, *blocks: dict[str, Any]) -> Any:
    return api.post(
        "/api/v1/templates/",
        {
            "name": "Shop",
            "channel": "email",
            "subject": "For you",
            "editor": "blocks",
            "document": document(*blocks),
        },
        format="json",
    )


def _catalogue(ws: Any) -> dict[str, Product]:
    items = [
        {
            "product_id": "beans",
            "title": "House <blend>",
            "price": 12.5,
            "url": "https://shop.test/beans",
            "image_url": "https://shop.test/beans.svg",
        },
        {"product_id": "mug", "title": "Mug", "price": 8, "url": "https://shop.test/mug"},
        {"product_id": "filter", "title": "Filters", "price": 4, "url": "https://shop.test/f"},
        {"product_id": "kettle", "title": "Kettle", "price": 40, "url": "https://shop.test/k"},
    ]
    cleaned = [clean_product(i, default_currency="EUR")[0] for i in items]
    services.products_upsert(workspace=ws, items=cleaned, actor=Actor(system="t"), source="t")
    return {p.product_id: p for p in Product.objects.filter(workspace=ws)}


def _purchase(ws: Any, contact: Any, *ids: str, days: int = 10) -> None:
    Event.objects.create(
        workspace=ws,
        contact=contact,
        name="purchase",
        properties={"items": [{"product_id": i, "quantity": 1} for i in ids]},
        occurred_at=timezone.now() - dt.timedelta(days=days),
    )


def _render(ws: Any, template_id: int, contact: Any) -> Message:
    template = Template.objects.get(pk=template_id)
    message = message_enqueue(contact=contact, template=template, idempotency_key="k").message
    message = Message.objects.select_related("contact", "template", "workspace").get(pk=message.pk)
    messages_render([message])
    message.refresh_from_db()
    return message


def test_product_and_recommendations_blocks_render_and_record(api, ws):
    products = _catalogue(ws)
    buyers = [ContactFactory.create(workspace=ws) for _ in range(4)]
    for c in buyers:
        _purchase(ws, c, "beans", "filter")
    _purchase(ws, buyers[0], "mug")
    contact = ContactFactory.create(workspace=ws)
    _purchase(ws, contact, "beans")
    # The nightly compute has run since the contact bought (lists are stored per contact).
    services.recommendations_compute(workspace=ws)
    created = blocks_template(
        api,
        {"type": "product", "product": products["beans"].pk},
        {"type": "recommendations", "recs": "for_you:4"},
    )
    assert created.status_code == 201, created.json()
    message = _render(ws, created.json()["id"], contact)
    html = message.body_html
    # Escaped in text; in the alt attribute the inliner keeps a bare < (inert inside
    # quotes) but never a quote that would end it.
    assert ">House &lt;blend&gt;</a>" in html and "<blend></a>" not in html
    assert "12.50 EUR" in html and "https://shop.test/beans.svg" in html
    assert "Filters" in html  # bought together with beans
    assert 'href="https://shop.test/f"' not in html  # links are tracked
    assert "Filters" in message.body_text
    shown = set(
        MessageProduct.objects.filter(message_id=message.pk).values_list(
            "product__product_id", "kind"
        )
    )
    # Filters: the contact's own list (for_you: bought by those who bought beans).
    assert ("beans", "product") in shown and ("filter", "for_you") in shown
    assert not {kind for sku, kind in shown if sku == "beans"} - {"product"}  # never re-offered
    # A preview records nothing.
    api.post(f"/api/v1/templates/{created.json()['id']}/preview/", {}, format="json")
    assert MessageProduct.objects.filter(workspace=ws).count() == len(shown)


def test_cart_block_renders_the_abandoned_cart(api, ws):
    products = _catalogue(ws)
    created = blocks_template(api, {"type": "cart", "show": "items"})
    assert created.status_code == 201, created.json()
    contact = ContactFactory.create(workspace=ws)
    Event.objects.create(
        workspace=ws,
        contact=contact,
        name="cart_abandoned",
        properties={
            "items": [
                {"product_id": "mug", "quantity": 2, "price": 7.5},
                {"product_id": "<unknown>", "quantity": 1},
            ]
        },
        occurred_at=timezone.now(),
    )
    message = _render(ws, created.json()["id"], contact)
    assert "Mug" in message.body_html and f"7.50 {ws.currency}" in message.body_html
    assert "Quantity: 2" in message.body_html
    assert "&lt;unknown&gt;" in message.body_html and "<unknown>" not in message.body_html
    assert MessageProduct.objects.get(message_id=message.pk).product == products["mug"]


def test_another_workspaces_product_is_refused(api, ws, outsider):
    theirs = _catalogue(outsider.workspace)["beans"]
    response = blocks_template(
        api,
        {"type": "product", "product": theirs.pk},
        {"type": "recommendations", "recs": "for_you:9"},
    )
    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert any(k.endswith("blocks[0].product") for k in fields), fields
    assert any(k.endswith("blocks[1].recs") for k in fields), fields


def test_click_and_purchase_of_a_shown_product_are_attributed_per_kind(api, ws, outsider):
    from catalog.attribution import product_performance  # noqa: PLC0415 - test-local
    from messaging.services.tracking import tracking_record_click  # noqa: PLC0415

    products = _catalogue(ws)
    created = blocks_template(api, {"type": "product", "product": products["mug"].pk})
    contact = ContactFactory.create(workspace=ws)
    message = _render(ws, created.json()["id"], contact)
    sent = timezone.now() - dt.timedelta(hours=1)
    Message.objects.filter(pk=message.pk).update(
        status="sent", sent_at=sent, origin_kind="broadcast", origin_id=4242
    )
    message.refresh_from_db()
    index = message.links.index("https://shop.test/mug")
    human = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 Safari/605.1.15"
    assert tracking_record_click(message=message, index=index, user_agent=human, prefetch=False)
    # Bought within the window: 2 x 7.50 counts; the kettle (not shown) and a purchase
    # after the window do not.
    for days_after, items in ((1, [("mug", 2, 7.5), ("kettle", 1, 40)]), (9, [("mug", 1, 8)])):
        Event.objects.create(
            workspace=ws,
            contact=contact,
            name="purchase",
            properties={
                "items": [{"product_id": p, "quantity": q, "price": pr} for p, q, pr in items]
            },
            occurred_at=sent + dt.timedelta(days=days_after),
        )
    rows = product_performance(workspace=ws, origin_kind="broadcast", origin_ids=[4242])
    assert [(r.kind, r.shown, r.clicks, str(r.revenue)) for r in rows] == [
        ("product", 1, 1, "15.00")
    ]
    assert (
        product_performance(
            workspace=outsider.workspace, origin_kind="broadcast", origin_ids=[4242]
        )
        == []
    )
