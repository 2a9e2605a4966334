from __future__ import annotations

from typing import Any

from campaigns.broadcasts.delivery import broadcast_materialise
from campaigns.broadcasts.services import broadcast_create, broadcast_schedule
from campaigns.models import Broadcast
from contacts.models import Contact, Segment
from messaging.models import Message, Template
from messaging.services.claims import messages_claim
from messaging.services.dispatch import messages_send
from tests.factories import SegmentFactory
from tests.messaging.helpers import ACTOR
from workspaces.models import Workspace


def segment(ws: Workspace, name: str, plan: str) -> Segment:
    return SegmentFactory.create(
        workspace=ws, name=name, rule={"attr": "plan", "op": "eq", "value": plan}
    )


def contacts(ws: Workspace, count: int, **fields: Any) -> list[Contact]:
    """Many contacts in one statement (factories are slow at thousands)."""
    prefix = fields.pop("prefix", "c")
    rows = [Contact(workspace=ws, email=f"{prefix}{i}@example.com", **fields) for i in range(count)]
    return Contact.objects.bulk_create(rows)


def broadcast(ws: Workspace, template: Template, **data: Any) -> Broadcast:
    values: dict[str, Any] = {
        "name": "Spring sale",
        "channel": template.channel,
        "template_id": template.pk,
    }
    values.update(data)
    return broadcast_create(workspace=ws, data=values, actor=ACTOR)


def schedule_and_materialise(b: Broadcast) -> Broadcast:
    broadcast_schedule(broadcast=b, actor=ACTOR)
    broadcast_materialise(broadcast_id=b.pk)
    b.refresh_from_db()
    return b


def messages_of(b: Broadcast) -> list[Message]:
    return list(b.messages.order_by("contact_id"))


def run_once() -> dict[str, int]:
    return messages_send(claims=messages_claim(limit=1000))
