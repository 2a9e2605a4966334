"""Popularity and bought-together, computed by the worker task from purchases' line
items and served from storage: similar products, and per contact with the popularity
fallback, never what the contact bought, never what is inactive or out of stock."""

from __future__ import annotations

import pytest

from catalog import tasks
from catalog.models import (
    ContactPurchases,
    ContactRecommendation,
    Product,
    ProductPair,
    ProductPopularity,
    ProductRecommendation,
    WorkspaceRecommendation,
)
from contacts.models import Contact

pytestmark = pytest.mark.django_db

CATALOGUE = [
    {"product_id": "BEANS-A", "title": "House blend"},
    {"product_id": "BEANS-B", "title": "Decaf"},
    {"product_id": "GRINDER", "title": "Hand grinder"},
    {"product_id": "FILTER", "title": "Paper filters"},
    {"product_id": "MUG", "title": "Mug", "quantity": 0},  # out of stock
    {"product_id": "KETTLE", "title": "Kettle", "active": False},
]
BASKETS = {
    "c1": ["GRINDER", "FILTER"],
    "c2": ["GRINDER", "FILTER"],
    "c3": ["GRINDER", "FILTER"],
    "c4": ["BEANS-A", "MUG"],
    "c5": ["BEANS-A", "MUG"],
    "c6": ["BEANS-A", "KETTLE"],
    "c7": ["BEANS-A", "KETTLE"],
    "b1": ["BEANS-B"],
    "b2": ["BEANS-B"],
    "b3": ["BEANS-B"],
    "b4": ["BEANS-B"],
    "b5": ["BEANS-B"],
    "new": ["GRINDER"],
}


def _purchase(who: str, product_ids: list[str]) -> dict:
    return {
        "contact": {"email": f"{who}@example.com"},
        "name": "purchase",
        "properties": {"items": [{"product_id": p, "quantity": 1} for p in product_ids]},
    }


@pytest.fixture
def computed(api, ws):
    api.post("/api/v1/products/batch/", {"products": CATALOGUE}, format="json")
    batch = [_purchase(who, basket) for who, basket in BASKETS.items()]
    assert api.post("/api/v1/events/", {"batch": batch}, format="json").status_code == 202
    tasks.recommendations_compute(ws.pk)
    return ws


def _ids(response) -> list[str]:
    assert response.status_code == 200, response.json()
    return [r["product"]["product_id"] for r in response.json()["results"]]


def _contact(ws, who: str) -> int:
    return Contact.objects.get(workspace=ws, email=f"{who}@example.com").pk


def test_the_worker_stores_popularity_and_pairs_with_lift(computed):
    buyers = dict(
        ProductPopularity.objects.filter(workspace=computed).values_list(
            "product__product_id", "buyers"
        )
    )
    assert buyers == {"BEANS-A": 4, "BEANS-B": 5, "GRINDER": 4, "FILTER": 3, "MUG": 2, "KETTLE": 2}
    pair = ProductPair.objects.get(
        workspace=computed, product__product_id="GRINDER", other__product_id="FILTER"
    )
    # 3 of 13 buyers bought both; 4 bought the grinder, 3 the filters: lift 13*3/(4*3).
    assert pair.together == 3 and pair.lift == pytest.approx(13 * 3 / (4 * 3))
    # Once-only pairs (fewer than two contacts) are not kept.
    assert not ProductPair.objects.filter(workspace=computed, product__product_id="BEANS-B")
    tasks.recommendations_compute(computed.pk)  # a second run replaces, it does not add
    assert ProductPair.objects.filter(workspace=computed).count() == 6
    assert ProductPopularity.objects.filter(workspace=computed).count() == 6


def test_similar_products_leave_out_inactive_and_out_of_stock(api, computed):
    assert _ids(api.get("/api/v1/products/GRINDER/similar/")) == ["FILTER"]
    assert api.get("/api/v1/products/GRINDER/similar/").json()["results"][0]["kind"] == (
        "bought_together"
    )
    assert _ids(api.get("/api/v1/products/BEANS-A/similar/")) == []
    assert _ids(api.get("/api/v1/products/BEANS-A/similar/?in_stock=false")) == ["MUG"]
    assert api.get("/api/v1/products/NOPE/similar/").status_code == 404
    assert api.get("/api/v1/products/GRINDER/similar/?n=0").status_code == 400


def test_a_contact_gets_for_you_then_popular_never_what_they_bought(
    api, computed, django_assert_max_num_queries
):
    url = f"/api/v1/contacts/{_contact(computed, 'new')}/recommendations/?n=3"
    with django_assert_max_num_queries(8):
        response = api.get(url)
    assert _ids(response) == ["FILTER", "BEANS-B", "BEANS-A"]
    assert [r["kind"] for r in response.json()["results"]] == [
        "for_you",
        "popular",
        "popular",
    ]
    # Bought both halves of the only pair: popularity, without them.
    url = f"/api/v1/contacts/{_contact(computed, 'c1')}/recommendations/"
    assert _ids(api.get(url)) == ["BEANS-B", "BEANS-A"]


def test_a_contact_with_no_history_gets_the_most_popular(api, computed):
    nobody = Contact.objects.create(workspace=computed, email="nobody@example.com", attributes={})
    url = f"/api/v1/contacts/{nobody.pk}/recommendations/?n=2"
    assert _ids(api.get(url)) == ["BEANS-B", "BEANS-A"]


def test_outsider_gets_404s(api, computed, outsider_api):
    assert outsider_api.get("/api/v1/products/GRINDER/similar/").status_code == 404
    url = f"/api/v1/contacts/{_contact(computed, 'new')}/recommendations/"
    assert outsider_api.get(url).status_code == 404
    outsider_api.put("/api/v1/products/GRINDER/", {"title": "Theirs"}, format="json")
    assert outsider_api.get("/api/v1/products/GRINDER/similar/").json()["results"] == []


def test_category_and_excluded_ids_narrow_what_is_offered(api, computed):
    api.put(
        "/api/v1/products/BEANS-A/",
        {"title": "House blend", "categories": ["beans"]},
        format="json",
    )
    api.put("/api/v1/products/BEANS-B/", {"title": "Decaf", "categories": ["beans"]}, format="json")
    url = f"/api/v1/contacts/{_contact(computed, 'new')}/recommendations/"
    assert _ids(api.get(f"{url}?category=beans")) == ["BEANS-B", "BEANS-A"]
    assert _ids(api.get(f"{url}?n=3&exclude=FILTER,BEANS-B")) == ["BEANS-A"]
    assert _ids(api.get("/api/v1/products/GRINDER/similar/?exclude=FILTER")) == []
    too_many = ",".join(f"P{i}" for i in range(101))
    assert api.get(f"{url}?exclude={too_many}").status_code == 400


def test_a_deleted_product_and_workspace_take_their_stored_rows_with_them(computed):
    """The stored tables keep no foreign-key constraints: Django cascades."""
    Product.objects.get(workspace=computed, product_id="FILTER").delete()
    assert not ProductPair.objects.filter(workspace=computed, other__product_id="FILTER")
    assert not ProductPair.objects.filter(workspace=computed, product__product_id="FILTER")
    assert ProductPopularity.objects.filter(workspace=computed).count() == 5
    stored = (
        ProductPair,
        ProductPopularity,
        ProductRecommendation,
        WorkspaceRecommendation,
        ContactRecommendation,
        ContactPurchases,
    )
    assert ContactPurchases.objects.filter(workspace=computed).exists()
    workspace_id = computed.pk
    computed.delete()
    for model in stored:
        assert not model.objects.filter(workspace_id=workspace_id).exists(), model
