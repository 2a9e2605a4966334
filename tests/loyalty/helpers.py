"""Shared set-up for the loyalty tests: a programme, events through the real ingest
and the lifecycle engine that earns from them."""

from __future__ import annotations

from typing import Any

from contacts.models import Contact
from contacts.services.events import events_ingest
from lifecycle.services import marked_contacts_evaluate
from loyalty.models import PointsBalance, Programme
from loyalty.services import programme_update
from workspaces.models import Workspace
from workspaces.services import Actor

ACTOR = Actor(system="test")


def programme(ws: Workspace, **data: Any) -> Programme:
    return programme_update(workspace=ws, data={"enabled": True, **data}, actor=ACTOR)


def ingest(ws: Workspace, *events: dict[str, Any]) -> None:
    """Record the events as the API does and let the engine take them in."""
    result = events_ingest(workspace=ws, items=list(events))
    assert not result.errors, result.errors
    while marked_contacts_evaluate():
        pass


def purchase(contact: Contact, revenue: str, **extra: Any) -> dict[str, Any]:
    return {"contact": {"id": contact.pk}, "name": "purchase", "revenue": revenue, **extra}


def balance(contact: Contact) -> int:
    row = PointsBalance.objects.filter(contact=contact).first()
    return row.balance if row else 0
