"""What the rule language knows, and how later apps teach it more.

Contacts' own fields and the built-in conditions are registered here; the lifecycle
app registers `stage` and `days_in_stage`, analytics its predicted CLV fields,
campaigns message engagement — each from its AppConfig.ready(), so that imports keep
flowing one way (workspaces → contacts → lifecycle → campaigns → analytics)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db.models import Q

if TYPE_CHECKING:
    from contacts.rules.context import Context
    from contacts.rules.validation import Validator
    from workspaces.models import Workspace

# Operators by the kind of value they compare.
TEXT_OPS = ("eq", "neq", "in", "contains", "starts_with", "exists")
CHOICE_OPS = ("eq", "neq", "in")
NUMBER_OPS = ("eq", "neq", "gt", "gte", "lt", "lte", "in", "exists")
DATE_OPS = ("before", "after", "within_last_days", "more_than_days_ago", "exists")
ATTRIBUTE_OPS = (
    "eq",
    "neq",
    "in",
    "contains",
    "starts_with",
    "gt",
    "gte",
    "lt",
    "lte",
    "exists",
    "is_true",
    "is_false",
    "before",
    "after",
    "within_last_days",
    "more_than_days_ago",
)
OPS_BY_KIND = {"text": TEXT_OPS, "choice": CHOICE_OPS, "number": NUMBER_OPS, "datetime": DATE_OPS}


@dataclass(frozen=True)
class FieldSpec:
    """A named property of a contact usable as {"field": name, "op": ..., "value": ...}.

    `compile(op, value, context)` returns a NULL-free condition on contacts.
    `choices(workspace)` lists the allowed values of a choice field. `contact_row`:
    the field reads only the contact's own row, which an incoming event never
    changes (contacts/rules/names.py); any other field (a stage, points, a
    prediction) may follow from events and the engine's work on them."""

    name: str
    kind: str
    label: str
    compile: Callable[[str, Any, Context], Q]
    choices: Callable[[Workspace | None], list[str]] | None = None
    contact_row: bool = False


@dataclass(frozen=True)
class ConditionSpec:
    """A node type of its own, recognised by its first key (e.g. "message")."""

    key: str
    keys: frozenset[str]
    validate: Callable[[dict[str, Any], str, Validator], None]
    compile: Callable[[dict[str, Any], Context], Q]
    describe: Callable[[dict[str, Any]], str] | None = None


FIELDS: dict[str, FieldSpec] = {}
CONDITIONS: dict[str, ConditionSpec] = {}
# Functions (workspace, segment id) -> descriptions of what uses that segment in its
# rules (stages, journeys), so a segment in use is not deleted from under them.
RULE_USERS: list[Callable[[Workspace, int], list[str]]] = []
# Functions (workspace) -> [(description, rule)] of the saved rules other apps hold
# (stages), so that a segment change that would take a rule using it over the
# expansion bounds is refused when the segment is saved, not when the rule runs.
RULE_HOLDERS: list[Callable[[Workspace], list[tuple[str, Any]]]] = []


def register_field(spec: FieldSpec) -> None:
    FIELDS[spec.name] = spec


def register_condition(spec: ConditionSpec) -> None:
    CONDITIONS[spec.key] = spec


# Functions (workspace) -> entries later apps add to the rule builder's catalog (the
# broadcasts, journeys and templates an engagement condition can name).
CATALOG_EXTRAS: list[Callable[[Workspace], dict[str, Any]]] = []


def register_catalog_extra(extra: Callable[[Workspace], dict[str, Any]]) -> None:
    if extra not in CATALOG_EXTRAS:
        CATALOG_EXTRAS.append(extra)
