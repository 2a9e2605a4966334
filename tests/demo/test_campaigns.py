from __future__ import annotations

import pytest

from campaigns.models import Journey, JourneyEnrolment
from demo.campaigns import demo_journeys_seed, demo_messaging_seed
from lifecycle.hooks import transitions_dispatch
from lifecycle.services import stages_create_defaults
from lifecycle.services.moves import contact_stage_set
from messaging.models import Message, SandboxDelivery, Template
from messaging.services.previews import template_preview
from tests.factories import ContactFactory
from tests.messaging.helpers import ACTOR

pytestmark = pytest.mark.django_db


def test_demo_messaging_is_sent_through_the_sandbox_and_idempotent(ws):
    for i in range(6):
        ContactFactory.create(workspace=ws, phone=f"+1415555{i:04d}", sms_status="subscribed")
    ContactFactory.create(workspace=ws, email_status="unsubscribed")
    sent = demo_messaging_seed(workspace=ws, messages=10)
    assert Template.objects.filter(workspace=ws).count() == 3
    # 7 emails (one contact unsubscribed: suppressed) and 10 // 2 SMS.
    assert sent == SandboxDelivery.objects.count() == 6 + 5
    assert Message.objects.filter(status="suppressed").count() == 1
    assert demo_messaging_seed(workspace=ws, messages=10) == 0
    assert Message.objects.count() == 7 + 5


def test_demo_journeys_are_live_and_run(ws):
    stages = {s.key: s for s in stages_create_defaults(workspace=ws)}
    risky = ContactFactory.create(workspace=ws)
    contact_stage_set(contact=risky, stage=stages["at_risk"], actor=ACTOR)
    transitions_dispatch()
    assert demo_journeys_seed(workspace=ws) == 5
    assert demo_journeys_seed(workspace=ws) == 0
    assert set(Journey.objects.filter(workspace=ws).values_list("status", flat=True)) == {"live"}
    # The sample already in the at-risk stage got the first win-back email.
    winback = JourneyEnrolment.objects.get(journey__name="Win-back", contact=risky)
    assert winback.step is not None and winback.step.key == "wait"
    # Each arm of the win-back test sends its own win-back email, never the welcome.
    arms = {
        step.key: Template.objects.get(pk=step.config["template_id"]).name
        for step in winback.journey.steps.filter(key__in=["offer", "reminder"])
    }
    assert arms == {"offer": "We miss you", "reminder": "Win-back reminder"}
    offer = Template.objects.get(workspace=ws, name="We miss you")
    rendered = template_preview(template=offer, contact=risky)
    assert "since your last order" in rendered.html  # not "You were a at risk of ours"
    # A new subscriber enters the welcome series through the stage trigger.
    newcomer = ContactFactory.create(workspace=ws)
    contact_stage_set(contact=newcomer, stage=stages["subscriber"], actor=ACTOR)
    transitions_dispatch()
    assert JourneyEnrolment.objects.filter(
        journey__name="Welcome series", contact=newcomer
    ).exists()
