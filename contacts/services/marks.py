"""Marking contacts for re-evaluation by the lifecycle engine, and claiming marks."""

from __future__ import annotations

from collections.abc import Collection

from django.db import connection

MARK_SOURCES = ("api", "import", "rule")


def contacts_mark_changed(*, contact_ids: Collection[int], source: str = "rule") -> None:
    """Queue these contacts for the lifecycle engine (idempotent; one statement).
    `source` says what changed them: "api", "import" or "rule" (anything else)."""
    if not contact_ids:
        return
    assert source in MARK_SOURCES, source
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO contacts_contactmark (contact_id, workspace_id, marked_at, source)
            SELECT c.id, c.workspace_id, now(), %s FROM contacts_contact c
            WHERE c.id = ANY(%s)
            ORDER BY c.id  -- one lock order for every writer: no deadlocks
            ON CONFLICT (contact_id) DO NOTHING
            """,
            [source, list(contact_ids)],
        )


def contact_marks_claim(*, limit: int) -> list[tuple[int, int, str]]:
    """Take up to `limit` of the oldest marks: [(contact_id, workspace_id, source)].

    Call inside the transaction that acts on them: the marks are deleted by it, so a
    worker that dies before committing gives them back, and concurrent workers skip
    each other's (SKIP LOCKED). A contact marked again while being evaluated gets a
    new mark once this transaction commits, so no change is missed."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            DELETE FROM contacts_contactmark m
            WHERE m.contact_id IN (
                SELECT contact_id FROM contacts_contactmark
                ORDER BY marked_at
                LIMIT %s
                FOR UPDATE SKIP LOCKED
            )
            RETURNING m.contact_id, m.workspace_id, m.source
            """,
            [limit],
        )
        return [(row[0], row[1], row[2]) for row in cursor.fetchall()]
