"""The product picker's search: active products of the member's workspace whose title
or id contains the words, at most 20, by title; chosen ids' labels; bad ids a 400;
another workspace's member gets a 404 and never sees these products; the editor is
given the search's address, not a list of products."""

from __future__ import annotations

import json
from typing import Any

import pytest

from catalog import services
from catalog.models import Product
from catalog.validation import clean_product
from workspaces.services import Actor

pytestmark = pytest.mark.django_db


def _load(ws: Any, count: int) -> None:
    items = [
        {"product_id": f"sku-{i:03}", "title": f"Beans {i:03}", "price": 10} for i in range(count)
    ]
    items += [
        {"product_id": "k1", "title": "Kettle <b>gooseneck</b>"},
        {"product_id": "old", "title": "Old kettle", "active": False},
    ]
    cleaned = [clean_product(i, default_currency="EUR")[0] for i in items]
    services.products_upsert(workspace=ws, items=cleaned, actor=Actor(system="t"), source="t")


def test_search_finds_by_words_within_the_workspace(owner, outsider, teammate, ws):
    _load(ws, 30)
    _load(outsider.workspace, 2)
    url = f"/w/{ws.slug}/catalogue/search/"
    kettles = owner.web.get(url, {"q": "KETTLE"})
    assert kettles.status_code == 200 and kettles["Content-Type"] == "application/json"
    results = kettles.json()["results"]
    # Inactive products are not offered; the title comes back as data, never markup.
    assert [r["label"] for r in results] == ["Kettle <b>gooseneck</b> (k1)"]
    assert results[0]["id"] == Product.objects.get(workspace=ws, product_id="k1").pk
    assert len(owner.web.get(url).json()["results"]) == 20  # the first 20 by title
    by_sku = owner.web.get(url, {"q": "sku-02"}).json()["results"]
    assert [r["product_id"] for r in by_sku] == [f"sku-{i:03}" for i in range(20, 30)]
    assert teammate.web.get(url, {"q": "kettle"}).status_code == 200  # viewers read
    # Another workspace: 404 for the outsider here; their own search never shows ours.
    assert outsider.web.get(url, {"q": "kettle"}).status_code == 404
    theirs = outsider.web.get(f"/w/{outsider.workspace.slug}/catalogue/search/", {"q": "beans"})
    assert {r["product_id"] for r in theirs.json()["results"]} == {"sku-000", "sku-001"}


def test_chosen_ids_get_their_labels_and_bad_ids_are_refused(owner, outsider, ws):
    _load(ws, 3)
    _load(outsider.workspace, 1)
    mine = Product.objects.get(workspace=ws, product_id="sku-001").pk
    theirs = Product.objects.get(workspace=outsider.workspace, product_id="sku-000").pk
    url = f"/w/{ws.slug}/catalogue/search/"
    labels = owner.web.get(url, {"ids": f"{mine},{theirs}"}).json()["results"]
    assert [(r["id"], r["label"]) for r in labels] == [(mine, "Beans 001 (sku-001)")]
    for bad in ("1,x", ",", "1" * 19, ",".join(["1"] * 51)):
        answer = owner.web.get(url, {"ids": bad})
        assert answer.status_code == 400 and "ids" in answer.json()["errors"], bad


def test_the_editor_gets_the_search_not_a_list(owner, ws):
    _load(ws, 3)
    page = owner.web.get(f"/w/{ws.slug}/templates/new/?channel=email").content.decode()
    marker = 'id="blocks-options" type="application/json">'
    options = json.loads(page.split(marker)[1].split("<")[0])
    product = options["extra"]["product"]
    assert product["choices"] == [] and product["search_url"] == f"/w/{ws.slug}/catalogue/search/"
    assert product["sms_link"] == "{{ product_%s.url }}"
    sms = owner.web.get(f"/w/{ws.slug}/templates/new/?channel=sms").content.decode()
    assert 'id="sms-links"' in sms and "top_pick.url" in sms
