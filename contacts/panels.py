"""Sections that later apps add to the contact page (the lifecycle stage and its
history, messages, predicted value), each loaded by htmx from that app's own URL, and
columns they add to the contacts list, so the contacts app does not import them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet


@dataclass(frozen=True)
class ContactPanel:
    title: str
    url_name: str  # reversed with (workspace slug, contact id)
    column: str = "main"  # "main" (left) or "side" (right)


CONTACT_PANELS: list[ContactPanel] = []


def register_contact_panel(panel: ContactPanel) -> None:
    if panel not in CONTACT_PANELS:
        CONTACT_PANELS.append(panel)


@dataclass(frozen=True)
class ContactColumn:
    """A column that a later app adds to the contacts list, with a filter on it: the
    lifecycle stage. `related` is what the list selects with each contact; `cell` gives
    (text, colour) for a contact; `choices` the filter's options for a workspace;
    `filter` narrows a queryset to one option."""

    key: str
    title: str
    related: str
    cell: Callable[[Any], tuple[str, str] | None]
    choices: Callable[[Any], list[tuple[str, str]]]
    filter: Callable[[QuerySet[Any], Any, str], QuerySet[Any]]


CONTACT_COLUMNS: list[ContactColumn] = []


def register_contact_column(column: ContactColumn) -> None:
    if all(c.key != column.key for c in CONTACT_COLUMNS):
        CONTACT_COLUMNS.append(column)
