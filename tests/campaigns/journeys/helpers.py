from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from campaigns.journeys.engine import journeys_advance
from campaigns.journeys.services import journey_create, journey_schedule
from campaigns.models import Journey, JourneyEnrolment, JourneyStep
from contacts.services.events import events_ingest
from lifecycle.services import marked_contacts_evaluate
from messaging.models import Message
from tests.messaging.helpers import ACTOR
from workspaces.models import Workspace


def journey(
    ws: Workspace,
    trigger: dict[str, Any],
    steps: list[dict[str, Any]],
    *,
    live: bool = True,
    **extra: Any,
) -> Journey:
    data = {"name": extra.pop("name", "J"), "trigger": trigger, "steps": steps, **extra}
    created = journey_create(workspace=ws, data=data, actor=ACTOR)
    if live:
        created = journey_schedule(journey=created, actor=ACTOR)
    return created


def step(key: str, kind: str, **config: Any) -> dict[str, Any]:
    return {"key": key, "kind": kind, "config": config}


def advance(at: dt.datetime | None = None, rounds: int = 20) -> int:
    """Run the worker until nothing is due at `at` (default now)."""
    total = 0
    for _ in range(rounds):
        ran = journeys_advance(now=at or timezone.now())
        if not ran:
            break
        total += ran
    return total


def later(**delta: float) -> dt.datetime:
    return timezone.now() + dt.timedelta(**delta)


def enrolment(j: Journey, contact: Any) -> JourneyEnrolment:
    return JourneyEnrolment.objects.filter(journey=j, contact=contact).latest("id")


def where(j: Journey, contact: Any) -> str | None:
    e = enrolment(j, contact)
    if e.status != "active":
        return f"{e.status}:{e.exit_reason}" if e.exit_reason else e.status
    return None if e.step is None else e.step.key


def sent_steps(contact: Any) -> list[str]:
    keys = dict(JourneyStep.objects.values_list("pk", "key"))
    return [
        keys[m.origin_id or 0]
        for m in Message.objects.filter(contact=contact, origin_kind="journey_step").order_by("id")
    ]


def ingest(ws, contact, name, **props):
    result = events_ingest(
        workspace=ws, items=[{"contact": {"id": contact.pk}, "name": name, "properties": props}]
    )
    assert result.accepted == 1
    marked_contacts_evaluate()
