"""The loyalty journey triggers: tier changed, points earned, points about to expire
and reward redeemed let contacts in once each, from what the real loyalty services do
(purchases through the engine, the expiry task, a redemption); the form and the API
take them."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.db import transaction
from django.utils import timezone

from campaigns.journeys import triggers
from campaigns.models import Journey, JourneyEnrolment
from loyalty.hooks import LoyaltyNews
from loyalty.models import EntryKind, Programme, Redemption, SourceKind
from loyalty.services import (
    balance_lock,
    entry_append,
    points_expire,
    reward_create,
    reward_redeem,
    tier_create,
)
from tests.campaigns.journeys.helpers import journey, step
from tests.factories import ContactFactory
from tests.loyalty.helpers import ACTOR, ingest, programme, purchase

pytestmark = pytest.mark.django_db


def entered(j: Journey) -> list[tuple[int, str]]:
    return list(
        JourneyEnrolment.objects.filter(journey=j)
        .order_by("id")
        .values_list("contact_id", "trigger_key")
    )


def test_tier_and_points_triggers_enter_once(ws, tpl):
    programme(ws)
    gold = tier_create(workspace=ws, data={"name": "Gold", "threshold": 300}, actor=ACTOR)
    tier_create(workspace=ws, data={"name": "Silver", "threshold": 100}, actor=ACTOR)
    to_gold = journey(
        ws,
        {"kind": "tier_changed", "tier_id": gold.pk, "direction": "up"},
        [step("a", "send_email", template_id=tpl.pk)],
        name="Welcome to Gold",
    )
    any_up = journey(
        ws,
        {"kind": "tier_changed", "direction": "up"},
        [step("a", "send_email", template_id=tpl.pk)],
        name="Any tier",
        reentry="always",
    )
    big = journey(
        ws,
        {"kind": "points_earned", "min_points": 200},
        [step("a", "send_email", template_id=tpl.pk)],
        name="Big earners",
        reentry="always",
    )
    contact = ContactFactory.create(workspace=ws)
    ingest(ws, purchase(contact, "150", properties={"order_id": "A"}))  # 150: Silver
    assert entered(to_gold) == [] and entered(big) == []
    assert [c for c, _ in entered(any_up)] == [contact.pk]
    ingest(ws, purchase(contact, "250", properties={"order_id": "B"}))  # 400: Gold
    assert [c for c, _ in entered(to_gold)] == [contact.pk]
    assert entered(to_gold)[0][1].startswith("tier:")
    assert [c for c, k in entered(big)] == [contact.pk] and entered(big)[0][1].startswith("points:")
    # The hook offered the same news again (a retried batch): nobody enters twice.
    news = [
        LoyaltyNews(
            kind="points_earned",
            workspace_id=ws.pk,
            contact_id=contact.pk,
            key=entered(big)[0][1],
            at=timezone.now(),
            points=250,
        )
    ]
    JourneyEnrolment.objects.filter(journey=big).update(status="completed")
    triggers.on_loyalty_news(news)
    assert len(entered(big)) == 1


def test_expiring_points_and_redemptions_enter(ws, tpl, outsider):
    programme(ws, expiry_months=12, expiry_reminder_days=14)
    reward = reward_create(
        workspace=ws,
        data={"name": "Tote bag", "kind": "free_item", "points_cost": 50},
        actor=ACTOR,
    )
    expiring = journey(
        ws,
        {"kind": "points_expiring"},
        [step("a", "send_email", template_id=tpl.pk)],
        name="Use them",
        reentry="always",
    )
    redeemed = journey(
        ws,
        {"kind": "reward_redeemed", "reward_id": reward.pk},
        [step("a", "send_email", template_id=tpl.pk)],
        name="Enjoy",
    )
    contact = ContactFactory.create(workspace=ws, time_zone="UTC")
    ingest(ws, purchase(contact, "120", properties={"order_id": "A"}))
    reward_redeem(
        contact=contact, data={"reward_id": reward.pk, "idempotency_key": "k1"}, actor=ACTOR
    )
    assert entered(redeemed) == [(contact.pk, f"redemption:{contact_redemption(contact)}")]
    prog = Programme.objects.select_related("workspace").get(workspace=ws)
    soon = timezone.now() + dt.timedelta(days=365 - 10)
    assert points_expire(programme=prog, now=soon) == (0, 1)
    assert points_expire(programme=prog, now=soon + dt.timedelta(hours=1)) == (0, 0)
    assert [c for c, _ in entered(expiring)] == [contact.pk]
    # Another workspace's news enters nobody here.
    stranger = ContactFactory.create(workspace=outsider.workspace)
    with transaction.atomic():
        entry_append(
            balance=balance_lock(workspace_id=outsider.workspace.pk, contact_id=stranger.pk),
            kind=EntryKind.EARN,
            points=10,
            idempotency_key="x",
            source_kind=SourceKind.SYSTEM,
        )
    programme(outsider.workspace, expiry_months=12, expiry_reminder_days=14)
    other = Programme.objects.select_related("workspace").get(workspace=outsider.workspace)
    assert points_expire(programme=other, now=soon) == (0, 1)
    assert [c for c, _ in entered(expiring)] == [contact.pk]


def contact_redemption(contact) -> int:
    return Redemption.objects.get(contact=contact).pk


@pytest.mark.parametrize(
    ("trigger", "path", "reason"),
    [
        ({"kind": "tier_changed", "tier_id": 999999}, "trigger.tier_id", "no such tier"),
        ({"kind": "tier_changed", "direction": "sideways"}, "trigger.direction", "up, down"),
        ({"kind": "points_earned", "min_points": 0}, "trigger.min_points", "from 1"),
        ({"kind": "reward_redeemed", "reward_id": "7"}, "trigger.reward_id", "no such reward"),
    ],
)
def test_a_bad_trigger_is_a_400_naming_the_field(api, tpl, trigger, path, reason):
    body = {
        "name": "Bad",
        "trigger": trigger,
        "steps": [step("a", "send_email", template_id=tpl.pk)],
    }
    response = api.post("/api/v1/journeys/", body, format="json")
    assert response.status_code == 400, response.content
    reasons = response.json()["error"]["fields"][path]
    assert any(reason in r for r in reasons), reasons


def test_an_outsiders_tier_is_refused(api, tpl, outsider):
    theirs = tier_create(
        workspace=outsider.workspace, data={"name": "Gold", "threshold": 1}, actor=ACTOR
    )
    body = {
        "name": "Theirs",
        "trigger": {"kind": "tier_changed", "tier_id": theirs.pk},
        "steps": [step("a", "send_email", template_id=tpl.pk)],
    }
    response = api.post("/api/v1/journeys/", body, format="json")
    assert response.status_code == 400
    assert "trigger.tier_id" in response.json()["error"]["fields"]


def test_the_form_picks_a_loyalty_trigger_without_json(owner, ws, tpl):
    gold = tier_create(workspace=ws, data={"name": "Gold", "threshold": 300}, actor=ACTOR)
    form = {
        "name": "Gold welcome",
        "trigger_kind": "tier_changed",
        "trigger_tier_id": str(gold.pk),
        "trigger_direction": "up",
        "goal_kind": "",
        "goal_days": "7",
        "reentry": "once",
        "reentry_days": "0",
        "holdout_percent": "0",
        "steps": json.dumps([step("a", "send_email", template_id=tpl.pk)]),
    }
    page = owner.web.get(f"/w/{ws.slug}/journeys/new/").content.decode()
    assert 'name="trigger_tier_id"' in page and ">Gold</option>" in page
    assert "Changes loyalty tier" in page and "Redeems a reward" in page
    response = owner.web.post(f"/w/{ws.slug}/journeys/new/", form)
    assert response.status_code == 302, response.content.decode()[:3000]
    saved = Journey.objects.get(workspace=ws, name="Gold welcome")
    assert saved.trigger == {"kind": "tier_changed", "tier_id": gold.pk, "direction": "up"}
    page = owner.web.get(response["Location"]).content.decode()
    assert "Moves up to tier “Gold”" in page
    bad = owner.web.post(
        f"/w/{ws.slug}/journeys/new/",
        {**form, "name": "X", "trigger_kind": "points_earned", "trigger_min_points": "-3"},
    )
    assert "trigger.min_points: must be a whole number from 1" in bad.content.decode()
