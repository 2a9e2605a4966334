"""The catalogue's product-change hook: an upsert that brings a product back in stock
or lowers its price tells the listeners once, after commit, with a key per change."""

from __future__ import annotations

from typing import Any

import pytest

from catalog import hooks, services
from catalog.validation import clean_product
from workspaces.services import Actor

pytestmark = pytest.mark.django_db


@pytest.fixture
def heard() -> Any:
    got: list[hooks.ProductChange] = []

    def listener(changes: list[hooks.ProductChange]) -> None:
        got.extend(changes)

    hooks.on_products_changed(listener)
    yield got
    hooks._listeners.remove(listener)


def _upsert(ws: Any, *items: dict[str, Any]) -> None:
    cleaned = [clean_product(i, default_currency="EUR")[0] for i in items]
    services.products_upsert(workspace=ws, items=cleaned, actor=Actor(system="t"), source="t")


def test_back_in_stock_and_price_drop(ws, heard, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        _upsert(
            ws,
            {"product_id": "a", "title": "A", "price": 10, "quantity": 0},
            {"product_id": "b", "title": "B", "price": 10},
        )
    assert heard == []  # new products are not changes
    with django_capture_on_commit_callbacks(execute=True):
        _upsert(
            ws,
            {"product_id": "a", "title": "A", "price": 10, "quantity": 3},  # back in stock
            {"product_id": "b", "title": "B", "price": 8},  # cheaper
        )
    assert sorted((c.product_id, c.kind) for c in heard) == [
        ("a", "back_in_stock"),
        ("b", "price_drop"),
    ]
    drop = next(c for c in heard if c.kind == "price_drop")
    assert (str(drop.old_price), str(drop.new_price)) == ("10.00", "8.00")
    heard.clear()
    with django_capture_on_commit_callbacks(execute=True):
        _upsert(
            ws,
            {"product_id": "a", "title": "A2", "price": 10, "quantity": 2},  # still in stock
            {"product_id": "b", "title": "B", "price": 9},  # dearer
        )
    assert heard == []


def test_a_failed_transaction_tells_nobody(ws, heard, django_capture_on_commit_callbacks):
    _upsert(ws, {"product_id": "a", "title": "A", "quantity": 0})
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        _upsert(ws, {"product_id": "a", "title": "A", "quantity": 1})
    assert heard == [] and len(callbacks) == 1  # runs only on commit
