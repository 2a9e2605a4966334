"""Cells of the CSV files the app writes, safe to open in a spreadsheet, and the
reading side that undoes it when such a file is imported again.

A cell that starts with = + - @, a tab or a carriage return is a formula to Excel,
LibreOffice and Google Sheets ("CSV injection": =HYPERLINK(...), +cmd|' /C calc'!A0,
@SUM(...)); such a cell is written with a leading apostrophe, which spreadsheets show
as text. Plain numbers (-5, 3.5e2, +7) and phone numbers (+12125552998,
+1 (212) 555-2998) cannot run anything and are written as they are, so they stay
numbers and phone numbers for whoever reads the file. A cell that itself starts with
an apostrophe gets one more, so `csv_value` can always give back the original text:
an export imported again is the data that was exported.

Every CSV the app writes goes through `csv_writer` (contacts export, rejected import
rows, consent history, analytics tables), headers included.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from collections.abc import Iterable
from typing import Any, Protocol

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_PHONE_NUMBER = re.compile(r"\+[\d ().-]*\d[\d ().-]*")


def csv_text(value: Any) -> str:
    """A value as the text of a cell: None is empty, JSON values are JSON."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value)


def csv_cell(value: Any) -> str:
    """The cell to write for a value (see the module docstring)."""
    text = csv_text(value)
    if text.startswith("'"):
        return "'" + text
    if text.startswith(FORMULA_START) and not (
        _PLAIN_NUMBER.fullmatch(text) or _PHONE_NUMBER.fullmatch(text)
    ):
        return "'" + text
    return text


def csv_value(cell: str) -> str:
    """The text a cell written by csv_cell stood for (an import reads cells this way)."""
    if cell.startswith("'") and cell[1:].startswith(("'", *FORMULA_START)):
        return cell[1:]
    return cell


class _Writable(Protocol):
    def write(self, text: str, /) -> Any: ...


class SafeCsvWriter:
    """csv.writer whose every cell goes through csv_cell."""

    def __init__(self, target: _Writable) -> None:
        self._writer = csv.writer(target)

    def writerow(self, cells: Iterable[Any]) -> Any:
        return self._writer.writerow([csv_cell(cell) for cell in cells])


class _Echo:
    """A file-like target that hands each written line back (for streaming responses)."""

    def write(self, text: str) -> str:
        return text


def csv_writer(target: _Writable | None = None) -> SafeCsvWriter:
    """A safe writer into `target` (an HttpResponse, a file), or one whose writerow
    returns the line, for StreamingHttpResponse generators."""
    return SafeCsvWriter(target if target is not None else _Echo())
