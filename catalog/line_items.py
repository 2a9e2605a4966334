"""Line items on events: `purchase`, `added_to_cart` and `cart_abandoned` may carry
`properties.items` = [{product_id, quantity, price}], and `product_viewed` a
`properties.product_id`. Their shape is checked when the event comes in (a 400 naming
the path, through contacts' `register_event_check`); whether the catalogue knows the
product is not: unknown ids are recorded (catalog.services.unknown)."""

from __future__ import annotations

from typing import Any

from catalog.validation import PRICE_MAX, clean_price, clean_product_id

LINE_ITEM_EVENTS = frozenset({"purchase", "added_to_cart", "cart_abandoned"})
VIEW_EVENTS = frozenset({"product_viewed"})
ITEMS_MAX = 200
QUANTITY_MAX = 1_000_000
ITEM_KEYS = ("product_id", "quantity", "price")


def _item_errors(item: Any, path: str) -> dict[str, list[str]]:
    if not isinstance(item, dict):
        return {path: ["must be an object with product_id, quantity and price"]}
    errors: dict[str, list[str]] = {}
    _, problem = clean_product_id(item.get("product_id"))
    if problem:
        errors[f"{path}.product_id"] = [problem]
    quantity = item.get("quantity", 1)
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        errors[f"{path}.quantity"] = ["must be a whole number"]
    elif not 1 <= quantity <= QUANTITY_MAX:
        errors[f"{path}.quantity"] = [f"must be from 1 to {QUANTITY_MAX}"]
    if "price" in item:
        price, problem = clean_price(item["price"])
        if problem or price is None:
            errors[f"{path}.price"] = [problem or f"must be a number from 0 to {PRICE_MAX}"]
    return errors


def line_items_check(name: str, properties: dict[str, Any]) -> dict[str, list[str]]:
    """The shape of an event's line items (or viewed product), when it has them."""
    if name in VIEW_EVENTS and "product_id" in properties:
        _, problem = clean_product_id(properties["product_id"])
        return {"properties.product_id": [problem]} if problem else {}
    if name not in LINE_ITEM_EVENTS or "items" not in properties:
        return {}
    items = properties["items"]
    if not isinstance(items, list):
        return {"properties.items": ["must be a list of {product_id, quantity, price}"]}
    if len(items) > ITEMS_MAX:
        return {"properties.items": [f"has more than {ITEMS_MAX} line items"]}
    errors: dict[str, list[str]] = {}
    for position, item in enumerate(items):
        errors.update(_item_errors(item, f"properties.items[{position}]"))
    return errors


def product_ids_named(name: str, properties: dict[str, Any]) -> list[str]:
    """The product ids a (checked) event names."""
    if name in VIEW_EVENTS and isinstance(properties.get("product_id"), str):
        return [properties["product_id"].strip()]
    if name in LINE_ITEM_EVENTS and isinstance(properties.get("items"), list):
        return [item["product_id"].strip() for item in properties["items"]]
    return []
