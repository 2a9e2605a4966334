"""Journeys: each trigger, each step, goal and exit, re-entry, holdout, pause and
cancel, and a journey edited while contacts are inside it."""

from __future__ import annotations

import datetime as dt
import json
import threading
import zoneinfo
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from campaigns.journeys.services import (
    journey_cancel,
    journey_pause,
    journey_resume,
    journey_step_counts,
    journey_totals,
    journey_update,
)
from campaigns.journeys.steps import next_local, webhook_signature
from campaigns.journeys.triggers import date_scan, enrol_api, journeys_scan
from campaigns.models import JourneyEnrolment, JourneyStep
from config.errors import Conflict, InvalidInput
from contacts.models import Contact, Segment
from contacts.services.events import events_ingest
from lifecycle.hooks import transitions_dispatch
from lifecycle.models import ContactStage
from lifecycle.services import contact_stage_set, marked_contacts_evaluate, stages_create_defaults
from messaging.models import Message
from tests.campaigns.journeys.helpers import (
    advance,
    enrolment,
    journey,
    later,
    sent_steps,
    step,
    where,
)
from tests.factories import ContactFactory
from tests.messaging.helpers import ACTOR, email_template, sms_template

pytestmark = pytest.mark.django_db

UTC = dt.UTC


@pytest.fixture
def stages(ws):
    return {s.key: s for s in stages_create_defaults(workspace=ws)}


@pytest.fixture
def tpl(ws):
    return email_template(ws)


def ingest(ws, contact, name, **props):
    result = events_ingest(
        workspace=ws, items=[{"contact": {"id": contact.pk}, "name": name, "properties": props}]
    )
    assert result.accepted == 1
    marked_contacts_evaluate()


def test_stage_entered_trigger_sends_the_welcome_then_waits(ws, stages, tpl):
    j = journey(
        ws,
        {"kind": "stage_entered", "stage_id": stages["customer"].pk},
        [
            step("hello", "send_email", template_id=tpl.pk, next="pause"),
            step("pause", "wait", duration={"days": 2}, next="again"),
            step("again", "send_email", template_id=tpl.pk),
        ],
    )
    buyer, other = ContactFactory.create_batch(2, workspace=ws)
    contact_stage_set(contact=buyer, stage=stages["customer"], actor=ACTOR)
    contact_stage_set(contact=other, stage=stages["loyal"], actor=ACTOR)
    transitions_dispatch()
    assert not JourneyEnrolment.objects.filter(contact=other).exists()
    advance()
    assert sent_steps(buyer) == ["hello"]
    assert where(j, buyer) == "pause"
    advance(later(days=1))
    assert sent_steps(buyer) == ["hello"]
    advance(later(days=2, seconds=5))
    assert sent_steps(buyer) == ["hello", "again"]
    assert where(j, buyer) == "completed"
    # The message is keyed by enrolment and step: a second run adds nothing.
    message = Message.objects.get(
        contact=buyer,
        origin_kind="journey_step",
        template=tpl,
        idempotency_key__endswith=str(JourneyStep.objects.get(journey=j, key="hello").pk),
    )
    assert message.idempotency_key.startswith(f"journey:{enrolment(j, buyer).pk}:")


def test_stage_exited_trigger(ws, stages, tpl):
    j = journey(
        ws,
        {"kind": "stage_exited", "stage_id": stages["customer"].pk},
        [step("miss-you", "send_email", template_id=tpl.pk)],
    )
    c = ContactFactory.create(workspace=ws)
    contact_stage_set(contact=c, stage=stages["customer"], actor=ACTOR)
    transitions_dispatch()
    assert not JourneyEnrolment.objects.filter(journey=j).exists()
    contact_stage_set(contact=c, stage=stages["at_risk"], actor=ACTOR)
    transitions_dispatch()
    advance()
    assert sent_steps(c) == ["miss-you"]


def test_event_trigger_with_property_filter(ws, tpl):
    j = journey(
        ws,
        {"kind": "event", "event": "cart_abandoned", "properties": {"store": "eu"}},
        [step("remind", "send_email", template_id=tpl.pk)],
        reentry="always",
    )
    eu, us = ContactFactory.create_batch(2, workspace=ws)
    ingest(ws, eu, "cart_abandoned", store="eu", total=30)
    ingest(ws, us, "cart_abandoned", store="us")
    ingest(ws, eu, "page_viewed", store="eu")
    assert list(JourneyEnrolment.objects.filter(journey=j).values_list("contact", flat=True)) == [
        eu.pk
    ]
    # The same event offered again (another evaluation) does not enter twice.
    marked_contacts_evaluate()
    from campaigns.journeys.triggers import on_contacts_refreshed

    on_contacts_refreshed([eu.pk])
    assert JourneyEnrolment.objects.filter(journey=j).count() == 1


def test_events_before_the_journey_went_live_do_not_count(ws, tpl):
    c = ContactFactory.create(workspace=ws)
    ingest(ws, c, "signed_up")
    j = journey(
        ws, {"kind": "event", "event": "signed_up"}, [step("a", "send_email", template_id=tpl.pk)]
    )
    marked_contacts_evaluate()
    from campaigns.journeys.triggers import on_contacts_refreshed

    on_contacts_refreshed([c.pk])
    assert not JourneyEnrolment.objects.filter(journey=j).exists()


def test_date_attribute_trigger_days_before_and_annual(ws, tpl):
    ws.time_zone = "Pacific/Auckland"
    ws.save()
    now = dt.datetime(2026, 3, 10, 20, 0, tzinfo=UTC)  # 11 March 09:00 in Auckland
    renew = journey(
        ws,
        {"kind": "date_attribute", "attribute": "renewal_date", "offset_days": -3},
        [step("renew", "send_email", template_id=tpl.pk)],
        name="renew",
    )
    soon = ContactFactory.create(workspace=ws, attributes={"renewal_date": "2026-03-14"})
    ContactFactory.create(workspace=ws, attributes={"renewal_date": "2026-03-13"})
    ContactFactory.create(workspace=ws, attributes={"renewal_date": "not a date"})
    assert date_scan(renew, now=now) == 1
    assert date_scan(renew, now=now + dt.timedelta(hours=1)) == 0  # once a day
    assert enrolment(renew, soon).trigger_key == "date:2026-03-11"

    birthday = journey(
        ws,
        {"kind": "date_attribute", "attribute": "birthday", "annual": True},
        [step("cake", "send_email", template_id=tpl.pk)],
        name="birthday",
        reentry="cooldown",
        reentry_days=300,
    )
    born = ContactFactory.create(workspace=ws, attributes={"birthday": "1990-03-11"})
    leap = ContactFactory.create(workspace=ws, attributes={"birthday": "2000-02-29"})
    assert date_scan(birthday, now=now) == 1
    assert enrolment(birthday, born)
    feb28 = dt.datetime(2027, 2, 27, 20, 0, tzinfo=UTC)  # 28 Feb 2027 in Auckland
    assert date_scan(birthday, now=feb28) == 1
    assert enrolment(birthday, leap).trigger_key == "date:2027-02-28"


def test_segment_joined_trigger_counts_joins_not_members(ws, tpl):
    seg = Segment.objects.create(
        workspace=ws, name="vip", rule={"attr": "plan", "op": "eq", "value": "vip"}
    )
    already = ContactFactory.create(workspace=ws, attributes={"plan": "vip"})
    j = journey(
        ws,
        {"kind": "segment_joined", "segment_id": seg.pk},
        [step("hi", "send_email", template_id=tpl.pk)],
        reentry="always",
    )
    joiner = ContactFactory.create(workspace=ws, attributes={"plan": "free"})
    journeys_scan()
    assert not JourneyEnrolment.objects.filter(journey=j).exists()
    Contact.objects.filter(pk=joiner.pk).update(attributes={"plan": "vip"})
    journeys_scan()
    journeys_scan()
    assert list(JourneyEnrolment.objects.filter(journey=j).values_list("contact", flat=True)) == [
        joiner.pk
    ]
    advance()
    # Leaves and joins again: enters again (re-entry "always").
    Contact.objects.filter(pk=joiner.pk).update(attributes={"plan": "free"})
    journeys_scan()
    Contact.objects.filter(pk=joiner.pk).update(attributes={"plan": "vip"})
    journeys_scan()
    assert JourneyEnrolment.objects.filter(journey=j, contact=joiner).count() == 2
    assert not JourneyEnrolment.objects.filter(journey=j, contact=already).exists()


def test_reentry_policies(ws, tpl):
    steps = [step("a", "send_email", template_id=tpl.pk)]
    once = journey(ws, {"kind": "manual"}, steps, name="once")
    cool = journey(ws, {"kind": "manual"}, steps, name="cool", reentry="cooldown", reentry_days=7)
    always = journey(
        ws,
        {"kind": "manual"},
        [step("w", "wait", duration={"hours": 1})],
        name="always",
        reentry="always",
    )
    c = ContactFactory.create(workspace=ws)
    for j in (once, cool, always):
        assert enrol_api(j, [c.pk]) == 1
    advance()
    assert enrol_api(once, [c.pk]) == 0
    assert enrol_api(cool, [c.pk]) == 0
    JourneyEnrolment.objects.filter(journey=cool).update(entered_at=later(days=-8))
    assert enrol_api(cool, [c.pk]) == 1
    # "always", but never twice at once: still waiting in the first enrolment.
    assert enrol_api(always, [c.pk]) == 0
    advance(later(hours=2))
    assert enrol_api(always, [c.pk]) == 1


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
    from contacts.services.marks import contacts_mark_changed

    contacts_mark_changed(contact_ids=[later_one.pk])
    marked_contacts_evaluate()
    advance()
    assert sent_steps(later_one) == ["ok"]


class WebhookReceiver:
    def __init__(self, fail_first: int = 0) -> None:
        self.calls: list[tuple[dict[str, str], bytes]] = []
        self.fail_first = fail_first
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.calls.append((dict(self.headers), body))
                status = 503 if len(receiver.calls) <= receiver.fail_first else 204
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_webhook_step_signs_and_retries(ws, tpl):
    receiver = WebhookReceiver(fail_first=2)
    try:
        j = journey(
            ws,
            {"kind": "manual"},
            [
                step("crm", "webhook", url=receiver.url, secret="s3cret", next="mail"),
                step("mail", "send_email", template_id=tpl.pk),
            ],
        )
        c = ContactFactory.create(workspace=ws, email="hook@example.com")
        enrol_api(j, [c.pk])
        advance()
        assert len(receiver.calls) == 1 and where(j, c) == "crm"
        advance(later(seconds=3))
        advance(later(seconds=10))
        assert len(receiver.calls) == 3
        assert sent_steps(c) == ["mail"]
        headers, body = receiver.calls[-1]
        assert headers["X-Stagecraft-Signature"] == webhook_signature("s3cret", body)
        assert headers["Idempotency-Key"] == receiver.calls[0][0]["Idempotency-Key"]
        assert json.loads(body)["contact"]["email"] == "hook@example.com"
    finally:
        receiver.close()


def test_goal_reached_exits_and_counts_as_conversion(ws, tpl):
    j = journey(
        ws,
        {"kind": "manual"},
        [
            step("one", "send_email", template_id=tpl.pk, next="wait"),
            step("wait", "wait", duration={"days": 3}, next="two"),
            step("two", "send_email", template_id=tpl.pk),
        ],
        goal={"event": {"name": "purchase"}},
        goal_days=7,
    )
    buyer, browser = ContactFactory.create_batch(2, workspace=ws)
    enrol_api(j, [buyer.pk, browser.pk])
    advance()
    ingest(ws, buyer, "purchase")
    advance()
    assert where(j, buyer) == "converted:goal"
    advance(later(days=3, minutes=1))
    assert sent_steps(buyer) == ["one"]
    assert sent_steps(browser) == ["one", "two"]
    counts = {row["key"]: row for row in journey_step_counts(j)}
    assert counts["wait"]["converted"] == 1 and counts["wait"]["entered"] == 2
    assert journey_totals(j)["converted"] == 1


def test_exit_criteria_rule_unsubscribe_and_leaving_the_stage(ws, stages, tpl):
    j = journey(
        ws,
        {"kind": "stage_entered", "stage_id": stages["at_risk"].pk},
        [
            step("w", "wait", duration={"days": 1}, next="winback"),
            step("winback", "send_email", template_id=tpl.pk),
        ],
        exit_rule={"attr": "do_not_contact", "op": "eq", "value": True},
        exit_on_stage_left=True,
    )
    a, b, c, d = ContactFactory.create_batch(4, workspace=ws)
    for contact in (a, b, c, d):
        contact_stage_set(contact=contact, stage=stages["at_risk"], actor=ACTOR)
    transitions_dispatch()
    advance()
    Contact.objects.filter(pk=a.pk).update(attributes={"do_not_contact": True})
    Contact.objects.filter(pk=b.pk).update(email_status="unsubscribed")
    contact_stage_set(contact=c, stage=stages["customer"], actor=ACTOR)
    transitions_dispatch()
    assert where(j, c) == "w"  # woken for a check; the worker decides
    advance()
    assert where(j, c) == "exited:left the stage"
    advance(later(days=1, minutes=1))
    assert where(j, a) == "exited:exit rule"
    assert where(j, b) == "exited:unsubscribed"
    assert sent_steps(d) == ["winback"]
    assert [sent_steps(x) for x in (a, b, c)] == [[], [], []]


def test_holdout_is_exact_and_measures_lift(ws, tpl):
    j = journey(
        ws,
        {"kind": "manual"},
        [step("offer", "send_email", template_id=tpl.pk)],
        goal={"rule": {"attr": "bought", "op": "eq", "value": True}},
        goal_days=2,
        holdout_percent=10,
    )
    contacts = ContactFactory.create_batch(45, workspace=ws)
    enrol_api(j, [c.pk for c in contacts[:20]])
    advance()
    enrol_api(j, [c.pk for c in contacts[20:]])
    advance()
    held = JourneyEnrolment.objects.filter(journey=j, status="holdout")
    assert held.count() in (4, 5)  # 10% of 45 = 4.5, within one contact
    assert Message.objects.filter(contact__in=held.values("contact")).count() == 0
    # One held-out and three treated contacts buy within the window.
    held_contact = held[0].contact
    treated = [c for c in contacts if not held.filter(contact=c).exists()][:3]
    Contact.objects.filter(pk__in=[held_contact.pk, *[c.pk for c in treated]]).update(
        attributes={"bought": True}
    )
    from contacts.services.marks import contacts_mark_changed

    contacts_mark_changed(contact_ids=[held_contact.pk, *[c.pk for c in treated]])
    marked_contacts_evaluate()
    advance()
    advance(later(days=2, minutes=1))
    totals = journey_totals(j)
    holdout = totals["holdout"]
    assert holdout["contacts"] == held.count() or holdout["contacts"] in (4, 5)
    assert holdout["converted"] == 1
    assert JourneyEnrolment.objects.filter(journey=j, status__in=["active", "holdout"]).count() == 0


def test_pause_stops_movement_and_resume_runs_what_is_due(ws, tpl):
    j = journey(
        ws,
        {"kind": "manual"},
        [
            step("w", "wait", duration={"hours": 1}, next="s"),
            step("s", "send_email", template_id=tpl.pk),
        ],
    )
    c = ContactFactory.create(workspace=ws)
    enrol_api(j, [c.pk])
    advance()
    j = journey_pause(journey=j, actor=ACTOR)
    advance(later(hours=2))
    assert sent_steps(c) == []
    journey_resume(journey=j, actor=ACTOR)
    advance(later(hours=2))
    assert sent_steps(c) == ["s"]
    with pytest.raises(Conflict):
        journey_resume(journey=j, actor=ACTOR)


def test_cancel_takes_everyone_out_and_stops_their_messages(ws, tpl):
    j = journey(
        ws,
        {"kind": "manual"},
        [
            step("s", "send_email", template_id=tpl.pk, next="w"),
            step("w", "wait", duration={"hours": 1}),
        ],
    )
    c = ContactFactory.create(workspace=ws)
    enrol_api(j, [c.pk])
    advance()
    journey_cancel(journey=j, actor=ACTOR)
    assert where(j, c) == "exited:journey cancelled"
    assert Message.objects.get(contact=c).status == "suppressed"
    with pytest.raises(Conflict):
        journey_update(journey=j, data={"name": "again"}, actor=ACTOR)


def test_editing_a_live_journey_keeps_or_moves_contacts_as_told(ws, tpl):
    other = email_template(ws, name="Other")
    steps = [
        step("hello", "send_email", template_id=tpl.pk, next="wait"),
        step("wait", "wait", duration={"days": 1}, next="tip"),
        step("tip", "send_email", template_id=tpl.pk),
    ]
    j = journey(ws, {"kind": "manual"}, steps)
    first, second = ContactFactory.create_batch(2, workspace=ws)
    enrol_api(j, [first.pk])
    advance()
    assert where(j, first) == "wait"
    due_before = enrolment(j, first).due_at
    # A new template for "tip" and a longer wait: the waiting contact keeps its time,
    # and gets the new template when it reaches "tip".
    steps[1]["config"]["duration"] = {"days": 5}
    steps[2]["config"]["template_id"] = other.pk
    _, counts = journey_update(journey=j, data={"steps": steps}, actor=ACTOR)
    assert counts == {"moved": 0, "exited": 0}
    assert where(j, first) == "wait" and enrolment(j, first).due_at == due_before
    enrol_api(j, [second.pk])
    advance()
    assert enrolment(j, second).due_at > later(days=4)
    advance(later(days=1, minutes=1))
    assert Message.objects.filter(contact=first).order_by("id")[1].template_id == other.pk
    # Removing the wait step: contacts in it move to the step named, due now.
    without_wait = [
        step("hello", "send_email", template_id=tpl.pk, next="tip"),
        step("tip", "send_email", template_id=other.pk),
    ]
    _, counts = journey_update(
        journey=j, data={"steps": without_wait, "move_removed_to": "tip"}, actor=ACTOR
    )
    assert counts == {"moved": 1, "exited": 0}
    advance()
    assert sent_steps(second) == ["hello", "tip"]
    # Without a target, contacts on a removed step leave the journey.
    third = ContactFactory.create(workspace=ws)
    wait_again = [
        step("hello", "send_email", template_id=tpl.pk, next="hold"),
        step("hold", "wait", duration={"days": 1}, next="tip"),
        step("tip", "send_email", template_id=other.pk),
    ]
    journey_update(journey=j, data={"steps": wait_again}, actor=ACTOR)
    enrol_api(j, [third.pk])
    advance()
    _, counts = journey_update(journey=j, data={"steps": without_wait}, actor=ACTOR)
    assert counts == {"moved": 0, "exited": 1}
    assert where(j, third) == "exited:step removed"


def test_a_failed_batch_runs_again_without_a_second_message(ws, tpl):
    j = journey(ws, {"kind": "manual"}, [step("s", "send_email", template_id=tpl.pk)])
    c = ContactFactory.create(workspace=ws)
    enrol_api(j, [c.pk])
    # A message already in the outbox under the step's key (a worker that sent and
    # died before its enrolment update committed) is not doubled by the re-run.
    e = enrolment(j, c)
    step_id = JourneyStep.objects.get(journey=j, key="s").pk
    Message.objects.create(
        workspace=ws,
        contact=c,
        channel="email",
        template=tpl,
        idempotency_key=f"journey:{e.pk}:{step_id}",
        origin_kind="journey_step",
        origin_id=step_id,
    )
    advance()
    assert Message.objects.filter(contact=c).count() == 1
    assert where(j, c) == "completed"


def test_workers_never_share_an_enrolment(ws, tpl):
    j = journey(ws, {"kind": "manual"}, [step("s", "send_email", template_id=tpl.pk)])
    contacts = ContactFactory.create_batch(30, workspace=ws)
    enrol_api(j, [c.pk for c in contacts])
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM campaigns_journeyenrolment")
        assert cursor.fetchone()[0] == 30
    advance()
    assert Message.objects.filter(contact__in=contacts).count() == 30
    assert JourneyStep.objects.get(journey=j, key="s").entered == 30


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"trigger": {"kind": "nope"}}, "trigger.kind"),
        ({"steps": []}, "steps"),
        (
            {"steps": [{"key": "a", "kind": "wait", "config": {"duration": {"days": 0}}}]},
            "steps[0].config.duration",
        ),
        (
            {
                "steps": [
                    {"key": "a", "kind": "wait", "config": {"duration": {"days": 1}, "next": "zz"}}
                ]
            },
            "steps[0].config",
        ),
        (
            {
                "steps": [
                    {"key": "a", "kind": "wait", "config": {"duration": {"days": 1}, "next": "b"}},
                    {"key": "b", "kind": "wait", "config": {"duration": {"days": 1}, "next": "a"}},
                ]
            },
            "steps[0]",
        ),
        (
            {"steps": [{"key": "a", "kind": "branch", "config": {"rule": {"bogus": 1}}}]},
            "steps[0].config.rule",
        ),
        (
            {"steps": [{"key": "a", "kind": "send_email", "config": {"template_id": 999999}}]},
            "steps[0].config.template_id",
        ),
        (
            {"steps": [{"key": "a", "kind": "webhook", "config": {"url": "ftp://x"}}]},
            "steps[0].config.url",
        ),
        ({"holdout_percent": 20}, "holdout_percent"),
    ],
)
def test_definition_errors_name_the_field(ws, data, field):
    from campaigns.journeys.services import journey_create

    payload = {
        "name": "bad",
        "trigger": {"kind": "manual"},
        "steps": [{"key": "a", "kind": "exit"}],
        **data,
    }
    with pytest.raises(InvalidInput) as caught:
        journey_create(workspace=ws, data=payload, actor=ACTOR)
    assert field in caught.value.fields, caught.value.fields


def test_send_step_at_each_contacts_best_time(ws, tpl):
    from campaigns.send_time import best_send_times

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
