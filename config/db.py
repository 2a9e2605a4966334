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
