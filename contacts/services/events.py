"""Event ingest: validate, resolve or create contacts, insert, in one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from psycopg.types.json import Jsonb

from contacts.services.contacts import suppressed_email_statuses
from contacts.services.marks import contacts_mark_changed
from contacts.validation import Errors, clean_event
from workspaces.models import Workspace


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    contacts_created: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "contacts_created": self.contacts_created,
            "errors": self.errors,
        }


def events_ingest(*, workspace: Workspace, items: Sequence[Any]) -> IngestResult:
    """Record events. Each item names its contact by id, email or external_id; an
    unknown email or external_id creates the contact. Items with errors are reported
    by index and the rest are kept. An idempotency key already seen makes the item a
    duplicate: accepted, not recorded twice.

    1. Clean every item (contacts/validation.py).
    2. Resolve contact references with one query per kind of reference; create the
       missing ones with INSERT ... ON CONFLICT DO NOTHING, then read back the ones a
       concurrent request created first.
    3. Insert the events with one INSERT ... SELECT FROM unnest(), skipping idempotency
       keys already present.
    4. Mark the contacts for the lifecycle engine.
    """
    now = timezone.now()
    result = IngestResult()
    valid: list[tuple[int, dict[str, Any]]] = []
    for index, item in enumerate(items):
        cleaned, errors = clean_event(item, now=now, default_currency=workspace.currency)
        if errors:
            result.errors.append({"index": index, "fields": errors})
        else:
            valid.append((index, cleaned))
    with transaction.atomic():
        contact_ids, created, ref_errors = _resolve_contacts(workspace, valid, now)
        result.contacts_created = created
        for index, errors in ref_errors.items():
            result.errors.append({"index": index, "fields": errors})
        rows = [(i, e) for i, e in valid if i not in ref_errors]
        inserted = _insert_events(workspace, rows, contact_ids, now)
        result.accepted = len(rows)
        result.duplicates = len(rows) - inserted
        contacts_mark_changed(contact_ids={contact_ids[e["contact"]] for _, e in rows})
    result.rejected = len(result.errors)
    result.errors.sort(key=lambda error: error["index"])
    return result


def _resolve_contacts(
    workspace: Workspace, items: list[tuple[int, dict[str, Any]]], now: Any
) -> tuple[dict[tuple[str, Any], int], int, dict[int, Errors]]:
    wanted: dict[str, set[Any]] = {"id": set(), "email": set(), "external_id": set()}
    for _, event in items:
        kind, value = event["contact"]
        wanted[kind].add(value)
    found: dict[tuple[str, Any], int] = {}
    created = 0
    with connection.cursor() as cursor:
        for kind, values in wanted.items():
            if not values:
                continue
            cursor.execute(
                f"SELECT {kind}, id FROM contacts_contact "
                f"WHERE workspace_id = %s AND {kind} = ANY(%s)",
                [workspace.pk, list(values)],
            )
            found.update(((kind, value), contact_id) for value, contact_id in cursor.fetchall())
        for kind in ("email", "external_id"):
            missing = sorted(v for v in wanted[kind] if (kind, v) not in found)
            if not missing:
                continue
            created += _create_contacts(cursor, workspace, kind, missing, now)
            cursor.execute(
                f"SELECT {kind}, id FROM contacts_contact "
                f"WHERE workspace_id = %s AND {kind} = ANY(%s)",
                [workspace.pk, missing],
            )
            found.update(((kind, value), contact_id) for value, contact_id in cursor.fetchall())
    errors: dict[int, Errors] = {}
    for index, event in items:
        if event["contact"] not in found:
            kind, value = event["contact"]
            errors[index] = {"contact": [f"no contact with {kind} {value}"]}
    return found, created, errors


def _create_contacts(
    cursor: Any, workspace: Workspace, kind: str, values: list[str], now: Any
) -> int:
    email_status: list[str | None] = [None] * len(values)
    if kind == "email":
        suppressed = suppressed_email_statuses(workspace, values)
        email_status = [suppressed.get(v) for v in values]
    cursor.execute(
        f"""
        INSERT INTO contacts_contact (
            workspace_id, {kind}, first_name, last_name, time_zone, locale, attributes,
            email_status, email_status_at, email_status_source,
            sms_status, sms_status_at, sms_status_source, created_at, updated_at
        )
        SELECT %s, v.value, '', '', '', '', '{{}}'::jsonb,
               coalesce(v.status, 'subscribed'), %s,
               CASE WHEN v.status IS NULL THEN 'event' ELSE 'suppression_list' END,
               'never_subscribed', %s, 'event', %s, %s
        FROM unnest(%s::text[], %s::text[]) AS v(value, status)
        ON CONFLICT DO NOTHING
        """,
        [workspace.pk, now, now, now, now, values, email_status],
    )
    return int(cursor.rowcount)


def _insert_events(
    workspace: Workspace,
    rows: list[tuple[int, dict[str, Any]]],
    contact_ids: dict[tuple[str, Any], int],
    now: Any,
) -> int:
    if not rows:
        return 0
    events = [event for _, event in rows]
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO contacts_event (
                workspace_id, contact_id, name, properties, revenue, currency,
                occurred_at, received_at, idempotency_key
            )
            SELECT %s, e.contact_id, e.name, e.properties, e.revenue, e.currency,
                   e.occurred_at, %s, e.idempotency_key
            FROM unnest(%s::bigint[], %s::text[], %s::jsonb[], %s::numeric[], %s::text[],
                        %s::timestamptz[], %s::text[])
                 AS e(contact_id, name, properties, revenue, currency, occurred_at,
                      idempotency_key)
            ON CONFLICT (workspace_id, idempotency_key) WHERE idempotency_key IS NOT NULL
            DO NOTHING
            """,
            [
                workspace.pk,
                now,
                [contact_ids[e["contact"]] for e in events],
                [e["name"] for e in events],
                [Jsonb(e["properties"]) for e in events],
                [e["revenue"] for e in events],
                [e["currency"] for e in events],
                [e["occurred_at"] for e in events],
                [e["idempotency_key"] for e in events],
            ],
        )
        return int(cursor.rowcount)
