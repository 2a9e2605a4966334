"""A rebuild's write of a big per-row rollup: only the rows that differ.

The nightly rebuild recomputes rows that are, when the incremental paths have done
their work, the rows already stored. Deleting and inserting them all again cost most
of a rebuild at 1M contacts (2.5M stays: 81 s, of which 72 s maintaining the stay
indexes) and left as many dead rows for vacuum. Instead the fresh rows go into a
temporary table (no WAL, no index), and the stored rows are compared with them by key:
a row that differs or is no longer wanted is deleted, a fresh row without its
identical stored row is inserted; rows that agree are not touched.

A workspace with no stored rows (the first rebuild) takes its rows straight from the
statement: nothing to compare, and the temporary table would only add its cost.

The sums (counts per day and group, no row of their own to key) are many fewer rows,
but each is in several wide indexes: writing the stay counts by group again cost 20 s
of a 28 s recompute at 1M contacts. `sums_replace` compares all of a workspace's
fresh sums with the stored ones as sets and writes them again, whole, only when the
two differ (after a quiet night they do not)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from config.db import local_settings

logger = logging.getLogger(__name__)

# In the session's own schema: a DROP never reaches a table of that name elsewhere.
_FRESH = "pg_temp.rollup_fresh"
# For the one statement that compares stored sums with fresh ones.
_COMPARE_WORK_MEM = "256MB"


def rows_replace(
    cursor: Any,
    *,
    table: str,
    columns: Sequence[str],
    key: Sequence[str],
    select: str,
    params: Sequence[Any] | dict[str, Any],
    workspace_id: int,
) -> tuple[int, int]:
    """Make the workspace's rows of `table` (its `columns`) what `select` gives, the
    rows identified by `key` (unique in the workspace); `select` yields `columns` in
    that order, all of this workspace. Returns (rows deleted, rows inserted), logged:
    after a quiet night both are 0. Run in the rebuild's transaction: a failure rolls
    the temporary table back with it."""
    names = ", ".join(columns)
    cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {table} WHERE workspace_id = %s)", [workspace_id])
    if not cursor.fetchone()[0]:
        cursor.execute(f"INSERT INTO {table} ({names}) {select}", params)
        return 0, int(cursor.rowcount)
    cursor.execute(f"DROP TABLE IF EXISTS {_FRESH}")
    cursor.execute(
        f"CREATE TEMPORARY TABLE {_FRESH} AS SELECT * FROM ({select}) AS f({names})",
        params,
    )
    cursor.execute(f"ANALYZE {_FRESH}")
    # With the workspace: every join between tenant tables keeps it (docs/scaling.md).
    same_key = " AND ".join(f"f.{c} = t.{c}" for c in ("workspace_id", *key))
    same_values = "".join(
        f" AND f.{c} IS NOT DISTINCT FROM t.{c}"
        for c in columns
        if c not in key and c != "workspace_id"
    )
    cursor.execute(
        f"DELETE FROM {table} t WHERE t.workspace_id = %s AND NOT EXISTS "
        f"(SELECT 1 FROM {_FRESH} f WHERE {same_key}{same_values})",
        [workspace_id],
    )
    deleted = int(cursor.rowcount)
    # What is left of the stored rows agrees with its fresh row: insert the others.
    cursor.execute(
        f"INSERT INTO {table} ({names}) SELECT {names} FROM {_FRESH} f WHERE NOT EXISTS "
        f"(SELECT 1 FROM {table} t WHERE t.workspace_id = %s AND {same_key})",
        [workspace_id],
    )
    inserted = int(cursor.rowcount)
    cursor.execute(f"DROP TABLE {_FRESH}")
    logger.info(
        "analytics.rollup_rows_replaced workspace=%s table=%s deleted=%s inserted=%s",
        *(workspace_id, table, deleted, inserted),
    )
    return deleted, inserted


def sums_replace(
    cursor: Any,
    *,
    table: str,
    columns: Sequence[str],
    select: str,
    params: Sequence[Any] | dict[str, Any],
    workspace_id: int,
    counted: str = "true",
) -> bool:
    """Make the workspace's rows of `table` (its `columns`) what `select` gives, as
    rows_replace does, for a table of sums: the stored rows are compared with the
    fresh ones as a multiset (NULL equal to NULL, as the sums' unique keys have it),
    and written again whole, in key order, only when they differ. `counted` is a
    condition on the stored rows the select would give (rows whose counts increments
    took down to zero are kept, and not compared). Returns whether the rows were
    written."""
    names = ", ".join(columns)
    cursor.execute(f"DROP TABLE IF EXISTS {_FRESH}")
    # Not ordered here: an ORDER BY around the select can change its plan (the active
    # days by group took twice as long, grouped by sorting ten million events).
    cursor.execute(
        f"CREATE TEMPORARY TABLE {_FRESH} AS SELECT * FROM ({select}) AS f({names})", params
    )
    cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {table} WHERE workspace_id = %s)", [workspace_id])
    differ = not cursor.fetchone()[0] or not _same(cursor, table, names, counted, workspace_id)
    if differ:
        cursor.execute(f"DELETE FROM {table} WHERE workspace_id = %s", [workspace_id])
        ordered = f"SELECT {names} FROM {_FRESH} ORDER BY {names}"
        cursor.execute(f"INSERT INTO {table} ({names}) {ordered}")
    cursor.execute(f"DROP TABLE {_FRESH}")
    logger.info(
        "analytics.rollup_sums_replaced workspace=%s table=%s written=%s",
        *(workspace_id, table, differ),
    )
    return differ


def _same(cursor: Any, table: str, names: str, counted: str, workspace_id: int) -> bool:
    """Whether the stored sums are the fresh ones: as many rows, and none of the fresh
    without its stored equal (the same multiset). Hashed in memory: sorted on disk, the
    compare took 4x as long at 1M contacts."""
    stored = f"SELECT {names} FROM {table} WHERE workspace_id = %s AND {counted}"
    with local_settings(cursor, work_mem=_COMPARE_WORK_MEM):
        cursor.execute(
            f"SELECT (SELECT count(*) FROM {_FRESH}) = (SELECT count(*) FROM ({stored}) s) "
            f"AND NOT EXISTS (SELECT {names} FROM {_FRESH} EXCEPT ALL {stored})",
            [workspace_id, workspace_id],
        )
        return bool(cursor.fetchone()[0])
