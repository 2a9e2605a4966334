"""Marking contacts for re-evaluation by the lifecycle engine."""

from __future__ import annotations

from collections.abc import Collection

from django.db import connection


def contacts_mark_changed(*, contact_ids: Collection[int]) -> None:
    """Queue these contacts for the lifecycle engine (idempotent; one statement)."""
    if not contact_ids:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO contacts_contactmark (contact_id, workspace_id, marked_at)
            SELECT c.id, c.workspace_id, now() FROM contacts_contact c
            WHERE c.id = ANY(%s)
            ORDER BY c.id  -- one lock order for every writer: no deadlocks
            ON CONFLICT (contact_id) DO NOTHING
            """,
            [list(contact_ids)],
        )
