"""Line items on events: their shape is checked when the event comes in (a 400
naming the path); product ids the catalogue does not hold are recorded and listed,
not refused."""

from __future__ import annotations

import pytest

from catalog.models import UnknownProduct
from contacts.models import Event

pytestmark = pytest.mark.django_db

EVENTS = "/api/v1/events/"
UNKNOWN = "/api/v1/catalog/unknown-products/"


def _event(name: str, properties: dict, email: str = "ada@example.com") -> dict:
    return {"contact": {"email": email}, "name": name, "properties": properties}


def _unknown(client) -> dict[str, int]:
    return {p["product_id"]: p["occurrences"] for p in client.get(UNKNOWN).json()["results"]}


def test_unknown_products_are_recorded_not_refused(api, ws, outsider_api):
    api.put("/api/v1/products/BEANS/", {"title": "House blend", "price": 12}, format="json")
    purchase = _event(
        "purchase",
        {"items": [{"product_id": "BEANS", "quantity": 2, "price": 12}, {"product_id": "MUG"}]},
    )
    cart = _event("added_to_cart", {"items": [{"product_id": "MUG", "quantity": 1}]})
    viewed = _event("product_viewed", {"product_id": "GRINDER"})
    response = api.post(EVENTS, {"batch": [purchase, cart, viewed]}, format="json")
    assert response.status_code == 202, response.json()
    assert response.json()["accepted"] == 3
    assert Event.objects.filter(workspace=ws).count() == 3
    assert _unknown(api) == {"GRINDER": 1, "MUG": 2}
    mug = api.get(UNKNOWN).json()["results"][1]
    assert mug["last_event"] == "added_to_cart"
    assert _unknown(outsider_api) == {}

    # Once the catalogue holds it, it is known.
    api.post(
        "/api/v1/products/batch/",
        {"products": [{"product_id": "MUG", "title": "Mug"}]},
        format="json",
    )
    assert _unknown(api) == {"GRINDER": 1}
    assert not UnknownProduct.objects.filter(workspace=ws, product_id="MUG").exists()


@pytest.mark.parametrize(
    ("properties", "path"),
    [
        ({"items": "MUG"}, "properties.items"),
        ({"items": ["MUG"]}, "properties.items[0]"),
        ({"items": [{"quantity": 1}]}, "properties.items[0].product_id"),
        ({"items": [{"product_id": ""}]}, "properties.items[0].product_id"),
        (
            {"items": [{"product_id": "A"}, {"product_id": "B", "quantity": 0}]},
            "properties.items[1].quantity",
        ),
        ({"items": [{"product_id": "A", "quantity": "2"}]}, "properties.items[0].quantity"),
        ({"items": [{"product_id": "A", "price": -1}]}, "properties.items[0].price"),
        ({"items": [{"product_id": "A"}] * 201}, "properties.items"),
    ],
)
def test_a_malformed_line_item_is_a_400_naming_its_path(api, ws, properties, path):
    response = api.post(EVENTS, _event("purchase", properties), format="json")
    assert response.status_code == 400, response.json()
    assert path in response.json()["error"]["fields"]
    assert not Event.objects.filter(workspace=ws).exists()
    assert not UnknownProduct.objects.exists()


def test_in_a_batch_only_the_malformed_event_is_refused(api, ws):
    good = _event("cart_abandoned", {"items": [{"product_id": "A", "quantity": 3, "price": "4.5"}]})
    bad = _event("cart_abandoned", {"items": [{"product_id": "A", "quantity": -1}]})
    body = api.post(EVENTS, {"batch": [good, bad]}, format="json").json()
    assert body["accepted"] == 1
    assert body["errors"] == [
        {"index": 1, "fields": {"properties.items[0].quantity": ["must be from 1 to 1000000"]}}
    ]


def test_other_events_keep_their_properties_unchecked(api, ws):
    other = _event("order_shipped", {"items": "three boxes", "product_id": 7})
    assert api.post(EVENTS, other, format="json").status_code == 202
    assert not UnknownProduct.objects.exists()
