"""Cleaning of event input (one event or a batch, from the events API): the same kind
of cleaner as contacts/validation.py, which it builds on."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils import timezone

from contacts.hooks import EVENT_CHECKS
from contacts.validation import (
    CURRENCY,
    FUTURE_TOLERANCE,
    MAX_JSON_KEYS,
    MAX_PROPERTIES_BYTES,
    MAX_PROPERTY_KEY,
    MAX_REVENUE,
    Errors,
    clean_email,
    clean_external_id,
    contains_nul,
    json_size_errors,
    parse_datetime,
)

EVENT_FIELDS = (
    "contact",
    "name",
    "properties",
    "revenue",
    "currency",
    "occurred_at",
    "idempotency_key",
)
CONTACT_REF_KEYS = ("id", "email", "external_id")


def clean_revenue(value: Any) -> tuple[Decimal | None, str | None]:
    if value is None:
        return None, None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None, "must be a number"
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        return None, f"'{value}' is not a number"
    if not amount.is_finite():
        return None, "must be a finite number"
    if amount.as_tuple().exponent < -2 and amount != amount.quantize(Decimal("0.01")):  # type: ignore[operator]
        return None, "has more than 2 decimal places"
    if abs(amount) > MAX_REVENUE:
        return None, "is too large"
    return amount.quantize(Decimal("0.01")), None


def clean_contact_ref(value: Any) -> tuple[tuple[str, Any] | None, str | None]:
    """{"id": 1} | {"email": "..."} | {"external_id": "..."} -> ("email", "a@b.co")."""
    if not isinstance(value, dict) or len(value) != 1:
        return None, 'must be an object with exactly one of "id", "email", "external_id"'
    key, raw = next(iter(value.items()))
    if key == "id":
        if isinstance(raw, bool) or not isinstance(raw, int) or not 0 < raw < 2**63:
            return None, "id must be a positive integer"
        return ("id", raw), None
    if key == "email":
        email, error = clean_email(raw)
        if error or email is None:
            return None, f"email {error or 'must not be empty'}"
        return ("email", email), None
    if key == "external_id":
        external_id, error = clean_external_id(raw)
        if error or external_id is None:
            return None, f"external_id {error or 'must not be empty'}"
        return ("external_id", external_id), None
    return None, f'unknown key "{key}"; use "id", "email" or "external_id"'


def _properties_errors(properties: Any) -> Errors:
    if not isinstance(properties, dict):
        return {"properties": ["must be an object"]}
    if len(properties) > MAX_JSON_KEYS:
        return {"properties": [f"has more than {MAX_JSON_KEYS} keys"]}
    if contains_nul(properties):
        return {"properties": ["must not contain NUL characters"]}
    if any(len(key) > MAX_PROPERTY_KEY for key in properties):
        return {"properties": [f"has a key longer than {MAX_PROPERTY_KEY} characters"]}
    return json_size_errors(properties, "properties", MAX_PROPERTIES_BYTES)


def _checked_properties_errors(name: str | None, properties: Any) -> Errors:
    """The properties' bounds, then other apps' checks of what an event of this name
    carries (catalog: line items)."""
    errors = _properties_errors(properties)
    if not errors and name is not None:
        for check in EVENT_CHECKS:
            errors.update(check(name, properties))
    return errors


def _occurred_at(value: Any, now: dt.datetime) -> tuple[dt.datetime | None, str | None]:
    """When the event happened: now if not given; never more than a day ahead."""
    if value is None:
        return now, None
    occurred_at, error = parse_datetime(value)
    if error:
        return occurred_at, error
    if occurred_at is not None and occurred_at > now + FUTURE_TOLERANCE:
        return occurred_at, "is more than a day in the future"
    return occurred_at, None


def clean_event(
    data: Any, *, now: dt.datetime | None = None, default_currency: str = ""
) -> tuple[dict[str, Any], Errors]:
    if not isinstance(data, dict):
        return {}, {"non_field_errors": ["must be an object"]}
    now = now or timezone.now()
    errors: Errors = {}
    for key in data:
        if key not in EVENT_FIELDS:
            errors[key] = ["unknown field"]
    cleaned: dict[str, Any] = {}

    ref, error = clean_contact_ref(data.get("contact"))
    if error:
        errors["contact"] = [error if "contact" in data else "is required"]
    cleaned["contact"] = ref

    name = data.get("name")
    if not isinstance(name, str) or not name.strip() or "\x00" in name:
        errors["name"] = ["is required" if name is None else "must be a non-empty string"]
    elif len(name.strip()) > 200:
        errors["name"] = ["is longer than 200 characters"]
    else:
        cleaned["name"] = name.strip()

    properties = data.get("properties", {})
    if properties is None:
        properties = {}
    errors.update(_checked_properties_errors(cleaned.get("name"), properties))
    cleaned["properties"] = properties

    revenue, error = clean_revenue(data.get("revenue"))
    if error:
        errors["revenue"] = [error]
    cleaned["revenue"] = revenue

    currency = data.get("currency")
    if currency in (None, ""):
        cleaned["currency"] = default_currency if revenue is not None else ""
    elif not isinstance(currency, str) or not CURRENCY.match(currency.upper()):
        errors["currency"] = ["must be a three-letter ISO 4217 code"]
    elif revenue is not None and default_currency and currency.upper() != default_currency:
        # Revenue is summed as it comes (docs/analytics.md, "Money"): an amount in
        # another currency would be added to the workspace's as if it were the same.
        errors["currency"] = [
            f"must be the workspace's currency, {default_currency}: convert the revenue "
            f"to {default_currency} before sending it (Stagecraft does not convert "
            "currencies)"
        ]
    else:
        cleaned["currency"] = currency.upper()

    occurred_at, error = _occurred_at(data.get("occurred_at"), now)
    if error:
        errors["occurred_at"] = [error]
    cleaned["occurred_at"] = occurred_at

    key = data.get("idempotency_key")
    if key is not None and (not isinstance(key, str) or not key or len(key) > 200 or "\x00" in key):
        errors["idempotency_key"] = ["must be a string of 1 to 200 characters"]
    cleaned["idempotency_key"] = key
    return cleaned, errors
