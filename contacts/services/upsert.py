"""Batch upserts: up to 1,000 contacts matched by external id or email, created,
updated or refused one by one, written with one statement per kind."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from psycopg.types.json import Jsonb

from contacts.hooks import contact_extras_apply
from contacts.models import (
    Contact,
)
from contacts.services.contacts import (
    COMPARED,
    WRITABLE,
    apply_changes,
    mark_source,
    new_contact,
    record_consent,
    signup_since,
    snapshot,
    suppressed_email_statuses,
)
from contacts.services.marks import contacts_mark_changed, contacts_mark_changed_since
from contacts.validation import IDENTIFIERS, Errors, merged_attributes_errors
from workspaces.models import Workspace


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
    extras: Sequence[dict[str, Any]] | None = None,
    _attempt: int = 0,
) -> list[UpsertResult]:
    """Create or update many contacts (cleaned data) in one transaction, matching each
    by `match_on` or, when not given, by external_id if present else email. `extras`
    (one per item, cleaned by contact_extras_clean) are applied to the contacts the
    items create, in this transaction, once they are saved (an update ignores them).

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
            return _contacts_upsert(workspace, items, source, match_on, extras)
    except IntegrityError:
        if _attempt >= 3:
            raise
        return contacts_upsert(
            workspace=workspace,
            items=items,
            source=source,
            match_on=match_on,
            extras=extras,
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
    workspace: Workspace,
    items: Sequence[dict[str, Any]],
    source: str,
    match_on: str | None,
    extras: Sequence[dict[str, Any]] | None,
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
    before = {c.pk: snapshot(c) for c in existing}
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
            contact, changes = new_contact(
                workspace, item, source=source, now=now, suppressed=suppressed
            )
            created.append(contact)
            results.append(UpsertResult(index, "created"))
        else:
            previous = (contact.email, contact.external_id)
            changes = apply_changes(contact, item, source=source, now=now)
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

    # In the order of their identifiers, as events create contacts (events.py): two
    # writers inserting the same new contacts in opposite orders would deadlock.
    created.sort(key=lambda c: (c.email or "", c.external_id or ""))
    Contact.objects.bulk_create(created)
    changed = [c for pk, c in touched.items() if snapshot(c) != before[pk]]
    for contact in changed:
        contact.updated_at = now
    _bulk_update(changed)
    record_consent(workspace, consent, now)

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
    _mark(created, changed, before, now, mark_source(source))
    _extras_apply(results, result_contacts, extras)
    return results


def _extras_apply(
    results: Sequence[UpsertResult],
    contacts: Sequence[Contact | None],
    extras: Sequence[dict[str, Any]] | None,
) -> None:
    """The later apps' fields of the items that created their contact (now saved)."""
    for result, contact, item_extras in zip(
        results, contacts, extras or [{}] * len(results), strict=True
    ):
        if result.status == "created" and contact is not None and item_extras:
            contact_extras_apply(contact, item_extras)


_SIGNUP = COMPARED.index("signed_up_at")


def _mark(
    created: Sequence[Contact],
    changed: Sequence[Contact],
    before: dict[int, tuple],
    now: Any,
    source: str,
) -> None:
    """Mark the written contacts; those whose signup moved into the past carry it as
    `since`, so the engine replays their history from there."""
    since = {c.pk: signup_since(now, c.signed_up_at) for c in created}
    since.update({c.pk: signup_since(before[c.pk][_SIGNUP], c.signed_up_at) for c in changed})
    dated = {pk: moment for pk, moment in since.items() if moment is not None}
    contacts_mark_changed(
        contact_ids=[pk for pk, moment in since.items() if moment is None], source=source
    )
    contacts_mark_changed_since(since_by_contact=dated, source=source)


def _bulk_update(contacts: Sequence[Contact]) -> None:
    """One UPDATE ... FROM unnest() for every changed contact."""
    if not contacts:
        return
    columns = ", ".join(f"{name} = u.{name}" for name, _ in WRITABLE)
    arrays = ", ".join(f"%s::{kind}[]" for _, kind in WRITABLE)
    names = ", ".join(name for name, _ in WRITABLE)

    params: list[list[Any]] = [[c.pk for c in contacts]]
    for name, kind in WRITABLE:
        values = [getattr(c, name) for c in contacts]
        params.append([Jsonb(v) for v in values] if kind == "jsonb" else values)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE contacts_contact AS c SET {columns} "
            f"FROM unnest(%s::bigint[], {arrays}) AS u(id, {names}) WHERE c.id = u.id",
            params,
        )
