"""Database helpers shared by the apps."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from django.db import connection


@contextmanager
def bound_cursor() -> Iterator[psycopg.Cursor]:
    """A psycopg cursor on Django's connection (so inside its transactions) that sends
    parameters separately from the SQL. Django's own cursors interpolate parameters
    into the SQL text on the client; for the ingest statements, run thousands of times
    a second with 1000-element arrays, server-side binding costs a fraction of that
    and lets psycopg prepare a statement it has run a few times."""
    connection.ensure_connection()
    raw = connection.connection
    assert raw is not None
    with psycopg.Cursor(raw) as cursor:
        yield cursor


def workspaces_with(*, table: str, where: str) -> list[int]:
    """The workspaces that have rows of `table` matching `where` (a condition on its
    columns, no parameters): one probe of an index led by workspace_id per workspace
    found (a skip scan), so queues are claimed one workspace at a time without a scan
    across tenants (DESIGN.md). `table` and `where` are code, never input."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH RECURSIVE w(id) AS (
                (SELECT workspace_id FROM {table} WHERE {where}
                 ORDER BY workspace_id LIMIT 1)
                UNION ALL
                SELECT (SELECT q.workspace_id FROM {table} q
                        WHERE ({where}) AND q.workspace_id > w.id
                        ORDER BY q.workspace_id LIMIT 1)
                FROM w WHERE w.id IS NOT NULL
            )
            SELECT id FROM w WHERE id IS NOT NULL
            """
        )
        return [row[0] for row in cursor.fetchall()]
