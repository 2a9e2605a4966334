"""Points where later apps act on contacts' writes, inside the same transaction
(explicit registries, not Django signals; imports keep flowing one way)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

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
