"""Which ingested events are urgent for live journeys (contacts.hooks.MARK_URGENCY):
every event name a live journey's trigger, goal, exit rule or steps read (through
the segments they name too), whoever the contact, so that an event trigger, a
"wait for" step or a goal acts on it within seconds even while ingest queues a
backlog of other news."""

from __future__ import annotations

from typing import Any

from campaigns.models import Journey, JourneyStatus, JourneyStep, TriggerKind
from contacts.hooks import urgency_memo, urgent_names
from contacts.rules.names import event_names_read
from workspaces.models import Workspace


def journey_event_names(workspace: Workspace) -> set[str]:
    """The event names the workspace's live journeys read."""
    names: set[str] = set()
    journeys = Journey.objects.filter(workspace=workspace, status=JourneyStatus.LIVE)
    for trigger, goal, exit_rule in journeys.values_list("trigger", "goal", "exit_rule"):
        if trigger.get("kind") == TriggerKind.SEGMENT_JOINED:
            trigger = {"segment": trigger.get("segment_id")}
        names |= event_names_read(workspace, [trigger, goal, exit_rule])
    steps = JourneyStep.objects.filter(journey__in=journeys, removed_at__isnull=True).values_list(
        "config", flat=True
    )
    return names | event_names_read(workspace, list(steps))


@urgency_memo
def journey_news_urgency(workspace: Workspace) -> tuple[str, dict[str, Any]] | None:
    return urgent_names("journeys_names", journey_event_names(workspace))
