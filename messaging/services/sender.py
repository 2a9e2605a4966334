"""The workspace's sender identity and SMS number (MessagingSettings), as its
owners and admins edit them on the settings page and over the API."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from config.errors import Conflict, field_errors
from contacts.validation import clean_email, clean_phone
from messaging.models import MessagingSettings
from workspaces.models import Workspace
from workspaces.services import Actor, audit_record

# What an owner edits, with each one's longest value.
SENDER_FIELDS = {
    "from_name": 200,
    "from_email": 254,
    "reply_to": 254,
    "sms_from_number": 16,
    "sms_help_text": 320,
}


def messaging_settings_get(*, workspace: Workspace) -> MessagingSettings:
    """The workspace's settings; an unsaved row with the defaults when it has none."""
    found = MessagingSettings.objects.filter(workspace=workspace).first()
    return found or MessagingSettings(workspace=workspace)


def _clean(key: str, value: Any) -> tuple[str, str | None]:
    # Taken as given (the dashboard trims what is typed): what the API accepts is
    # exactly what its schema says.
    if not isinstance(value, str):
        return "", "must be a string"
    if len(value) > SENDER_FIELDS[key]:
        return "", f"at most {SENDER_FIELDS[key]} characters"
    if "\x00" in value or (key != "sms_help_text" and ("\n" in value or "\r" in value)):
        return "", "must be one line of text"
    if key in ("from_email", "reply_to") and value:
        email, error = clean_email(value)
        return email or "", error
    if key == "sms_from_number" and value:
        number, error = clean_phone(value)
        return number or "", error
    return value, None


def sender_clean(data: dict[str, Any]) -> dict[str, str]:
    """`data` checked field by field; raises InvalidInput naming each bad field."""
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, str] = {}
    for key, value in data.items():
        if key not in SENDER_FIELDS:
            errors[key] = ["unknown field"]
            continue
        cleaned[key], error = _clean(key, value)
        if error:
            errors[key] = [error]
    if errors:
        raise field_errors(errors)
    return cleaned


@transaction.atomic
def messaging_settings_update(
    *, workspace: Workspace, data: dict[str, Any], actor: Actor
) -> MessagingSettings:
    changes = sender_clean(data)
    row = MessagingSettings.objects.select_for_update().filter(workspace=workspace).first()
    row = row or MessagingSettings(workspace=workspace)
    changed = sorted(k for k, v in changes.items() if getattr(row, k) != v)
    for key, value in changes.items():
        setattr(row, key, value)
    number = changes.get("sms_from_number")
    if (
        number
        and MessagingSettings.objects.filter(sms_from_number=number)
        .exclude(workspace=workspace)
        .exists()
    ):
        raise Conflict(
            "sms_from_number: another workspace uses this number",
            fields={"sms_from_number": ["Another workspace already uses this number."]},
        )
    if not changed:
        return row
    try:
        with transaction.atomic():
            if row._state.adding:
                row.save()
            else:
                row.save(update_fields=changed)
    except IntegrityError:
        raise Conflict(
            "sms_from_number: another workspace uses this number",
            fields={"sms_from_number": ["Another workspace already uses this number."]},
        ) from None
    audit_record(
        workspace=workspace,
        action="messaging.sender_settings_changed",
        actor=actor,
        object_type="messaging_settings",
        object_id=workspace.pk,
        details={"fields": changed},
    )
    return row
