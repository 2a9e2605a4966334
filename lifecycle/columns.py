"""The lifecycle stage as a column (and filter) of the contacts list."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import QuerySet

from contacts.panels import ContactColumn
from lifecycle.selectors import stages_for_workspace


def _cell(contact: Any) -> tuple[str, str] | None:
    try:
        placed = contact.lifecycle
    except ObjectDoesNotExist:
        return None
    return placed.stage.name, placed.stage.colour


def _choices(workspace: Any) -> list[tuple[str, str]]:
    return [(stage.key, stage.name) for stage in stages_for_workspace(workspace=workspace)]


def _filter(queryset: QuerySet[Any], workspace: Any, key: str) -> QuerySet[Any]:
    return queryset.filter(lifecycle__workspace=workspace, lifecycle__stage__key=key)


STAGE_COLUMN = ContactColumn(
    key="stage",
    title="Stage",
    related="lifecycle__stage",
    cell=_cell,
    choices=_choices,
    filter=_filter,
)
