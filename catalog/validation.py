"""Cleaning of product input (API single and batch, CSV rows): every value checked
against the documented bounds, each refusal naming the field and the reason."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from catalog.models import (
    ATTRIBUTE_KEYS_MAX,
    ATTRIBUTES_BYTES_MAX,
    CATEGORIES_MAX,
    NAME_MAX,
    PRODUCT_ID_MAX,
    TITLE_MAX,
    URL_MAX,
)
from config.currencies import ISO_4217
from contacts.validation import Errors, contains_nul, json_size_errors

PRODUCT_FIELDS = (
    "product_id",
    "title",
    "url",
    "image_url",
    "price",
    "currency",
    "categories",
    "brand",
    "in_stock",
    "quantity",
    "attributes",
    "active",
)
PRICE_MAX = Decimal("999999999999.99")
QUANTITY_MAX = 2**31 - 1


def clean_product_id(value: Any) -> tuple[str | None, str | None]:
    if not isinstance(value, str):
        return None, "is required" if value is None else "must be a string"
    value = value.strip()
    if not value:
        return None, "must not be empty"
    if len(value) > PRODUCT_ID_MAX:
        return None, f"is longer than {PRODUCT_ID_MAX} characters"
    if "\x00" in value or "/" in value:
        return None, "must not contain '/' or NUL characters"
    return value, None


def _text(value: Any, limit: int, *, required: bool = False) -> tuple[str, str | None]:
    if value is None:
        return "", "is required" if required else None
    if not isinstance(value, str):
        return "", "must be a string"
    value = value.strip()
    if required and not value:
        return "", "must not be empty"
    if len(value) > limit:
        return "", f"is longer than {limit} characters"
    if "\x00" in value:
        return "", "must not contain NUL characters"
    return value, None


def clean_url(value: Any) -> tuple[str, str | None]:
    """An absolute http or https address (or empty): the link and image a message shows."""
    text, error = _text(value, URL_MAX)
    if error or not text:
        return text, error
    try:
        parts = urlsplit(text)
    except ValueError:
        return "", "is not a valid address"
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return "", "must be an http:// or https:// address"
    if any(c.isspace() for c in text):
        return "", "must not contain spaces"
    return text, None


def clean_price(value: Any) -> tuple[Decimal | None, str | None]:
    if value is None or value == "":
        return None, None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None, "must be a number"
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        return None, f"'{value}' is not a number"
    if not amount.is_finite():
        return None, "must be a finite number"
    if amount < 0:
        return None, "must not be negative"
    if amount != amount.quantize(Decimal("0.01")):
        return None, "has more than 2 decimal places"
    if amount > PRICE_MAX:
        return None, "is too large"
    return amount.quantize(Decimal("0.01")), None


def clean_currency(value: Any) -> tuple[str, str | None]:
    if value is None or value == "":
        return "", None
    if not isinstance(value, str) or value.strip().upper() not in ISO_4217:
        return "", "must be an ISO 4217 currency code, e.g. EUR"
    return value.strip().upper(), None


def clean_categories(value: Any) -> tuple[list[str], str | None]:
    if value is None:
        return [], None
    if not isinstance(value, list):
        return [], "must be a list of strings"
    if len(value) > CATEGORIES_MAX:
        return [], f"has more than {CATEGORIES_MAX} categories"
    categories: list[str] = []
    for item in value:
        text, error = _text(item, NAME_MAX, required=True)
        if error:
            return [], f"each category {error}"
        if text not in categories:
            categories.append(text)
    return categories, None


def clean_quantity(value: Any) -> tuple[int | None, str | None]:
    if value is None or value == "":
        return None, None
    if isinstance(value, bool) or not isinstance(value, int):
        return None, "must be a whole number"
    if not 0 <= value <= QUANTITY_MAX:
        return None, f"must be from 0 to {QUANTITY_MAX}"
    return value, None


def clean_bool(value: Any, default: bool) -> tuple[bool, str | None]:
    if value is None:
        return default, None
    if not isinstance(value, bool):
        return default, "must be true or false"
    return value, None


def clean_product_attributes(value: Any) -> tuple[dict[str, Any], Errors]:
    if value is None:
        return {}, {}
    if not isinstance(value, dict):
        return {}, {"attributes": ["must be an object"]}
    if len(value) > ATTRIBUTE_KEYS_MAX:
        return {}, {"attributes": [f"has more than {ATTRIBUTE_KEYS_MAX} keys"]}
    if contains_nul(value):
        return {}, {"attributes": ["must not contain NUL characters"]}
    return value, json_size_errors(value, "attributes", ATTRIBUTES_BYTES_MAX)


def clean_product(data: Any, *, default_currency: str) -> tuple[dict[str, Any], Errors]:
    """A whole product (an upsert replaces every field; a field left out takes its
    default). The currency defaults to the workspace's when a price is given."""
    if not isinstance(data, dict):
        return {}, {"non_field_errors": ["must be an object"]}
    errors: Errors = {key: ["unknown field"] for key in data if key not in PRODUCT_FIELDS}
    cleaned: dict[str, Any] = {}
    checks: list[tuple[str, Any]] = [
        ("product_id", clean_product_id(data.get("product_id"))),
        ("title", _text(data.get("title"), TITLE_MAX, required=True)),
        ("url", clean_url(data.get("url"))),
        ("image_url", clean_url(data.get("image_url"))),
        ("price", clean_price(data.get("price"))),
        ("currency", clean_currency(data.get("currency"))),
        ("categories", clean_categories(data.get("categories"))),
        ("brand", _text(data.get("brand"), NAME_MAX)),
        ("quantity", clean_quantity(data.get("quantity"))),
        ("active", clean_bool(data.get("active"), True)),
    ]
    for name, (value, error) in checks:
        cleaned[name] = value
        if error:
            errors[name] = [error]
    quantity = cleaned["quantity"]
    in_stock, error = clean_bool(data.get("in_stock"), quantity is None or quantity > 0)
    cleaned["in_stock"] = in_stock
    if error:
        errors["in_stock"] = [error]
    attributes, attribute_errors = clean_product_attributes(data.get("attributes"))
    cleaned["attributes"] = attributes
    errors.update(attribute_errors)
    if cleaned["price"] is not None and not cleaned["currency"]:
        cleaned["currency"] = default_currency
    return cleaned, errors
