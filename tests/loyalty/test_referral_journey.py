"""The journeys' "referral converted" trigger, fed by loyalty's on_referral_converted
hook: the chosen side enters a live journey once per referral, however often the
conversion is offered again; a bad side is a 400 naming trigger.side."""

from __future__ import annotations

import pytest

from campaigns.journeys.services import journey_create, journey_schedule
from campaigns.models import JourneyEnrolment
from loyalty.models import Referral
from loyalty.services.referrals import referral_code_ensure, referral_settings_update
from loyalty.services.referrals_conversion import referrals_for_refreshed
from messaging.services import template_create
from tests.factories import ContactFactory
from tests.loyalty.helpers import ACTOR, ingest, purchase

pytestmark = pytest.mark.django_db


def _journey(ws, trigger):
    template = template_create(
        workspace=ws,
        data={"name": f"thanks {trigger}", "channel": "email", "subject": "s", "body": "b"},
        actor=ACTOR,
    )
    journey = journey_create(
        workspace=ws,
        data={
            "name": f"referral {trigger.get('side')}",
            "trigger": trigger,
            "steps": [{"key": "hi", "kind": "send_email", "config": {"template_id": template.pk}}],
        },
        actor=ACTOR,
    )
    return journey_schedule(journey=journey, actor=ACTOR)


def test_referral_converted_enrols_the_chosen_side_once(ws, api):
    referral_settings_update(
        workspace=ws, data={"enabled": True, "referrer_points": 5}, actor=ACTOR
    )
    thanks = _journey(ws, {"kind": "referral_converted", "side": "referrer"})
    welcome = _journey(ws, {"kind": "referral_converted", "side": "friend"})
    ann = ContactFactory.create(workspace=ws)
    code = referral_code_ensure(contact=ann)
    assert code is not None
    body = {"email": "friend@example.net", "referred_by": code.code}
    assert api.post("/api/v1/contacts/", body, format="json").status_code == 201
    referral = Referral.objects.get()
    assert not JourneyEnrolment.objects.exists()  # signing up is not converting
    ingest(ws, purchase(referral.referred, "30"))
    ingest(ws, purchase(referral.referred, "45"))
    referrals_for_refreshed([referral.referred_id])
    rows = set(JourneyEnrolment.objects.values_list("journey_id", "contact_id", "trigger_key"))
    assert rows == {
        (thanks.pk, ann.pk, f"referral:{referral.pk}:referrer"),
        (welcome.pk, referral.referred_id, f"referral:{referral.pk}:friend"),
    }


def test_bad_side_is_a_400_naming_the_field(ws, api):
    template = template_create(
        workspace=ws,
        data={"name": "t", "channel": "email", "subject": "s", "body": "b"},
        actor=ACTOR,
    )
    response = api.post(
        "/api/v1/journeys/",
        {
            "name": "bad",
            "trigger": {"kind": "referral_converted", "side": "both"},
            "steps": [{"key": "hi", "kind": "send_email", "config": {"template_id": template.pk}}],
        },
        format="json",
    )
    assert response.status_code == 400
    assert "trigger.side" in response.json()["error"]["fields"]
