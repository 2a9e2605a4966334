"""API shapes for contacts, events and imports.

Input is cleaned by contacts/validation.py (the same code the batch, import and
event paths use); these serializers describe the shapes for the OpenAPI schema and
turn rows into JSON."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from config.errors import InvalidInput
from contacts.models import Contact, EmailStatus, Event, ImportJob, ImportRowError, SmsStatus
from contacts.validation import clean_contact


def contact_to_dict(contact: Contact) -> dict[str, Any]:
    return {
        "id": contact.pk,
        "email": contact.email,
        "phone": contact.phone,
        "external_id": contact.external_id,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "time_zone": contact.time_zone,
        "locale": contact.locale,
        "attributes": contact.attributes,
        "email_status": contact.email_status,
        "sms_status": contact.sms_status,
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


def clean_contact_or_raise(data: Any, *, partial: bool) -> dict[str, Any]:
    cleaned, errors = clean_contact(data, partial=partial)
    if errors:
        first, reasons = next(iter(errors.items()))
        raise InvalidInput(f"{first}: {reasons[0]}", fields=errors)
    return cleaned


class ContactSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    email = serializers.EmailField(required=False, allow_null=True)
    phone = serializers.CharField(required=False, allow_null=True, help_text="E.164")
    external_id = serializers.CharField(required=False, allow_null=True)
    first_name = serializers.CharField(required=False, allow_blank=True)
    last_name = serializers.CharField(required=False, allow_blank=True)
    time_zone = serializers.CharField(required=False, allow_blank=True, help_text="IANA")
    locale = serializers.CharField(required=False, allow_blank=True)
    attributes = serializers.DictField(required=False, help_text="null removes a key")
    email_status = serializers.ChoiceField(EmailStatus.choices, required=False)
    sms_status = serializers.ChoiceField(SmsStatus.choices, required=False)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)


class ContactPageSerializer(serializers.Serializer):
    results = ContactSerializer(many=True)
    next = serializers.URLField(allow_null=True)
    next_cursor = serializers.CharField(allow_null=True)


class ContactBatchSerializer(serializers.Serializer):
    contacts = ContactSerializer(many=True, help_text="1 to 1000 contacts")


class BatchResultSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    status = serializers.ChoiceField(["created", "updated", "unchanged", "error"])
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


class ContactRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(required=False)
    email = serializers.EmailField(required=False)
    external_id = serializers.CharField(required=False)


class EventSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    contact = ContactRefSerializer(write_only=True, help_text="exactly one key")
    contact_id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(max_length=200)
    properties = serializers.DictField(required=False)
    revenue = serializers.DecimalField(
        max_digits=14, decimal_places=2, required=False, allow_null=True
    )
    currency = serializers.CharField(required=False, help_text="ISO 4217")
    occurred_at = serializers.DateTimeField(required=False, help_text="default: now")
    received_at = serializers.DateTimeField(read_only=True)
    idempotency_key = serializers.CharField(required=False, max_length=200)


class EventBatchSerializer(serializers.Serializer):
    batch = EventSerializer(many=True, help_text="1 to 1000 events")


class ItemErrorSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    fields = serializers.DictField(child=serializers.ListField())  # type: ignore[assignment]


class IngestResponseSerializer(serializers.Serializer):
    accepted = serializers.IntegerField()
    duplicates = serializers.IntegerField(help_text="accepted, already recorded")
    rejected = serializers.IntegerField()
    contacts_created = serializers.IntegerField()
    errors = ItemErrorSerializer(many=True)  # type: ignore[assignment]


class EventPageSerializer(serializers.Serializer):
    results = EventSerializer(many=True)
    next = serializers.URLField(allow_null=True)
    next_cursor = serializers.CharField(allow_null=True)


class ImportJobSerializer(serializers.ModelSerializer):
    progress_percent = serializers.IntegerField(read_only=True)

    class Meta:
        model = ImportJob
        fields = [
            "id",
            "filename",
            "status",
            "headers",
            "mapping",
            "match_on",
            "total_rows",
            "processed_rows",
            "created_count",
            "updated_count",
            "unchanged_count",
            "rejected_count",
            "progress_percent",
            "error",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields


class ImportCreateSerializer(serializers.Serializer):
    file = serializers.FileField()
    mapping = serializers.JSONField(required=False, help_text='{"Column": "email", ...}')
    match_on = serializers.ChoiceField(ImportJob.MatchOn.choices, required=False)


class ImportStartSerializer(serializers.Serializer):
    mapping = serializers.JSONField(help_text='{"Column": "email" | "attributes.plan:text"}')
    match_on = serializers.ChoiceField(ImportJob.MatchOn.choices, default="email")


class ImportRowErrorSerializer(serializers.ModelSerializer):
    class Meta:
        model = ImportRowError
        fields = ["row_number", "reason", "values"]
