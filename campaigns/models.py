"""Campaigns: broadcasts and journeys. Their models live in a module each; Django
loads an app's models from here, so this module imports them."""

from campaigns.broadcasts.models import (
    Broadcast,
    BroadcastStatus,
    BroadcastVariant,
    ScheduleKind,
    WinnerMetric,
)
from campaigns.journeys.models import (
    IN_JOURNEY,
    EnrolmentStatus,
    Journey,
    JourneyEnrolment,
    JourneyScanMark,
    JourneySegmentMember,
    JourneyStatus,
    JourneyStep,
    Reentry,
    StepKind,
    TriggerKind,
)

__all__ = [
    "IN_JOURNEY",
    "Broadcast",
    "BroadcastStatus",
    "BroadcastVariant",
    "EnrolmentStatus",
    "Journey",
    "JourneyEnrolment",
    "JourneyScanMark",
    "JourneySegmentMember",
    "JourneyStatus",
    "JourneyStep",
    "Reentry",
    "ScheduleKind",
    "StepKind",
    "TriggerKind",
    "WinnerMetric",
]
