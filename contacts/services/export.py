"""CSV export of contacts, safe to open in a spreadsheet (config/spreadsheet.py)."""

from __future__ import annotations

from collections.abc import Iterator

from django.db import connection
from django.db.models import QuerySet

from config.spreadsheet import csv_writer
from contacts.models import Contact
from contacts.validation import CONTACT_FIELDS

# The contact's own fields, then one column per attribute (below).
BASE_COLUMNS = (
    "id",
    *(name for name in CONTACT_FIELDS if name != "attributes"),
    "created_at",
    "updated_at",
)


def attribute_columns(queryset: QuerySet[Contact]) -> list[tuple[str, str]]:
    """(key, column header) for each custom attribute of the contacts. The header is
    the import mapping target that reads the column back with its type:
    `attributes.seats:number` when every value is a number, `:boolean` when every value
    is true/false, else text (`attributes.plan`)."""
    sql, params = queryset.values("attributes").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.key, array_agg(DISTINCT jsonb_typeof(a.value)) "
            f"FROM ({sql}) AS c, jsonb_each(c.attributes) AS a GROUP BY a.key ORDER BY 1",
            params,
        )
        rows = cursor.fetchall()
    columns = []
    for key, types in rows:
        kinds = set(types) - {"null"}
        suffix = {frozenset({"number"}): ":number", frozenset({"boolean"}): ":boolean"}
        columns.append((key, f"attributes.{key}{suffix.get(frozenset(kinds), '')}"))
    return columns


def contacts_csv_rows(queryset: QuerySet[Contact]) -> Iterator[str]:
    """The CSV text, row by row, for a streaming response: base columns, then one
    column per custom attribute. Imported again with the suggested mapping, the file
    gives back the same contacts (see contacts/services/imports.py)."""
    columns = attribute_columns(queryset)
    writer = csv_writer()
    yield writer.writerow([*BASE_COLUMNS, *(header for _, header in columns)])
    for contact in queryset.order_by("pk").iterator(chunk_size=2000):
        attributes = contact.attributes or {}
        row = [getattr(contact, column) for column in BASE_COLUMNS]
        row += [attributes.get(key) for key, _ in columns]
        yield writer.writerow(row)
