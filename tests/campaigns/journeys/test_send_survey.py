"""The journey "send survey" step (campaigns/journeys/steps/survey.py): the survey's
one-tap message, once per enrolment and step, refused for another workspace's
survey, and offered in the API schema and on the canvas."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from campaigns.journeys.triggers import enrol_api
from campaigns.models import JourneyEnrolment, JourneyStep
from messaging.models import Message
from messaging.services.claims import messages_claim
from messaging.services.dispatch import messages_send
from messaging.services.outgoing import messages_render
from tests.campaigns.journeys.helpers import advance, enrolment, journey, later, step, where
from tests.factories import ContactFactory
from tests.surveys.helpers import answer_links, nps_survey

pytestmark = pytest.mark.django_db


def survey_journey(ws, survey, channel="email"):
    return journey(
        ws,
        {"kind": "manual"},
        [
            step("wait", "wait", duration={"days": 7}, next="ask"),
            step("ask", "send_survey", survey_id=survey.pk, channel=channel),
        ],
    )


def test_sends_the_surveys_one_tap_email_once_even_when_run_twice(ws):
    survey = nps_survey(ws)
    j = survey_journey(ws, survey)
    c = ContactFactory.create(workspace=ws, email_status="subscribed")
    enrol_api(j, [c.pk])
    advance()
    assert Message.objects.filter(contact=c).count() == 0  # still waiting seven days
    advance(later(days=7, minutes=1))
    assert where(j, c) == "completed"
    ask = JourneyStep.objects.get(journey=j, key="ask")
    message = Message.objects.get(contact=c)
    e = enrolment(j, c)
    assert message.idempotency_key == f"journey:{e.pk}:{ask.pk}"
    assert (message.channel, message.origin_id, message.transactional) == ("email", ask.pk, False)
    # The same enrolment at the same step again (a worker retrying its claim): no second.
    JourneyEnrolment.objects.filter(pk=e.pk).update(
        status="active", step=ask, due_at=timezone.now(), finished_at=None
    )
    advance(later(days=7, minutes=2))
    assert Message.objects.filter(contact=c).count() == 1
    # Rendered by the real pipeline it carries the survey's scale as one-tap links.
    message = Message.objects.select_related("contact", "template", "workspace").get(pk=message.pk)
    messages_render([message])
    message.refresh_from_db()
    assert len(answer_links(message)) == 11
    assert survey.question in message.subject


def test_a_transactional_survey_by_sms_skips_caps_and_quiet_hours(ws):
    survey = nps_survey(ws, transactional=True)
    j = journey(
        ws, {"kind": "manual"}, [step("ask", "send_survey", survey_id=survey.pk, channel="sms")]
    )
    c = ContactFactory.create(workspace=ws, phone="+6421555124", sms_status="subscribed")
    enrol_api(j, [c.pk])
    advance()
    message = Message.objects.get(contact=c)
    assert (message.channel, message.transactional) == ("sms", True)
    assert message.template is not None and message.template.channel == "sms"


def test_a_survey_deleted_after_saving_sends_nothing_and_moves_on(ws):
    survey = nps_survey(ws)
    j = journey(
        ws, {"kind": "manual"}, [step("ask", "send_survey", survey_id=survey.pk, channel="email")]
    )
    survey.delete()
    c = ContactFactory.create(workspace=ws)
    enrol_api(j, [c.pk])
    advance()
    assert where(j, c) == "completed" and not Message.objects.filter(contact=c).exists()


def test_the_api_refuses_another_workspaces_survey_by_its_field(api, ws, outsider):
    theirs = nps_survey(outsider.workspace)
    mine = nps_survey(ws)
    body: dict[str, Any] = {
        "name": "Ask after purchase",
        "trigger": {"kind": "manual"},
        "steps": [{"key": "ask", "kind": "send_survey", "config": {"survey_id": theirs.pk}}],
    }
    refused = api.post("/api/v1/journeys/", body, format="json")
    assert refused.status_code == 400
    fields = refused.json()["error"]["fields"]
    assert fields["steps[0].config.survey_id"] == ["no such survey in this workspace"]
    assert fields["steps[0].config.channel"] == ["must be email or sms"]
    body["steps"][0]["config"] = {"survey_id": mine.pk, "channel": "sms"}
    created = api.post("/api/v1/journeys/", body, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["steps"][0]["config"] == {"survey_id": mine.pk, "channel": "sms"}


def test_the_outsider_cannot_see_the_journey(api, ws, outsider_api):
    survey = nps_survey(ws)
    j = survey_journey(ws, survey)
    assert outsider_api.get(f"/api/v1/journeys/{j.pk}/").status_code == 404


def test_the_step_is_in_the_api_schema(api):
    schema = api.get("/api/schema/", {"format": "json"}).json()["components"]["schemas"]
    kinds = [s for s in schema.values() if "send_survey" in (s.get("enum") or [])]
    assert kinds, "send_survey is not among the step kinds"
    described = [
        s["properties"]["config"].get("description", "")
        for s in schema.values()
        if "config" in s.get("properties", {})
    ]
    assert any('send_survey: {"survey_id"' in d for d in described)


def test_the_canvas_offers_the_workspaces_surveys_only(owner, ws, outsider):
    nps_survey(outsider.workspace, name="Not ours")
    nps_survey(ws, name="Delivery NPS")
    page = owner.web.get(f"/w/{ws.slug}/journeys/new/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Delivery NPS" in text and "Not ours" not in text
    assert '"send_survey"' in text


def test_quiet_hours_hold_a_marketing_survey_and_sms_opt_outs_leave_unasked(ws, settings):
    settings.CAMPAIGNS_SMS_QUIET_HOURS = "00:00-23:59"  # always quiet
    marketing = nps_survey(ws, name="Marketing NPS")
    receipt = nps_survey(ws, name="After support", transactional=True)
    steps = [
        step("ask", "send_survey", survey_id=marketing.pk, channel="sms", next="ask_too"),
        step("ask_too", "send_survey", survey_id=receipt.pk, channel="sms"),
    ]
    j = journey(ws, {"kind": "manual"}, steps)
    subscribed = ContactFactory.create(workspace=ws, phone="+6421555125", sms_status="subscribed")
    gone = ContactFactory.create(workspace=ws, phone="+6421555126", sms_status="unsubscribed")
    enrol_api(j, [subscribed.pk, gone.pk])
    advance()
    messages_send(claims=messages_claim(limit=100))
    status = {
        (m.contact_id, m.template.name if m.template else ""): m.status
        for m in Message.objects.filter(workspace=ws).select_related("template")
    }
    assert status[(subscribed.pk, "Survey “Marketing NPS” · sms")] == "scheduled"  # deferred
    assert status[(subscribed.pk, "Survey “After support” · sms")] == "sent"
    # The journey sends by SMS, so a contact who opted out of SMS leaves it unasked.
    assert where(j, gone) == "exited:unsubscribed"
    assert not Message.objects.filter(contact=gone).exists()


def test_a_viewer_reads_the_survey_step_in_words(teammate, ws):
    survey = nps_survey(ws, name="Delivery <NPS>")
    j = survey_journey(ws, survey, channel="sms")
    page = teammate.web.get(f"/w/{ws.slug}/journeys/{j.pk}/")
    assert page.status_code == 200
    assert "Survey “Delivery &lt;NPS&gt;” by SMS" in page.content.decode()
