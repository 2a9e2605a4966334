"""A/B tests on journey send steps: the pool, then the winner on clicks or conversions."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from campaigns.journeys.selectors import journey_edit_impact
from campaigns.journeys.triggers import enrol_api
from campaigns.models import JourneyEnrolment, JourneyStep
from config.errors import InvalidInput
from messaging.models import Message
from tests.campaigns.journeys.helpers import (
    advance,
    enrolment,
    journey,
    later,
    sent_steps,
    step,
)
from tests.factories import ContactFactory
from tests.messaging.helpers import email_template

pytestmark = pytest.mark.django_db

UTC = dt.UTC


def _ab_journey(ws, tpl, metric="clicks"):
    other = email_template(ws, name="B subject", subject="Something else")
    return journey(
        ws,
        {"kind": "manual"},
        [
            step(
                "offer",
                "send_email",
                variants=[
                    {"label": "A", "template_id": tpl.pk, "weight": 1},
                    {"label": "B", "template_id": other.pk, "weight": 1},
                ],
                winner={"pool": 40, "wait_hours": 2, "metric": metric},
            )
        ],
        goal={"rule": {"attr": "bought", "op": "eq", "value": True}},
    ), other


@pytest.mark.parametrize(("b_clicks", "winner"), [(15, "B"), (4, "A")])
def test_journey_ab_pool_then_winner_on_clicks(ws, tpl, b_clicks, winner):
    j, other = _ab_journey(ws, tpl)
    pool = ContactFactory.create_batch(40, workspace=ws)
    enrol_api(j, [c.pk for c in pool])
    advance()
    offer = JourneyStep.objects.get(journey=j, key="offer")
    assert {k: v for k, v in offer.assigned.items() if k in "AB"} == {"A": 20, "B": 20}
    rest = ContactFactory.create_batch(10, workspace=ws)
    enrol_api(j, [c.pk for c in rest])
    advance()
    assert Message.objects.filter(contact__in=rest).count() == 0  # waiting for the winner
    sent = Message.objects.filter(origin_kind="journey_step", origin_id=offer.pk)
    sent.update(sent_at=timezone.now())
    a_ids = list(sent.filter(template=tpl).values_list("pk", flat=True)[:2])
    b_ids = list(sent.filter(template=other).values_list("pk", flat=True)[:b_clicks])
    Message.objects.filter(pk__in=a_ids + b_ids).update(clicked_at=timezone.now())
    advance(later(hours=1))
    assert Message.objects.filter(contact__in=rest).count() == 0
    advance(later(hours=2, minutes=1))
    expected = other if winner == "B" else tpl
    assert set(Message.objects.filter(contact__in=rest).values_list("template", flat=True)) == {
        expected.pk
    }
    offer.refresh_from_db()
    assert offer.assigned["_winner"]["label"] == winner
    assert ("p=" in offer.assigned["_winner"]["reason"]) == (winner == "B" or b_clicks > 2)


def test_journey_ab_judged_on_conversions(ws, tpl):
    j, other = _ab_journey(ws, tpl, metric="conversions")
    pool = ContactFactory.create_batch(40, workspace=ws)
    enrol_api(j, [c.pk for c in pool])
    advance()
    b_contacts = list(
        JourneyEnrolment.objects.filter(journey=j, path__offer="B").values_list(
            "contact", flat=True
        )
    )
    JourneyEnrolment.objects.filter(contact__in=b_contacts[:12]).update(converted_at=timezone.now())
    late = ContactFactory.create(workspace=ws)
    enrol_api(j, [late.pk])
    advance(later(hours=2, minutes=1))
    assert Message.objects.get(contact=late).template_id == other.pk


def _arms_journey(ws, tpl):
    """A/B at the start; arm A goes on to a wait, arm B ends at once."""
    other = email_template(ws, name="B subject", subject="Something else")
    follow = email_template(ws, name="Follow-up", subject="Again")
    return journey(
        ws,
        {"kind": "manual"},
        [
            step(
                "offer",
                "send_email",
                variants=[
                    {"label": "A", "template_id": tpl.pk, "weight": 1, "next": "nudge"},
                    {"label": "B", "template_id": other.pk, "weight": 1, "next": None},
                ],
            ),
            step("nudge", "send_email", template_id=follow.pk),
        ],
    ), follow


def test_each_variant_follows_its_own_next_step(ws, tpl):
    j, follow = _arms_journey(ws, tpl)
    contacts = ContactFactory.create_batch(10, workspace=ws)
    enrol_api(j, [c.pk for c in contacts])
    advance()
    for contact in contacts:
        e = enrolment(j, contact)
        followed = Message.objects.filter(contact=contact, template=follow).exists()
        if e.path["offer"] == "A":
            assert followed and sent_steps(contact) == ["offer", "nudge"]
        else:
            assert not followed and sent_steps(contact) == ["offer"]
        assert e.status == "completed"
    arms = JourneyEnrolment.objects.filter(journey=j).values_list("path__offer", flat=True)
    assert sorted(arms) == ["A"] * 5 + ["B"] * 5


def test_after_the_test_everyone_follows_the_winners_arm(ws, tpl):
    other = email_template(ws, name="B subject", subject="Something else")
    follow = email_template(ws, name="Follow-up", subject="Again")
    j = journey(
        ws,
        {"kind": "manual"},
        [
            step(
                "offer",
                "send_email",
                variants=[
                    {"label": "A", "template_id": tpl.pk, "weight": 1, "next": None},
                    {"label": "B", "template_id": other.pk, "weight": 1, "next": "nudge"},
                ],
                winner={"pool": 20, "wait_hours": 1, "metric": "clicks"},
            ),
            step("nudge", "send_email", template_id=follow.pk),
        ],
    )
    enrol_api(j, [c.pk for c in ContactFactory.create_batch(20, workspace=ws)])
    advance()
    offer = JourneyStep.objects.get(journey=j, key="offer")
    sent = Message.objects.filter(origin_kind="journey_step", origin_id=offer.pk)
    sent.update(sent_at=timezone.now())
    clicked = list(sent.filter(template=other).values_list("pk", flat=True)[:9])
    Message.objects.filter(pk__in=clicked).update(clicked_at=timezone.now())
    late = ContactFactory.create(workspace=ws)
    enrol_api(j, [late.pk])
    advance(later(hours=1, minutes=1))
    assert enrolment(j, late).path["offer"] == "B"
    assert sent_steps(late) == ["offer", "nudge"]


def test_a_variant_without_its_own_next_goes_to_the_steps_next(ws, tpl):
    other = email_template(ws, name="B subject", subject="Something else")
    j = journey(
        ws,
        {"kind": "manual"},
        [
            step(
                "offer",
                "send_email",
                variants=[
                    {"label": "A", "template_id": tpl.pk, "weight": 1},
                    {"label": "B", "template_id": other.pk, "weight": 1, "next": None},
                ],
                next="nudge",
            ),
            step("nudge", "send_email", template_id=tpl.pk),
        ],
    )
    a, b = ContactFactory.create_batch(2, workspace=ws)
    enrol_api(j, [a.pk, b.pk])
    advance()
    took = {enrolment(j, c).path["offer"]: c for c in (a, b)}
    assert sent_steps(took["A"]) == ["offer", "nudge"]
    assert sent_steps(took["B"]) == ["offer"]


def test_a_variant_naming_an_unknown_step_is_refused_on_that_step(ws, tpl):
    other = email_template(ws, name="B subject", subject="Something else")
    with pytest.raises(InvalidInput) as refused:
        journey(
            ws,
            {"kind": "manual"},
            [
                step(
                    "offer",
                    "send_email",
                    variants=[
                        {"label": "A", "template_id": tpl.pk, "next": "nowhere"},
                        {"label": "B", "template_id": other.pk},
                    ],
                )
            ],
        )
    assert "goes to unknown step 'nowhere'" in str(refused.value.fields["steps[0].config"])


def test_the_same_arms_written_per_variant_are_no_change_to_a_live_journey(ws, tpl):
    """The canvas writes a shared next into each variant; that is no edit."""
    other = email_template(ws, name="B subject", subject="Something else")
    shared = [
        step(
            "offer",
            "send_email",
            variants=[
                {"label": "A", "template_id": tpl.pk, "weight": 1},
                {"label": "B", "template_id": other.pk, "weight": 1},
            ],
            next="nudge",
        ),
        step("nudge", "wait", duration={"days": 1}),
    ]
    j = journey(ws, {"kind": "manual"}, shared)
    per_arm = [
        step(
            "offer",
            "send_email",
            variants=[
                {"label": "A", "template_id": tpl.pk, "weight": 1, "next": "nudge"},
                {"label": "B", "template_id": other.pk, "weight": 1, "next": "nudge"},
            ],
        ),
        step("nudge", "wait", duration={"days": 1}),
    ]
    assert journey_edit_impact(journey=j, data={"steps": per_arm})["steps"] == []
    per_arm[0]["config"]["variants"][1]["next"] = None
    changed = journey_edit_impact(journey=j, data={"steps": per_arm})["steps"]
    assert [(c["key"], c["change"]) for c in changed] == [("offer", "changed")]
