"""The demo's surveys: a quarterly NPS answered by customers over the last four
months (scores by their stage: advocates mostly promoters, lapsed customers mostly
detractors) with some comments, and a CSAT after delivery, so the Surveys pages, their
report and the rule fields (nps_category, csat_score) show something real; and a
journey that asks the CSAT a week after a first purchase."""

from __future__ import annotations

import datetime as dt
import random

from django.db import transaction
from django.utils import timezone

from campaigns.journeys.services import journey_create, journey_schedule
from campaigns.models import Journey
from lifecycle.models import ContactStage, Stage
from surveys import scales
from surveys.facts import facts_refresh
from surveys.models import Survey, SurveyResponse
from surveys.services import survey_create
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


@transaction.atomic
def demo_surveys_seed(*, workspace: Workspace, seed: int = 7) -> int:
    """Create the surveys and their answers; returns the number of answers."""
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
    states = list(
        ContactStage.objects.filter(
            workspace=workspace, stage__key__in=list(NPS_BY_STAGE)
        ).select_related("stage")
    )
    rows = []
    for state in states:
        if rng.random() > 0.35:
            continue  # about a third answer
        score = rng.choice(NPS_BY_STAGE[state.stage.key])
        category = scales.category(nps.kind, score)
        at = now - dt.timedelta(days=rng.uniform(1, 120))
        rows.append(
            SurveyResponse(
                workspace=workspace,
                survey=nps,
                contact_id=state.contact_id,
                send_key=f"demo-nps-{state.contact_id}",
                score=score,
                category=category,
                comment=rng.choice(COMMENTS[category]) if rng.random() < 0.3 else "",
                channel="email",
                stage=state.stage,
                stage_name=state.stage.name,
                answered_at=at,
                updated_at=at,
                last_tap_at=at,
            )
        )
        if rng.random() < 0.4:
            satisfied = rng.choice([5, 5, 4, 4, 3]) if score >= 7 else rng.choice([4, 3, 2, 1])
            csat_at = at - dt.timedelta(days=rng.uniform(1, 20))
            rows.append(
                SurveyResponse(
                    workspace=workspace,
                    survey=csat,
                    contact_id=state.contact_id,
                    send_key=f"demo-csat-{state.contact_id}",
                    score=satisfied,
                    category=scales.category(csat.kind, satisfied),
                    channel="email",
                    stage=state.stage,
                    stage_name=state.stage.name,
                    answered_at=csat_at,
                    updated_at=csat_at,
                    last_tap_at=csat_at,
                )
            )
    SurveyResponse.objects.bulk_create(rows, batch_size=1000)
    for contact_id in sorted({row.contact_id for row in rows if row.contact_id}):
        facts_refresh(workspace_id=workspace.pk, contact_id=contact_id)
    return len(rows)


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
