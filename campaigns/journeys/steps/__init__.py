"""Every journey step kind, one `StepType` each (base.py): how its settings are
checked, what it leads to, how it reads in words and how it moves contacts."""

from campaigns.journeys.steps.actions import (
    Exit,
    MoveStage,
    UpdateAttribute,
    Webhook,
    webhook_signature,
    webhook_url_error,
)
from campaigns.journeys.steps.base import StepType
from campaigns.journeys.steps.routes import Branch, Split
from campaigns.journeys.steps.sends import SEND_EMAIL, SEND_SMS
from campaigns.journeys.steps.survey import SendSurvey
from campaigns.journeys.steps.waits import Wait, WaitFor, WaitUntil, next_local

STEP_TYPES: dict[str, StepType] = {
    step.kind: step
    for step in (
        SEND_EMAIL,
        SEND_SMS,
        SendSurvey(),
        Wait(),
        WaitUntil(),
        WaitFor(),
        Branch(),
        Split(),
        UpdateAttribute(),
        MoveStage(),
        Webhook(),
        Exit(),
    )
}

__all__ = ["STEP_TYPES", "StepType", "next_local", "webhook_signature", "webhook_url_error"]
