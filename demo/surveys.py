"""The demo's surveys: a quarterly NPS answered by customers over the last four
months (scores by their stage: advocates mostly promoters, lapsed customers mostly
detractors) with some comments, and a CSAT after delivery, so the Surveys pages, their
report and the rule fields (nps_category, csat_score) show something real; and a
journey that asks the CSAT a week after a first purchase."""

from __future__ import annotations

import datetime as dt
import random
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from analytics.models import Stay
from analytics.rollups import answer_sums_rebuild
from analytics.rollups.surveys import survey_rollups_rebuild, survey_sends_refresh
from campaigns.journeys.services import journey_create, journey_schedule
from campaigns.models import Journey, JourneyStep
from lifecycle.models import Stage
from messaging.models import Message, MessageStatus, Origin, Template
from surveys import scales
from surveys.facts import facts_refresh
from surveys.models import Survey, SurveyResponse
from surveys.services import survey_create
from surveys.services.sending import ask_template
from workspaces.models import Workspace
from workspaces.services import Actor

ACTOR = Actor(system="seed_demo")

# stage key -> the scores its customers give, roughly
NPS_BY_STAGE = {
    "advocate": [10, 10, 10, 9, 9, 9],
    "loyal": [10, 10, 9, 9, 8, 7],
    "repeat": [10, 9, 9, 8, 7, 6],
    "customer": [10, 9, 9, 8, 7, 5],
    "at_risk": [9, 8, 6, 5, 4, 3],
    "lapsed": [7, 5, 4, 3, 2, 0],
}
COMMENTS = {
    "promoter": ["The Ethiopian roast is the best I have had.", "Fast delivery, great beans."],
    "passive": ["Good coffee, shipping could be quicker.", "A bit pricey for every week."],
    "detractor": ["My last bag arrived stale.", "Too expensive since the price change."],
}


Stays = list[tuple[dt.datetime, dt.datetime | None, Stage]]


def _stays(workspace: Workspace) -> dict[int, Stays]:
    """Each contact's stays, for those who were ever in a stage that is asked."""
    stages = {stage.pk: stage for stage in Stage.objects.filter(workspace=workspace)}
    found: dict[int, Stays] = {}
    rows = Stay.objects.filter(workspace=workspace).order_by("contact_id", "entered_at")
    for contact_id, stage_id, entered, left in rows.values_list(
        "contact_id", "stage_id", "entered_at", "left_at"
    ):
        found.setdefault(contact_id, []).append((entered, left, stages[stage_id]))
    return {
        contact_id: stays
        for contact_id, stays in found.items()
        if any(stage.key in NPS_BY_STAGE for _, _, stage in stays)
    }


def _stage_at(stays: Stays, at: dt.datetime) -> Stage | None:
    for entered, left, stage in stays:
        if entered <= at and (left is None or at < left):
            return stage if stage.key in NPS_BY_STAGE else None
    return None


def _score(rng: random.Random, stage_key: str, days_ago: float) -> int:
    """A score from the stage's spread, a little lower the longer ago (the roasters fixed
    the stale-bag complaints two months back, and NPS recovered since)."""
    score = rng.choice(NPS_BY_STAGE[stage_key])
    if days_ago > 60 and score < 10 and rng.random() < (days_ago - 60) / 120:
        score = max(0, score - rng.choice([1, 2, 3]))
    return score


def _sent(
    workspace: Workspace,
    survey: Survey,
    channel: str,
    contact_id: int,
    at: dt.datetime,
    templates: dict[tuple[int, str], Template],
) -> Message:
    key = (survey.pk, channel)
    if key not in templates:
        templates[key] = ask_template(survey=survey, channel=channel, actor=ACTOR)
    return Message(
        workspace=workspace,
        contact_id=contact_id,
        channel=channel,
        template=templates[key],
        idempotency_key=f"demo-survey:{survey.pk}:{contact_id}",
        status=MessageStatus.DELIVERED,
        subject=survey.question if channel == "email" else "",
        created_at=at,
        due_at=at,
        sent_at=at,
        delivered_at=at,
    )


DELIVERY_LOW = ["The box arrived a day late.", "The bag was torn.", ""]


@transaction.atomic
def demo_surveys_seed(*, workspace: Workspace, seed: int = 7, today: dt.date | None = None) -> int:
    """Create the surveys, the messages that asked them (email mostly, some SMS) and
    the answers (about a third of those asked, some more on the hosted page); returns
    the number of answers."""
    rng = random.Random(seed)
    now = timezone.now()
    nps = survey_create(
        workspace=workspace,
        data={
            "name": "Quarterly NPS",
            "kind": "nps",
            "question": "How likely are you to recommend Northwind Coffee to a friend?",
            "follow_up": "What is the main reason for your score?",
            "thank_you": "Thank you — every answer is read by our roasters.",
        },
        actor=ACTOR,
    )
    csat = survey_create(
        workspace=workspace,
        data={
            "name": "Delivery satisfaction",
            "kind": "csat",
            "question": "How satisfied were you with your last delivery?",
            "thank_you": "Thanks for telling us.",
        },
        actor=ACTOR,
    )
    # Asked over the four months up to the demo's today, in the stage each customer was
    # in at the time (from the stage history: the analytics stays).
    end = now
    if today is not None:
        noon = dt.datetime.combine(today, dt.time(12), tzinfo=ZoneInfo(workspace.time_zone))
        end = min(now, noon)
    customers = _stays(workspace)
    templates: dict[tuple[int, str], Template] = {}
    messages: list[Message] = []
    rows: list[SurveyResponse] = []
    asked: list[tuple[SurveyResponse, Message]] = []
    for contact_id, stays in sorted(customers.items()):
        asked_at = end - dt.timedelta(days=rng.uniform(3, 120))
        stage = _stage_at(stays, asked_at)
        if stage is None:
            continue  # not a customer then: not asked
        channel = "sms" if rng.random() < 0.15 else "email"
        answers_by = "link" if rng.random() < 0.08 else None
        if answers_by is None:
            messages.append(_sent(workspace, nps, channel, contact_id, asked_at, templates))
        if answers_by is None and rng.random() > 0.35:
            continue  # about a third of those asked answer
        at = asked_at + dt.timedelta(hours=rng.uniform(0.1, 48))
        score = _score(rng, stage.key, (end - at).days)
        category = scales.category(nps.kind, score)
        message = messages[-1] if answers_by is None else None
        rows.append(
            SurveyResponse(
                workspace=workspace,
                survey=nps,
                contact_id=contact_id,
                send_key=f"demo-nps-{contact_id}",
                score=score,
                category=category,
                comment=rng.choice(COMMENTS[category]) if rng.random() < 0.3 else "",
                channel=answers_by or channel,
                stage=stage,
                stage_name=stage.name,
                answered_at=at,
                updated_at=at,
                last_tap_at=at,
                settled_version=1,  # history: nothing to tell journeys now
            )
        )
        if message is not None:
            asked.append((rows[-1], message))  # its id once the messages are saved
        if rng.random() < 0.7:  # asked about their delivery too; a bit over half answer
            csat_at = at - dt.timedelta(days=rng.uniform(1, 20))
            messages.append(_sent(workspace, csat, "email", contact_id, csat_at, templates))
            if rng.random() < 0.55:
                rows.append(_csat_answer(rng, workspace, csat, (contact_id, stage), score, csat_at))
                asked.append((rows[-1], messages[-1]))
    Message.objects.bulk_create(messages, batch_size=1000)
    for row, message in asked:
        row.message_id = message.pk
    SurveyResponse.objects.bulk_create(rows, batch_size=1000)
    for contact_id in sorted({row.contact_id for row in rows if row.contact_id}):
        facts_refresh(workspace_id=workspace.pk, contact_id=contact_id)
    return len(rows)


def _csat_answer(
    rng: random.Random,
    workspace: Workspace,
    csat: Survey,
    asked: tuple[int, Stage],
    nps_score: int,
    at: dt.datetime,
) -> SurveyResponse:
    satisfied = rng.choice([5, 5, 4, 4, 3]) if nps_score >= 7 else rng.choice([4, 3, 2, 1])
    return SurveyResponse(
        workspace=workspace,
        survey=csat,
        contact_id=asked[0],
        send_key=f"demo-csat-{asked[0]}",
        score=satisfied,
        category=scales.category(csat.kind, satisfied),
        comment=rng.choice(["Perfect, arrived early.", ""] if satisfied >= 4 else DELIVERY_LOW),
        channel="email",
        stage=asked[1],
        stage_name=asked[1].name,
        answered_at=at + dt.timedelta(hours=rng.uniform(0.1, 30)),
        updated_at=at,
        last_tap_at=at,
        settled_version=1,  # history: nothing to tell journeys now
    )


def demo_survey_journey_seed(*, workspace: Workspace) -> bool:
    """A live journey that asks new customers about their delivery by email seven days
    after their first purchase (entering the Customer stage). Idempotent (by name);
    True when it was created."""
    name = "Delivery survey"
    csat = Survey.objects.filter(workspace=workspace, name="Delivery satisfaction").first()
    customer = Stage.objects.filter(workspace=workspace, key="customer").first()
    if csat is None or customer is None:
        return False
    if Journey.objects.filter(workspace=workspace, name=name).exists():
        return False
    journey = journey_create(
        workspace=workspace,
        data={
            "name": name,
            "description": "Seven days after the first purchase: how was the delivery?",
            "trigger": {"kind": "stage_entered", "stage_id": customer.pk},
            "steps": [
                {"key": "week", "kind": "wait", "config": {"duration": {"days": 7}, "next": "ask"}},
                {
                    "key": "ask",
                    "kind": "send_survey",
                    "config": {"survey_id": csat.pk, "channel": "email"},
                },
            ],
        },
        actor=ACTOR,
    )
    journey_schedule(journey=journey, actor=ACTOR)
    return True


def demo_survey_report_seed(*, workspace: Workspace) -> None:
    """The delivery survey was asked by the "Delivery survey" journey: its messages
    carry the journey's ask step, so the report shows the journey; then the survey
    rollups are rebuilt (the analytics rebuild ran before the surveys existed)."""
    step = JourneyStep.objects.filter(
        journey__workspace=workspace, journey__name="Delivery survey", key="ask"
    ).first()
    csat = Survey.objects.filter(workspace=workspace, name="Delivery satisfaction").first()
    if step is not None and csat is not None:
        Message.objects.filter(
            workspace=workspace, idempotency_key__startswith=f"demo-survey:{csat.pk}:"
        ).update(origin_kind=Origin.JOURNEY_STEP, origin_id=step.pk)
    survey_rollups_rebuild(workspace_id=workspace.pk)
    survey_sends_refresh(workspace_id=workspace.pk)
    answer_sums_rebuild(workspace_id=workspace.pk)  # settled history the engine never saw
