"""Send a survey: the survey's one-tap message (surveys.services.ask_template, the same
template the API's ask sends) by email or SMS, keyed `journey:<enrolment>:<step>` like
every journey send, so a re-run never asks twice. A marketing message unless the
survey is transactional: consent and suppression always apply when a worker sends it,
caps and quiet hours unless it is transactional.

A review request (a survey of kind `review`) asks about the order and products of the
event that let the contact in (a purchase's `order_id` and `items`), kept by surveys
for the hosted page under the message's key."""

from __future__ import annotations

from typing import Any

from campaigns.journeys.runs import Batch, Run, move_all
from campaigns.journeys.steps.base import Checker, Names, StepType
from campaigns.models import JourneyEnrolment, JourneyStep, StepKind
from contacts.models import Channel, Event
from messaging.models import Message, MessageStatus, Origin
from surveys.models import Survey, SurveyKind
from surveys.services import ask_template
from surveys.services.reviews import items_from_properties, review_requests_record
from workspaces.services import Actor

CHANNELS = (Channel.EMAIL, Channel.SMS)


class SendSurvey(StepType):
    kind = StepKind.SEND_SURVEY

    def sends(self, config: dict[str, Any]) -> str | None:
        channel = config.get("channel")
        return channel if channel in CHANNELS else None

    def validate(self, c: Checker, path: str, config: dict[str, Any]) -> None:
        survey_id = config.get("survey_id")
        if isinstance(survey_id, bool) or not isinstance(survey_id, int):
            c.add(f"{path}.survey_id", "must be the id of a survey")
        elif not Survey.objects.filter(pk=survey_id, workspace=c.workspace).exists():
            c.add(f"{path}.survey_id", "no such survey in this workspace")
        if config.get("channel") not in CHANNELS:
            c.add(f"{path}.channel", "must be email or sms")

    def describe(self, config: dict[str, Any], names: Names) -> list[str]:
        channel = "SMS" if config.get("channel") == Channel.SMS else "email"
        return [f"Survey {names.of('surveys', config.get('survey_id'))} by {channel}"]

    def run(self, batch: Batch, step: JourneyStep, runs: list[Run]) -> None:
        config = step.config
        survey = Survey.objects.filter(
            pk=config.get("survey_id"), workspace_id=batch.journey.workspace_id
        ).first()
        # Deleted since the journey was saved: nothing to ask; contacts move on.
        if survey is not None and config.get("channel") in CHANNELS:
            actor = Actor(system=f"journey:{batch.journey.pk}")
            template = ask_template(survey=survey, channel=config["channel"], actor=actor)
            for run in runs:
                batch.messages.append(
                    Message(
                        workspace_id=batch.journey.workspace_id,
                        contact_id=run.contact_id,
                        channel=template.channel,
                        template=template,
                        idempotency_key=f"journey:{run.id}:{step.pk}",
                        due_at=batch.now,
                        origin_kind=Origin.JOURNEY_STEP,
                        origin_id=step.pk,
                        status=MessageStatus.SCHEDULED,
                        transactional=survey.transactional,
                    )
                )
            if survey.kind == SurveyKind.REVIEW:
                _review_requests(batch, step, survey, runs)
        move_all(batch, step, runs)


def _trigger_properties(workspace_id: int, runs: list[Run]) -> dict[int, Any]:
    """Per enrolment, the properties of the event that let it in (if one did)."""
    keys = dict(
        JourneyEnrolment.objects.filter(
            workspace_id=workspace_id, pk__in=[r.id for r in runs]
        ).values_list("pk", "trigger_key")
    )
    event_ids = {
        run_id: int(key[6:])
        for run_id, key in keys.items()
        if key.startswith("event:") and key[6:].isdigit()
    }
    properties = dict(
        Event.objects.filter(workspace_id=workspace_id, pk__in=event_ids.values()).values_list(
            "pk", "properties"
        )
    )
    return {run_id: properties.get(event_id) for run_id, event_id in event_ids.items()}


def _review_requests(batch: Batch, step: JourneyStep, survey: Survey, runs: list[Run]) -> None:
    found = _trigger_properties(batch.journey.workspace_id, runs)
    rows = []
    for run in runs:
        order_id, items = items_from_properties(found.get(run.id))
        rows.append((run.contact_id, f"journey:{run.id}:{step.pk}", order_id, items))
    review_requests_record(survey=survey, rows=rows)
