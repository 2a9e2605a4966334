"""Sections that later apps add to the contact page (the lifecycle stage and its
history, messages, predicted value), each loaded by htmx from that app's own URL, so
the contacts app does not import them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ContactPanel:
    title: str
    url_name: str  # reversed with (workspace slug, contact id)
    column: str = "main"  # "main" (left) or "side" (right)


CONTACT_PANELS: list[ContactPanel] = []


def register_contact_panel(panel: ContactPanel) -> None:
    if panel not in CONTACT_PANELS:
        CONTACT_PANELS.append(panel)
