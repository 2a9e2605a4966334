"""CSV export of contacts, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from typing import Any

from django.db import connection
from django.db.models import QuerySet

from contacts.models import Contact

BASE_COLUMNS = (
    "id",
    "email",
    "phone",
    "external_id",
    "first_name",
    "last_name",
    "time_zone",
    "locale",
    "email_status",
    "sms_status",
    "created_at",
    "updated_at",
)
# A cell starting with one of these is a formula to Excel, LibreOffice and Sheets
# (OWASP "CSV injection"); such cells are prefixed with a quote.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        text = json.dumps(value, ensure_ascii=False)
    elif isinstance(value, bool):
        text = "true" if value else "false"
    else:
        text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


class _Echo:
    def write(self, value: str) -> str:
        return value


def attribute_keys(queryset: QuerySet[Contact]) -> list[str]:
    sql, params = queryset.values("attributes").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT DISTINCT jsonb_object_keys(attributes) FROM ({sql}) AS c ORDER BY 1",
            params,
        )
        return [row[0] for row in cursor.fetchall()]


def contacts_csv_rows(queryset: QuerySet[Contact]) -> Iterator[str]:
    """The CSV text, row by row, for a streaming response: base columns, then one
    column per custom attribute."""
    keys = attribute_keys(queryset)
    writer = csv.writer(_Echo())
    yield writer.writerow([*BASE_COLUMNS, *keys])
    for contact in queryset.order_by("pk").iterator(chunk_size=2000):
        attributes = contact.attributes or {}
        row = [neutralise(getattr(contact, column)) for column in BASE_COLUMNS]
        row += [neutralise(attributes.get(key)) for key in keys]
        yield writer.writerow(row)
