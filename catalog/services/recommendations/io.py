"""Reading a workspace's interactions out of PostgreSQL and writing ranked lists back,
both through COPY: at 10M interactions a row-by-row cursor would dominate the compute."""

from __future__ import annotations

import datetime as dt
import struct
from collections.abc import Iterable, Iterator
from queue import Queue
from typing import Any, NamedTuple

import numpy as np
from psycopg import sql
from psycopg.copy import QueuedLibpqWriter

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


# Binary COPY: the signature with no flags and no extension; the end of the data.
_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_TRAILER = struct.pack(">h", -1)
_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
_INT8, _FLOAT8 = 20, 701  # the element types' oids
# A one-dimensional array without nulls: its field length, then ndim, has-null, element
# type, length, lower bound; each element then is a length (8) and the value.
_ARRAY = struct.Struct(">iiiiii")
_KEY = struct.Struct(">iq")
_FLUSH = 8 * 1024 * 1024


def _field(value: Any) -> bytes:
    """One value of a key column, in COPY's binary form (bigint, text, timestamptz)."""
    if isinstance(value, dt.datetime):
        delta = value - _EPOCH
        data = struct.pack(">q", (delta.days * 86_400 + delta.seconds) * 10**6 + delta.microseconds)
    elif isinstance(value, str):
        data = value.encode()
    elif isinstance(value, int) and not isinstance(value, bool):
        data = struct.pack(">q", value)
    else:
        raise TypeError(f"no binary form for {value!r}")
    return struct.pack(">i", len(data)) + data


def _elements(values: np.ndarray, code: str) -> bytes:
    records = np.empty(len(values), dtype=[("size", ">i4"), ("value", code)])
    records["size"] = 8
    records["value"] = values
    return records.tobytes()


class Lists(NamedTuple):
    """Ranked lists to write: entry i is `items[i]` with `values[i]` in the list of
    `rows[i]` (a row's entries contiguous, best first); `key_ids` holds each distinct
    row's key, in order (None: one list, no key column)."""

    key_ids: np.ndarray | None
    rows: np.ndarray
    items: np.ndarray
    values: np.ndarray


class _QueuedWriter(QueuedLibpqWriter):
    """psycopg's writer whose thread sends while the caller computes the next batch,
    with a short queue so that a slow server bounds the memory held."""

    def __init__(self, cursor: Any) -> None:
        super().__init__(cursor)
        self._queue = Queue(maxsize=4)  # type: ignore[assignment]  # the same Queue class


def _encoded(head: bytes, batch: Lists, integer_values: bool) -> Iterator[bytes]:
    """The batch's rows in COPY's binary form, in pieces of about _FLUSH bytes."""
    rows = batch.rows
    if len(rows) == 0:
        return
    starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
    ends = np.r_[starts[1:], len(rows)]
    item_bytes = memoryview(_elements(batch.items, ">i8"))
    value_type = _INT8 if integer_values else _FLOAT8
    value_bytes = memoryview(_elements(batch.values, ">i8" if integer_values else ">f8"))
    ids = batch.key_ids.tolist() if batch.key_ids is not None else [None] * len(starts)
    pack_key, pack_array = _KEY.pack, _ARRAY.pack
    parts: list[bytes | memoryview] = []
    size = 0
    for key_id, start, end in zip(ids, starts.tolist(), ends.tolist(), strict=True):
        length = end - start
        parts.append(head)
        if key_id is not None:
            parts.append(pack_key(8, key_id))
        parts.append(pack_array(20 + 12 * length, 1, 0, _INT8, length, 1))
        parts.append(item_bytes[start * 12 : end * 12])
        parts.append(pack_array(20 + 12 * length, 1, 0, value_type, length, 1))
        parts.append(value_bytes[start * 12 : end * 12])
        size += 60 + 24 * length
        if size > _FLUSH:
            yield b"".join(parts)
            parts, size = [], 0
    if parts:
        yield b"".join(parts)


def lists_write(
    cursor: Any,
    *,
    table: str,
    fixed: dict[str, Any],
    key: str | None,
    batches: Iterable[Lists],
    values_column: str = "scores",
    integer_values: bool = False,
) -> int:
    """COPY (binary, one statement for every batch) one row per list: the `fixed`
    columns' values (the same in every row), the `key` column (none when `key` is
    None), then `items` (bigint[]) and the values (`values_column`, float8[] or
    bigint[]). A thread sends each piece while the batches' iterator computes the next
    (the server ingests while numpy works). Returns the rows written."""
    columns = [*fixed, *([key] if key else []), "items", values_column]
    head = struct.pack(">h", len(columns)) + b"".join(_field(v) for v in fixed.values())
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
        sql.Identifier(table), sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    )
    written = 0
    with cursor.cursor.copy(statement, writer=_QueuedWriter(cursor.cursor)) as copy:
        copy.write(_SIGNATURE)
        for batch in batches:
            for piece in _encoded(head, batch, integer_values):
                copy.write(piece)
            written += int(np.count_nonzero(np.diff(batch.rows))) + (len(batch.rows) > 0)
        copy.write(_TRAILER)
    return written


_CODES = {"int8": ">i8", "int4": ">i4", "float8": ">f8"}


def records_write(
    cursor: Any, *, table: str, fixed: dict[str, Any], columns: dict[str, tuple[str, np.ndarray]]
) -> int:
    """COPY (binary) one row per entry of the parallel `columns` (name: (type, values),
    type one of int8, int4, float8) after the `fixed` columns' values: every row the
    same width, so the whole stream is one numpy record array. Returns the rows."""
    count = len(next(iter(columns.values()))[1])
    if count == 0:
        return 0
    head = np.frombuffer(
        struct.pack(">h", len(fixed) + len(columns)) + b"".join(_field(v) for v in fixed.values()),
        np.uint8,
    )
    layout: list[Any] = [("head", np.uint8, len(head))]
    for name, (kind, _values) in columns.items():
        layout += [(f"{name}_size", ">i4"), (name, _CODES[kind])]
    records = np.empty(count, dtype=layout)
    records["head"] = head
    for name, (kind, values) in columns.items():
        records[f"{name}_size"] = np.dtype(_CODES[kind]).itemsize
        records[name] = values
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
        sql.Identifier(table),
        sql.SQL(", ").join(sql.Identifier(c) for c in [*fixed, *columns]),
    )
    with cursor.cursor.copy(statement) as copy:
        copy.write(_SIGNATURE + records.tobytes() + _TRAILER)
    return count
