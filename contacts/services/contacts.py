"""Writes to one contact (create, update) and what batch upserts share with them: the
writable columns, applying a change, consent rows and suppression on creation."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from config.errors import Conflict, InvalidInput, NotFound, field_errors
from contacts.hooks import contact_extras_apply
from contacts.models import (
    Channel,
    ConsentChange,
    Contact,
    EmailStatus,
    Suppression,
)
from contacts.services.marks import contacts_mark_changed
from contacts.validation import CONTACT_FIELDS, IDENTIFIERS, Errors, merged_attributes_errors
from workspaces.models import Workspace
from workspaces.services import Actor

# Columns a batch upsert writes, in the order of the UPDATE ... FROM unnest() below.
WRITABLE = (
    ("email", "text"),
    ("phone", "text"),
    ("external_id", "text"),
    ("first_name", "text"),
    ("last_name", "text"),
    ("time_zone", "text"),
    ("locale", "text"),
    ("attributes", "jsonb"),
    ("email_status", "text"),
    ("email_status_at", "timestamptz"),
    ("email_status_source", "text"),
    ("sms_status", "text"),
    ("sms_status_at", "timestamptz"),
    ("sms_status_source", "text"),
    ("updated_at", "timestamptz"),
    ("signed_up_at", "timestamptz"),
)
# What an upsert compares to tell "updated" from "unchanged".
COMPARED = CONTACT_FIELDS


def mark_source(source: str) -> str:
    """The lifecycle cause a write's source maps to: "api", "import" or "rule"."""
    if source == "api":
        return "api"
    return "import" if source.startswith("import") else "rule"


def signup_since(before: Any, after: Any) -> Any:
    """The `since` of a contact's mark when its signup moved from `before` to `after`:
    the earlier of the two (its history is replayed from there), or None when the
    signup did not move."""
    if before == after:
        return None
    return min(before, after)


def value_hash(channel: str, value: str) -> str:
    return hashlib.sha256(f"{channel}:{value.strip().lower()}".encode()).hexdigest()


def _merge_attributes(current: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """A key set to null removes the attribute; other keys overwrite."""
    merged = dict(current)
    for key, value in update.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def apply_changes(contact: Contact, data: dict[str, Any], *, source: str, now: Any) -> list[tuple]:
    """Apply cleaned fields to an unsaved or loaded contact; return consent changes."""
    consent: list[tuple] = []
    for key, value in data.items():
        if key == "attributes":
            contact.attributes = _merge_attributes(contact.attributes or {}, value)
        elif key == "email_status":
            if value != contact.email_status or contact.pk is None:
                contact.email_status, contact.email_status_at = value, now
                contact.email_status_source = source
                consent.append((Channel.EMAIL, value, source))
        elif key == "sms_status":
            if value != contact.sms_status or contact.pk is None:
                contact.sms_status, contact.sms_status_at = value, now
                contact.sms_status_source = source
                consent.append((Channel.SMS, value, source))
        else:
            setattr(contact, key, value)
    return consent


def snapshot(contact: Contact) -> tuple:
    return tuple(getattr(contact, name) for name in COMPARED)


def suppressed_email_statuses(workspace: Workspace, emails: Iterable[str]) -> dict[str, str]:
    """Email -> the status a new contact with it must start with (from the suppression
    list, which outlives erased contacts)."""
    hashes = {value_hash(Channel.EMAIL, email): email for email in emails}
    if not hashes:
        return {}
    found = Suppression.objects.filter(
        workspace=workspace, channel=Channel.EMAIL, value_hash__in=list(hashes)
    ).values_list("value_hash", "reason")
    status_for: dict[str, str] = {
        Suppression.Reason.BOUNCED: EmailStatus.BOUNCED,
        Suppression.Reason.COMPLAINED: EmailStatus.COMPLAINED,
    }
    return {hashes[h]: status_for.get(reason, EmailStatus.UNSUBSCRIBED) for h, reason in found}


def new_contact(
    workspace: Workspace, data: dict[str, Any], *, source: str, now: Any, suppressed: dict[str, str]
) -> tuple[Contact, list[tuple]]:
    contact = Contact(
        workspace=workspace,
        created_at=now,
        updated_at=now,
        signed_up_at=now,
        email_status_at=now,
        sms_status_at=now,
        email_status_source=source,
        sms_status_source=source,
    )
    consent = apply_changes(contact, data, source=source, now=now)
    email = data.get("email")
    if email and email in suppressed and "email_status" not in data:
        contact.email_status = suppressed[email]
        contact.email_status_source = "suppression_list"
    return contact, consent


def record_consent(workspace: Workspace, rows: Sequence[tuple[Contact, tuple]], now: Any) -> None:
    ConsentChange.objects.bulk_create(
        ConsentChange(
            workspace=workspace,
            contact_id=contact.pk,
            channel=channel,
            status=status,
            source=source,
            created_at=now,
        )
        for contact, (channel, status, source) in rows
    )


def _identifier_conflicts(
    workspace: Workspace, data: dict[str, Any], exclude_id: int | None
) -> Errors:
    errors: Errors = {}
    for key in ("email", "external_id"):
        value = data.get(key)
        if not value:
            continue
        other = Contact.objects.filter(workspace=workspace, **{key: value})
        if exclude_id is not None:
            other = other.exclude(pk=exclude_id)
        other_id = other.values_list("pk", flat=True).first()
        if other_id is not None:
            errors[key] = [f"belongs to another contact (id {other_id})"]
    return errors


@transaction.atomic
def contact_create(
    *,
    workspace: Workspace,
    data: dict[str, Any],
    actor: Actor,
    source: str = "api",
    extras: dict[str, Any] | None = None,
) -> Contact:
    """Create from cleaned data; Conflict (409) if the email or external_id is taken.
    `extras`: cleaned values of fields later apps registered (contacts/hooks.py), applied
    in this transaction once the contact exists."""
    conflicts = _identifier_conflicts(workspace, data, exclude_id=None)
    if conflicts:
        raise Conflict("A contact with this identifier exists.", fields=conflicts)
    now = timezone.now()
    emails = [data["email"]] if data.get("email") else []
    contact, consent = new_contact(
        workspace,
        data,
        source=source,
        now=now,
        suppressed=suppressed_email_statuses(workspace, emails),
    )
    try:
        with transaction.atomic():
            contact.save()
    except IntegrityError:
        raise Conflict(
            "A contact with this identifier exists.",
            fields=_identifier_conflicts(workspace, data, exclude_id=None),
        ) from None
    record_consent(workspace, [(contact, c) for c in consent], now)
    contacts_mark_changed(
        contact_ids=[contact.pk],
        source=mark_source(source),
        since=signup_since(now, contact.signed_up_at),
    )
    if extras:
        contact_extras_apply(contact, extras)
    return contact


@transaction.atomic
def contact_update(
    *, contact: Contact, data: dict[str, Any], actor: Actor, source: str = "api"
) -> Contact:
    """Apply a partial update (cleaned data). Attribute keys merge; null removes one."""
    conflicts = _identifier_conflicts(contact.workspace, data, exclude_id=contact.pk)
    if conflicts:
        raise Conflict("Another contact has this identifier.", fields=conflicts)
    locked = Contact.objects.select_for_update(no_key=True).filter(pk=contact.pk).first()
    if locked is None:  # erased since the caller read it
        raise NotFound("No such contact.")
    contact = locked
    before = snapshot(contact)
    signed_up_before = contact.signed_up_at
    now = timezone.now()
    consent = apply_changes(contact, data, source=source, now=now)
    merged_errors = merged_attributes_errors(contact.attributes or {})
    if merged_errors:
        raise field_errors(merged_errors)
    if not any(getattr(contact, key) for key in IDENTIFIERS):
        raise InvalidInput(
            "A contact needs at least one of email, phone, external_id.",
            fields={"non_field_errors": ["give at least one of email, phone, external_id"]},
        )
    if snapshot(contact) != before:
        contact.updated_at = now
        try:
            with transaction.atomic():
                contact.save(update_fields=[name for name, _ in WRITABLE])
        except IntegrityError:
            raise Conflict(
                "Another contact has this identifier.",
                fields=_identifier_conflicts(contact.workspace, data, exclude_id=contact.pk),
            ) from None
        record_consent(contact.workspace, [(contact, c) for c in consent], now)
        contacts_mark_changed(
            contact_ids=[contact.pk],
            source=mark_source(source),
            since=signup_since(signed_up_before, contact.signed_up_at),
        )
    return contact
