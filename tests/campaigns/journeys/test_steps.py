"""Each journey step kind moving contacts (campaigns/journeys/steps/): sends, waits,
routes and actions."""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo

import pytest
from django.utils import timezone

from campaigns.journeys.steps import next_local, webhook_signature
from campaigns.journeys.triggers import enrol_api
from campaigns.models import JourneyStep
from campaigns.send_time import best_send_times
from contacts.models import Contact
from contacts.services.marks import contacts_mark_changed
from lifecycle.models import ContactStage
from lifecycle.services import marked_contacts_evaluate
from messaging.models import Message
from tests.campaigns.journeys.helpers import (
    advance,
    enrolment,
    ingest,
    journey,
    later,
    sent_steps,
    step,
    where,
)
from tests.factories import ContactFactory
from tests.http_stub import Answer, HttpStub
from tests.messaging.helpers import sms_template

pytestmark = pytest.mark.django_db

UTC = dt.UTC


def test_send_sms_and_update_attribute_and_move_stage(ws, stages):
    sms = sms_template(ws)
    j = journey(
        ws,
        {"kind": "manual"},
        [
            step("text", "send_sms", template_id=sms.pk, next="tag"),
            step("tag", "update_attribute", attribute="vip", value={"since": 2026}, next="untag"),
            step("untag", "update_attribute", attribute="legacy", value=None, next="promote"),
            step("promote", "move_stage", stage_id=stages["loyal"].pk, pin_days=30),
        ],
    )
    c = ContactFactory.create(
        workspace=ws, phone="+6421555123", sms_status="subscribed", attributes={"legacy": 1}
    )
    enrol_api(j, [c.pk])
    advance()
    c.refresh_from_db()
    assert c.attributes == {"vip": {"since": 2026}}
    assert Message.objects.get(contact=c).channel == "sms"
    current = ContactStage.objects.get(contact=c)
    assert current.stage_id == stages["loyal"].pk and current.pinned
    assert current.pinned_until is not None and current.pinned_until > later(days=29)
    assert where(j, c) == "completed"


def test_branch_on_a_rule(ws, tpl):
    j = journey(
        ws,
        {"kind": "manual"},
        [
            step(
                "q",
                "branch",
                rule={"attr": "plan", "op": "eq", "value": "pro"},
                yes="pro",
                no="free",
            ),
            step("pro", "send_email", template_id=tpl.pk),
            step("free", "exit"),
        ],
    )
    pro = ContactFactory.create(workspace=ws, attributes={"plan": "pro"})
    free = ContactFactory.create(workspace=ws, attributes={"plan": "free"})
    enrol_api(j, [pro.pk, free.pk])
    advance()
    assert sent_steps(pro) == ["pro"] and sent_steps(free) == []
    assert where(j, free) == "exited:exit step"


def test_random_split_is_exact_within_one_contact(ws, tpl):
    j = journey(
        ws,
        {"kind": "manual"},
        [
            step(
                "split",
                "split",
                paths=[
                    {"label": "A", "weight": 50, "next": "a"},
                    {"label": "B", "weight": 30, "next": "b"},
                    {"label": "C", "weight": 20, "next": None},
                ],
            ),
            step("a", "send_email", template_id=tpl.pk),
            step("b", "send_email", template_id=tpl.pk),
        ],
    )
    contacts = ContactFactory.create_batch(97, workspace=ws)
    # Arriving in uneven batches, as they would from triggers.
    for chunk in (contacts[:13], contacts[13:14], contacts[14:60], contacts[60:]):
        enrol_api(j, [c.pk for c in chunk])
        advance()
    counts = JourneyStep.objects.get(journey=j, key="split").assigned
    assert sum(counts.values()) == 97
    for label, weight in (("A", 50), ("B", 30), ("C", 20)):
        assert abs(counts[label] - 97 * weight / 100) <= 1, counts
    assert (
        Message.objects.filter(
            origin_kind="journey_step", origin_id=JourneyStep.objects.get(key="a").pk
        ).count()
        == counts["A"]
    )


def test_wait_until_local_time_across_dst(ws):
    # Sunday 5 April 2026: New Zealand leaves daylight time at 03:00 (→ 02:00).
    saturday_night = dt.datetime(2026, 4, 4, 12, 0, tzinfo=UTC)  # Sun 01:00 NZDT
    when = next_local(saturday_night, dt.time(9, 0), [], "Pacific/Auckland", "UTC")
    assert when == dt.datetime(2026, 4, 4, 21, 0, tzinfo=UTC)  # 09:00 NZST (+12)
    # The next Monday at 09:00, from Kiritimati (+14) and Pago Pago (-11).
    assert next_local(saturday_night, dt.time(9, 0), [0], "Pacific/Kiritimati", "UTC") == (
        dt.datetime(2026, 4, 5, 19, 0, tzinfo=UTC)
    )
    assert next_local(saturday_night, dt.time(9, 0), [0], "Pacific/Pago_Pago", "UTC") == (
        dt.datetime(2026, 4, 6, 20, 0, tzinfo=UTC)
    )
    # A contact without a zone uses the workspace's.
    assert next_local(saturday_night, dt.time(9, 0), [], "", "Europe/Paris") == dt.datetime(
        2026, 4, 5, 7, 0, tzinfo=UTC
    )


def test_wait_until_step_parks_each_contact_until_its_local_time(ws, tpl):
    j = journey(
        ws,
        {"kind": "manual"},
        [
            step("morning", "wait_until", time="09:00", next="send"),
            step("send", "send_email", template_id=tpl.pk),
        ],
    )
    nz = ContactFactory.create(workspace=ws, time_zone="Pacific/Auckland")
    samoa = ContactFactory.create(workspace=ws, time_zone="Pacific/Pago_Pago")
    enrol_api(j, [nz.pk, samoa.pk])
    advance()
    for c, zone in ((nz, "Pacific/Auckland"), (samoa, "Pacific/Pago_Pago")):
        due = enrolment(j, c).due_at
        local = due.astimezone(zoneinfo.ZoneInfo(zone))
        assert (local.hour, local.minute) == (9, 0)
        assert timezone.now() <= due <= later(days=1)
    advance(later(days=1, minutes=1))
    assert sent_steps(nz) == ["send"] and sent_steps(samoa) == ["send"]


def test_wait_for_event_releases_early_or_times_out(ws, tpl):
    j = journey(
        ws,
        {"kind": "manual"},
        [
            step(
                "bought",
                "wait_for",
                event={"name": "purchase"},
                timeout={"hours": 24},
                next="thanks",
                timeout_next="nudge",
            ),
            step("thanks", "send_email", template_id=tpl.pk),
            step("nudge", "send_email", template_id=tpl.pk),
        ],
    )
    buyer, idle = ContactFactory.create_batch(2, workspace=ws)
    enrol_api(j, [buyer.pk, idle.pk])
    advance()
    assert where(j, buyer) == "bought"
    ingest(ws, buyer, "purchase")  # wakes the enrolment: due now
    advance()
    assert sent_steps(buyer) == ["thanks"]
    assert sent_steps(idle) == []
    advance(later(hours=23))
    assert sent_steps(idle) == []
    advance(later(hours=24, minutes=1))
    assert sent_steps(idle) == ["nudge"]


def test_wait_for_a_rule(ws, tpl):
    j = journey(
        ws,
        {"kind": "manual"},
        [
            step(
                "verified",
                "wait_for",
                rule={"attr": "verified", "op": "eq", "value": True},
                timeout={"days": 3},
                next="ok",
            ),
            step("ok", "send_email", template_id=tpl.pk),
        ],
    )
    already = ContactFactory.create(workspace=ws, attributes={"verified": True})
    later_one = ContactFactory.create(workspace=ws)
    enrol_api(j, [already.pk, later_one.pk])
    advance()
    assert sent_steps(already) == ["ok"]
    Contact.objects.filter(pk=later_one.pk).update(attributes={"verified": True})
    contacts_mark_changed(contact_ids=[later_one.pk])
    marked_contacts_evaluate()
    advance()
    assert sent_steps(later_one) == ["ok"]


def test_webhook_step_signs_and_retries(ws, tpl):
    # The receiver fails the first two calls (503), then takes them (204).
    receiver = HttpStub(lambda request, before: Answer(503 if before < 2 else 204))
    try:
        j = journey(
            ws,
            {"kind": "manual"},
            [
                step("crm", "webhook", url=f"{receiver.url}/hook", secret="s3cret", next="mail"),
                step("mail", "send_email", template_id=tpl.pk),
            ],
        )
        c = ContactFactory.create(workspace=ws, email="hook@example.com")
        enrol_api(j, [c.pk])
        advance()
        assert len(receiver.requests) == 1 and where(j, c) == "crm"
        advance(later(seconds=3))
        advance(later(seconds=10))
        assert len(receiver.requests) == 3
        assert sent_steps(c) == ["mail"]
        headers, body = receiver.requests[-1].headers, receiver.requests[-1].body
        assert headers["X-Stagecraft-Signature"] == webhook_signature("s3cret", body)
        assert headers["Idempotency-Key"] == receiver.requests[0].headers["Idempotency-Key"]
        assert json.loads(body)["contact"]["email"] == "hook@example.com"
    finally:
        receiver.close()


def test_send_step_at_each_contacts_best_time(ws, tpl):
    j = journey(
        ws, {"kind": "manual"}, [step("s", "send_email", template_id=tpl.pk, best_time=True)]
    )
    c = ContactFactory.create(workspace=ws, time_zone="Pacific/Kiritimati")
    enrol_api(j, [c.pk])
    advance()
    message = Message.objects.get(contact=c)
    expected = best_send_times(workspace=ws, contacts=[c.pk], after=message.created_at)[c.pk]
    assert abs((message.due_at - expected).total_seconds()) < 60
    assert message.due_at <= later(days=1)


def test_wait_until_reads_the_phone_region_without_a_zone(ws, tpl):
    ws.time_zone = "Europe/London"
    ws.save()
    j = journey(ws, {"kind": "manual"}, [step("w", "wait_until", time="09:00")])
    c = ContactFactory.create(workspace=ws, phone="+6493001234")  # an Auckland landline
    enrol_api(j, [c.pk])
    advance()
    local = enrolment(j, c).due_at.astimezone(zoneinfo.ZoneInfo("Pacific/Auckland"))
    assert (local.hour, local.minute) == (9, 0)
