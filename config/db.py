"""Database helpers shared by the apps."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import psycopg
from django.conf import settings
from django.db import connection, connections, transaction

logger = logging.getLogger(__name__)


@contextmanager
def local_settings(cursor: Any, **values: str) -> Iterator[None]:
    """PostgreSQL settings (planner costs, work_mem) for the statements inside, put
    back after them: SET LOCAL would outlive them to the end of a caller's transaction.
    For use inside `transaction.atomic()`: an error leaves the block, whose rollback
    (of the transaction or its savepoint) puts them back."""
    names = list(values)
    cursor.execute(f"SELECT {', '.join('current_setting(%s)' for _ in names)}", names)
    before = dict(zip(names, cursor.fetchone(), strict=True))
    _set_local(cursor, values)
    yield
    _set_local(cursor, before)


def _set_local(cursor: Any, values: Mapping[str, str]) -> None:
    pairs = [v for item in values.items() for v in item]
    cursor.execute(f"SELECT {', '.join('set_config(%s, %s, true)' for _ in values)}", pairs)


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


def workspaces_with(
    *, table: str, where: str, ready: str = "", params: Mapping[str, Any] | None = None
) -> list[int]:
    """The workspaces that have rows of `table` matching `where` (a condition on its
    columns) and, when given, `ready` too (a further condition that may use `params`,
    e.g. `due_at <= %(now)s`), so that queues are claimed one workspace at a time
    without a scan across tenants (DESIGN.md). `table`, `where` and `ready` are code,
    never input.

    On one PostgreSQL server: one probe of an index led by workspace_id per workspace
    with `where` rows (a skip scan), then one probe each for `ready`. On Citus
    (DATABASE_CITUS) a recursive CTE runs only inside one shard, so the same question
    is a `SELECT DISTINCT workspace_id`, which Citus pushes down to every shard (the
    grouping is on the distribution column) and each shard answers from its own index
    in parallel."""
    with connection.cursor() as cursor:
        cursor.execute(workspaces_with_sql(table=table, where=where, ready=ready), params)
        return [int(row[0]) for row in cursor.fetchall()]


def workspaces_with_sql(*, table: str, where: str, ready: str = "") -> str:
    """The statement `workspaces_with` runs, for this deployment's database."""
    if settings.DATABASE_CITUS:
        condition = f"({where}) AND ({ready})" if ready else where
        return f"SELECT DISTINCT workspace_id FROM {table} WHERE {condition}"
    check = (
        f"""AND EXISTS (SELECT 1 FROM {table} r
                         WHERE r.workspace_id = w.id AND ({where}) AND ({ready}))"""
        if ready
        else ""
    )
    return f"""
        WITH RECURSIVE w(id) AS (
            (SELECT workspace_id FROM {table} WHERE {where}
             ORDER BY workspace_id LIMIT 1)
            UNION ALL
            SELECT (SELECT q.workspace_id FROM {table} q
                    WHERE ({where}) AND q.workspace_id > w.id
                    ORDER BY q.workspace_id LIMIT 1)
            FROM w WHERE w.id IS NOT NULL
        )
        SELECT id FROM w WHERE id IS NOT NULL {check}
        """


class _CallerFailed(Exception):
    """The caller's work failed: `alongside`'s transaction rolls back too."""


@contextmanager
def alongside(work: Callable[[], object], *, inline: bool) -> Iterator[None]:
    """Run `work` while the body runs, in a thread with its own connection and
    transaction, so PostgreSQL works on both at once. The thread's transaction stays
    open until the body ends: it commits when the body succeeded (before the body's
    caller goes on, so what comes after sees its rows) and rolls back when the body
    raised; the body's end waits for it, and the thread's error is raised then. With
    `inline` (the caller was already in a transaction when it began, as in tests:
    another connection would not see its uncommitted rows) `work` runs first, on this
    connection."""
    if inline:
        work()
        yield
        return
    failed: list[BaseException] = []
    body_ended = threading.Event()
    body_ok = threading.Event()

    def run() -> None:
        try:
            with transaction.atomic():
                work()
                body_ended.wait()
                if not body_ok.is_set():
                    raise _CallerFailed
        except _CallerFailed:
            pass
        except BaseException as error:  # raised in the caller's thread below
            failed.append(error)
        finally:
            connections.close_all()  # this thread's connection

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
        body_ok.set()
    finally:
        body_ended.set()
        interrupted: BaseException | None = None
        while thread.is_alive():  # never leave it writing unwatched
            try:
                thread.join()
            except BaseException as error:  # e.g. KeyboardInterrupt: raised once it ends
                interrupted = error
        if failed and not body_ok.is_set():  # the body's own error is the one raised
            logger.error("config.alongside_failed: %r", failed[0])
        if interrupted is not None:
            raise interrupted
    if failed:
        raise failed[0]
