"""Event ingest: validate, resolve or create contacts, insert."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from django.db import connection
from django.utils import timezone

from config.db import bound_cursor
from contacts.event_validation import clean_event
from contacts.hooks import EVENTS_RECORDED_HOOKS, MARK_URGENCY
from contacts.services.contacts import suppressed_email_statuses
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


# Resolve each event's contact reference, insert the events whose contact exists, mark
# those contacts for the lifecycle engine, and name the events whose contact was not
# found, all in one statement. The rows travel as one JSON document (encoded in C by
# json.dumps) instead of nine typed arrays, which is several times cheaper on the
# client. References join on their own column each, so every lookup uses an index.
_INSERT_SQL = """
WITH rows AS (
    SELECT * FROM jsonb_to_recordset(%(rows)s::jsonb) AS e(
        i int, ref_id bigint, ref_email text, ref_external_id text, name text,
        properties jsonb, revenue numeric, currency text, occurred_at timestamptz,
        idempotency_key text)
), by_id AS (
    -- Each contact is key-share locked as it is found, before the statement touches
    -- a mark: the lock order every writer keeps (contact, then marks), which the
    -- events' foreign-key check at the statement's end would otherwise reverse. An
    -- erasure holding the contact makes this wait, and the contact it deleted is
    -- then not found (an email or external id is created again, as for a new one).
    SELECT e.*, c.id AS contact_id FROM rows e
    JOIN contacts_contact c ON c.workspace_id = %(ws)s AND c.id = e.ref_id
    FOR KEY SHARE OF c
), by_email AS (
    SELECT e.*, c.id AS contact_id FROM rows e
    JOIN contacts_contact c ON c.workspace_id = %(ws)s AND c.email = e.ref_email
    FOR KEY SHARE OF c
), by_external_id AS (
    SELECT e.*, c.id AS contact_id FROM rows e
    JOIN contacts_contact c ON c.workspace_id = %(ws)s AND c.external_id = e.ref_external_id
    FOR KEY SHARE OF c
), resolved AS (
    SELECT * FROM by_id UNION ALL SELECT * FROM by_email UNION ALL SELECT * FROM by_external_id
), inserted AS (
    INSERT INTO contacts_event (
        workspace_id, contact_id, name, properties, revenue, currency, occurred_at,
        received_at, idempotency_key
    )
    SELECT %(ws)s, contact_id, name, coalesce(properties, '{}'), revenue, currency,
           occurred_at, %(now)s, idempotency_key
    FROM resolved
    ON CONFLICT (workspace_id, idempotency_key) WHERE idempotency_key IS NOT NULL
    DO NOTHING
    RETURNING contact_id, occurred_at, name
), news AS MATERIALIZED (
    -- Per contact: its earliest new event, and whether any is urgent (one the rules of
    -- its stage or a live journey read: contacts.hooks.MARK_URGENCY), tested once per
    -- contact and event name.
    SELECT u.contact_id, min(u.since) AS since, bool_or({urgent}) AS urgent
    FROM (SELECT contact_id, name, min(occurred_at) AS since FROM inserted
          GROUP BY contact_id, name) u
    GROUP BY u.contact_id
), joined AS MATERIALIZED (
    -- A pending mark of the contact about an earlier moment already covers these
    -- events: the engine evaluates the contact from there (urgent news joins only an
    -- urgent mark). The share lock, held to this statement's commit, keeps a claim
    -- from taking that mark before the events are visible (a claim skips the contact,
    -- and takes it at its next turn); a mark a claim holds or is taking is skipped
    -- here, never waited for. So a busy contact has one pending mark, not one per
    -- batch.
    -- One probe of each contact's marks through contactmark_contact. The queue
    -- table's statistics are stale by nature, and with `claimed_at IS NULL` the
    -- planner read the whole queue through contactmark_pending for every contact;
    -- `claim IS NULL` says the same (the two are set and cleared together) and
    -- matches no partial index.
    SELECT j.contact_id
    FROM news i
    CROSS JOIN LATERAL (
        SELECT m.contact_id FROM contacts_contactmark m
        WHERE m.contact_id = i.contact_id AND m.workspace_id = %(ws)s
          AND m.claim IS NULL AND m.source = 'api' AND m.since <= i.since
          AND (m.urgent OR NOT i.urgent)
        LIMIT 1 FOR SHARE SKIP LOCKED
    ) j
), marked AS (
    -- Otherwise appended, never merged into a mark a claim may hold: this insert must
    -- neither wait for it nor be lost in it. `since` is the earliest event: the engine
    -- replays the contact's stages from there.
    INSERT INTO contacts_contactmark (contact_id, workspace_id, marked_at, source, since, urgent)
    SELECT contact_id, %(ws)s, now(), 'api', since, urgent FROM news
    WHERE contact_id NOT IN (SELECT contact_id FROM joined)
)
SELECT (SELECT count(*) FROM inserted),
       ARRAY(SELECT i FROM rows EXCEPT SELECT i FROM resolved)
"""


# Runs of the insert statement when PostgreSQL rolls it back as a deadlock victim.
_ATTEMPTS = 5


def events_ingest(*, workspace: Workspace, items: Sequence[Any]) -> IngestResult:
    """Record events. Each item names its contact by id, email or external_id; an
    unknown email or external_id creates the contact. Items with errors are reported
    by index and the rest are kept. An idempotency key already seen makes the item a
    duplicate: accepted, not recorded twice.

    1. Clean every item (contacts/validation.py).
    2. One statement (_INSERT_SQL) inserts every event whose contact exists and says
       which contacts were not found.
    3. Only if some were not found: create the unknown emails and external ids
       (INSERT ... ON CONFLICT DO NOTHING, so a concurrent request creating the same
       contact is harmless), and run step 2 again for those events. Unknown ids are
       errors.

    There is no surrounding transaction: each statement is atomic and safe to repeat.
    A failure after step 3 created contacts leaves them for the client's retry, which
    would create them anyway; a batch of events is never half recorded. That saves a
    BEGIN and a COMMIT round trip on every request.
    """
    now = timezone.now()
    result = IngestResult()
    valid: dict[int, dict[str, Any]] = {}
    for index, item in enumerate(items):
        cleaned, errors = clean_event(item, now=now, default_currency=workspace.currency)
        if errors:
            result.errors.append({"index": index, "fields": errors})
        else:
            valid[index] = cleaned
    if valid:
        with bound_cursor() as cursor:
            inserted, missing = _insert(cursor, workspace, valid, now)
            if missing:
                result.contacts_created = _create_contacts(
                    cursor, workspace, [valid[i]["contact"] for i in missing], now
                )
                retry = {i: valid[i] for i in missing if valid[i]["contact"][0] != "id"}
                more, still_missing = _insert(cursor, workspace, retry, now) if retry else (0, [])
                inserted += more
                for index in sorted(set(missing) - set(retry) | set(still_missing)):
                    kind, value = valid.pop(index)["contact"]
                    result.errors.append(
                        {"index": index, "fields": {"contact": [f"no contact with {kind} {value}"]}}
                    )
    if valid:
        for hook in EVENTS_RECORDED_HOOKS:  # other apps' records (catalog: unknown products)
            hook(workspace, list(valid.values()))
    result.accepted = len(valid)
    result.duplicates = len(valid) - inserted if valid else 0
    result.rejected = len(result.errors)
    result.errors.sort(key=lambda error: error["index"])
    return result


def _insert(
    cursor: Any, workspace: Workspace, events: dict[int, dict[str, Any]], now: Any
) -> tuple[int, list[int]]:
    """Run _INSERT_SQL; (events inserted, indexes whose contact was not found)."""
    rows = []
    for index, e in events.items():
        kind, value = e["contact"]
        rows.append(
            {
                "i": index,
                "ref_id": value if kind == "id" else None,
                "ref_email": value if kind == "email" else None,
                "ref_external_id": value if kind == "external_id" else None,
                "name": e["name"],
                "properties": e["properties"],
                "revenue": None if e["revenue"] is None else str(e["revenue"]),
                "currency": e["currency"],
                "occurred_at": e["occurred_at"].isoformat(),
                "idempotency_key": e["idempotency_key"],
            }
        )
    urgent, urgency_params = _urgency(workspace)
    params = {"ws": workspace.pk, "now": now, "rows": json.dumps(rows), **urgency_params}
    # Prepared: planning this statement costs more than running it for one event.
    _execute_again_on_deadlock(
        cursor, _INSERT_SQL.replace("{urgent}", urgent), params, prepare=True
    )
    inserted, missing = cursor.fetchone()
    return int(inserted), list(missing)


def _execute_again_on_deadlock(cursor: Any, sql: str, params: Any, *, prepare: bool) -> None:
    """Run one statement that is safe to repeat, again when it met another writer:
    two clients sent the same idempotency keys in different orders at once, or the
    same new contacts (a batch upsert creates its contacts in its items' order). A
    contact erased meanwhile is waited for and then not found, since the insert locks
    each contact it resolves; the foreign-key error is kept for a writer that deletes
    contacts without that lock. The statement rolled back whole; outside a
    transaction it is safe to run again."""
    for attempt in range(_ATTEMPTS):
        if attempt:
            # apart from whoever it met, so that the two do not meet again at once
            time.sleep(random.uniform(0.01, 0.05) * attempt)
        try:
            cursor.execute(sql, params, prepare=prepare)
            return
        except (psycopg.errors.DeadlockDetected, psycopg.errors.ForeignKeyViolation):
            if attempt == _ATTEMPTS - 1 or connection.in_atomic_block:
                raise


def _urgency(workspace: Workspace) -> tuple[str, dict[str, Any]]:
    """The condition that makes an inserted event `u` urgent, from the later apps'
    providers (contacts.hooks.MARK_URGENCY), and its parameters."""
    conditions, params = [], {}
    for provider in MARK_URGENCY:
        given = provider(workspace)
        if given is not None:
            conditions.append(f"({given[0]})")
            params.update(given[1])
    return " OR ".join(conditions) or "false", params


def _create_contacts(
    cursor: Any, workspace: Workspace, refs: list[tuple[str, Any]], now: Any
) -> int:
    """Create contacts for unknown emails and external ids; returns how many."""
    created = 0
    for kind in ("email", "external_id"):
        values = sorted({value for ref_kind, value in refs if ref_kind == kind})
        if not values:
            continue
        email_status: list[str | None] = [None] * len(values)
        if kind == "email":
            suppressed = suppressed_email_statuses(workspace, values)
            email_status = [suppressed.get(v) for v in values]
        _execute_again_on_deadlock(
            cursor,
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
            prepare=False,
        )
        created += int(cursor.rowcount)
    return created
