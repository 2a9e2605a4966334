"""Cleaning of contact input (events: event_validation.py), shared by the API, batch
upserts and CSV import, so that every door accepts and refuses exactly the same things.

Plain Python rather than DRF serializers: the event batch path validates 20,000+
items a second. Each cleaner returns (cleaned, errors) with errors as
{"field": ["reason"]}.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.utils import timezone

from config.query import utc_offset_problem
from contacts.models import EmailStatus, SmsStatus
from workspaces.models import available_time_zones

Errors = dict[str, list[str]]

CONTACT_FIELDS = (
    "email",
    "phone",
    "external_id",
    "first_name",
    "last_name",
    "time_zone",
    "locale",
    "attributes",
    "email_status",
    "sms_status",
    "signed_up_at",
)
IDENTIFIERS = ("email", "phone", "external_id")

ATTRIBUTE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
LOCALE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
CURRENCY = re.compile(r"^[A-Z]{3}$")
MAX_JSON_KEYS = 200
# Documented limits on the free-form JSON of contacts and events (README: Limits).
# Each value is stored in every row and read by every rule; bounded here, a client
# cannot grow a row to megabytes one key at a time.
MAX_ATTRIBUTES_BYTES = 16 * 1024
MAX_PROPERTIES_BYTES = 32 * 1024
MAX_JSON_STRING = 2000
MAX_PROPERTY_KEY = 200
MAX_REVENUE = Decimal("999999999999.99")
FUTURE_TOLERANCE = dt.timedelta(days=1)
# How far ahead of our clock a date of the past (a signup, a known stage move) may be:
# the sender's clock may run a little fast, never a day.
CLOCK_SKEW = dt.timedelta(minutes=5)
_email_validator = EmailValidator()


def normalize_email(value: str) -> str:
    return value.strip().lower()


def clean_email(value: Any) -> tuple[str | None, str | None]:
    if value is None or value == "":
        return None, None
    if not isinstance(value, str):
        return None, "must be a string"
    email = normalize_email(value)
    if len(email) > 254:
        return None, "is longer than 254 characters"
    try:
        _email_validator(email)
    except ValidationError:
        return None, f"'{value}' is not a valid email address"
    return email, None


def clean_phone(value: Any) -> tuple[str | None, str | None]:
    if value is None or value == "":
        return None, None
    if not isinstance(value, str):
        return None, "must be a string in E.164 form, e.g. +14155550123"
    text = value.strip()
    if not text.startswith("+"):
        return None, f"'{value}' is not in E.164 form (start with + and the country code)"
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return None, f"'{value}' is not a phone number"
    if not phonenumbers.is_valid_number(number):
        return None, f"'{value}' is not a valid phone number"
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), None


def _clean_text(value: Any, max_length: int) -> tuple[str, str | None]:
    if value is None:
        return "", None
    if not isinstance(value, str):
        return "", "must be a string"
    text = value.strip()
    if len(text) > max_length:
        return "", f"is longer than {max_length} characters"
    if "\x00" in text:
        return "", "must not contain NUL characters"
    return text, None


def clean_external_id(value: Any) -> tuple[str | None, str | None]:
    if value is None or value == "":
        return None, None
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None, "must be a string"
    text, error = _clean_text(str(value), 200)
    return (text or None), error


def clean_time_zone(value: Any) -> tuple[str, str | None]:
    if value is None or value == "":
        return "", None
    if not isinstance(value, str):
        return "", "must be a string"
    if value not in available_time_zones():
        return "", f"'{value}' is not an IANA time zone (e.g. America/New_York)"
    return value, None


def clean_locale(value: Any) -> tuple[str, str | None]:
    if value is None or value == "":
        return "", None
    if not isinstance(value, str):
        return "", "must be a string"
    text = value.strip().replace("_", "-")
    if len(text) > 35 or not LOCALE.match(text):
        return "", f"'{value}' is not a locale tag (e.g. en-GB)"
    return text, None


def contains_nul(value: Any) -> bool:
    """PostgreSQL text and jsonb cannot hold the NUL character anywhere."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(contains_nul(k) or contains_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(contains_nul(v) for v in value)
    return False


def _json_size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())


def _long_string(value: Any, path: str) -> str | None:
    """The path of the first string (value or key) longer than MAX_JSON_STRING."""
    stack = [(value, path)]
    while stack:
        node, here = stack.pop()
        if isinstance(node, str):
            if len(node) > MAX_JSON_STRING:
                return here
        elif isinstance(node, dict):
            for key, child in node.items():
                if len(key) > MAX_JSON_STRING:
                    return here
                stack.append((child, f"{here}.{key}"))
        elif isinstance(node, list):
            stack.extend((child, f"{here}[{i}]") for i, child in enumerate(node))
    return None


def json_size_errors(value: dict[str, Any], name: str, max_bytes: int) -> Errors:
    """Errors for a free-form object over its documented limits, naming the value."""
    path = _long_string(value, name)
    if path is not None:
        return {path: [f"is longer than {MAX_JSON_STRING} characters"]}
    if _json_size(value) > max_bytes:
        return {name: [f"is larger than {max_bytes} bytes as JSON"]}
    return {}


def merged_attributes_errors(attributes: dict[str, Any]) -> Errors:
    """A contact's attributes after an update merged new keys in: still within limits?"""
    if len(attributes) > MAX_JSON_KEYS:
        return {"attributes": [f"would have more than {MAX_JSON_KEYS} keys"]}
    if _json_size(attributes) > MAX_ATTRIBUTES_BYTES:
        return {"attributes": [f"would be larger than {MAX_ATTRIBUTES_BYTES} bytes as JSON"]}
    return {}


def clean_attributes(value: Any) -> tuple[dict[str, Any], Errors | str | None]:
    if value is None:
        return {}, None
    if not isinstance(value, dict):
        return {}, "must be an object"
    if len(value) > MAX_JSON_KEYS:
        return {}, f"has more than {MAX_JSON_KEYS} keys"
    for key in value:
        if not ATTRIBUTE_KEY.match(key):
            return {}, (
                f"'{key}' is not an attribute name (letters, digits and _, "
                "not starting with a digit, at most 64)"
            )
    if contains_nul(value):
        return {}, "must not contain NUL characters"
    errors = json_size_errors(value, "attributes", MAX_ATTRIBUTES_BYTES)
    if errors:
        return {}, errors
    return value, None


def clean_choice(value: Any, choices: list[str]) -> tuple[str | None, str | None]:
    if value not in choices:
        return None, f"'{value}' is not one of {', '.join(choices)}"
    return value, None


_CONTACT_CLEANERS = {
    "email": clean_email,
    "phone": clean_phone,
    "external_id": clean_external_id,
    "first_name": lambda v: _clean_text(v, 100),
    "last_name": lambda v: _clean_text(v, 100),
    "time_zone": clean_time_zone,
    "locale": clean_locale,
    "attributes": clean_attributes,
    "email_status": lambda v: clean_choice(v, EmailStatus.values),
    "sms_status": lambda v: clean_choice(v, SmsStatus.values),
}


def parse_past_moment(
    value: Any, *, zone: str, now: dt.datetime | None = None
) -> tuple[dt.datetime | None, str | None]:
    """A moment of the past given as an ISO 8601 date-time (UTC without an offset) or a
    date alone (midnight in `zone`, the workspace's time zone); refused when it is
    ahead of now by more than CLOCK_SKEW."""
    if isinstance(value, str) and _DATE_ONLY.match(value.strip()):
        try:
            day = dt.date.fromisoformat(value.strip())
        except ValueError:
            return None, f"'{value}' is not a date (YYYY-MM-DD)"
        moment: dt.datetime | None = dt.datetime.combine(day, dt.time(), tzinfo=ZoneInfo(zone))
        if day.year < 1970:
            return None, "is before 1970"
    else:
        moment, error = parse_datetime(value)
        if error:
            return None, error.replace("date-time", "date or date-time")
    assert moment is not None
    if moment > (now or timezone.now()) + CLOCK_SKEW:
        return None, "is in the future"
    return moment, None


_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def clean_contact(
    data: Any, *, partial: bool = False, zone: str = "UTC"
) -> tuple[dict[str, Any], Errors]:
    """Clean contact fields. With partial=False (a create) at least one identifier
    must be present. Unknown fields are refused, never ignored. `zone` (the
    workspace's time zone) places a signup date given without a time."""
    if not isinstance(data, dict):
        return {}, {"non_field_errors": ["must be an object"]}
    cleaned: dict[str, Any] = {}
    errors: Errors = {}
    for key, value in data.items():
        if key == "signed_up_at":
            moment, problem = parse_past_moment(value, zone=zone)
            if problem:
                errors[key] = [problem]
            else:
                cleaned[key] = moment
            continue
        cleaner = _CONTACT_CLEANERS.get(key)
        if cleaner is None:
            errors[key] = ["unknown field"]
            continue
        result, error = cleaner(value)
        if isinstance(error, dict):
            errors.update(error)
        elif error:
            errors[key] = [error]
        else:
            cleaned[key] = result
    if not partial and not errors and not any(cleaned.get(k) for k in IDENTIFIERS):
        errors["non_field_errors"] = ["give at least one of email, phone, external_id"]
    return cleaned, errors


def parse_datetime(value: Any) -> tuple[dt.datetime | None, str | None]:
    """ISO 8601; a time without an offset is taken as UTC."""
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            return None, f"'{value}' is not an ISO 8601 date-time"
    else:
        return None, "must be an ISO 8601 date-time string"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    if moment.year < 1970:
        return None, "is before 1970"
    problem = utc_offset_problem(moment)
    if problem:
        return None, problem
    return moment, None
