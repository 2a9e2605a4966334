"""How a CSV's columns become a contact: suggesting a mapping from the headers (the
export's own headers map back exactly), checking a mapping, and converting each cell
to its field or typed attribute."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from config.errors import InvalidInput
from config.spreadsheet import csv_value
from contacts.hooks import CONTACT_EXTRA_FIELDS
from contacts.models import ImportJob
from contacts.validation import ATTRIBUTE_KEY, CONTACT_FIELDS, clean_contact, parse_datetime

ATTRIBUTE_TYPES = ("text", "number", "boolean", "date")
TRUE_WORDS = {"true", "yes", "y", "1", "t"}
FALSE_WORDS = {"false", "no", "n", "0", "f"}
# Header spellings recognised when suggesting a mapping.

_ALIASES = {
    "email": {"email", "emailaddress", "e-mail", "mail"},
    "phone": {"phone", "phonenumber", "mobile", "mobilephone", "cell", "sms"},
    "external_id": {"externalid", "id", "customerid", "userid"},
    "first_name": {"firstname", "givenname", "first"},
    "last_name": {"lastname", "surname", "familyname", "last"},
    "time_zone": {"timezone", "tz"},
    "locale": {"locale", "language", "lang"},
    "email_status": {"emailstatus"},
    "sms_status": {"smsstatus"},
    "signed_up_at": {"signedup", "signedupat", "signupdate", "signup", "joined", "datejoined"},
}


# What a file that is not a UTF-8 or Windows-1252 CSV starts with, and what to say.

_EXPORT_ONLY_COLUMNS = {"id", "created_at", "updated_at"}


def _as_target(header: str) -> str | None:
    """The header itself when it names a mapping target (as our export's headers do:
    `email`, `attributes.seats:number`), else None."""
    field, _, kind = header.partition(":")
    named = (field in CONTACT_FIELDS and field != "attributes") or field in CONTACT_EXTRA_FIELDS
    if named and not kind:
        return header
    name = field.removeprefix("attributes.")
    if (
        field.startswith("attributes.")
        and ATTRIBUTE_KEY.match(name)
        and kind in ("", *ATTRIBUTE_TYPES)
    ):
        return header
    return None


def suggest_mapping(headers: list[str]) -> dict[str, str]:
    """A column mapping to start from: headers that name a target exactly first (so a
    file from our export maps back column for column), then known spellings, then an
    attribute named after the column."""
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for header in headers:
        target = _as_target(header.strip())
        if target is not None and target.partition(":")[0] not in used:
            mapping[header] = target
            used.add(target.partition(":")[0])
    for header in headers:
        if header in mapping:
            continue
        key = re.sub(r"[^a-z0-9-]", "", header.lower())
        aliases = {**_ALIASES, **{f.name: set(f.aliases) for f in CONTACT_EXTRA_FIELDS.values()}}
        target = next((f for f, names in aliases.items() if key in names and f not in used), None)
        if target is None and header.strip().lower() in _EXPORT_ONLY_COLUMNS:
            target = ""
        elif target is None:
            attribute = re.sub(r"[^A-Za-z0-9_]", "_", header.strip()).strip("_").lower()
            name = f"attributes.{attribute}"
            target = name if ATTRIBUTE_KEY.match(attribute) and name not in used else ""
        if target:
            used.add(target)
        mapping[header] = target
    return mapping


def validate_mapping(headers: list[str], mapping: Any, match_on: Any) -> dict[str, str]:
    """Mapping is {"Column": "email" | "attributes.plan" | "attributes.score:number" | ""}."""
    errors: dict[str, list[str]] = {}
    if not isinstance(mapping, dict):
        raise InvalidInput("The mapping must be an object.", fields={"mapping": ["not an object"]})
    if match_on not in ImportJob.MatchOn.values:
        errors["match_on"] = [f"one of {', '.join(ImportJob.MatchOn.values)}"]
    clean: dict[str, str] = {}
    seen: dict[str, str] = {}
    for column, target in mapping.items():
        path = f"mapping.{column}"
        if column not in headers:
            errors[path] = ["is not a column of the file"]
            continue
        if target in ("", None):
            continue
        if not isinstance(target, str):
            errors[path] = ["must be a string"]
            continue
        field, _, kind = target.partition(":")
        if field.startswith("attributes."):
            name = field.removeprefix("attributes.")
            if not ATTRIBUTE_KEY.match(name):
                errors[path] = [f"'{name}' is not an attribute name"]
                continue
            if kind and kind not in ATTRIBUTE_TYPES:
                errors[path] = [f"type must be one of {', '.join(ATTRIBUTE_TYPES)}"]
                continue
        elif (field not in CONTACT_FIELDS or field == "attributes" or kind) and (
            field not in CONTACT_EXTRA_FIELDS or kind
        ):
            errors[path] = [f"'{target}' is not a contact field"]
            continue
        if field in seen:
            errors[path] = [f"'{field}' is already mapped from '{seen[field]}'"]
            continue
        seen[field] = column
        clean[column] = target
    if not errors and match_on not in seen:
        errors["match_on"] = [f"map a column to {match_on} to match contacts on it"]
    if errors:
        raise InvalidInput("The column mapping is not valid.", fields=errors)
    return clean


def _convert(value: str, kind: str) -> tuple[Any, str | None]:
    text = value.strip()
    if text == "":
        return None, None
    if kind in ("", "text"):
        return text, None
    if kind == "number":
        try:
            number = Decimal(text)
            if not number.is_finite():
                raise InvalidOperation
        except InvalidOperation:
            return None, f"'{value}' is not a number"
        return (int(number) if number == number.to_integral_value() else float(number)), None
    if kind == "boolean":
        if text.lower() in TRUE_WORDS:
            return True, None
        if text.lower() in FALSE_WORDS:
            return False, None
        return None, f"'{value}' is not true/false"
    try:
        return dt.date.fromisoformat(text).isoformat(), None
    except ValueError:
        moment, error = parse_datetime(text)
        if error or moment is None:
            return None, f"'{value}' is not a date (YYYY-MM-DD)"
        return moment.isoformat(), None


def row_to_contact(
    headers: list[str], cells: list[str], mapping: dict[str, str], *, zone: str = "UTC"
) -> tuple[dict[str, Any], str | None]:
    """Turn one CSV row into cleaned contact data, or a reason it is rejected. `zone`
    (the workspace's) places a signup date given without a time."""
    if len(cells) != len(headers):
        return {}, f"has {len(cells)} columns, the header has {len(headers)}"
    data: dict[str, Any] = {}
    attributes: dict[str, Any] = {}
    values = dict(zip(headers, cells, strict=True))
    for column, target in mapping.items():
        field, _, kind = target.partition(":")
        # A cell our export wrote as '=... (so no spreadsheet runs it) reads as =...
        raw = csv_value(values[column])
        if field in CONTACT_EXTRA_FIELDS:
            continue  # a later app's field: row_extras
        if field.startswith("attributes."):
            value, error = _convert(raw, kind)
            if error:
                return {}, f"{column}: {error}"
            if value is not None:
                attributes[field.removeprefix("attributes.")] = value
        elif raw.strip() != "":
            data[field] = raw.strip()
    if attributes:
        data["attributes"] = attributes
    cleaned, errors = clean_contact(data, partial=True, zone=zone)
    if errors:
        field, reasons = next(iter(errors.items()))
        column = next((c for c, t in mapping.items() if t.partition(":")[0] == field), field)
        return {}, f"{column}: {reasons[0]}"
    return cleaned, None


def row_extras(
    headers: list[str], cells: list[str], mapping: dict[str, str]
) -> dict[str, tuple[str, str]]:
    """The row's cells of columns mapped to a later app's field (contacts/hooks.py):
    {field: (column, value)}; empty cells are left out."""
    values = dict(zip(headers, cells, strict=False))
    return {
        target: (column, csv_value(values.get(column, "")).strip())
        for column, target in mapping.items()
        if target in CONTACT_EXTRA_FIELDS and csv_value(values.get(column, "")).strip()
    }
