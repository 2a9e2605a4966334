"""Reading a workspace's interactions out of PostgreSQL and writing ranked lists back,
both through COPY: at 10M interactions a row-by-row cursor would dominate the compute."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import numpy as np
from psycopg import sql

from catalog.services.recommendations.model import Interactions

# Each purchase's line items (well-formed ones) and each product view, joined to the
# catalogue on (workspace, product_id); unknown products are left out.
_INTERACTIONS = """
SELECT e.contact_id, p.id, true, extract(epoch FROM e.occurred_at)::int8
FROM contacts_event e
CROSS JOIN LATERAL jsonb_array_elements(
    CASE WHEN jsonb_typeof(e.properties -> 'items') = 'array'
         THEN e.properties -> 'items' ELSE '[]'::jsonb END
) AS item
JOIN catalog_product p
  ON p.workspace_id = e.workspace_id AND p.product_id = btrim(item ->> 'product_id')
WHERE e.workspace_id = {ws} AND e.name = 'purchase'
  AND e.occurred_at >= {since} AND e.occurred_at < {now} AND jsonb_typeof(item) = 'object'
UNION ALL
SELECT e.contact_id, p.id, false, extract(epoch FROM e.occurred_at)::int8
FROM contacts_event e
JOIN catalog_product p
  ON p.workspace_id = e.workspace_id AND p.product_id = btrim(e.properties ->> 'product_id')
WHERE e.workspace_id = {ws} AND e.name = 'product_viewed'
  AND e.occurred_at >= {since} AND e.occurred_at < {now}
"""
# COPY's binary rows of (int8, int8, bool, int8): a field count, then length + value.
_ROW = np.dtype(
    [
        ("fields", ">i2"),
        ("l1", ">i4"),
        ("contact", ">i8"),
        ("l2", ">i4"),
        ("product", ">i8"),
        ("l3", ">i4"),
        ("bought", "u1"),
        ("l4", ">i4"),
        ("at", ">i8"),
    ]
)
_HEADER = 19  # signature, flags, extension length
_BATCH = 32 * 1024 * 1024


def interactions_read(
    cursor: Any, *, workspace_id: int, since: dt.datetime, now: dt.datetime
) -> Interactions:
    query = sql.SQL("COPY (" + _INTERACTIONS + ") TO STDOUT (FORMAT BINARY)").format(
        ws=sql.Literal(workspace_id), since=sql.Literal(since), now=sql.Literal(now)
    )
    parts: list[np.ndarray] = []
    buffer = bytearray()
    header_done = False

    def drain() -> None:
        nonlocal buffer
        rows = len(buffer) // _ROW.itemsize
        if rows:
            chunk = np.frombuffer(bytes(buffer[: rows * _ROW.itemsize]), dtype=_ROW)
            parts.append(chunk[["contact", "product", "bought", "at"]].copy())
            del buffer[: rows * _ROW.itemsize]

    with cursor.cursor.copy(query) as copy:
        for data in copy:
            buffer.extend(data)
            if not header_done and len(buffer) >= _HEADER:
                del buffer[:_HEADER]
                header_done = True
            if header_done and len(buffer) > _BATCH:
                drain()
    if header_done:
        del buffer[-2:]  # the trailer: a field count of -1
        drain()
    if not parts:
        empty = np.zeros(0, np.int64)
        return Interactions(empty, empty, np.zeros(0, bool), empty)
    contacts = np.concatenate([p["contact"].astype(np.int64) for p in parts])
    products = np.concatenate([p["product"].astype(np.int64) for p in parts])
    bought = np.concatenate([p["bought"].astype(bool) for p in parts])
    at = np.concatenate([p["at"].astype(np.int64) for p in parts])
    return Interactions(contacts, products, bought, at)


def lists_write(
    cursor: Any,
    *,
    table: str,
    columns: tuple[str, ...],
    keys: Iterable[tuple[Any, ...]],
    rows: np.ndarray,
    items: np.ndarray,
    values: np.ndarray,
    integer_values: bool = False,
) -> int:
    """COPY one row per distinct `rows` entry: the key columns (from `keys`, in the
    order of the distinct rows), then `items` and `values` as arrays in the given order
    (entries of one row must be contiguous). Returns the rows written."""
    if len(rows) == 0:
        return 0
    starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
    ends = np.r_[starts[1:], len(rows)]
    item_text = items.astype(str)
    value_text = (
        values.astype(np.int64).astype(str)
        if integer_values
        else np.round(values.astype(np.float64), 4).astype(str)
    )
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    )
    written = 0
    with cursor.cursor.copy(statement) as copy:
        lines: list[str] = []
        for key, start, end in zip(keys, starts, ends, strict=True):
            fields = [str(k) for k in key]
            fields.append("{" + ",".join(item_text[start:end]) + "}")
            fields.append("{" + ",".join(value_text[start:end]) + "}")
            lines.append("\t".join(fields))
            if len(lines) >= 10_000:
                copy.write("\n".join(lines) + "\n")
                written += len(lines)
                lines = []
        if lines:
            copy.write("\n".join(lines) + "\n")
            written += len(lines)
    return written
