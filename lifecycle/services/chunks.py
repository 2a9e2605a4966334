"""The id ranges a workspace is evaluated in: sweep chunks (sweeps.py), and the ranges a
dense due set is evaluated by (due.py)."""

from __future__ import annotations

from django.db import connection

from workspaces.models import Workspace

CHUNK_CONTACTS = 50_000


def sweep_chunks(*, workspace: Workspace, size: int = CHUNK_CONTACTS) -> list[tuple[int, int]]:
    """Id ranges of about `size` contacts each, covering the whole workspace (and any
    contact created while the sweep runs, by leaving the last range open)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT min(id), max(id) FROM (
                SELECT id, (row_number() OVER (ORDER BY id) - 1) / %s AS chunk
                FROM contacts_contact WHERE workspace_id = %s
            ) numbered GROUP BY chunk ORDER BY chunk
            """,
            [size, workspace.pk],
        )
        ranges = [(int(low), int(high)) for low, high in cursor.fetchall()]
    if ranges:
        ranges[-1] = (ranges[-1][0], 2**63 - 1)
    return ranges
