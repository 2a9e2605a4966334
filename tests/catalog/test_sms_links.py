"""Product links in SMS and "the products you looked at": an SMS naming a product's
address or the contact's first recommendation is sent with short tracked links, a
click on one is recorded (a forged or altered token is a 404) and attributed to the
product and the message like an email block's; the Recommendations block's "viewed"
kind shows the contact's latest views, latest first, and records them."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from catalog.attribution import product_performance
from catalog.models import MessageProduct
from contacts.models import Event
from messaging import tokens
from messaging.models import Message
from messaging.rendering import rewrite_sms_links
from tests.catalog.test_blocks import _catalogue, _render, blocks_template
from tests.factories import ContactFactory
from tests.messaging.helpers import sms_template

pytestmark = pytest.mark.django_db
HUMAN = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 Safari/605.1.15"


def test_sms_addresses_are_found_without_the_sentences_punctuation():
    text, links = rewrite_sms_links(
        "See https://shop.test/p/1. Or (https://shop.test/q?a=1&b=2), bye https://me.test/m/x",
        lambda i: f"<{i}>",
        keep_prefix="https://me.test/m/",
    )
    assert text == "See <0>. Or (<1>), bye https://me.test/m/x"
    assert links == ["https://shop.test/p/1", "https://shop.test/q?a=1&b=2"]


def test_short_tokens_are_short_and_cannot_be_forged():
    token = tokens.make_short_token(123456789, 2, workspace_id=4321)
    assert len(token) <= 24
    assert tokens.read_short_token(token) == tokens.MessageRef(4321, 123456789, 2)
    assert tokens.read_short_token(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert tokens.read_short_token("3-0" + token[-12:]) is None  # another message's id
    assert tokens.read_short_token("3-21i3v9-2" + token[-12:]) is None  # another workspace
    assert tokens.read_short_token("é" * 20) is None and tokens.read_short_token("") is None


def test_an_sms_product_link_is_tracked_and_attributed(client, ws, outsider, settings):
    products = _catalogue(ws)
    mug = products["mug"]
    template = sms_template(
        ws, body=f"Back: {{{{ product_{mug.pk}.title }}}} {{{{ product_{mug.pk}.url }}}}. Bye"
    )
    contact = ContactFactory.create(workspace=ws, phone="+14155550123")
    message = _render(ws, template.pk, contact)
    short = tokens.short_click_url(message.pk, 0, workspace_id=ws.pk)
    assert message.body_text == f"Back: Mug {short}. Bye" and message.links == [mug.url]
    assert short.startswith(settings.BASE_URL + "/m/s/")
    assert len(short) - len(settings.BASE_URL) < 40
    assert MessageProduct.objects.filter(message_id=message.pk, product=mug).exists()
    sent = timezone.now() - dt.timedelta(hours=1)
    Message.objects.filter(pk=message.pk).update(
        status="sent", sent_at=sent, origin_kind="broadcast", origin_id=77
    )
    path = short.removeprefix(settings.BASE_URL)
    tampered = path[:-1] + ("y" if path.endswith("x") else "x")
    assert client.get(tampered, HTTP_USER_AGENT=HUMAN).status_code == 404
    answer = client.get(path, HTTP_USER_AGENT=HUMAN)
    assert answer.status_code == 302 and answer["Location"] == mug.url
    Event.objects.create(
        workspace=ws,
        contact=contact,
        name="purchase",
        properties={"items": [{"product_id": "mug", "quantity": 1, "price": 8}]},
        occurred_at=sent + dt.timedelta(days=1),
    )
    rows = product_performance(workspace=ws, origin_kind="broadcast", origin_ids=[77])
    assert [(r.kind, r.shown, r.clicks, str(r.revenue)) for r in rows] == [
        ("product", 1, 1, "8.00")
    ]
    assert (
        product_performance(workspace=outsider.workspace, origin_kind="broadcast", origin_ids=[77])
        == []
    )


def test_the_first_recommendation_link(ws):
    from catalog import services  # noqa: PLC0415 - the compute, for this test only

    _catalogue(ws)
    buyers = [ContactFactory.create(workspace=ws) for _ in range(3)]
    for c in buyers:
        Event.objects.create(
            workspace=ws,
            contact=c,
            name="purchase",
            properties={"items": [{"product_id": "kettle"}, {"product_id": "filter"}]},
            occurred_at=timezone.now() - dt.timedelta(days=3),
        )
    contact = ContactFactory.create(workspace=ws, phone="+14155550124")
    services.recommendations_compute(workspace=ws)
    template = sms_template(ws, body="Picked for you: {{ top_pick.title }} {{ top_pick.url }}")
    message = _render(ws, template.pk, contact)
    # No history: the most popular (bought by the three), a tracked link to it.
    assert message.links and message.links[0] in {"https://shop.test/k", "https://shop.test/f"}
    assert "/m/s/" in message.body_text
    assert MessageProduct.objects.filter(message_id=message.pk, kind="popular").count() == 1


def _view(ws: Any, contact: Any, sku: str, hours: float) -> None:
    Event.objects.create(
        workspace=ws,
        contact=contact,
        name="product_viewed",
        properties={"product_id": sku},
        occurred_at=timezone.now() - dt.timedelta(hours=hours),
    )


def test_the_products_they_looked_at(api, ws, outsider):
    _catalogue(ws)
    _catalogue(outsider.workspace)
    contact = ContactFactory.create(workspace=ws)
    for sku, hours in (("mug", 5), ("kettle", 3), ("mug", 2), ("<nope>", 1), ("beans", 400)):
        _view(ws, contact, sku, hours)
    created = blocks_template(api, {"type": "recommendations", "recs": "viewed:3"})
    assert created.status_code == 201, created.json()
    message = _render(ws, created.json()["id"], contact)
    text = message.body_text
    # Latest first, each once; a product the catalogue lacks and a view of 400 hours
    # ago (over a week) are left out.
    assert text.index("Mug") < text.index("Kettle") and "House" not in text
    shown = MessageProduct.objects.filter(message_id=message.pk)
    assert sorted(shown.values_list("product__product_id", "kind")) == [
        ("kettle", "viewed"),
        ("mug", "viewed"),
    ]
    assert {p.workspace_id for p in (m.product for m in shown)} == {ws.pk}
