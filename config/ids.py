"""Time-ordered UUIDs (version 7, RFC 9562) for rows written in bulk.

A message's `uuid` is unique and indexed. Random (version 4) values land on random
pages of that index, so a broadcast inserting a million rows touches a million
scattered pages — most of its materialisation time (docs/campaigns.md). A version 7
UUID starts with the millisecond it was made, so new values go to the right-hand
edge of the index like a sequence, and keeps 74 random bits, so it is no easier to
guess than the part of a version 4 value anyone could use.

`uuid7()` makes one in Python (a model default); `UUID7_SQL` is the same as a SQL
expression for INSERT … SELECT statements (PostgreSQL 15 has no built-in)."""

from __future__ import annotations

import os
import time
import uuid

__all__ = ["UUID7_SQL", "uuid7"]


def uuid7() -> uuid.UUID:
    """48 bits of Unix milliseconds, the version (7), 12 random bits, the variant
    (0b10) and 62 random bits."""
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    rand_a = (rand >> 62) & 0xFFF
    rand_b = rand & ((1 << 62) - 1)
    return uuid.UUID(
        int=(millis & 0xFFFF_FFFF_FFFF) << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b
    )


# A version 4 UUID from gen_random_uuid() with its first 48 bits replaced by the
# clock's milliseconds and its version bits (48-51: 0100) turned into 0111.
UUID7_SQL = (
    "encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) placing "
    "substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) "
    "FROM 3) FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid"
)
