"""Send a survey: the survey's one-tap message (surveys.services.ask_template, the same
template the API's ask sends) by email or SMS, keyed `journey:<enrolment>:<step>` like
every journey send, so a re-run never asks twice. A marketing message unless the
survey is transactional: consent and suppression always apply when a worker sends it,
caps and quiet hours unless it is transactional."""

from __future__ import annotations

from typing import Any

from campaigns.journeys.runs import Batch, Run, move_all
from campaigns.journeys.steps.base import Checker, Names, StepType
from campaigns.models import JourneyStep, StepKind
from contacts.models import Channel
from messaging.models import Message, MessageStatus, Origin
from surveys.models import Survey
from surveys.services import ask_template
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
        move_all(batch, step, runs)
