"""API shapes for contacts, events and imports.

Input is cleaned by contacts/validation.py (the same code the batch, import and
event paths use); these serializers describe the shapes for the OpenAPI schema and
turn rows into JSON."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from config.errors import InvalidInput
from config.openapi import component_rules, described, or_empty, text
from config.query import MOMENT_PATTERN
from contacts.hooks import CONTACT_EXTRA_FIELDS
from contacts.import_kinds import IMPORT_KINDS
from contacts.models import Contact, EmailStatus, Event, ImportJob, ImportRowError, SmsStatus
from contacts.validation import (
    ATTRIBUTE_KEY,
    CONTACT_FIELDS,
    MAX_ATTRIBUTES_BYTES,
    MAX_JSON_KEYS,
    MAX_JSON_STRING,
    MAX_PROPERTIES_BYTES,
    MAX_PROPERTY_KEY,
    clean_contact,
)
from workspaces.models import available_time_zones


def contact_to_dict(contact: Contact) -> dict[str, Any]:
    return {
        "id": contact.pk,
        **{name: getattr(contact, name) for name in CONTACT_FIELDS},
        "signed_up_at": contact.signed_up_at.isoformat(),
        "created_at": contact.created_at.isoformat(),
        "updated_at": contact.updated_at.isoformat(),
    }


def event_to_dict(event: Event) -> dict[str, Any]:
    return {
        "id": event.pk,
        "contact_id": event.contact_id,
        "name": event.name,
        "properties": event.properties,
        "revenue": str(event.revenue) if event.revenue is not None else None,
        "currency": event.currency or None,
        "occurred_at": event.occurred_at.isoformat(),
        "received_at": event.received_at.isoformat(),
        "idempotency_key": event.idempotency_key,
    }


def clean_contact_or_raise(data: Any, *, partial: bool, zone: str) -> dict[str, Any]:
    cleaned, errors = clean_contact(data, partial=partial, zone=zone)
    if errors:
        first, reasons = next(iter(errors.items()))
        raise InvalidInput(f"{first}: {reasons[0]}", fields=errors)
    return cleaned


EMAIL = {"type": "string", "format": "email", "maxLength": 254}
PHONE = {
    "type": "string",
    "pattern": r"^\+[1-9][0-9]{6,14}$",
    "description": "E.164; it must also be a number in use by its country's numbering plan",
}
EXTERNAL_ID = {"oneOf": [{"type": "string", "minLength": 1, "maxLength": 200}, {"type": "integer"}]}
ATTRIBUTES = {
    "type": "object",
    "nullable": True,
    "maxProperties": MAX_JSON_KEYS,
    "additionalProperties": False,
    "patternProperties": {ATTRIBUTE_KEY.pattern: {}},
    "description": f"at most {MAX_JSON_KEYS} keys (letters, digits and _, not starting with "
    f"a digit, at most 64), strings of at most {MAX_JSON_STRING} characters, "
    f"{MAX_ATTRIBUTES_BYTES} bytes as JSON in all; on update null removes a key",
}


LOCALE = {"type": "string", "maxLength": 35, "pattern": r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$"}
# A new contact needs an identifier: one of these, not empty.
component_rules["ContactCreateRequest"] = {
    "anyOf": [
        {"required": [name], "properties": {name: {"not": {"enum": ["", None]}}}}
        for name in ("email", "phone", "external_id")
    ]
}


# A date alone, or a date-time from 1970 on.
SIGNUP_PATTERN = r"^(19[7-9][0-9]|[2-9][0-9]{3})-[0-9]{2}-[0-9]{2}([Tt ].*)?$"


def _time_zones() -> dict[str, Any]:
    return {"type": "string", "enum": sorted(available_time_zones()), "description": "IANA"}


# What happened to each item of a batch upsert (contacts here, products in catalog).
BATCH_ITEM_STATUSES = ["created", "updated", "unchanged", "error"]


class ContactSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    email = described(or_empty(EMAIL), required=False, help_text="lower-cased")
    phone = described(or_empty(PHONE), required=False)
    external_id = described(or_empty(EXTERNAL_ID), required=False)
    first_name = described(text(100, nullable=True), required=False)
    last_name = described(text(100, nullable=True), required=False)
    time_zone = described(or_empty(_time_zones()), required=False)
    locale = described(
        or_empty(
            {
                "type": "string",
                "maxLength": 35,
                "pattern": r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$",
            }
        ),
        required=False,
    )
    attributes = described(ATTRIBUTES, required=False)
    email_status = serializers.ChoiceField(EmailStatus.choices, required=False)
    sms_status = serializers.ChoiceField(SmsStatus.choices, required=False)
    signed_up_at = described(
        {
            "type": "string",
            "pattern": SIGNUP_PATTERN,
            "description": "when the contact signed up: an ISO 8601 date-time (UTC "
            "without an offset) or a date alone (midnight in the workspace's time zone); "
            "not in the future; default: when the contact is created",
        },
        required=False,
    )
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)


class ContactCreateSerializer(ContactSerializer):
    """A contact's creation: its fields, and the fields later apps register for it
    (contacts/hooks.py CONTACT_EXTRA_FIELDS, e.g. loyalty's `referred_by`), read from
    the registry when the schema is generated (after every app's ready())."""

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        for name, extra in CONTACT_EXTRA_FIELDS.items():
            schema = {**extra.schema}
            if extra.description:
                schema["description"] = (
                    f"{extra.description}; taken only when the contact is created"
                )
            fields[name] = described(schema, required=False, write_only=True)
        return fields


class ContactBatchSerializer(serializers.Serializer):
    # Items are not typed in the schema: an invalid item is not a 400 but an error in
    # its result, which a typed item would promise otherwise.
    contacts = serializers.ListField(
        child=serializers.JSONField(),
        min_length=1,
        max_length=1000,
        help_text="1 to 1000 contacts, each a ContactCreateRequest (its fields later apps "
        "register, such as `referred_by`, included: applied when the item creates its "
        "contact, ignored when it updates one); an item that is not a valid contact is "
        "reported in results with its errors and does not fail the others",
    )


class BatchResultSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    status = serializers.ChoiceField(BATCH_ITEM_STATUSES)
    id = serializers.IntegerField(required=False)
    errors = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(), required=False
    )


class BatchResponseSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    errors = serializers.IntegerField()  # type: ignore[assignment]
    results = BatchResultSerializer(many=True)


CONTACT_REF = {
    "type": "object",
    "minProperties": 1,
    "maxProperties": 1,
    "additionalProperties": False,
    "properties": {
        "id": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
        "email": EMAIL,
        "external_id": EXTERNAL_ID,
    },
    "description": "exactly one of id, email, external_id",
}
REVENUE = {
    "nullable": True,
    "oneOf": [
        {"type": "string", "pattern": r"^-?[0-9]{1,12}(\.[0-9]{1,2})?$"},
        {"type": "integer", "minimum": -999999999999, "maximum": 999999999999},
    ],
    "description": "a decimal with at most 2 places (a string, or a whole number)",
}


class EventSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    contact = described(CONTACT_REF, write_only=True)
    contact_id = serializers.IntegerField(read_only=True)
    name = described(text(200, blank=False))
    properties = described(
        {
            "type": "object",
            "nullable": True,
            "maxProperties": MAX_JSON_KEYS,
            "additionalProperties": {},
            "description": f"at most {MAX_JSON_KEYS} keys of at most {MAX_PROPERTY_KEY} "
            f"characters, strings of at most {MAX_JSON_STRING}, {MAX_PROPERTIES_BYTES} bytes "
            "as JSON in all",
        },
        required=False,
    )
    revenue = described(REVENUE, required=False)
    currency = described(
        or_empty({"type": "string", "pattern": "^[A-Za-z]{3}$"}),
        required=False,
        help_text="ISO 4217. With revenue it must be the workspace's currency (the default "
        "when left out): Stagecraft does not convert currencies, so convert the amount "
        "before sending it; another currency is refused with a 400 on `currency`",
    )
    occurred_at = described(
        {
            "type": "string",
            "format": "date-time",
            "nullable": True,
            "pattern": MOMENT_PATTERN,
            "description": "default: now; without an offset UTC; at most a day ahead",
        },
        required=False,
    )
    received_at = serializers.DateTimeField(read_only=True)
    idempotency_key = described(
        {"type": "string", "nullable": True, "minLength": 1, "maxLength": 200}, required=False
    )


class EventBatchSerializer(serializers.Serializer):
    batch = serializers.ListField(
        child=serializers.JSONField(),
        min_length=1,
        max_length=1000,
        help_text="1 to 1000 events (EventRequest each); an item that is not a valid event "
        "is reported in errors and does not fail the others",
    )


class ItemErrorSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    fields = serializers.DictField(child=serializers.ListField())  # type: ignore[assignment]


class IngestResponseSerializer(serializers.Serializer):
    accepted = serializers.IntegerField()
    duplicates = serializers.IntegerField(help_text="accepted, already recorded")
    rejected = serializers.IntegerField()
    contacts_created = serializers.IntegerField()
    errors = ItemErrorSerializer(many=True)  # type: ignore[assignment]


# Read when the API's modules load (the URL conf), after every app registered its
# kinds in ready(). Named ImportKindEnum in the schema (settings: ENUM_NAME_OVERRIDES).
IMPORT_KIND_CHOICES = ["contacts", *IMPORT_KINDS]


class ImportJobSerializer(serializers.ModelSerializer):
    progress_percent = serializers.IntegerField(read_only=True)
    kind = serializers.ChoiceField(IMPORT_KIND_CHOICES, read_only=True)

    class Meta:
        model = ImportJob
        fields = [
            "id",
            "kind",
            "filename",
            "status",
            "headers",
            "mapping",
            "match_on",
            *ImportJob.COUNTERS,
            "progress_percent",
            "error",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields


class ImportCreateSerializer(serializers.Serializer):
    file = serializers.FileField()
    kind = serializers.ChoiceField(
        IMPORT_KIND_CHOICES,
        required=False,
        help_text="contacts (default), or stage_history: one known stage move per row "
        "(email or external_id, stage key or name, date), mapped to email | external_id | "
        "stage | at; or products: one product per row (docs/catalog.md), mapped to "
        "product_id | title | url | image_url | price | currency | categories | brand | "
        "quantity | in_stock | active | attribute",
    )
    mapping = serializers.JSONField(required=False, help_text='{"Column": "email", ...}')
    match_on = serializers.ChoiceField(ImportJob.MatchOn.choices, required=False)


class ImportStartSerializer(serializers.Serializer):
    mapping = serializers.JSONField(help_text='{"Column": "email" | "attributes.plan:text"}')
    match_on = serializers.ChoiceField(ImportJob.MatchOn.choices, default="email")


class ImportRowErrorSerializer(serializers.ModelSerializer):
    class Meta:
        model = ImportRowError
        fields = ["row_number", "reason", "values"]
