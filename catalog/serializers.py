"""How products look over the API, and what the OpenAPI schema says of them (the
checks themselves are in catalog/validation.py)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from catalog.models import Product
from config.currencies import ISO_4217
from config.openapi import described, text
from contacts.serializers import BATCH_ITEM_STATUSES

PRODUCT_ID = {
    "type": "string",
    "minLength": 1,
    "maxLength": 200,
    "pattern": "^[^/\\x00]*[^/\\x00\\s][^/\\x00]*$",
    "description": "the shop's SKU or product id; unique in the workspace; no '/'",
}
URL = {
    "type": "string",
    "maxLength": 2000,
    "pattern": "^(https?://[^\\s/?#@]+[^\\s]*)?$",
    "nullable": True,
    "description": "an http:// or https:// address, or empty",
}
PRICE = {
    "type": "number",
    "minimum": 0,
    "maximum": 999999999999.99,
    "multipleOf": 0.01,
    "nullable": True,
    "description": "at least 0, two decimal places at most",
}


class ProductSerializer(serializers.Serializer):
    # Named by the address of a PUT (a product_id in its body must be the same).
    product_id = described(PRODUCT_ID, read_only=True)
    title = described(text(500, blank=False))
    url = described(URL, required=False)
    image_url = described(URL, required=False)
    price = described(PRICE, required=False)
    currency = described(
        {
            "type": "string",
            "enum": [*sorted(ISO_4217), ""],
            "nullable": True,
            "description": "ISO 4217; the workspace's currency when a price is given "
            "without one; empty without a price",
        },
        required=False,
    )
    categories = serializers.ListField(
        child=serializers.CharField(max_length=200), max_length=50, required=False, allow_null=True
    )
    brand = described(text(200, nullable=True), required=False)
    in_stock = serializers.BooleanField(
        required=False,
        allow_null=True,
        help_text="default: true, or quantity > 0 when a quantity is given",
    )
    quantity = serializers.IntegerField(
        min_value=0, max_value=2**31 - 1, required=False, allow_null=True
    )
    attributes = serializers.DictField(
        required=False,
        allow_null=True,
        help_text="custom attributes: at most 100 keys, 16 KB as JSON",
    )
    active = serializers.BooleanField(required=False, allow_null=True, default=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)


class ProductBatchSerializer(serializers.Serializer):
    products = serializers.ListField(
        child=serializers.JSONField(),
        min_length=1,
        max_length=1000,
        help_text="1 to 1000 products (ProductRequest each); an item that is not a valid "
        "product is reported in results with its errors and does not fail the others",
    )


class ProductResultSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    status = serializers.ChoiceField(BATCH_ITEM_STATUSES)
    product_id = serializers.CharField(required=False)
    errors = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(), required=False
    )


class ProductBatchResponseSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    errors = serializers.IntegerField()  # type: ignore[assignment]
    results = ProductResultSerializer(many=True)


def product_to_dict(product: Product) -> dict[str, Any]:
    return {
        "product_id": product.product_id,
        "title": product.title,
        "url": product.url,
        "image_url": product.image_url,
        "price": None if product.price is None else float(product.price),
        "currency": product.currency,
        "categories": list(product.categories),
        "brand": product.brand,
        "in_stock": product.in_stock,
        "quantity": product.quantity,
        "attributes": product.attributes,
        "active": product.active,
        "created_at": product.created_at.isoformat(),
        "updated_at": product.updated_at.isoformat(),
    }


class UnknownProductSerializer(serializers.Serializer):
    product_id = serializers.CharField()
    occurrences = serializers.IntegerField(help_text="events that named it")
    last_event = serializers.CharField(help_text="the name of the last event that named it")
    first_seen_at = serializers.DateTimeField()
    last_seen_at = serializers.DateTimeField()


def unknown_product_to_dict(row: Any) -> dict[str, Any]:
    return {
        "product_id": row.product_id,
        "occurrences": row.occurrences,
        "last_event": row.last_event,
        "first_seen_at": row.first_seen_at.isoformat(),
        "last_seen_at": row.last_seen_at.isoformat(),
    }
