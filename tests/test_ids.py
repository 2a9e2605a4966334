"""Time-ordered UUIDs (config/ids.py): RFC 9562 version 7 from Python and from SQL."""

from __future__ import annotations

import time
import uuid

import pytest
from django.db import connection

from config.ids import UUID7_SQL, uuid7


def _check(value: uuid.UUID, before_ms: int, after_ms: int) -> None:
    assert value.version == 7
    assert value.variant == uuid.RFC_4122
    assert before_ms <= value.int >> 80 <= after_ms


def test_python_uuid7_carries_the_millisecond_and_random_bits():
    before = time.time_ns() // 1_000_000
    values = [uuid7() for _ in range(2000)]
    after = time.time_ns() // 1_000_000
    for value in values:
        _check(value, before, after)
    assert len(set(values)) == 2000
    # Made in later milliseconds, they sort later: the index sees a rising key.
    time.sleep(0.002)
    assert uuid7() > max(values)


@pytest.mark.django_db
def test_sql_uuid7_matches_the_python_form():
    before = time.time_ns() // 1_000_000
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {UUID7_SQL} FROM generate_series(1, 2000)")
        values = [row[0] for row in cursor.fetchall()]
    after = time.time_ns() // 1_000_000
    for value in values:
        _check(value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)), before, after)
    assert len(set(values)) == 2000
