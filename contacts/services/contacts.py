"""Writes to contacts: create, update, batch upsert, consent and erasure."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from psycopg.types.json import Jsonb

from config.errors import Conflict, InvalidInput, NotFound, field_errors
from contacts.hooks import ERASURE_HOOKS
from contacts.models import (
    Channel,
    ConsentChange,
    Contact,
    EmailStatus,
    SmsStatus,
    Suppression,
)
from contacts.services.marks import contact_marks_discard, contacts_mark_changed
from contacts.validation import CONTACT_FIELDS, IDENTIFIERS, Errors, merged_attributes_errors
from workspaces.models import Workspace
from workspaces.services import Actor, audit_record

# Columns a batch upsert writes, in the order of the UPDATE ... FROM unnest() below.
_WRITABLE = (
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
)
# What an upsert compares to tell "updated" from "unchanged".
_COMPARED = CONTACT_FIELDS


def mark_source(source: str) -> str:
    """The lifecycle cause a write's source maps to: "api", "import" or "rule"."""
    if source == "api":
        return "api"
    return "import" if source.startswith("import") else "rule"


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


def _apply(contact: Contact, data: dict[str, Any], *, source: str, now: Any) -> list[tuple]:
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


def _snapshot(contact: Contact) -> tuple:
    return tuple(getattr(contact, name) for name in _COMPARED)


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


def _new_contact(
    workspace: Workspace, data: dict[str, Any], *, source: str, now: Any, suppressed: dict[str, str]
) -> tuple[Contact, list[tuple]]:
    contact = Contact(
        workspace=workspace,
        created_at=now,
        updated_at=now,
        email_status_at=now,
        sms_status_at=now,
        email_status_source=source,
        sms_status_source=source,
    )
    consent = _apply(contact, data, source=source, now=now)
    email = data.get("email")
    if email and email in suppressed and "email_status" not in data:
        contact.email_status = suppressed[email]
        contact.email_status_source = "suppression_list"
    return contact, consent


def _record_consent(workspace: Workspace, rows: Sequence[tuple[Contact, tuple]], now: Any) -> None:
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
    *, workspace: Workspace, data: dict[str, Any], actor: Actor, source: str = "api"
) -> Contact:
    """Create from cleaned data; Conflict (409) if the email or external_id is taken."""
    conflicts = _identifier_conflicts(workspace, data, exclude_id=None)
    if conflicts:
        raise Conflict("A contact with this identifier exists.", fields=conflicts)
    now = timezone.now()
    emails = [data["email"]] if data.get("email") else []
    contact, consent = _new_contact(
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
    _record_consent(workspace, [(contact, c) for c in consent], now)
    contacts_mark_changed(contact_ids=[contact.pk], source=mark_source(source))
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
    before = _snapshot(contact)
    now = timezone.now()
    consent = _apply(contact, data, source=source, now=now)
    merged_errors = merged_attributes_errors(contact.attributes or {})
    if merged_errors:
        raise field_errors(merged_errors)
    if not any(getattr(contact, key) for key in IDENTIFIERS):
        raise InvalidInput(
            "A contact needs at least one of email, phone, external_id.",
            fields={"non_field_errors": ["give at least one of email, phone, external_id"]},
        )
    if _snapshot(contact) != before:
        contact.updated_at = now
        try:
            with transaction.atomic():
                contact.save(update_fields=[name for name, _ in _WRITABLE])
        except IntegrityError:
            raise Conflict(
                "Another contact has this identifier.",
                fields=_identifier_conflicts(contact.workspace, data, exclude_id=contact.pk),
            ) from None
        _record_consent(contact.workspace, [(contact, c) for c in consent], now)
        contacts_mark_changed(contact_ids=[contact.pk], source=mark_source(source))
    return contact


@dataclass
class UpsertResult:
    index: int
    status: str  # created | updated | unchanged | error
    id: int | None = None
    errors: Errors = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "status": self.status}
        if self.id is not None:
            out["id"] = self.id
        if self.errors:
            out["errors"] = self.errors
        return out


def contacts_upsert(
    *,
    workspace: Workspace,
    items: Sequence[dict[str, Any]],
    source: str,
    match_on: str | None = None,
    _attempt: int = 0,
) -> list[UpsertResult]:
    """Create or update many contacts (cleaned data) in one transaction, matching each
    by `match_on` or, when not given, by external_id if present else email.

    1. Lock every existing contact that any item's email or external_id names, in id
       order (so concurrent batches cannot deadlock).
    2. Walk the items in order against that state: later items see earlier ones, and an
       identifier owned by another contact is an error for that item only.
    3. Insert the new contacts in one statement and update the changed ones in one
       statement; unchanged rows are not written.
    A concurrent insert of the same identifier makes step 3 fail; the whole call is
    then retried, and finds that row in step 1.
    """
    try:
        with transaction.atomic():
            return _contacts_upsert(workspace, items, source, match_on)
    except IntegrityError:
        if _attempt >= 3:
            raise
        return contacts_upsert(
            workspace=workspace,
            items=items,
            source=source,
            match_on=match_on,
            _attempt=_attempt + 1,
        )


def _unmatched(item: dict[str, Any], key: str, match_on: str | None) -> Errors:
    """An item without the value it is matched on."""
    if item.get(key):
        return {}
    if match_on:
        return {key: [f"is required to match on {key}"]}
    return {key: ["give external_id or email to match on"]}


def _conflicts(
    item: dict[str, Any], contact: Contact | None, index_for: dict[str, dict[Any, Contact]]
) -> Errors:
    """The item's email or external id already belongs to another contact."""
    conflicts: Errors = {}
    for other_key in ("email", "external_id"):
        value = item.get(other_key)
        owner = index_for[other_key].get(value) if value else None
        if owner is not None and owner is not contact:
            owner_ref = owner.pk if owner.pk else "created earlier in this batch"
            conflicts[other_key] = [f"belongs to another contact (id {owner_ref})"]
    return conflicts


def _update_errors(contact: Contact) -> Errors:
    """What an update would leave wrong: too many attributes, or no identifier."""
    merged_errors = merged_attributes_errors(contact.attributes or {})
    if merged_errors:
        return merged_errors
    if not any(getattr(contact, k) for k in IDENTIFIERS):
        return {"non_field_errors": ["would leave the contact without an identifier"]}
    return {}


def _contacts_upsert(
    workspace: Workspace, items: Sequence[dict[str, Any]], source: str, match_on: str | None
) -> list[UpsertResult]:
    now = timezone.now()
    emails = {item["email"] for item in items if item.get("email")}
    external_ids = {item["external_id"] for item in items if item.get("external_id")}
    existing = (
        list(
            Contact.objects.select_for_update(no_key=True)
            .filter(workspace=workspace)
            .filter(Q(email__in=emails) | Q(external_id__in=external_ids))
            .order_by("pk")
        )
        if emails or external_ids
        else []
    )
    by_email = {c.email: c for c in existing if c.email}
    by_external = {c.external_id: c for c in existing if c.external_id}
    before = {c.pk: _snapshot(c) for c in existing}
    suppressed = suppressed_email_statuses(workspace, emails - set(by_email))

    results: list[UpsertResult] = []
    result_contacts: list[Contact | None] = []
    created: list[Contact] = []
    consent: list[tuple[Contact, tuple]] = []
    touched: dict[int, Contact] = {}
    for index, item in enumerate(items):
        key = match_on or ("external_id" if item.get("external_id") else "email")
        index_for = {"email": by_email, "external_id": by_external}
        contact = index_for[key].get(item[key]) if item.get(key) else None
        refused = _unmatched(item, key, match_on) or _conflicts(item, contact, index_for)
        if refused:
            results.append(UpsertResult(index, "error", errors=refused))
            result_contacts.append(None)
            continue
        if contact is None:
            contact, changes = _new_contact(
                workspace, item, source=source, now=now, suppressed=suppressed
            )
            created.append(contact)
            results.append(UpsertResult(index, "created"))
        else:
            previous = (contact.email, contact.external_id)
            changes = _apply(contact, item, source=source, now=now)
            refused = _update_errors(contact)
            if refused:
                results.append(UpsertResult(index, "error", errors=refused))
                result_contacts.append(None)
                continue
            for old, key_name in zip(previous, ("email", "external_id"), strict=True):
                if old and old != getattr(contact, key_name):
                    index_for[key_name].pop(old, None)
            results.append(UpsertResult(index, "updated"))
            if contact.pk:
                touched[contact.pk] = contact
        if contact.email:
            by_email[contact.email] = contact
        if contact.external_id:
            by_external[contact.external_id] = contact
        consent.extend((contact, change) for change in changes)
        result_contacts.append(contact)

    Contact.objects.bulk_create(created)
    changed = [c for pk, c in touched.items() if _snapshot(c) != before[pk]]
    for contact in changed:
        contact.updated_at = now
    _bulk_update(changed)
    _record_consent(workspace, consent, now)

    changed_ids = {c.pk for c in changed}
    for result, contact in zip(results, result_contacts, strict=True):
        if contact is not None:
            result.id = contact.pk
            if (
                result.status == "updated"
                and contact.pk in before
                and (contact.pk not in changed_ids)
            ):
                result.status = "unchanged"
    contacts_mark_changed(
        contact_ids=[c.pk for c in created] + list(changed_ids), source=mark_source(source)
    )
    return results


def _bulk_update(contacts: Sequence[Contact]) -> None:
    """One UPDATE ... FROM unnest() for every changed contact."""
    if not contacts:
        return
    columns = ", ".join(f"{name} = u.{name}" for name, _ in _WRITABLE)
    arrays = ", ".join(f"%s::{kind}[]" for _, kind in _WRITABLE)
    names = ", ".join(name for name, _ in _WRITABLE)

    params: list[list[Any]] = [[c.pk for c in contacts]]
    for name, kind in _WRITABLE:
        values = [getattr(c, name) for c in contacts]
        params.append([Jsonb(v) for v in values] if kind == "jsonb" else values)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE contacts_contact AS c SET {columns} "
            f"FROM unnest(%s::bigint[], {arrays}) AS u(id, {names}) WHERE c.id = u.id",
            params,
        )


@transaction.atomic
def consent_set(*, contact: Contact, channel: str, status: str, source: str) -> bool:
    """Set one channel's consent and record it; True if it changed."""
    field_name = "email_status" if channel == Channel.EMAIL else "sms_status"
    valid = EmailStatus.values if channel == Channel.EMAIL else SmsStatus.values
    if status not in valid:
        raise InvalidInput(f"Unknown {channel} status.", fields={field_name: [status]})
    now = timezone.now()
    changed = (
        Contact.objects.filter(pk=contact.pk)
        .exclude(**{field_name: status})
        .update(
            **{
                field_name: status,
                f"{field_name}_at": now,
                f"{field_name}_source": source,
                "updated_at": now,
            }
        )
    )
    if changed:
        ConsentChange.objects.create(
            workspace_id=contact.workspace_id,
            contact_id=contact.pk,
            channel=channel,
            status=status,
            source=source,
            created_at=now,
        )
        setattr(contact, field_name, status)
        contacts_mark_changed(contact_ids=[contact.pk], source=mark_source(source))
    return bool(changed)


@transaction.atomic
def suppression_add(*, workspace: Workspace, channel: str, value: str, reason: str) -> None:
    Suppression.objects.get_or_create(
        workspace=workspace,
        channel=channel,
        value_hash=value_hash(channel, value),
        defaults={"reason": reason},
    )


@transaction.atomic
def contact_erase(*, contact: Contact, actor: Actor) -> None:
    """Erase a contact's personal data (GDPR art. 17): the contact, its events and its
    consent history go; what remains is a hash of its email and phone on the
    suppression list, so that it is never messaged again by accident, and an audit
    entry naming only the contact's former id.

    Locks in the order every writer uses: the contact row first (an event being
    recorded for it waits, then finds it gone and creates a new contact with that
    email), then its marks (an engine step acting on it finishes first, and no later
    one acts on it), then whatever the hooks take out of derived data."""
    if not Contact.objects.select_for_update().filter(pk=contact.pk).exists():
        return  # erased meanwhile by another request
    contact_marks_discard(contact_id=contact.pk)
    reason_for: dict[str, str] = {
        EmailStatus.BOUNCED: Suppression.Reason.BOUNCED,
        EmailStatus.COMPLAINED: Suppression.Reason.COMPLAINED,
    }
    if contact.email:
        suppression_add(
            workspace=contact.workspace,
            channel=Channel.EMAIL,
            value=contact.email,
            reason=reason_for.get(EmailStatus(contact.email_status), Suppression.Reason.ERASED),
        )
    if contact.phone:
        suppression_add(
            workspace=contact.workspace,
            channel=Channel.SMS,
            value=contact.phone,
            reason=Suppression.Reason.ERASED,
        )
    contact_id = contact.pk
    for hook in ERASURE_HOOKS:
        hook(contact)
    contact.delete()
    audit_record(
        workspace=contact.workspace,
        action="contact.erased",
        actor=actor,
        object_type="contact",
        object_id=contact_id,
    )
