"""Points where later apps act on contacts' writes, inside the same transaction
(explicit registries, not Django signals; imports keep flowing one way)."""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings

if TYPE_CHECKING:
    from contacts.models import Contact
    from workspaces.models import Workspace

# Called with the contact just before it is erased (its rows still exist), so that
# derived data elsewhere (rollups) can take its contribution out.
ErasureHook = Callable[["Contact"], None]
ERASURE_HOOKS: list[ErasureHook] = []


def on_contact_erased(hook: ErasureHook) -> ErasureHook:
    if hook not in ERASURE_HOOKS:
        ERASURE_HOOKS.append(hook)
    return hook


# Called by the segments' stored-membership writers (contacts/services/segment_members.py)
# in the transaction that changed the rows, holding the segment's advisory lock, with
# (workspace id, segment id, contact ids that joined, contact ids that left), so that
# per-segment rollups elsewhere (analytics' survey figures) follow the members.
MembersHook = Callable[[int, int, list[int], list[int]], None]
SEGMENT_MEMBERS_HOOKS: list[MembersHook] = []


def on_segment_members_changed(hook: MembersHook) -> MembersHook:
    if hook not in SEGMENT_MEMBERS_HOOKS:
        SEGMENT_MEMBERS_HOOKS.append(hook)
    return hook


# Checks of an event's properties that later apps add (catalog: line items), called
# by the event cleaner with the event's name and properties; they return errors keyed
# by the path of the offending value ("properties.items[0].quantity").
EventCheck = Callable[[str, dict[str, Any]], dict[str, list[str]]]
EVENT_CHECKS: list[EventCheck] = []


def register_event_check(check: EventCheck) -> EventCheck:
    if check not in EVENT_CHECKS:
        EVENT_CHECKS.append(check)
    return check


# Called by events_ingest with the workspace and the cleaned events it accepted (a
# repeated idempotency key included), after they are written, outside a transaction:
# a hook writes what it derives in statements of its own that are safe to repeat.
EventsHook = Callable[["Workspace", list[dict[str, Any]]], None]
EVENTS_RECORDED_HOOKS: list[EventsHook] = []


def on_events_recorded(hook: EventsHook) -> EventsHook:
    if hook not in EVENTS_RECORDED_HOOKS:
        EVENTS_RECORDED_HOOKS.append(hook)
    return hook


# Fields of a contact's creation that a later app owns (loyalty: `referred_by`), taken
# by the create endpoint, batch upserts and CSV imports (a column mapped to one). They
# are taken out of the item before the contact is cleaned: `clean(workspace, value)`
# returns (the value to keep, an error or None; an error is a 400 or the item's/row's
# error naming the field), and `apply(contact, value)` runs in the creating
# transaction once the contact is saved (a failure there undoes the creation). Only a
# creation applies them: an item that updates an existing contact ignores them.
# `label` names the field in the import's column mapping; `aliases` are header
# spellings (lower case, letters and digits) the mapping suggests it for; `schema` is
# the JSON schema of its value in the OpenAPI schema's `ContactCreateRequest`
# (contacts/serializers.py; `description` is added to it).
@dataclass(frozen=True)
class ContactExtraField:
    name: str
    clean: Callable[[Workspace, Any], tuple[Any, str | None]]
    apply: Callable[[Contact, Any], None]
    description: str = ""
    label: str = ""
    aliases: tuple[str, ...] = ()
    schema: dict[str, Any] = dataclasses.field(
        default_factory=lambda: {"type": "string", "nullable": True}
    )


CONTACT_EXTRA_FIELDS: dict[str, ContactExtraField] = {}


def register_contact_extra_field(field: ContactExtraField) -> ContactExtraField:
    CONTACT_EXTRA_FIELDS[field.name] = field
    return field


def contact_extras_clean(
    workspace: Workspace, data: Any
) -> tuple[Any, dict[str, Any], dict[str, list[str]]]:
    """(the body without the extra fields, their cleaned values, errors by field)."""
    if not isinstance(data, dict):
        return data, {}, {}
    rest = dict(data)
    extras: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for name, field in CONTACT_EXTRA_FIELDS.items():
        if name not in rest:
            continue
        value, error = field.clean(workspace, rest.pop(name))
        if error:
            errors[name] = [error]
        else:
            extras[name] = value
    return rest, extras, errors


def contact_extras_apply(contact: Contact, extras: dict[str, Any]) -> None:
    for name, value in extras.items():
        CONTACT_EXTRA_FIELDS[name].apply(contact, value)


# Which ingested events make their contact's mark urgent (claimed by the engine before
# the others: contacts/services/marks.py). Each later app gives, for a workspace, an
# SQL condition on an inserted event `u` (`u.contact_id`, `u.name`; `%(ws)s` is the
# workspace id) with its parameters (named with the app's own prefix), or None when
# no event is urgent for it; an event is urgent when any condition holds. A
# provider's condition text stays the same from call to call (the ingest statement is
# prepared per text); called on every ingest request, so a provider caches what it
# reads (urgency_memo).
MarkUrgency = Callable[["Workspace"], tuple[str, dict[str, Any]] | None]
MARK_URGENCY: list[MarkUrgency] = []


def on_mark_urgency(provider: MarkUrgency) -> MarkUrgency:
    if provider not in MARK_URGENCY:
        MARK_URGENCY.append(provider)
    return provider


def urgency_memo(
    read: Callable[[Workspace], tuple[str, dict[str, Any]] | None],
) -> MarkUrgency:
    """A MARK_URGENCY provider that reads its answer for a workspace at most once in
    MARK_URGENCY_CACHE_SECONDS (per process)."""
    memo: dict[int, tuple[float, tuple[str, dict[str, Any]] | None]] = {}

    @functools.wraps(read)
    def provider(workspace: Workspace) -> tuple[str, dict[str, Any]] | None:
        now = time.monotonic()
        hit = memo.get(workspace.pk)
        if hit is not None and now - hit[0] < settings.MARK_URGENCY_CACHE_SECONDS:
            return hit[1]
        answer = read(workspace)
        memo[workspace.pk] = (now, answer)
        return answer

    return provider


def urgent_names(key: str, names: set[str]) -> tuple[str, dict[str, Any]] | None:
    """A MARK_URGENCY answer: an event with one of these names is urgent (None when
    there are none). `key` names the parameter (the app's own)."""
    if not names:
        return None
    return f"u.name = ANY(%({key})s::text[])", {key: sorted(names)}
