"""The lock every writer of a contact's rows takes first.

One lock order for every writer, so that none deadlocks with another: the contact row
(id order), then its marks, then its stage and moves, then derived rows (summaries,
rollups) in key order. See docs/rules.md, "Freshness and consistency"."""

from __future__ import annotations

from collections.abc import Collection

from django.db import connection


def contacts_hold(*, contact_ids: Collection[int]) -> list[int]:
    """Keep these contacts from being erased until the transaction ends (FOR KEY SHARE,
    in id order: the first lock every writer takes, so writers never deadlock); returns
    those that still exist. Edits (FOR NO KEY UPDATE) and event inserts are not held
    up. Whoever writes rows that point at a contact takes this before its other locks,
    as the foreign-key check at commit would take it last."""
    if not contact_ids:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM contacts_contact WHERE id = ANY(%s) ORDER BY id FOR KEY SHARE",
            [sorted(contact_ids)],
        )
        return [row[0] for row in cursor.fetchall()]
