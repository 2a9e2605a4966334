"""Products over the API: upsert one and a batch (per-item errors), read, list with
filters and cursors, deactivate; an outsider from another workspace gets 404s."""

from __future__ import annotations

from decimal import Decimal

import pytest

from catalog.models import Product
from workspaces.models import AuditEntry

pytestmark = pytest.mark.django_db

URL = "/api/v1/products/"
BEANS = {
    "title": "Ethiopia Yirgacheffe 250 g",
    "url": "https://shop.example/beans/yirg",
    "image_url": "https://cdn.example/yirg.jpg",
    "price": 14.5,
    "currency": "EUR",
    "categories": ["beans", "single origin"],
    "brand": "Roastery",
    "quantity": 12,
    "attributes": {"roast": "light", "weight_g": 250},
}


def test_put_creates_then_replaces_then_is_unchanged(api, ws):
    created = api.put(f"{URL}SKU-1/", BEANS, format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["product_id"] == "SKU-1" and body["price"] == 14.5 and body["in_stock"] is True
    assert body["categories"] == ["beans", "single origin"]
    assert body["attributes"] == {"roast": "light", "weight_g": 250}

    replaced = api.put(f"{URL}SKU-1/", {"title": "Yirgacheffe", "quantity": 0}, format="json")
    assert replaced.status_code == 200
    product = Product.objects.get(workspace=ws, product_id="SKU-1")
    # A PUT replaces the whole product: what was left out is back to its default.
    assert product.title == "Yirgacheffe" and product.price is None and product.url == ""
    assert product.in_stock is False and product.quantity == 0
    updated_at = product.updated_at

    again = api.put(f"{URL}SKU-1/", {"title": "Yirgacheffe", "quantity": 0}, format="json")
    assert again.status_code == 200
    product.refresh_from_db()
    assert product.updated_at == updated_at
    assert AuditEntry.objects.filter(workspace=ws, action="products.upserted").count() == 2


def test_price_without_currency_takes_the_workspace_currency(api, ws):
    api.put(f"{URL}A/", {"title": "Filter papers", "price": "3.20"}, format="json")
    product = Product.objects.get(workspace=ws, product_id="A")
    assert product.price == Decimal("3.20") and product.currency == ws.currency


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "x" * 501}, "title"),
        ({"url": "javascript:alert(1)"}, "url"),
        ({"url": "ftp://shop.example/a"}, "url"),
        ({"image_url": "//cdn.example/a.jpg"}, "image_url"),
        ({"price": -1}, "price"),
        ({"price": "1.234"}, "price"),
        ({"price": "abc"}, "price"),
        ({"currency": "EURO"}, "currency"),
        ({"currency": "XYZ"}, "currency"),
        ({"categories": "beans"}, "categories"),
        ({"categories": ["x" * 201]}, "categories"),
        ({"quantity": -3}, "quantity"),
        ({"quantity": 1.5}, "quantity"),
        ({"in_stock": "yes"}, "in_stock"),
        ({"attributes": [1, 2]}, "attributes"),
        ({"attributes": {f"k{i}": i for i in range(101)}}, "attributes"),
        ({"active": 1}, "active"),
        ({"colour": "red"}, "colour"),
        ({"product_id": "OTHER"}, "product_id"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(api, ws, change, field):
    response = api.put(f"{URL}SKU-1/", {**BEANS, **change}, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["error"]["fields"]
    assert not Product.objects.filter(workspace=ws).exists()


def test_batch_upserts_in_one_go_and_reports_each_item(api, ws):
    api.put(f"{URL}KEEP/", {"title": "Grinder"}, format="json")
    api.put(f"{URL}CHANGE/", {"title": "Kettle"}, format="json")
    items = [
        {"product_id": "NEW", "title": "Dripper", "price": 25},
        {"product_id": "KEEP", "title": "Grinder"},
        {"product_id": "CHANGE", "title": "Gooseneck kettle"},
        {"product_id": "BAD", "title": "Scale", "price": -2},
        {"product_id": "NEW", "title": "Dripper again"},
        "not an object",
    ]
    response = api.post(f"{URL}batch/", {"products": items}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert [r["status"] for r in body["results"]] == [
        "created",
        "unchanged",
        "updated",
        "error",
        "error",
        "error",
    ]
    assert (body["created"], body["updated"], body["unchanged"], body["errors"]) == (1, 1, 1, 3)
    assert body["results"][3]["errors"] == {"price": ["must not be negative"]}
    assert "item 0" in body["results"][4]["errors"]["product_id"][0]
    titles = dict(Product.objects.filter(workspace=ws).values_list("product_id", "title"))
    assert titles == {"KEEP": "Grinder", "CHANGE": "Gooseneck kettle", "NEW": "Dripper"}


def test_batch_of_a_thousand_is_one_statement(api, ws, django_assert_max_num_queries):
    items = [{"product_id": f"P{i:04}", "title": f"Product {i}", "price": i} for i in range(1000)]
    with django_assert_max_num_queries(12):
        response = api.post(f"{URL}batch/", {"products": items}, format="json")
    assert response.json()["created"] == 1000
    assert Product.objects.filter(workspace=ws).count() == 1000
    too_many = api.post(f"{URL}batch/", {"products": [*items, items[0]]}, format="json")
    assert too_many.status_code == 400 and "products" in too_many.json()["error"]["fields"]
    assert api.post(f"{URL}batch/", {"products": []}, format="json").status_code == 400
    assert api.post(f"{URL}batch/", {"items": items[:1]}, format="json").status_code == 400


def test_list_filters_and_pages_with_a_cursor(api, ws):
    items = [
        {"product_id": "B1", "title": "Kenya AA", "categories": ["beans"], "brand": "Roastery"},
        {"product_id": "B2", "title": "Colombia", "categories": ["beans"], "quantity": 0},
        {"product_id": "E1", "title": "Grinder", "categories": ["equipment"], "brand": "Cmdte"},
        {"product_id": "S1", "title": "Monthly beans", "categories": ["subscriptions"]},
    ]
    api.post(f"{URL}batch/", {"products": items}, format="json")
    api.delete(f"{URL}S1/")

    def ids(query: str) -> list[str]:
        return [p["product_id"] for p in api.get(f"{URL}?{query}").json()["results"]]

    assert ids("") == ["B1", "B2", "E1", "S1"]
    assert ids("category=beans") == ["B1", "B2"]
    assert ids("category=beans&in_stock=true") == ["B1"]
    assert ids("brand=CMDTE") == ["E1"]
    assert ids("active=false") == ["S1"]
    assert ids("q=kenya") == ["B1"]
    assert ids("product_id=E1") == ["E1"]
    first = api.get(f"{URL}?limit=3").json()
    assert [p["product_id"] for p in first["results"]] == ["B1", "B2", "E1"]
    rest = api.get(f"{URL}?limit=3&cursor={first['next_cursor']}").json()
    assert [p["product_id"] for p in rest["results"]] == ["S1"] and rest["next_cursor"] is None
    assert api.get(f"{URL}?in_stock=maybe").status_code == 400


def test_delete_deactivates_and_put_brings_back(api, ws):
    api.put(f"{URL}SKU-1/", BEANS, format="json")
    assert api.delete(f"{URL}SKU-1/").status_code == 204
    assert api.get(f"{URL}SKU-1/").json()["active"] is False
    assert AuditEntry.objects.filter(workspace=ws, action="product.deactivated").count() == 1
    assert api.delete(f"{URL}SKU-1/").status_code == 204  # again: nothing more to do
    assert AuditEntry.objects.filter(workspace=ws, action="product.deactivated").count() == 1
    api.put(f"{URL}SKU-1/", BEANS, format="json")
    assert api.get(f"{URL}SKU-1/").json()["active"] is True
    assert api.get(f"{URL}NOPE/").status_code == 404


def test_outsider_gets_404s_and_keeps_its_own_catalogue(api, ws, outsider_api, outsider):
    api.put(f"{URL}SKU-1/", BEANS, format="json")
    assert outsider_api.get(f"{URL}SKU-1/").status_code == 404
    assert outsider_api.delete(f"{URL}SKU-1/").status_code == 404
    assert outsider_api.get(URL).json()["results"] == []
    # The same product id in another workspace is another product.
    assert outsider_api.put(f"{URL}SKU-1/", {"title": "Theirs"}, format="json").status_code == 201
    assert Product.objects.get(workspace=ws, product_id="SKU-1").title == BEANS["title"]
    theirs = {"products": [{"product_id": "SKU-1", "title": "Still theirs"}]}
    batch = outsider_api.post(f"{URL}batch/", theirs, format="json")
    assert batch.json()["updated"] == 1
    assert Product.objects.get(workspace=ws, product_id="SKU-1").title == BEANS["title"]
    assert Product.objects.get(workspace=outsider.workspace, product_id="SKU-1").title == (
        "Still theirs"
    )
    assert Product.objects.get(workspace=ws, product_id="SKU-1").active is True
